"""FAST-MCD: the minimum covariance determinant estimator (Rousseeuw & Van Driessen, 1999).

The MCD of ``n`` rows in ``d`` dimensions is the mean and covariance of the ``h`` rows whose
covariance has the smallest determinant. With ``h = ⌊(n + d + 1)/2⌋`` (the default) it
resists up to half of the rows being outliers, where one outlier can move the classical
mean and covariance anywhere ("masking": far rows inflate the covariance and then look
normal under it).

FAST-MCD finds it by

1. many random starts, each the mean and covariance of ``d + 1`` random rows (extended by
   further random rows while its covariance is singular);
2. concentration steps ("C-steps"): keep the ``h`` rows nearest (in Mahalanobis distance) to
   the current estimate and re-estimate from them; the determinant never increases;
3. two C-steps on every start, then iterating only the ten best to convergence; for large
   ``n`` the starts run on disjoint subsamples of about 300 rows, merged into one subsample
   of up to 1,500 rows, before the final C-steps on every row (the paper's nested scheme);
4. the consistency correction: the raw covariance is multiplied by
   ``med_i d²_i / χ²_{d,0.5}`` so that it estimates the covariance at the Gaussian;
5. the reweighting step: rows within the ``χ²_{d,0.975}`` gate of the raw estimate are
   refitted by the classical estimator, which recovers much of the efficiency lost by
   using only ``h`` rows (optionally corrected again, as robustbase does).

All starts are run at once (batched numpy linear algebra), the random subsets come from
the seeded ``RandomState``, and every tie is broken by a stable sort, so a seed
reproduces the result exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gmm_desktop.robust._common import (
    as_data,
    batched_cholesky,
    log_det_from_cholesky,
    rng_from,
    squared_distances,
    subset_moments,
)

__all__ = ["MCDResult", "fast_mcd", "mcd_support_size"]

#: Rows above which the nested subsample scheme is used (the paper's 600).
_SMALL_N = 600
#: Rows in each subsample group and the number of groups (the paper's 300 and 5).
_GROUP_ROWS = 300
_MAX_GROUPS = 5
#: Relative size of a start's smallest eigenvalue below which it is treated as singular.
_SINGULAR = 1e-12


@dataclass(frozen=True)
class MCDResult:
    """What :func:`fast_mcd` returns.

    Attributes
    ----------
    location, covariance
        The reweighted, consistency-corrected estimates (what to use).
    raw_location, raw_covariance
        The raw MCD estimates (mean and corrected covariance of the ``h`` best rows).
    raw_support
        Bool mask of the ``h`` rows of the raw MCD.
    support
        Bool mask of the rows used by the reweighted estimate.
    distances
        Squared Mahalanobis distance of every row under ``location``/``covariance``.
    support_size
        ``h``.
    log_det
        ``log det`` of the raw (uncorrected) covariance: the MCD objective.
    raw_correction, correction
        The consistency factors applied to the raw and reweighted covariances.
    n_csteps
        C-steps run by the best start in its final stage.
    """

    location: np.ndarray
    covariance: np.ndarray
    raw_location: np.ndarray
    raw_covariance: np.ndarray
    raw_support: np.ndarray
    support: np.ndarray
    distances: np.ndarray
    support_size: int
    log_det: float
    raw_correction: float
    correction: float
    n_csteps: int

    def flags(self, gate: float = 0.975) -> np.ndarray:
        """Rows outside the ``χ²_d(gate)`` ellipsoid of the reweighted estimate."""
        from scipy import stats  # imported on use: scipy.stats is slow to import

        d = self.location.shape[0]
        return self.distances > stats.chi2.ppf(gate, d)


def mcd_support_size(n: int, d: int, support_fraction: float | None = None) -> int:
    """``h``: ``⌊(n + d + 1)/2⌋`` (maximal breakdown) or ``⌈support_fraction · n⌉``.

    Clamped to ``[d + 1, n]``. Raises ``ValueError`` for a fraction outside ``(0, 1]``.
    """
    if support_fraction is None:
        h = (n + d + 1) // 2
    else:
        if not 0.0 < float(support_fraction) <= 1.0:
            raise ValueError(
                f"support_fraction must be in (0, 1], got {support_fraction!r}"
            )
        h = int(np.ceil(float(support_fraction) * n))
    return int(min(n, max(d + 1, h)))


def _random_starts(
    X: np.ndarray, n_starts: int, rng: np.random.RandomState, reg: float
) -> tuple[np.ndarray, np.ndarray]:
    """Means and covariances of ``n_starts`` random ``(d + 1)``-subsets of ``X``.

    A subset whose covariance is singular is grown by further random rows until it is
    not (or every row is in), as the paper prescribes for data in general position.
    """
    n, d = X.shape
    size = min(n, d + 1)
    order = np.argsort(rng.random_sample((n_starts, n)), axis=1)
    means, covs = subset_moments(X, order[:, :size])
    scale = np.trace(covs, axis1=1, axis2=2) / d
    low = np.linalg.eigvalsh(covs)[:, 0]
    bad = np.flatnonzero(low <= _SINGULAR * np.maximum(scale, 1e-300))
    for s in bad:
        for m in range(size + 1, n + 1):
            mean_s, cov_s = subset_moments(X, order[s : s + 1, :m])
            lam = np.linalg.eigvalsh(cov_s[0])
            means[s], covs[s] = mean_s[0], cov_s[0]
            if lam[0] > _SINGULAR * max(lam.mean(), 1e-300):
                break
    return means, covs


def _csteps(
    X: np.ndarray,
    h: int,
    means: np.ndarray,
    covs: np.ndarray,
    n_steps: int,
    reg: float,
    tol: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Run up to ``n_steps`` C-steps on every start at once.

    Returns ``(means, covs, log_det, support_idx, steps)`` where ``support_idx`` has shape
    ``(S, h)``; with ``tol > 0`` (or 0 and an unchanged support) it stops early once no
    start's log-determinant decreases by more than ``tol``.
    """
    n = X.shape[0]
    chol = batched_cholesky(covs, reg)
    log_det = log_det_from_cholesky(chol)
    support = np.zeros((means.shape[0], h), dtype=np.intp)
    steps = 0
    for steps in range(1, n_steps + 1):
        d2 = squared_distances(X, means, chol)
        if h < n:
            part = np.argpartition(d2, h - 1, axis=1)[:, :h]
        else:
            part = np.broadcast_to(np.arange(n), (means.shape[0], n))
        new_support = np.sort(part, axis=1)
        means, covs = subset_moments(X, new_support)
        chol = batched_cholesky(covs, reg)
        new_log_det = log_det_from_cholesky(chol)
        same = np.array_equal(new_support, support)
        improvement = float(np.max(log_det - new_log_det)) if steps > 1 else np.inf
        support, log_det = new_support, new_log_det
        if same or improvement <= tol:
            break
    return means, covs, log_det, support, steps


def _best(log_det: np.ndarray, keep: int) -> np.ndarray:
    return np.argsort(log_det, kind="stable")[:keep]


def _median_correction(d2: np.ndarray, d: int) -> float:
    """``med d² / χ²_{d,0.5}``: makes the covariance consistent at the Gaussian."""
    from scipy import stats

    median = float(np.median(d2))
    if not median > 0.0:
        return 1.0  # an exact fit (more than half the rows on a hyperplane): nothing to scale
    return median / float(stats.chi2.ppf(0.5, d))


def fast_mcd(
    X: Any,
    *,
    support_fraction: float | None = None,
    n_starts: int = 500,
    n_best: int = 10,
    max_csteps: int = 100,
    reweight: bool = True,
    reweight_gate: float = 0.975,
    correct_reweighted: bool = False,
    reg_covar: float = 0.0,
    random_state: Any = None,
) -> MCDResult:
    """Minimum covariance determinant location and scatter by FAST-MCD.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Finite data.
    support_fraction : float in (0, 1], optional
        Share of rows in the MCD subset; default ``⌊(n + d + 1)/2⌋ / n`` (50 % breakdown).
    n_starts : int
        Random ``(d + 1)``-subset starts (the paper's 500).
    n_best : int
        Starts kept after the first two C-steps and iterated to convergence (10).
    max_csteps : int
        Limit on the C-steps of the final stage (they converge in a handful).
    reweight : bool
        Apply the reweighting step (rows inside the ``reweight_gate`` chi-square gate of the
        raw estimate give the final estimate).
    reweight_gate : float
        Chi-square probability of the reweighting gate (0.975, as robustbase and
        scikit-learn).
    correct_reweighted : bool
        Also apply the median consistency correction to the reweighted covariance. The
        paper and scikit-learn's ``MinCovDet`` do not (the reweighted estimate is the
        classical one of the rows inside the gate); robustbase does, with asymptotic
        factors. Off by default, so that the flags agree with ``MinCovDet``'s.
    reg_covar : float
        Added to the diagonal of every covariance a start uses (0: none). A small positive
        value lets data with a constant column, or more columns than the support has
        rows, still produce an estimate.
    random_state : None, int or RandomState
        Seed of the random subsets; an int reproduces the result exactly.

    Returns
    -------
    MCDResult
    """
    from scipy import stats

    X = as_data(X, min_rows=2)
    n, d = X.shape
    if n <= d and reg_covar <= 0.0:
        raise ValueError(
            f"the MCD needs more rows than features (got {n} rows for {d} features); "
            "add rows, drop features, or give reg_covar > 0"
        )
    if int(n_starts) < 1 or int(n_best) < 1 or int(max_csteps) < 1:
        raise ValueError("n_starts, n_best and max_csteps must be positive integers")
    if not 0.0 < reweight_gate < 1.0:
        raise ValueError(f"reweight_gate is a probability in (0, 1), got {reweight_gate!r}")
    h = mcd_support_size(n, d, support_fraction)
    rng = rng_from(random_state)
    reg = float(reg_covar)

    if h == n:
        means, covs, log_det, support, steps = _csteps(
            X, h, X.mean(axis=0)[None], np.cov(X, rowvar=False, bias=True).reshape(1, d, d),
            1, reg,
        )
    elif n <= _SMALL_N:
        means, covs = _random_starts(X, n_starts, rng, reg)
        means, covs, log_det, _, _ = _csteps(X, h, means, covs, 2, reg)
        keep = _best(log_det, n_best)
        means, covs, log_det, support, steps = _csteps(
            X, h, means[keep], covs[keep], max_csteps, reg
        )
    else:
        # Nested scheme: disjoint groups of ~300 rows inside a subsample of up to 1,500.
        n_groups = int(min(_MAX_GROUPS, max(1, n // _GROUP_ROWS)))
        n_sub = min(n, n_groups * _GROUP_ROWS)
        sub_rows = np.sort(rng.permutation(n)[:n_sub])
        sub = X[sub_rows]
        groups = np.array_split(rng.permutation(n_sub), n_groups)
        per_group = max(1, n_starts // n_groups)
        cand_means, cand_covs = [], []
        for rows in groups:
            Xg = sub[np.sort(rows)]
            hg = int(np.ceil(h / n * Xg.shape[0]))
            hg = min(Xg.shape[0], max(d + 1, hg))
            m0, c0 = _random_starts(Xg, per_group, rng, reg)
            m1, c1, ld, _, _ = _csteps(Xg, hg, m0, c0, 2, reg)
            keep = _best(ld, n_best)
            cand_means.append(m1[keep])
            cand_covs.append(c1[keep])
        h_sub = min(n_sub, max(d + 1, int(np.ceil(h / n * n_sub))))
        m2, c2, ld2, _, _ = _csteps(
            sub, h_sub, np.concatenate(cand_means), np.concatenate(cand_covs), 2, reg
        )
        keep = _best(ld2, n_best)
        # On every row: two C-steps for each of the best, then only the best to convergence
        # (the candidates have already been ranked twice; this keeps 100k rows interactive).
        m3, c3, ld3, _, _ = _csteps(X, h, m2[keep], c2[keep], 2, reg)
        top = _best(ld3, 1)
        means, covs, log_det, support, steps = _csteps(
            X, h, m3[top], c3[top], max_csteps, reg
        )

    best = int(_best(log_det, 1)[0])
    raw_location = means[best]
    raw_cov_uncorrected = covs[best] + reg * np.eye(d)
    raw_support = np.zeros(n, dtype=bool)
    raw_support[support[best]] = True
    chol = batched_cholesky(raw_cov_uncorrected[None], 0.0)
    d2_raw = squared_distances(X, raw_location[None], chol)[0]
    raw_correction = _median_correction(d2_raw, d)
    raw_covariance = raw_cov_uncorrected * raw_correction
    d2_raw = d2_raw / raw_correction

    if reweight:
        support_rw = d2_raw <= stats.chi2.ppf(reweight_gate, d)
        rows = X[support_rw]
        location = rows.mean(axis=0)
        diff = rows - location
        cov = diff.T @ diff / rows.shape[0] + reg * np.eye(d)
        chol = batched_cholesky(cov[None], 0.0)
        d2 = squared_distances(X, location[None], chol)[0]
        correction = _median_correction(d2, d) if correct_reweighted else 1.0
        covariance = cov * correction
        distances = d2 / correction
    else:
        support_rw = raw_support.copy()
        location, covariance, distances, correction = (
            raw_location, raw_covariance, d2_raw, raw_correction,
        )
    return MCDResult(
        location=np.array(location),
        covariance=np.array(covariance),
        raw_location=np.array(raw_location),
        raw_covariance=np.array(raw_covariance),
        raw_support=raw_support,
        support=np.asarray(support_rw, dtype=bool),
        distances=np.asarray(distances),
        support_size=h,
        log_det=float(log_det[best]),
        raw_correction=float(raw_correction),
        correction=float(correction),
        n_csteps=int(steps),
    )
