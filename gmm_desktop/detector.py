"""The anomaly detector: data → features → mixture → scores → threshold → refit → export.

Qt-free; the command line and the GUI controller both drive a :class:`Detector`::

    spec = ThresholdSpec("contamination", 0.02)
    det = Detector(DetectorConfig(n_components=(1, 2, 3, 4), threshold=spec))
    det.load("measurements.csv")
    det.fit()                       # picks K by BIC over the range
    result = det.detect()           # scores, threshold, flags (and refit, if configured)
    det.export("flagged.csv", only_flagged=True)
    det.save_model("model.json")    # with the scaler, columns, threshold and source file

    novelty = Detector.from_model_file("model.json")
    novelty.load("new-batch.csv")
    novelty.score()                 # the saved scaler and threshold, unchanged

Rows are addressed by their position in the loaded table (``Dataset.frame``) wherever the
caller passes masks (``exclude``: rows the user marked as outliers, never fitted and always
flagged; ``never_flag``: rows marked normal). The model lives in the scaled feature space;
everything shown to the user (means, covariances, samples) is mapped back to original units.
"""

from __future__ import annotations

import copy
import datetime as _dt
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gmm_desktop import __version__
from gmm_desktop.data import (
    Dataset,
    PreparedFeatures,
    Scaler,
    load_table,
    prepare_features,
    sidecar_path,
    write_table_atomic,
)
from gmm_desktop.engine import (
    GaussianMixture,
    SelectionResult,
    load_model,
    save_model,
    select_models,
)
from gmm_desktop.engine.anomaly import AnomalyResult, Threshold, ThresholdSpec, detect, run_refit
from gmm_desktop.errors import FitCancelled, GmmDesktopError, ModelFileError
from gmm_desktop.plugin_api import RefitProgress
from gmm_desktop.registry import get_registry

__all__ = ["Detector", "DetectorConfig", "DetectorError", "Progress", "sidecar_path"]

#: ``progress(stage, fraction)``; a true return value cancels (raises FitCancelled).
Progress = Callable[[str, float], Any]

EXTRA_KEY = "anomaly"


class DetectorError(GmmDesktopError, ValueError):
    """The detector was used in the wrong order or with a bad request."""


@dataclass
class DetectorConfig:
    """Everything that decides a detection run (saved with the model).

    ``n_components`` is one count, or a sequence of counts to choose from by BIC (together
    with every covariance type in ``covariance_types``).
    """

    columns: list[str] | None = None
    n_components: int | Sequence[int] = 1
    covariance_types: Sequence[str] = ("full",)
    scaling: str = "standardize"
    missing: str = "drop"
    threshold: ThresholdSpec = field(default_factory=ThresholdSpec)
    refit: str | None = None
    refit_params: dict[str, Any] = field(default_factory=dict)
    n_init: int = 1
    max_iter: int = 100
    reg_covar: float = 1e-6
    random_state: int | None = 0
    id_column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        k = self.n_components
        return {
            "columns": None if self.columns is None else list(self.columns),
            "n_components": int(k) if isinstance(k, int | np.integer) else [int(v) for v in k],
            "covariance_types": list(self.covariance_types),
            "scaling": self.scaling,
            "missing": self.missing,
            "threshold": self.threshold.to_dict(),
            "refit": self.refit,
            "refit_params": dict(self.refit_params),
            "n_init": self.n_init,
            "max_iter": self.max_iter,
            "reg_covar": self.reg_covar,
            "random_state": self.random_state,
            "id_column": self.id_column,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorConfig:
        out = cls()
        for key, value in data.items():
            if key == "threshold":
                value = ThresholdSpec.from_dict(value)
            if hasattr(out, key):
                setattr(out, key, value)
        return out


class Detector:
    """One detection session (see the module docstring). Not thread-safe."""

    def __init__(self, config: DetectorConfig | None = None, *, progress: Progress | None = None):
        self.config = config or DetectorConfig()
        self.progress = progress
        self.dataset: Dataset | None = None
        self.features: PreparedFeatures | None = None
        self.model: GaussianMixture | None = None
        self.selection: SelectionResult | None = None
        self.result: AnomalyResult | None = None
        self.threshold: Threshold | None = None
        self.scaler: Scaler | None = None
        self.columns: list[str] | None = None
        self.source: dict[str, Any] | None = None
        self.refit_record: dict[str, Any] | None = None
        #: Per feature column, the median of the rows the model was fitted on (original
        #: units): what ``missing="median"`` fills in when new data is scored.
        self.medians: dict[str, float] | None = None

    # ------------------------------------------------------------------ progress

    def _report(self, stage: str, fraction: float) -> None:
        if self.progress is not None and self.progress(stage, fraction):
            raise FitCancelled(f"cancelled during {stage}; the previous model is unchanged")

    def _fit_relay(self, start: float, span: float) -> Callable[[Any], bool] | None:
        if self.progress is None:
            return None

        def relay(info: Any) -> bool:
            stage = getattr(info, "stage", "fit")
            if isinstance(info, RefitProgress):
                stage = f"{info.strategy}: round {info.round}"
            self._report(stage, start + span * float(info.fraction))
            return False

        return relay

    # ------------------------------------------------------------------ data

    def load(self, path: str | PathLike[str], **options: Any) -> Dataset:
        """Load a table (options go to :func:`gmm_desktop.data.load_table`)."""
        if self.config.id_column is not None:
            options.setdefault("id_column", self.config.id_column)
        ds = load_table(path, **options)
        self.config.id_column = ds.id_column  # saved with the model, reused by ``score``
        self.set_dataset(ds)
        return ds

    def set_dataset(self, ds: Dataset) -> None:
        """Use ``ds``; features, scores and flags of a previous dataset are dropped."""
        self.dataset = ds
        self.features = None
        self.result = None

    def prepare(self) -> PreparedFeatures:
        """Extract and scale the feature columns (a saved model's scaler when there is one)."""
        ds = self._need_dataset()
        if self.scaler is not None and self.model is not None and self.columns is not None:
            # A fitted or loaded model: its columns, its scaler, and its training medians
            # for any value to impute, so new data is prepared exactly as its data was.
            raw = prepare_features(
                ds, self.columns, self.config.missing, "none", medians=self.medians
            )
            X = self.scaler.transform(raw.X)
            self.features = PreparedFeatures(
                X, raw.row_ids, raw.row_index, raw.columns, self.scaler, raw.report, raw.warnings
            )
        else:
            self.features = prepare_features(
                ds, self.config.columns, self.config.missing, self.config.scaling
            )
        return self.features

    def _need_dataset(self) -> Dataset:
        if self.dataset is None:
            raise DetectorError("no data is loaded; load a table first")
        return self.dataset

    def _need_model(self) -> GaussianMixture:
        if self.model is None:
            raise DetectorError("no model is fitted or loaded; fit one or load a model file")
        return self.model

    def _row_mask(self, mask: Any, name: str) -> np.ndarray | None:
        """A mask over the dataset's rows, restricted to the rows in the features."""
        if mask is None:
            return None
        ds, feats = self._need_dataset(), self.features
        assert feats is not None
        arr = np.asarray(mask)
        if arr.shape != (ds.n_rows,) or arr.dtype != bool:
            raise DetectorError(
                f"{name} must be a true/false mask over the {ds.n_rows} rows of the table"
            )
        return arr[feats.row_index]

    # ------------------------------------------------------------------ fitting

    def _gmm_params(self) -> dict[str, Any]:
        c = self.config
        return {
            "n_init": c.n_init,
            "max_iter": c.max_iter,
            "reg_covar": c.reg_covar,
            "random_state": c.random_state,
        }

    def select(self, *, criterion: str = "bic", exclude: Any = None) -> SelectionResult:
        """The BIC/AIC table over the configured component counts × covariance types.

        Nothing of the detector changes; see :meth:`fit` to adopt the best model.
        """
        feats = self.features or self.prepare()
        ex = self._row_mask(exclude, "exclude")
        X = feats.X if ex is None else feats.X[~ex]
        c = self.config
        ks = [c.n_components] if isinstance(c.n_components, int | np.integer) else list(
            c.n_components
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return select_models(
                X, ks, list(c.covariance_types), criterion=criterion, keep_models=False,
                callback=self._fit_relay(0.0, 1.0), **self._gmm_params(),
            )

    def fit(self, *, exclude: Any = None) -> GaussianMixture:
        """Fit the mixture (selecting by BIC over a range of counts or several types).

        ``exclude`` rows (a mask over the table's rows) are left out of the fit.
        """
        feats = self.features or self.prepare()
        ex = self._row_mask(exclude, "exclude")
        X = feats.X if ex is None else feats.X[~ex]
        c = self.config
        ks = [c.n_components] if isinstance(c.n_components, int | np.integer) else list(
            c.n_components
        )
        types = list(c.covariance_types)
        self._report("fit", 0.0)
        if len(ks) == 1 and len(types) == 1:
            model = GaussianMixture(
                n_components=int(ks[0]), covariance_type=types[0], **self._gmm_params()
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X, callback=self._fit_relay(0.0, 0.6))
            self.selection = None
        else:
            selection = select_models(
                X, ks, types, callback=self._fit_relay(0.0, 0.6), **self._gmm_params()
            )
            self.selection = selection
            model = selection.best.model
            assert model is not None
        self.model = model
        self.scaler = feats.scaler
        self.columns = list(feats.columns)
        fitted_rows = feats.scaler.inverse_transform(X)
        self.medians = {
            col: float(v) for col, v in zip(self.columns, np.median(fitted_rows, axis=0),
                                            strict=True)
        }
        self.threshold = None
        self.refit_record = None
        self.result = None
        self.source = self._source_record()
        return model

    def _source_record(self) -> dict[str, Any]:
        ds, feats = self._need_dataset(), self.features
        return {
            "path": str(ds.path),
            "name": ds.name,
            "n_rows": int(ds.n_rows),
            "n_rows_used": int(feats.X.shape[0]) if feats is not None else None,
            "id_column": ds.id_column,
        }

    # ------------------------------------------------------------------ detection

    def detect(
        self,
        *,
        exclude: Any = None,
        never_flag: Any = None,
        refit: str | bool | None = True,
    ) -> AnomalyResult:
        """Score the loaded data, learn the threshold on it, flag, and refit if configured.

        ``refit=True`` uses the configured strategy, a name another one, ``None``/``False``
        none. With a refit, the refitted model replaces :attr:`model`.
        """
        model = self._need_model()
        feats = self.features or self.prepare()
        ex = self._row_mask(exclude, "exclude")
        nf = self._row_mask(never_flag, "never_flag")
        spec = self.config.threshold
        name = self.config.refit if refit is True else (refit or None)
        self._report("scoring", 0.6)
        if name:
            strategy = get_registry().create("refit", name)
            strategy.set_params(**self.config.refit_params)

            def relay(info: RefitProgress) -> bool:
                self._report(f"{info.strategy}: round {info.round}", 0.6 + 0.35 * info.fraction)
                return False

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = run_refit(
                    strategy, model, feats.X, spec, exclude=ex, never_flag=nf,
                    callback=relay if self.progress else None,
                )
            assert result.refit is not None
            self.model = result.refit.model
            self.refit_record = {
                "strategy": name,
                "params": dict(strategy.values),
                "info": result.refit.info,
                "history": [vars(r) for r in result.refit.history],
            }
        else:
            result = detect(model, feats.X, spec, exclude=ex, never_flag=nf)
            self.refit_record = None
        self.threshold = result.threshold
        self.result = result
        self._report("done", 1.0)
        return result

    def score(self, *, exclude: Any = None, never_flag: Any = None) -> AnomalyResult:
        """Score the loaded data with the fitted/loaded model and its saved threshold."""
        model = self._need_model()
        if self.threshold is None:
            raise DetectorError("the model has no threshold yet; run a detection first")
        feats = self.features or self.prepare()
        ex = self._row_mask(exclude, "exclude")
        nf = self._row_mask(never_flag, "never_flag")
        self.result = detect(model, feats.X, self.threshold, exclude=ex, never_flag=nf)
        return self.result

    # ------------------------------------------------------------------ model in original units

    def means_original(self) -> np.ndarray:
        """Component means in the data's original units, shape (K, d)."""
        model = self._need_model()
        assert self.scaler is not None
        return self.scaler.inverse_transform(model.means_)

    def covariances_original(self) -> np.ndarray:
        """Component covariances in original units, shape (K, d, d)."""
        model = self._need_model()
        assert self.scaler is not None
        return self.scaler.covariance_to_original(model.full_covariances(), "full")

    # ------------------------------------------------------------------ persistence

    def model_extra(self) -> dict[str, Any]:
        """What is stored next to the model in its JSON (``extra["anomaly"]``)."""
        self._need_model()
        assert self.scaler is not None and self.columns is not None
        return {
            EXTRA_KEY: {
                "columns": list(self.columns),
                "scaler": self.scaler.to_dict(),
                "medians": self.medians,
                "threshold": None if self.threshold is None else self.threshold.to_dict(),
                "source": self.source,
                "config": self.config.to_dict(),
                "refit": self.refit_record,
            }
        }

    def save_model(self, path: str | PathLike[str]) -> Path:
        """Save the model with its scaler, columns, threshold and source (atomic JSON)."""
        save_model(self._need_model(), path, extra=_json_ready(self.model_extra()))
        return Path(path)

    @classmethod
    def from_model_file(
        cls, path: str | PathLike[str], *, progress: Progress | None = None
    ) -> Detector:
        """A detector holding a saved model, ready to :meth:`score` new data."""
        model, extra = load_model(path, with_extra=True)
        info = extra.get(EXTRA_KEY) if isinstance(extra, dict) else None
        if not isinstance(info, dict) or "scaler" not in info or "columns" not in info:
            raise ModelFileError(
                f"{path}: the model has no anomaly-detection data (scaler, columns); "
                "save it with 'gmm-desktop detect --model-out' or from the application"
            )
        config = DetectorConfig.from_dict(info.get("config") or {})
        det = cls(config, progress=progress)
        det.model = model
        try:
            det.scaler = Scaler.from_dict(info["scaler"])
            det.columns = [str(c) for c in info["columns"]]
            medians = info.get("medians")
            det.medians = None if medians is None else {
                str(k): float(v) for k, v in dict(medians).items()
            }
            det.threshold = (
                None if info.get("threshold") is None else Threshold.from_dict(info["threshold"])
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise ModelFileError(f"{path}: the anomaly-detection data is invalid: {exc}") from None
        if len(det.columns) != model.n_features_in_:
            raise ModelFileError(
                f"{path}: {len(det.columns)} columns recorded for a model of "
                f"{model.n_features_in_} features"
            )
        det.source = info.get("source")
        det.refit_record = info.get("refit")
        return det

    # ------------------------------------------------------------------ results and export

    def result_frame(self, *, only_flagged: bool = False) -> pd.DataFrame:
        """The scored rows: row identity, every original column, and the scores."""
        ds, feats, res = self._need_dataset(), self.features, self.result
        if res is None or feats is None:
            raise DetectorError("nothing is scored yet; run a detection or score first")
        base = ds.frame.iloc[feats.row_index].reset_index(drop=True)
        taken = set(map(str, base.columns))

        def name(wanted: str) -> str:
            out = wanted
            while out in taken:
                out = "gmm_" + out
            taken.add(out)
            return out

        scores = res.scores
        # The row identity: the ID column itself when the table has one (it is already among
        # the original columns), else the row's position in the file.
        cols: dict[str, Any] = {} if ds.id_column is not None else {name("row_id"): feats.row_ids}
        extra: dict[str, Any] = {
            name("log_density"): scores.log_density,
            name("component"): scores.component,
        }
        for k in range(scores.responsibilities.shape[1]):
            extra[name(f"resp_{k}")] = scores.responsibilities[:, k]
        extra[name("mahalanobis")] = scores.mahalanobis
        extra[name("chi2_tail")] = scores.tail_probability
        extra[name("flag")] = res.flags
        frame = pd.concat(
            [pd.DataFrame(cols), base, pd.DataFrame(extra)], axis=1
        )
        if only_flagged:
            frame = frame[res.flags].reset_index(drop=True)
        return frame

    def export_metadata(self, *, only_flagged: bool, output: Path) -> dict[str, Any]:
        model = self._need_model()
        assert self.result is not None
        return _json_ready(
            {
                "written_by": f"gmm-desktop {__version__}",
                "written_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "output": output.name,
                "rows": "flagged rows only" if only_flagged else "all scored rows",
                "n_scored": int(self.result.flags.size),
                "n_flagged": int(self.result.flags.sum()),
                "source": self._source_record(),
                "model": {
                    "n_components": int(model.n_components),
                    "covariance_type": model.covariance_type,
                    "columns": self.columns,
                    "weights": np.asarray(model.weights_).tolist(),
                    "means_original_units": self.means_original().tolist(),
                    "scaler": self.scaler.to_dict() if self.scaler else None,
                },
                "threshold": self.result.threshold.to_dict(),
                "refit": self.refit_record,
            }
        )

    def export(self, path: str | PathLike[str], *, only_flagged: bool = False) -> Path:
        """Write the result table (CSV, TSV, Parquet or Excel by extension) atomically, with
        a JSON sidecar ``<file>.json`` recording the model, the threshold and the source."""
        out = Path(path)
        frame = self.result_frame(only_flagged=only_flagged)
        meta = self.export_metadata(only_flagged=only_flagged, output=out)
        return write_table_atomic(frame, out, sidecar=meta)

    # ------------------------------------------------------------------ synthetic data

    def sample(self, n: int, *, seed: int | None = None) -> pd.DataFrame:
        """``n`` synthetic rows from the model, in original units and column names, with
        the component of each (column ``component``)."""
        model = self._need_model()
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise DetectorError(f"the number of rows to draw must be a positive integer, got {n}")
        drawer = copy.deepcopy(model)
        drawer.random_state = seed
        X, comp = drawer.sample(int(n))
        assert self.scaler is not None and self.columns is not None
        frame = pd.DataFrame(self.scaler.inverse_transform(X), columns=self.columns)
        name = "component" if "component" not in self.columns else "gmm_component"
        frame[name] = comp
        rng = np.random.RandomState(seed)
        return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


def _json_ready(value: Any) -> Any:
    """Plain JSON types (numpy scalars and arrays converted, non-finite floats to None)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value
