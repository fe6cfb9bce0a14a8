"""The conformance kit: the built-ins pass it, and broken plugins fail it precisely."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.mixture import _gaussian_mixture as skgm

from gmm_desktop.plugin_api import CovarianceType, Initializer, RefitStrategy
from gmm_desktop.registry import get_registry
from gmm_desktop.testing import (
    check_covariance_type,
    check_initializer,
    check_plugin,
    check_refit_strategy,
    direct_statistics,
)

BUILTINS = [
    (rec.kind, rec.name) for rec in get_registry().records() if rec.origin == "built-in"
]


@pytest.mark.parametrize(("kind", "name"), BUILTINS)
def test_every_builtin_passes_the_kit(kind, name):
    check_plugin(get_registry().get_class(kind, name))


@pytest.mark.parametrize("name", ["full", "tied", "diag", "spherical"])
def test_builtin_m_steps_match_scikit_learn(name):
    rng = np.random.RandomState(3)
    X = rng.normal(size=(150, 3)) @ rng.normal(size=(3, 3)) + 4
    resp = rng.dirichlet(np.ones(3), size=150)
    cov = get_registry().create("covariance", name)
    stats = direct_statistics(X, resp, cov.structure)
    nk = resp.sum(0) + 10 * np.finfo(float).eps
    means = resp.T @ X / nk[:, None]
    estimate = getattr(skgm, f"_estimate_gaussian_covariances_{name}")
    np.testing.assert_allclose(cov.m_step(stats, 1e-4), estimate(resp, X, nk, means, 1e-4),
                               rtol=1e-9)


class EEI(CovarianceType):
    """A correct EEI, stored once per component, as a base for broken variants."""

    name = "test-eei"
    structure = "diag"

    def n_parameters(self, n_components, n_features):
        return n_features

    def covariance_shape(self, n_components, n_features):
        return (n_components, n_features)

    def m_step(self, stats, reg_covar):
        shared = stats.scatter.sum(axis=0) / stats.nk.sum() + reg_covar
        return np.repeat(shared[None], stats.n_components, axis=0)


def eei_reference(stats, reg):
    return np.repeat((stats.scatter.sum(0) / stats.nk.sum() + reg)[None], len(stats.nk), 0)


def test_a_correct_new_type_passes_and_is_not_left_registered():
    check_covariance_type(EEI, reference=eei_reference)
    assert "test-eei" not in get_registry().names("covariance")


class WrongCount(EEI):
    def n_parameters(self, n_components, n_features):
        return n_components * n_features


class WrongScale(EEI):
    def m_step(self, stats, reg_covar):
        shared = stats.scatter.sum(axis=0) / stats.n_components / 100 + reg_covar
        return np.repeat(shared[None], stats.n_components, axis=0)


class NoReg(EEI):
    def m_step(self, stats, reg_covar):
        return super().m_step(stats, 0.0)


class InPlace(EEI):
    def m_step(self, stats, reg_covar):
        out = super().m_step(stats, reg_covar)
        stats.scatter[...] = 0.0
        return out


class LossyJSON(EEI):
    def to_json(self, covariances):
        return np.asarray(covariances, dtype=np.float32).tolist()


class BadMarginal(EEI):
    def marginal_2d(self, covariances, n_components, n_features, i, j):
        return np.ones((n_components, 2, 2))


class UnorderedSample(EEI):
    def sample(self, rng, means, covariances, counts):
        return super().sample(rng, means, covariances, counts)[::-1]


class BadCholesky(EEI):
    def precision_cholesky(self, covariances):
        return 1.0 / np.asarray(covariances)  # forgot the square root


class Inflated(EEI):
    """Inflates the variances: not a maximum-likelihood M-step."""

    def m_step(self, stats, reg_covar):
        return 1.3 * super().m_step(stats, 0.0) + reg_covar


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (WrongCount, "n_parameters(3, 3) = 9, but the M-step's covariances vary in 3"),
        (WrongScale, "overall scale is not the maximum-likelihood one"),
        (NoReg, "reg_covar must be added to the diagonal"),
        (InPlace, "m_step modified its input (stats.scatter)"),
        (LossyJSON, "from_json(to_json(covariances)) is not the same array"),
        (BadMarginal, "marginal_2d(covariances, 3, 3, 0, 1) against to_full's submatrix"),
        (UnorderedSample, "sampled rows of component 0 do not have its mean"),
        (BadCholesky, "precision_cholesky² against the inverse variances"),
        (Inflated, "overall scale is not the maximum-likelihood one"),
    ],
)
def test_broken_covariance_types_fail_with_a_precise_message(cls, message):
    with pytest.raises(AssertionError) as info:
        check_covariance_type(cls)
    assert message in str(info.value)
    assert str(info.value).startswith("[covariance type 'test-eei'")


def test_a_reference_that_disagrees_fails():
    with pytest.raises(AssertionError, match="m_step against the reference"):
        check_covariance_type(EEI, reference=lambda stats, reg: eei_reference(stats, reg) * 1.01)


class GoodInit(Initializer):
    name = "test-init"

    def initialize(self, X, n_components, random_state, sample_weight=None):
        labels = random_state.randint(n_components, size=X.shape[0])
        labels[:n_components] = np.arange(n_components)
        return np.eye(n_components)[labels]


class GlobalRandom(GoodInit):
    def initialize(self, X, n_components, random_state, sample_weight=None):
        return super().initialize(X, n_components, np.random.mtrand._rand, sample_weight)


class Unseeded(GoodInit):
    def initialize(self, X, n_components, random_state, sample_weight=None):
        return super().initialize(X, n_components, np.random.RandomState(), sample_weight)


class NotOne(GoodInit):
    def initialize(self, X, n_components, random_state, sample_weight=None):
        return super().initialize(X, n_components, random_state) * 0.5


class IgnoresWeights(GoodInit):
    def initialize(self, X, n_components, random_state, sample_weight=None):
        if sample_weight is not None:
            raise TypeError("weights are not supported")
        return super().initialize(X, n_components, random_state)


def test_a_correct_initializer_passes():
    check_initializer(GoodInit)


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (GlobalRandom, "used numpy's global random state"),
        (Unseeded, "is not deterministic under the same random_state"),
        (NotOne, "rows of the responsibilities must sum to 1"),
        (IgnoresWeights, "with sample weights raised TypeError"),
    ],
)
def test_broken_initializers_fail_with_a_precise_message(cls, message):
    with pytest.raises(AssertionError) as info:
        check_initializer(cls)
    assert message in str(info.value)
    assert str(info.value).startswith("[initializer 'test-init'")


def _trim():
    return get_registry().get_class("refit", "trim-and-refit")


def test_broken_refit_strategies_fail_with_a_precise_message():
    base = _trim()

    class Mutates(base):
        def run(self, X, model, **kwargs):
            out = super().run(X, model, **kwargs)
            model.means_ = model.means_ + 1.0
            return out

    class NoCancel(base):
        def run(self, X, model, *, callback=None, **kwargs):
            if callback is not None:
                callback(None)
            return super().run(X, model, **kwargs)

    class IgnoresLabels(base):
        def run(self, X, model, *, exclude=None, never_flag=None, **kwargs):
            return super().run(X, model, **kwargs)

    for cls, message in [
        (Mutates, "run modified the input model's means_"),
        (NoCancel, "a callback returning True did not cancel the run"),
        (IgnoresLabels, "rows in exclude were not flagged"),
    ]:
        with pytest.raises(AssertionError) as info:
            check_refit_strategy(cls)
        assert message in str(info.value), str(info.value)


def test_check_plugin_refuses_what_is_not_a_plugin():
    with pytest.raises(AssertionError, match="subclasses none of"):
        check_plugin(int)
    assert issubclass(_trim(), RefitStrategy)
