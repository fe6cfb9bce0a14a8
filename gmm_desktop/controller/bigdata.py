"""The big-data part of the controller: the Dask scheduler setting, opening a table too big
for memory, and the exact count of flagged rows over every row.

Big data is a backend of the core's run (:mod:`gmm_desktop.core.bigdata`); what it cannot
do is declared once (``run.capabilities``) and the window reads it from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from gmm_desktop.controller import plotting
from gmm_desktop.controller.messages import window_message
from gmm_desktop.core import OUT_OF_CORE, Detection, Opened
from gmm_desktop.core.bigdata import DEFAULT_SCHEDULER, PLOT_SAMPLE_SIZE, check_scheduler
from gmm_desktop.data import TEXT_SUFFIXES, DataError, ReadOptions, source_files

if TYPE_CHECKING:
    from gmm_desktop.controller.app_controller import AppController

#: The settings key of the Dask scheduler (``gmm_desktop.settings``).
SCHEDULER_KEY = "bigdata.scheduler"
THRESHOLD_DEBOUNCE_MS = 250
#: Why a feature is off in big-data mode (tooltips and messages): the core's declaration.
BIG_DATA_REASON = f"Not available in big-data mode: {OUT_OF_CORE.reason}"

__all__ = ["BIG_DATA_REASON", "SCHEDULER_KEY", "BigDataController", "check_scheduler"]


class BigDataController(QObject):
    """Big-data mode (see the module docstring)."""

    bigDataChanged = Signal(bool)  # big-data (Dask, out-of-core) mode on/off

    def __init__(self, app: AppController) -> None:
        super().__init__(app)
        self.app = app
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(THRESHOLD_DEBOUNCE_MS)
        self._timer.timeout.connect(self._count)
        app.run.set_scheduler(self.scheduler())

    @property
    def active(self) -> bool:
        return bool(self.app.run.big)

    @property
    def sample(self) -> tuple[int, int] | None:
        """``(rows plotted, rows in the data)`` in big-data mode."""
        p = self.app.run.prepared
        return None if p is None or not p.big else (p.n_view_rows, p.n_rows_used)

    # ------------------------------------------------------------------ settings

    @staticmethod
    def scheduler() -> str:
        from gmm_desktop.settings import get_settings

        value = get_settings().get(SCHEDULER_KEY, DEFAULT_SCHEDULER)
        try:
            return check_scheduler(str(value))
        except ValueError:
            return DEFAULT_SCHEDULER

    def set_scheduler(self, value: str) -> bool:
        """Persist the scheduler; the next big-data task connects to it."""
        from gmm_desktop.settings import get_settings

        try:
            text = check_scheduler(value)
        except ValueError as exc:
            self.app.errorOccurred.emit("Bad Dask scheduler", str(exc))
            return False
        try:
            get_settings().set(SCHEDULER_KEY, text)
        except (OSError, ValueError) as exc:
            self.app.errorOccurred.emit("Cannot save the setting", str(exc))
            return False
        self.app.run.set_scheduler(text)
        self.app.statusMessage.emit(f"Dask scheduler: {text} (used by the next big-data task)")
        return True

    # ------------------------------------------------------------------ opening

    @staticmethod
    def first_text_file(path: str) -> str | None:
        """The first delimited-text file of a big-data source (a folder or a glob of CSV
        files), whose reading options apply to every file; ``None`` if it has none (a
        Parquet dataset has no reading options)."""
        for name in source_files(path.strip()) if path.strip() else ():
            lower = name.lower().removesuffix(".gz")
            if any(lower.endswith(suffix) for suffix in TEXT_SUFFIXES):
                return name
        return None

    def open(self, path: str, *, columns: list[str] | None = None,
             scaling: str | None = None, id_column: str | None = None,
             sample_size: int = PLOT_SAMPLE_SIZE, then: Any = None,
             read: ReadOptions | Mapping[str, Any] | None = None) -> bool:
        """Open a Parquet file/folder or CSV files (folder or glob) lazily: one profiling
        pass and one sampling pass run in a worker; the table is never loaded whole.

        ``read`` says how the CSV files are read (every file the same way, as an in-memory
        load reads one; default: detected); it is recorded in the run's configuration. A
        reading option the out-of-core backend does not honour is refused with the
        core's reason (``OUT_OF_CORE``)."""
        app = self.app
        try:
            options = ReadOptions.coerce(read)
        except DataError as exc:
            app.errorOccurred.emit("Cannot open", window_message(exc))
            return False
        app.run.sample_size = int(sample_size)
        app.run.config = app.run.config.replace(columns=tuple(columns) if columns else None,
                                                id_column=id_column, sheet=None)
        job = app._job(lambda: app.run.load_job(path, columns=columns, scaling=scaling,
                                                big=True, id_column=id_column,
                                                sample_size=sample_size, lenient=True,
                                                read=options),
                    "Cannot open")
        if job is None:
            return False

        def success(out: tuple[Opened, tuple[plotting.PlotGeometry, Any, Any]]) -> None:
            opened, (geom, dataset, ready) = out
            app.adopt_opened(opened, geom, dataset, ready)
            p = opened.prepared
            app.statusMessage.emit(
                f"Opened {opened.loaded.name} in big-data mode: {p.n_rows_used:,} rows "
                f"(plot: a uniform sample of {p.n_view_rows:,})")
            if then is not None:
                then()

        return app.start_job(job, success, on_progress=app.loadProgress.emit,
                             then=partial(plotting.opened_views, view=app.view_settings))

    def mode_changed(self, on: bool) -> None:
        self.bigDataChanged.emit(on)

    # ------------------------------------------------------------------ exact counts

    def model_changed(self) -> None:
        if self.active:
            self._count()

    def threshold_changed(self) -> None:
        """A drag moves the line often: count every row once it rests."""
        if self.active:
            self._timer.start()

    @Slot()
    def _count(self) -> None:
        app = self.app
        run = app.run
        if not self.active or run.scored is None or run.detection is None \
                or run.detection.exact:
            return
        app.cancel("threshold")
        job = app._job(run.count_job, "Threshold failed")
        if job is None:
            return

        def success(detection: Detection) -> None:
            if run.adopt_count(detection):
                app.anomaly.refresh()

        if app.start_job(job, success, on_progress=app.loadProgress.emit):
            app.anomaly.refresh()  # says that every row is being counted
