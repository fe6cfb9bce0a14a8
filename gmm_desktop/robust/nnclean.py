"""Nearest-neighbour clutter removal (Byers & Raftery, 1998, JASA 93(442)).

Each row's distance ``D`` to its ``k``-th nearest neighbour is modelled as coming from one of
two homogeneous Poisson processes, the features (high intensity ``λ₁``) and the clutter
(low intensity ``λ₀``). Under a process of intensity ``λ`` in ``d`` dimensions,
``λ·V_d·Dᵈ`` follows a Gamma(k, 1) law (``V_d`` the volume of the unit ball), so

``f(D) = d · (λV_d)ᵏ · D^{dk−1} · exp(−λ V_d Dᵈ) / (k − 1)!``.

The two-component mixture of these laws is fitted by EM on the ``D`` values (closed-form
M-step: ``λ = k·Σz / (V_d·Σ z·Dᵈ)``); rows whose clutter posterior exceeds one half are the
clutter. mclust starts its noise component from exactly this classification (its
documentation uses ``prabclus::NNclean``); a start from a plain Gaussian fit is masked by
the very rows the noise component should take.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gmm_desktop.robust._common import as_data

__all__ = ["NNCleanResult", "nn_clean"]


@dataclass(frozen=True)
class NNCleanResult:
    """What :func:`nn_clean` returns.

    ``noise`` marks the clutter rows, ``posterior`` is each row's clutter probability,
    ``distance`` its distance to the ``k``-th neighbour, ``intensities`` ``(λ₀, λ₁)`` and
    ``noise_share`` the clutter's mixing weight.
    """

    noise: np.ndarray
    posterior: np.ndarray
    distance: np.ndarray
    intensities: tuple[float, float]
    noise_share: float
    k: int
    n_iter: int
    converged: bool


def _log_density(log_dd: np.ndarray, log_d: np.ndarray, lam: float, k: int, d: int,
                 log_vd: float) -> np.ndarray:
    from scipy import special

    # log f = log d + k·log(λV) + (dk − 1)·log D − λV·Dᵈ − log Γ(k)
    log_lv = math.log(lam) + log_vd
    return (math.log(d) + k * log_lv + (d * k - 1) * log_d
            - np.exp(log_lv + log_dd) - special.gammaln(k))


def nn_clean(
    X: Any, k: int = 5, *, max_iter: int = 500, tol: float = 1e-6
) -> NNCleanResult:
    """Separate clutter from features by the ``k``-th nearest-neighbour distances.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Finite data (scale the columns comparably first: distances are Euclidean).
    k : int
        Which neighbour's distance to use (5 in mclust's documented example).
    max_iter, tol
        EM limits: stop when the log-likelihood changes by less than ``tol`` (relative).

    Returns
    -------
    NNCleanResult
    """
    from scipy import spatial, special  # imported on use (slow imports)

    X = as_data(X, min_rows=3)
    n, d = X.shape
    k = int(k)
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and n − 1 = {n - 1}, got {k}")
    tree = spatial.cKDTree(X)
    dist, _ = tree.query(X, k=k + 1)
    D = np.asarray(dist[:, k], dtype=float)
    positive = D[D > 0]
    floor = float(positive.min()) * 1e-3 if positive.size else 1.0
    D = np.maximum(D, floor)  # duplicated rows: a tiny distance, not log(0)
    log_d = np.log(D)
    log_dd = d * log_d
    log_vd = 0.5 * d * math.log(math.pi) - special.gammaln(0.5 * d + 1.0)
    # start: the rows with the largest distances (top quarter) as clutter
    z = (D >= np.quantile(D, 0.75)).astype(float)
    previous = -np.inf
    converged = False
    it = 0
    lam0 = lam1 = 1.0
    share = 0.25
    for it in range(1, int(max_iter) + 1):  # noqa: B007 - it is returned
        share = float(np.clip(z.mean(), 1e-6, 1.0 - 1e-6))
        dd = np.exp(log_dd + log_vd)  # V·Dᵈ
        lam0 = k * max(z.sum(), 1e-12) / max(float(np.sum(z * dd)), 1e-300)
        lam1 = k * max((1 - z).sum(), 1e-12) / max(float(np.sum((1 - z) * dd)), 1e-300)
        if lam0 > lam1:  # keep component 0 the sparse one
            lam0, lam1 = lam1, lam0
            z = 1.0 - z
            share = 1.0 - share
        a = math.log(share) + _log_density(log_dd, log_d, lam0, k, d, log_vd)
        b = math.log1p(-share) + _log_density(log_dd, log_d, lam1, k, d, log_vd)
        total = np.logaddexp(a, b)
        z = np.exp(a - total)
        loglik = float(total.sum())
        if abs(loglik - previous) <= tol * max(1.0, abs(loglik)):
            converged = True
            break
        previous = loglik
    return NNCleanResult(
        noise=z > 0.5,
        posterior=z,
        distance=D,
        intensities=(float(lam0), float(lam1)),
        noise_share=float(z.mean()),
        k=k,
        n_iter=int(it),
        converged=converged,
    )
