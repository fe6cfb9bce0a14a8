"""The built-in outlier-removal-and-refit strategies.

Every strategy flags at the caller's threshold by default (``gate="threshold"``: a
contamination of ``q`` flags that share of the rows); a strategy's own gate is a named choice
of its ``gate`` parameter, never a silent override.

``trim-and-refit``
    A trimmed fit (TCLUST: random and local starts, concentration steps) of the input
    model's number of components and covariance type gives a robust model; the rows at the
    threshold under it are set aside and the model is refitted once on the rest. (Flagging
    under the input model itself, the tutorial approach, is masked when the outliers have
    pulled that model towards them.)
``iterative-trimming``
    Trimmed-likelihood fitting: the lowest-density share ``alpha`` is trimmed and the model
    refitted on the rest until the trimmed set is stable, starting from TCLUST's best trimmed
    solution over many starts (not from one classical fit, which the outliers may already
    have captured). The covariances are then inflated by the truncated-Gaussian consistency
    factor ``(1 − α) / F_{χ²(d+2)}(χ²_{d,1−α})`` (as MCD does). Gate: the caller's threshold,
    or ``gate="chi2"``: outside every component's ``chi2_probability`` ellipsoid.
``noise-component``
    A uniform background component over the data's hypervolume (mclust's noise component),
    fitted jointly with the Gaussians by EM, started as mclust starts it: the clutter found
    by nearest-neighbour cleaning (Byers & Raftery 1998) is the initial background and the
    Gaussians are first fitted to the other rows. Gate: the caller's threshold on the
    Gaussians' log-density, or ``gate="noise-posterior"``: rows more likely to come from the
    background than from the Gaussians.

Written against :mod:`gmm_desktop.plugin_api` only: models are cloned with
:func:`~gmm_desktop.plugin_api.clone_model` and fitted through their public
``fit(X, sample_weight=...)``; the trimmed fits come from
:func:`~gmm_desktop.plugin_api.tclust` and :func:`~gmm_desktop.plugin_api.nn_clean`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy import stats

from gmm_desktop.plugin_api import (
    FitCancelled,
    Flagger,
    ParamSpec,
    RefitCallback,
    RefitProgress,
    RefitResult,
    RefitRound,
    RefitStrategy,
    clone_model,
    nn_clean,
    squared_mahalanobis,
    tclust,
)

_INIT_PARAMS = ("means_init", "weights_init", "precisions_init")


def _masks(n: int, exclude: Any, never_flag: Any) -> tuple[np.ndarray, np.ndarray]:
    ex = np.zeros(n, bool) if exclude is None else np.asarray(exclude, dtype=bool)
    nf = np.zeros(n, bool) if never_flag is None else np.asarray(never_flag, dtype=bool)
    if ex.shape != (n,) or nf.shape != (n,):
        raise ValueError(f"exclude and never_flag must be masks of {n} rows")
    if np.any(ex & nf):
        raise ValueError("a row is marked both outlier and normal; clear one of the two labels")
    return ex, nf


class _Progress:
    """Relays progress to the caller's callback and raises FitCancelled when asked."""

    def __init__(self, name: str, callback: RefitCallback | None, max_rounds: int) -> None:
        self.name, self.callback, self.max_rounds = name, callback, max(1, max_rounds)

    def report(self, round_: int, within: float = 1.0, message: str = "") -> None:
        if self.callback is None:
            return
        fraction = min(1.0, (round_ - 1 + within) / self.max_rounds)
        info = RefitProgress(self.name, round_, self.max_rounds, fraction, message)
        if self.callback(info):
            raise FitCancelled(
                f"the refit strategy {self.name!r} was cancelled in round {round_}; "
                "the previous model is unchanged"
            )

    def relay(self, round_: int, message: str = "") -> Any:
        """A fit callback forwarding the inner fit's progress as this round's."""
        if self.callback is None:
            return None

        def inner(info: Any) -> bool:
            self.report(round_, float(getattr(info, "fraction", 0.0)), message)
            return False

        return inner


def _warm_clone(model: Any, source: Any, **params: Any) -> Any:
    """A clone of ``model`` that starts EM from ``source``'s fitted parameters."""
    return clone_model(
        model,
        means_init=np.array(source.means_, dtype=float),
        weights_init=np.array(source.weights_, dtype=float),
        precisions_init=np.array(source.precisions_, dtype=float),
        n_init=1,
        **params,
    )


def _restore_params(fitted: Any, original: Any) -> Any:
    """Give a fitted clone the original model's constructor parameters back."""
    fitted.set_params(**original.get_params())
    return fitted


def _scale_covariances(model: Any, factor: float) -> None:
    """Multiply every covariance of a fitted model by ``factor`` (any linear storage)."""
    model.covariances_ = np.asarray(model.covariances_, dtype=float) * factor
    model.precisions_cholesky_ = np.asarray(model.precisions_cholesky_, dtype=float) / math.sqrt(
        factor
    )
    model.precisions_ = np.asarray(model.precisions_, dtype=float) / factor


def _mean_loglik(model: Any, X: np.ndarray) -> float:
    return float(np.mean(model.score_samples(X))) if X.shape[0] else math.nan


def _lowest(values: np.ndarray, eligible: np.ndarray, m: int) -> np.ndarray:
    """Mask of the ``m`` eligible rows with the lowest ``values``."""
    out = np.zeros(values.shape[0], dtype=bool)
    idx = np.flatnonzero(eligible)
    if m > 0 and idx.size:
        order = idx[np.argsort(values[idx], kind="stable")]
        out[order[:m]] = True
    return out


_BUILTIN_TYPES = ("full", "tied", "diag", "spherical")


def _seed(model: Any, values: dict[str, Any]) -> int:
    """The trimmed fit's seed: the strategy's ``seed`` parameter (runs are reproducible)."""
    return int(values.get("seed", 0))


def _precisions_init(covariances: np.ndarray, covariance_type: str) -> np.ndarray | None:
    """TCLUST's (K, d, d) covariances as ``precisions_init`` for a built-in type."""
    if covariance_type == "full":
        return np.linalg.inv(covariances)
    if covariance_type == "tied":
        return np.linalg.inv(covariances[0])
    diag = np.diagonal(covariances, axis1=1, axis2=2)
    if covariance_type == "diag":
        return 1.0 / diag
    if covariance_type == "spherical":
        return 1.0 / diag.mean(axis=1)
    return None


def _trimmed_start(
    model: Any, X: np.ndarray, alpha: float, seed: int, progress: _Progress, round_: int
) -> tuple[Any, np.ndarray]:
    """A robust model of ``model``'s shape: TCLUST at trimming ``alpha``, then EM on the kept
    rows from TCLUST's solution. Returns ``(fitted clone, trimmed mask over X)``."""
    k = int(model.get_params()["n_components"])
    cov_type = str(model.get_params().get("covariance_type", "full"))
    d = X.shape[1]
    kept_rows = X.shape[0] - int(np.floor(alpha * X.shape[0]))
    if kept_rows < k * (d + 1):
        raise ValueError(
            f"{kept_rows} rows are kept for {k} component(s) in {d} dimensions; each needs "
            f"d + 1 = {d + 1}: lower alpha or the number of components"
        )
    relay = None
    if progress.callback is not None:
        def relay(fraction: float) -> bool:
            progress.report(round_, 0.5 * fraction, "trimmed fit (TCLUST)")
            return False
    fit = tclust(
        X, k, alpha=alpha, covariance_type=cov_type if cov_type in _BUILTIN_TYPES else "full",
        likelihood="mixture", restriction="deter", restr_factor=12.0**d,
        reg_covar=float(model.get_params().get("reg_covar", 1e-6)), random_state=seed,
        callback=relay,
    )
    params: dict[str, Any] = {
        "means_init": fit.means, "weights_init": fit.weights / fit.weights.sum(), "n_init": 1,
    }
    precisions = _precisions_init(fit.covariances, cov_type)
    if precisions is not None:
        params["precisions_init"] = precisions
    kept = ~fit.trimmed
    fitted = clone_model(model, **params).fit(
        X[kept], callback=progress.relay(round_, "refit on the kept rows")
    )
    return _restore_params(fitted, model), fit.trimmed


def _gate_flags(
    gate: str, fitted: Any, X: np.ndarray, threshold: Flagger | None, q: float,
    eligible: np.ndarray,
) -> np.ndarray:
    """Flags at the caller's threshold, or (no threshold given) the lowest-density share q."""
    if threshold is not None:
        return np.asarray(threshold(fitted, X), dtype=bool)
    logd = fitted.score_samples(X)
    return _lowest(logd, eligible, round(q * int(eligible.sum())))


class TrimAndRefit(RefitStrategy):
    """A robust trimmed fit, flag at the threshold under it, refit once on the rest."""

    name = "trim-and-refit"
    description = (
        "fit robustly (TCLUST trimmed fit), flag the rows at the threshold, then refit once "
        "on the rest"
    )
    parameters = (
        ParamSpec(
            "contamination",
            "float",
            0.05,
            help="fraction of lowest-density rows to flag when the caller gives no threshold",
            minimum=0.0,
            maximum=0.5,
        ),
        ParamSpec("alpha", "float", 0.25,
                  help="share of rows left out of the robust trimmed fit",
                  minimum=0.0, maximum=0.5),
        ParamSpec("seed", "int", 0, help="seed of the trimmed fit's random starts",
                  minimum=0, maximum=2**31 - 1),
    )

    def run(
        self,
        X: np.ndarray,
        model: Any,
        *,
        threshold: Flagger | None = None,
        exclude: np.ndarray | None = None,
        never_flag: np.ndarray | None = None,
        callback: RefitCallback | None = None,
    ) -> RefitResult:
        X = np.asarray(X, dtype=float)
        n = X.shape[0]
        exclude, never_flag = _masks(n, exclude, never_flag)
        progress = _Progress(self.name, callback, 2)
        q = float(self.values["contamination"])
        progress.report(1, 0.0, "trimmed fit (TCLUST)")
        robust, _ = _trimmed_start(
            model, X[~exclude], float(self.values["alpha"]), _seed(model, self.values),
            progress, 1,
        )

        def flag(fitted: Any) -> np.ndarray:
            flags = _gate_flags("threshold", fitted, X, threshold, q, ~exclude & ~never_flag)
            return (flags | exclude) & ~never_flag

        first = flag(robust)
        history = [
            RefitRound(1, int(first.sum()), int(first.sum()), _mean_loglik(robust, X[~first]),
                       "flagged at the threshold under the robust trimmed fit")
        ]
        progress.report(1)
        kept = ~first
        if kept.sum() < 2:
            raise ValueError(
                f"only {int(kept.sum())} rows are left after flagging; lower the threshold"
            )
        refitted = _restore_params(
            _warm_clone(model, robust).fit(X[kept], callback=progress.relay(2, "refit")), model
        )
        final = flag(refitted)
        history.append(
            RefitRound(2, int(final.sum()), int((final != first).sum()),
                       _mean_loglik(refitted, X[kept]), "refitted on the unflagged rows")
        )
        progress.report(2)
        rule = None if threshold is not None else {"kind": "contamination", "value": q}
        return RefitResult(refitted, final, history, rule, {"n_refit_rows": int(kept.sum())})


class IterativeTrimming(RefitStrategy):
    """Trimmed-likelihood fitting from TCLUST's start, consistency-corrected covariances."""

    name = "iterative-trimming"
    description = (
        "trim the lowest-density fraction alpha and refit until the trimmed set is stable "
        "(trimmed-likelihood fitting from a TCLUST start); flag at the threshold or, with "
        "gate=chi2, with a calibrated chi-square gate"
    )
    parameters = (
        ParamSpec("alpha", "float", 0.25, help="fraction of rows trimmed in every round",
                  minimum=0.0, maximum=0.5),
        ParamSpec("gate", "choice", "threshold",
                  help="how rows are flagged at the end: at the caller's threshold (a "
                       "contamination flags that share), or chi2: outside every component's "
                       "chi-square ellipsoid of probability chi2_probability",
                  choices=("threshold", "chi2")),
        ParamSpec("chi2_probability", "float", 0.975,
                  help="chi-square probability of the gate when gate is chi2",
                  minimum=0.5, maximum=0.999999),
        ParamSpec("max_rounds", "int", 50, help="maximum number of trim-and-refit rounds",
                  minimum=1, maximum=10000),
        ParamSpec("consistency", "bool", True,
                  help="inflate the covariances by the truncated-Gaussian consistency factor"),
        ParamSpec("seed", "int", 0, help="seed of the trimmed fit's random starts",
                  minimum=0, maximum=2**31 - 1),
    )

    def run(
        self,
        X: np.ndarray,
        model: Any,
        *,
        threshold: Flagger | None = None,
        exclude: np.ndarray | None = None,
        never_flag: np.ndarray | None = None,
        callback: RefitCallback | None = None,
    ) -> RefitResult:
        X = np.asarray(X, dtype=float)
        n, d = X.shape
        exclude, never_flag = _masks(n, exclude, never_flag)
        alpha = float(self.values["alpha"])
        gate = str(self.values["gate"])
        max_rounds = int(self.values["max_rounds"])
        progress = _Progress(self.name, callback, max_rounds)
        available = ~exclude
        m = round(alpha * int(available.sum()))
        eligible = available & ~never_flag
        progress.report(1, 0.0, "trimmed fit (TCLUST)")
        current, _ = _trimmed_start(model, X[available], alpha, _seed(model, self.values),
                                    progress, 1)
        trimmed = exclude.copy()
        history: list[RefitRound] = []
        converged = False
        for round_ in range(1, max_rounds + 1):
            logd = current.score_samples(X)
            new_trimmed = _lowest(logd, eligible, m) | exclude
            changed = int((new_trimmed != trimmed).sum())
            if round_ > 1 and changed == 0:
                converged = True
                history.append(
                    RefitRound(round_, int(new_trimmed.sum()), 0,
                               _mean_loglik(current, X[~new_trimmed]), "trimmed set is stable")
                )
                progress.report(round_)
                break
            trimmed = new_trimmed
            kept = ~trimmed
            if kept.sum() <= d:
                raise ValueError(
                    f"only {int(kept.sum())} rows are kept for {d} columns; lower alpha"
                )
            fitted = _warm_clone(model, current).fit(
                X[kept], callback=progress.relay(round_, "refit on the kept rows")
            )
            current = _restore_params(fitted, model)
            history.append(
                RefitRound(round_, int(trimmed.sum()), changed, _mean_loglik(current, X[kept]),
                           f"trimmed the lowest-density {m} rows and refitted")
            )
            progress.report(round_)
        alpha_eff = m / max(1, int(available.sum()))
        factor = 1.0
        if self.values["consistency"] and alpha_eff > 0.0:
            quantile = stats.chi2.ppf(1.0 - alpha_eff, d)
            factor = float((1.0 - alpha_eff) / stats.chi2.cdf(quantile, d + 2))
        if factor != 1.0:
            _scale_covariances(current, factor)
        rule: dict[str, Any] | None
        if gate == "chi2":
            probability = float(self.values["chi2_probability"])
            radius2 = stats.chi2.ppf(probability, d)
            d2 = squared_mahalanobis(X, np.asarray(current.means_), current.full_covariances())
            flags = (np.all(d2 > radius2, axis=1) | exclude) & ~never_flag
            rule = {"kind": "chi2", "value": probability}
        else:
            flags = (_gate_flags(gate, current, X, threshold, alpha, eligible) | exclude)
            flags &= ~never_flag
            rule = None if threshold is not None else {"kind": "contamination", "value": alpha}
        info = {
            "consistency_factor": factor,
            "alpha": alpha_eff,
            "gate": gate,
            "n_trimmed": int(m),
            "converged": converged,
            "rounds": len(history),
            "trimmed_rows": [int(i) for i in np.flatnonzero(trimmed & ~exclude)],
        }
        return RefitResult(current, flags, history, rule, info)


def hypervolume(X: np.ndarray, method: str = "smallest") -> float:
    """Volume of the data's bounding box on the original axes, the principal axes, or the
    smaller of the two (``"box"``, ``"principal"``, ``"smallest"``), as mclust's ``hypvol``."""
    X = np.asarray(X, dtype=float)
    box = float(np.prod(np.ptp(X, axis=0)))
    if method == "box":
        volume = box
    else:
        centred = X - X.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        principal = float(np.prod(np.ptp(centred @ vt.T, axis=0)))
        volume = principal if method == "principal" else min(box, principal)
    if not (volume > 0.0 and math.isfinite(volume)):
        raise ValueError(
            "the data span no volume (a constant or duplicated column?); remove such columns "
            "before fitting a noise component"
        )
    return volume


class NoiseComponent(RefitStrategy):
    """Gaussians plus a uniform background component, fitted jointly by EM."""

    name = "noise-component"
    description = (
        "add a uniform background component over the data's hypervolume and fit it jointly "
        "(started from nearest-neighbour cleaning, as mclust); flag at the threshold or, "
        "with gate=noise-posterior, the rows the background explains best"
    )
    parameters = (
        ParamSpec("gate", "choice", "threshold",
                  help="how rows are flagged: at the caller's threshold on the Gaussians' "
                       "log-density (a contamination flags that share), or noise-posterior: "
                       "rows more likely to come from the background than from the Gaussians",
                  choices=("threshold", "noise-posterior")),
        ParamSpec("neighbours", "int", 5,
                  help="k of the nearest-neighbour cleaning that starts the background "
                       "(Byers & Raftery's k-th neighbour distance)",
                  minimum=1, maximum=1000),
        ParamSpec("volume", "choice", "smallest",
                  help="hypervolume of the background: bounding box on the original axes, "
                       "on the principal axes, or the smaller of the two",
                  choices=("smallest", "box", "principal")),
        ParamSpec("max_iter", "int", 1000, help="maximum number of EM iterations",
                  minimum=1, maximum=100000),
        ParamSpec("tol", "float", 1e-6,
                  help="stop when the mean log-likelihood changes by less than this, relative "
                       "to its size (mclust's EM uses 1e-5)",
                  minimum=1e-15, maximum=1.0),
    )

    def run(
        self,
        X: np.ndarray,
        model: Any,
        *,
        threshold: Flagger | None = None,
        exclude: np.ndarray | None = None,
        never_flag: np.ndarray | None = None,
        callback: RefitCallback | None = None,
    ) -> RefitResult:
        X = np.asarray(X, dtype=float)
        n = X.shape[0]
        exclude, never_flag = _masks(n, exclude, never_flag)
        max_iter = int(self.values["max_iter"])
        tol = float(self.values["tol"])
        gate = str(self.values["gate"])
        progress = _Progress(self.name, callback, max_iter)
        volume = hypervolume(X[~exclude], str(self.values["volume"]))
        log_uniform = -math.log(volume)
        used = ~exclude
        Xu = X[used]
        nf = never_flag[used]
        k = int(model.get_params()["n_components"])
        # mclust's start: nearest-neighbour cleaning marks the initial background rows.
        neighbours = min(int(self.values["neighbours"]), Xu.shape[0] - 1)
        clean = nn_clean(Xu, neighbours)
        start_noise = clean.noise & ~nf
        if (~start_noise).sum() < max(2, k * (Xu.shape[1] + 1)):
            start_noise = np.zeros_like(start_noise)  # too little left: start from every row
        pi0 = float(np.clip(start_noise.mean(), 0.01, 0.5))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Best performing initialization")
            # EM from the input model's parameters on the cleaned rows: the background rows
            # no longer pull the Gaussians, and the components keep their identities.
            current = _warm_clone(model, model).fit(
                Xu[~start_noise], callback=progress.relay(1, "start on the cleaned rows")
            )
        history: list[RefitRound] = [
            RefitRound(1, int(start_noise.sum()), int(start_noise.sum()),
                       _mean_loglik(current, Xu[~start_noise]),
                       f"nearest-neighbour cleaning (k={neighbours}): "
                       f"{int(start_noise.sum())} background rows to start")
        ]
        previous = -math.inf
        converged = False
        z0 = np.zeros(Xu.shape[0])
        it = 0
        for it in range(1, max_iter + 1):
            # E-step of the joint model: the background's responsibility for each row.
            log_gauss = np.log1p(-pi0) + current.score_samples(Xu)
            log_noise = math.log(pi0) + log_uniform
            log_total = np.logaddexp(log_gauss, log_noise)
            z0 = np.where(nf, 0.0, np.exp(log_noise - log_total))
            loglik = float(np.mean(log_total))
            # M-step: the background weight, and the Gaussians by a weighted M-step (weighted
            # EM with weights 1 − z0 is exactly the joint M-step for the Gaussian part).
            pi0 = float(np.clip(z0.mean(), 1e-12, 1.0 - 1e-9))
            weight = 1.0 - z0
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Best performing initialization")
                current = _warm_clone(current, current, max_iter=1, tol=0.0).fit(
                    Xu, sample_weight=weight
                )
            change = loglik - previous
            previous = loglik
            if it % 25 == 0:
                history.append(
                    RefitRound(len(history) + 1, int((z0 > 0.5).sum()), 0, loglik,
                               f"iteration {it}: background weight {pi0:.4g}")
                )
            progress.report(min(it, max_iter), 1.0, f"background weight {pi0:.3g}")
            if abs(change) <= tol * max(1.0, abs(loglik)):
                converged = True
                break
        current = _restore_params(current, model)
        current.converged_ = converged
        current.n_iter_ = it
        log_gauss = current.score_samples(X)
        cutoff = math.log(pi0) + log_uniform - math.log1p(-pi0)
        if gate == "noise-posterior":
            flags = ((log_gauss < cutoff) | exclude) & ~never_flag
            rule: dict[str, Any] | None = {"kind": "log_density", "value": cutoff}
        else:
            flags = (_gate_flags(gate, current, X, threshold, pi0, used & ~never_flag)
                     | exclude) & ~never_flag
            rule = None if threshold is not None else {"kind": "contamination", "value": pi0}
        history.append(
            RefitRound(len(history) + 1, int(flags.sum()), 0, previous,
                       f"converged after {it} iterations" if converged
                       else f"stopped at max_iter={max_iter} without converging")
        )
        info = {
            "noise_weight": pi0,
            "volume": volume,
            "log_uniform_density": log_uniform,
            "log_density_cutoff": cutoff,
            "n_noise_posterior": int(np.sum(log_gauss[used] < cutoff)),
            "n_start_background": int(start_noise.sum()),
            "gate": gate,
            "converged": converged,
            "n_iter": it,
        }
        return RefitResult(current, flags, history, rule, info)
