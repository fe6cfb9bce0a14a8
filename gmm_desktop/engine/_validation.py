"""Input validation for the estimator (numpy only), with scikit-learn-compatible messages.

scikit-learn's common checks match on parts of these messages, and users' code catches
``ValueError``; the wording follows the library they are swapping from.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def _is_sparse(X: Any) -> bool:
    try:
        from scipy import sparse
    except ImportError:  # pragma: no cover
        return False
    return sparse.issparse(X)


def feature_names_of(X: Any) -> np.ndarray | None:
    """Column names of a dataframe-like ``X`` if they are all strings, else ``None``."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "iloc"):
        return None
    names = [c for c in columns]
    if not names:
        return None
    types = {type(c) for c in names}
    if all(isinstance(c, str) for c in names):
        return np.asarray(names, dtype=object)
    if any(isinstance(c, str) for c in names):
        raise TypeError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {sorted(t.__name__ for t in types)} as feature name / column "
            "name types. Convert all column names to strings, e.g. X.columns = "
            "X.columns.astype(str)."
        )
    return None


def check_array(
    X: Any,
    *,
    estimator_name: str,
    ensure_min_samples: int = 1,
    dtypes: tuple[type, ...] = (np.float64, np.float32),
) -> np.ndarray:
    """Return ``X`` as a finite 2-D float array, or raise ``ValueError``/``TypeError``."""
    if _is_sparse(X):
        raise TypeError(
            f"Sparse data was passed for {estimator_name}, but dense data is required. "
            "Use '.toarray()' to convert to a dense numpy array."
        )
    if hasattr(X, "iloc") and hasattr(X, "to_numpy"):  # pandas-like
        X = X.to_numpy()
    arr = np.asarray(X)
    if np.iscomplexobj(arr):
        raise ValueError("Complex data not supported; pass the real part (or magnitudes).")
    if arr.dtype not in dtypes:
        if arr.dtype.kind in "OUS":
            try:
                arr = arr.astype(np.float64)
            except TypeError as exc:
                raise TypeError(
                    f"{estimator_name} needs numeric data; could not convert to float: {exc}"
                ) from None
            except (ValueError, OverflowError) as exc:
                raise ValueError(
                    f"{estimator_name} needs numeric data; could not convert to float: {exc}"
                ) from None
        elif arr.dtype.kind in "biuf":
            arr = arr.astype(np.float64)
        else:
            raise ValueError(f"{estimator_name} needs numeric data, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(
            f"Expected 2D array, got scalar array instead: array={arr!r}. "
            "Reshape your data to (n_samples, n_features)."
        )
    if arr.ndim == 1:
        raise ValueError(
            "Expected 2D array, got 1D array instead. Reshape your data either using "
            "array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) "
            "if it contains a single sample."
        )
    if arr.ndim > 2:
        raise ValueError(f"Found array with dim {arr.ndim}, while dim <= 2 is required.")
    n_samples, n_features = arr.shape
    if n_samples < ensure_min_samples:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={arr.shape}) while a minimum of "
            f"{ensure_min_samples} is required by {estimator_name}."
        )
    if n_features < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum of 1 is "
            f"required by {estimator_name}."
        )
    if not np.all(np.isfinite(arr)):
        if np.any(np.isnan(arr)):
            bad = np.argwhere(np.isnan(arr))[0]
            raise ValueError(
                f"Input X contains NaN (first at row {bad[0]}, column {bad[1]}). "
                "Drop or impute missing values before fitting."
            )
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"Input X contains infinity or a value too large for {arr.dtype!r} (first at row "
            f"{bad[0]}, column {bad[1]}). Remove or clip those values."
        )
    return arr


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """Validated non-negative finite weights of length ``n_samples`` (or ``None``)."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n_samples, float(w))
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight has shape {w.shape}, expected ({n_samples},)")
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight contains NaN or infinite values")
    if np.any(w < 0):
        raise ValueError("sample_weight must be non-negative")
    if not np.any(w > 0):
        raise ValueError(
            "sample_weight is zero for every row; give at least one row a positive weight"
        )
    return w


def check_feature_names(estimator: Any, X: Any, *, reset: bool) -> None:
    """Set (``reset``) or check ``feature_names_in_`` like scikit-learn does."""
    names = feature_names_of(X)
    if reset:
        if names is not None:
            estimator.feature_names_in_ = names
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        return
    fitted = getattr(estimator, "feature_names_in_", None)
    cls = type(estimator).__name__
    if fitted is None and names is None:
        return
    if names is not None and fitted is None:
        warnings.warn(
            f"X has feature names, but {cls} was fitted without feature names",
            UserWarning,
            stacklevel=3,
        )
        return
    if names is None and fitted is not None:
        warnings.warn(
            f"X does not have valid feature names, but {cls} was fitted with feature names",
            UserWarning,
            stacklevel=3,
        )
        return
    if len(fitted) == len(names) and np.all(fitted == names):
        return
    fitted_set, names_set = set(fitted), set(names)
    unexpected = sorted(names_set - fitted_set)
    missing = sorted(fitted_set - names_set)
    message = "The feature names should match those that were passed during fit.\n"

    def listing(header: str, items: list[str]) -> str:
        shown = items[:5] + (["..."] if len(items) > 5 else [])
        return header + "".join(f"- {n}\n" for n in shown)

    if unexpected:
        message += listing("Feature names unseen at fit time:\n", unexpected)
    if missing:
        message += listing("Feature names seen at fit time, yet now missing:\n", missing)
    if not unexpected and not missing:
        message += "Feature names must be in the same order as they were in fit.\n"
    raise ValueError(message)


def check_n_features(estimator: Any, X: np.ndarray) -> None:
    expected = estimator.n_features_in_
    if X.shape[1] != expected:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{expected} features as input."
        )
