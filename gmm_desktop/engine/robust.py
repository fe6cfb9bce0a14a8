"""The default anomaly-detection route: a robust mixture, a robust choice of K, a calibrated cut.

:func:`fit_robust` is the one function the application core, the command line, the window
and :class:`gmm_desktop.GaussianMixtureOutlierDetector` call, so that the rule lives once:

1. **Trimmed fits over a grid.** Every (number of components, covariance type) cell is
   fitted by TCLUST (:func:`gmm_desktop.robust.tclust`: random and local starts,
   concentration steps, the trimmed *mixture* likelihood, a determinant-ratio constraint
   against spurious components) with the same trimming level ``trim``. The rows that do
   not fit are left out of every fit, so a group of outliers cannot pull a component
   towards it.
2. **A robust choice of K and covariance type** by the *trimmed BIC* of Neykov, Filzmoser,
   Dimova & Neytchev (2007, CSDA 52): ``−2·TLL + p·ln h``, with ``TLL`` the trimmed
   log-likelihood of the ``h = n − ⌊n·trim⌋`` kept rows. Every cell keeps the same number of
   rows, so the values are comparable across cells (tclust's classification-trimmed
   likelihood curves compare the same quantity but leave the choice to the eye; the BIC
   penalty makes it automatic and is the criterion analysts know from mclust). A cell is
   *refused* (kept in the table with the reason, never chosen) when it has at least as many
   free parameters as kept rows, or when one of its components holds fewer than ``d + 1``
   kept rows (its covariance would rest on a degenerate set). Above 2,000 rows the grid is
   compared on a uniform subsample of 2,000 and the chosen cell is fitted on every row.
3. **Reweighting** (as FAST-MCD's step, for mixtures the RTCLUST idea of Dotto, Farcomeni,
   García-Escudero & Mayo-Iscar, 2018): the trimmed fit's covariances are corrected for
   the trimming (the factor ``(1 − α)/F_{χ²(d+2)}(χ²_{d,1−α})``), every row inside some
   component's ``χ²_d(0.975)`` gate is taken as clean, and EM refits the chosen model on the
   clean rows from the trimmed solution. The trimmed fit gives robustness; the reweighted
   one gives back the efficiency of using every good row.
4. **The small-component rule** (on by default): a component whose weight is at most the
   contamination share (it could consist of outliers only) and whose mean lies outside
   every other component's ``χ²_d(0.999)`` ellipsoid is an outlier cluster. It is removed
   from the model of the normal data, so its rows score as far from everything normal.
5. **Scores and the cut.** The score of a row is its log-density under the normal part of
   the model; the contamination ``q`` is honoured exactly: the cut-off is learned so that
   the ``round(q·n)`` lowest-scoring rows are flagged (ties aside), and it applies unchanged
   to new rows.

The trimming level defaults to ``max(q, 0.25)``, at most 0.45: at least the share of rows
the user expects to be outliers is left out of the fit, and never less than a quarter, the
compromise between breakdown and efficiency that robustbase recommends for the MCD
(``alpha = 0.75``). A user's ``q`` is often an underestimate; up to a quarter of outlying
rows then still cannot mask themselves, and the good rows the trimming leaves out come
back in the reweighting step. (On the benchmark, a floor of 0.1 instead lost up to 0.34 of
ROC-AUC on hbk, bushfire and Animals when ``q`` was given as 0.05 instead of their true
shares, and gained at most 0.026 on any data set when the true share was given.)
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from gmm_desktop.engine import _em
from gmm_desktop.engine.anomaly import Threshold, ThresholdSpec, fit_threshold, score_rows
from gmm_desktop.engine.mixture import GaussianMixture, check_random_state
from gmm_desktop.errors import FitCancelled, FitError
from gmm_desktop.robust import TclustResult, tclust

__all__ = [
    "DEFAULT_COVARIANCE_TYPES",
    "RobustCell",
    "RobustFit",
    "default_trim",
    "fit_robust",
    "n_parameters",
]

DEFAULT_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
#: Largest K tried by ``n_components="auto"`` (further limited by the rows available).
MAX_AUTO_COMPONENTS = 6
#: Per-dimension scale ratio allowed between components' volumes: the determinant ratio
#: is bounded by ``RESTR_FACTOR ** d`` (tclust's default eigenvalue ratio is 12).
RESTR_FACTOR = 12.0
#: Chi-square probability of the reweighting gate (FAST-MCD's) and of "far" for the
#: small-component rule.
REWEIGHT_GATE = 0.975
FAR_GATE = 0.999
#: Relative change of the trimmed log-likelihood at which a cell's C-steps stop: the
#: criterion is compared across cells to a few units, far coarser than this.
ROUTE_TOL = 1e-6
#: C-steps of a grid cell's kept starts: enough to rank the cells (an over-large K wanders
#: for many more steps at a nearly flat criterion); the chosen cell is then iterated to
#: convergence by the reweighting EM.
GRID_STEPS = 50
#: Rows above which the K × covariance-type grid is compared on a uniform subsample of
#: this many rows (the trimmed BIC's choice is stable long before); the chosen cell is
#: then fitted on every row.
SELECT_ROWS = 2000
#: Least share of rows trimmed by default (see :func:`default_trim`); read at call time.
TRIM_FLOOR = 0.25


def n_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Free parameters of a mixture (means, weights, covariances), as the engine counts."""
    k, d = int(n_components), int(n_features)
    cov = {
        "full": k * d * (d + 1) // 2,
        "tied": d * (d + 1) // 2,
        "diag": k * d,
        "spherical": k,
    }
    if covariance_type not in cov:
        raise ValueError(
            f"the robust route fits the covariance types {DEFAULT_COVARIANCE_TYPES}, "
            f"got {covariance_type!r}"
        )
    return cov[covariance_type] + k * d + k - 1


def default_trim(contamination: float) -> float:
    """The trimming level used when none is given: ``min(0.45, max(q, TRIM_FLOOR))``."""
    return float(min(0.45, max(float(contamination), TRIM_FLOOR)))


@dataclass
class RobustCell:
    """One cell of the K × covariance-type grid.

    ``criterion`` is the trimmed BIC (lower is better); ``refused`` says why the cell may
    not be chosen (``None`` when it may); ``smallest_component`` is the fewest kept rows
    any component holds.
    """

    n_components: int
    covariance_type: str
    n_parameters: int
    trimmed_log_likelihood: float
    criterion: float
    smallest_component: int
    refused: str | None
    seconds: float
    fit: TclustResult | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_components": self.n_components,
            "covariance_type": self.covariance_type,
            "n_parameters": self.n_parameters,
            "trimmed_log_likelihood": self.trimmed_log_likelihood,
            "trimmed_bic": self.criterion,
            "smallest_component": self.smallest_component,
            "refused": self.refused,
            "seconds": self.seconds,
        }


@dataclass
class RobustFit:
    """What :func:`fit_robust` returns.

    Attributes
    ----------
    model : GaussianMixture
        The mixture of the normal data (outlier clusters removed), fitted and ready to
        score new rows.
    threshold : Threshold
        The learned cut (kind ``contamination``): rows whose log-density under ``model`` is
        below ``threshold.log_density_cutoff`` are flagged.
    flags : ndarray of bool
        The flags of the fitted rows (``round(q·n)`` of them, ties aside).
    log_density : ndarray
        Each fitted row's log-density under ``model`` (the anomaly score: lower is worse).
    cells : list of RobustCell
        The selection table; ``best`` is the chosen cell.
    trimmed : ndarray of bool
        The rows the chosen trimmed fit left out.
    clean : ndarray of bool
        The rows the reweighting step kept.
    outlier_components : list of dict
        Components removed by the small-component rule (weight, mean, covariance, rows).
    info : dict
        Settings and figures (trim, consistency factor, contamination, timings...).
    """

    model: GaussianMixture
    threshold: Threshold
    flags: np.ndarray
    log_density: np.ndarray
    cells: list[RobustCell]
    best: RobustCell
    trimmed: np.ndarray
    clean: np.ndarray
    outlier_components: list[dict[str, Any]]
    info: dict[str, Any]

    def table(self) -> list[dict[str, Any]]:
        """The selection table as dicts (one per cell), the chosen one marked."""
        out = []
        for cell in self.cells:
            row = cell.as_dict()
            row["chosen"] = cell is self.best
            out.append(row)
        return out

    def to_text(self) -> str:
        """The selection table as fixed-width text (trimmed BIC, lower is better)."""
        lines = [f"{'K':>3} {'covariance':<10} {'params':>6} {'trimmed logL':>13} "
                 f"{'trimmed BIC':>12} {'min rows':>8}  note"]
        for cell in self.cells:
            note = "chosen" if cell is self.best else (cell.refused or "")
            tll = "" if math.isnan(cell.trimmed_log_likelihood) else (
                f"{cell.trimmed_log_likelihood:.3f}")
            crit = "" if math.isnan(cell.criterion) else f"{cell.criterion:.3f}"
            lines.append(
                f"{cell.n_components:>3} {cell.covariance_type:<10} {cell.n_parameters:>6} "
                f"{tll:>13} {crit:>12} {cell.smallest_component:>8}  {note}"
            )
        return "\n".join(lines)

    def score_samples(self, X: Any) -> np.ndarray:
        """Log-density of new rows under the normal model (lower is more anomalous)."""
        return self.model.score_samples(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """Score minus the cut-off: negative for rows the threshold flags."""
        cutoff = self.threshold.log_density_cutoff
        cutoff = -math.inf if cutoff is None else cutoff
        return self.score_samples(X) - cutoff


def _consistency(alpha: float, d: int) -> float:
    """The truncated-Gaussian factor ``(1 − α)/F_{χ²(d+2)}(χ²_{d,1−α})`` (1 at α = 0)."""
    if alpha <= 0.0:
        return 1.0
    return float((1.0 - alpha) / stats.chi2.cdf(stats.chi2.ppf(1.0 - alpha, d), d + 2))


def _squared_distances(X: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """(n, K) squared Mahalanobis distances (covariances given as a (K, d, d) stack)."""
    out = np.empty((X.shape[0], means.shape[0]))
    for k in range(means.shape[0]):
        chol = np.linalg.cholesky(covs[k])
        y = np.linalg.solve(chol, (X - means[k]).T)
        out[:, k] = np.einsum("ij,ij->j", y, y)
    return out


def _storage(covs: np.ndarray, covariance_type: str) -> np.ndarray:
    """(K, d, d) covariances in the engine's storage for ``covariance_type``."""
    if covariance_type == "full":
        return covs
    if covariance_type == "tied":
        return covs[0]
    diag = np.diagonal(covs, axis1=1, axis2=2)
    if covariance_type == "diag":
        return diag.copy()
    return diag.mean(axis=1)


def _precisions(covs: np.ndarray, covariance_type: str) -> np.ndarray:
    stored = _storage(covs, covariance_type)
    if covariance_type in ("full", "tied"):
        return np.linalg.inv(stored)
    return 1.0 / stored


def _mixture(
    X: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    covs: np.ndarray,
    covariance_type: str,
    reg_covar: float,
    random_state: Any,
    *,
    refit_rows: np.ndarray | None = None,
    max_iter: int = 100,
) -> GaussianMixture:
    """An engine ``GaussianMixture`` with the given parameters, optionally refitted by EM on
    ``refit_rows`` from them. Its constructor parameters are left as a plain model's (so that
    cloning it gives an ordinary estimator)."""
    k = means.shape[0]
    model = GaussianMixture(
        k,
        covariance_type=covariance_type,
        weights_init=weights / weights.sum(),
        means_init=means,
        precisions_init=_precisions(covs, covariance_type),
        reg_covar=reg_covar,
        max_iter=0 if refit_rows is None else max_iter,
        tol=1e-6,
        random_state=random_state,
    )
    rows = X if refit_rows is None else X[refit_rows]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(rows)
    model.set_params(weights_init=None, means_init=None, precisions_init=None,
                     max_iter=100, tol=1e-3)
    return model


def _check_inputs(
    X: Any, contamination: float, n_components: Any, covariance_types: Any, trim: Any
) -> tuple[np.ndarray, list[int] | None, list[str], float]:
    arr = np.asarray(X, dtype=float)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ValueError(f"X must be a 2-D array (rows × features), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("X contains NaN or infinite values; drop or impute them first")
    n, d = arr.shape
    if n < d + 2:
        raise ValueError(
            f"{n} rows are too few for {d} feature(s): a Gaussian needs at least d + 2 = "
            f"{d + 2} rows for the robust method; add rows, select fewer columns, or use "
            "the plain method with the 'diag' or 'spherical' covariance type (it needs only a "
            "few rows per component, whatever the number of features)"
        )
    q = contamination
    if isinstance(q, bool) or not isinstance(q, int | float | np.number) or not 0.0 <= q < 0.5:
        raise ValueError(
            f"contamination is the share of rows expected to be outliers, in [0, 0.5); "
            f"got {contamination!r} (write 5% as 0.05)"
        )
    if trim is None:
        alpha = default_trim(float(q))
    else:
        if isinstance(trim, bool) or not isinstance(trim, int | float | np.number) or not (
            0.0 <= trim <= 0.5
        ):
            raise ValueError(f"trim is the share of rows left out of the fit, in [0, 0.5]; "
                             f"got {trim!r}")
        alpha = float(trim)
    if isinstance(n_components, str):
        if n_components != "auto":
            raise ValueError(f"n_components must be a positive int or 'auto', got "
                             f"{n_components!r}")
        ks = None
    else:
        values = (
            [n_components] if isinstance(n_components, int | np.integer) else list(n_components)
        )
        if not values or any(isinstance(k, bool) or int(k) != k or int(k) < 1 for k in values):
            raise ValueError(f"n_components must be positive integers or 'auto', got "
                             f"{n_components!r}")
        ks = sorted({int(k) for k in values})
    types = [covariance_types] if isinstance(covariance_types, str) else list(covariance_types)
    if not types:
        raise ValueError("covariance_types is empty; give at least one of "
                         f"{DEFAULT_COVARIANCE_TYPES}")
    for t in types:
        if t not in DEFAULT_COVARIANCE_TYPES:
            raise ValueError(
                f"the robust route fits the covariance types {DEFAULT_COVARIANCE_TYPES}; "
                f"got {t!r}"
            )
    return arr, ks, types, alpha


def fit_robust(
    X: Any,
    *,
    contamination: float = 0.05,
    n_components: int | Sequence[int] | str = "auto",
    covariance_types: str | Sequence[str] = DEFAULT_COVARIANCE_TYPES,
    trim: float | None = None,
    small_component_rule: bool = True,
    restr_factor: float = RESTR_FACTOR,
    reg_covar: float = 1e-6,
    n_starts: int = 30,
    random_state: Any = None,
    callback: Callable[[float, str], Any] | None = None,
) -> RobustFit:
    """Fit the robust default route (see the module docstring) and flag the rows.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Finite features, already scaled (the callers scale robustly: median/IQR).
    contamination : float in [0, 0.5)
        Share of rows to flag, ``q``.
    n_components : int, sequence of int, or "auto"
        The component counts tried; ``"auto"`` tries 1 to 6 (fewer when the rows cannot
        support more).
    covariance_types : str or sequence of str
        Among ``"full"``, ``"tied"``, ``"diag"``, ``"spherical"``.
    trim : float in [0, 0.5], optional
        Share of rows left out of the trimmed fits; default ``min(0.45, max(q, 0.25))``.
    small_component_rule : bool
        Treat small, far components as outlier clusters (on by default).
    restr_factor : float ≥ 1
        Allowed ratio of the components' scales per dimension (the determinant ratio is
        bounded by ``restr_factor ** d``).
    reg_covar : float
        Added to every covariance's diagonal.
    n_starts : int
        TCLUST starts per cell.
    random_state : None, int or RandomState
        Seed; an int reproduces the result exactly.
    callback : callable, optional
        ``callback(fraction, message)``; a true return value cancels
        (:class:`~gmm_desktop.errors.FitCancelled`).

    Returns
    -------
    RobustFit
    """
    # Only small d × d factorisations and thin products: BLAS threads cost more than they
    # give (a busy 2-core machine ran the search 3-4 times slower with them).
    with _em.blas_single_threaded():
        return _fit_robust(
            X, contamination, n_components, covariance_types, trim, small_component_rule,
            restr_factor, reg_covar, n_starts, random_state, callback,
        )


def _fit_robust(
    X: Any,
    contamination: float,
    n_components: Any,
    covariance_types: Any,
    trim: float | None,
    small_component_rule: bool,
    restr_factor: float,
    reg_covar: float,
    n_starts: int,
    random_state: Any,
    callback: Callable[[float, str], Any] | None,
) -> RobustFit:
    started = time.perf_counter()
    arr, ks, types, alpha = _check_inputs(X, contamination, n_components, covariance_types,
                                          trim)
    q = float(contamination)
    n, d = arr.shape
    n_trim = math.floor(n * alpha)
    n_kept = n - n_trim
    if ks is None:
        limit = max(1, n_kept // (d + 1))
        ks = list(range(1, min(MAX_AUTO_COMPONENTS, limit) + 1))
    rng = check_random_state(random_state)
    seeds = rng.randint(np.iinfo(np.int32).max, size=len(ks) * len(types) + 1)
    grid = [(k, t) for t in types for k in ks]
    # On big data the grid is compared on a uniform subsample, the chosen cell fitted on all.
    sel = arr
    if n > SELECT_ROWS:
        sel = arr[np.sort(rng.permutation(n)[:SELECT_ROWS])]
        n_kept = sel.shape[0] - math.floor(sel.shape[0] * alpha)
    share = 0.9 if sel is not arr else 1.0
    cells: list[RobustCell] = []
    for index, (k, cov_type) in enumerate(grid):
        message = f"trimmed fit {cov_type}, K={k} ({index + 1} of {len(grid)})"
        if callback is not None and callback(share * index / len(grid), message):
            raise FitCancelled("the robust fit was cancelled; nothing was changed")
        p = n_parameters(k, d, cov_type)
        t0 = time.perf_counter()
        if p >= n_kept:
            cells.append(RobustCell(
                k, cov_type, p, math.nan, math.nan, 0,
                f"refused: {p} parameters for {n_kept} kept rows", 0.0))
            continue
        if n_kept < k * (d + 1):
            cells.append(RobustCell(
                k, cov_type, p, math.nan, math.nan, 0,
                f"refused: {n_kept} kept rows cannot give {k} components d + 1 = {d + 1} "
                "rows each", 0.0))
            continue

        def relay(fraction: float, index: int = index, message: str = message) -> Any:
            if callback is None:
                return None
            return callback(share * (index + fraction) / len(grid), message)

        fit = tclust(
            sel, k, alpha=alpha, covariance_type=cov_type, likelihood="mixture",
            restriction="deter", restr_factor=float(restr_factor) ** d,
            reg_covar=reg_covar, n_starts=n_starts, tol=ROUTE_TOL,
            max_steps=GRID_STEPS, random_state=int(seeds[index]),
            callback=relay,
        )
        smallest = int(fit.component_sizes.min())
        refused = None
        if smallest < d + 1:
            refused = f"refused: a component holds {smallest} kept rows (< d + 1 = {d + 1})"
        crit = -2.0 * fit.objective + p * math.log(n_kept)
        cells.append(RobustCell(k, cov_type, p, fit.objective, crit, smallest, refused,
                                time.perf_counter() - t0, fit))
    usable = [c for c in cells if c.refused is None and math.isfinite(c.criterion)]
    if not usable:
        reasons = "; ".join(f"{c.covariance_type} K={c.n_components}: {c.refused}"
                            for c in cells[:4])
        raise FitError(
            f"no model could be fitted robustly to {n} rows × {d} features ({reasons}). "
            "Add rows, select fewer columns, or use a simpler covariance type."
        )
    best = min(usable, key=lambda c: c.criterion)
    fit = best.fit
    assert fit is not None
    cov_type = best.covariance_type
    if sel is not arr:  # the chosen cell on every row

        def final_relay(fraction: float) -> Any:
            if callback is None:
                return None
            return callback(share + (1 - share) * fraction, "trimmed fit on every row")

        fit = tclust(
            arr, best.n_components, alpha=alpha, covariance_type=cov_type,
            likelihood="mixture", restriction="deter", restr_factor=float(restr_factor) ** d,
            reg_covar=reg_covar, n_starts=n_starts, tol=ROUTE_TOL,
            random_state=int(seeds[-1]), callback=final_relay,
        )

    # Reweighting: consistency-corrected covariances, the rows inside some gate are clean.
    factor = _consistency(alpha, d)
    covs = fit.covariances * factor
    d2 = _squared_distances(arr, fit.means, covs)
    clean = np.min(d2, axis=1) <= stats.chi2.ppf(REWEIGHT_GATE, d)
    refit_rows = clean if clean.sum() > max(best.n_parameters, best.n_components * (d + 1)) \
        else ~fit.trimmed
    model = _mixture(arr, fit.weights, fit.means, covs, cov_type, reg_covar,
                     int(seeds[0]), refit_rows=refit_rows)

    # The small-component rule.
    outlier_components: list[dict[str, Any]] = []
    weights = np.asarray(model.weights_, dtype=float)
    K = weights.shape[0]
    if small_component_rule and K > 1:
        full = model.full_covariances()
        means = np.asarray(model.means_, dtype=float)
        far_gate = stats.chi2.ppf(FAR_GATE, d)
        component = model.predict(arr)
        anomalous = []
        for k in range(K):
            if weights[k] > max(q, 0.0) or q <= 0.0:
                continue
            others = [j for j in range(K) if j != k and j not in anomalous]
            if not others:
                continue
            dist = _squared_distances(means[k][None], means[others], full[others])[0]
            if np.all(dist > far_gate):
                anomalous.append(k)
        if anomalous and len(anomalous) < K:
            for k in anomalous:
                outlier_components.append({
                    "component": int(k),
                    "weight": float(weights[k]),
                    "mean": means[k].tolist(),
                    "covariance": full[k].tolist(),
                    "rows": [int(i) for i in np.flatnonzero(component == k)],
                })
            keep = [k for k in range(K) if k not in anomalous]
            model = _mixture(arr, weights[keep], means[keep],
                             full[keep], cov_type, reg_covar, int(seeds[0]))

    scores = score_rows(model, arr)
    threshold = fit_threshold(ThresholdSpec("contamination", q), model, scores)
    flags = threshold.flags(scores)
    info = {
        "contamination": q,
        "trim": alpha,
        "n_trimmed": int(n_trim),
        "consistency_factor": factor,
        "n_clean": int(clean.sum()),
        "n_components": int(model.n_components),
        "covariance_type": cov_type,
        "restr_factor": float(restr_factor),
        "selection": "trimmed BIC",
        "seconds": time.perf_counter() - started,
    }
    if callback is not None and callback(1.0, "done"):
        raise FitCancelled("the robust fit was cancelled; nothing was changed")
    return RobustFit(
        model=model,
        threshold=threshold,
        flags=flags,
        log_density=scores.log_density,
        cells=cells,
        best=best,
        trimmed=fit.trimmed.copy(),
        clean=clean,
        outlier_components=outlier_components,
        info=info,
    )
