"""Scores and thresholds on a fitted mixture, checked against scipy and scikit-learn."""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import mahalanobis

from gmm_desktop.engine import GaussianMixture
from gmm_desktop.engine.anomaly import (
    Threshold,
    ThresholdSpec,
    detect,
    fit_threshold,
    score_rows,
)


@pytest.fixture(scope="module")
def two_blobs():
    rng = np.random.RandomState(3)
    a = rng.multivariate_normal([0, 0], [[1.0, 0.6], [0.6, 1.0]], 300)
    b = rng.multivariate_normal([6, 1], [[0.5, 0.0], [0.0, 2.0]], 200)
    X = np.vstack([a, b])
    model = GaussianMixture(2, random_state=0).fit(X)
    return X, model


def test_scores_match_scipy(two_blobs):
    X, model = two_blobs
    s = score_rows(model, X)
    dens = sum(
        w * stats.multivariate_normal(m, c).pdf(X)
        for w, m, c in zip(model.weights_, model.means_, model.covariances_, strict=True)
    )
    np.testing.assert_allclose(s.log_density, np.log(dens), rtol=1e-10)
    resp = np.column_stack(
        [
            w * stats.multivariate_normal(m, c).pdf(X)
            for w, m, c in zip(model.weights_, model.means_, model.covariances_, strict=True)
        ]
    )
    resp /= resp.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(s.responsibilities, resp, atol=1e-10)
    np.testing.assert_array_equal(s.component, resp.argmax(axis=1))
    for i in (0, 17, 311, 499):
        k = s.component[i]
        vi = np.linalg.inv(model.covariances_[k])
        expected = mahalanobis(X[i], model.means_[k], vi)
        assert s.mahalanobis[i] == pytest.approx(expected, rel=1e-10)
        assert s.tail_probability[i] == pytest.approx(stats.chi2.sf(expected**2, 2), rel=1e-8)
        for j in range(2):
            vj = np.linalg.inv(model.covariances_[j])
            d = mahalanobis(X[i], model.means_[j], vj)
            assert s.mahalanobis_all[i, j] == pytest.approx(d, rel=1e-10)


def test_contamination_flags_exactly_the_lowest_fraction_and_transfers(two_blobs):
    X, model = two_blobs
    res = detect(model, X, ThresholdSpec("contamination", 0.03))
    assert res.n_flagged == 15  # round(0.03 * 500)
    lowest = np.argsort(res.scores.log_density)[:15]
    assert set(np.flatnonzero(res.flags)) == set(lowest)
    # the learned cut-off applies unchanged to new rows (novelty detection)
    new = np.array([[0.0, 0.0], [20.0, 20.0], [6.0, 1.0]])
    again = detect(model, new, res.threshold)
    assert again.flags.tolist() == [False, True, False]


def test_log_density_threshold(two_blobs):
    X, model = two_blobs
    res = detect(model, X, ThresholdSpec("log_density", -5.0))
    np.testing.assert_array_equal(res.flags, model.score_samples(X) < -5.0)
    assert res.threshold.log_density_cutoff == -5.0


@pytest.mark.parametrize(("kind", "value"), [("sigma", 2.5), ("chi2", 0.99)])
def test_per_component_gate(two_blobs, kind, value):
    X, model = two_blobs
    res = detect(model, X, ThresholdSpec(kind, value))
    radius = value if kind == "sigma" else math.sqrt(stats.chi2.ppf(value, 2))
    assert res.threshold.radius == pytest.approx(radius)
    brute = np.array(
        [
            all(
                mahalanobis(x, model.means_[k], np.linalg.inv(model.covariances_[k])) > radius
                for k in range(2)
            )
            for x in X
        ]
    )
    np.testing.assert_array_equal(res.flags, brute)
    assert 0 < res.n_flagged < 40


def test_small_component_is_anomalous():
    rng = np.random.RandomState(1)
    main_a = rng.normal([0, 0], 1.0, (400, 2))
    main_b = rng.normal([8, 0], 1.0, (400, 2))
    bad = rng.normal([4, 9], 0.05, (12, 2))  # a tight group of bad rows
    X = np.vstack([main_a, main_b, bad])
    model = GaussianMixture(3, random_state=0, n_init=3).fit(X)
    plain = detect(model, X, ThresholdSpec("log_density", -50.0))
    assert not plain.flags[-12:].any()  # the tight group is dense: no density rule finds it
    res = detect(model, X, ThresholdSpec("log_density", -50.0, small_component_share=0.05))
    (small,) = res.threshold.anomalous_components
    assert model.weights_[small] == pytest.approx(12 / 812, abs=1e-3)
    np.testing.assert_array_equal(np.flatnonzero(res.flags), np.arange(800, 812))


def test_manual_labels(two_blobs):
    X, model = two_blobs
    spec = ThresholdSpec("contamination", 0.02)
    base = detect(model, X, spec)
    flagged = np.flatnonzero(base.flags)
    never = np.zeros(len(X), bool)
    never[flagged[0]] = True
    exclude = np.zeros(len(X), bool)
    exclude[0] = True
    res = detect(model, X, spec, exclude=exclude, never_flag=never)
    assert not res.flags[flagged[0]]
    assert res.flags[0]
    with pytest.raises(ValueError, match="both outlier and normal"):
        detect(model, X, spec, exclude=never, never_flag=never)


def test_threshold_round_trip_and_validation(two_blobs):
    X, model = two_blobs
    for spec in (
        ThresholdSpec("contamination", 0.1, 0.05),
        ThresholdSpec("contamination", 0.0),
        ThresholdSpec("chi2", 0.975),
    ):
        th = fit_threshold(spec, model, score_rows(model, X))
        back = Threshold.from_dict(th.to_dict())
        assert back == th
    with pytest.raises(ValueError, match="fraction"):
        ThresholdSpec("contamination", 5)
    with pytest.raises(ValueError, match="unknown threshold kind"):
        ThresholdSpec("median", 1.0)
    with pytest.raises(ValueError, match="probability"):
        ThresholdSpec("chi2", 1.0)
