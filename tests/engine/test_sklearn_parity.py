"""Swapping scikit-learn's GaussianMixture for ours gives the same fit.

From the same initial parameters: the same iterations, the same final lower bound (to
1e-10 relative), the same labels, for every built-in covariance type.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gmm_desktop.engine import GaussianMixture

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def blobs(seed: int, n: int = 400, d: int = 3, k: int = 3, offset: float = 0.0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    parts = []
    for j in range(k):
        a = rng.randn(d, d) * (0.5 + j * 0.3)
        parts.append(rng.randn(n // k, d) @ a + 3.0 * rng.randn(d) + offset)
    return np.vstack(parts)


def fit_both(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = GaussianMixture(**params).fit(X)
        theirs = SkGaussianMixture(**params).fit(X)
    return ours, theirs


def assert_same_fit(ours, theirs, X, first_bound_rtol=1e-10):
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.converged_ == theirs.converged_
    rel = abs(ours.lower_bound_ - theirs.lower_bound_) / abs(theirs.lower_bound_)
    assert rel < 1e-10, rel
    assert ours.lower_bounds_[0] == pytest.approx(theirs.lower_bounds_[0], rel=first_bound_rtol)
    np.testing.assert_allclose(ours.lower_bounds_[1:], theirs.lower_bounds_[1:], rtol=1e-10)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.weights_, theirs.weights_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.precisions_, theirs.precisions_, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(
        ours.precisions_cholesky_, theirs.precisions_cholesky_, rtol=1e-8, atol=1e-8
    )
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-9)
    assert ours.bic(X) == pytest.approx(theirs.bic(X), rel=1e-10)
    assert ours.aic(X) == pytest.approx(theirs.aic(X), rel=1e-10)
    assert ours._n_parameters() == theirs._n_parameters()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_initial_parameters_same_iterations(covariance_type, seed):
    X = blobs(seed)
    # Initial parameters from a deliberately rough start, given to both estimators.
    start = SkGaussianMixture(3, covariance_type=covariance_type, max_iter=1, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start.fit(X)
    init = dict(
        weights_init=start.weights_,
        means_init=start.means_ + 0.5,
        precisions_init=start.precisions_,
    )
    ours, theirs = fit_both(
        X, n_components=3, covariance_type=covariance_type, tol=1e-9, max_iter=300, **init
    )
    assert ours.n_iter_ > 3
    assert_same_fit(ours, theirs, X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_same_random_state_same_fit(covariance_type, init_params):
    """The initializers consume the random state exactly as scikit-learn's do."""
    X = blobs(7, n=600, d=4)
    ours, theirs = fit_both(
        X,
        n_components=3,
        covariance_type=covariance_type,
        init_params=init_params,
        random_state=3,
        tol=1e-6,
        max_iter=500,
    )
    assert_same_fit(ours, theirs, X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_restarts_consume_the_random_state_alike(covariance_type):
    """Restart by restart, both draw the same starts; n_init keeps the best of them.

    (Which of several restarts that reach the same optimum is "best" depends on round-off
    at 1e-13, so the n_init fit is compared by its lower bound.)
    """
    X = blobs(8, n=450, d=3)
    params = dict(n_components=3, covariance_type=covariance_type, init_params="random",
                  tol=1e-6, max_iter=500)
    shared_ours, shared_theirs = np.random.RandomState(4), np.random.RandomState(4)
    bounds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(4):
            a = GaussianMixture(random_state=shared_ours, **params).fit(X)
            b = SkGaussianMixture(random_state=shared_theirs, **params).fit(X)
            assert_same_fit(a, b, X)
            bounds.append(a.lower_bound_)
        best = GaussianMixture(random_state=4, n_init=4, **params).fit(X)
    assert best.lower_bound_ == pytest.approx(max(bounds), rel=1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_seed_initializers_match(covariance_type, init_params):
    X = blobs(11, n=300, d=2)
    ours, theirs = fit_both(
        X,
        n_components=3,
        covariance_type=covariance_type,
        init_params=init_params,
        random_state=5,
        tol=1e-6,
        max_iter=500,
    )
    # The seeds start at variance reg_covar = 1e-6. scikit-learn's diag/spherical M-step
    # computes it as E[x²] − E[x]² and gets 1.00000004e-6 (round-off); ours is exact. At
    # such a tiny variance that moves the first lower bound (of the start, about −1.8e6) by
    # ~1e-8 relative; every later iteration agrees to 1e-10.
    assert_same_fit(ours, theirs, X, first_bound_rtol=1e-7)


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_tied_seed_initialization_is_the_m_step_of_the_seeds(init_params):
    """Documented difference: with one-hot seed responsibilities, scikit-learn's tied M-step
    uses every row's XᵀX (its formula assumes each row's responsibilities sum to one) and
    starts from a covariance that grows with the data's distance from the origin. Ours is the
    M-step of the K seed rows: reg_covar·I, like the other covariance types."""
    X = blobs(11, n=300, d=2, offset=50.0)
    ours = GaussianMixture(
        3, covariance_type="tied", init_params=init_params, random_state=5, max_iter=0
    ).fit(X)
    np.testing.assert_allclose(ours.covariances_, 1e-6 * np.eye(2), rtol=1e-6)
    theirs = SkGaussianMixture(
        3, covariance_type="tied", init_params=init_params, random_state=5, max_iter=0
    ).fit(X)
    assert np.max(np.abs(theirs.covariances_)) > 100  # the quirk this test documents
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_warm_start_matches(covariance_type):
    X = blobs(4)
    ours = GaussianMixture(3, covariance_type=covariance_type, warm_start=True, max_iter=2,
                           random_state=0)
    theirs = SkGaussianMixture(3, covariance_type=covariance_type, warm_start=True, max_iter=2,
                               random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(4):
            ours.fit(X)
            theirs.fit(X)
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=1e-10)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_matches(covariance_type):
    X = blobs(5)
    ours, theirs = fit_both(X, n_components=3, covariance_type=covariance_type, random_state=9)
    xs_o, ys_o = ours.sample(500)
    xs_t, ys_t = theirs.sample(500)
    np.testing.assert_array_equal(ys_o, ys_t)
    np.testing.assert_allclose(xs_o, xs_t, rtol=1e-8, atol=1e-8)


def test_max_iter_zero_and_fit_predict():
    X = blobs(6)
    ours, theirs = fit_both(X, n_components=3, max_iter=0, random_state=1)
    assert ours.n_iter_ == theirs.n_iter_ == 0
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-12)
    labels = GaussianMixture(3, random_state=1).fit_predict(X)
    np.testing.assert_array_equal(labels, GaussianMixture(3, random_state=1).fit(X).predict(X))


def test_same_public_parameters_and_defaults():
    ours = GaussianMixture().get_params()
    theirs = SkGaussianMixture().get_params()
    extra = set(ours) - set(theirs)
    assert extra == {"chunk_size"}
    for key, value in theirs.items():
        assert ours[key] == value, key
