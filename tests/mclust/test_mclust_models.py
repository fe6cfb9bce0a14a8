"""The mclust covariance models: conformance, agreement with the built-ins, counts, M-steps."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import linalg, optimize

mclust = pytest.importorskip(
    "gmm_desktop_mclust",
    reason="the gmm-desktop-mclust plugin pack is not installed "
    "(pip install -e plugins/gmm-desktop-mclust)",
)

from gmm_desktop_mclust.models import MODELS, n_var_params  # noqa: E402

from gmm_desktop.engine import GaussianMixture  # noqa: E402
from gmm_desktop.testing import check_covariance_type, direct_statistics  # noqa: E402

MULTIVARIATE = [name for name in MODELS if name not in ("E", "V")]
ITERATIVE = ["VEI", "VEE", "EVE", "VVE", "VEV"]


def _blobs(seed: int, n: int = 300, d: int = 3, k: int = 3):
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=5.0, size=(k, d))
    labels = rng.randint(k, size=n)
    X = np.empty((n, d))
    for j in range(k):
        A = rng.normal(size=(d, d)) * 0.6 + np.eye(d) * (0.5 + 0.4 * j)
        rows = labels == j
        X[rows] = centers[j] + rng.normal(size=(int(rows.sum()), d)) @ A.T
    return X, labels


def _objective(scatter, nk, full):
    """Σₖ nₖ log det Σₖ + tr(Σₖ⁻¹ Wₖ): minus twice the expected complete-data log-likelihood
    of the covariances, up to constants."""
    _, logdet = np.linalg.slogdet(full)
    return float(np.sum(nk * logdet + np.einsum("kii->k", np.linalg.solve(full, scatter))))


# --------------------------------------------------------------------------- conformance


@pytest.mark.parametrize("name", list(MODELS))
def test_conformance_kit(name):
    # E and V declare univariate = True: the kit checks them on one feature.
    check_covariance_type(MODELS[name])


def test_the_engine_refuses_several_features_for_a_univariate_model():
    X, _ = _blobs(0, d=2)
    for name in ("E", "V"):
        with pytest.raises(ValueError, match=rf"'{name}' is for one feature only, but X has 2"):
            GaussianMixture(2, covariance_type=name).fit(X)


def test_univariate_models_refuse_several_features_with_a_clear_message():
    X, _ = _blobs(0, d=2)
    stats = direct_statistics(X, np.eye(3)[np.arange(300) % 3], "diag")
    for name, other in (("E", "EII"), ("V", "VII")):
        with pytest.raises(ValueError, match=rf"'{name}' is for univariate data.*{other}"):
            MODELS[name]().m_step(stats, 0.0)


def test_univariate_models_fit_one_feature_like_their_definition():
    rng = np.random.RandomState(1)
    x = np.concatenate([rng.normal(0, 1, 200), rng.normal(6, 2, 150)])[:, None]
    resp = np.zeros((350, 2))
    resp[:200, 0] = 1
    resp[200:, 1] = 1
    stats = direct_statistics(x, resp, "diag")
    e = MODELS["E"]().m_step(stats, 0.0)
    v = MODELS["V"]().m_step(stats, 0.0)
    pooled = (np.var(x[:200]) * 200 + np.var(x[200:]) * 150) / 350
    np.testing.assert_allclose(e, [[pooled], [pooled]], rtol=1e-10)
    np.testing.assert_allclose(v, [[np.var(x[:200])], [np.var(x[200:])]], rtol=1e-10)
    for name, p in (("E", 1), ("V", 2)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm = GaussianMixture(2, covariance_type=name, random_state=0).fit(x)
        assert gm.n_parameters() == p + 2 + 1  # variances + means + weights
        assert np.isfinite(gm.lower_bound_)
    # the univariate models are EII and VII on one feature
    for uni, multi in (("E", "EII"), ("V", "VII")):
        np.testing.assert_array_equal(
            MODELS[uni]().m_step(stats, 1e-6), MODELS[multi]().m_step(stats, 1e-6)
        )


# --------------------------------------------------------------------------- built-in parity


@pytest.mark.parametrize(
    ("name", "builtin"),
    [("VII", "spherical"), ("VVI", "diag"), ("EEE", "tied"), ("VVV", "full")],
)
def test_same_log_likelihood_as_the_builtin_type_from_the_same_start(name, builtin):
    X, _ = _blobs(2, n=400, d=3)
    fits = {}
    for cov in (name, builtin):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits[cov] = GaussianMixture(
                3, covariance_type=cov, random_state=0, tol=1e-10, max_iter=60
            ).fit(X)
    a, b = fits[name], fits[builtin]
    assert a.n_iter_ == b.n_iter_
    assert abs(a.lower_bound_ - b.lower_bound_) <= 1e-8
    total_a = a.score(X) * len(X)
    total_b = b.score(X) * len(X)
    assert abs(total_a - total_b) <= 1e-8 * max(1.0, abs(total_b))
    np.testing.assert_allclose(a.full_covariances(), b.full_covariances(), rtol=1e-7, atol=1e-12)
    assert a.n_parameters() == b.n_parameters()


# --------------------------------------------------------------------------- parameter counts


def _decomposed_count(name: str, G: int, d: int) -> int:
    """Volume + shape + orientation parameters, counted separately (Celeux & Govaert)."""
    volume = {"E": 1, "V": G}[name[0]]
    shape = {"I": 0, "E": d - 1, "V": G * (d - 1)}[name[1]]
    orientation = {"I": 0, "E": d * (d - 1) // 2, "V": G * d * (d - 1) // 2}[name[2]]
    return volume + shape + orientation


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_parameter_counts_are_mclusts(name):
    for G in range(1, 10):
        for d in range(1, 8):
            assert n_var_params(name, G, d) == _decomposed_count(name, G, d)
            assert MODELS[name]().n_parameters(G, d) == n_var_params(name, G, d)
    # the general models' counts, as mclust's nVarParams writes them
    G, d = 4, 5
    assert n_var_params("VEE", G, d) == G + d * (d + 1) // 2 - 1
    assert n_var_params("EVV", G, d) == 1 + G * (d * (d + 1) // 2 - 1)
    assert n_var_params("VVV", G, d) == G * d * (d + 1) // 2


def test_total_degrees_of_freedom_as_mclust_reports_them():
    # mclust's summaries: faithful EEE,3 has df 11; iris VEV,2 has df 26.
    assert n_var_params("EEE", 3, 2) + 3 * 2 + 2 == 11
    assert n_var_params("VEV", 2, 4) + 2 * 4 + 1 == 26
    assert n_var_params("E", 3, 1) == 1 and n_var_params("V", 3, 1) == 3
    with pytest.raises(ValueError, match="unknown mclust model"):
        n_var_params("XYZ", 2, 2)


# --------------------------------------------------------------------------- M-steps


@pytest.mark.parametrize("name", ITERATIVE)
def test_iterative_m_step_improves_on_its_closed_form_start(name):
    X, _ = _blobs(3, n=300, d=3)
    rng = np.random.RandomState(0)
    resp = rng.dirichlet(np.ones(3) * 0.5, size=300)
    cls = MODELS[name]
    model = cls()
    stats = direct_statistics(X, resp, "full")
    full_scatter = stats.scatter
    scatter = stats.scatter if cls.structure == "full" else np.diagonal(stats.scatter, 0, 1, 2)
    start = model.to_full(model.initial_estimate(scatter.copy(), stats.nk), 3, 3)
    one = type("OneStep", (cls,), {"inner_max_iter": 1})()
    dstats = stats if cls.structure == "full" else direct_statistics(X, resp, "diag")
    after_one = one.to_full(one.m_step(dstats, 0.0), 3, 3)
    final = model.to_full(model.m_step(dstats, 0.0), 3, 3)
    q_start = _objective(full_scatter, stats.nk, start)
    q_one = _objective(full_scatter, stats.nk, after_one)
    q_final = _objective(full_scatter, stats.nk, final)
    assert q_final <= q_one + 1e-9 * abs(q_one)
    assert q_one <= q_start + 1e-9 * abs(q_start)
    assert q_final < q_start - 1e-6 * abs(q_start)


def _decompose(name: str, covs: np.ndarray):
    """λₖ, Aₖ (diagonal, det 1) and Dₖ of a stack of covariances in the model's structure."""
    k, d, _ = covs.shape
    lam = np.exp(np.linalg.slogdet(covs)[1] / d)
    base = np.linalg.eigh(covs[0])[1]
    if name[2] == "I":
        orient = np.broadcast_to(np.eye(d), (k, d, d)).copy()
    elif name[2] == "E":
        orient = np.broadcast_to(base, (k, d, d)).copy()
    else:
        orient = np.linalg.eigh(covs)[1]
    shapes = np.einsum("kji,kjl,kli->ki", orient, covs, orient) / lam[:, None]
    return lam, shapes, orient


def _skew(v: np.ndarray, d: int) -> np.ndarray:
    s = np.zeros((d, d))
    s[np.triu_indices(d, 1)] = v
    return s - s.T


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_m_step_is_the_maximum_within_its_family(name):
    """No direction of the family (volumes, shapes, orientations) improves the M-step."""
    X, _ = _blobs(4, n=240, d=3)
    rng = np.random.RandomState(5)
    resp = rng.dirichlet(np.ones(3), size=240)
    cls = MODELS[name]
    model = cls()
    stats = direct_statistics(X, resp, cls.structure)
    full_stats = direct_statistics(X, resp, "full")
    covs = model.to_full(model.m_step(stats, 0.0), 3, 3)
    lam, shapes, orient = _decompose(name, covs)
    k, d = 3, 3
    nv = {"E": 1, "V": k}[name[0]]
    ns = {"I": 0, "E": d - 1, "V": k * (d - 1)}[name[1]]
    no = {"I": 0, "E": d * (d - 1) // 2, "V": k * d * (d - 1) // 2}[name[2]]
    q = d * (d - 1) // 2

    def build(theta):
        v = theta[:nv]
        s = theta[nv : nv + ns]
        o = theta[nv + ns :]
        out = np.empty((k, d, d))
        for j in range(k):
            vol = lam[j] * np.exp(v[0] if nv == 1 else v[j])
            if ns == 0:
                ls = np.zeros(d)
            else:
                part = s if ns == d - 1 else s[j * (d - 1) : (j + 1) * (d - 1)]
                ls = np.append(part, -part.sum())
            shp = shapes[j] * np.exp(ls)
            if no == 0:
                rot = orient[j]
            else:
                part = o if no == q else o[j * q : (j + 1) * q]
                rot = orient[j] @ linalg.expm(_skew(part, d))
            out[j] = rot @ np.diag(vol * shp) @ rot.T
        return out

    def f(theta):
        return _objective(full_stats.scatter, stats.nk, build(theta))

    theta0 = np.zeros(nv + ns + no)
    np.testing.assert_allclose(build(theta0), covs, rtol=1e-8, atol=1e-10)
    best = optimize.minimize(f, theta0, method="BFGS", options={"gtol": 1e-10})
    assert best.fun >= f(theta0) - 1e-7 * abs(f(theta0)), (
        f"{name}: the M-step is not the maximum; a direction of the family improves the "
        f"objective from {f(theta0):.10g} to {best.fun:.10g}"
    )


def test_degenerate_component_gives_a_singular_covariance_not_nan():
    X, _ = _blobs(6, n=60, d=3)
    resp = np.zeros((60, 3))
    resp[:30, 0] = 1
    resp[30:59, 1] = 1
    resp[59, 2] = 1  # a one-row component: zero scatter
    for name in MULTIVARIATE:
        cls = MODELS[name]
        stats = direct_statistics(X, resp, cls.structure)
        covs = cls().m_step(stats, 0.0)
        assert np.all(np.isfinite(covs)), name
        reg = cls().to_full(cls().m_step(stats, 1e-3), 3, 3)
        assert np.all(np.isfinite(reg)), name
