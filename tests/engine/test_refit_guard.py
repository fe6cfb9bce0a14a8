"""run_refit gives refit plugins a copy of the model and checks what they return: a
misbehaving strategy is refused by name and never damages the caller's model (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest

from gmm_desktop.engine import GaussianMixture
from gmm_desktop.engine.anomaly import ThresholdSpec, detect, run_refit
from gmm_desktop.errors import PluginError
from gmm_desktop.plugin_api import RefitResult, RefitStrategy, clone_model
from gmm_desktop.registry import get_registry


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(150, 2), rng.randn(150, 2) * 0.5 + 5, rng.uniform(-8, 12, (10, 2))])
    return GaussianMixture(2, random_state=0).fit(X), X


SPEC = ThresholdSpec("contamination", 0.03)


class _Base(RefitStrategy):
    def refit(self, X, model):
        return clone_model(model).fit(X)

    def run(self, X, model, *, threshold=None, exclude=None, never_flag=None, callback=None):
        new = self.refit(X, model)
        return RefitResult(new, np.zeros(X.shape[0], dtype=bool), [])


class Vandal(_Base):
    """Overwrites the model it is given with NaN, then refits a clean clone."""

    name = "vandal"

    def refit(self, X, model):
        model.means_[:] = np.nan
        model.weights_[:] = np.nan
        model.covariances_[...] = np.nan
        return super().refit(X, model)


def _returning(name, edit):
    class Strategy(_Base):
        def refit(self, X, model):
            new = clone_model(model).fit(X)
            edit(new)
            return new

    Strategy.name = name
    return Strategy()


def test_a_strategy_that_mutates_its_input_cannot_damage_the_callers_model(fitted):
    model, X = fitted
    means, weights = model.means_.copy(), model.weights_.copy()
    before = model.score_samples(X)
    result = run_refit(Vandal(), model, X, SPEC)
    np.testing.assert_array_equal(model.means_, means)
    np.testing.assert_array_equal(model.weights_, weights)
    again = detect(model, X, SPEC)  # the next detection with the caller's model
    np.testing.assert_array_equal(again.scores.log_density, before)
    assert np.all(np.isfinite(again.scores.log_density)) and again.n_flagged == 9
    assert np.all(np.isfinite(result.scores.log_density))


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda m: m.means_.__setitem__((0, 0), np.nan), "non-finite means"),
        (lambda m: setattr(m, "weights_", m.weights_ * 0.5), "sum to 0.5"),
        (lambda m: setattr(m, "weights_", np.array([1.5, -0.5])), "not a probability vector"),
        (lambda m: setattr(m, "means_", np.zeros((2, 3))), r"means of shape \(2, 3\)"),
        (lambda m: setattr(m, "weights_", np.array([1.0])), r"weights of shape \(1,\)"),
        (lambda m: setattr(m, "covariances_", np.ones((2, 2))), "covariances of shape"),
        (lambda m: m.covariances_.__setitem__((1, 0, 0), np.inf), "non-finite covariances"),
        (lambda m: m.precisions_cholesky_.__setitem__((0, 1, 1), np.nan),
         "non-finite precision factors"),
        (lambda m: delattr(m, "covariances_"), "no covariances_"),
    ],
)
def test_a_broken_model_is_refused_naming_the_strategy(fitted, edit, expected):
    model, X = fitted
    before = model.score_samples(X)
    with pytest.raises(PluginError, match=expected) as info:
        run_refit(_returning("broken-model", edit), model, X, SPEC)
    assert info.value.plugin == "broken-model"
    assert "refit strategy 'broken-model'" in str(info.value)
    np.testing.assert_array_equal(model.score_samples(X), before)


def test_returning_the_model_it_was_given_is_refused(fitted):
    model, X = fitted

    class Lazy(_Base):
        name = "lazy"

        def refit(self, X, model):
            return model

    with pytest.raises(PluginError, match="must return a new fitted model"):
        run_refit(Lazy(), model, X, SPEC)


def test_any_exception_of_a_strategy_names_it(fitted):
    model, X = fitted

    class Crashes(_Base):
        name = "crashes"

        def refit(self, X, model):
            return {}["missing"]

    with pytest.raises(PluginError, match="refit strategy 'crashes' failed: KeyError"):
        run_refit(Crashes(), model, X, SPEC)


@pytest.mark.parametrize("name", ["trim-and-refit", "iterative-trimming", "noise-component"])
def test_the_built_in_strategies_pass_the_checks(fitted, name):
    model, X = fitted
    means = model.means_.copy()
    result = run_refit(get_registry().create("refit", name), model, X, SPEC)
    assert result.refit is not None and np.all(np.isfinite(result.scores.log_density))
    np.testing.assert_array_equal(model.means_, means)
