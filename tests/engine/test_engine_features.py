"""What the engine does beyond scikit-learn: weights, centred moments, robust restarts,
progress and cancellation, model selection, plugin names."""

from __future__ import annotations

import itertools
import pickle
import warnings

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gmm_desktop.engine import (
    FitCancelled,
    FitError,
    GaussianMixture,
    NotFittedError,
    RestartFailedWarning,
    select_models,
)
from gmm_desktop.plugin_api import NotPositiveDefiniteError
from gmm_desktop.registry import get_registry
from gmm_desktop_plugins.covariance import FullCovariance

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def blobs(seed: int, n: int = 300, d: int = 2, k: int = 3) -> np.ndarray:
    rng = np.random.RandomState(seed)
    parts = [rng.randn(n // k, d) @ rng.randn(d, d) + 4.0 * rng.randn(d) for _ in range(k)]
    return np.vstack(parts)


def start_for(X, covariance_type, k=3, seed=0):
    """Rough, shared initial parameters."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = SkGaussianMixture(k, covariance_type=covariance_type, max_iter=1,
                              random_state=seed).fit(X)
    return dict(weights_init=m.weights_, means_init=m.means_, precisions_init=m.precisions_)


# ----------------------------------------------------------------------------- weights


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_equal_repeated_rows(covariance_type):
    X = blobs(1)
    rng = np.random.RandomState(0)
    w = rng.randint(0, 4, size=X.shape[0])
    w[:3] = 1  # make sure of some positive weight
    repeated = np.repeat(X, w, axis=0)
    init = start_for(X, covariance_type)
    params = dict(n_components=3, covariance_type=covariance_type, tol=1e-10, max_iter=200,
                  **init)
    weighted = GaussianMixture(**params).fit(X, sample_weight=w)
    plain = GaussianMixture(**params).fit(repeated)
    assert weighted.n_iter_ == plain.n_iter_
    assert weighted.lower_bound_ == pytest.approx(plain.lower_bound_, rel=1e-10)
    np.testing.assert_allclose(weighted.weights_, plain.weights_, rtol=1e-9)
    np.testing.assert_allclose(weighted.means_, plain.means_, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(weighted.covariances_, plain.covariances_, rtol=1e-8, atol=1e-12)


def test_unit_weights_change_nothing_and_bad_weights_are_refused():
    X = blobs(2)
    a = GaussianMixture(3, random_state=0).fit(X)
    b = GaussianMixture(3, random_state=0).fit(X, sample_weight=np.ones(len(X)))
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=1e-12)
    for bad in (np.ones(5), -np.ones(len(X)), np.full(len(X), np.nan), np.zeros(len(X))):
        with pytest.raises(ValueError, match="sample_weight"):
            GaussianMixture(3).fit(X, sample_weight=bad)


# ----------------------------------------------------------------------------- centring


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_far_from_the_origin_is_as_exact_as_near_it(covariance_type):
    X = blobs(3)
    init = start_for(X, covariance_type)
    params = dict(n_components=3, covariance_type=covariance_type, tol=1e-8, max_iter=100)
    near = GaussianMixture(**params, **init).fit(X)
    shifted = dict(init, means_init=init["means_init"] + 1e8)
    far = GaussianMixture(**params, **shifted).fit(X + 1e8)
    assert far.lower_bound_ == pytest.approx(near.lower_bound_, rel=1e-6)
    np.testing.assert_allclose(far.means_ - 1e8, near.means_, atol=1e-5)
    np.testing.assert_allclose(far.covariances_, near.covariances_, rtol=1e-5, atol=1e-7)


def test_scikit_learn_loses_the_diag_fit_far_from_the_origin():
    """Why the test above matters: the uncentred E[x²]−E[x]² form fails at 1e8."""
    X = blobs(3)
    init = start_for(X, "diag")
    shifted = dict(init, means_init=init["means_init"] + 1e8)
    near = GaussianMixture(3, covariance_type="diag", **init).fit(X).lower_bound_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            sk = SkGaussianMixture(3, covariance_type="diag", **shifted).fit(X + 1e8)
            sk_error = abs(sk.lower_bound_ - near) / abs(near)
        except ValueError:  # scikit-learn may even abort on a "non-positive" variance
            sk_error = np.inf
    ours = GaussianMixture(3, covariance_type="diag", **shifted).fit(X + 1e8).lower_bound_
    assert abs(ours - near) / abs(near) < 1e-6
    assert sk_error > 1e-3


# ----------------------------------------------------------------------------- restarts


class FailsOnFirstRestart(FullCovariance):
    """Full covariance whose first restart turns singular (a stand-in for a collapse)."""

    name = "test-fails-first-restart"
    calls = 0

    def precision_cholesky(self, covariances):
        type(self).calls += 1
        if type(self).calls == 1:
            raise NotPositiveDefiniteError("component 0 collapsed onto a single point")
        return super().precision_cholesky(covariances)


def test_a_singular_restart_is_dropped_with_a_warning():
    X = blobs(4)
    registry = get_registry()
    FailsOnFirstRestart.calls = 0
    registry.register("covariance", FailsOnFirstRestart)
    try:
        with pytest.warns(RestartFailedWarning, match="restart 1 of 3"):
            model = GaussianMixture(3, covariance_type=FailsOnFirstRestart.name, n_init=3,
                                    random_state=0).fit(X)
    finally:
        registry.unregister("covariance", FailsOnFirstRestart.name)
    reference = GaussianMixture(3, n_init=3, random_state=0).fit(X)
    assert model.converged_
    # Restarts 2 and 3 are the same as the reference's, which had restart 1 as well.
    assert model.lower_bound_ <= reference.lower_bound_ + 1e-12
    assert model.lower_bound_ > reference.lower_bound_ - 0.5


def test_every_restart_singular_raises_with_cause_and_remedy():
    rng = np.random.RandomState(0)
    X = np.vstack([np.tile([5.0, 5.0], (40, 1)), rng.randn(200, 2)])  # a point repeated 40×
    model = GaussianMixture(2, reg_covar=0.0, n_init=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RestartFailedWarning)
        with pytest.raises(FitError) as err:
            model.fit(X)
    message = str(err.value)
    assert "singular" in message and "reg_covar" in message and "fewer components" in message
    assert "duplicate or constant columns" in message
    assert not hasattr(model, "means_")  # nothing half-fitted is left behind
    # The remedy works.
    assert GaussianMixture(2, reg_covar=1e-6, random_state=0).fit(X).converged_


def test_more_components_than_rows_and_one_row_are_refused():
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(5).fit(np.random.RandomState(0).randn(3, 2))
    with pytest.raises(ValueError, match="1 sample"):
        GaussianMixture(1).fit([[1.0, 2.0]])
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture(1).fit([[1.0, np.nan], [2.0, 3.0]])
    with pytest.raises(ValueError, match="infinity"):
        GaussianMixture(1).fit([[1.0, np.inf], [2.0, 3.0]])


# ----------------------------------------------------------------------------- progress


def test_callback_reports_every_iteration_of_every_restart():
    X = blobs(5)
    seen = []
    model = GaussianMixture(3, n_init=2, tol=1e-6, random_state=0)
    model.fit(X, callback=seen.append)
    per_restart = [[p for p in seen if p.restart == r] for r in range(2)]
    assert all(len(p) >= 2 for p in per_restart)
    for progress in per_restart:
        assert [p.iteration for p in progress] == list(range(1, len(progress) + 1))
        bounds = [p.lower_bound for p in progress]
        assert all(b2 >= b1 - 1e-9 for b1, b2 in itertools.pairwise(bounds))
        changes = [p.change for p in progress[1:]]
        np.testing.assert_allclose(changes, np.diff(bounds), rtol=1e-12)
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and 0 < fractions[0] and fractions[-1] <= 1
    elapsed = [p.elapsed for p in seen]
    assert elapsed == sorted(elapsed)
    assert max(len(per_restart[0]), len(per_restart[1])) >= model.n_iter_


def test_cancel_leaves_an_unfitted_model_unfitted():
    model = GaussianMixture(3, random_state=0, tol=0, max_iter=50)
    with pytest.raises(FitCancelled):
        model.fit(blobs(6), callback=lambda p: p.iteration == 3)
    assert not hasattr(model, "means_") and not hasattr(model, "converged_")
    with pytest.raises(NotFittedError):
        model.predict(blobs(6))


def test_cancel_leaves_a_fitted_model_exactly_as_it_was():
    X = blobs(7)
    model = GaussianMixture(3, random_state=0).fit(X)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(model).items()}
    model.set_params(n_components=2, covariance_type="diag")
    with pytest.raises(FitCancelled):
        model.fit(X[:50], callback=lambda p: True)
    assert model.n_components == 2  # the parameters the user set stay
    for key, value in before.items():
        if key in ("n_components", "covariance_type"):
            continue
        np.testing.assert_array_equal(getattr(model, key), value)


# ----------------------------------------------------------------------------- selection


def test_model_selection_table_and_best_cell():
    X = blobs(8, n=450)
    progress = []
    result = select_models(X, range(1, 5), ["full", "diag"], n_init=2, random_state=0,
                           callback=progress.append)
    assert len(result.cells) == 8
    for cell in result.cells:
        model = cell.model
        assert cell.bic == pytest.approx(model.bic(X), rel=1e-12)
        assert cell.aic == pytest.approx(model.aic(X), rel=1e-12)
        assert cell.n_parameters == model.n_parameters()
        assert cell.log_likelihood == pytest.approx(model.score(X) * len(X), rel=1e-12)
    assert result.best is min(result.cells, key=lambda c: c.bic)
    assert result.best.n_components == 3  # three clusters were generated
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert any("K=3" in p.stage for p in progress)
    text = result.to_text()
    assert "*" in text and "full" in text
    with pytest.raises(FitCancelled):
        select_models(X, range(1, 4), "full", callback=lambda p: p.fraction > 0.3)


def test_selection_grid_in_both_bic_conventions():
    X = blobs(8, n=300)
    result = select_models(X, [1, 2, 3], ["full", "spherical"], random_state=0)
    for mclust_sign in (False, True):
        grid = result.to_grid(mclust_sign=mclust_sign).splitlines()
        assert ("higher is better" in grid[0]) is mclust_sign
        assert grid[1].split() == ["full", "spherical"]
        rows = {int(line.split()[0]): line.split()[1:] for line in grid[2:]}
        assert sorted(rows) == [1, 2, 3]
        for cell in result.cells:
            col = ["full", "spherical"].index(cell.covariance_type)
            shown = float(rows[cell.n_components][col].rstrip("*"))
            expected = -cell.bic if mclust_sign else cell.bic
            assert shown == pytest.approx(expected, abs=0.006)
            assert rows[cell.n_components][col].endswith("*") == (cell is result.best)


def test_selection_rejects_unknown_names_and_bad_data_upfront():
    with pytest.raises(ValueError, match=r"registered: .*'full'"):
        select_models(blobs(0), [1, 2], ["full", "no-such-type"])
    with pytest.raises(ValueError, match="NaN"):
        select_models(np.array([[np.nan, 1.0], [1.0, 2.0], [3.0, 4.0]]), [1], "full")


# ----------------------------------------------------------------------------- plugins, misc


def test_unknown_plugin_names_list_the_registered_ones():
    with pytest.raises(ValueError, match=r"'covariance_type'.*'full'.*'tied'.*Got 'bogus'"):
        GaussianMixture(covariance_type="bogus").fit(blobs(0))
    with pytest.raises(ValueError, match=r"'init_params'.*'kmeans'.*Got 'bogus'"):
        GaussianMixture(init_params="bogus").fit(blobs(0))


def test_bad_parameters_are_reported():
    for params, match in [
        (dict(n_components=0), "n_components"),
        (dict(tol=-1.0), "tol"),
        (dict(reg_covar=float("nan")), "reg_covar"),
        (dict(n_components=2, weights_init=[0.2, 0.2]), "normalized"),
        (dict(n_components=2, means_init=np.zeros((3, 2))), "shape"),
    ]:
        with pytest.raises(ValueError, match=match):
            GaussianMixture(**params).fit(blobs(0))


def test_pickling_for_scikit_learn_tools_round_trips():
    X = blobs(9)
    model = GaussianMixture(3, random_state=0).fit(X)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.score_samples(X), model.score_samples(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_marginals_and_full_covariances(covariance_type):
    X = blobs(10, d=4)
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    full = model.full_covariances()
    assert full.shape == (3, 4, 4)
    np.testing.assert_allclose(model.marginal_covariances(1, 3), full[:, [1, 3]][:, :, [1, 3]])
    np.testing.assert_allclose(np.linalg.inv(full), _expand_precisions(model), rtol=1e-8)


def _expand_precisions(model):
    p = model.precisions_
    k, d = model.means_.shape
    if model.covariance_type == "full":
        return p
    if model.covariance_type == "tied":
        return np.broadcast_to(p, (k, d, d))
    if model.covariance_type == "diag":
        return np.stack([np.diag(row) for row in p])
    return p[:, None, None] * np.eye(d)


def test_dataframe_feature_names_are_kept_and_checked():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(blobs(11), columns=["a", "b"])
    model = GaussianMixture(2, random_state=0).fit(X)
    assert list(model.feature_names_in_) == ["a", "b"]
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        model.predict(X[["b", "a"]])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        model.predict(X.to_numpy())
