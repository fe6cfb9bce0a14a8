"""One progress and cancel contract for every step of a run.

A step takes ``progress``: a callable that receives a :class:`ProgressEvent` and returns a
true value to cancel. The event is typed: ``fit`` carries the engine's
:class:`~gmm_desktop.engine.FitProgress` (restart, iteration, lower bound) whenever EM is
running, in memory or on Dask, so a window can draw the log-likelihood curve without
parsing text. Cancelling raises :class:`~gmm_desktop.errors.Cancelled` inside the step; the
run's state is untouched, since a step only returns a result and never changes the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from gmm_desktop.engine import FitProgress
from gmm_desktop.errors import FitCancelled
from gmm_desktop.plugin_api import RefitProgress

__all__ = ["ProgressCallback", "ProgressEvent", "Reporter"]


@dataclass(frozen=True)
class ProgressEvent:
    """Where a running step is.

    ``stage`` is a short name (``"load"``, ``"prepare"``, ``"fit"``, ``"select"``,
    ``"score"``, ``"threshold"``, ``"refit"``, ``"export"``, ``"sample"``); ``fraction`` the
    overall share of the step done (0..1); ``message`` a sentence for the user. ``fit`` is
    the engine's per-iteration record while EM runs; ``refit`` a refit strategy's round.
    """

    stage: str
    fraction: float
    message: str = ""
    fit: FitProgress | None = None
    refit: RefitProgress | None = None


#: Receives every event; a true return value cancels the step.
ProgressCallback = Callable[[ProgressEvent], Any]


class Reporter:
    """Maps a part of a step onto its share of the overall fraction and relays cancel.

    ``Reporter(callback, "fit", start, width)`` reports ``start + width · f`` for a part
    that is ``f`` done. Every adapter (``fit_callback`` for the engine, ``data_callback`` for
    the data layer, ``pass_callback`` for the out-of-core passes) ends in :meth:`emit`, which
    raises :class:`FitCancelled` when the callback asks to stop.
    """

    def __init__(
        self,
        callback: ProgressCallback | None,
        stage: str,
        start: float = 0.0,
        width: float = 1.0,
    ) -> None:
        self.callback = callback
        self.stage = stage
        self.start = float(start)
        self.width = float(width)

    @property
    def active(self) -> bool:
        return self.callback is not None

    def part(self, start: float, width: float, stage: str | None = None) -> Reporter:
        """A reporter for the part ``[start, start + width]`` of this one."""
        return Reporter(
            self.callback, stage or self.stage, self.start + self.width * start,
            self.width * width,
        )

    def overall(self, fraction: float) -> float:
        return min(1.0, max(0.0, self.start + self.width * float(fraction)))

    def emit(self, event: ProgressEvent) -> None:
        if self.callback is not None and self.callback(event):
            raise FitCancelled(f"{event.stage} cancelled; nothing was changed")

    def __call__(self, fraction: float, message: str = "") -> None:
        self.emit(ProgressEvent(self.stage, self.overall(fraction), message))

    def relay(self) -> ProgressCallback | None:
        """A progress callback for a nested step, mapped onto this reporter's span."""
        if self.callback is None:
            return None

        def relay(event: ProgressEvent) -> bool:
            self.emit(replace(event, fraction=self.overall(event.fraction)))
            return False

        return relay

    def fit_callback(self) -> Callable[[FitProgress], bool] | None:
        """An engine fit callback (``GaussianMixture.fit(callback=...)``)."""
        if self.callback is None:
            return None

        def relay(info: FitProgress) -> bool:
            message = info.stage
            if info.iteration > 0:
                message = (
                    f"{info.stage}: iteration {info.iteration}, restart {info.restart + 1} of "
                    f"{info.n_restarts}"
                )
            self.emit(ProgressEvent(self.stage, self.overall(info.fraction), message, fit=info))
            return False

        return relay

    def refit_callback(self) -> Callable[[RefitProgress], bool] | None:
        """A refit strategy's callback."""
        if self.callback is None:
            return None

        def relay(info: RefitProgress) -> bool:
            message = f"{info.strategy}: round {info.round}"
            if info.message:
                message += f" ({info.message})"
            self.emit(ProgressEvent(self.stage, self.overall(info.fraction), message,
                                    refit=info))
            return False

        return relay

    def data_callback(self) -> Callable[[float, str], bool] | None:
        """The data layer's ``progress(fraction, message)``."""
        if self.callback is None:
            return None

        def relay(fraction: float, message: str) -> bool:
            self(fraction, message)
            return False

        return relay

    def pass_callback(self) -> Callable[[str, float], bool] | None:
        """An out-of-core pass's ``progress(stage, fraction)``."""
        if self.callback is None:
            return None

        def relay(stage: str, fraction: float) -> bool:
            self(fraction, stage)
            return False

        return relay
