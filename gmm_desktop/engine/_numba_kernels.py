"""Fused EM kernels compiled with numba (optional; imported lazily by :mod:`._em`).

One call runs, over a range of rows and block by block, the E-step (log-densities,
log-sum-exp, responsibilities) and the M-step's raw statistics (``Σ r``, ``Σ r d`` and
``Σ r d dᵀ`` with ``d = x − c`` for a fixed centre ``c`` per component), so each row is
read from memory once per iteration and every temporary stays in cache.

Full covariances, all components at once (:func:`em_full_quad`, the default): each block
of rows is expanded into its quadratic features ψ(x − c) = (1, z, z_l z_j for l ≤ j)
about one shared centre; the log-densities of every component are then one matrix
product θ ψ, and every moment of every component one product R ψᵀ, both in BLAS's
register-blocked DGEMM (about half the arithmetic of the two d × d products per row and
component of the per-component form). Its rounding error grows with the distance of the
centre from a component mean, so ``_em`` falls back to the per-component kernels
(:func:`em_full`, :func:`em_full_blas`, moments about each component's own previous
mean) when a component lies far from the centre.

Layout of the per-component kernels, chosen so LLVM vectorises with no reassociation:

* E-step on a *transposed* copy of the block (features × rows): every inner loop runs
  along the rows and writes a separate output per row;
* M-step as dot products along the rows, each summed in eight interleaved running
  sums (a fixed order, so results are deterministic, and one LLVM can vectorise).

All arithmetic is float64 whatever the data's dtype (float32 rows are widened on load);
X may be C- or F-ordered (out of core, blocks arrive F-ordered from the Parquet reader).
Responsibilities whose log lies below ``LOG_RESP_FLOOR`` are set to exactly zero: the CPU
then never meets subnormal numbers (which cost ~100 cycles each), and the per-component
M-step skips those (row, component) pairs. Their total effect on any sum is below
``e**-354 ≈ 1e-154`` relative. ``exp`` and ``log`` are written out (polynomials on the
exponent bits) so that they vectorise; libm's do not.

The functions are ``nogil``: the caller may run several row ranges in threads and add
the statistics (holding BLAS to one thread meanwhile). Compiled code is cached on disk
(``cache=True``); where the package directory is not writable numba falls back to its
user cache directory or compiles again.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Responsibilities below exp(LOG_RESP_FLOOR) (about 1.5e-154) are treated as zero.
LOG_RESP_FLOOR = -354.0


#: Compiler options of every kernel. ``contract`` lets LLVM fuse ``a * b + c`` into one FMA
#: (one rounding instead of two; no reassociation, so the order of every sum is still
#: fixed). ``error_model="numpy"`` drops the ZeroDivisionError check of float division,
#: whose branch keeps LLVM from vectorising a loop that divides.
_OPTIONS = {"nogil": True, "fastmath": {"contract"}, "error_model": "numpy"}


def _jit(**options):
    """``njit`` with :data:`_OPTIONS`, cached on disk when a cache directory is usable.

    numba caches next to this file (``__pycache__``) or, where that is read-only, in its
    user cache directory (``NUMBA_CACHE_DIR``); if neither works, compile in memory.
    """

    def decorate(func):
        try:
            return njit(cache=True, **_OPTIONS, **options)(func)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return njit(cache=False, **_OPTIONS, **options)(func)

    return decorate


@_jit(inline="always")
def _dot(a, b, n):  # pragma: no cover - compiled
    """``Σ a[i] b[i]`` over ``i < n`` with eight running sums (vectorisable, deterministic)."""
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    n8 = n - n % 8
    for i in range(0, n8, 8):
        a0 += a[i] * b[i]
        a1 += a[i + 1] * b[i + 1]
        a2 += a[i + 2] * b[i + 2]
        a3 += a[i + 3] * b[i + 3]
        a4 += a[i + 4] * b[i + 4]
        a5 += a[i + 5] * b[i + 5]
        a6 += a[i + 6] * b[i + 6]
        a7 += a[i + 7] * b[i + 7]
    for i in range(n8, n):
        a0 += a[i] * b[i]
    return ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7))


@_jit(inline="always")
def _sum(a, n):  # pragma: no cover - compiled
    """``Σ a[i]`` over ``i < n`` with eight running sums."""
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    n8 = n - n % 8
    for i in range(0, n8, 8):
        a0 += a[i]
        a1 += a[i + 1]
        a2 += a[i + 2]
        a3 += a[i + 3]
        a4 += a[i + 4]
        a5 += a[i + 5]
        a6 += a[i + 6]
        a7 += a[i + 7]
    for i in range(n8, n):
        a0 += a[i]
    return ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7))


# exp(v) = 2**k · e**r with k = round(v / ln 2), r = v − k ln 2 (ln 2 in two parts so k ln 2
# is exact), e**r by its Taylor series to r**13 (|r| ≤ ln2/2: truncation below 2e-16), and
# 2**k built in the exponent bits. Every step vectorises (AVX2 has no packed double → int64
# conversion, so k is rounded by adding 1.5·2**52 and read from the low mantissa bits).
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # the low 32 bits are zero: k·_LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_ROUND = 6755399441055744.0  # 1.5 * 2**52
_ROUND_BITS = 0x4338000000000000  # its bit pattern
_C = tuple(1.0 / math.factorial(i) for i in range(14))


@_jit(inline="always")
def _exp_floor(v, T, Ti, P, n):  # pragma: no cover - compiled
    """In place ``v[i] = exp(v[i])`` for ``v[i] > LOG_RESP_FLOOR``, else 0 (within 1 ulp).

    ``T``/``Ti`` are one buffer seen as float64/int64, ``P`` another; all of length ≥ n.
    """
    c2, c3, c4, c5, c6, c7 = _C[2], _C[3], _C[4], _C[5], _C[6], _C[7]
    c8, c9, c10, c11, c12, c13 = _C[8], _C[9], _C[10], _C[11], _C[12], _C[13]
    for i in range(n):
        x = max(v[i], LOG_RESP_FLOOR)
        t = x * _LOG2E + _ROUND
        kf = t - _ROUND
        r = (x - kf * _LN2_HI) - kf * _LN2_LO
        p = c13 * r + c12
        p = p * r + c11
        p = p * r + c10
        p = p * r + c9
        p = p * r + c8
        p = p * r + c7
        p = p * r + c6
        p = p * r + c5
        p = p * r + c4
        p = p * r + c3
        p = p * r + c2
        p = p * r + 1.0
        p = p * r + 1.0
        T[i] = t
        P[i] = p
    for i in range(n):
        Ti[i] = ((Ti[i] - _ROUND_BITS) + 1023) << 52
    for i in range(n):
        e = P[i] * T[i]
        v[i] = e if v[i] > LOG_RESP_FLOOR else 0.0


# log(x) = e ln 2 + log m with x = 2**e · m, m in [√½, √2) read from the bits, and
# log m = 2 atanh(s) = 2 (s + s³/3 + ...), s = (m − 1)/(m + 1), |s| ≤ 0.172, to s**23
# (truncation below 1e-18). Vectorises (libm's log does not): within 1 ulp.
_SQRT2 = math.sqrt(2.0)
_MANTISSA = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000
_TWO52_BITS = 0x4330000000000000  # 2**52: OR-ing a small integer in gives 2**52 + integer
_TWO52 = 4503599627370496.0
_A = tuple(2.0 / (2 * i + 1) for i in range(12))


@_jit(inline="always")
def _log_normal(x, out, E, n):  # pragma: no cover - compiled
    """``out[i] = log(x[i])`` for positive normal (or NaN) ``x``; ``E`` is scratch (≥ n)."""
    xb = x.view(np.int64)
    ob = out.view(np.int64)
    eb = E.view(np.int64)
    for i in range(n):
        b = xb[i]
        eb[i] = (b >> 52) | _TWO52_BITS  # the biased exponent, as 2**52 + it
        ob[i] = (b & _MANTISSA) | _ONE_BITS  # the mantissa m in [1, 2)
    a0, a1, a2, a3, a4, a5 = _A[0], _A[1], _A[2], _A[3], _A[4], _A[5]
    a6, a7, a8, a9, a10, a11 = _A[6], _A[7], _A[8], _A[9], _A[10], _A[11]
    for i in range(n):
        m = out[i]
        e = E[i] - (_TWO52 + 1023.0)
        big = m > _SQRT2
        m = 0.5 * m if big else m
        e = e + 1.0 if big else e
        s = (m - 1.0) / (m + 1.0)
        z = s * s
        p = a11 * z + a10
        p = p * z + a9
        p = p * z + a8
        p = p * z + a7
        p = p * z + a6
        p = p * z + a5
        p = p * z + a4
        p = p * z + a3
        p = p * z + a2
        p = p * z + a1
        p = p * z + a0
        # x − x is 0, or NaN for a NaN x (which the bit manipulation would hide)
        out[i] = ((e * _LN2_HI + s * p) + e * _LN2_LO) + (x[i] - x[i])


@_jit()
def _responsibilities(L, top, tot, T, Ti, P, w, b0, B, weighted):  # pragma: no cover
    """In place: log-probabilities L (K × B) → weighted responsibilities; returns Σ w log p.

    The largest log-probability of each row is subtracted first, so each row's sum of
    exponentials lies in [1, K] and its logarithm never meets a subnormal or zero.
    """
    K = L.shape[0]
    for i in range(B):
        top[i] = L[0, i]
    for k in range(1, K):
        for i in range(B):
            if L[k, i] > top[i]:
                top[i] = L[k, i]
    for i in range(B):
        tot[i] = 0.0
    for k in range(K):
        Lk = L[k]
        for i in range(B):
            Lk[i] -= top[i]
        _exp_floor(Lk, T, Ti, P, B)
        for i in range(B):
            tot[i] += Lk[i]
    _log_normal(tot, T, P, B)  # T = log Σ exp(L − top)
    ll = 0.0
    if weighted:
        for i in range(B):
            wi = w[b0 + i]
            ll += wi * (T[i] + top[i])
            tot[i] = wi / tot[i]
    else:
        for i in range(B):
            ll += T[i] + top[i]
            tot[i] = 1.0 / tot[i]
    for k in range(K):
        for i in range(B):
            L[k, i] *= tot[i]
    return ll


@_jit()
def em_full(X, w, means, U, offset, start, stop, block, nk, s, S):  # pragma: no cover
    """Fused E+M pass over rows ``start:stop`` for one matrix per component.

    ``U`` (K, d, d) are the upper-triangular precision Cholesky factors, ``offset`` (K,)
    is ``log π − d/2 log 2π + log det U``. ``w`` holds the sample weights or is empty.
    Adds into ``nk`` (K,), ``s`` (K, d) and the *upper triangle* of ``S`` (K, d, d);
    returns ``Σ w log p(x)`` over the range.
    """
    d = X.shape[1]
    K = means.shape[0]
    weighted = w.shape[0] > 0
    Xt = np.empty((d, block))
    D = np.empty((d, block))
    RD = np.empty((d, block))
    y = np.empty(block)
    L = np.empty((K, block))
    top = np.empty(block)
    tot = np.empty(block)
    T = np.empty(block)
    Ti = T.view(np.int64)
    Pb = np.empty(block)
    ll = 0.0
    for b0 in range(start, stop, block):
        B = min(block, stop - b0)
        for i in range(B):
            for l in range(d):
                Xt[l, i] = X[b0 + i, l]
        # E-step: L[k, i] = offset_k − ½‖(x_i − μ_k) U_k‖².
        for k in range(K):
            for l in range(d):
                m = means[k, l]
                for i in range(B):
                    D[l, i] = Xt[l, i] - m
            for i in range(B):
                L[k, i] = 0.0
            for j in range(d):
                u = U[k, 0, j]
                for i in range(B):
                    y[i] = D[0, i] * u
                for l in range(1, j + 1):
                    u = U[k, l, j]
                    for i in range(B):
                        y[i] += D[l, i] * u
                for i in range(B):
                    L[k, i] += y[i] * y[i]
            c = offset[k]
            for i in range(B):
                L[k, i] = c - 0.5 * L[k, i]
        ll += _responsibilities(L, top, tot, T, Ti, Pb, w, b0, B, weighted)
        # M-step statistics about the previous means, as dot products along the rows.
        for k in range(K):
            r = L[k]
            mass = _sum(r, B)
            if mass == 0.0:
                continue
            nk[k] += mass
            for l in range(d):
                m = means[k, l]
                xr = Xt[l]
                dr = D[l]
                rdr = RD[l]
                for i in range(B):
                    v = xr[i] - m
                    dr[i] = v
                    rdr[i] = v * r[i]
            for l in range(d):
                rdr = RD[l]
                s[k, l] += _sum(rdr, B)
                for j in range(l, d):
                    S[k, l, j] += _dot(rdr, D[j], B)
    return ll


@_jit()
def em_full_blas(X, w, means, U, offset, start, stop, block, nk, s, S):  # pragma: no cover
    """:func:`em_full` with the two d × d products per component done by BLAS ``dgemm``.

    Pays from about 16 features on (the loops win below). The caller should hold BLAS to
    one thread while several of these run in threads (see ``_em.blas_single_threaded``).
    """
    d = X.shape[1]
    K = means.shape[0]
    weighted = w.shape[0] > 0
    Xt = np.empty((d, block))
    D = np.empty((d, block))
    RD = np.empty((d, block))
    Y = np.empty((d, block))
    L = np.empty((K, block))
    top = np.empty(block)
    tot = np.empty(block)
    T = np.empty(block)
    Ti = T.view(np.int64)
    Pb = np.empty(block)
    UT = np.empty((K, d, d))
    for k in range(K):
        UT[k] = U[k].T
    Sk = np.empty((d, d))
    ll = 0.0
    for b0 in range(start, stop, block):
        B = min(block, stop - b0)
        if B < block:  # BLAS wants contiguous operands: the last, short block gets its own
            D = np.empty((d, B))
            RD = np.empty((d, B))
            Y = np.empty((d, B))
        for i in range(B):
            for l in range(d):
                Xt[l, i] = X[b0 + i, l]
        for k in range(K):
            for l in range(d):
                m = means[k, l]
                for i in range(B):
                    D[l, i] = Xt[l, i] - m
            np.dot(UT[k], D, Y)  # Y = (D_k U_k)ᵀ
            Lk = L[k]
            for i in range(B):
                Lk[i] = 0.0
            for j in range(d):
                yj = Y[j]
                for i in range(B):
                    Lk[i] += yj[i] * yj[i]
            c = offset[k]
            for i in range(B):
                Lk[i] = c - 0.5 * Lk[i]
        ll += _responsibilities(L, top, tot, T, Ti, Pb, w, b0, B, weighted)
        for k in range(K):
            r = L[k]
            mass = _sum(r, B)
            if mass == 0.0:
                continue
            nk[k] += mass
            for l in range(d):
                m = means[k, l]
                for i in range(B):
                    v = Xt[l, i] - m
                    D[l, i] = v
                    RD[l, i] = v * r[i]
            for l in range(d):
                s[k, l] += _sum(RD[l], B)
            np.dot(RD, D.T, Sk)
            for l in range(d):
                for j in range(l, d):
                    S[k, l, j] += Sk[l, j]
    return ll


@_jit()
def _expand(X, centre, Psi, b0, B):  # pragma: no cover - compiled
    """``Psi[:, i] = ψ(x − centre)`` for rows ``b0 .. b0 + B``: ``(1, z, z_l z_j for l ≤ j)``."""
    d = X.shape[1]
    ones = Psi[0]
    for i in range(B):
        ones[i] = 1.0
    for l in range(d):
        c = centre[l]
        zl = Psi[1 + l]
        for i in range(B):
            zl[i] = X[b0 + i, l] - c
    f = 1 + d
    for l in range(d):
        zl = Psi[1 + l]
        for j in range(l, d):
            zj = Psi[1 + j]
            out = Psi[f]
            for i in range(B):
                out[i] = zl[i] * zj[i]
            f += 1


@_jit()
def em_full_quad(X, w, centre, theta, start, stop, block, stats):  # pragma: no cover
    """Fused E+M pass over rows ``start:stop`` for every component at once, by two GEMMs.

    With ``z = x − centre`` and ``ψ(z) = (1, z, z_l z_j for l ≤ j)`` (``P = 1 + d +
    d(d+1)/2`` features), ``log πₖ N(x | μₖ, Λₖ⁻¹)`` is linear in ψ: ``θₖ · ψ(z)`` (see
    ``_em.quadratic_form``). Per block of rows: ψ of the block (P × B), the log-probabilities
    of all K components as one product ``θ ψ`` (K × B), the responsibilities R in place,
    and every M-step moment of every component about ``centre`` as one product ``R ψᵀ``
    (K × P: ``Σ r``, ``Σ r z`` and the upper triangle of ``Σ r z zᵀ``), added into
    ``stats``. Returns ``Σ w log p(x)`` over the range. Half the arithmetic of one d × d
    product per component and row for each step, in BLAS's register-blocked kernels.
    """
    K, P = theta.shape
    weighted = w.shape[0] > 0
    Psi = np.empty((P, block))
    L = np.empty((K, block))
    part = np.empty((K, P))
    top = np.empty(block)
    tot = np.empty(block)
    T = np.empty(block)
    Ti = T.view(np.int64)
    Pb = np.empty(block)
    ll = 0.0
    for b0 in range(start, stop, block):
        B = min(block, stop - b0)
        if B < block:  # BLAS wants contiguous operands: the last, short block gets its own
            Psi = np.empty((P, B))
            L = np.empty((K, B))
        _expand(X, centre, Psi, b0, B)
        np.dot(theta, Psi, L)
        ll += _responsibilities(L, top, tot, T, Ti, Pb, w, b0, B, weighted)
        np.dot(L, Psi.T, part)
        for k in range(K):
            for p in range(P):
                stats[k, p] += part[k, p]
    return ll


@_jit()
def em_diag(X, w, means, P, offset, start, stop, block, nk, s, S):  # pragma: no cover
    """Fused E+M pass over rows ``start:stop`` for diagonal precisions.

    ``P`` (K, d) are the *squared* precision Cholesky diagonals (the precisions);
    otherwise as :func:`em_full`, with ``S`` of shape (K, d).
    """
    d = X.shape[1]
    K = means.shape[0]
    weighted = w.shape[0] > 0
    Xt = np.empty((d, block))
    D = np.empty(block)
    RD = np.empty(block)
    L = np.empty((K, block))
    top = np.empty(block)
    tot = np.empty(block)
    T = np.empty(block)
    Ti = T.view(np.int64)
    Pb = np.empty(block)
    ll = 0.0
    for b0 in range(start, stop, block):
        B = min(block, stop - b0)
        for i in range(B):
            for l in range(d):
                Xt[l, i] = X[b0 + i, l]
        for k in range(K):
            for i in range(B):
                L[k, i] = 0.0
            for l in range(d):
                m = means[k, l]
                p = P[k, l]
                for i in range(B):
                    v = Xt[l, i] - m
                    L[k, i] += v * v * p
            c = offset[k]
            for i in range(B):
                L[k, i] = c - 0.5 * L[k, i]
        ll += _responsibilities(L, top, tot, T, Ti, Pb, w, b0, B, weighted)
        for k in range(K):
            r = L[k]
            mass = _sum(r, B)
            if mass == 0.0:
                continue
            nk[k] += mass
            for l in range(d):
                m = means[k, l]
                xr = Xt[l]
                for i in range(B):
                    v = xr[i] - m
                    D[i] = v
                    RD[i] = v * r[i]
                s[k, l] += _sum(RD, B)
                S[k, l] += _dot(RD, D, B)
    return ll


#: From this many features on, the full structure's products go to BLAS.
BLAS_MIN_FEATURES = 16


def quad_block_rows(n_features: int) -> int:
    """Rows per block of :func:`em_full_quad`: ψ of the block about 256 KiB, 32 to 512 rows."""
    n_psi = 1 + n_features + n_features * (n_features + 1) // 2
    rows = (256 * 1024) // (8 * n_psi)
    return int(max(32, min(512, rows)) // 8 * 8)


def block_rows(n_features: int, n_components: int) -> int:
    """Rows per block: the kernel's working set about 192 KiB (in L2), 256 to 2048 rows."""
    per_row = 8 * (4 * n_features + n_components + 5)
    rows = (192 * 1024) // per_row
    return int(max(256, min(2048, rows)) // 8 * 8)
