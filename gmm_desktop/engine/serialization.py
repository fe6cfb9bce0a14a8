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

from gmm_desktop import __version__
from gmm_desktop.engine.mixture import GaussianMixture
from gmm_desktop.errors import ModelFileError, NotPositiveDefiniteError, PluginError
from gmm_desktop.fileio import atomic_write_text, read_json
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


def _fail(source: str, message: str) -> ModelFileError:
    return ModelFileError(f"{source}: {message}")


def model_from_dict(doc: Any, source: str = "model document") -> GaussianMixture:
    """Rebuild a fitted model from :func:`model_to_dict`'s document, validating everything."""
    if not isinstance(doc, dict):
        raise _fail(source, "not a gmm-desktop model (the document is not a JSON object)")
    if doc.get("format") != MODEL_FORMAT:
        raise _fail(
            source,
            f"not a gmm-desktop model (format is {doc.get('format')!r}, expected "
            f"{MODEL_FORMAT!r})",
        )
    version = doc.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise _fail(source, f"format_version {version!r} is not valid")
    if version > MODEL_FORMAT_VERSION:
        raise _fail(
            source,
            f"written by a newer gmm-desktop ({doc.get('library_version')}, format "
            f"{version}); this version reads format {MODEL_FORMAT_VERSION}. Upgrade gmm-desktop.",
        )
    params = doc.get("params")
    if not isinstance(params, dict):
        raise _fail(source, "the 'params' section is missing")
    known = set(GaussianMixture._get_param_names())
    try:
        model = GaussianMixture(**{k: v for k, v in params.items() if k in known})
    except TypeError as exc:
        raise _fail(source, f"bad parameters: {exc}") from None
    name = model.covariance_type
    try:
        cov = get_registry().create("covariance", name)
    except (ValueError, PluginError) as exc:
        raise _fail(source, f"the model uses covariance type {name!r}, which is not available "
                    f"({exc}). Install or enable the plugin that provides it.") from None
    try:
        d = int(doc["n_features_in"])
        weights = np.asarray(doc["weights"], dtype=float)
        means = np.asarray(doc["means"], dtype=float)
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(source, f"missing or malformed field ({exc})") from None
    if weights.ndim != 1 or weights.size < 1:
        raise _fail(source, f"weights must be a non-empty list, got shape {weights.shape}")
    k = weights.size
    if k != model.n_components:
        raise _fail(source, f"{k} weights but n_components is {model.n_components}")
    if means.shape != (k, d):
        raise _fail(source, f"means have shape {means.shape}, expected {(k, d)}")
    for label, arr in (("weights", weights), ("means", means)):
        if not np.all(np.isfinite(arr)):
            raise _fail(source, f"{label} contain NaN or infinite values")
    if np.any(weights < 0) or not np.isclose(weights.sum(), 1.0, atol=1e-8):
        raise _fail(source, "weights must be non-negative and sum to 1")
    try:
        covariances = cov.from_json(doc.get("covariances"), k, d)
    except (TypeError, ValueError) as exc:
        raise _fail(source, f"covariances are invalid: {exc}") from None
    try:
        prec_chol = cov.precision_cholesky(covariances)
    except NotPositiveDefiniteError as exc:
        raise _fail(source, f"covariances are not positive definite: {exc}") from None
    names = doc.get("feature_names_in")
    if names is not None:
        if not isinstance(names, list) or len(names) != d:
            raise _fail(source, f"feature_names_in must list {d} names")
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
