"""Saving and loading models as versioned JSON documents (never pickle).

A document holds the constructor parameters, the fitted arrays, the covariance type's own
serialisation, and the library version. Loading checks the format and version, every
shape, finiteness, that the weights are a probability vector and that every covariance is
positive definite, and refuses anything else with :class:`~gmm_desktop.errors.ModelFileError`.

Other layers store their own data (the feature scaler, an anomaly threshold, the source
file) under the document's ``"extra"`` key, which this module carries through untouched.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

from gmm_desktop import __version__, schema
from gmm_desktop.engine.mixture import GaussianMixture
from gmm_desktop.errors import ModelFileError, NotPositiveDefiniteError, PluginError
from gmm_desktop.fileio import atomic_write_text, read_json
from gmm_desktop.plugin_api import check_symmetric
from gmm_desktop.registry import get_registry

MODEL_FORMAT = "gmm-desktop/gaussian-mixture"
MODEL_FORMAT_VERSION = 1

_SCALAR_PARAMS = (
    "n_components",
    "covariance_type",
    "tol",
    "reg_covar",
    "max_iter",
    "n_init",
    "init_params",
    "warm_start",
    "verbose",
    "verbose_interval",
    "chunk_size",
)


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def model_to_dict(model: GaussianMixture, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON-ready document describing a fitted model."""
    model._check_is_fitted()
    cov = model._plugin()
    params: dict[str, Any] = {name: getattr(model, name) for name in _SCALAR_PARAMS}
    rs = model.random_state
    params["random_state"] = int(rs) if isinstance(rs, int | np.integer) else None
    for name in ("weights_init", "means_init", "precisions_init"):
        value = getattr(model, name)
        params[name] = None if value is None else np.asarray(value, dtype=float).tolist()
    names = getattr(model, "feature_names_in_", None)
    return {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "library": "gmm-desktop",
        "library_version": __version__,
        "params": params,
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": None if names is None else [str(n) for n in names],
        "weights": np.asarray(model.weights_, dtype=float).tolist(),
        "means": np.asarray(model.means_, dtype=float).tolist(),
        "covariances": cov.to_json(model.covariances_),
        "converged": bool(model.converged_),
        "n_iter": int(model.n_iter_),
        "lower_bound": _finite_or_none(float(model.lower_bound_)),
        "lower_bounds": [float(v) for v in model.lower_bounds_],
        "extra": extra or {},
    }


#: Largest model this version reads: components, features, and values stored for the
#: covariances (10⁸ float64 values are 800 MB). A file declaring more is damaged.
MAX_COMPONENTS = 100_000
MAX_FEATURES = 1_000_000
MAX_COVARIANCE_VALUES = 100_000_000


def _size_rule(value: Any, bound: dict[str, int]) -> str | None:
    k, d = bound.get("n_components"), bound.get("n_features")
    if k is not None and d is not None and k * d > MAX_COVARIANCE_VALUES:
        return (f"{k:,} components × {d:,} features is far more than this version "
                f"handles: the means alone would hold {k * d:,} values (at most "
                f"{MAX_COVARIANCE_VALUES:,})")
    return None


#: Schemas of the sections other layers keep under ``extra`` (by key), checked on load
#: like the rest of the document; a layer that adds a section registers its schema here.
#: Keys not listed are only checked for nesting depth.
EXTRA_SECTIONS: dict[str, Any] = {
    "anomaly": schema.ANOMALY_EXTRA,
    "features": schema.FEATURES_EXTRA,
}

_NULLABLE_NUMBERS = {"type": ("numbers", "null"), "max_size": MAX_COVARIANCE_VALUES}

#: The declared shape of a model document (see :mod:`gmm_desktop.schema`). The sizes
#: ``n_components`` and ``n_features`` are bound by ``params.n_components`` and
#: ``n_features_in`` and then size the arrays.
MODEL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ("format", "format_version", "params", "n_features_in", "weights", "means",
                 "covariances"),
    "fields": {
        "library": {"type": "string", "max_length": 200},
        "library_version": {"type": "string", "max_length": 200},
        "n_features_in": {"type": "integer", "min": 1, "max": MAX_FEATURES, "bind": "n_features"},
        "params": {
            "type": "object",
            "required": ("n_components", "covariance_type"),
            "fields": {
                "n_components": {"type": "integer", "min": 1, "max": MAX_COMPONENTS,
                                 "bind": "n_components", "check": _size_rule},
                "covariance_type": {"type": "string", "max_length": 200},
                "tol": {"type": "number", "min": 0.0},
                "reg_covar": {"type": "number", "min": 0.0},
                "max_iter": {"type": "integer", "min": 0},
                "n_init": {"type": "integer", "min": 1},
                "init_params": {"type": "string", "max_length": 200},
                "warm_start": {"type": "boolean"},
                "verbose": {"type": "integer", "min": 0},
                "verbose_interval": {"type": "integer", "min": 1},
                "chunk_size": {"type": ("integer", "null"), "min": 1},
                "random_state": {"type": ("integer", "null"), "min": 0, "max": 2**32 - 1},
                "weights_init": {**_NULLABLE_NUMBERS, "shape": ("n_components",), "min": 0.0},
                "means_init": {**_NULLABLE_NUMBERS, "shape": ("n_components", "n_features")},
                "precisions_init": _NULLABLE_NUMBERS,
            },
            "max_depth": 4,
        },
        "feature_names_in": {"type": ("array", "null"), "length": "n_features",
                             "items": {"type": "string", "max_length": 10_000}},
        "weights": {"type": "numbers", "shape": ("n_components",), "min": 0.0},
        "means": {"type": "numbers", "shape": ("n_components", "n_features")},
        "covariances": {"type": ("array", "object"), "max_depth": 16},
        "converged": {"type": "boolean"},
        "n_iter": {"type": "integer", "min": 0},
        "lower_bound": {"type": ("number", "null")},
        "lower_bounds": {"type": "numbers", "ndim": 1, "max_size": 10_000_000},
        "extra": {"type": "object", "fields": EXTRA_SECTIONS, "max_depth": 16},
    },
    "max_depth": schema.DEFAULT_MAX_DEPTH,
}

def _fail(source: str, message: str) -> ModelFileError:
    return ModelFileError(f"{source}: {message}")


def _check_symmetric(cov: Any, covariances: np.ndarray, k: int, d: int) -> str | None:
    """Why the covariances of a full-structure type are not symmetric, or None.

    Checked for every covariance type (plugins included) on the matrices the model will
    use, so that ``sample`` (which reads the whole matrix) and ``score`` (one triangle)
    can never disagree.
    """
    if cov.structure != "full":
        return None
    arr = np.asarray(covariances)
    if not (arr.ndim >= 2 and arr.shape[-2:] == (d, d)):  # stored another way: expand
        arr = np.asarray(cov.to_full(covariances, k, d))
    try:
        check_symmetric(arr)
    except ValueError as exc:
        return str(exc)
    return None


def model_from_dict(doc: Any, source: str = "model document") -> GaussianMixture:
    """Rebuild a fitted model from :func:`model_to_dict`'s document, validating everything.

    The document is first checked against :data:`MODEL_SCHEMA` (types, shapes, sizes,
    nesting), then the numbers: weights a probability vector, every covariance symmetric
    and positive definite. Anything else raises :class:`ModelFileError` with one line that
    names the file and the field.
    """
    if not isinstance(doc, dict):
        raise _fail(source, "not a gmm-desktop model (the document is not a JSON object)")
    fmt = doc.get("format")
    if fmt != MODEL_FORMAT:
        raise _fail(
            source,
            f"not a gmm-desktop model (format is {schema.clip(fmt)}, expected "
            f"{MODEL_FORMAT!r})",
        )
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _fail(source, f"format_version {schema.clip(version)} is not valid")
    if version > MODEL_FORMAT_VERSION:
        raise _fail(
            source,
            f"written by a newer gmm-desktop ({schema.clip(doc.get('library_version'))}, "
            f"format {version}); this version reads format {MODEL_FORMAT_VERSION}. "
            "Upgrade gmm-desktop.",
        )
    try:
        bound = schema.validate(doc, MODEL_SCHEMA)
    except schema.SchemaError as exc:
        raise _fail(source, f"{exc}; the file is damaged or was edited by hand") from None
    params = doc["params"]
    known = set(GaussianMixture._get_param_names())
    model = GaussianMixture(**{k: v for k, v in params.items() if k in known})
    name = model.covariance_type
    try:
        cov = get_registry().create("covariance", name)
    except (ValueError, PluginError) as exc:
        raise _fail(source, f"the model uses covariance type {schema.clip(name)}, which is not "
                    f"available ({exc}). Install or enable the plugin that provides it.") from None
    k, d = bound["n_components"], bound["n_features"]
    try:
        stored = math.prod(int(v) for v in cov.covariance_shape(k, d))
    except Exception as exc:
        raise _fail(source, f"the covariance type {name!r} failed: {exc}") from None
    if stored > MAX_COVARIANCE_VALUES:
        raise _fail(source, f"{k:,} components of {d:,} features would store {stored:,} "
                    f"covariance values with {name!r}, more than this version handles "
                    f"({MAX_COVARIANCE_VALUES:,})")
    weights = np.asarray(doc["weights"], dtype=float)
    means = np.asarray(doc["means"], dtype=float)
    if not np.isclose(weights.sum(), 1.0, atol=1e-8):
        raise _fail(source, f"weights must be non-negative and sum to 1 (they sum to "
                    f"{weights.sum():.17g})")
    try:
        covariances = cov.from_json(doc["covariances"], k, d)
    except Exception as exc:  # a plugin's parser: anything it raises means bad data
        raise _fail(source, f"covariances are invalid: {schema.clip(str(exc), 300)[1:-1]}; "
                    "the file is damaged or was edited by hand") from None
    covariances = np.asarray(covariances, dtype=float)
    asymmetric = _check_symmetric(cov, covariances, k, d)
    if asymmetric:
        raise _fail(source, f"{asymmetric}; a covariance matrix must be symmetric (the file "
                    "is damaged or was edited by hand)")
    try:
        prec_chol = cov.precision_cholesky(covariances)
    except NotPositiveDefiniteError as exc:
        raise _fail(source, f"covariances are not positive definite: {exc}") from None
    names = doc.get("feature_names_in")
    if names is not None:
        model.feature_names_in_ = np.asarray([str(n) for n in names], dtype=object)
    model.n_features_in_ = d
    model.weights_ = weights
    model.means_ = means
    model.covariances_ = covariances
    model.precisions_cholesky_ = prec_chol
    model.precisions_ = cov.precisions(prec_chol)
    model.converged_ = bool(doc.get("converged", False))
    model.n_iter_ = int(doc.get("n_iter", 0))
    lb = doc.get("lower_bound")
    model.lower_bound_ = -np.inf if lb is None else float(lb)
    model.lower_bounds_ = [float(v) for v in doc.get("lower_bounds", [])]
    return model


def save_model(
    model: GaussianMixture, path: str | os.PathLike[str], extra: dict[str, Any] | None = None
) -> None:
    """Write the model to ``path`` as JSON, atomically."""
    text = json.dumps(model_to_dict(model, extra), indent=1, allow_nan=False)
    atomic_write_text(path, text + "\n")


def load_model(
    path: str | os.PathLike[str], *, with_extra: bool = False
) -> GaussianMixture | tuple[GaussianMixture, dict[str, Any]]:
    """Read a model saved by :func:`save_model`; ``with_extra`` also returns its extra data."""
    source = str(path)
    doc = read_json(path, what="model", error=ModelFileError)
    model = model_from_dict(doc, source)
    if with_extra:
        extra = doc.get("extra") if isinstance(doc.get("extra"), dict) else {}
        return model, extra
    return model
