"""Bad constructor parameters fail as in scikit-learn: same class, same message.

Each case fits scikit-learn's ``GaussianMixture`` and ours with the same bad value and
compares the exception class and text directly (nothing is hard-coded but the values).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.utils._param_validation import InvalidParameterError

from gmm_desktop.engine import GaussianMixture
from gmm_desktop.registry import get_registry

X = np.random.RandomState(0).randn(60, 2)

BAD = {
    "n_components": ["3", 0, -2, 2.0, None, np.int64(0), np.float64(3.0)],
    "tol": ["1e-3", -1.0, np.nan, np.inf, None, 1j],
    "reg_covar": ["a", -1e-3, np.nan, np.inf, None],
    "max_iter": [-1, 1.5, "10", None],
    "n_init": [0, "1", 1.0, -3],
    "weights_init": ["abc", 3, 0.5],
    "means_init": ["abc", 3.0],
    "precisions_init": ["abc", 2],
    "random_state": ["x", -1, 2**32, 1.5, np.random.default_rng(0)],
    "warm_start": ["yes", 1, None, 0.0],
    "verbose": [-1, "1", 1.5, None],
    "verbose_interval": [0, "10", 2.5, -1],
}
CASES = [(name, value) for name, values in BAD.items() for value in values]


def _error(estimator_class: type, **params: object) -> Exception:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as info:
            estimator_class(**params).fit(X)
    return info.value


@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{n}={v!r}" for n, v in CASES])
def test_bad_parameter_raises_what_scikit_learn_raises(name, value):
    expected = _error(SkGaussianMixture, **{name: value})
    assert type(expected) is InvalidParameterError  # the case is really a bad value
    ours = _error(GaussianMixture, **{name: value})
    assert type(ours) is type(expected)
    assert str(ours) == str(expected)


def test_the_issue_case_n_components_as_text():
    with pytest.raises(InvalidParameterError) as info:
        GaussianMixture(n_components="3").fit(X)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    assert str(info.value) == (
        "The 'n_components' parameter of GaussianMixture must be an int in the range "
        "[1, inf). Got '3' instead."
    )


_OPTIONS = re.compile(r"\{(.*)\}")


@pytest.mark.parametrize(
    ("name", "kind"), [("covariance_type", "covariance"), ("init_params", "initializer")]
)
@pytest.mark.parametrize("value", ["nope", 1, None])
def test_plugin_choices_use_scikit_learns_message_and_list_the_registered_names(
    name, kind, value
):
    expected = _error(SkGaussianMixture, **{name: value})
    ours = _error(GaussianMixture, **{name: value})
    assert type(ours) is type(expected) is InvalidParameterError
    # Same sentence; only the set of choices differs (ours lists every registered plugin).
    assert _OPTIONS.sub("{}", str(ours)) == _OPTIONS.sub("{}", str(expected))
    sk_choices = set(re.findall(r"'([^']+)'", _OPTIONS.search(str(expected)).group(1)))
    our_listing = _OPTIONS.search(str(ours)).group(1)
    registered = get_registry().names(kind)
    assert our_listing == ", ".join(repr(n) for n in sorted(registered))
    assert sk_choices <= set(registered)


def test_registered_plugin_names_are_accepted():
    pytest.importorskip("gmm_desktop_mclust")
    model = GaussianMixture(2, covariance_type="VVV", init_params="mclust-hc", random_state=0)
    model.fit(X)
    assert model.converged_
    assert np.isfinite(model.score(X))


def test_parameters_are_checked_before_the_data():
    bad_data = np.array([[np.nan, 1.0], [2.0, 3.0], [4.0, 5.0]])
    expected = _error(SkGaussianMixture, n_components="2")
    with pytest.raises(InvalidParameterError) as info:
        GaussianMixture(n_components="2").fit(bad_data)
    assert str(info.value) == str(expected)


def test_first_bad_parameter_in_name_order_is_reported_like_scikit_learn():
    params = {"tol": -1.0, "max_iter": -1, "n_components": 0}
    expected = _error(SkGaussianMixture, **params)
    assert str(_error(GaussianMixture, **params)) == str(expected)


def test_set_params_is_validated_at_fit_as_in_scikit_learn():
    model = GaussianMixture(2).set_params(reg_covar=-1.0)  # accepted here, as in sklearn
    expected = _error(SkGaussianMixture, reg_covar=-1.0)
    with pytest.raises(InvalidParameterError, match=re.escape(str(expected))):
        model.fit(X)
    assert not hasattr(model, "weights_")  # the failed fit left nothing behind


@pytest.mark.parametrize(
    "params",
    [
        {"verbose": True},
        {"warm_start": np.bool_(True)},
        {"random_state": np.random.RandomState(1)},
        {"random_state": 2**32 - 1},
        {"n_components": np.int32(2)},
        {"tol": 0},
        {"reg_covar": np.float32(1e-6)},
        {"chunk_size": 7},
        {"weights_init": [0.5, 0.5], "n_components": 2},
    ],
    ids=lambda p: ",".join(f"{k}={v!r}" for k, v in p.items()),
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_values_scikit_learn_accepts_are_accepted(params, capsys):
    ours = GaussianMixture(**{"n_components": 2, **params}).fit(X)
    theirs_params = {k: v for k, v in params.items() if k != "chunk_size"}
    theirs = SkGaussianMixture(**{"n_components": 2, **theirs_params}).fit(X)
    assert ours.weights_.shape == theirs.weights_.shape


@pytest.mark.parametrize("value", [True, np.bool_(True)])
def test_a_bool_number_of_components_is_refused_with_a_clear_type_error(value):
    # scikit-learn lets it through its constraints and then fails with a bare
    # "TypeError: an integer is required"; ours says which parameter is wrong.
    with pytest.raises(TypeError):
        SkGaussianMixture(n_components=value).fit(X)
    with pytest.raises(InvalidParameterError, match=r"'n_components'.*Got (np\.)?True_? "):
        GaussianMixture(n_components=value).fit(X)


@pytest.mark.parametrize("value", [0, -5, 2.5, "100"])
def test_chunk_size_has_a_constraint_of_its_own(value):
    with pytest.raises(InvalidParameterError) as info:
        GaussianMixture(2, chunk_size=value).fit(X)
    assert str(info.value) == (
        "The 'chunk_size' parameter of GaussianMixture must be an int in the range "
        f"[1, inf) or None. Got {value!r} instead."
    )


def test_a_disabled_plugin_name_says_it_is_disabled(tmp_path):
    pytest.importorskip("gmm_desktop_mclust")
    from gmm_desktop.errors import PluginError
    from gmm_desktop.registry import Registry, use_registry
    from gmm_desktop.settings import Settings

    registry = Registry(settings=Settings(tmp_path / "settings.json"))
    registry.set_enabled("covariance", "VVV", False)
    with use_registry(registry):
        with pytest.raises(PluginError, match=r"'VVV' .*is disabled in the settings"):
            GaussianMixture(2, covariance_type="VVV").fit(X)
        with pytest.raises(InvalidParameterError) as info:
            GaussianMixture(2, covariance_type="VVW").fit(X)
    offered = str(info.value).split("Got")[0]
    assert "'VVV'" not in offered and "'VVE'" in offered  # only usable names are offered
