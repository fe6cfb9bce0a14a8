"""Plugins that misbehave during a fit: the error names the plugin and the model is kept."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gmm_desktop.engine import GaussianMixture
from gmm_desktop.errors import FitError, PluginError
from gmm_desktop.plugin_api import CovarianceType, Initializer
from gmm_desktop.registry import Registry, use_registry


class _Diag(CovarianceType):
    structure = "diag"

    def n_parameters(self, n_components, n_features):
        return n_components * n_features

    def covariance_shape(self, n_components, n_features):
        return (n_components, n_features)

    def m_step(self, stats, reg_covar):
        return stats.scatter / stats.nk[:, None] + reg_covar


class NaNCovariance(_Diag):
    name = "nan-cov"

    def m_step(self, stats, reg_covar):
        out = super().m_step(stats, reg_covar)
        out[0, 0] = np.nan
        return out


class RaisingCovariance(_Diag):
    name = "raising-cov"

    def m_step(self, stats, reg_covar):
        raise ZeroDivisionError("the author forgot a case")


class WrongShapeCovariance(_Diag):
    name = "wrong-shape-cov"

    def m_step(self, stats, reg_covar):
        return super().m_step(stats, reg_covar)[:, :1]


class NonPDCovariance(CovarianceType):
    """Always returns an indefinite matrix: every restart fails."""

    name = "non-pd-cov"
    structure = "full"

    def n_parameters(self, n_components, n_features):
        return n_components * n_features * (n_features + 1) // 2

    def covariance_shape(self, n_components, n_features):
        return (n_components, n_features, n_features)

    def m_step(self, stats, reg_covar):
        cov = stats.scatter / stats.nk[:, None, None]
        cov[:, 0, 1] = cov[:, 1, 0] = 10 * np.sqrt(cov[:, 0, 0] * cov[:, 1, 1])
        return cov


class BadCholeskyCovariance(_Diag):
    name = "bad-cholesky-cov"

    def precision_cholesky(self, covariances):
        raise TypeError("unsupported operand")


class RowsNotOne(Initializer):
    name = "rows-not-one"

    def initialize(self, X, n_components, random_state, sample_weight=None):
        return np.full((X.shape[0], n_components), 0.7)


class RaisingInitializer(Initializer):
    name = "raising-init"

    def initialize(self, X, n_components, random_state, sample_weight=None):
        raise KeyError("column")


class NaNInitializer(Initializer):
    name = "nan-init"

    def initialize(self, X, n_components, random_state, sample_weight=None):
        resp = np.full((X.shape[0], n_components), 1.0 / n_components)
        resp[3] = np.nan
        return resp


class FailingConstructor(_Diag):
    name = "failing-ctor"

    def __init__(self):
        raise RuntimeError("needs a licence file")


@pytest.fixture
def registry(settings):
    reg = Registry(settings=settings)
    for cls in (NaNCovariance, RaisingCovariance, WrongShapeCovariance, NonPDCovariance,
                BadCholeskyCovariance, FailingConstructor):
        reg.register("covariance", cls)
    for cls in (RowsNotOne, RaisingInitializer, NaNInitializer):
        reg.register("initializer", cls)
    with use_registry(reg):
        yield reg


@pytest.fixture
def fitted():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(6, 1, (100, 2))])
    gm = GaussianMixture(2, random_state=0).fit(X)
    state = {k: np.array(v, copy=True) for k, v in vars(gm).items()
             if k.endswith("_") and isinstance(v, np.ndarray)}
    return gm, X, state


def _assert_unchanged(gm, state):
    for key, value in state.items():
        np.testing.assert_array_equal(getattr(gm, key), value, err_msg=key)


@pytest.mark.parametrize(
    ("param", "name", "message"),
    [
        ("covariance_type", "nan-cov", "covariance type 'nan-cov' returned non-finite"),
        ("covariance_type", "raising-cov",
         "covariance type 'raising-cov' failed in its M-step: ZeroDivisionError"),
        ("covariance_type", "wrong-shape-cov",
         "covariance type 'wrong-shape-cov' returned covariances of shape (2, 1)"),
        ("covariance_type", "bad-cholesky-cov",
         "covariance type 'bad-cholesky-cov' failed in precision_cholesky: TypeError"),
        ("covariance_type", "failing-ctor",
         "plugin 'failing-ctor' (runtime) could not be created: RuntimeError"),
        ("init_params", "rows-not-one",
         "initializer 'rows-not-one' returned responsibilities whose rows do not sum to one"),
        ("init_params", "raising-init", "initializer 'raising-init' failed: KeyError"),
        ("init_params", "nan-init", "initializer 'nan-init' returned non-finite"),
    ],
)
def test_a_misbehaving_plugin_fails_the_fit_by_name_and_keeps_the_model(
    registry, fitted, param, name, message
):
    gm, X, state = fitted
    gm.set_params(**{param: name})
    with pytest.raises(PluginError) as info:
        gm.fit(X)
    assert message in str(info.value)
    assert info.value.plugin == name
    _assert_unchanged(gm, state)
    # the model still predicts with its previous (built-in) covariance type
    gm.set_params(covariance_type="full", init_params="kmeans")
    assert gm.predict(X).shape == (200,)


def test_a_plugin_that_is_never_positive_definite_fails_every_restart_by_name(
    registry, fitted
):
    gm, X, state = fitted
    gm.set_params(covariance_type="non-pd-cov", n_init=3)
    with warnings.catch_warnings(record=True) as caught, pytest.raises(FitError) as info:
        warnings.simplefilter("always")
        gm.fit(X)
    text = str(info.value)
    assert "Every restart (3 of 3) failed" in text
    assert "The covariance type 'non-pd-cov' is a plugin (runtime)" in text
    assert sum("Dropped restart" in str(w.message) for w in caught) == 3
    _assert_unchanged(gm, state)


def test_a_builtin_singular_fit_does_not_blame_a_plugin():
    X = np.zeros((10, 2))
    X[:5] = 1.0
    gm = GaussianMixture(2, covariance_type="full", reg_covar=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(FitError) as info:
            gm.fit(X)
    assert "is a plugin" not in str(info.value)


def test_a_plugin_failing_to_import_fails_the_fit_by_name(make_dist, settings):
    make_dist("broken-gmm", {"gmm_desktop.covariance_types": {"broken": "MOD:X"}},
              {"MOD": "raise RuntimeError('no luck')\n"})
    reg = Registry(settings=settings)
    X = np.random.RandomState(0).normal(size=(50, 2))
    with use_registry(reg), pytest.raises(PluginError) as info:
        GaussianMixture(2, covariance_type="broken").fit(X)
    assert info.value.plugin == "broken"
    assert "'broken' (package broken-gmm 1.0) failed to load" in str(info.value)
    assert "RuntimeError: no luck" in str(info.value)
