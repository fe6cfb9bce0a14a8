"""Shared numerics of the robust estimators: input checks, batched Gaussian geometry."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

_LOG_2PI = float(np.log(2.0 * np.pi))
#: Largest temporary (centres × rows × features) built at once by the batched kernels.
_BLOCK_ELEMENTS = 1 << 21


def as_data(X: Any, *, min_rows: int = 2, what: str = "X") -> np.ndarray:
    """``X`` as a finite float64 2-D array, or a ``ValueError`` that says what to do."""
    arr = np.asarray(X, dtype=float)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (rows × features), got shape {arr.shape}")
    if arr.shape[1] < 1:
        raise ValueError(f"{what} has no feature columns; select at least one numeric column")
    if arr.shape[0] < min_rows:
        raise ValueError(
            f"{what} has {arr.shape[0]} rows; at least {min_rows} are needed for "
            f"{arr.shape[1]} feature(s)"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{what} contains NaN or infinite values; drop or impute them before fitting"
        )
    return arr


def rng_from(seed: Any) -> np.random.RandomState:
    """A ``RandomState`` from ``None``, an int or a ``RandomState`` (scikit-learn's rule)."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral):
        return np.random.RandomState(int(seed))
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"{seed!r} cannot seed a numpy.random.RandomState")


def batched_cholesky(cov: np.ndarray, reg: float) -> np.ndarray:
    """Lower Cholesky factors of a stack ``(..., d, d)`` of covariances plus ``reg·I``.

    A factor that fails (a singular or indefinite matrix) is retried with a ridge
    growing by powers of ten relative to the matrix's trace, so that a degenerate start
    never stops a search over many starts; such a start simply scores badly.
    """
    d = cov.shape[-1]
    eye = np.eye(d)
    work = cov + reg * eye
    try:
        return np.linalg.cholesky(work)
    except np.linalg.LinAlgError:
        pass
    flat = work.reshape(-1, d, d).copy()
    out = np.empty_like(flat)
    for i in range(flat.shape[0]):
        scale = max(float(np.trace(flat[i])) / d, 1e-300)
        ridge = 0.0
        for _ in range(40):
            try:
                out[i] = np.linalg.cholesky(flat[i] + ridge * eye)
                break
            except np.linalg.LinAlgError:
                ridge = scale * 1e-12 if ridge == 0.0 else ridge * 10.0
        else:  # pragma: no cover - a matrix of NaN
            out[i] = np.sqrt(scale) * eye
    return out.reshape(work.shape)


def squared_distances(X: np.ndarray, means: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distances of every row to every centre.

    ``means`` has shape ``(..., d)`` and ``chol`` the matching lower Cholesky factors
    ``(..., d, d)`` of the covariances; the result has shape ``(..., n)``. With
    ``A = L⁻¹`` the distance is ``‖A(x − μ)‖²``; the products ``x Aᵀ`` of all centres come
    from one matrix product per block of rows, which keeps the cost in BLAS.
    """
    lead = means.shape[:-1]
    n, d = X.shape
    m = means.reshape(-1, d)
    S = m.shape[0]
    A = np.linalg.inv(chol.reshape(-1, d, d))
    B = A.transpose(2, 0, 1).reshape(d, S * d)  # [Aₛᵀ for every s], side by side
    offset = np.einsum("si,sji->sj", m, A)  # μₛ Aₛᵀ
    out = np.empty((S, n))
    rows = max(1, _BLOCK_ELEMENTS // max(1, S * d))
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        Y = (X[start:stop] @ B).reshape(stop - start, S, d)
        Y -= offset[None]
        out[:, start:stop] = np.einsum("nsd,nsd->sn", Y, Y)
    return out.reshape(*lead, n)


def log_det_from_cholesky(chol: np.ndarray) -> np.ndarray:
    """``log det Σ`` from lower Cholesky factors ``(..., d, d)``."""
    return 2.0 * np.sum(np.log(np.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)


def gaussian_log_density(d2: np.ndarray, log_det: np.ndarray, d: int) -> np.ndarray:
    """``log φ`` from squared distances ``(..., n)`` and log-determinants ``(...)``."""
    return -0.5 * (d * _LOG_2PI + log_det[..., None] + d2)


def weighted_moments(
    X: np.ndarray, weights: np.ndarray, reg: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mass, means and (maximum-likelihood) covariances for weight vectors ``(..., n)``.

    Returns ``(mass (...), means (..., d), covariances (..., d, d))``; a weight vector with no
    mass gets the overall mean and the overall covariance (it will score badly and be
    replaced). Centred about each weighted mean, so far-from-origin data stay exact.
    """
    lead = weights.shape[:-1]
    n, d = X.shape
    W = weights.reshape(-1, n)
    mass = W.sum(axis=1)
    safe = np.where(mass > 0, mass, 1.0)
    means = (W @ X) / safe[:, None]
    covs = np.empty((W.shape[0], d, d))
    for i in range(W.shape[0]):
        rows = np.flatnonzero(W[i] > 0)
        if rows.size == 0:
            means[i] = X.mean(axis=0)
            covs[i] = np.cov(X, rowvar=False, bias=True).reshape(d, d)
            continue
        diff = X[rows] - means[i]
        covs[i] = (diff * W[i, rows, None]).T @ diff / safe[i]
    if reg:
        covs += reg * np.eye(d)
    return mass.reshape(lead), means.reshape(*lead, d), covs.reshape(*lead, d, d)


def subset_moments(X: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means and MLE covariances of row subsets ``idx`` of shape ``(S, m)``, vectorised."""
    sub = X[idx]  # (S, m, d)
    means = sub.mean(axis=1)
    sub -= means[:, None, :]
    covs = np.matmul(np.swapaxes(sub, 1, 2), sub) / idx.shape[1]
    return means, covs
