"""Feature scaling that is part of a fitted model: :class:`Scaler`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import DataError, ScalerFormatError

__all__ = ["SCALING_METHODS", "Scaler"]

SCALING_METHODS = ("none", "standardize", "robust")
_FORMAT = "gmm-desktop/scaler"
_VERSION = 1


def _as_2d(X: Any, n_features: int, what: str) -> np.ndarray:
    array = np.asarray(X, dtype=np.float64)
    if array.ndim == 1 and n_features == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2 or array.shape[1] != n_features:
        raise DataError(
            f"{what} needs an array of shape (rows, {n_features}), got shape {array.shape}.",
            remedy="Pass the same feature columns, in the same order, as when the scaler "
            "was fitted.",
        )
    return array


class Scaler:
    """An affine per-feature scaling ``X_scaled = (X - center) / scale``.

    Methods:

    * ``"none"``: ``center = 0``, ``scale = 1``.
    * ``"standardize"``: the mean and the (population) standard deviation.
    * ``"robust"``: the median and the interquartile range (75th minus 25th percentile,
      as scikit-learn's ``RobustScaler``); a column whose IQR is 0 falls back to its
      standard deviation.

    A column without spread (constant) gets ``scale = 1``, so it maps to zeros instead of
    dividing by zero; :func:`~gmm_desktop.data.prepare_features` warns about it.
    Statistics are computed without overflow even for values near the float64 limit.

    The scaler is stored inside a fitted model's JSON via :meth:`to_dict` /
    :meth:`from_dict`.  A model fitted on scaled data maps back to original units with
    :meth:`inverse_transform` (means) and :meth:`covariance_to_original` (covariances).
    """

    def __init__(
        self,
        method: str = "none",
        center: Sequence[float] | np.ndarray = (),
        scale: Sequence[float] | np.ndarray = (),
        columns: Sequence[str] | None = None,
    ) -> None:
        if method not in SCALING_METHODS:
            raise DataError(
                f"unknown scaling {method!r}.",
                remedy="Use one of: " + ", ".join(repr(m) for m in SCALING_METHODS) + ".",
            )
        center_ = np.array(center, dtype=np.float64).reshape(-1)
        scale_ = np.array(scale, dtype=np.float64).reshape(-1)
        if center_.shape != scale_.shape:
            raise DataError(
                f"center has {center_.size} values but scale has {scale_.size}.",
                remedy="Give one center and one scale per feature.",
            )
        if not (np.all(np.isfinite(center_)) and np.all(np.isfinite(scale_))):
            raise DataError(
                "the scaling has non-finite centers or scales.",
                remedy="Rescale the data so its values are well inside the float64 range.",
            )
        if np.any(scale_ <= 0):
            raise DataError(
                "every scale must be positive.", remedy="Fit the scaler again on the data."
            )
        if columns is not None:
            columns = [str(c) for c in columns]
            if len(columns) != center_.size:
                raise DataError(
                    f"{len(columns)} column names for {center_.size} features.",
                    remedy="Give one name per feature.",
                )
        self.method = method
        self.center_ = center_
        self.scale_ = scale_
        self.columns = columns
        self.center_.flags.writeable = False
        self.scale_.flags.writeable = False

    # ------------------------------------------------------------------ construction
    @classmethod
    def identity(cls, n_features: int, columns: Sequence[str] | None = None) -> Scaler:
        """The scaler that changes nothing (method ``"none"``)."""
        return cls("none", np.zeros(n_features), np.ones(n_features), columns)

    @classmethod
    def fit(
        cls, X: Any, method: str = "standardize", columns: Sequence[str] | None = None
    ) -> Scaler:
        """Compute the scaling of ``X`` (rows × features); non-finite values are ignored.

        Raises :class:`DataError` for an unknown method, a column without any finite
        value, or values so large that their spread overflows float64.
        """
        if method not in SCALING_METHODS:
            raise DataError(
                f"unknown scaling {method!r}.",
                remedy="Use one of: " + ", ".join(repr(m) for m in SCALING_METHODS) + ".",
            )
        array = np.asarray(X, dtype=np.float64)
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        if array.ndim != 2:
            raise DataError(f"cannot fit a scaler to an array of shape {array.shape}.")
        d = array.shape[1]
        names = list(columns) if columns is not None else [f"feature {j + 1}" for j in range(d)]
        if method == "none":
            return cls.identity(d, columns)
        center = np.empty(d)
        scale = np.empty(d)
        for j in range(d):
            col = array[:, j]
            col = col[np.isfinite(col)]
            if col.size == 0:
                raise DataError(
                    "the column has no finite values to compute a scaling from.",
                    column=names[j],
                    remedy="Deselect the column or fill in its values.",
                )
            # Work on col / m (|values| <= 1) so sums and differences cannot overflow.
            m = float(np.max(np.abs(col)))
            m = m if m > 0 else 1.0
            unit = col / m
            if method == "standardize":
                c = float(np.mean(unit))
                s = float(np.std(unit))
            else:
                q25, c, q75 = (float(v) for v in np.percentile(unit, [25, 50, 75]))
                s = q75 - q25
                if s <= 0:
                    s = float(np.std(unit))
            center[j] = c * m
            scale[j] = s * m if s > 0 else 1.0
            if not (math.isfinite(center[j]) and math.isfinite(scale[j]) and scale[j] > 0):
                raise DataError(
                    f"the spread of the values (up to {m:.3g}) cannot be represented in "
                    "float64.",
                    column=names[j],
                    remedy="Rescale the column in the file (for example change its unit).",
                )
        return cls(method, center, scale, columns)

    # -------------------------------------------------------------------- transforms
    @property
    def n_features(self) -> int:
        """Number of features the scaler was fitted on."""
        return int(self.center_.size)

    def transform(self, X: Any) -> np.ndarray:
        """Scale ``X`` (rows × features) to model units; NaN stays NaN.

        Raises :class:`DataError` (naming the column) if a finite value would become
        infinite.
        """
        array = _as_2d(X, self.n_features, "Scaler.transform")
        with np.errstate(over="ignore", invalid="ignore"):
            out = (array - self.center_) / self.scale_
            broken = np.isfinite(array) & ~np.isfinite(out)
            if broken.any():
                # (x - c) overflowed although x/s and c/s may not: compute it that way.
                alt = array / self.scale_ - self.center_ / self.scale_
                out = np.where(broken, alt, out)
                broken = np.isfinite(array) & ~np.isfinite(out)
        if broken.any():
            j = int(np.flatnonzero(broken.any(axis=0))[0])
            raise DataError(
                "scaling turns a finite value into infinity.",
                column=self._name(j),
                remedy="Rescale the column in the file (for example change its unit).",
            )
        return out

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Map model-unit values (rows × features, e.g. component means) back to original units."""
        array = _as_2d(X, self.n_features, "Scaler.inverse_transform")
        with np.errstate(over="ignore", invalid="ignore"):
            out = array * self.scale_ + self.center_
        if np.any(np.isfinite(array) & ~np.isfinite(out)):
            raise DataError(
                "the values are too large to express in original units (float64 overflow).",
                remedy="Rescale the data in the file (for example change the unit).",
            )
        return out

    def covariance_to_original(self, cov: Any, covariance_type: str = "full") -> np.ndarray:
        """Express covariances estimated on scaled data in original units.

        With ``s = scale_``: ``full``/``tied`` matrices (``(..., d, d)``) become
        ``diag(s) @ cov @ diag(s)``; ``diag`` variances (``(..., d)``) become ``s**2 * v``;
        ``spherical`` variances (``(...)``) become per-feature variances ``(..., d)``
        (a sphere in scaled units is an axis-aligned ellipsoid in original units).
        The centering does not affect covariances.
        """
        c = np.asarray(cov, dtype=np.float64)
        s = self.scale_
        d = self.n_features
        with np.errstate(over="ignore", invalid="ignore"):
            if covariance_type in {"full", "tied"}:
                if c.ndim < 2 or c.shape[-2:] != (d, d):
                    raise DataError(
                        f"a {covariance_type} covariance must have shape (..., {d}, {d}), "
                        f"got {c.shape}."
                    )
                out = c * s[:, None] * s[None, :]
            elif covariance_type == "diag":
                if c.ndim < 1 or c.shape[-1] != d:
                    raise DataError(
                        f"diagonal variances must have shape (..., {d}), got {c.shape}."
                    )
                out = c * s**2
            elif covariance_type == "spherical":
                out = c[..., None] * s**2
            else:
                raise DataError(
                    f"unknown covariance type {covariance_type!r}.",
                    remedy="Use 'full', 'tied', 'diag' or 'spherical'.",
                )
        if np.all(np.isfinite(c)) and not np.all(np.isfinite(out)):
            raise DataError(
                "the covariance is too large to express in original units (float64 "
                "overflow).",
                remedy="Rescale the data in the file (for example change the unit).",
            )
        return out

    def _name(self, j: int) -> str:
        return self.columns[j] if self.columns else f"feature {j + 1}"

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-serialisable description (floats round-trip exactly)."""
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "method": self.method,
            "columns": list(self.columns) if self.columns is not None else None,
            "center": [float(v) for v in self.center_],
            "scale": [float(v) for v in self.scale_],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scaler:
        """Rebuild a scaler from :meth:`to_dict` output, validating every field.

        Raises :class:`~gmm_desktop.data.errors.ScalerFormatError` (a ``DataError`` and a
        ``ModelFileError``) describing the first problem found.
        """
        remedy = "The model file is damaged or was edited by hand; fit and save the model again."

        def fail(problem: str) -> ScalerFormatError:
            return ScalerFormatError(f"the saved scaler is invalid: {problem}", remedy=remedy)

        if not isinstance(data, Mapping):
            raise fail(f"expected a JSON object, got {type(data).__name__}.")
        if data.get("format", _FORMAT) != _FORMAT:
            raise fail(f"'format' is {data.get('format')!r}, expected {_FORMAT!r}.")
        version = data.get("version", _VERSION)
        if not isinstance(version, int) or isinstance(version, bool) or version > _VERSION:
            raise fail(
                f"'version' is {version!r}; this program reads scaler version {_VERSION} "
                "or older."
            )
        method = data.get("method")
        if method not in SCALING_METHODS:
            raise fail(f"'method' is {method!r}, expected one of {', '.join(SCALING_METHODS)}.")
        vectors = {}
        for key in ("center", "scale"):
            value = data.get(key)
            if not isinstance(value, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
            ):
                raise fail(f"'{key}' must be a list of numbers.")
            if not all(math.isfinite(v) for v in value):
                raise fail(f"'{key}' contains a non-finite number.")
            vectors[key] = value
        if len(vectors["center"]) != len(vectors["scale"]):
            raise fail("'center' and 'scale' have different lengths.")
        if not vectors["center"]:
            raise fail("the scaler has no features.")
        if any(v <= 0 for v in vectors["scale"]):
            raise fail("every 'scale' value must be positive.")
        columns = data.get("columns")
        if columns is not None:
            if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
                raise fail("'columns' must be a list of names or null.")
            if len(columns) != len(vectors["center"]):
                raise fail("'columns' does not have one name per feature.")
        if method == "none" and (
            any(v != 0 for v in vectors["center"]) or any(v != 1 for v in vectors["scale"])
        ):
            raise fail("method 'none' must have center 0 and scale 1.")
        return cls(method, vectors["center"], vectors["scale"], columns)

    # ------------------------------------------------------------------------ misc
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scaler):
            return NotImplemented
        return (
            self.method == other.method
            and self.columns == other.columns
            and np.array_equal(self.center_, other.center_)
            and np.array_equal(self.scale_, other.scale_)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Scaler(method={self.method!r}, n_features={self.n_features}, "
            f"columns={self.columns!r})"
        )
