"""The built-in outlier-removal-and-refit strategies.

``trim-and-refit``
    Flag the rows at the caller's threshold, refit once on the rest (the classic tutorial
    approach).
``iterative-trimming``
    A trimmed-likelihood EM in the spirit of TCLUST: trim the lowest-density fraction
    ``alpha``, refit on the rest, repeat until the trimmed set stops changing. The
    covariances fitted on the kept rows are inflated by the consistency factor of a
    truncated Gaussian, ``(1 − α) / F_{χ²(d+2)}(χ²_{d,1−α})`` (as MCD does), so that the
    final chi-square gate is calibrated.
``noise-component``
    A uniform background component over the data's hypervolume (as mclust's noise
    component), fitted jointly with the Gaussians by EM; rows more likely to come from the
    background than from the Gaussians are the outliers.

Written against :mod:`gmm_desktop.plugin_api` only: models are cloned with
:func:`~gmm_desktop.plugin_api.clone_model` and fitted through their public
``fit(X, sample_weight=...)``.
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
    squared_mahalanobis,
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


class TrimAndRefit(RefitStrategy):
    """Flag at the threshold, refit once on the remaining rows."""

    name = "trim-and-refit"
    description = "flag the rows at the threshold, then refit once on the rest"
    parameters = (
        ParamSpec(
            "contamination",
            "float",
            0.05,
            help="fraction of lowest-density rows to flag when the caller gives no threshold",
            minimum=0.0,
            maximum=0.5,
        ),
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

        def flag(fitted: Any) -> np.ndarray:
            if threshold is not None:
                flags = np.asarray(threshold(fitted, X), dtype=bool)
            else:
                logd = fitted.score_samples(X)
                flags = _lowest(logd, ~exclude & ~never_flag, round(q * (~exclude).sum()))
            return (flags | exclude) & ~never_flag

        first = flag(model)
        history = [
            RefitRound(1, int(first.sum()), int(first.sum()), _mean_loglik(model, X[~first]),
                       "flagged at the threshold under the input model")
        ]
        progress.report(1)
        kept = ~first
        if kept.sum() < 2:
            raise ValueError(
                f"only {int(kept.sum())} rows are left after flagging; lower the threshold"
            )
        refitted = clone_model(model).fit(X[kept], callback=progress.relay(2, "refit"))
        final = flag(refitted)
        history.append(
            RefitRound(2, int(final.sum()), int((final != first).sum()),
                       _mean_loglik(refitted, X[kept]), "refitted on the unflagged rows")
        )
        progress.report(2)
        rule = None if threshold is not None else {"kind": "contamination", "value": q}
        return RefitResult(refitted, final, history, rule, {"n_refit_rows": int(kept.sum())})


class IterativeTrimming(RefitStrategy):
    """Trimmed-likelihood EM with a consistency-corrected chi-square gate."""

    name = "iterative-trimming"
    description = (
        "trim the lowest-density fraction alpha and refit until the trimmed set is stable "
        "(trimmed-likelihood EM); flag with a calibrated chi-square gate"
    )
    parameters = (
        ParamSpec("alpha", "float", 0.25, help="fraction of rows trimmed in every round",
                  minimum=0.0, maximum=0.5),
        ParamSpec("gate", "float", 0.975,
                  help="chi-square probability of the final gate: a row outside every "
                       "component's gate ellipsoid is flagged",
                  minimum=0.5, maximum=0.999999),
        ParamSpec("max_rounds", "int", 50, help="maximum number of trim-and-refit rounds",
                  minimum=1, maximum=10000),
        ParamSpec("consistency", "bool", True,
                  help="inflate the covariances by the truncated-Gaussian consistency factor"),
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
        gate = float(self.values["gate"])
        max_rounds = int(self.values["max_rounds"])
        progress = _Progress(self.name, callback, max_rounds)
        available = ~exclude
        m = round(alpha * int(available.sum()))
        eligible = available & ~never_flag
        current = model
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
        if current is model:  # max_rounds reached before any refit cannot happen; be safe
            current = clone_model(model).fit(X[~trimmed])
        if factor != 1.0:
            _scale_covariances(current, factor)
        radius2 = stats.chi2.ppf(gate, d)
        d2 = squared_mahalanobis(X, np.asarray(current.means_), current.full_covariances())
        flags = (np.all(d2 > radius2, axis=1) | exclude) & ~never_flag
        info = {
            "consistency_factor": factor,
            "alpha": alpha_eff,
            "n_trimmed": int(m),
            "converged": converged,
            "rounds": len(history),
            "trimmed_rows": [int(i) for i in np.flatnonzero(trimmed & ~exclude)],
        }
        return RefitResult(current, flags, history, {"kind": "chi2", "value": gate}, info)


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
        "add a uniform background component over the data's hypervolume and fit it jointly; "
        "rows it explains best are the outliers (as mclust's noise component)"
    )
    parameters = (
        ParamSpec("initial_noise", "float", 0.1,
                  help="initial weight of the background component", minimum=1e-4,
                  maximum=0.9),
        ParamSpec("volume", "choice", "smallest",
                  help="hypervolume of the background: bounding box on the original axes, "
                       "on the principal axes, or the smaller of the two",
                  choices=("smallest", "box", "principal")),
        ParamSpec("max_iter", "int", 500, help="maximum number of EM iterations",
                  minimum=1, maximum=100000),
        ParamSpec("tol", "float", 1e-8,
                  help="stop when the mean log-likelihood improves by less than this",
                  minimum=0.0, maximum=1.0),
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
        progress = _Progress(self.name, callback, max_iter)
        volume = hypervolume(X[~exclude], str(self.values["volume"]))
        log_uniform = -math.log(volume)
        used = ~exclude
        Xu = X[used]
        nf = never_flag[used]
        pi0 = float(self.values["initial_noise"])
        current = model
        history: list[RefitRound] = []
        previous = -math.inf
        converged = False
        z0 = np.zeros(Xu.shape[0])
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
                fitted = _warm_clone(current, current, max_iter=1, tol=0.0).fit(
                    Xu, sample_weight=weight
                )
            current = fitted
            change = loglik - previous
            previous = loglik
            if it == 1 or it % 25 == 0:
                history.append(
                    RefitRound(it, int((z0 > 0.5).sum()), 0, loglik,
                               f"background weight {pi0:.4g}")
                )
            progress.report(it, 1.0, f"background weight {pi0:.3g}")
            if abs(change) < tol:
                converged = True
                break
        current = _restore_params(current, model)
        current.converged_ = converged
        current.n_iter_ = it
        log_gauss = current.score_samples(X)
        cutoff = math.log(pi0) + log_uniform - math.log1p(-pi0)
        flags = (((log_gauss < cutoff) & ~never_flag) | exclude) & ~never_flag
        history.append(
            RefitRound(it, int(flags.sum()), 0, previous,
                       "converged" if converged else "stopped at max_iter")
        )
        info = {
            "noise_weight": pi0,
            "volume": volume,
            "log_uniform_density": log_uniform,
            "log_density_cutoff": cutoff,
            "converged": converged,
            "n_iter": it,
        }
        return RefitResult(current, flags, history, {"kind": "log_density", "value": cutoff},
                           info)
