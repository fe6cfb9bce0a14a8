"""The application controller: state, background work, ready-to-draw results.

The GUI calls the methods of :class:`AppController` and listens to its signals. Long work
(loading, preparing, fitting, model selection) runs in a thread pool through
:mod:`gmm_desktop.controller.tasks`; results arrive as immutable views
(:mod:`gmm_desktop.controller.views`). The previous model is never lost: a fit works on a
new estimator and replaces the current one only when it succeeds.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from gmm_desktop.controller import geometry
from gmm_desktop.controller.analysis import AnalysisMixin
from gmm_desktop.controller.anomaly_tools import DensityIndex
from gmm_desktop.controller.bigdata import BigDataMixin
from gmm_desktop.controller.session import (
    CrashGuard,
    SessionFileError,
    new_document,
    read_session,
    write_session,
)
from gmm_desktop.controller.tasks import TaskFailure, TaskRunner, TaskState
from gmm_desktop.controller.views import (
    ComponentRow,
    DatasetView,
    FeaturesView,
    FitParams,
    LegendEntry,
    ModelSummary,
    PointInfo,
    ScatterView,
    SweepView,
    ViewSettings,
    frozen_array,
)
from gmm_desktop.engine import (
    GaussianMixture,
    ModelFileError,
    load_model,
    model_from_dict,
    model_to_dict,
    save_model,
    select_models,
)
from gmm_desktop.engine.anomaly import Scores, score_rows
from gmm_desktop.errors import GmmDesktopError
from gmm_desktop.registry import get_registry

log = logging.getLogger("gmm_desktop.controller")

#: Bins of the uncertainty colouring (1 − max responsibility).
UNCERTAINTY_BINS = 8
AUTOSAVE_INTERVAL_MS = 3 * 60 * 1000
PREVIEW_ROWS = 200


@dataclass(frozen=True)
class _Data:
    """A loaded file and its prepared features (replaced as a whole, never mutated)."""

    dataset: Any
    prepared: Any
    X: np.ndarray
    columns: tuple[str, ...]
    missing: str
    scaling: str
    offset: np.ndarray  # plot value = offset + scale * model value, per column
    scale: np.ndarray
    pca: geometry.Pca
    generation: int
    demo: str | None = None


@dataclass(frozen=True)
class _Fitted:
    """A model with its per-point results on the current data."""

    model: GaussianMixture
    columns: tuple[str, ...]
    missing: str
    scaling: str
    labels: np.ndarray | None  # argmax responsibility per row of the current data
    uncertainty: np.ndarray | None  # 1 − max responsibility
    bic: float
    aic: float
    warnings: tuple[str, ...] = ()
    scores: Any = None  # engine.anomaly.Scores of every row of the current data
    density: DensityIndex | None = None  # sorted log-densities and their histogram


def _messages(items: Any) -> tuple[str, ...]:
    if not items:
        return ()
    if isinstance(items, str):
        return (items,)
    return tuple(str(i) for i in items)


def _affine_of(scaler: Any, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``offset``, ``scale`` with ``inverse_transform(z) = offset + scale · z``, if affine."""
    if scaler is None:
        return np.zeros(d), np.ones(d)
    try:
        zero = np.asarray(scaler.inverse_transform(np.zeros((1, d))), dtype=float)[0]
        one = np.asarray(scaler.inverse_transform(np.ones((1, d))), dtype=float)[0]
        three = np.asarray(scaler.inverse_transform(np.full((1, d), 3.0)), dtype=float)[0]
    except Exception:  # a scaler without a usable inverse: plot in model units
        return np.zeros(d), np.ones(d)
    scale = one - zero
    if not np.allclose(three, zero + 3 * scale, rtol=1e-9, atol=1e-12) or np.any(scale == 0):
        return np.zeros(d), np.ones(d)
    return zero, scale


def _posterior(model: GaussianMixture, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Most likely component (uint8/int16) and 1 − max responsibility (float32) per row."""
    n = X.shape[0]
    k = model.n_components
    labels = np.empty(n, dtype=np.uint8 if k < 256 else np.int16)
    unc = np.empty(n, dtype=np.float32)
    step = 200_000
    for start in range(0, n, step):
        resp = model.predict_proba(X[start : start + step])
        labels[start : start + step] = resp.argmax(axis=1)
        unc[start : start + step] = 1.0 - resp.max(axis=1)
    return frozen_array(labels), frozen_array(unc)


def _criteria(model: GaussianMixture, X: np.ndarray) -> tuple[float, float]:
    n = X.shape[0]
    loglik = float(model.score(X)) * n
    p = model.n_parameters()
    return -2 * loglik + p * math.log(n), -2 * loglik + 2 * p


def _derive(
    model: GaussianMixture, data: _Data, warnings_: tuple[str, ...] = (), scores: Any = None
) -> _Fitted:
    """Every per-row result of ``model`` on ``data`` (in a worker): anomaly scores,
    labels, uncertainty, criteria, and the sorted log-densities for threshold dragging."""
    X = data.X
    n = X.shape[0]
    if scores is None:
        parts = [score_rows(model, X[s : s + 200_000]) for s in range(0, max(n, 1), 200_000)]
    if scores is not None:
        pass
    elif len(parts) == 1:
        scores = parts[0]
    else:
        scores = Scores(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in (
                "log_density", "component", "responsibilities", "mahalanobis",
                "tail_probability", "mahalanobis_all")),
            n_features=parts[0].n_features,
        )
    k = model.n_components
    labels = scores.component.astype(np.uint8 if k < 256 else np.int16)
    unc = (1.0 - scores.responsibilities.max(axis=1)).astype(np.float32)
    loglik = float(np.sum(scores.log_density))
    p = model.n_parameters()
    bic = -2 * loglik + p * math.log(max(n, 1))
    aic = -2 * loglik + 2 * p
    return _Fitted(
        model, data.columns, data.missing, data.scaling, frozen_array(labels),
        frozen_array(unc), bic, aic, warnings_, scores, DensityIndex.build(scores.log_density),
    )


class AppController(BigDataMixin, AnalysisMixin, QObject):
    """Application state and background work, independent of any widget."""

    datasetChanged = Signal(object)  # DatasetView | None
    featuresChanged = Signal(object)  # FeaturesView | None
    modelChanged = Signal(object)  # ModelSummary | None
    scatterChanged = Signal(object)  # ScatterView | None
    busyChanged = Signal(str, bool)  # task kind ("load", "fit", "sweep", "derive"), busy
    loadProgress = Signal(float, str)
    fitStarted = Signal(object)  # FitParams
    fitProgress = Signal(object)  # dict: fraction, stage, iteration, history...
    fitFinished = Signal(object)  # ModelSummary
    fitCancelled = Signal(str)
    sweepProgress = Signal(object)
    sweepFinished = Signal(object)  # SweepView
    errorOccurred = Signal(str, str)  # title, message (never a traceback)
    statusMessage = Signal(str)
    sessionSaved = Signal(str)
    autosaved = Signal(str)
    warmedUp = Signal()
    anomalyChanged = Signal(object)  # AnomalyView | None
    selectionChanged = Signal(object)  # SelectionView
    refitStarted = Signal(str)
    refitProgress = Signal(object)  # dict: fraction, stage
    refitFinished = Signal(object)  # RefitView (pending: accept or keep the old model)
    refitClosed = Signal(bool)  # accepted?
    exportFinished = Signal(str)  # path written
    bigDataChanged = Signal(bool)  # big-data (Dask, out-of-core) mode on/off

    def __init__(self, parent: QObject | None = None, *, autosave: bool = True) -> None:
        super().__init__(parent)
        self.runner = TaskRunner(self)
        self._data: _Data | None = None
        self._fitted: _Fitted | None = None
        self._selection: Any = None
        self._view = ViewSettings()
        self._fit_params = FitParams()
        self._generation = 0
        self._tasks: dict[str, TaskState] = {}
        self._session_path: str | None = None
        self._dirty = False
        self._scatter: ScatterView | None = None
        self.guard: CrashGuard | None = None
        self._autosave_enabled = autosave
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self._autosave_timer.timeout.connect(self._on_autosave_timer)
        self._init_analysis()
        self._init_big()

    # ------------------------------------------------------------------ plugin choices

    @staticmethod
    def covariance_types() -> list[str]:
        """Registered covariance types (a new plugin shows up with no GUI change)."""
        return get_registry().names("covariance")

    @staticmethod
    def initializers() -> list[str]:
        return get_registry().names("initializer")

    @staticmethod
    def demo_datasets() -> dict[str, Path]:
        from gmm_desktop.data import demo_datasets

        return dict(demo_datasets())

    def warm_up(self) -> bool:
        """Import the plugins and compile the engine's kernels in the background.

        The first fit otherwise pays for them: importing scikit-learn's k-means and loading
        numba's compiled kernels hold the GIL for seconds on a loaded machine, which stalls
        the event loop. Call once at start-up; ``warmedUp`` is emitted when done.
        """

        def work(state: TaskState) -> None:
            registry = get_registry()
            registry.load_all()
            rng = np.random.default_rng(0)
            X = rng.normal(size=(64, 2))
            for cov in ("full", "diag"):
                if cov in registry.names("covariance"):
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            GaussianMixture(2, covariance_type=cov, max_iter=2,
                                            random_state=0).fit(X)
                    except Exception as exc:  # a warm-up never bothers the user
                        log.warning("warm-up fit (%s) failed: %s", cov, exc)

        return self._start("warmup", work, lambda _r: self.warmedUp.emit())

    # ------------------------------------------------------------------ state accessors

    @property
    def has_data(self) -> bool:
        return self._data is not None

    @property
    def has_model(self) -> bool:
        return self._fitted is not None

    @property
    def fit_params(self) -> FitParams:
        return self._fit_params

    @property
    def view_settings(self) -> ViewSettings:
        return self._view

    @property
    def feature_columns(self) -> tuple[str, ...]:
        return self._data.columns if self._data else ()

    @property
    def scatter(self) -> ScatterView | None:
        return self._scatter

    @property
    def session_path(self) -> str | None:
        return self._session_path

    def is_busy(self, kind: str | None = None) -> bool:
        if kind is None:
            return bool(self._tasks)
        return kind in self._tasks

    def model_document(self) -> dict[str, Any] | None:
        """The current model as its JSON document (with the feature choice in ``extra``)."""
        if self._fitted is None:
            return None
        return model_to_dict(self._fitted.model, self._model_extra())

    # ------------------------------------------------------------------ task plumbing

    def _start(self, kind: str, fn, on_success, *, on_progress=None, on_cancel=None) -> bool:
        if kind in self._tasks:
            self.statusMessage.emit(f"A {kind} is already running; cancel it first.")
            return False
        holder: dict[str, TaskState] = {}

        def live() -> bool:  # still the current task of its kind (not cancelled)
            st = holder.get("state")
            return st is not None and not st.cancelled and self._tasks.get(kind) is st

        def failed(failure: TaskFailure) -> None:
            if not live():
                return
            title = {"load": "Cannot open", "fit": "Fit failed", "sweep": "Model selection failed",
                     "refit": "Refit failed", "export": "Export failed",
                     "threshold": "Threshold failed", "derive": "Scoring failed"}
            self.errorOccurred.emit(title.get(kind, "Error"), failure.message)

        def succeeded(result: Any) -> None:
            if live():
                on_success(result)

        def cancelled(message: str) -> None:
            st = holder.get("state")
            if st is not None and getattr(st, "cancel_reported", False):
                return  # the controller already returned to idle when it was cancelled
            if on_cancel is not None:
                on_cancel(message)
            self.statusMessage.emit(message)

        def progress(payload: Any) -> None:
            if on_progress is not None and live():
                on_progress(payload)

        def done() -> None:
            if self._tasks.get(kind) is holder.get("state"):
                self._tasks.pop(kind, None)
                self.busyChanged.emit(kind, False)

        state = self.runner.start(
            kind,
            fn,
            on_success=succeeded,
            on_failure=failed,
            on_cancel=cancelled,
            on_progress=progress,
            on_done=done,
        )
        state.on_cancel = on_cancel  # type: ignore[attr-defined]
        holder["state"] = state
        self._tasks[kind] = state
        self.busyChanged.emit(kind, True)
        return True

    @Slot()
    def cancel(self, kind: str | None = None) -> None:
        """Stop running work (all of it, or one kind) at once, as far as the user sees.

        The worker is asked to stop (it polls the flag within an EM iteration); the
        controller returns to idle immediately, keeps the previous model and discards
        whatever the worker returns later.
        """
        for name, state in list(self._tasks.items()):
            if kind is None or name == kind:
                state.cancel()
                state.cancel_reported = True  # type: ignore[attr-defined]
                self._tasks.pop(name, None)
                message = f"{name} cancelled"
                on_cancel = getattr(state, "on_cancel", None)
                if on_cancel is not None:
                    on_cancel(message)
                self.statusMessage.emit(message)
                self.busyChanged.emit(name, False)

    def wait(self, msecs: int = -1) -> bool:
        return self.runner.wait(msecs)

    # ------------------------------------------------------------------ data

    def open_file(
        self,
        path: str | os.PathLike[str],
        *,
        columns: list[str] | None = None,
        missing: str = "drop",
        scaling: str = "none",
        then: Any = None,
        demo: str | None = None,
        id_column: str | None = None,
    ) -> bool:
        """Load ``path`` and prepare its features in the background.

        ``columns=None`` selects every numeric column. ``then`` (a callable, GUI thread)
        runs after the data is in place (used to restore sessions). ``id_column`` names
        the column that identifies the rows (it is never a feature).
        """
        from gmm_desktop.data import load_table

        path = Path(path)
        generation = self._generation + 1

        def work(state: TaskState) -> _Data:
            def progress(fraction: float, message: str) -> bool:
                state.report((fraction, message))
                return state.cancelled

            dataset = load_table(path, id_column=id_column, progress=progress)
            return self._prepare(dataset, columns, missing, scaling, generation, demo)

        def success(data: _Data) -> None:
            self._leave_big()
            self._set_data(data, new_dataset=True)
            self.statusMessage.emit(f"Opened {data.dataset.name}: {data.dataset.n_rows:,} rows")
            if then is not None:
                then()

        return self._start(
            "load", work, success, on_progress=lambda p: self.loadProgress.emit(p[0], p[1])
        )

    def open_demo(self, name: str) -> bool:
        demos = self.demo_datasets()
        if name not in demos:
            self.errorOccurred.emit(
                "Cannot open", f"There is no demo dataset named {name!r}; choose one of "
                + ", ".join(sorted(demos)) + "."
            )
            return False
        from gmm_desktop.data import demo_options

        options = demo_options(name)  # the ID column and the intended features
        columns = options.get("columns")
        return self.open_file(
            demos[name],
            demo=name,
            id_column=options.get("id_column"),  # type: ignore[arg-type]
            columns=list(columns) if columns else None,  # type: ignore[arg-type]
        )

    def set_features(self, columns: list[str], missing: str, scaling: str) -> bool:
        """Prepare the feature matrix again with another column choice or preprocessing."""
        if self._data is None:
            return False
        if self._big is not None:
            return self._set_features_big(list(columns), scaling)
        dataset = self._data.dataset
        demo = self._data.demo
        generation = self._generation + 1

        def work(state: TaskState) -> _Data:
            return self._prepare(dataset, list(columns), missing, scaling, generation, demo)

        return self._start("load", work, lambda d: self._set_data(d, new_dataset=False))

    @staticmethod
    def _prepare(dataset, columns, missing, scaling, generation, demo) -> _Data:
        from gmm_desktop.data import prepare_features

        prepared = prepare_features(dataset, columns=columns, missing=missing, scaling=scaling)
        X = frozen_array(np.ascontiguousarray(prepared.X, dtype=float))
        cols = tuple(str(c) for c in prepared.columns)
        offset, scale = _affine_of(getattr(prepared, "scaler", None), X.shape[1])
        return _Data(
            dataset=dataset,
            prepared=prepared,
            X=X,
            columns=cols,
            missing=missing,
            scaling=scaling,
            offset=offset,
            scale=scale,
            pca=geometry.fit_pca(X),
            generation=generation,
            demo=demo,
        )

    def _set_data(self, data: _Data, *, new_dataset: bool) -> None:
        self._generation = max(self._generation, data.generation)
        self._data = data
        if new_dataset:
            self._selection = None
            self._on_new_dataset()
            self.datasetChanged.emit(self._dataset_view(data))
        cols = data.columns
        v = self._view
        x = v.x_column if v.x_column in cols else (cols[0] if cols else None)
        y = v.y_column if v.y_column in cols else (cols[1] if len(cols) > 1 else x)
        if x == y and len(cols) > 1:
            y = cols[1] if x == cols[0] else cols[0]
        self._view = replace(v, x_column=x, y_column=y)
        self.featuresChanged.emit(self._features_view(data))
        if self._fitted is not None:
            self._rederive_current()
        self._dirty = True
        self._rebuild_scatter()

    def _dataset_view(self, data: _Data) -> DatasetView:
        ds = data.dataset
        frame = ds.frame
        head = frame.head(PREVIEW_ROWS)
        rows = tuple(
            tuple("" if _isna(v) else (f"{v:.6g}" if isinstance(v, float) else str(v)) for v in r)
            for r in head.itertuples(index=False, name=None)
        )
        return DatasetView(
            name=str(ds.name),
            path=str(ds.path),
            n_rows=int(ds.n_rows) if self._big is not None else len(frame),
            n_columns=int(frame.shape[1]),
            columns=tuple(str(c) for c in frame.columns),
            numeric_columns=tuple(str(c) for c in ds.numeric_columns),
            preview_header=tuple(str(c) for c in frame.columns),
            preview_rows=rows,
            messages=_messages(getattr(ds, "warnings", ())),
        )

    def _features_view(self, data: _Data) -> FeaturesView:
        prepared = data.prepared
        messages = list(_messages(getattr(prepared, "warnings", ())))
        report = getattr(prepared, "report", None)
        if report is not None:
            summary = getattr(report, "summary", None)
            text = summary() if callable(summary) else (summary or str(report))
            if text and text not in messages:
                messages.insert(0, str(text))
        return FeaturesView(
            columns=data.columns,
            missing=data.missing,
            scaling=data.scaling,
            n_rows=self._big.n_rows if self._big is not None else int(data.X.shape[0]),
            n_rows_total=int(data.dataset.n_rows),
            messages=tuple(messages),
        )

    # ------------------------------------------------------------------ fitting

    def fit(self, params: FitParams | None = None) -> bool:
        """Fit a new model in the background; the current one stays until it succeeds."""
        if params is not None:
            self._fit_params = params
        params = self._fit_params
        data = self._data
        if data is None:
            self.errorOccurred.emit("Cannot fit", "Open a dataset first (File ▸ Open).")
            return False
        if self._big is not None:
            return self._fit_big(params)
        if data.X.shape[0] < max(2, params.n_components):
            self.errorOccurred.emit(
                "Cannot fit",
                f"{data.X.shape[0]} usable rows are too few for {params.n_components} "
                "components. Choose fewer components or a missing-value policy that keeps "
                "more rows.",
            )
            return False

        keep = self.fit_keep_mask()
        if keep is not None and int(keep.sum()) < max(2, params.n_components):
            self.errorOccurred.emit(
                "Cannot fit",
                f"Only {int(keep.sum())} rows are left after the rows marked outlier or "
                "excluded; clear some labels (Edit ▸ Undo, or the selection panel).",
            )
            return False

        def work(state: TaskState) -> _Fitted:
            model = GaussianMixture(**params.to_dict())
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model.fit(data.X if keep is None else data.X[keep],
                          callback=state.fit_callback)
            if state.cancelled:
                raise GmmDesktopError("fit cancelled")  # pragma: no cover - engine raises
            notes = tuple(dict.fromkeys(str(w.message) for w in caught))
            return _derive(model, data, notes)

        fit_ex_ids = np.union1d(self.label_ids("outlier"), self.label_ids("excluded"))

        def success(fitted: _Fitted) -> None:
            if self._data is None or self._data.generation != data.generation:
                self.statusMessage.emit(
                    "The features changed during the fit; its result was not used."
                )
                return
            self._next_fit_excluded = fit_ex_ids
            self._adopt(fitted)
            for note in fitted.warnings:
                self.statusMessage.emit(note)
            self.fitFinished.emit(self._summary())
            self.autosave()

        started = self._start(
            "fit",
            work,
            success,
            on_progress=self.fitProgress.emit,
            on_cancel=self.fitCancelled.emit,
        )
        if started:
            self.fitStarted.emit(params)
        return started

    def _adopt(self, fitted: _Fitted) -> None:
        self._fitted = fitted
        self._fit_params = FitParams(
            n_components=int(fitted.model.n_components),
            covariance_type=str(fitted.model.covariance_type),
            init_params=str(fitted.model.init_params),
            n_init=int(fitted.model.n_init),
            max_iter=int(fitted.model.max_iter),
            tol=float(fitted.model.tol),
            reg_covar=float(fitted.model.reg_covar),
            random_state=fitted.model.random_state
            if isinstance(fitted.model.random_state, int)
            else None,
        )
        self._dirty = True
        self._on_model_adopted()
        self.modelChanged.emit(self._summary())
        self._rebuild_scatter()

    def _model_matches_data(self) -> bool:
        f, d = self._fitted, self._data
        if f is None or d is None:
            return False
        return (f.columns, f.missing, f.scaling) == (d.columns, d.missing, d.scaling) and (
            f.labels is not None and f.labels.shape[0] == d.X.shape[0]
        )

    def _rederive_current(self) -> None:
        """Recompute per-point results of the current model after the features changed."""
        f, d = self._fitted, self._data
        if f is None or d is None:
            return
        same = (f.columns, f.missing, f.scaling) == (d.columns, d.missing, d.scaling)
        if not same:
            self._fitted = replace(f, labels=None, uncertainty=None)
            self.statusMessage.emit(
                "The model was fitted on other features ("
                + ", ".join(f.columns)
                + "); it is kept, but fit again to see it on this choice."
            )
            self.modelChanged.emit(self._summary())
            return
        self._derive_async(f.model, d)

    def _derive_async(self, model: GaussianMixture, data: _Data) -> None:
        if self._big is not None:
            self._derive_big_async(model, data)
            return

        def work(state: TaskState) -> _Fitted:
            return _derive(model, data)

        def success(fitted: _Fitted) -> None:
            if self._data is not None and self._data.generation == data.generation:
                self._adopt(fitted)
                self.autosave()

        self._start("derive", work, success)

    # ------------------------------------------------------------------ model selection

    def run_sweep(
        self,
        n_components: list[int],
        covariance_types: list[str],
        criterion: str = "bic",
        params: FitParams | None = None,
    ) -> bool:
        """Fit every (K, covariance type) cell in the background (BIC/AIC curves)."""
        data = self._data
        if data is None:
            self.errorOccurred.emit("Cannot run model selection", "Open a dataset first.")
            return False
        p = params or self._fit_params

        def work(state: TaskState) -> Any:
            return select_models(
                data.X,
                n_components=list(n_components),
                covariance_types=list(covariance_types),
                criterion=criterion,
                callback=state.fit_callback,
                keep_models=True,
                n_init=p.n_init,
                init_params=p.init_params,
                max_iter=p.max_iter,
                tol=p.tol,
                reg_covar=p.reg_covar,
                random_state=p.random_state,
            )

        def success(result: Any) -> None:
            if self._data is None or self._data.generation != data.generation:
                self.statusMessage.emit("The features changed; the model selection was dropped.")
                return
            self._selection = (result, data.generation)
            self.sweepFinished.emit(self._sweep_view(result))

        return self._start("sweep", work, success, on_progress=self.sweepProgress.emit)

    @staticmethod
    def _sweep_view(result: Any) -> SweepView:
        curves = []
        types = list(dict.fromkeys(c.covariance_type for c in result.cells))
        for t in types:
            cells = sorted((c for c in result.cells if c.covariance_type == t),
                           key=lambda c: c.n_components)
            ks = tuple(c.n_components for c in cells)
            mclust = result.criterion == "bic_mclust"
            vals = tuple(
                math.nan if c.error else float(c.bic_mclust if mclust else result.score_of(c))
                for c in cells
            )
            curves.append((t, ks, vals))
        return SweepView(
            criterion=result.criterion,
            curves=tuple(curves),
            best=(result.best.n_components, result.best.covariance_type),
            table_text=result.to_text(mclust_sign=result.criterion == "bic_mclust"),
        )

    def adopt_sweep_model(self, n_components: int, covariance_type: str) -> bool:
        """Make the sweep's fitted model for this cell the current model."""
        if self._selection is None or self._data is None:
            return False
        result, generation = self._selection
        if generation != self._data.generation:
            self.statusMessage.emit("The features changed since the model selection; run it again.")
            return False
        for cell in result.cells:
            if (cell.n_components, cell.covariance_type) == (n_components, covariance_type):
                if cell.model is None:
                    self.errorOccurred.emit(
                        "Cannot use this model", cell.error or "This cell has no model."
                    )
                    return False
                self._derive_async(cell.model, self._data)
                self.statusMessage.emit(f"Using {covariance_type}, K={n_components}")
                return True
        return False

    # ------------------------------------------------------------------ view

    def set_view(self, **changes: Any) -> None:
        """Change axes, colouring or ellipse levels (``ViewSettings`` field names)."""
        settings = replace(self._view, **changes)
        if settings.ellipse_mode == "mass":
            geometry.radius_for_mass(settings.mass)  # raises ValueError for a bad mass
        self._view = settings
        self._dirty = True
        self._rebuild_scatter()

    def _rebuild_scatter(self) -> None:
        self._scatter = self._build_scatter()
        self.scatterChanged.emit(self._scatter)
        self._on_scatter_rebuilt()

    def _build_scatter(self) -> ScatterView | None:
        data = self._data
        if data is None or data.X.shape[1] == 0:
            return None
        v = self._view
        cols = data.columns
        show_model = self._model_matches_data()
        fitted = self._fitted if show_model else None
        if v.axes == "pca" and len(cols) >= 2:
            proj = data.pca.project(data.X)
            x, y = proj[:, 0], proj[:, 1]
            r = data.pca.explained_ratio
            x_label = f"PC1 ({100 * r[0]:.1f}% of variance)"
            y_label = f"PC2 ({100 * r[1]:.1f}% of variance)"
        else:
            i = cols.index(v.x_column) if v.x_column in cols else 0
            j = cols.index(v.y_column) if v.y_column in cols else min(1, len(cols) - 1)
            x = data.offset[i] + data.scale[i] * data.X[:, i]
            y = data.offset[j] + data.scale[j] * data.X[:, j]
            x_label, y_label = cols[i], cols[j]
        ex = ey = np.empty(0)
        n_ell = 0
        legend: tuple[LegendEntry, ...] = ()
        means2 = np.empty((0, 2))
        mean_labels: tuple[str, ...] = ()
        colour_kind, colour_index, n_colours = "none", None, 0
        ellipse_labels: tuple[str, ...] = ()
        if fitted is not None:
            model = fitted.model
            k = model.n_components
            if v.axes == "pca" and len(cols) >= 2:
                means2 = data.pca.project(model.means_)
                covs2 = data.pca.project_covariances(model.full_covariances())
            else:
                means = model.means_[:, [i, j]]
                s = data.scale[[i, j]]
                means2 = data.offset[[i, j]] + s * means
                covs2 = model.marginal_covariances(i, j) * np.outer(s, s)
            if v.ellipse_mode == "mass":
                radii = [geometry.radius_for_mass(v.mass)]
                ellipse_labels = (f"{100 * v.mass:g}% mass",)
            else:
                radii = list(v.sigma_levels)
                ellipse_labels = tuple(f"{r:g} sd" for r in radii)
            ex, ey = geometry.ellipse_outlines(means2, covs2, radii)
            n_ell = k * len(radii)
            mean_labels = tuple(str(c + 1) for c in range(k))
            if v.colour_by == "uncertainty":
                top = max(1.0 - 1.0 / k, 1e-9)
                bins = np.minimum(
                    (fitted.uncertainty / top * UNCERTAINTY_BINS).astype(np.int32),
                    UNCERTAINTY_BINS - 1,
                )
                colour_kind, colour_index, n_colours = (
                    "uncertainty", bins.astype(np.uint8), UNCERTAINTY_BINS
                )
                edges = np.linspace(0, top, UNCERTAINTY_BINS + 1)
                shown = (0, UNCERTAINTY_BINS // 2, UNCERTAINTY_BINS - 1)  # keep it compact
                legend = tuple(
                    LegendEntry(f"uncertainty {edges[b]:.2f}–{edges[b + 1]:.2f}", b)
                    for b in shown
                )
            else:
                colour_kind, colour_index, n_colours = "component", fitted.labels, k
                legend = tuple(
                    LegendEntry(f"component {c + 1} (weight {model.weights_[c]:.3f})", c)
                    for c in range(k)
                )
        return ScatterView(
            x=frozen_array(x, float),
            y=frozen_array(y, float),
            x_label=x_label,
            y_label=y_label,
            colour_kind=colour_kind,
            colour_index=None if colour_index is None else frozen_array(colour_index),
            n_colours=n_colours,
            legend=legend,
            ellipse_x=frozen_array(ex),
            ellipse_y=frozen_array(ey),
            n_ellipses=n_ell,
            ellipse_labels=ellipse_labels,
            means=frozen_array(means2),
            mean_labels=mean_labels,
            settings=v,
            note="" if self._big is None else
            f"uniform sample: {data.X.shape[0]:,} of {self._big.n_rows:,} rows",
        )

    def point_info(self, index: int) -> PointInfo | None:
        """Row identity, values, component and responsibilities of plotted point ``index``."""
        data = self._data
        if data is None or not 0 <= index < data.X.shape[0]:
            return None
        row = data.X[index]
        values = tuple(
            (c, float(data.offset[n] + data.scale[n] * row[n])) for n, c in enumerate(data.columns)
        )
        row_ids = getattr(data.prepared, "row_ids", None)
        row_id = str(row_ids[index]) if row_ids is not None else str(index)
        component, resp = None, ()
        if self._model_matches_data():
            r = self._fitted.model.predict_proba(row[None, :])[0]
            component, resp = int(r.argmax()), tuple(float(v) for v in r)
        return PointInfo(index, row_id, values, component, resp)

    # ------------------------------------------------------------------ summaries

    def _summary(self) -> ModelSummary | None:
        f = self._fitted
        if f is None:
            return None
        m = f.model
        means, covs = m.means_, m.full_covariances()
        units = "data units" if f.scaling == "none" else f"scaled ({f.scaling})"
        d = self._data
        scaler = getattr(d.prepared, "scaler", None) if d is not None else None
        if scaler is not None and f.scaling != "none" and (
            tuple(d.columns) == tuple(f.columns) and d.scaling == f.scaling
        ):
            # The model lives in scaled units; the analyst reads the data's own units.
            means = scaler.inverse_transform(means)
            covs = scaler.covariance_to_original(covs, "full")
            units = "data units"
        comps = tuple(
            ComponentRow(
                index=c,
                weight=float(m.weights_[c]),
                mean=tuple(float(v) for v in means[c]),
                covariance=tuple(tuple(float(v) for v in row) for row in covs[c]),
            )
            for c in range(m.n_components)
        )
        return ModelSummary(
            n_components=int(m.n_components),
            covariance_type=str(m.covariance_type),
            init_params=str(m.init_params),
            converged=bool(m.converged_),
            n_iter=int(m.n_iter_),
            lower_bound=float(m.lower_bound_),
            lower_bounds=tuple(float(v) for v in getattr(m, "lower_bounds_", ())),
            bic=float(f.bic),
            aic=float(f.aic),
            n_parameters=int(m.n_parameters()),
            features=f.columns,
            components=comps,
            units=units,
        )

    def model_summary(self) -> ModelSummary | None:
        return self._summary()

    # ------------------------------------------------------------------ models on disk

    def _model_extra(self) -> dict[str, Any]:
        f = self._fitted
        assert f is not None
        extra: dict[str, Any] = {
            "features": {"columns": list(f.columns), "missing": f.missing, "scaling": f.scaling}
        }
        d = self._data
        if d is not None:
            extra["source"] = str(d.dataset.path)
            scaler = getattr(d.prepared, "scaler", None)
            if scaler is not None and hasattr(scaler, "to_dict") and d.columns == f.columns:
                try:
                    extra["scaler"] = scaler.to_dict()
                except Exception:  # pragma: no cover - a scaler that cannot serialise
                    pass
        return extra

    def save_model(self, path: str | os.PathLike[str]) -> bool:
        if self._fitted is None:
            self.errorOccurred.emit("Cannot save the model", "There is no model yet: fit one.")
            return False
        try:
            save_model(self._fitted.model, path, extra=self._model_extra())
        except (OSError, GmmDesktopError, ValueError) as exc:
            self.errorOccurred.emit("Cannot save the model", f"{path}: {exc}")
            return False
        self.statusMessage.emit(f"Model saved to {path}")
        return True

    def load_model(self, path: str | os.PathLike[str]) -> bool:
        """Read a saved model; it becomes current if it fits the current features."""
        try:
            model, extra = load_model(path, with_extra=True)
        except (ModelFileError, GmmDesktopError, ValueError) as exc:
            self.errorOccurred.emit("Cannot open the model", str(exc))
            return False
        return self._install_model(model, extra, str(path))

    def _install_model(self, model: GaussianMixture, extra: dict[str, Any], source: str) -> bool:
        feats = extra.get("features") if isinstance(extra, dict) else None
        columns = tuple(feats.get("columns", ())) if isinstance(feats, dict) else ()
        missing = feats.get("missing", "drop") if isinstance(feats, dict) else "drop"
        scaling = feats.get("scaling", "none") if isinstance(feats, dict) else "none"
        d = self._data
        if d is not None and model.n_features_in_ != d.X.shape[1]:
            self.errorOccurred.emit(
                "Cannot use the model",
                f"{source}: the model has {model.n_features_in_} features but "
                f"{d.X.shape[1]} feature columns are selected ({', '.join(d.columns)}). "
                "Select the model's columns"
                + (f" ({', '.join(columns)})" if columns else "")
                + " first.",
            )
            return False
        if d is None:
            self._fitted = _Fitted(model, columns, missing, scaling, None, None, math.nan,
                                   math.nan)
            self.modelChanged.emit(self._summary())
            return True
        if columns and columns != d.columns:
            self.statusMessage.emit(
                f"The model was fitted on columns {', '.join(columns)}; shown on "
                f"{', '.join(d.columns)}."
            )
        self._derive_async(model, d)
        return True

    # ------------------------------------------------------------------ sessions

    def session_document(self) -> dict[str, Any]:
        doc = new_document()
        d = self._data
        doc["dataset"] = None if d is None else {
            "path": str(Path(d.dataset.path).resolve()),
            "demo": d.demo,
        }
        if d is not None and self._big is not None:  # reopened lazily, in big-data mode
            doc["dataset"]["big_data"] = {"id_column": self._big.table.id_column,
                                          "sample_size": self._big.n_sample}
        doc["features"] = None if d is None else {
            "columns": list(d.columns),
            "missing": d.missing,
            "scaling": d.scaling,
        }
        doc["fit_params"] = self._fit_params.to_dict()
        doc["model"] = self.model_document()
        doc["view"] = self._view.to_dict()
        doc["analysis"] = self.analysis_document()
        return doc

    def save_session(self, path: str | os.PathLike[str]) -> bool:
        try:
            write_session(path, self.session_document())
        except (OSError, ValueError) as exc:
            self.errorOccurred.emit("Cannot save the session", f"{path}: {exc}")
            return False
        self._session_path = str(path)
        self._dirty = False
        self.sessionSaved.emit(str(path))
        self.statusMessage.emit(f"Session saved to {path}")
        return True

    def open_session(self, path: str | os.PathLike[str]) -> bool:
        try:
            doc = read_session(path)
        except SessionFileError as exc:
            self.errorOccurred.emit("Cannot open the session", str(exc))
            return False
        return self.restore_document(doc, source=str(path))

    def restore_document(self, doc: dict[str, Any], source: str = "session") -> bool:
        """Apply a session document: data (in the background), model, view settings."""
        try:
            params = FitParams.from_dict(doc.get("fit_params") or {})
            view = ViewSettings.from_dict(doc.get("view") or {})
            model_doc = doc.get("model")
            model = model_from_dict(model_doc, source) if model_doc else None
            extra = (model_doc or {}).get("extra") or {}
        except (TypeError, ValueError, GmmDesktopError) as exc:
            self.errorOccurred.emit("Cannot open the session", f"{source}: {exc}")
            return False
        dataset = doc.get("dataset")
        feats = doc.get("features") or {}

        def after_data() -> None:
            self.restore_analysis(doc.get("analysis"))
            if model is not None:
                self._install_model(model, extra, source)
            self.statusMessage.emit(f"Session restored from {source}")

        self._fit_params = params
        self._view = view
        if source.endswith(".json") and "autosave" not in Path(source).name:
            self._session_path = source
        if not dataset:
            if model is not None:
                self._install_model(model, extra, source)
            return True
        big = dataset.get("big_data")
        if isinstance(big, dict):
            return self.open_big(
                str(dataset.get("path", "")),
                columns=list(feats.get("columns") or []) or None,
                scaling=feats.get("scaling", "standardize"),
                id_column=big.get("id_column"),
                sample_size=int(big.get("sample_size") or 200_000),
                then=after_data,
            )
        path = Path(dataset.get("path", ""))
        demo = dataset.get("demo")
        if not path.exists() and demo:
            try:
                path = self.demo_datasets()[demo]
            except KeyError:
                pass
        if not path.exists():
            self.errorOccurred.emit(
                "Cannot open the session",
                f"{source}: its data file {path} does not exist any more. Move it back or "
                "open the data file and load the model instead.",
            )
            if model is not None:  # keep the model anyway: it is never lost
                self._fitted = _Fitted(model, tuple(extra.get("features", {}).get("columns", ())),
                                       "drop", "none", None, None, math.nan, math.nan)
                self.modelChanged.emit(self._summary())
            return False
        return self.open_file(
            path,
            columns=list(feats.get("columns") or []) or None,
            missing=feats.get("missing", "drop"),
            scaling=feats.get("scaling", "none"),
            then=after_data,
            demo=demo,
            id_column=self._demo_id_column(demo),
        )

    @staticmethod
    def _demo_id_column(demo: str | None) -> str | None:
        if not demo:
            return None
        from gmm_desktop.data import demo_options

        try:
            return demo_options(demo).get("id_column")  # type: ignore[return-value]
        except GmmDesktopError:
            return None

    # ------------------------------------------------------------------ autosave

    def start_crash_guard(self, directory: Path | None = None) -> Path | None:
        """Arm the crash marker; return the autosave of a previous unclean exit, if any."""
        self.guard = CrashGuard(directory)
        found = self.guard.crashed_session()
        self.guard.arm()
        if self._autosave_enabled:
            self._autosave_timer.start()
        return found

    def restore_autosave(self, path: Path) -> bool:
        try:
            doc = read_session(path)
        except SessionFileError as exc:
            self.errorOccurred.emit("Cannot restore the session", str(exc))
            return False
        return self.restore_document(doc, source=str(path))

    def autosave(self) -> Path | None:
        """Write the session to the autosave file (after each fit and on a timer)."""
        if self.guard is None or not self._autosave_enabled or self._data is None:
            return None
        try:
            write_session(self.guard.autosave, self.session_document())
        except (OSError, ValueError) as exc:
            log.warning("autosave failed: %s", exc)
            self.statusMessage.emit(f"Autosave failed: {exc}")
            return None
        self.autosaved.emit(str(self.guard.autosave))
        return self.guard.autosave

    @Slot()
    def _on_autosave_timer(self) -> None:
        if self._dirty:
            self.autosave()

    def shutdown(self) -> None:
        """A clean exit: stop work, remove the crash marker and the autosave."""
        self._autosave_timer.stop()
        self.cancel()
        self.runner.wait(5000)
        self.disconnect_dask()
        if self.guard is not None:
            self.guard.disarm()


def _isna(value: Any) -> bool:
    try:
        return bool(value != value) or value is None
    except Exception:
        return False
