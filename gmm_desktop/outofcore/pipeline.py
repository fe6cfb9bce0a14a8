"""Fitting with progress and cancel, and a uniform plot sample, on Dask.

The detection run itself (open → prepare → fit → threshold → export → save) is the
application core's big-data backend, :mod:`gmm_desktop.core.bigdata`; this module holds
the two calls it needs that are not passes of :mod:`.scoring`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gmm_desktop.engine import GaussianMixture
from gmm_desktop.engine.anomaly import Threshold
from gmm_desktop.engine.mixture import FitCallback
from gmm_desktop.outofcore import scoring
from gmm_desktop.outofcore._compute import PassProgress
from gmm_desktop.outofcore.fitting import options, row_blocks, uniform_sample

__all__ = ["PlotSample", "fit", "plot_sample"]

#: ``progress(stage, fraction_overall)``; a true return value cancels.
Progress = Callable[[str, float], Any]


def fit(
    model: GaussianMixture,
    X: Any,
    *,
    sample_weight: Any = None,
    progress: Progress | None = None,
    callback: FitCallback | None = None,
    init_sample_size: int | None = None,
    span: tuple[float, float] = (0.0, 1.0),
) -> GaussianMixture:
    """Fit ``model`` on a Dask array/DataFrame with overall progress and cancel.

    ``callback`` receives the engine's :class:`~gmm_desktop.engine.FitProgress` after every
    EM iteration, unchanged (typed: restart, iteration, lower bound); ``progress(stage,
    fraction)`` is called after every finished partition, ``fraction`` running over
    ``span``. A true return value from either cancels with
    :class:`~gmm_desktop.errors.FitCancelled` and leaves ``model`` as it was.
    """
    start, width = span
    state = {"done": 0.0}

    def iteration(info: Any) -> bool:
        state["done"] = float(info.fraction)
        if callback is not None and callback(info):
            return True
        if progress is None:
            return False
        return bool(progress(info.stage, start + width * state["done"]))

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
