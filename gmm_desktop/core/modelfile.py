"""Model files and export sidecars: one schema, written and read here only.

A model file is the engine's versioned model document (:mod:`gmm_desktop.engine.
serialization`) whose ``extra`` holds the application's part under the key
``"gmm_desktop"``::

    {"schema": 2,
     "features": {"columns": [...], "scaler": {...}, "missing": "drop", "medians": {...}},
     "threshold": {...} | null,      # the learned threshold (novelty detection)
     "config": {...},                # the RunConfig the model was made with
     "refit": {...} | null,          # the accepted refit strategy's record
     "source": {...} | null,         # the training data's provenance
     "fit_excluded": [...]}          # row identities left out of the fit

Whichever face saved it (the window, the command line, Python, big-data mode), every face
reads it through :func:`bundle_from_document`, which also migrates the three dialects that
gmm-desktop 0.1 wrote (the command line's and big-data mode's ``extra["anomaly"]``, the
window's ``extra["features"]``) and a bare engine model.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from gmm_desktop import __version__
from gmm_desktop.core.config import ConfigError, RunConfig
from gmm_desktop.core.records import RefitRecord, SourceInfo, json_ready, plain
from gmm_desktop.data import Scaler, ScalerFormatError
from gmm_desktop.engine import GaussianMixture, model_from_dict, model_to_dict
from gmm_desktop.engine.anomaly import Threshold
from gmm_desktop.errors import GmmDesktopError, ModelFileError
from gmm_desktop.fileio import atomic_write_text, read_json

__all__ = [
    "APP_KEY",
    "APP_SCHEMA",
    "EXPORT_FORMAT",
    "ModelBundle",
    "ModelMismatchError",
    "bundle_from_document",
    "export_metadata",
    "read_model_file",
    "write_model_file",
]

APP_KEY = "gmm_desktop"
APP_SCHEMA = 2
EXPORT_FORMAT = "gmm-desktop/export"
EXPORT_FORMAT_VERSION = 1


class ModelMismatchError(GmmDesktopError, ValueError):
    """A model does not fit the open data (columns missing, another feature count)."""


@dataclass(frozen=True, eq=False)
class ModelBundle:
    """A fitted model with everything needed to apply it to a table.

    The model lives in the scaled feature space: rows are prepared with ``columns``,
    ``missing`` (and the training ``medians`` when imputing) and ``scaler`` before scoring.
    ``columns`` is ``None`` only for a bare engine model saved without feature names.
    ``dialect`` says which file format it was read from (``"current"``, ``"cli-0.1"``,
    ``"window-0.1"``, ``"engine"``; not saved).
    """

    model: GaussianMixture
    columns: tuple[str, ...] | None
    scaler: Scaler
    missing: str = "drop"
    medians: Mapping[str, float] | None = None
    threshold: Threshold | None = None
    config: RunConfig = field(default_factory=RunConfig)
    refit: RefitRecord | None = None
    source: SourceInfo | None = None
    fit_excluded: tuple[Any, ...] = ()
    dialect: str = "current"

    @property
    def n_features(self) -> int:
        return int(self.model.n_features_in_)

    @property
    def scaling(self) -> str:
        return str(self.scaler.method)

    def with_threshold(self, threshold: Threshold | None) -> ModelBundle:
        return replace(self, threshold=threshold)

    # ------------------------------------------------------------------ original units

    def means_original(self) -> np.ndarray:
        """Component means in the data's own units, shape (K, d)."""
        return self.scaler.inverse_transform(np.asarray(self.model.means_))

    def covariances_original(self) -> np.ndarray:
        """Component covariances in the data's own units, shape (K, d, d)."""
        return self.scaler.covariance_to_original(self.model.full_covariances(), "full")

    # ------------------------------------------------------------------ matching data

    def check_columns(self, available: Sequence[str], *, source: str = "the data") -> None:
        """Refuse, with the reason, a table that lacks one of the model's columns."""
        if self.columns is None:
            return
        missing = [c for c in self.columns if c not in set(map(str, available))]
        if missing:
            raise ModelMismatchError(
                f"the model was fitted on the columns {', '.join(self.columns)}, but "
                f"{source} has no column {', '.join(repr(c) for c in missing)}. Open data "
                "with those columns, or fit a new model on this data."
            )

    # ------------------------------------------------------------------ documents

    def to_document(self) -> dict[str, Any]:
        """The model file's JSON document (engine document + the application's part)."""
        app = {
            "schema": APP_SCHEMA,
            "features": {
                "columns": None if self.columns is None else list(self.columns),
                "scaler": self.scaler.to_dict(),
                "missing": self.missing,
                "medians": None if self.medians is None else dict(self.medians),
            },
            "threshold": None if self.threshold is None else self.threshold.to_dict(),
            "config": self.config.to_dict(),
            "refit": None if self.refit is None else self.refit.to_dict(),
            "source": None if self.source is None else self.source.to_dict(),
            "fit_excluded": [plain(v) for v in self.fit_excluded],
        }
        return model_to_dict(self.model, json_ready({APP_KEY: app}))


def write_model_file(path: str | os.PathLike[str], bundle: ModelBundle) -> Path:
    """Save ``bundle`` as JSON, atomically (never a pickle)."""
    text = json.dumps(bundle.to_document(), indent=1, allow_nan=False)
    atomic_write_text(path, text + "\n")
    return Path(path)


def read_model_file(path: str | os.PathLike[str]) -> ModelBundle:
    """Read any model file gmm-desktop wrote (see the module docstring)."""
    doc = read_json(path, what="model", error=ModelFileError)
    return bundle_from_document(doc, str(path))


def _fail(source: str, message: str) -> ModelFileError:
    return ModelFileError(f"{source}: {message}")


def bundle_from_document(doc: Any, source: str = "model document") -> ModelBundle:
    """A :class:`ModelBundle` from a model document of any dialect, validated."""
    model = model_from_dict(doc, source)
    extra = doc.get("extra") if isinstance(doc, dict) else None
    extra = extra if isinstance(extra, Mapping) else {}
    try:
        if APP_KEY in extra:
            bundle = _current(model, extra[APP_KEY], source)
        elif "anomaly" in extra:
            bundle = _cli_v01(model, extra["anomaly"], source)
        elif "features" in extra:
            bundle = _window_v01(model, extra, source)
        else:
            bundle = _bare(model)
    except ModelFileError:
        raise
    except (ScalerFormatError, ConfigError, ValueError, TypeError, KeyError) as exc:
        raise _fail(source, f"the model's application data is invalid: {exc}") from None
    if bundle.columns is not None and len(bundle.columns) != model.n_features_in_:
        raise _fail(
            source,
            f"{len(bundle.columns)} columns recorded for a model of {model.n_features_in_} "
            "features",
        )
    if bundle.scaler.n_features != model.n_features_in_:
        raise _fail(
            source,
            f"the scaler has {bundle.scaler.n_features} features but the model "
            f"{model.n_features_in_}",
        )
    return bundle


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be an object, got {type(value).__name__}")
    return value


def _columns(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError("the columns must be a list of names")
    names = tuple(str(c) for c in value)
    if len(set(names)) != len(names):
        twice = sorted({c for c in names if names.count(c) > 1})[:5]
        raise ValueError("a column is named twice (" + ", ".join(map(repr, twice)) + "); each "
                         "feature of a model has its own column")
    return names


def _medians(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    return {str(k): float(v) for k, v in _object(value, "medians").items()}


def _threshold(value: Any) -> Threshold | None:
    return None if value is None else Threshold.from_dict(value)


def _current(model: GaussianMixture, app: Any, source: str) -> ModelBundle:
    app = _object(app, "the application data")
    schema = app.get("schema")
    if not isinstance(schema, int) or schema < 2:
        raise ValueError(f"schema {schema!r} is not valid")
    if schema > APP_SCHEMA:
        raise _fail(
            source,
            f"written by a newer gmm-desktop (application schema {schema}); this version "
            f"reads schema {APP_SCHEMA}. Upgrade gmm-desktop.",
        )
    feats = _object(app.get("features"), "features")
    config = RunConfig.from_dict(app.get("config") or {})
    excluded = app.get("fit_excluded") or []
    if not isinstance(excluded, list):
        raise ValueError("fit_excluded must be a list of row identities")
    return ModelBundle(
        model=model,
        columns=_columns(feats.get("columns")),
        scaler=Scaler.from_dict(_object(feats.get("scaler"), "the scaler")),
        missing=str(feats.get("missing", "drop")),
        medians=_medians(feats.get("medians")),
        threshold=_threshold(app.get("threshold")),
        config=config,
        refit=RefitRecord.from_dict(app.get("refit")),
        source=SourceInfo.from_dict(app.get("source")),
        fit_excluded=tuple(excluded),
    )


def _cli_v01(model: GaussianMixture, info: Any, source: str) -> ModelBundle:
    """``gmm-desktop detect --model-out``, ``Detector.save_model`` and big-data mode (0.1)."""
    info = _object(info, "extra.anomaly")
    columns = _columns(info.get("columns"))
    if "scaler" not in info or columns is None:
        raise _fail(source, "the model's anomaly-detection data has no scaler or columns")
    config_doc = info.get("config") or {}
    config = RunConfig.from_dict(_object(config_doc, "the configuration"),
                                 base=RunConfig(method="plain"))  # 0.1 fitted plain EM
    src = SourceInfo.from_dict(info.get("source"))
    record = info.get("refit")
    refit = None
    if record is not None:
        refit = RefitRecord.from_dict(dict(_object(record, "the refit record"),
                                           spec=config.threshold.to_dict()))
    return ModelBundle(
        model=model,
        columns=columns,
        scaler=Scaler.from_dict(_object(info["scaler"], "the scaler")),
        missing=config.missing,
        medians=_medians(info.get("medians")),
        threshold=_threshold(info.get("threshold")),
        config=config,
        refit=refit,
        source=src,
        dialect="out-of-core-0.1" if src is not None and src.out_of_core else "cli-0.1",
    )


def _window_v01(model: GaussianMixture, extra: Mapping[str, Any], source: str) -> ModelBundle:
    """File ▸ Save model of the 0.1 window: columns and preprocessing, maybe a scaler."""
    feats = _object(extra["features"], "extra.features")
    columns = _columns(feats.get("columns"))
    scaling = str(feats.get("scaling", "none"))
    d = int(model.n_features_in_)
    if "scaler" in extra:
        scaler = Scaler.from_dict(_object(extra["scaler"], "the scaler"))
    elif scaling == "none":
        scaler = Scaler.identity(d, list(columns) if columns else None)
    else:
        raise _fail(
            source,
            f"the model was fitted on {scaling}-scaled features but its file does not record "
            "the scaling, so it cannot be applied to new data. Fit it again and save it.",
        )
    missing = str(feats.get("missing", "drop"))
    base = RunConfig(columns=columns, missing=missing if missing in ("drop", "median") else "drop",
                     scaling=scaler.method, method="plain", n_components=int(model.n_components),
                     covariance_types=(str(model.covariance_type),))
    return ModelBundle(
        model=model, columns=columns, scaler=scaler, missing=base.missing, config=base,
        source=SourceInfo.from_dict(extra.get("source")), dialect="window-0.1",
    )


def _bare(model: GaussianMixture) -> ModelBundle:
    """An engine model saved with ``gmm_desktop.engine.save_model``: no preprocessing."""
    names = getattr(model, "feature_names_in_", None)
    columns = None if names is None else tuple(str(n) for n in names)
    d = int(model.n_features_in_)
    config = RunConfig(columns=columns, scaling="none", method="plain",
                       n_components=int(model.n_components),
                       covariance_types=(str(model.covariance_type),))
    return ModelBundle(
        model=model, columns=columns,
        scaler=Scaler.identity(d, list(columns) if columns else None), config=config,
        dialect="engine",
    )


def export_metadata(
    bundle: ModelBundle,
    *,
    output: Path,
    only_flagged: bool,
    n_scored: int,
    n_flagged: int | None,
    threshold: Threshold | None,
    source: SourceInfo | None,
    columns_written: Sequence[str] | None = None,
    config: RunConfig | None = None,
) -> dict[str, Any]:
    """The JSON sidecar written beside every exported table (in memory and out of core)."""
    model = bundle.model
    return json_ready({
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "written_by": f"gmm-desktop {__version__}",
        "written_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "output": output.name,
        "rows": "flagged rows only" if only_flagged else "all scored rows",
        "columns_written": None if columns_written is None else list(columns_written),
        "n_scored": int(n_scored),
        "n_flagged": None if n_flagged is None else int(n_flagged),
        "source": None if source is None else source.to_dict(),
        "model": {
            "n_components": int(model.n_components),
            "covariance_type": str(model.covariance_type),
            "columns": None if bundle.columns is None else list(bundle.columns),
            "weights": np.asarray(model.weights_).tolist(),
            "means_original_units": bundle.means_original().tolist(),
            "scaler": bundle.scaler.to_dict(),
            "n_iter": int(model.n_iter_),
            "lower_bound": float(model.lower_bound_),
        },
        "threshold": None if threshold is None else threshold.to_dict(),
        "refit": None if bundle.refit is None else bundle.refit.to_dict(),
        "config": (config or bundle.config).to_dict(),
    })
