"""The example plugin's own tests: gmm-desktop's conformance kit and a direct M-step."""

import numpy as np
from gmm_desktop_eei import EEICovariance

from gmm_desktop.testing import check_plugin, direct_statistics


def eei_reference(stats, reg_covar):
    # Σⱼ = Σₖ Sₖⱼⱼ / n: the pooled within-component variance of each feature.
    return stats.scatter.sum(axis=0) / stats.nk.sum() + reg_covar


def test_conformance():
    check_plugin(EEICovariance, reference=eei_reference)


def test_m_step_is_the_pooled_variance_of_hard_clusters():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, [1, 3], (50, 2)), rng.normal(10, [1, 3], (70, 2))])
    resp = np.zeros((120, 2))
    resp[:50, 0] = resp[50:, 1] = 1
    stats = direct_statistics(X, resp, "diag")
    pooled = (50 * X[:50].var(0) + 70 * X[50:].var(0)) / 120
    np.testing.assert_allclose(EEICovariance().m_step(stats, 0.0), pooled, rtol=1e-10)
