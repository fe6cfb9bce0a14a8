"""The session part of the controller: save and open sessions, autosave, crash recovery.

The session document is the core's (:mod:`gmm_desktop.core.session`): the window adds only
its view settings. A malformed section of a session file is reported and skipped; what can
be restored is restored.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from gmm_desktop.controller import plotting
from gmm_desktop.controller.session import CrashGuard
from gmm_desktop.controller.views import ViewSettings
from gmm_desktop.core import Opened, SessionContents, SessionFileError, parse_session
from gmm_desktop.core.session import read_session
from gmm_desktop.errors import GmmDesktopError

if TYPE_CHECKING:
    from gmm_desktop.controller.app_controller import AppController

log = logging.getLogger("gmm_desktop.controller")
AUTOSAVE_INTERVAL_MS = 3 * 60 * 1000


class SessionController(QObject):
    """Sessions, autosave and the crash guard (see the module docstring)."""

    sessionSaved = Signal(str)
    autosaved = Signal(str)

    def __init__(self, app: AppController, *, autosave: bool = True) -> None:
        super().__init__(app)
        self.app = app
        self.path: str | None = None
        self.dirty = False
        self.guard: CrashGuard | None = None
        self._enabled = autosave
        self._timer = QTimer(self)
        self._timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer)

    def mark_dirty(self) -> None:
        self.dirty = True

    # ------------------------------------------------------------------ documents

    def document(self) -> dict[str, Any]:
        return self.app.run.session_document(view=self.app.view_settings.to_dict())

    def save(self, path: str | os.PathLike[str]) -> bool:
        try:
            self.app.run.save_session(path, view=self.app.view_settings.to_dict())
        except (OSError, GmmDesktopError, ValueError) as exc:
            self.app.errorOccurred.emit("Cannot save the session", f"{path}: {exc}")
            return False
        self.path = str(path)
        self.dirty = False
        self.sessionSaved.emit(str(path))
        self.app.statusMessage.emit(f"Session saved to {path}")
        return True

    def open(self, path: str | os.PathLike[str]) -> bool:
        try:
            doc = read_session(path)
        except SessionFileError as exc:
            self.app.errorOccurred.emit("Cannot open the session", str(exc))
            return False
        ok = self.restore(doc, source=str(path))
        if ok and "autosave" not in Path(path).name:
            self.path = str(path)
        return ok

    def restore(self, doc: Any, source: str = "session") -> bool:
        """Apply a session document: data (in the background), model, labels, view."""
        app = self.app
        try:
            contents = parse_session(doc, source)
        except SessionFileError as exc:
            app.errorOccurred.emit("Cannot open the session", str(exc))
            return False
        try:
            app._view = ViewSettings.from_dict(contents.view)
        except (TypeError, ValueError) as exc:
            contents.problems.append(f"the view settings were not restored: {exc}")
        job = app._job(lambda: app.run.restore_job(contents), "Cannot open the session")
        if job is None:
            if contents.bundle is not None:  # keep the model anyway: it is never lost
                app.run.bundle = contents.bundle
                app.modelChanged.emit(app.model_summary())
            return False

        def success(out: tuple[Opened | None, tuple[plotting.PlotGeometry, Any, Any] | None]
                    ) -> None:
            opened, views = out
            geom, dataset, _ready = views if views is not None else (None, None, None)
            self._adopt(opened, geom, contents, source, dataset)

        return app.start_job(
            job, success, on_progress=app.loadProgress.emit,
            then=lambda o: None if o is None else plotting.opened_views(o))

    def _adopt(self, opened: Opened | None, geom: plotting.PlotGeometry | None,
               contents: SessionContents, source: str, dataset: Any = None) -> None:
        app = self.app
        was_big = app.run.big
        problems = app.run.adopt_restored(opened, contents)
        app.selection.reset()
        app.anomaly.reset()
        if opened is not None and geom is not None:
            app._geometry = geom
            app._sweep = None
            app.datasetChanged.emit(dataset or plotting.dataset_view(
                opened.loaded, opened.prepared.source.n_rows))
            app.featuresChanged.emit(plotting.features_view(opened.prepared))
        app.modelChanged.emit(app.model_summary())
        app.refresh()
        if was_big != app.run.big:
            app.bigdata.mode_changed(app.run.big)
        app.bigdata.model_changed()
        self.dirty = False
        if problems:
            app.errorOccurred.emit(
                "Session partly restored",
                f"{source}: " + "; ".join(problems) + ". Everything else was restored.")
        app.statusMessage.emit(f"Session restored from {source}")

    # ------------------------------------------------------------------ autosave

    def start_crash_guard(self, directory: Path | None = None) -> Path | None:
        """Arm the crash marker; return the autosave of a previous unclean exit, if any."""
        self.guard = CrashGuard(directory)
        found = self.guard.crashed_session()
        self.guard.arm()
        if self._enabled:
            self._timer.start()
        return found

    def restore_autosave(self, path: Path) -> bool:
        try:
            doc = read_session(path)
        except SessionFileError as exc:
            self.app.errorOccurred.emit("Cannot restore the session", str(exc))
            return False
        return self.restore(doc, source=str(path))

    def autosave(self) -> Path | None:
        """Write the session to the autosave file (after each fit and on a timer)."""
        if self.guard is None or not self._enabled or self.app.run.loaded is None:
            return None
        from gmm_desktop.core.session import write_session

        try:
            write_session(self.guard.autosave, self.document())
        except (OSError, ValueError) as exc:
            log.warning("autosave failed: %s", exc)
            self.app.statusMessage.emit(f"Autosave failed: {exc}")
            return None
        self.autosaved.emit(str(self.guard.autosave))
        return self.guard.autosave

    @Slot()
    def _on_timer(self) -> None:
        if self.dirty:
            self.autosave()

    def stop(self) -> None:
        self._timer.stop()

    def disarm(self) -> None:
        if self.guard is not None:
            self.guard.disarm()
