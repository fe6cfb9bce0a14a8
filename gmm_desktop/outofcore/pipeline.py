"""The out-of-core detection run used by ``gmm-desktop detect DATA --scheduler ...`` and
by the application's "big data" mode: open lazily → profile and scale → fit on the Dask
scheduler → threshold over every row → write scores to Parquet → save the model.

Also the calls a controller needs (:func:`fit`, :func:`plot_sample`,
:func:`gmm_desktop.outofcore.scoring.log_density_histogram`), all with progress and cancel.
"""

from __future__ import annotations

import datetime as _dt
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gmm_desktop import __version__
from gmm_desktop.data import sidecar_path
from gmm_desktop.engine import GaussianMixture, save_model
from gmm_desktop.engine.anomaly import Threshold, ThresholdSpec
from gmm_desktop.errors import FitCancelled
from gmm_desktop.fileio import atomic_write_text
from gmm_desktop.outofcore import scoring
from gmm_desktop.outofcore._compute import PassProgress, connect
from gmm_desktop.outofcore.fitting import options, row_blocks, uniform_sample
from gmm_desktop.outofcore.tables import LazyFeatures, LazyTable, open_table, prepare

__all__ = ["OutOfCoreResult", "PlotSample", "detect_dataset", "fit", "plot_sample"]

#: ``progress(stage, fraction_overall)``; a true return value cancels.
Progress = Callable[[str, float], Any]


def fit(
    model: GaussianMixture,
    X: Any,
    *,
    sample_weight: Any = None,
    progress: Progress | None = None,
    init_sample_size: int | None = None,
    span: tuple[float, float] = (0.0, 1.0),
) -> GaussianMixture:
    """Fit ``model`` on a Dask array/DataFrame with overall progress and cancel.

    ``progress(stage, fraction)`` is called after every finished partition and every EM
    iteration (``fraction`` runs over ``span``); returning true cancels with
    :class:`~gmm_desktop.errors.FitCancelled` and leaves ``model`` as it was.
    """
    start, width = span
    state = {"done": 0.0}

    def iteration(info: Any) -> bool:
        state["done"] = float(info.fraction)
        if progress is None:
            return False
        text = (
            f"fit: iteration {info.iteration}/{info.max_iter} of restart "
            f"{info.restart + 1}/{info.n_restarts}, lower bound {info.lower_bound:.6g}"
        )
        return bool(progress(text, start + width * state["done"]))

    def partial(stage: str, fraction: float) -> bool:
        if progress is None:
            return False
        n_init = max(1, int(model.n_init))
        step = 1.0 / (max(1, int(model.max_iter)) * n_init)
        overall = min(1.0, state["done"] + step * fraction)
        return bool(progress(f"fit: {stage}", start + width * overall))

    with options(init_sample_size=init_sample_size, progress=partial):
        model.fit(X, sample_weight=sample_weight, callback=iteration)
    return model


@dataclass
class PlotSample:
    """A uniform random sample of rows for a scatter plot, scored by the model.

    ``rows`` are in the model's (scaled) feature space; ``positions`` are the rows'
    positions in the feature matrix; ``n_total`` is the number of rows sampled from (show
    "``n`` of ``n_total`` rows" on the plot).
    """

    rows: np.ndarray
    positions: np.ndarray
    n_total: int
    log_density: np.ndarray | None = None
    component: np.ndarray | None = None
    flags: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.rows.shape[0])


def plot_sample(
    X: Any,
    size: int = 50_000,
    *,
    seed: int = 0,
    model: GaussianMixture | None = None,
    threshold: Threshold | None = None,
    progress: PassProgress | None = None,
) -> PlotSample:
    """At most ``size`` rows drawn uniformly (exactly, without replacement) for plotting."""
    blocks = row_blocks(X)
    rows, _, pos = uniform_sample(blocks, size, seed, progress=progress)
    out = PlotSample(rows, pos, blocks.n_samples)
    if model is not None:
        p = scoring.ScoreParams.of(model)
        if threshold is None:
            ld, comp, _ = scoring._block_scores(rows, p)
            out.log_density, out.component = ld, comp
        else:
            out.log_density, out.component, out.flags = scoring._block_flags(rows, p, threshold)
    return out


@dataclass
class OutOfCoreResult:
    """What :func:`detect_dataset` did (for the command line's summary)."""

    table: LazyTable
    features: LazyFeatures
    model: GaussianMixture
    threshold: Threshold
    n_flagged: int | None = None
    output: Path | None = None
    model_path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _stage(progress: Progress | None, start: float, width: float) -> PassProgress | None:
    if progress is None:
        return None
    return lambda stage, f: progress(stage, start + width * f)


def detect_dataset(
    path: str,
    *,
    scheduler: str | None = None,
    columns: Sequence[str] | None = None,
    id_column: str | None = None,
    n_components: int = 1,
    covariance_type: str = "full",
    scaling: str = "standardize",
    missing: str = "drop",
    threshold: ThresholdSpec | None = None,
    n_init: int = 1,
    max_iter: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    random_state: int | None = 0,
    init_sample_size: int | None = None,
    output: str | None = None,
    only_flagged: bool = True,
    model_out: str | None = None,
    progress: Progress | None = None,
) -> OutOfCoreResult:
    """The whole detection on data bigger than memory (see the module docstring).

    ``output`` is a Parquet dataset folder (row_id, log_density, component, flag) with a
    JSON sidecar; ``model_out`` a model JSON usable by ``gmm-desktop score``.
    """
    import time

    spec = threshold or ThresholdSpec()
    timings: dict[str, float] = {}
    with connect(scheduler):
        t0 = time.perf_counter()
        table = open_table(path, id_column=id_column)
        feats = prepare(
            table, None if columns is None else list(columns), missing=missing,
            scaling=scaling, seed=0 if random_state is None else int(random_state),
            progress=_stage(progress, 0.0, 0.05),
        )
        timings["prepare"] = time.perf_counter() - t0
        model = GaussianMixture(
            n_components=n_components, covariance_type=covariance_type, n_init=n_init,
            max_iter=max_iter, tol=tol, reg_covar=reg_covar, random_state=random_state,
        )
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit(model, feats.X, progress=progress, init_sample_size=init_sample_size,
                span=(0.05, 0.8))
        timings["fit"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        thr = scoring.fit_threshold(spec, model, feats.X, progress=_stage(progress, 0.85, 0.05))
        timings["threshold"] = time.perf_counter() - t0
        result = OutOfCoreResult(table, feats, model, thr, timings=timings)
        if output is not None:
            t0 = time.perf_counter()
            out, _n, flagged = scoring.write_scores(
                model, feats.X, thr, output, row_ids=feats.row_ids, only_flagged=only_flagged,
                progress=_stage(progress, 0.9, 0.1),
            )
            timings["write"] = time.perf_counter() - t0
            result.output, result.n_flagged = out, flagged
            meta = _metadata(result, only_flagged)
            atomic_write_text(sidecar_path(out), json.dumps(meta, indent=2, allow_nan=False))
        if model_out is not None:
            save_model(model, model_out, extra=_model_extra(result))
            result.model_path = Path(model_out)
    if progress is not None and progress("done", 1.0):
        raise FitCancelled("cancelled at the end; the outputs are written")
    return result


def _model_extra(result: OutOfCoreResult) -> dict[str, Any]:
    from gmm_desktop.detector import EXTRA_KEY, DetectorConfig, _json_ready

    model, feats = result.model, result.features
    config = DetectorConfig(
        columns=list(feats.columns), n_components=int(model.n_components),
        covariance_types=(model.covariance_type,), scaling=feats.scaler.method,
        missing="drop", threshold=result.threshold.spec, n_init=int(model.n_init),
        max_iter=int(model.max_iter), reg_covar=float(model.reg_covar),
        random_state=model.random_state, id_column=result.table.id_column,
    )
    return _json_ready({
        EXTRA_KEY: {
            "columns": list(feats.columns),
            "scaler": feats.scaler.to_dict(),
            "threshold": result.threshold.to_dict(),
            "source": _source(result),
            "config": config.to_dict(),
            "refit": None,
        }
    })


def _source(result: OutOfCoreResult) -> dict[str, Any]:
    return {
        "path": result.table.path,
        "name": result.table.name,
        "n_rows": result.features.n_rows,
        "n_rows_used": result.features.n_used,
        "id_column": result.table.id_column,
        "out_of_core": True,
    }


def _metadata(result: OutOfCoreResult, only_flagged: bool) -> dict[str, Any]:
    from gmm_desktop.detector import _json_ready

    model = result.model
    return _json_ready({
        "written_by": f"gmm-desktop {__version__}",
        "written_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "output": result.output.name if result.output else None,
        "rows": "flagged rows only" if only_flagged else "all scored rows",
        "columns_written": ["row_id", "log_density", "component", "flag"],
        "n_scored": result.features.n_used,
        "n_flagged": result.n_flagged,
        "source": _source(result),
        "model": {
            "n_components": int(model.n_components),
            "covariance_type": model.covariance_type,
            "columns": result.features.columns,
            "weights": np.asarray(model.weights_).tolist(),
            "means_original_units": result.features.scaler.inverse_transform(
                model.means_
            ).tolist(),
            "scaler": result.features.scaler.to_dict(),
            "n_iter": int(model.n_iter_),
            "lower_bound": float(model.lower_bound_),
        },
        "threshold": result.threshold.to_dict(),
    })
