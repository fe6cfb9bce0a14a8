"""Progress reporting and cancellation for long loads (internal)."""

from __future__ import annotations

import time
from collections.abc import Callable

from gmm_desktop.errors import Cancelled

INTERVAL = 0.05
"""Minimum seconds between two progress reports (forced reports excepted)."""

ProgressCallback = Callable[[float, str], "bool | None"]
"""``progress(fraction, message) -> bool | None``; returning True asks the work to stop."""


class Progress:
    """Throttled wrapper around an optional user progress callback.

    Calling the wrapper reports ``fraction`` (clamped to [0, 1]) and ``message`` to the
    callback at most every ``interval`` seconds (always when ``force`` is true).  If the
    callback returns a true value, :class:`~gmm_desktop.errors.Cancelled` is raised in
    the caller's thread.
    """

    def __init__(
        self, callback: ProgressCallback | None, what: str, interval: float | None = None
    ) -> None:
        self._callback = callback
        self._what = what
        self._interval = INTERVAL if interval is None else interval
        self._last = -float("inf")

    @property
    def enabled(self) -> bool:
        return self._callback is not None

    def __call__(self, fraction: float, message: str, *, force: bool = False) -> None:
        if self._callback is None:
            return
        now = time.monotonic()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        fraction = min(max(float(fraction), 0.0), 1.0)
        if self._callback(fraction, message):
            raise Cancelled(f"Loading {self._what} was cancelled.")
