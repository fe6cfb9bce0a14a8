"""TCLUST: trimmed model-based clustering with scatter constraints.

García-Escudero, Gordaliza, Matrán & Mayo-Iscar (2008), "A general trimming approach to
robust cluster analysis", Annals of Statistics 36(3). A share ``alpha`` of the rows is
trimmed (left out of the fit) and the remaining rows are fitted by ``K`` Gaussians; the
rows to trim and the parameters are found together, maximising the *trimmed* likelihood.
Because the outliers are not fitted, they cannot pull a component towards them or win
one of their own (as they do in a plain mixture fitted to every row).

The search, vectorised over all starts at once:

1. ``n_starts`` initial solutions. Half are the paper's: each component is the mean and
   covariance of ``d + 1`` random rows. The other half are local: each component starts from
   a seed row and its ``d`` nearest neighbours, the seeds spread by k-means++ sampling; a
   local subset lies inside one cluster far more often than a random one when ``K`` is
   large, which the paper's scheme needs many more starts to achieve.
2. Concentration steps ("C-steps"): score every row under the current fit, trim the
   ``⌊n·alpha⌋`` rows of lowest likelihood, re-estimate from the rest (a weighted M-step:
   hard assignments for the *classification* likelihood, posterior probabilities for the
   *mixture* likelihood), then apply the scatter constraint. A few steps on every start,
   then the ``n_keep`` best are iterated to convergence. With more than ``subsample``
   rows the starts run on a random subsample and only the kept ones on every row (as
   FAST-MCD does).
3. The scatter constraint (``restr_factor`` = ``c``) keeps the likelihood bounded and stops
   spurious solutions (a component collapsing onto a few aligned rows):

   ``"eigen"`` (the paper's): the ratio of the largest to the smallest eigenvalue over all
   components' covariances is at most ``c``. It is solved exactly by Fritz, García-Escudero
   & Mayo-Iscar (2013): eigenvalues are truncated to ``[m, c·m]`` with the ``m`` that
   maximises the likelihood.

   ``"deter"``: the ratio of the largest to the smallest determinant is at most ``c`` and
   the shapes are free (García-Escudero, Mayo-Iscar & Riani 2020); it leaves one
   component's correlation structure alone, so with ``K = 1`` TCLUST is exactly the MCD
   raw estimate with ``h = n − ⌊n·alpha⌋``.

   ``None``: no constraint (only ``reg_covar`` on the diagonals).

Randomness comes from the seeded ``RandomState`` and ties are broken by stable sorts: a
seed reproduces the result exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gmm_desktop.errors import FitCancelled
from gmm_desktop.robust._common import (
    as_data,
    batched_cholesky,
    gaussian_log_density,
    log_det_from_cholesky,
    rng_from,
    squared_distances,
)

__all__ = [
    "RESTRICTIONS",
    "TclustResult",
    "restrict_determinants",
    "restrict_eigenvalues",
    "tclust",
]

RESTRICTIONS = ("eigen", "deter")
LIKELIHOODS = ("mixture", "classification")
COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")


@dataclass(frozen=True)
class TclustResult:
    """What :func:`tclust` returns.

    Attributes
    ----------
    weights, means, covariances
        The fitted components, ``(K,)``, ``(K, d)``, ``(K, d, d)``; the weights sum to one
        over the kept rows.
    trimmed
        Bool mask of the trimmed rows (``⌊n·alpha⌋`` of them).
    labels
        The most likely component of every row (trimmed rows included).
    log_density
        ``log Σₖ πₖ φₖ(x)`` of every row under the fit (the mixture density).
    objective
        The trimmed log-likelihood that was maximised, summed over the kept rows: the
        mixture log-density, or ``max_k log πₖφₖ`` for the classification likelihood.
    component_sizes
        Rows assigned to each component among the kept rows (hard assignment).
    n_steps, converged
        C-steps of the best solution in its final stage, and whether they converged.
    alpha, restr_factor, restriction, likelihood, covariance_type
        The settings used.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    trimmed: np.ndarray
    labels: np.ndarray
    log_density: np.ndarray
    objective: float
    component_sizes: np.ndarray
    n_steps: int
    converged: bool
    alpha: float
    restr_factor: float | None
    restriction: str | None
    likelihood: str
    covariance_type: str = "full"

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])

    def component_log_prob(self, X: Any) -> np.ndarray:
        """``log πₖ + log φₖ(x)`` of every row of ``X`` for every component, ``(n, K)``."""
        X = as_data(X, min_rows=1)
        chol = batched_cholesky(self.covariances, 0.0)
        d2 = squared_distances(X, self.means, chol)
        lp = gaussian_log_density(d2, log_det_from_cholesky(chol), X.shape[1])
        with np.errstate(divide="ignore"):
            return (lp + np.log(self.weights)[:, None]).T


# --------------------------------------------------------------------------- constraints


def _truncation_search(values: np.ndarray, mass: np.ndarray, factor: float) -> np.ndarray:
    """The optimal truncation level ``m`` for each problem of a batch.

    ``values`` ``(B, J)`` are non-negative scale parameters (eigenvalues, or volumes), each
    with a non-negative ``mass`` ``(B, J)`` (rows behind it). Minimises
    ``Σ mass·(log v' + v/v')`` over ``v' = clip(v, m, c·m)``: on each interval between the
    sorted breakpoints ``{v, v/c}`` the optimum has a closed form; the best over all
    intervals is the exact solution (Fritz, García-Escudero & Mayo-Iscar, 2013).
    """
    B, _J = values.shape
    points = np.sort(np.concatenate([values, values / factor], axis=1), axis=1)  # (B, 2J)
    lows = np.concatenate([points[:, :1] * 0.5, points], axis=1)
    highs = np.concatenate([points, points[:, -1:] * 2.0 + 1.0], axis=1)
    mids = 0.5 * (lows + highs)  # (B, 2J+1)
    below = values[:, None, :] < mids[:, :, None]  # (B, I, J): truncated up to m
    above = values[:, None, :] > factor * mids[:, :, None]  # truncated down to c·m
    w = mass[:, None, :]
    num = np.sum(w * (below * values[:, None, :] + above * values[:, None, :] / factor), axis=2)
    den = np.sum(w * (below | above), axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(den > 0, num / np.where(den > 0, den, 1.0), mids)
    m = np.clip(m, lows, highs)
    m = np.maximum(m, 1e-300)
    trunc = np.clip(values[:, None, :], m[:, :, None], factor * m[:, :, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        obj = np.sum(w * (np.log(trunc) + values[:, None, :] / trunc), axis=2)
    best = np.argmin(np.where(np.isfinite(obj), obj, np.inf), axis=1)
    return m[np.arange(B), best]


def restrict_eigenvalues(
    eigenvalues: np.ndarray, sizes: np.ndarray, factor: float
) -> np.ndarray:
    """Eigenvalues constrained so that the largest over the smallest is at most ``factor``.

    ``eigenvalues`` has shape ``(..., K, d)`` and ``sizes`` ``(..., K)`` (the rows behind
    each component; a component without rows does not weigh in the choice and gets the
    truncation level). Returns the closest (in likelihood) constrained eigenvalues.
    """
    if factor < 1.0:
        raise ValueError(f"restr_factor must be at least 1, got {factor!r}")
    ev = np.maximum(np.asarray(eigenvalues, dtype=float), 0.0)
    lead = ev.shape[:-2]
    K, d = ev.shape[-2:]
    flat = ev.reshape(-1, K * d)
    mass = np.repeat(np.asarray(sizes, dtype=float).reshape(-1, K), d, axis=1)
    out = flat.copy()
    used = mass > 0
    big = np.where(used, flat, -np.inf).max(axis=1)
    small = np.where(used, flat, np.inf).min(axis=1)
    need = ~(big <= factor * small)  # also true when some eigenvalue is 0
    if np.any(need):
        idx = np.flatnonzero(need)
        m = _truncation_search(flat[idx], mass[idx], factor)
        out[idx] = np.clip(flat[idx], m[:, None], factor * m[:, None])
    # components without rows: put them at the truncation level of the rest
    if np.any(~used):
        level = np.where(used, out, np.nan)
        fill = np.nanmin(np.where(np.isnan(level), np.inf, level), axis=1, keepdims=True)
        fill = np.where(np.isfinite(fill), fill, 1.0)
        out = np.where(used, out, fill)
    return out.reshape(*lead, K, d)


def restrict_determinants(
    covariances: np.ndarray, sizes: np.ndarray, factor: float
) -> np.ndarray:
    """Covariances rescaled so that the largest over the smallest determinant is at most
    ``factor``; shapes (the covariances divided by ``det^{1/d}``) are kept.

    The volumes ``det^{1/d}`` are truncated by the same exact search as the eigenvalues,
    with factor ``factor^{1/d}`` and each component weighing ``d·size``.
    """
    if factor < 1.0:
        raise ValueError(f"restr_factor must be at least 1, got {factor!r}")
    cov = np.asarray(covariances, dtype=float)
    lead = cov.shape[:-3]
    K, d = cov.shape[-3], cov.shape[-1]
    flat = cov.reshape(-1, K, d, d)
    sign, logdet = np.linalg.slogdet(flat)
    volume = np.where(sign > 0, np.exp(logdet / d), 0.0)  # (B, K)
    sizes_ = np.asarray(sizes, dtype=float).reshape(-1, K)
    ratio = factor ** (1.0 / d)
    used = sizes_ > 0
    big = np.where(used, volume, -np.inf).max(axis=1)
    small = np.where(used, volume, np.inf).min(axis=1)
    new_volume = volume.copy()
    need = ~(big <= ratio * small)
    if np.any(need):
        idx = np.flatnonzero(need)
        m = _truncation_search(volume[idx], d * sizes_[idx], ratio)
        new_volume[idx] = np.clip(volume[idx], m[:, None], ratio * m[:, None])
    out = flat.copy()
    for b, k in zip(*np.nonzero(new_volume != volume), strict=True):
        if volume[b, k] > 0:
            out[b, k] *= new_volume[b, k] / volume[b, k]
        else:  # a singular covariance: a sphere of the allowed volume
            out[b, k] = np.eye(d) * max(new_volume[b, k], 1e-300)
    return out.reshape(*lead, K, d, d)


def _constrain(
    covs: np.ndarray, sizes: np.ndarray, restriction: str | None, factor: float | None,
    reg: float,
) -> np.ndarray:
    """Apply the scatter constraint to a ``(S, K, d, d)`` stack, then add ``reg·I``."""
    d = covs.shape[-1]
    covs = 0.5 * (covs + np.swapaxes(covs, -1, -2))
    diagonal = not np.any(covs - np.eye(d) * np.diagonal(covs, axis1=-2, axis2=-1)[..., None])
    if restriction == "eigen" and factor is not None:
        if diagonal:
            lam = restrict_eigenvalues(np.diagonal(covs, axis1=-2, axis2=-1), sizes, factor)
            covs = np.zeros_like(covs)
            covs[..., np.arange(d), np.arange(d)] = lam
        else:
            lam, vec = np.linalg.eigh(covs)
            lam = restrict_eigenvalues(lam, sizes, factor)
            covs = np.einsum("...ij,...j,...kj->...ik", vec, lam, vec)
    elif restriction == "deter" and factor is not None:
        covs = restrict_determinants(covs, sizes, factor)
    return covs + reg * np.eye(d)


# --------------------------------------------------------------------------- C-steps


@dataclass
class _State:
    weights: np.ndarray  # (S, K)
    means: np.ndarray  # (S, K, d)
    covs: np.ndarray  # (S, K, d, d), constrained, with reg
    objective: np.ndarray  # (S,)


def _log_prob(X: np.ndarray, st: _State, diagonal: bool = False) -> np.ndarray:
    """``log πₖ + log φₖ(x)``, shape ``(S, K, n)``.

    With ``diagonal`` (diag and spherical covariances) the distances come from one product
    ``X² · λ − 2 X · (μλ) + Σ μ²λ`` (``X`` is centred and scaled by the caller), which costs
    ``O(n·d)`` per component instead of ``O(n·d²)``.
    """
    S, K, d = st.means.shape
    if diagonal:
        var = np.diagonal(st.covs, axis1=-2, axis2=-1).reshape(S * K, d)
        prec = 1.0 / var
        m = st.means.reshape(S * K, d)
        d2 = (X * X) @ prec.T - 2.0 * X @ (m * prec).T + np.sum(m * m * prec, axis=1)
        d2 = np.maximum(d2, 0.0).T.reshape(S, K, -1)
        log_det = np.sum(np.log(var), axis=1).reshape(S, K)
    else:
        chol = batched_cholesky(st.covs, 0.0)
        d2 = squared_distances(X, st.means, chol)  # (S, K, n)
        log_det = log_det_from_cholesky(chol)
    lp = gaussian_log_density(d2, log_det, d)
    with np.errstate(divide="ignore"):
        return lp + np.log(st.weights)[:, :, None]


def _row_loglik(lp: np.ndarray, likelihood: str) -> np.ndarray:
    """Per-row log-likelihood ``(S, n)``: log-sum-exp (mixture) or max (classification)."""
    top = lp.max(axis=1)
    if likelihood == "classification":
        return top
    safe = np.where(np.isfinite(top), top, 0.0)
    return safe + np.log(np.sum(np.exp(lp - safe[:, None, :]), axis=1))


def _second_moments(X: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``Σᵢ rᵢ xᵢ xᵢᵀ`` for every weight vector of ``R`` ``(B, n)`` (one BLAS product each)."""
    out = np.empty((R.shape[0], X.shape[1], X.shape[1]))
    XT = np.ascontiguousarray(X.T)
    for b in range(R.shape[0]):
        rows = np.flatnonzero(R[b] > 0)
        if rows.size * 2 < R.shape[1]:  # hard or trimmed weights: only the rows with mass
            out[b] = (XT[:, rows] * R[b, rows]) @ X[rows]
        else:
            out[b] = (XT * R[b]) @ X
    return out


def _structure(covs: np.ndarray, sizes: np.ndarray, covariance_type: str) -> np.ndarray:
    """Project full ``(S, K, d, d)`` covariances on a parametrisation (as the EM engine's
    built-in types): ``full`` as is, ``diag`` their diagonals, ``spherical`` the mean
    variance, ``tied`` one size-weighted pooled matrix shared by all components."""
    if covariance_type == "full":
        return covs
    d = covs.shape[-1]
    if covariance_type == "tied":
        w = sizes / np.maximum(sizes.sum(axis=1, keepdims=True), 1e-300)
        pooled = np.einsum("sk,skij->sij", w, covs)
        return np.broadcast_to(pooled[:, None], covs.shape).copy()
    diag = np.diagonal(covs, axis1=-2, axis2=-1)
    if covariance_type == "spherical":
        diag = np.broadcast_to(diag.mean(axis=-1, keepdims=True), diag.shape)
    out = np.zeros_like(covs)
    idx = np.arange(d)
    out[..., idx, idx] = diag
    return out


def _m_step(
    X: np.ndarray,
    resp: np.ndarray,
    n_kept: int,
    covariance_type: str,
    restriction: str | None,
    factor: float | None,
    reg: float,
    equal_weights: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weights, means, constrained covariances and sizes from responsibilities ``(S, K, n)``.

    ``X`` is centred (by the caller) so that the uncentred second moments lose nothing.
    """
    S, K, n = resp.shape
    d = X.shape[1]
    R = resp.reshape(S * K, n)
    mass = R.sum(axis=1)
    safe = np.where(mass > 1e-12, mass, 1.0)
    means = (R @ X) / safe[:, None]
    if covariance_type in ("diag", "spherical"):
        var = (R @ (X * X)) / safe[:, None] - means * means
        covs = np.zeros((S * K, d, d))
        covs[:, np.arange(d), np.arange(d)] = np.maximum(var, 0.0)
    else:
        second = _second_moments(X, R) / safe[:, None, None]
        covs = second - means[:, :, None] * means[:, None, :]
    empty = mass <= 1e-12
    if np.any(empty):  # a component that lost every row: restart it as a wide sphere
        covs[empty] = np.eye(d) * float(np.mean(np.var(X, axis=0)))
        means[empty] = X.mean(axis=0)
    sizes = mass.reshape(S, K)
    covs = _structure(covs.reshape(S, K, d, d), sizes, covariance_type)
    covs = _constrain(covs, sizes, restriction, factor, reg)
    if equal_weights:
        weights = np.full((S, K), 1.0 / K)
    else:
        weights = np.maximum(sizes / max(n_kept, 1), 0.0)
        weights = weights / weights.sum(axis=1, keepdims=True)
    return weights, means.reshape(S, K, d), covs, sizes


def _c_steps(
    X: np.ndarray,
    st: _State,
    n_trim: int,
    n_steps: int,
    *,
    likelihood: str,
    covariance_type: str,
    restriction: str | None,
    factor: float | None,
    reg: float,
    equal_weights: bool,
    tol: float,
    report: Callable[[], None] | None = None,
) -> tuple[_State, int, bool]:
    """Up to ``n_steps`` concentration steps on every start; returns the new state."""
    n = X.shape[0]
    n_kept = n - n_trim
    converged = False
    steps = 0
    diagonal = covariance_type in ("diag", "spherical")
    for steps in range(1, n_steps + 1):
        lp = _log_prob(X, st, diagonal)
        ll = _row_loglik(lp, likelihood)  # (S, n)
        if n_trim > 0:
            kept_idx = np.argpartition(-ll, n_kept - 1, axis=1)[:, :n_kept]
            keep = np.zeros_like(ll, dtype=bool)
            np.put_along_axis(keep, kept_idx, True, axis=1)
        else:
            keep = np.ones_like(ll, dtype=bool)
        objective = np.sum(np.where(keep, ll, 0.0), axis=1)
        if likelihood == "classification":
            best = lp.argmax(axis=1)  # (S, n)
            resp = (best[:, None, :] == np.arange(lp.shape[1])[None, :, None]).astype(float)
        else:
            resp = np.exp(lp - ll[:, None, :])
        resp *= keep[:, None, :]
        weights, means, covs, _ = _m_step(
            X, resp, n_kept, covariance_type, restriction, factor, reg, equal_weights
        )
        change = objective - st.objective
        st = _State(weights, means, covs, objective)
        if report is not None:
            report()
        if steps > 1 and np.all(np.abs(change) <= tol * np.maximum(1.0, np.abs(objective))):
            converged = True
            break
    # the objective of the final parameters
    lp = _log_prob(X, st, diagonal)
    ll = _row_loglik(lp, likelihood)
    if n_trim > 0:
        st.objective = -np.sum(np.partition(-ll, n_kept - 1, axis=1)[:, :n_kept], axis=1)
    else:
        st.objective = ll.sum(axis=1)
    st.objective = np.where(np.isfinite(st.objective), st.objective, -np.inf)
    return st, steps, converged


# --------------------------------------------------------------------------- starts


def _initial_states(
    X: np.ndarray,
    K: int,
    n_starts: int,
    rng: np.random.RandomState,
    covariance_type: str,
    restriction: str | None,
    factor: float | None,
    reg: float,
    equal_weights: bool,
) -> _State:
    n, d = X.shape
    size = min(n, d + 1)
    n_random = (n_starts + 1) // 2

    idx = np.empty((n_starts, K, size), dtype=np.intp)
    # the paper's starts: K disjoint-or-not random (d + 1)-subsets
    keys = rng.random_sample((n_random * K, n))
    idx[:n_random] = np.argsort(keys, axis=1)[:, :size].reshape(n_random, K, size)
    # local starts: k-means++-spread seeds, each with its d nearest neighbours
    for s in range(n_random, n_starts):
        seeds = [int(rng.randint(n))]
        closest = np.sum((X - X[seeds[0]]) ** 2, axis=1)
        for _ in range(1, K):
            total = closest.sum()
            if total > 0:
                pick = int(np.searchsorted(np.cumsum(closest), rng.random_sample() * total))
                pick = min(pick, n - 1)
            else:
                pick = int(rng.randint(n))
            seeds.append(pick)
            closest = np.minimum(closest, np.sum((X - X[pick]) ** 2, axis=1))
        for k, seed in enumerate(seeds):
            dist = np.sum((X - X[seed]) ** 2, axis=1)
            near = np.argpartition(dist, size - 1)[:size] if size < n else np.arange(n)
            idx[s, k] = near
    sub = X[idx]  # (S, K, m, d)
    means = sub.mean(axis=2)
    diff = sub - means[:, :, None, :]
    covs = np.einsum("skmi,skmj->skij", diff, diff) / size
    sizes = np.full((n_starts, K), float(size))
    covs = _constrain(_structure(covs, sizes, covariance_type), sizes, restriction, factor, reg)
    if restriction is None or factor is None:
        # unconstrained starts may be singular: give them the overall scale
        lam_min = np.linalg.eigvalsh(covs)[..., 0]
        scale = float(np.mean(np.var(X, axis=0))) or 1.0
        bad = lam_min <= 1e-10 * scale
        covs[bad] += 1e-3 * scale * np.eye(d)
    if equal_weights:
        weights = np.full((n_starts, K), 1.0 / K)
    else:
        weights = rng.dirichlet(np.ones(K), size=n_starts) * 0.5 + 0.5 / K
    return _State(weights, means, covs, np.full(n_starts, -np.inf))


def _select(st: _State, keep: np.ndarray) -> _State:
    return _State(st.weights[keep], st.means[keep], st.covs[keep], st.objective[keep])


def tclust(
    X: Any,
    n_components: int,
    *,
    alpha: float = 0.05,
    covariance_type: str = "full",
    restr_factor: float | None = 12.0,
    restriction: str | None = "eigen",
    likelihood: str = "classification",
    equal_weights: bool = False,
    n_starts: int = 50,
    n_init_steps: int = 3,
    n_keep: int = 5,
    max_steps: int = 100,
    tol: float = 1e-8,
    reg_covar: float = 1e-6,
    subsample: int | None = 2000,
    random_state: Any = None,
    callback: Callable[[float], Any] | None = None,
) -> TclustResult:
    """Trimmed clustering / trimmed mixture fitting with scatter constraints (TCLUST).

    Parameters
    ----------
    X : array-like of shape (n, d)
        Finite data.
    n_components : int
        ``K``, the number of Gaussian components.
    alpha : float in [0, 0.5]
        Share of rows trimmed; ``⌊n·alpha⌋`` rows are left out of the fit.
    covariance_type : {"full", "diag", "spherical", "tied"}
        The covariance parametrisation (as ``GaussianMixture``'s); the covariances of
        the result are always returned as ``(K, d, d)`` matrices.
    restr_factor : float ≥ 1 or None
        The constraint's factor ``c`` (tclust's ``restr.fact``; 12 is its default); larger
        allows more different scatters, 1 forces equal ones.
    restriction : {"eigen", "deter"} or None
        Which constraint (see the module docstring).
    likelihood : {"classification", "mixture"}
        The trimmed likelihood maximised: ``max_k πₖφₖ(x)`` over the kept rows (hard
        assignments, tclust's default) or the mixture density ``Σₖ πₖφₖ(x)`` (soft
        assignments: a trimmed EM).
    equal_weights : bool
        Fix every component's weight at ``1/K``.
    n_starts, n_init_steps, n_keep, max_steps
        Starts, C-steps run on every start, starts kept, and C-steps on the kept ones.
    tol : float
        Relative change of the objective below which the C-steps stop.
    reg_covar : float
        Added to every covariance's diagonal (as in ``GaussianMixture``).
    subsample : int or None
        With more rows, the starts run on a random subsample of this size.
    random_state : None, int or RandomState
        Seed; an int reproduces the result exactly.
    callback : callable, optional
        Called with the fraction of work done (0..1); a true return value raises
        :class:`~gmm_desktop.errors.FitCancelled`.

    Returns
    -------
    TclustResult
    """
    X = as_data(X, min_rows=2)
    n, d = X.shape
    K = int(n_components)
    if K < 1:
        raise ValueError(f"n_components must be at least 1, got {n_components!r}")
    if not 0.0 <= float(alpha) <= 0.5:
        raise ValueError(f"alpha is the share of rows trimmed, in [0, 0.5]; got {alpha!r}")
    if restriction not in (*RESTRICTIONS, None):
        raise ValueError(f"restriction must be one of {RESTRICTIONS} or None, got {restriction!r}")
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}"
        )
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    if restr_factor is not None and not float(restr_factor) >= 1.0:
        raise ValueError(f"restr_factor must be at least 1, got {restr_factor!r}")
    for name, value in (("n_starts", n_starts), ("n_init_steps", n_init_steps),
                        ("n_keep", n_keep), ("max_steps", max_steps)):
        if int(value) < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    n_trim = math.floor(n * float(alpha))
    n_kept = n - n_trim
    if n_kept < K:
        raise ValueError(
            f"only {n_kept} rows are kept for {K} components; lower alpha or n_components"
        )
    factor = None if restr_factor is None else float(restr_factor)
    rng = rng_from(random_state)
    # Centre and scale (by the per-column median and overall spread) for stable moments;
    # everything is mapped back at the end. The constraint is scale-equivariant.
    centre = np.median(X, axis=0)
    spread = float(np.sqrt(np.mean(np.var(X, axis=0)))) or 1.0
    Z = (X - centre) / spread
    reg = float(reg_covar) / spread**2
    opts = {
        "likelihood": likelihood, "covariance_type": covariance_type,
        "restriction": restriction, "factor": factor, "reg": reg,
        "equal_weights": bool(equal_weights), "tol": float(tol),
    }
    total_steps = int(n_init_steps) + 2 * int(max_steps)
    done = [0]

    def report() -> None:
        done[0] += 1
        if callback is not None and callback(min(1.0, done[0] / total_steps)):
            raise FitCancelled("the trimmed fit was cancelled; nothing was changed")

    use_sub = subsample is not None and n > int(subsample)
    if use_sub:
        rows = np.sort(rng.permutation(n)[: int(subsample)])
        Zs = Z[rows]
        trim_s = math.floor(Zs.shape[0] * float(alpha))
    else:
        Zs, trim_s = Z, n_trim
    st = _initial_states(
        Zs, K, int(n_starts), rng, covariance_type, restriction, factor, reg, equal_weights
    )
    st, _, _ = _c_steps(Zs, st, trim_s, int(n_init_steps), report=report, **opts)
    keep = np.argsort(-st.objective, kind="stable")[: int(n_keep)]
    st = _select(st, keep)
    st, steps, converged = _c_steps(Zs, st, trim_s, int(max_steps), report=report, **opts)
    best = int(np.argsort(-st.objective, kind="stable")[0])
    st = _select(st, np.array([best]))
    if use_sub:  # the best subsample solution, iterated on every row
        st, steps, converged = _c_steps(Z, st, n_trim, int(max_steps), report=report, **opts)

    weights = st.weights[0]
    means = st.means[0]
    covs = st.covs[0]
    lp = _log_prob(Z, st, covariance_type in ("diag", "spherical"))[0]  # (K, n)
    ll_row = _row_loglik(lp[None], likelihood)[0]
    order = np.argsort(-ll_row, kind="stable")
    trimmed = np.ones(n, dtype=bool)
    trimmed[order[:n_kept]] = False
    labels = lp.argmax(axis=0)
    mix = _row_loglik(lp[None], "mixture")[0]
    sizes = np.bincount(labels[~trimmed], minlength=K)
    # back to the data's units: x = spread·z + centre
    log_jac = d * math.log(spread)
    return TclustResult(
        weights=weights.copy(),
        means=means * spread + centre,
        covariances=covs * spread**2,
        trimmed=trimmed,
        labels=labels,
        log_density=mix - log_jac,
        objective=float(st.objective[0] - n_kept * log_jac),
        component_sizes=sizes,
        n_steps=int(steps),
        converged=bool(converged),
        alpha=float(alpha),
        restr_factor=factor,
        restriction=restriction,
        likelihood=likelihood,
        covariance_type=covariance_type,
    )
