"""One contract for long work: a :class:`TaskState` (cancel flag + throttled progress)
handed to a function that runs in a ``QThreadPool`` worker.

The function receives the state, calls ``state.report(...)`` as often as it likes (the
state forwards at most one progress message every ``min_interval`` seconds to the GUI
thread), checks ``state.cancelled`` (or passes ``state.core_callback`` to a core job) and
returns an immutable result. The outcome reaches the GUI thread through queued signals.
Threads are never terminated: cancelling only sets a flag that the work polls.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from gmm_desktop.controller.messages import window_message
from gmm_desktop.controller.views import ProgressView
from gmm_desktop.errors import Cancelled, GmmDesktopError

log = logging.getLogger("gmm_desktop.controller")


@dataclass(frozen=True)
class TaskFailure:
    """Why a task did not produce a result: a message fit for a user."""

    message: str
    expected: bool  # a GmmDesktopError/ValueError (no traceback worth showing)
    details: str = ""  # the traceback of an unexpected exception (goes to the log)


class TaskState:
    """Cancel flag and progress throttle shared by a worker and the controller."""

    def __init__(self, name: str, min_interval: float = 0.05) -> None:
        self.name = name
        self.min_interval = min_interval
        self._cancel = threading.Event()
        self._last = 0.0
        self._emit: Callable[[Any], None] | None = None
        self.history: list[tuple[int, int, float]] = []  # (restart, iteration, lower bound)

    # cancellation ----------------------------------------------------------------------
    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # progress ----------------------------------------------------------------------------
    def report(self, payload: Any, *, force: bool = False) -> None:
        """Forward ``payload`` to the GUI thread unless one was sent very recently."""
        now = time.perf_counter()
        if self._emit is None or (not force and now - self._last < self.min_interval):
            return
        self._last = now
        self._emit(payload)

    def core_callback(self, event: Any) -> bool:
        """The application core's progress callback: records the log-likelihood curve from
        the engine's typed ``FitProgress``, forwards a :class:`ProgressView`, and returns
        the cancel flag."""
        info = getattr(event, "fit", None)
        if info is not None and info.iteration > 0 and math.isfinite(info.lower_bound):
            point = (int(info.restart), int(info.iteration), float(info.lower_bound))
            if not self.history or self.history[-1][:2] != point[:2]:
                self.history.append(point)
        self.report(
            ProgressView(
                kind=self.name,
                fraction=float(event.fraction),
                message=str(event.message or event.stage),
                history=tuple(self.history),
            ),
            force=float(event.fraction) >= 1.0,
        )
        return self.cancelled


class _Signals(QObject):
    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal(str)
    done = Signal()


class Task(QRunnable):
    """Runs ``fn(state)`` in a pool thread and reports through queued signals."""

    def __init__(self, fn: Callable[[TaskState], Any], state: TaskState) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.state = state
        self.signals = _Signals()
        state._emit = self.signals.progress.emit

    def run(self) -> None:  # in the worker thread
        try:
            from threadpoolctl import threadpool_limits

            limiter = threadpool_limits(limits=1)
        except Exception:  # pragma: no cover - threadpoolctl is a dependency
            limiter = None
        try:
            result = self.fn(self.state)
        except Cancelled as exc:
            self.signals.cancelled.emit(str(exc))
        except (GmmDesktopError, ValueError) as exc:
            self.signals.failed.emit(TaskFailure(window_message(exc), expected=True))
        except MemoryError:
            self.signals.failed.emit(
                TaskFailure(
                    "Not enough memory for this task. Use fewer rows or columns, "
                    "or fewer components.",
                    expected=True,
                )
            )
        except Exception as exc:
            details = traceback.format_exc()
            log.error("task %s failed unexpectedly:\n%s", self.state.name, details)
            self.signals.failed.emit(
                TaskFailure(
                    f"Unexpected error in {self.state.name}: {type(exc).__name__}: {exc}",
                    expected=False,
                    details=details,
                )
            )
        else:
            if self.state.cancelled:
                self.signals.cancelled.emit(f"{self.state.name} cancelled")
            else:
                self.signals.succeeded.emit(result)
        finally:
            if limiter is not None:
                limiter.restore_original_limits()
            self.signals.done.emit()


class _Relay(QObject):
    """Lives in the GUI thread; its slots run there (queued from the worker's signals)."""

    def __init__(self, on_success, on_failure, on_cancel, on_progress, on_done, parent) -> None:
        super().__init__(parent)
        self._cbs = (on_success, on_failure, on_cancel, on_progress, on_done)
        self.finished_with: Callable[[], Any] | None = None

    @Slot(object)
    def succeeded(self, result: Any) -> None:
        self._cbs[0](result)

    @Slot(object)
    def failed(self, failure: Any) -> None:
        self._cbs[1](failure)

    @Slot(str)
    def cancelled(self, message: str) -> None:
        if self._cbs[2] is not None:
            self._cbs[2](message)

    @Slot(object)
    def progress(self, payload: Any) -> None:
        if self._cbs[3] is not None:
            self._cbs[3](payload)

    @Slot()
    def done(self) -> None:
        try:
            if self._cbs[4] is not None:
                self._cbs[4]()
        finally:
            if self.finished_with is not None:
                self.finished_with()
            self.deleteLater()


class TaskRunner(QObject):
    """Starts tasks in its own thread pool and keeps them alive until they are done."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._live: dict[Task, _Relay] = {}

    def start(
        self,
        name: str,
        fn: Callable[[TaskState], Any],
        *,
        on_success: Callable[[Any], None],
        on_failure: Callable[[TaskFailure], None],
        on_cancel: Callable[[str], None] | None = None,
        on_progress: Callable[[Any], None] | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> TaskState:
        state = TaskState(name)
        task = Task(fn, state)
        relay = _Relay(on_success, on_failure, on_cancel, on_progress, on_done, self)
        sig = task.signals
        sig.succeeded.connect(relay.succeeded)
        sig.failed.connect(relay.failed)
        sig.cancelled.connect(relay.cancelled)
        sig.progress.connect(relay.progress)
        sig.done.connect(relay.done)
        self._live[task] = relay
        relay.finished_with = lambda t=task: self._live.pop(t, None)
        self.pool.start(task)
        return state

    @property
    def active(self) -> int:
        return len(self._live)

    def wait(self, msecs: int = -1) -> bool:
        """Wait for running tasks (used at exit and in tests)."""
        return self.pool.waitForDone(msecs)
