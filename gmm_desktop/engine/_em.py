"""The EM kernels: one fused pass over row chunks per iteration (numpy; numba when present).

Every pass computes, chunk by chunk so that temporaries stay small and in cache, the
E-step (log-densities, log-sum-exp, responsibilities) and, from the same responsibilities,
the M-step's sufficient statistics. Moments are accumulated about each component's
*previous* mean and re-centred at the end, so nothing is lost far from the origin (the
uncentred ``E[x²] − E[x]²`` form fails at offsets of 1e8; this one does not).

Reduced statistics (:class:`RawStats`) add across chunks or partitions, which is what an
out-of-core or distributed fit needs.

Backends: :func:`em_pass` runs the fused numba kernels of :mod:`._numba_kernels` when numba
imports (the optional ``fast`` extra), else the numpy code here; both compute in float64
whatever the data's dtype and agree to about 1e-14. Environment switches:

``GMM_DESKTOP_DISABLE_NUMBA=1``
    use the numpy path even where numba is installed;
``GMM_DESKTOP_NUM_THREADS=n``
    threads per numba pass (default: the usable cores, at most 8; small passes use one);
``GMM_DESKTOP_BLAS_THREADS=keep``
    do not hold BLAS to one thread during a fit (see :func:`blas_single_threaded`);
``GMM_DESKTOP_FULL_KERNEL=direct`` (or ``quad``)
    run the per-component (or the all-component GEMM) full-covariance kernel whatever
    the data (for benchmarks; by default the choice is :func:`em_pass_numba`'s).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from gmm_desktop.plugin_api import SufficientStatistics

_LOG_2PI = np.log(2.0 * np.pi)
#: scikit-learn adds this to every component's mass so none is exactly zero.
MASS_EPS = 10.0 * np.finfo(np.float64).eps

#: Target number of float64 elements in one chunk's largest temporary (K × rows × d).
_CHUNK_ELEMENTS = 1 << 17


def chunk_rows(n_samples: int, n_features: int, n_components: int, requested: int | None) -> int:
    """Rows per chunk: ``requested`` if given, else sized so temporaries stay in cache."""
    if requested is not None:
        return max(1, int(requested))
    rows = _CHUNK_ELEMENTS // max(1, n_components * (n_features + 1))
    return int(max(64, min(rows, max(n_samples, 1))))


@dataclass
class RawStats:
    """Moments of the responsibilities about fixed centres; they add across chunks.

    ``nk = Σ w r``, ``s = Σ w r (x − c)``, ``S = Σ w r (x − c)(x − c)ᵀ`` (or its diagonal),
    with ``c`` the centres (previous means) the pass used.
    """

    nk: np.ndarray
    centres: np.ndarray
    s: np.ndarray
    S: np.ndarray

    def __iadd__(self, other: RawStats) -> RawStats:
        if not np.array_equal(self.centres, other.centres):
            other = other.recentred(self.centres)
        self.nk += other.nk
        self.s += other.s
        self.S += other.S
        return self

    def recentred(self, centres: np.ndarray) -> RawStats:
        """The same moments about other ``centres`` (exact algebra, no data needed).

        With ``δ = old − new``: ``s' = s + nk δ`` and ``S' = S + s δᵀ + δ sᵀ + nk δ δᵀ``
        (the diagonal of it for the diagonal structure).
        """
        centres = np.asarray(centres, dtype=np.float64)
        delta = self.centres - centres
        s = self.s + self.nk[:, None] * delta
        if self.S.ndim == 3:
            cross = np.einsum("ki,kj->kij", self.s, delta)
            S = (
                self.S + cross + np.swapaxes(cross, 1, 2)
                + self.nk[:, None, None] * np.einsum("ki,kj->kij", delta, delta)
            )
        else:
            S = self.S + 2.0 * self.s * delta + self.nk[:, None] * delta * delta
        return RawStats(nk=self.nk.copy(), centres=centres.copy(), s=s, S=S)

    def finalize(self, n_samples: float) -> SufficientStatistics:
        """Means and scatter about the new means (the M-step's input)."""
        nk_eps = self.nk + MASS_EPS
        delta = self.s / nk_eps[:, None]
        means = self.centres + delta
        if self.S.ndim == 3:
            scatter = (
                self.S
                - np.einsum("ki,kj->kij", self.s, delta)
                - np.einsum("ki,kj->kij", delta, self.s)
                + self.nk[:, None, None] * np.einsum("ki,kj->kij", delta, delta)
            )
            # Symmetrise away round-off so Cholesky sees an exactly symmetric matrix.
            scatter = 0.5 * (scatter + np.swapaxes(scatter, 1, 2))
        else:
            scatter = self.S - 2.0 * self.s * delta + self.nk[:, None] * delta * delta
            np.maximum(scatter, 0.0, out=scatter)
        return SufficientStatistics(nk=nk_eps, means=means, scatter=scatter, n_samples=n_samples)


def log_det_cholesky(expanded: np.ndarray, structure: str) -> np.ndarray:
    """``log det U`` per component (half the log-determinant of the precision)."""
    if structure == "full":
        return np.log(np.diagonal(expanded, axis1=1, axis2=2)).sum(axis=1)
    return np.log(expanded).sum(axis=1)


def _mahalanobis(diffs: np.ndarray, expanded: np.ndarray, structure: str) -> np.ndarray:
    """Squared Mahalanobis distances (rows × K) from differences (K × rows × d)."""
    if structure == "full":
        y = np.matmul(diffs, expanded)
        return np.einsum("kcd,kcd->ck", y, y)
    return np.einsum("kcd,kd->ck", diffs * diffs, expanded * expanded)


def weighted_log_prob(
    X: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    expanded: np.ndarray,
    structure: str,
    chunk: int,
) -> np.ndarray:
    """``log πₖ + log N(xᵢ | μₖ, Σₖ)`` for every row and component, shape (n, K)."""
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    offset = (
        -0.5 * n_features * _LOG_2PI + log_det_cholesky(expanded, structure) + np.log(weights)
    )
    out = np.empty((n_samples, n_components))
    means = np.asarray(means, dtype=np.float64)
    for start in range(0, n_samples, chunk):
        xb = X[start : start + chunk]
        # float32 rows are widened here: all arithmetic is float64.
        diffs = xb[None, :, :] - means[:, None, :]
        maha = _mahalanobis(diffs, expanded, structure)
        out[start : start + chunk] = offset - 0.5 * maha
    return out


def logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp (stable)."""
    m = a.max(axis=1, keepdims=True)
    m[~np.isfinite(m)] = 0.0
    return np.log(np.exp(a - m).sum(axis=1)) + m[:, 0]


def em_pass_numpy(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    weights: np.ndarray,
    means: np.ndarray,
    expanded: np.ndarray,
    structure: str,
    chunk: int,
) -> tuple[float, RawStats]:
    """One fused E+M pass. Returns ``Σ w log p(x)`` and the raw statistics about ``means``."""
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    offset = (
        -0.5 * n_features * _LOG_2PI + log_det_cholesky(expanded, structure) + np.log(weights)
    )
    nk = np.zeros(n_components)
    s = np.zeros((n_components, n_features))
    if structure == "full":
        S = np.zeros((n_components, n_features, n_features))
    else:
        S = np.zeros((n_components, n_features))
    ll = 0.0
    means = np.asarray(means, dtype=np.float64)
    for start in range(0, n_samples, chunk):
        xb = X[start : start + chunk]
        diffs = xb[None, :, :] - means[:, None, :]
        wlp = offset - 0.5 * _mahalanobis(diffs, expanded, structure)
        top = wlp.max(axis=1, keepdims=True)
        np.subtract(wlp, top, out=wlp)
        np.exp(wlp, out=wlp)
        total = wlp.sum(axis=1)
        log_norm = np.log(total) + top[:, 0]
        resp = wlp
        resp /= total[:, None]
        if sample_weight is not None:
            wb = sample_weight[start : start + chunk]
            ll += float(wb @ log_norm)
            resp *= wb[:, None]
        else:
            ll += float(log_norm.sum())
        nk += resp.sum(axis=0)
        rd = diffs * resp.T[:, :, None]
        s += rd.sum(axis=1)
        if structure == "full":
            S += np.matmul(np.swapaxes(rd, 1, 2), diffs)
        else:
            S += np.einsum("kcd,kcd->kd", rd, diffs)
    return ll, RawStats(nk=nk, centres=np.array(means, dtype=float), s=s, S=S)


def stats_from_resp(
    X: np.ndarray,
    resp: np.ndarray,
    sample_weight: np.ndarray | None,
    structure: str,
    chunk: int,
) -> RawStats:
    """Raw statistics of given responsibilities (two passes: means, then centred moments)."""
    n_samples, n_features = X.shape
    n_components = resp.shape[1]
    r_all = resp if sample_weight is None else resp * sample_weight[:, None]
    nk = r_all.sum(axis=0)
    sx = np.zeros((n_components, n_features))
    for start in range(0, n_samples, chunk):
        sx += r_all[start : start + chunk].T @ X[start : start + chunk]
    centres = sx / (nk + MASS_EPS)[:, None]
    s = np.zeros((n_components, n_features))
    S = (
        np.zeros((n_components, n_features, n_features))
        if structure == "full"
        else np.zeros((n_components, n_features))
    )
    for start in range(0, n_samples, chunk):
        xb = X[start : start + chunk]
        diffs = xb[None, :, :] - centres[:, None, :]
        rd = diffs * r_all[start : start + chunk].T[:, :, None]
        s += rd.sum(axis=1)
        if structure == "full":
            S += np.matmul(np.swapaxes(rd, 1, 2), diffs)
        else:
            S += np.einsum("kcd,kcd->kd", rd, diffs)
    return RawStats(nk=nk, centres=centres, s=s, S=S)


def numba_disabled() -> bool:
    """True when the environment asks for the pure numpy path."""
    return os.environ.get("GMM_DESKTOP_DISABLE_NUMBA", "").strip() not in ("", "0")


_kernels: Any = None  # the compiled-kernel module once imported; False if unavailable
_kernels_error: str | None = None
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()

#: Below this much work per pass (rows × components × (features + 1)) threads do not pay.
_THREAD_MIN_WORK = 1 << 19


def _numba_kernels() -> Any:
    """The numba kernel module, or ``None`` if numba is absent, broken or disabled."""
    global _kernels, _kernels_error
    if numba_disabled():
        return None
    if _kernels is None:
        try:
            from gmm_desktop.engine import _numba_kernels as module
        except Exception as exc:  # ImportError, or a numba/numpy version clash
            _kernels, _kernels_error = False, f"{type(exc).__name__}: {exc}"
        else:
            _kernels = module
    return _kernels or None


def backend() -> str:
    """``"numba"`` if :func:`em_pass` runs the compiled kernels, else ``"numpy"``."""
    return "numba" if _numba_kernels() is not None else "numpy"


def backend_problem() -> str | None:
    """Why numba is not used (disabled, or the import error), or ``None`` if it is."""
    if numba_disabled():
        return "disabled by GMM_DESKTOP_DISABLE_NUMBA"
    _numba_kernels()
    return _kernels_error


def n_threads() -> int:
    """Worker threads for one pass: ``GMM_DESKTOP_NUM_THREADS`` or the usable cores (≤ 8)."""
    value = os.environ.get("GMM_DESKTOP_NUM_THREADS", "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            pass
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def _executor(workers: int) -> ThreadPoolExecutor:
    """A shared pool (threads start on first use); a bigger one replaces it if needed.

    A replaced pool is not shut down: a concurrent fit may still be submitting to it.
    """
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            _pool = ThreadPoolExecutor(max_workers=max(8, workers), thread_name_prefix="gmm-em")
        return _pool


def _row_ranges(n_samples: int, block: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous row ranges, cut at block boundaries."""
    n_blocks = -(-n_samples // block)
    parts = max(1, min(parts, n_blocks))
    cuts = [min(n_samples, (n_blocks * p // parts) * block) for p in range(parts + 1)]
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


#: The quadratic-form kernel is used while every component's mean lies within this squared
#: Mahalanobis distance (in the component's own metric) of the shared centre. Its rounding
#: error grows with that distance (the log-density and the moments come out as
#: differences of terms that size, relative to ~1): at 1e4 it stays below about 1e-12
#: relative in the lower bound (measured in ``tests/engine/test_kernels.py``).
QUAD_MAX_CANCELLATION = 1.0e4


@dataclass
class QuadraticForm:
    """The E-step of every full-covariance component as one linear map of ψ(x − centre).

    ``θₖ · ψ(z) = log πₖ + log N(x | μₖ, Λₖ⁻¹)`` with ``z = x − centre`` and ``ψ(z) = (1, z,
    z_l z_j for l ≤ j)``. ``cancellation`` is the largest squared Mahalanobis distance of
    the centre from a component mean (the size of the terms whose difference is taken).
    """

    centre: np.ndarray
    theta: np.ndarray
    cancellation: float

    def raw_stats(self, stats: np.ndarray) -> RawStats:
        """:class:`RawStats` about the centre from the kernel's ``R ψᵀ`` sums (K × P)."""
        k = stats.shape[0]
        d = self.centre.shape[0]
        upper = np.triu_indices(d)
        S = np.empty((k, d, d))
        S[:, upper[0], upper[1]] = stats[:, 1 + d :]
        S[:, upper[1], upper[0]] = stats[:, 1 + d :]
        return RawStats(
            nk=stats[:, 0].copy(),
            centres=np.repeat(self.centre[None, :], k, axis=0),
            s=stats[:, 1 : 1 + d].copy(),
            S=S,
        )


def quadratic_form(
    weights: np.ndarray, means: np.ndarray, U: np.ndarray, offset: np.ndarray
) -> QuadraticForm:
    """θ for :func:`~._numba_kernels.em_full_quad`, about the weighted mean of the means.

    ``−½ (z − m)ᵀ Λ (z − m) = −½ zᵀΛz + (Λm)ᵀz − ½ mᵀΛm`` with ``m = μₖ − centre``; the
    quadratic part on ψ's products is ``−½ Λ_ll`` for ``l = j`` and ``−Λ_lj`` for ``l < j``.
    """
    k, d = means.shape
    w = np.asarray(weights, dtype=np.float64)
    centre = (w / w.sum()) @ means
    m = means - centre
    mu = np.einsum("kd,kde->ke", m, U)  # m U: ‖m U‖² = mᵀ Λ m
    dist2 = np.einsum("ke,ke->k", mu, mu)
    precision = np.matmul(U, np.swapaxes(U, 1, 2))
    upper = np.triu_indices(d)
    theta = np.empty((k, 1 + d + upper[0].size))
    theta[:, 0] = offset - 0.5 * dist2
    theta[:, 1 : 1 + d] = np.einsum("kij,kj->ki", precision, m)
    quad = -precision[:, upper[0], upper[1]]
    quad[:, upper[0] == upper[1]] *= 0.5
    theta[:, 1 + d :] = quad
    return QuadraticForm(np.ascontiguousarray(centre), theta, float(dist2.max(initial=0.0)))


def em_pass_numba(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    weights: np.ndarray,
    means: np.ndarray,
    expanded: np.ndarray,
    structure: str,
    chunk: int,
    *,
    threads: int | None = None,
    kernel_choice: str | None = None,
) -> tuple[float, RawStats]:
    """:func:`em_pass_numpy` with the fused numba kernels (raises if numba is unavailable).

    Rows are cut into ``threads`` ranges (default :func:`n_threads`, used only when the
    pass is big enough to pay), each run by the ``nogil`` kernel in its own thread; the
    partial statistics are added in a fixed order.

    The full structure runs :func:`~._numba_kernels.em_full_quad` (all components by two
    GEMMs about one shared centre, see :func:`quadratic_form`) unless a component lies so
    far from that centre, in its own Mahalanobis metric, that the shared centre would cost
    accuracy (:data:`QUAD_MAX_CANCELLATION`); then the per-component exact kernel runs.
    ``kernel_choice`` (``"quad"`` or ``"direct"``) forces one of the two (for tests and
    benchmarks).
    """
    kernels = _numba_kernels()
    if kernels is None:
        raise RuntimeError(f"numba kernels unavailable: {backend_problem()}")
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    centres = np.ascontiguousarray(means, dtype=np.float64)
    expanded = np.asarray(expanded, dtype=np.float64)
    offset = (
        -0.5 * n_features * _LOG_2PI
        + log_det_cholesky(expanded, structure)
        + np.log(np.asarray(weights, dtype=np.float64))
    )
    w = (
        np.empty(0)
        if sample_weight is None
        else np.ascontiguousarray(sample_weight, dtype=np.float64)
    )
    if threads is None:
        work = n_samples * n_components * (n_features + 1)
        threads = n_threads() if work >= _THREAD_MIN_WORK else 1
    if kernel_choice is None:
        kernel_choice = os.environ.get("GMM_DESKTOP_FULL_KERNEL", "").strip().lower() or None
    quad = None
    if structure == "full" and kernel_choice != "direct":
        quad = quadratic_form(weights, centres, expanded, offset)
        if kernel_choice is None and quad.cancellation > QUAD_MAX_CANCELLATION:
            quad = None  # a component far from the shared centre: the exact kernel
    if quad is not None:
        form = quad
        block = max(1, min(int(chunk), kernels.quad_block_rows(n_features)))
        ranges = _row_ranges(n_samples, block, threads)

        def run_quad(rows: tuple[int, int]) -> tuple[float, np.ndarray]:
            stats = np.zeros(form.theta.shape)
            ll = kernels.em_full_quad(
                X, w, form.centre, form.theta, rows[0], rows[1], block, stats
            )
            return ll, stats

        with blas_single_threaded():
            parts = _run_ranges(run_quad, ranges)
        ll, stats = parts[0]
        for part in parts[1:]:
            ll += part[0]
            stats += part[1]
        return float(ll), form.raw_stats(stats)

    if structure == "full":
        blas = n_features >= kernels.BLAS_MIN_FEATURES
        kernel = kernels.em_full_blas if blas else kernels.em_full
        prec = np.ascontiguousarray(expanded)
        s_shape: tuple[int, ...] = (n_components, n_features, n_features)
    else:
        kernel = kernels.em_diag
        prec = np.ascontiguousarray(expanded * expanded)
        s_shape = (n_components, n_features)
    block = max(1, min(int(chunk), kernels.block_rows(n_features, n_components)))
    ranges = _row_ranges(n_samples, block, threads)

    def run(rows: tuple[int, int]) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        nk = np.zeros(n_components)
        s = np.zeros((n_components, n_features))
        S = np.zeros(s_shape)
        ll = kernel(X, w, centres, prec, offset, rows[0], rows[1], block, nk, s, S)
        return ll, nk, s, S

    with blas_single_threaded():
        results = _run_ranges(run, ranges)
    ll, nk, s, S = results[0]
    for part in results[1:]:
        ll += part[0]
        nk += part[1]
        s += part[2]
        S += part[3]
    if structure == "full":
        lower = np.tril_indices(n_features, -1)
        S[:, lower[0], lower[1]] = S[:, lower[1], lower[0]]
    return float(ll), RawStats(nk=nk, centres=centres.copy(), s=s, S=S)


def _run_ranges(run: Any, ranges: list[tuple[int, int]]) -> list[Any]:
    """``run`` on every row range, the first in this thread and the others in the pool."""
    if len(ranges) == 1:
        return [run(ranges[0])]
    futures = [_executor(len(ranges) - 1).submit(run, r) for r in ranges[1:]]
    return [run(ranges[0])] + [f.result() for f in futures]


_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter: Any = None  # threadpoolctl's context while limited
_blas_controller: Any = None  # threadpoolctl.ThreadpoolController (a scan: ~10 ms)
_blas_modules = 0  # len(sys.modules) when it was built


@contextlib.contextmanager
def blas_single_threaded() -> Iterator[None]:
    """Limit BLAS/LAPACK to one thread while a fit runs (process-wide, reference-counted).

    A fit calls BLAS only for tiny d × d factorisations; with more than one BLAS thread
    each of those pays a thread hand-off (milliseconds on a busy machine), and idle
    OpenBLAS threads spin on the cores the EM threads need. The previous limits come back
    when the last concurrent fit leaves. A no-op without threadpoolctl, or when
    ``GMM_DESKTOP_BLAS_THREADS`` is ``"keep"``.
    """
    global _blas_users, _blas_limiter, _blas_controller
    if os.environ.get("GMM_DESKTOP_BLAS_THREADS", "").strip().lower() == "keep":
        yield
        return
    with _blas_lock:
        if _blas_users == 0:
            try:
                # Scanned again when modules were imported since (they may have loaded
                # another BLAS: scipy's, another wheel's), which must be limited too.
                global _blas_modules
                if _blas_controller is None or len(sys.modules) != _blas_modules:
                    from threadpoolctl import ThreadpoolController

                    _blas_controller = ThreadpoolController()
                    _blas_modules = len(sys.modules)
                _blas_limiter = _blas_controller.limit(limits=1, user_api="blas")
            except Exception:  # threadpoolctl missing or a library it cannot drive
                _blas_limiter = None
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def em_pass(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    weights: np.ndarray,
    means: np.ndarray,
    expanded: np.ndarray,
    structure: str,
    chunk: int,
    *,
    threads: int | None = None,
) -> tuple[float, RawStats]:
    """One fused E+M pass with the fastest available kernel (numba if present and enabled).

    ``threads`` bounds the numba kernel's threads (default :func:`n_threads`); a caller
    that already runs passes in parallel (a Dask worker) passes 1.
    """
    if _numba_kernels() is not None:
        return em_pass_numba(
            X, sample_weight, weights, means, expanded, structure, chunk, threads=threads
        )
    return em_pass_numpy(X, sample_weight, weights, means, expanded, structure, chunk)
