"""The application controller: a thin Qt adapter over the application core.

:class:`AppController` owns one :class:`~gmm_desktop.core.Detector` (the run) and a
:class:`~gmm_desktop.controller.tasks.TaskRunner`. Long steps run as the core's jobs in a
worker thread (compute on an immutable snapshot) and the run adopts their results in the
GUI thread; a result computed on features that changed meanwhile is dropped. The GUI reads
ready-to-draw views (:mod:`.plotting`, :mod:`.views`) from typed signals.

It is composed of small parts, each a QObject with its own signals:

* :attr:`anomaly` (:class:`~.anomaly.AnomalyController`): threshold, flags, refit, exports;
* :attr:`selection` (:class:`~.selection.SelectionController`): selection, labels, undo;
* :attr:`bigdata` (:class:`~.bigdata.BigDataController`): the Dask scheduler, big tables;
* :attr:`sessions` (:class:`~.sessions.SessionController`): save/open, autosave, crash guard;
* :attr:`mixture` (:class:`~.mixture.MixtureController`): the scatter matrix, marginals,
  χ² Q–Q plot, uncertainty view and row inspection.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from gmm_desktop.controller import messages as msg
from gmm_desktop.controller import plotting
from gmm_desktop.controller.anomaly import AnomalyController
from gmm_desktop.controller.bigdata import BigDataController
from gmm_desktop.controller.importing import ReadingMemory, RememberedReading
from gmm_desktop.controller.mixture import MixtureController
from gmm_desktop.controller.selection import SelectionController
from gmm_desktop.controller.sessions import SessionController
from gmm_desktop.controller.tasks import TaskFailure, TaskRunner, TaskState
from gmm_desktop.controller.views import (
    DatasetView,
    ModelSummary,
    PointInfo,
    ScatterView,
    ViewSettings,
)
from gmm_desktop.core import (
    DEFAULT_COVARIANCE_TYPES,
    DEFAULT_SWEEP_TYPES,
    ConfigError,
    Detector,
    Job,
    ModelMismatchError,
    Opened,
    Prepared,
    RunConfig,
    Scored,
    read_model_file,
)
from gmm_desktop.data import ReadOptions
from gmm_desktop.errors import GmmDesktopError
from gmm_desktop.registry import get_registry

log = logging.getLogger("gmm_desktop.controller")


class AppController(QObject):
    """Application state (the core's run) and background work, independent of any widget."""

    datasetChanged = Signal(object)  # DatasetView | None
    featuresChanged = Signal(object)  # FeaturesView | None
    modelChanged = Signal(object)  # ModelSummary | None
    scatterChanged = Signal(object)  # ScatterView | None
    busyChanged = Signal(str, bool)  # task kind, busy
    loadProgress = Signal(object)  # ProgressView
    fitStarted = Signal(object)  # RunConfig
    fitProgress = Signal(object)  # ProgressView (with the log-likelihood curve)
    fitFinished = Signal(object)  # ModelSummary
    fitCancelled = Signal(str)
    sweepProgress = Signal(object)  # ProgressView
    sweepFinished = Signal(object)  # SweepView
    errorOccurred = Signal(str, str)  # title, message (never a traceback)
    statusMessage = Signal(str)
    warmedUp = Signal()

    def __init__(self, parent: QObject | None = None, *, autosave: bool = True) -> None:
        super().__init__(parent)
        self.runner = TaskRunner(self)
        self.run = Detector()
        self._view = ViewSettings()
        self._geometry: plotting.PlotGeometry | None = None
        self._scatter: ScatterView | None = None
        self._scatter_memo = plotting.ScatterMemo()  # coordinates/colours reused by refresh
        self._view_again = False  # new view settings arrived while a worker built views
        self._sweep: tuple[Any, int] | None = None
        self._sweep_criterion = "bic"
        self._fitted_bundle: Any = None  # the model whose fit warnings run.fit_warnings are
        self._tasks: dict[str, TaskState] = {}
        self.anomaly = AnomalyController(self)
        self.selection = SelectionController(self)
        self.bigdata = BigDataController(self)
        self.sessions = SessionController(self, autosave=autosave)
        self.mixture = MixtureController(self)

    # ------------------------------------------------------------------ registry choices

    @staticmethod
    def covariance_types() -> list[str]:
        """Registered covariance types (a new plugin shows up with no GUI change)."""
        return get_registry().names("covariance")

    @staticmethod
    def default_sweep_types() -> tuple[str, ...]:
        return DEFAULT_SWEEP_TYPES

    @staticmethod
    def default_covariance_types() -> tuple[str, ...]:
        """The covariance types a fit tries by default (the run configuration's)."""
        return DEFAULT_COVARIANCE_TYPES

    @staticmethod
    def initializers() -> list[str]:
        return get_registry().names("initializer")

    @staticmethod
    def demo_datasets() -> dict[str, Path]:
        from gmm_desktop.data import demo_datasets

        return dict(demo_datasets())

    def warm_up(self) -> bool:
        """Import the plugins and load the engine's kernels in the background (the first
        fit otherwise pays for them while holding the GIL). ``warmedUp`` follows."""

        def work(state: TaskState) -> None:
            from gmm_desktop.engine import GaussianMixture

            registry = get_registry()
            registry.load_all()
            X = np.random.default_rng(0).normal(size=(64, 2))
            for cov in ("full", "diag"):
                if cov in registry.names("covariance"):
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            GaussianMixture(2, covariance_type=cov, max_iter=2,
                                            random_state=0).fit(X)
                    except Exception as exc:  # a warm-up never bothers the user
                        log.warning("warm-up fit (%s) failed: %s", cov, exc)

        return self.start_task("warmup", work, lambda _r: self.warmedUp.emit())

    # ------------------------------------------------------------------ state

    @property
    def has_data(self) -> bool:
        return self.run.prepared is not None

    @property
    def has_model(self) -> bool:
        return self.run.bundle is not None

    @property
    def config(self) -> RunConfig:
        """The run's configuration (what the window shows and "Export as script" writes)."""
        return self.run.config

    @property
    def view_settings(self) -> ViewSettings:
        return self._view

    @property
    def feature_columns(self) -> tuple[str, ...]:
        p = self.run.prepared
        return p.columns if p is not None else ()

    @property
    def scatter(self) -> ScatterView | None:
        return self._scatter

    @property
    def geometry(self) -> plotting.PlotGeometry | None:
        return self._geometry

    @property
    def capabilities(self) -> Any:
        return self.run.capabilities

    def is_busy(self, kind: str | None = None) -> bool:
        if kind is None:
            return bool(self._tasks)
        return kind in self._tasks

    def shown_scored(self) -> Scored | None:
        """The current model's scores of the prepared rows, if the model applies to them."""
        run = self.run
        if run.scored is None or run.prepared is None:
            return None
        if run.scored.prepared_generation != run.prepared.generation:
            return None
        return run.scored

    # ------------------------------------------------------------------ task plumbing

    def start_task(
        self,
        kind: str,
        fn: Callable[[TaskState], Any],
        on_success: Callable[[Any], None],
        *,
        on_progress: Callable[[Any], None] | None = None,
        on_cancel: Callable[[str], None] | None = None,
    ) -> bool:
        """Run ``fn(state)`` in the pool; ``on_success(result)`` runs in the GUI thread.

        One task of each kind at a time; a cancelled task's late result is discarded.
        ``on_success`` may return a function, the rest of the adoption: it runs in the
        next turn of the event loop (after the window has painted the first part), and
        so on while it returns functions; the task is busy until the last part ran. At a
        million rows a new model's views, adopted in one turn and then painted, blocked
        the event loop for more than 100 ms.
        """
        if kind in self._tasks:
            self.statusMessage.emit(msg.ALREADY_RUNNING.format(kind=kind))
            return False
        holder: dict[str, TaskState] = {}
        adopting = [False]  # a result is being adopted in parts (see above)

        def live() -> bool:
            st = holder.get("state")
            return st is not None and not st.cancelled and self._tasks.get(kind) is st

        def failed(failure: TaskFailure) -> None:
            if live():
                self.errorOccurred.emit(msg.TASK_FAILED.get(kind, "Error"), failure.message)

        def adopt(part: Callable[[], Any], first: bool) -> None:
            try:
                rest = part()
            except (GmmDesktopError, ValueError) as exc:
                self.errorOccurred.emit(msg.TASK_FAILED.get(kind, "Error"),
                                        msg.window_message(exc))
                rest = None
            adopting[0] = callable(rest)
            if callable(rest):
                if kind not in self._tasks:  # busy until the last part has run
                    self._tasks[kind] = state
                # (a timer, not a queued call: queued calls run before the paint, and
                # before the timers of the event loop's turn, whose gap is what we split)
                QTimer.singleShot(1, self, lambda: adopt(rest, False))  # (none if self goes)
            elif first and kind not in self._tasks:
                self.busyChanged.emit(kind, False)
            elif not first and self._tasks.get(kind) is state:
                self._tasks.pop(kind, None)
                self.busyChanged.emit(kind, False)

        def succeeded(result: Any) -> None:
            if live():
                # the task is over before its result is adopted: whatever the result starts
                # (the next export, a score after a fit) is not refused as "already running"
                self._tasks.pop(kind, None)
                adopt(lambda: on_success(result), True)

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
            if self._tasks.get(kind) is holder.get("state") and not adopting[0]:
                self._tasks.pop(kind, None)
                self.busyChanged.emit(kind, False)

        state = self.runner.start(kind, fn, on_success=succeeded, on_failure=failed,
                                  on_cancel=cancelled, on_progress=progress, on_done=done)
        state.on_cancel = on_cancel  # type: ignore[attr-defined]
        holder["state"] = state
        self._tasks[kind] = state
        self.busyChanged.emit(kind, True)
        return True

    def start_job(
        self,
        job: Job[Any],
        on_success: Callable[[Any], None],
        *,
        on_progress: Callable[[Any], None] | None = None,
        on_cancel: Callable[[str], None] | None = None,
        then: Callable[[Any], Any] | None = None,
    ) -> bool:
        """Run a core job (``then`` post-processes its result in the worker too)."""

        def work(state: TaskState) -> Any:
            result = job.run(state.core_callback)
            return result if then is None else (result, then(result))

        return self.start_task(job.kind, work, on_success, on_progress=on_progress,
                               on_cancel=on_cancel)

    def _job(self, make: Callable[[], Job[Any]], title: str) -> Job[Any] | None:
        """Build a job; a refusal of the core (no data, not available...) is a message."""
        try:
            return make()
        except (GmmDesktopError, ValueError) as exc:
            self.errorOccurred.emit(title, msg.window_message(exc))
            return None

    @Slot()
    def cancel(self, kind: str | None = None) -> None:
        """Stop running work (all of it, or one kind) at once, as far as the user sees: the
        worker is asked to stop, the controller returns to idle, keeps the previous model
        and discards whatever the worker returns later."""
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
        missing: str | None = None,
        scaling: str | None = None,
        demo: str | None = None,
        id_column: str | None = None,
        then: Callable[[], Any] | None = None,
        **options: Any,
    ) -> bool:
        """Read ``path`` and prepare its features in the background (the run's settings
        for whatever is not given; ``columns=None``: every numeric column). ``read``
        (:class:`ReadOptions`, from the import dialog) says how a text file is read; it is
        recorded in the run's configuration and so in its session."""
        read = options.pop("read", None)
        try:
            same = (self.run.loaded is not None
                    and self.run.loaded.source.path == str(Path(path).resolve()))
        except (RuntimeError, OSError):  # a loop of symbolic links: the load will say so
            same = False
        if not same:
            # a different file: its own columns and reading, not the previous file's
            self.run.config = self.run.config.replace(columns=tuple(columns) if columns
                                                      else None, id_column=id_column,
                                                      sheet=options.get("sheet"))
            if read is None:
                read = ReadOptions()
        if read is not None:  # else the run's (the same file read again)
            options["read"] = ReadOptions.coerce(read)
        job = self._job(lambda: self.run.load_job(
            path, columns=columns, missing=missing, scaling=scaling, demo=demo,
            big=False, id_column=id_column, lenient=True, **options), msg.TASK_FAILED["load"])
        if job is None:
            return False

        def success(out: tuple[Opened, tuple[plotting.PlotGeometry, DatasetView,
                                              plotting.ReadyViews | None]]) -> None:
            opened, (geom, dataset, ready) = out
            self.adopt_opened(opened, geom, dataset, ready)
            self.statusMessage.emit(
                f"Opened {opened.loaded.name}: {opened.loaded.source.n_rows:,} rows")
            if then is not None:
                then()

        view = self._view
        return self.start_job(job, success, on_progress=self.loadProgress.emit,
                              then=lambda o: plotting.opened_views(o, view))

    def open_imported(self, path: str | os.PathLike[str], *, read: ReadOptions | None = None,
                      id_column: str | None = None, sheet: str | None = None) -> bool:
        """Open ``path`` as chosen in the import dialog; once it is open, remember how
        (:class:`~gmm_desktop.controller.importing.ReadingMemory`; forgotten when that is
        everything detected)."""
        options: dict[str, Any] = {} if sheet is None else {"sheet": sheet}

        def remember() -> None:
            ReadingMemory().remember(path, read, id_column, sheet)

        return self.open_file(path, read=read if read is not None else ReadOptions(),
                              id_column=id_column, then=remember, **options)

    def import_start(self, path: str | os.PathLike[str]) -> RememberedReading | None:
        """How the import dialog starts for ``path``: as the open file is read if it is the
        open file; else as remembered from the last time it was opened from the window
        (``saved`` says when); else None (everything detected)."""
        loaded = self.run.loaded
        if loaded is not None and loaded.source.path == str(Path(path).resolve()):
            sheet = self.run.config.sheet
            return RememberedReading(loaded.source.path, self.run.config.read,
                                     loaded.id_column, None if sheet is None else str(sheet))
        return ReadingMemory().recall(path)

    def reading_of(self, path: str | os.PathLike[str]) -> tuple[ReadOptions, str | None]:
        """How ``path`` was read the last time, if it is the open file (the reading options
        and the ID column, to start the import dialog from); else everything detected."""
        loaded = self.run.loaded
        if loaded is not None and loaded.source.path == str(Path(path).resolve()):
            return self.run.config.read, loaded.id_column
        return ReadOptions(), None

    def adopt_opened(self, opened: Opened, geom: plotting.PlotGeometry,
                     dataset: DatasetView | None = None,
                     ready: plotting.ReadyViews | None = None) -> None:
        """Make a table opened in a worker the run's (``dataset``, ``ready``: its dataset
        view and first scatter view, if the worker made them too)."""
        was_big = self.run.big
        if not self.run.adopt_opened(opened):
            return
        self._geometry = geom
        self._sweep = None
        self.selection.reset()
        self.anomaly.reset()
        self.datasetChanged.emit(dataset or plotting.dataset_view(
            opened.loaded, opened.prepared.source.n_rows))
        self._after_features(ready)
        if was_big != self.run.big:
            self.bigdata.mode_changed(self.run.big)

    def open_demo(self, name: str) -> bool:
        demos = self.demo_datasets()
        if name not in demos:
            self.errorOccurred.emit(
                msg.TASK_FAILED["load"], f"There is no demo dataset named {name!r}; choose one "
                "of " + ", ".join(sorted(demos)) + ".")
            return False
        from gmm_desktop.data import demo_options

        options = demo_options(name)  # the ID column and the intended features
        columns = options.get("columns")
        return self.open_file(demos[name], demo=name,
                              id_column=options.get("id_column"),  # type: ignore[arg-type]
                              columns=list(columns) if columns else None)  # type: ignore

    def set_id_column(self, id_column: str | None) -> bool:
        """Name the rows by ``id_column`` (``None``: by their position): the file is read
        again with it; the feature choice is kept (without that column)."""
        loaded = self.run.loaded
        if loaded is None or loaded.source.path is None:
            return False
        if id_column == loaded.id_column:
            return True
        cols = [c for c in self.feature_columns if c != id_column] or None
        if loaded.big:
            return self.bigdata.open(loaded.source.path, columns=cols, id_column=id_column,
                                     scaling=self.config.scaling)
        return self.open_file(loaded.source.path, columns=cols, id_column=id_column,
                              demo=loaded.source.demo, sheet=loaded.source.sheet)

    def set_features(self, columns: list[str], missing: str, scaling: str) -> bool:
        """Prepare the feature matrix again with another column choice or preprocessing."""
        if self.run.loaded is None:
            return False
        job = self._job(lambda: self.run.prepare_job(list(columns), missing, scaling),
                        msg.TASK_FAILED["prepare"])
        if job is None:
            return False

        def success(out: tuple[Prepared, plotting.PlotGeometry]) -> None:
            prepared, geom = out
            if self.run.adopt_prepared(prepared):
                self._geometry = geom
                self._sweep = None
                self._after_features()

        return self.start_job(job, success, on_progress=self.loadProgress.emit,
                              then=lambda p: plotting.PlotGeometry.of(p))

    def _after_features(self, ready: plotting.ReadyViews | None = None) -> None:
        """New prepared features: views, axes, and the model's scores if it applies
        (``ready``: the first scatter view, made by the worker that prepared them)."""
        run = self.run
        prepared = run.prepared
        assert prepared is not None
        self._view = plotting.view_for(prepared, self._view)
        self.featuresChanged.emit(plotting.features_view(prepared))
        self.sessions.mark_dirty()
        if run.bundle is not None and run.scored is None:
            if run.model_matches():
                self._score_async()
            else:
                self.statusMessage.emit(msg.MODEL_KEPT_OTHER_FEATURES.format(
                    columns=", ".join(run.bundle.columns or ())))
                self.modelChanged.emit(self.model_summary())
        self.refresh(ready)

    # ------------------------------------------------------------------ fitting

    def fit(self, config: RunConfig | None = None, **changes: Any) -> bool:
        """Fit a new model in the background with the run's configuration (or ``config``,
        or the run's with ``changes``); the current model stays until it succeeds."""
        try:
            cfg = (config or self.run.config).replace(**changes) if changes else (
                config or self.run.config)
        except ConfigError as exc:
            self.errorOccurred.emit(msg.TASK_FAILED["fit"], str(exc))
            return False
        if self.run.prepared is None:
            self.errorOccurred.emit(msg.TASK_FAILED["fit"], msg.NO_DATA)
            return False
        job = self._job(lambda: self.run.fit_job(cfg), msg.TASK_FAILED["fit"])
        if job is None:
            return False

        def success(out: tuple[Any, plotting.ReadyViews | None]) -> Any:
            result, ready = out
            if not self.run.adopt_fit(result, cfg):
                self.statusMessage.emit(msg.STALE_FEATURES)
                return
            self._fitted_bundle = self.run.bundle
            self.anomaly.model_changed()
            for note in self.run.fit_warnings:
                self.statusMessage.emit(note)
            summary = self.model_summary()
            self.modelChanged.emit(summary)

            def finish() -> None:
                self.fitFinished.emit(summary)
                self.bigdata.model_changed()
                self.sessions.autosave()

            return self._adopt_views(ready, finish)

        make_views = self._views_maker()
        started = self.start_job(job, success, on_progress=self.fitProgress.emit,
                                 on_cancel=self.fitCancelled.emit,
                                 then=lambda result: make_views(result[1]))
        if started:
            self.fitStarted.emit(cfg)
        return started

    def _score_async(self, bundle: Any = None, *, applied: bool | None = None) -> bool:
        """Score the prepared rows with ``bundle`` (default: the current model)."""
        target = bundle or self.run.bundle
        if target is None:
            return False
        job = self._job(lambda: self.run.adopt_model_job(target), msg.TASK_FAILED["score"])
        if job is None:
            return False

        def success(out: tuple[Scored, plotting.ReadyViews | None]) -> Any:
            scored, ready = out
            if bundle is None:
                ok = self.run.adopt_scored(scored)
            else:
                ok = self.run.adopt_model(scored, applied=bool(applied))
            if not ok:
                return None
            self.anomaly.model_changed()
            self.modelChanged.emit(self.model_summary())

            def finish() -> None:
                self.bigdata.model_changed()
                self.sessions.autosave()

            return self._adopt_views(ready, finish)

        return self.start_job(job, success, on_progress=self.fitProgress.emit,
                              then=self._views_maker())

    def _adopt_views(self, ready: plotting.ReadyViews | None,
                     then: Callable[[], None]) -> Callable[[], None] | None:
        """Show the current model's views (``ready``: made by a worker), then ``then()``.

        From ASYNC_VIEW_ROWS plotted rows this takes two turns of the event loop, each
        painted before the next: the flags, contour, histogram and table first (the points
        stay where they are: the axes did not change), then the scatter's colours,
        ellipses and legend; the function returned is the second part (see
        :meth:`start_task`). In one turn, adopting and painting a new model at a million
        rows blocked the event loop for 100-200 ms."""
        prepared = self.run.prepared
        if (ready is None or prepared is None or self._scatter is None
                or prepared.n_view_rows < plotting.ASYNC_VIEW_ROWS
                or not ready.fits(prepared, self._geometry, self._view, self.shown_scored())):
            self.refresh(ready)
            then()
            return None
        self.anomaly.refresh(ready.grid)

        def rest() -> None:
            if ready.fits(self.run.prepared, self._geometry, self._view, self.shown_scored()):
                self._show_scatter(ready)
                self.selection.refresh()
            else:  # (the settings changed in between: everything again)
                self.refresh()
            then()

        return rest

    def _views_maker(self, *, make_axes: bool = True
                     ) -> Callable[[Scored | None], plotting.ReadyViews | None]:
        """A function, run in a worker (after a fit or a scoring, or for new view
        settings), that makes the scatter view and density grid of a model from what the
        plot shows now (taken here, in the GUI thread; ``make_axes=False``: coordinates
        the memo does not have are made in the worker too); :meth:`refresh` adopts them
        if nothing changed meanwhile."""
        prepared, geom, view = self.run.prepared, self._geometry, self._view
        if prepared is None or geom is None or geom.generation != prepared.generation:
            return lambda scored: None
        memo = self._scatter_memo
        axes = plotting.scatter_axes(prepared, geom, view, memo, make=make_axes)
        note = plotting.scatter_note(prepared)
        shown = self.shown_scored()
        colours = (None if shown is None
                   else memo.peek("colours", (shown,), (view.colour_by,)))

        def make(scored: Scored | None) -> plotting.ReadyViews | None:
            if scored is not None and scored.prepared_generation != prepared.generation:
                return None
            return plotting.ready_views(prepared, geom, view, scored, axes, note,
                                        colours if scored is shown else None)

        return make

    # ------------------------------------------------------------------ model selection

    def run_sweep(self, n_components: list[int], covariance_types: list[str],
                  criterion: str = "bic") -> bool:
        """Fit every (K, covariance type) cell in the background (BIC/AIC curves)."""
        if self.run.prepared is None:
            self.errorOccurred.emit(msg.TASK_FAILED["sweep"], msg.NO_DATA)
            return False
        job = self._job(lambda: self.run.sweep_job(n_components, covariance_types,
                                                   "aic" if criterion == "aic" else "bic"),
                        msg.TASK_FAILED["sweep"])
        if job is None:
            return False
        generation = self.run.prepared.generation

        def success(result: Any) -> None:
            prepared = self.run.prepared
            if prepared is None or prepared.generation != generation:
                self.statusMessage.emit(msg.STALE_FEATURES)
                return
            self._sweep = (result, generation)
            self._sweep_criterion = criterion
            self.sweepFinished.emit(plotting.sweep_view(result, criterion))

        return self.start_job(job, success, on_progress=self.sweepProgress.emit)

    def set_sweep_criterion(self, criterion: str) -> bool:
        """Show the last sweep by another criterion (re-read from its table, no refit)."""
        if self._sweep is None:
            return False
        self._sweep_criterion = criterion
        self.sweepFinished.emit(plotting.sweep_view(self._sweep[0], criterion))
        return True

    def adopt_sweep_model(self, n_components: int, covariance_type: str) -> bool:
        """Make the sweep's fitted model for this cell the current model."""
        prepared = self.run.prepared
        if self._sweep is None or prepared is None:
            return False
        result, generation = self._sweep
        if generation != prepared.generation:
            self.statusMessage.emit("The features changed since the model selection; run it "
                                    "again.")
            return False
        for cell in result.cells:
            if (cell.n_components, cell.covariance_type) == (n_components, covariance_type):
                if cell.model is None:
                    self.errorOccurred.emit("Cannot use this model",
                                            cell.error or "This cell has no model.")
                    return False
                self._score_async(self.run.bundle_for_cell(cell.model), applied=False)
                self.statusMessage.emit(f"Using {covariance_type}, K={n_components}")
                return True
        return False

    # ------------------------------------------------------------------ models on disk

    def save_model(self, path: str | os.PathLike[str]) -> bool:
        try:
            self.run.save_model(path)
        except (OSError, GmmDesktopError, ValueError) as exc:
            self.errorOccurred.emit("Cannot save the model", f"{path}: {exc}")
            return False
        self.statusMessage.emit(f"Model saved to {path}")
        return True

    def load_model(self, path: str | os.PathLike[str]) -> bool:
        """Read a saved model (any version, any face) and apply it to the open data with its
        own columns, scaler and threshold; refused, with the reason, if the data lack one of
        its columns."""
        try:
            bundle = read_model_file(path)
            if self.run.loaded is not None:
                bundle.check_columns(self.run.loaded.columns, source=self.run.loaded.name)
        except (ModelMismatchError, GmmDesktopError, ValueError) as exc:
            self.errorOccurred.emit("Cannot use the model", str(exc))
            return False
        self.run.apply_model(bundle)
        self.anomaly.reset()
        if self.run.loaded is None:
            self.modelChanged.emit(self.model_summary())
            self.statusMessage.emit(f"Model loaded from {path}; open data to score it.")
            return True
        job = self._job(lambda: self.run.prepare_job(), msg.TASK_FAILED["prepare"])
        if job is None:
            return False

        def success(out: tuple[Prepared, plotting.PlotGeometry]) -> None:
            prepared, geom = out
            if self.run.adopt_prepared(prepared):
                self._geometry = geom
                self._sweep = None
                self.statusMessage.emit(f"Model loaded from {path}: applied with its own "
                                        "columns, scaling and threshold.")
                self._after_features()

        return self.start_job(job, success, on_progress=self.loadProgress.emit,
                              then=lambda p: plotting.PlotGeometry.of(p))

    # ------------------------------------------------------------------ view

    def set_view(self, **changes: Any) -> None:
        """Change axes, colouring or ellipse levels (``ViewSettings`` field names)."""
        settings = replace(self._view, **changes)
        if settings.ellipse_mode == "mass":
            from gmm_desktop.controller.geometry import radius_for_mass

            radius_for_mass(settings.mass)  # raises ValueError for a bad mass
        self._view = settings
        self.sessions.mark_dirty()
        prepared = self.run.prepared
        if prepared is not None and prepared.n_view_rows >= plotting.ASYNC_VIEW_ROWS:
            self._refresh_in_worker()
        else:
            self.refresh()

    def _refresh_in_worker(self) -> None:
        """Build the views of the current settings in a worker, then adopt them; the
        newest settings win (a change made meanwhile starts the next build when this one
        ends; nothing is built in the GUI thread)."""
        if self.is_busy("view"):
            self._view_again = True
            return
        self._view_again = False
        scored = self.shown_scored()
        make = self._views_maker(make_axes=False)

        def success(ready: plotting.ReadyViews | None) -> None:
            if ready is None:  # the data went meanwhile: nothing big to build
                self.refresh()
                return
            fits = ready.fits(self.run.prepared, self._geometry, self._view,
                              self.shown_scored())
            if fits:
                self.refresh(ready)
            if self._view_again or not fits:
                self._refresh_in_worker()

        def cancelled(_message: str) -> None:
            self._view_again = False
            self.refresh()  # (cancelled with everything else: the view still follows)

        self.start_task("view", lambda _state: make(scored), success, on_cancel=cancelled)

    def refresh(self, ready: plotting.ReadyViews | None = None) -> None:
        """Rebuild the scatter view and everything drawn over it (``ready``: the views a
        worker made for the current model, used if nothing changed since it started)."""
        if ready is not None and not ready.fits(self.run.prepared, self._geometry,
                                                self._view, self.shown_scored()):
            ready = None
        self._show_scatter(ready)
        self.anomaly.refresh(ready.grid if ready is not None else None)
        self.selection.refresh()

    def _show_scatter(self, ready: plotting.ReadyViews | None) -> None:
        """The scatter view: ``ready``'s (checked by the caller) or built here."""
        prepared, geom = self.run.prepared, self._geometry
        if prepared is None or geom is None or geom.generation != prepared.generation:
            self._scatter = None
        elif ready is not None:
            self._scatter = ready.scatter
            plotting.remember_views(self._scatter_memo, ready)
        else:
            self._scatter = plotting.scatter_view(prepared, geom, self._view,
                                                  self.shown_scored(),
                                                  plotting.scatter_note(prepared),
                                                  memo=self._scatter_memo)
        self.scatterChanged.emit(self._scatter)

    def point_info(self, index: int) -> PointInfo | None:
        """Row identity, values, component and responsibilities of plotted point ``index``."""
        prepared, geom = self.run.prepared, self._geometry
        if prepared is None or geom is None:
            return None
        return plotting.point_info(prepared, geom, index, self.shown_scored(),
                                   self.run.detection)

    def model_summary(self) -> ModelSummary | None:
        bundle = self.run.bundle
        if bundle is None:
            return None
        summary = plotting.model_summary(bundle, self.shown_scored())
        return replace(summary, warnings=self.model_warnings())

    def model_warnings(self) -> tuple[str, ...]:
        """The core's notes on the current model: the fit's warnings for the model the last
        fit made; for another (a sweep's cell, a refit, a file) the core's degenerate-
        component rule on the rows it was fitted on."""
        run = self.run
        bundle = run.bundle
        if bundle is None:
            return ()
        if bundle is self._fitted_bundle:
            return tuple(run.fit_warnings)
        prepared = run.prepared
        if prepared is None or prepared.big or not run.model_matches():
            return ()
        from gmm_desktop.core.steps import degenerate_notes

        n_fit = int(prepared.n_view_rows) - len(bundle.fit_excluded or ())
        return degenerate_notes(bundle.model, max(n_fit, 0))

    # ------------------------------------------------------------------ plugins

    @staticmethod
    def plugin_rows() -> list[dict[str, Any]]:
        from gmm_desktop.registry import plugin_table

        return plugin_table(get_registry().load_all())

    @staticmethod
    def set_plugin_enabled(kind: str, name: str, enabled: bool) -> str:
        """Enable/disable a plugin; returns a message for the user (raises ValueError)."""
        get_registry().set_enabled(kind, name, enabled)  # type: ignore[arg-type]
        return msg.PLUGIN_TOGGLED.format(name=name, kind=kind,
                                         state="enabled" if enabled else "disabled")

    # ------------------------------------------------------------------ exit

    def shutdown(self) -> None:
        """A clean exit: stop work, close the Dask connection, remove the crash marker."""
        self.sessions.stop()
        self.cancel()
        self.runner.wait(5000)
        self.run.close()
        self.sessions.disarm()
