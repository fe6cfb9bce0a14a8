"""Degenerate data: behave like scikit-learn where it fits, else one message that names the
data problem and the remedy, never an initializer blamed for the data (issues 14 and 17)."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gmm_desktop.engine import GaussianMixture
from gmm_desktop.errors import FitError, PluginError
from gmm_desktop.plugin_api import Initializer


def _fit_both(X, k, covariance_type="full", init_params="kmeans"):
    kwargs = dict(covariance_type=covariance_type, init_params=init_params, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # KMeans: fewer distinct clusters than n_clusters
        ours = GaussianMixture(k, **kwargs).fit(X)
        theirs = SkGaussianMixture(k, **kwargs).fit(X)
    return ours, theirs


def _same_fit(ours, theirs, X):
    np.testing.assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-8)
    np.testing.assert_allclose(ours.weights_, theirs.weights_, atol=1e-8)
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-7)


rng = np.random.RandomState(0)
CONSTANT_COLUMN = np.column_stack([rng.randn(200), np.full(200, 5.0), rng.randn(200)])
FOUR_POINTS = np.repeat(rng.randn(4, 2), 50, axis=0)  # 200 rows, 4 distinct
IDENTICAL = np.ones((50, 2))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize(
    ("X", "k"),
    [(CONSTANT_COLUMN, 3), (FOUR_POINTS, 3), (FOUR_POINTS, 6), (IDENTICAL, 2),
     (np.full((30, 1), 3.0), 2)],
    ids=["constant-column", "duplicated-rows", "more-components-than-distinct-rows",
         "identical-rows", "one-constant-column"],
)
def test_degenerate_data_that_scikit_learn_fits_is_fitted_the_same(X, k, covariance_type):
    ours, theirs = _fit_both(X, k, covariance_type)
    _same_fit(ours, theirs, X)


def test_more_components_than_distinct_rows_leaves_the_extra_ones_empty():
    ours, theirs = _fit_both(FOUR_POINTS, 6)
    np.testing.assert_allclose(np.sort(ours.weights_), [0, 0, 0.25, 0.25, 0.25, 0.25], atol=1e-9)
    assert ours.predict(FOUR_POINTS).tolist() == theirs.predict(FOUR_POINTS).tolist()


@pytest.mark.parametrize("init_params", ["kmeans", "random"])
@pytest.mark.parametrize("scale", [1e300, 1e160])
def test_values_whose_squares_overflow_are_named_with_the_remedy(scale, init_params):
    X = np.random.RandomState(1).randn(200, 2) * scale
    with pytest.raises(FitError) as info:
        GaussianMixture(2, init_params=init_params, random_state=0).fit(X)
    message = str(info.value)
    assert "squares overflow float64" in message and "standardize" in message
    assert "initializer" not in message
    # scikit-learn fails too, with a message about infinities it did not get as input.
    with pytest.raises(ValueError, match="infs or NaNs"):
        SkGaussianMixture(2, init_params=init_params, random_state=0).fit(X)


@pytest.mark.parametrize("scale", [1e-200, 1e-300])
def test_values_too_tiny_to_tell_apart_are_named_with_the_remedy(scale):
    X = np.random.RandomState(2).randn(200, 2) * scale
    with pytest.raises(FitError, match=r"underflow float64.*Rescale") as info:
        GaussianMixture(3, random_state=0).fit(X)
    assert "initializer" not in str(info.value)
    # scikit-learn "fits" them as a single point: every row in one component.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = SkGaussianMixture(3, random_state=0).fit(X)
    assert np.sort(theirs.weights_)[-1] == pytest.approx(1.0)


def test_the_same_data_rescaled_fits():
    X = np.random.RandomState(2).randn(200, 2) * 1e-200
    rescaled = X * 1e200  # (the standard deviation itself underflows at this scale)
    ours, theirs = _fit_both(rescaled, 3)
    _same_fit(ours, theirs, rescaled)


def test_a_wide_table_with_full_covariances_is_refused_up_front():
    X = np.random.RandomState(3).randn(100, 10_000)
    start = time.perf_counter()
    with pytest.raises(FitError) as info:
        GaussianMixture(1, covariance_type="full").fit(X)
    assert time.perf_counter() - start < 5.0  # up front, not after minutes of work
    message = str(info.value)
    assert "100 rows and 10,000 features" in message and "800 MB each" in message
    assert "covariance_type='diag'" in message


def test_small_singular_full_covariances_still_fit_as_in_scikit_learn():
    X = np.random.RandomState(4).randn(20, 30)
    ours, theirs = _fit_both(X, 1)
    _same_fit(ours, theirs, X)


def test_an_initializer_that_leaves_a_component_empty_on_good_data_is_still_blamed(monkeypatch):
    class Lazy(Initializer):
        name = "lazy-test"

        def initialize(self, X, n_components, random_state, sample_weight=None):
            resp = np.zeros((X.shape[0], n_components))
            resp[:, 0] = 1.0
            return resp

    monkeypatch.setattr(GaussianMixture, "_initializer_plugin", lambda self: Lazy())
    X = np.random.RandomState(5).randn(100, 2)
    with pytest.raises(PluginError, match="no responsibility at all for component 1") as info:
        GaussianMixture(2).fit(X)
    assert "at least 2 distinct rows" in str(info.value) and info.value.plugin == "lazy-test"
