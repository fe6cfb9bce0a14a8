"""The EM kernels: numba against numpy against scikit-learn, on the same numbers.

The numba tests skip when numba is not installed; the numpy-path tests always run.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gmm_desktop.engine import GaussianMixture, _em
from gmm_desktop.plugin_api import cholesky_precision_from_covariances

STRUCTURES = ("full", "diag")


@pytest.fixture
def kernels(monkeypatch: pytest.MonkeyPatch):
    """The compiled kernels (skips without numba), with numba enabled."""
    pytest.importorskip("numba")
    monkeypatch.delenv("GMM_DESKTOP_DISABLE_NUMBA", raising=False)
    module = _em._numba_kernels()
    if module is None:
        pytest.skip(f"numba kernels unavailable: {_em.backend_problem()}")
    return module


def _problem(n: int, d: int, k: int, structure: str, seed: int = 0, offset: float = 0.0):
    """Clustered data and plausible parameters (means from the data, random precisions)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(k, d))
    X = centres[rng.integers(0, k, n)] + rng.normal(size=(n, d)) + offset
    means = X[rng.choice(n, k, replace=False)] + 0.1 * rng.normal(size=(k, d))
    weights = rng.dirichlet(np.full(k, 3.0))
    if structure == "full":
        A = 0.2 * np.triu(rng.normal(size=(k, d, d)), 1)
        expanded = A + np.eye(d)[None] * rng.uniform(0.3, 1.2, size=(k, 1, d))
    else:
        expanded = rng.uniform(0.3, 1.2, size=(k, d))
    sample_weight = rng.uniform(0.0, 3.0, size=n)
    return X, weights, means, expanded, sample_weight


def _assert_same(a: tuple[float, _em.RawStats], b: tuple[float, _em.RawStats], rtol=1e-11):
    """Same log-likelihood and the same M-step input (means, scatter about them, masses).

    The raw moments may be taken about different centres (the quadratic-form kernel takes
    them about one shared centre), so they are compared once re-centred on the means.
    """
    (ll_a, raw_a), (ll_b, raw_b) = a, b
    assert ll_a == pytest.approx(ll_b, rel=rtol)
    fa, fb = raw_a.finalize(1.0), raw_b.finalize(1.0)
    for name in ("nk", "means", "scatter"):
        x, y = getattr(fa, name), getattr(fb, name)
        scale = np.abs(y).max()
        np.testing.assert_allclose(x, y, rtol=0, atol=rtol * scale, err_msg=name)


# --------------------------------------------------------------------------- one pass


@pytest.mark.parametrize("structure", STRUCTURES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [4, 17])  # 17: the full structure's BLAS kernel
def test_numba_pass_equals_numpy_pass(kernels, structure, weighted, dtype, n_features):
    X, weights, means, expanded, sw = _problem(1500, n_features, 3, structure)
    X = X.astype(dtype)
    sw = sw if weighted else None
    ref = _em.em_pass_numpy(X, sw, weights, means, expanded, structure, 256)
    choices = ("quad", "direct") if structure == "full" else (None,)
    for choice in choices:
        got = _em.em_pass_numba(
            X, sw, weights, means, expanded, structure, 256, threads=1, kernel_choice=choice
        )
        _assert_same(got, ref)
        # The full structure's scatter comes back symmetric (the kernels fill one triangle).
        if structure == "full":
            np.testing.assert_array_equal(got[1].S, np.swapaxes(got[1].S, 1, 2))


@pytest.mark.parametrize("structure", STRUCTURES)
@pytest.mark.parametrize("chunk", [1, 7, 64, 102, 103, 104, 5000])
@pytest.mark.parametrize("n_features", [3, 17])
def test_chunk_boundaries(kernels, structure, chunk, n_features):
    """n = 103 rows: a chunk of one row, chunks that do not divide n, n < chunk."""
    X, weights, means, expanded, sw = _problem(103, n_features, 4, structure, seed=2)
    ref = _em.em_pass_numpy(X, sw, weights, means, expanded, structure, 50)
    choices = ("quad", "direct") if structure == "full" else (None,)
    for threads, choice in itertools.product((1, 2, 3), choices):
        got = _em.em_pass_numba(
            X, sw, weights, means, expanded, structure, chunk, threads=threads,
            kernel_choice=choice,
        )
        _assert_same(got, ref)


def test_row_ranges_cover_every_row_once():
    for n in (1, 7, 100, 1001):
        for block in (1, 3, 64):
            for parts in (1, 2, 3, 8):
                ranges = _em._row_ranges(n, block, parts)
                assert ranges[0][0] == 0 and ranges[-1][1] == n
                assert all(a < b for a, b in ranges)
                assert all(r[1] == s[0] for r, s in itertools.pairwise(ranges))
                assert all(a % block == 0 for a, _ in ranges)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_offset_1e8_stays_exact(kernels, structure):
    """Far from the origin the centred moments still give the covariance of the data."""
    X0, weights, means0, expanded, sw = _problem(2000, 3, 2, structure, seed=3)
    shift = 1e8
    X, means = X0 + shift, means0 + shift
    for impl in (_em.em_pass_numpy, _em.em_pass_numba):
        ll, raw = impl(X, sw, weights, means, expanded, structure, 300)
        ll0, raw0 = _em.em_pass_numpy(X0, sw, weights, means0, expanded, structure, 300)
        # The shift changes the rows' last bits only (1e8 has an ulp of 1.5e-8).
        assert ll == pytest.approx(ll0, rel=1e-7)
        got = raw.finalize(float(sw.sum()))
        want = raw0.finalize(float(sw.sum()))
        np.testing.assert_allclose(got.means - shift, want.means, atol=1e-6)
        np.testing.assert_allclose(got.scatter, want.scatter, rtol=1e-6, atol=1e-6)


def test_well_separated_clusters_floor_does_not_move_the_sums(kernels):
    """Responsibilities far below 1e-154 are zeroed by the kernel; nothing visible changes."""
    rng = np.random.default_rng(4)
    d = 6
    X = np.concatenate([rng.normal(size=(400, d)) + c for c in (0.0, 60.0, 120.0)])
    means = np.array([[0.0] * d, [60.0] * d, [120.0] * d]) + 0.05
    expanded = np.full((3, d), 1.0)
    weights = np.full(3, 1 / 3)
    ref = _em.em_pass_numpy(X, None, weights, means, expanded, "diag", 128)
    got = _em.em_pass_numba(X, None, weights, means, expanded, "diag", 128, threads=1)
    _assert_same(got, ref, rtol=1e-12)


# --------------------------------------------------------------------------- whole fits


def _fit_pair(X, cov, k, seed, max_iter=15, **kwargs):
    """Fit ours and scikit-learn's from the same initial parameters."""
    init = SkGaussianMixture(
        k, covariance_type=cov, max_iter=1, init_params="random_from_data", random_state=seed
    ).fit(X)
    params = dict(
        covariance_type=cov,
        max_iter=max_iter,
        tol=0.0,
        weights_init=init.weights_,
        means_init=init.means_,
        precisions_init=init.precisions_,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = SkGaussianMixture(k, **params).fit(X)
        ours = GaussianMixture(k, **params, **kwargs).fit(X)
    return ours, sk


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("use_numba", [True, False])
def test_fit_matches_scikit_learn(request, monkeypatch, cov, use_numba):
    if use_numba:
        request.getfixturevalue("kernels")
    else:
        monkeypatch.setenv("GMM_DESKTOP_DISABLE_NUMBA", "1")
    assert _em.backend() == ("numba" if use_numba else "numpy")
    X, *_ = _problem(3000, 3, 3, "full", seed=5)
    ours, sk = _fit_pair(X, cov, 3, seed=1)
    assert ours.n_iter_ == sk.n_iter_
    assert ours.lower_bound_ == pytest.approx(sk.lower_bound_, rel=1e-10)
    np.testing.assert_allclose(ours.means_, sk.means_, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(ours.covariances_, sk.covariances_, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(ours.weights_, sk.weights_, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_numba_disabled_by_env_gives_the_same_fit(kernels, monkeypatch, cov):
    X, *_ = _problem(2500, 5, 4, cov, seed=6)
    sw = np.random.default_rng(6).uniform(0.2, 2.0, len(X))
    fast = GaussianMixture(4, covariance_type=cov, max_iter=30, random_state=0, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast.fit(X, sample_weight=sw)
        monkeypatch.setenv("GMM_DESKTOP_DISABLE_NUMBA", "1")
        assert _em.backend() == "numpy"
        slow = GaussianMixture(4, covariance_type=cov, max_iter=30, random_state=0, tol=0)
        slow.fit(X, sample_weight=sw)
    assert fast.lower_bound_ == pytest.approx(slow.lower_bound_, rel=1e-10)
    np.testing.assert_allclose(fast.means_, slow.means_, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(fast.covariances_, slow.covariances_, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_integer_weights_equal_repeated_rows(kernels, cov):
    X, *_ = _problem(800, 3, 3, cov, seed=7)
    counts = np.random.default_rng(7).integers(0, 4, len(X))
    kwargs = dict(covariance_type=cov, max_iter=10, tol=0, init_params="random", random_state=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted = GaussianMixture(3, **kwargs)
        # Same initial parameters for both: take them from a one-iteration weighted fit.
        weighted.fit(X, sample_weight=counts.astype(float))
        init = dict(
            weights_init=weighted.weights_,
            means_init=weighted.means_,
            precisions_init=weighted.precisions_,
        )
        kwargs.pop("init_params")
        a = GaussianMixture(3, **kwargs, **init).fit(X, sample_weight=counts.astype(float))
        b = GaussianMixture(3, **kwargs, **init).fit(np.repeat(X, counts, axis=0))
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=1e-10)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("use_numba", [True, False])
def test_float32_data_is_computed_in_float64(request, monkeypatch, use_numba):
    """A float32 fit runs the float64 fit of the same values; only the results are float32.

    The lower bound is the float64 fit's to 1e-12 (scikit-learn computing in float32 is
    off by about 1e-7), and every fitted array is the float64 fit's, rounded to float32.
    """
    if use_numba:
        request.getfixturevalue("kernels")
    else:
        monkeypatch.setenv("GMM_DESKTOP_DISABLE_NUMBA", "1")
    X, *_ = _problem(2000, 4, 3, "full", seed=8)
    X32 = X.astype(np.float32)
    X64 = X32.astype(np.float64)  # the same values
    for cov in ("full", "diag"):
        a, sk = _fit_pair(X64, cov, 3, seed=2)
        params = {**a.get_params(), "max_iter": 15}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            b = GaussianMixture(**params).fit(X32)
        assert b.lower_bound_ == pytest.approx(a.lower_bound_, rel=1e-12)
        for name in ("weights_", "means_", "covariances_", "precisions_",
                     "precisions_cholesky_"):
            got, want = getattr(b, name), getattr(a, name)
            assert got.dtype == np.float32, name
            np.testing.assert_allclose(got, want.astype(np.float32), rtol=2e-7, atol=0,
                                       err_msg=name)
        assert a.lower_bound_ == pytest.approx(sk.lower_bound_, rel=1e-10)


def test_chunk_size_one_and_larger_than_n_give_the_same_fit(kernels):
    X, *_ = _problem(150, 2, 2, "full", seed=9)
    fits = []
    for chunk_size in (1, 11, 1000, None):
        ours, sk = _fit_pair(X, "full", 2, seed=4, max_iter=8, chunk_size=chunk_size)
        fits.append(ours)
        assert ours.lower_bound_ == pytest.approx(sk.lower_bound_, rel=1e-10)
    for other in fits[1:]:
        np.testing.assert_allclose(other.covariances_, fits[0].covariances_, rtol=1e-10)


# --------------------------------------------------------------------------- BLAS threads


def test_blas_limit_is_reference_counted_and_restored():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return sorted(
            (i["filepath"], i["num_threads"])
            for i in threadpoolctl.threadpool_info()
            if i["user_api"] == "blas"
        )

    before = blas_threads()
    with _em.blas_single_threaded():
        assert all(n == 1 for _, n in blas_threads())
        with _em.blas_single_threaded():
            assert all(n == 1 for _, n in blas_threads())
        assert all(n == 1 for _, n in blas_threads())  # the outer fit still runs
    assert blas_threads() == before


def test_concurrent_fits_in_threads_agree_with_a_lone_fit(kernels):
    """Two fits at once share the EM thread pool and the BLAS limit; neither is disturbed."""
    import threading

    X, *_ = _problem(40_000, 3, 4, "full", seed=10)  # big enough for threaded passes
    kwargs = dict(covariance_type="full", max_iter=5, tol=0, random_state=0)

    def fit() -> GaussianMixture:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return GaussianMixture(4, **kwargs).fit(X)

    alone = fit()
    results: list[GaussianMixture] = []
    workers = [threading.Thread(target=lambda: results.append(fit())) for _ in range(2)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert len(results) == 2
    for model in results:
        assert model.lower_bound_ == pytest.approx(alone.lower_bound_, rel=1e-12)
        np.testing.assert_allclose(model.means_, alone.means_, rtol=1e-12)


# --------------------------------------------------------------------------- kernel choice


def _narrow_component_data(sd: float, n: int = 30_000, d: int = 5) -> np.ndarray:
    """Two wide clusters and a narrow one far from the shared centre (large cancellation)."""
    rng = np.random.default_rng(0)
    return np.concatenate([
        rng.normal(size=(n // 3, d)),
        rng.normal(size=(n // 3, d)) * 2.0 + 3.0,
        rng.normal(size=(n - 2 * (n // 3), d)) * sd + 8.0,
    ])


def test_quad_kernel_at_its_cancellation_limit_matches_the_exact_kernel(kernels, monkeypatch):
    """At the largest cancellation the GEMM kernel accepts (a narrow component ~1e4
    squared Mahalanobis units from the shared centre), 25 iterations of both kernels give
    the same lower bounds to 1e-12 and the same covariances to 1e-12."""
    X = _narrow_component_data(sd=0.1)
    seen = []
    original = _em.quadratic_form

    def spy(*args):
        form = original(*args)
        seen.append(form.cancellation)
        return form

    monkeypatch.setattr(_em, "quadratic_form", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        init = GaussianMixture(3, random_state=0, max_iter=1).fit(X)
        params = dict(max_iter=25, tol=0.0, weights_init=init.weights_,
                      means_init=init.means_, precisions_init=init.precisions_)
        fits = {}
        for choice in ("quad", "direct"):
            monkeypatch.setenv("GMM_DESKTOP_FULL_KERNEL", choice)
            seen.clear()
            fits[choice] = GaussianMixture(3, **params).fit(X)
            if choice == "quad":
                worst = max(seen)
    assert 0.5 * _em.QUAD_MAX_CANCELLATION < worst <= _em.QUAD_MAX_CANCELLATION
    np.testing.assert_allclose(fits["quad"].lower_bounds_, fits["direct"].lower_bounds_,
                               rtol=1e-12, atol=0)
    scale = np.abs(fits["direct"].covariances_).max()
    np.testing.assert_allclose(fits["quad"].covariances_, fits["direct"].covariances_,
                               rtol=0, atol=1e-12 * scale)


def test_a_component_far_from_the_centre_gets_the_exact_kernel(kernels, monkeypatch):
    calls = []
    for name in ("em_full_quad", "em_full", "em_full_blas"):
        original = getattr(kernels, name)

        def spy(*args, _name=name, _original=original):
            calls.append(_name)
            return _original(*args)

        monkeypatch.setattr(kernels, name, spy)
    monkeypatch.delenv("GMM_DESKTOP_FULL_KERNEL", raising=False)
    for sd, expected in ((1.0, "em_full_quad"), (0.003, "em_full")):
        X = _narrow_component_data(sd, n=3000)
        means = np.array([X[:1000].mean(0), X[1000:2000].mean(0), X[2000:].mean(0)])
        covs = np.array([np.cov(X[i * 1000:(i + 1) * 1000].T) for i in range(3)])
        U = cholesky_precision_from_covariances(covs)  # upper triangular, Λ = U Uᵀ
        weights = np.full(3, 1 / 3)
        offset = -0.5 * 5 * np.log(2 * np.pi) + _em.log_det_cholesky(U, "full")
        form = _em.quadratic_form(weights, means, U, offset + np.log(weights))
        assert (form.cancellation > _em.QUAD_MAX_CANCELLATION) == (expected == "em_full")
        calls.clear()
        got = _em.em_pass_numba(X, None, weights, means, U, "full", 1000, threads=1)
        assert calls == [expected]
        _assert_same(got, _em.em_pass_numpy(X, None, weights, means, U, "full", 500))
