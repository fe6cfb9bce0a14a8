"""The EM kernels: one fused pass over row chunks per iteration (numpy; numba when present).

Every pass computes, chunk by chunk so that temporaries stay small and in cache, the
E-step (log-densities, log-sum-exp, responsibilities) and, from the same responsibilities,
the M-step's sufficient statistics. Moments are accumulated about each component's
*previous* mean and re-centred at the end, so nothing is lost far from the origin (the
uncentred ``E[x²] − E[x]²`` form fails at offsets of 1e8; this one does not).

Reduced statistics (:class:`RawStats`) add across chunks or partitions, which is what an
out-of-core or distributed fit needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

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
            raise ValueError("cannot add statistics taken about different centres")
        self.nk += other.nk
        self.s += other.s
        self.S += other.S
        return self

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
    means_x = means.astype(X.dtype, copy=False)
    for start in range(0, n_samples, chunk):
        xb = X[start : start + chunk]
        diffs = xb[None, :, :] - means_x[:, None, :]
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
    means_x = means.astype(X.dtype, copy=False)
    for start in range(0, n_samples, chunk):
        xb = X[start : start + chunk]
        diffs = xb[None, :, :] - means_x[:, None, :]
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


def em_pass(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    weights: np.ndarray,
    means: np.ndarray,
    expanded: np.ndarray,
    structure: str,
    chunk: int,
) -> tuple[float, RawStats]:
    """One fused E+M pass with the fastest available kernel."""
    return em_pass_numpy(X, sample_weight, weights, means, expanded, structure, chunk)
