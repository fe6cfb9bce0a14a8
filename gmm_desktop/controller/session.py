"""The autosave location, the crash marker and the log file (Qt-free).

Session documents themselves are the core's (:mod:`gmm_desktop.core.session`); the
controller's :class:`~gmm_desktop.controller.sessions.SessionController` drives these.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from gmm_desktop.core.session import SessionFileError
from gmm_desktop.fileio import atomic_write_text

__all__ = ["AUTOSAVE_NAME", "CrashGuard", "SessionFileError", "setup_file_logging",
           "state_dir"]

AUTOSAVE_NAME = "autosave-session.json"
#: Where the autosave of an unclean exit is kept while the next run opens what was asked
#: for (its own autosaves would otherwise overwrite it).
RECOVERED_NAME = "autosave-recovered-session.json"
MARKER_NAME = "running.pid"
LOG_NAME = "gmm-desktop.log"


def state_dir() -> Path:
    """Where autosaves and the log live (``GMM_DESKTOP_STATE_DIR`` overrides it)."""
    override = os.environ.get("GMM_DESKTOP_STATE_DIR")
    if override:
        path = Path(override)
    else:
        from platformdirs import user_state_dir

        path = Path(user_state_dir("gmm-desktop", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def setup_file_logging() -> Path:
    """Send the ``gmm_desktop`` loggers (with tracebacks) to a log file in the state dir."""
    path = state_dir() / LOG_NAME
    logger = logging.getLogger("gmm_desktop")
    if not any(getattr(h, "_gmm_desktop", False) for h in logger.handlers):
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._gmm_desktop = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return path


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class CrashGuard:
    """A marker file written at start and removed at a clean exit.

    If the marker of a process that is no longer alive is found next to an autosave at
    start, the previous run ended uncleanly and its autosave can be restored.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or state_dir()
        self.marker = self.directory / MARKER_NAME
        self.autosave = self.directory / AUTOSAVE_NAME
        self.recovered = self.directory / RECOVERED_NAME
        self.active = False
        #: The analyst is being asked about the autosave of an unclean exit: an exit now
        #: keeps it for the next start instead of removing it.
        self.asking = False

    def crashed_session(self) -> Path | None:
        """The autosave left by a run that did not exit cleanly, if any; else an autosave
        set aside by an earlier run and not decided on yet (:meth:`set_aside`)."""
        if self.marker.exists():
            try:
                pid = int(self.marker.read_text().strip() or "0")
            except (OSError, ValueError):
                pid = 0
            if pid != os.getpid() and _pid_alive(pid):
                return None  # another instance is running and owns the autosave
            if self.autosave.exists():
                return self.autosave
        return self.recovered if self.recovered.exists() else None

    def arm(self) -> None:
        atomic_write_text(self.marker, f"{os.getpid()}\n")
        self.active = True

    def disarm(self) -> None:
        """A clean exit: remove the marker and the autosave (an autosave not decided on yet
        is kept, set aside, to be offered at the next start)."""
        if self.asking and self.autosave.exists():
            try:
                self.set_aside(self.autosave)
            except OSError as exc:  # pragma: no cover
                logging.getLogger("gmm_desktop").warning("cannot keep %s: %s",
                                                         self.autosave, exc)
        for path in (self.marker, self.autosave):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:  # pragma: no cover
                logging.getLogger("gmm_desktop").warning("cannot remove %s: %s", path, exc)
        self.active = False

    def discard_autosave(self) -> None:
        try:
            self.autosave.unlink()
        except OSError:
            pass

    def set_aside(self, path: Path) -> Path:
        """Keep the autosave ``path`` of an unclean exit apart from this run's autosaves
        (to be offered later, in this run or the next); returns where it is now."""
        if Path(path) != self.recovered:
            os.replace(path, self.recovered)
        return self.recovered

    def discard_recovered(self) -> None:
        try:
            self.recovered.unlink()
        except OSError:
            pass
