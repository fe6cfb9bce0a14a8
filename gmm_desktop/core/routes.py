"""How a run fits its model by the robust default route, with the run's settings (one place
for the in-memory run and for big data, which fits it on its uniform sample)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gmm_desktop.core.config import RunConfig
from gmm_desktop.core.progress import Reporter

__all__ = ["fit_robust_route"]


def fit_robust_route(X: np.ndarray, config: RunConfig, report: Reporter) -> Any:
    """The robust default route (:func:`gmm_desktop.engine.robust.fit_robust`) with the
    run's settings: the contamination the user expects, the grid, the trimming, the
    small-component rule, the seed."""
    from gmm_desktop.engine.robust import fit_robust

    ks = config.component_candidates
    return fit_robust(
        X, contamination=config.contamination,
        n_components=ks[0] if len(ks) == 1 else list(ks),
        covariance_types=list(config.covariance_types), trim=config.trim,
        small_component_rule=config.small_component_rule, reg_covar=config.reg_covar,
        random_state=config.random_state, callback=report.data_callback(),
    )

