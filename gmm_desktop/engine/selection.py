"""Model selection: fit a grid of component counts × covariance types, compare by BIC/AIC."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from gmm_desktop.engine._validation import check_array
from gmm_desktop.engine.mixture import FitCallback, FitProgress, GaussianMixture
from gmm_desktop.errors import FitCancelled, FitError, PluginError
from gmm_desktop.registry import get_registry

CRITERIA = ("bic", "aic", "bic_mclust")


def information_criteria(log_likelihood: float, n_parameters: int, n: float) -> tuple[float, float]:
    """``(BIC, AIC)`` in scikit-learn's sign (lower is better) from the total
    log-likelihood, the number of free parameters and the (effective) number of rows:
    BIC = −2·logL + p·ln n, AIC = −2·logL + 2p. mclust reports −BIC."""
    n = max(float(n), 1.0)
    return (-2.0 * log_likelihood + n_parameters * math.log(n),
            -2.0 * log_likelihood + 2.0 * n_parameters)


@dataclass
class SelectionCell:
    """One fitted cell of the grid.

    ``log_likelihood`` is the total (not per-row) log-likelihood of the data under the
    fitted model. ``bic`` and ``aic`` use scikit-learn's sign (lower is better);
    ``bic_mclust`` is mclust's ``2·logL − p·ln n`` (higher is better). A cell whose every
    restart failed has ``error`` set and NaN figures.
    """

    n_components: int
    covariance_type: str
    log_likelihood: float
    n_parameters: int
    bic: float
    aic: float
    converged: bool
    n_iter: int
    seconds: float
    error: str | None = None
    model: GaussianMixture | None = field(default=None, repr=False)
    #: Why the cell cannot be the best although it fitted: a component holding fewer than
    #: d + 1 rows (a degenerate spike) or more free parameters than rows.
    degenerate: str | None = None

    @property
    def bic_mclust(self) -> float:
        return -self.bic

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_components": self.n_components,
            "covariance_type": self.covariance_type,
            "log_likelihood": self.log_likelihood,
            "n_parameters": self.n_parameters,
            "bic": self.bic,
            "bic_mclust": self.bic_mclust,
            "aic": self.aic,
            "converged": self.converged,
            "n_iter": self.n_iter,
            "seconds": self.seconds,
            "error": self.error,
            "degenerate": self.degenerate,
        }


@dataclass
class SelectionResult:
    """All cells and the best one by ``criterion``."""

    cells: list[SelectionCell]
    best: SelectionCell
    criterion: str
    n_samples: int

    def table(self) -> list[dict[str, Any]]:
        return [c.as_dict() for c in self.cells]

    def score_of(self, cell: SelectionCell) -> float:
        return _criterion_value(cell, self.criterion)

    def to_grid(self, *, mclust_sign: bool = False, digits: int = 2) -> str:
        """BIC as a components × covariance-types grid, as mclust prints it.

        ``mclust_sign=True`` shows mclust's ``2·logL − p·ln n`` (higher is better), else
        scikit-learn's sign (lower is better). Failed cells show ``NA``; ``*`` marks the best.
        """
        return _format_grid(self, mclust_sign=mclust_sign, digits=digits)

    def to_text(self, *, mclust_sign: bool = False) -> str:
        """A fixed-width table for terminals (mclust's BIC sign if ``mclust_sign``)."""
        bic_label = "BIC(mclust)" if mclust_sign else "BIC"
        header = f"{'K':>3} {'covariance':<12} {'logL':>14} {'params':>7} {bic_label:>14} "
        header += f"{'AIC':>14} {'conv':>5} {'iter':>5}"
        lines = [header]
        for c in self.cells:
            bic = c.bic_mclust if mclust_sign else c.bic
            mark = (" *" if c is self.best else "") + (
                f"  ({c.degenerate})" if c.degenerate else "")
            if c.error:
                lines.append(f"{c.n_components:>3} {c.covariance_type:<12} failed: {c.error}")
                continue
            lines.append(
                f"{c.n_components:>3} {c.covariance_type:<12} {c.log_likelihood:>14.4f} "
                f"{c.n_parameters:>7d} {bic:>14.4f} {c.aic:>14.4f} "
                f"{'yes' if c.converged else 'no':>5} {c.n_iter:>5d}{mark}"
            )
        return "\n".join(lines)


def _format_grid(result: SelectionResult, *, mclust_sign: bool, digits: int) -> str:
    models: list[str] = []
    ks: list[int] = []
    values: dict[tuple[str, int], float] = {}
    for c in result.cells:
        if c.covariance_type not in models:
            models.append(c.covariance_type)
        if c.n_components not in ks:
            ks.append(c.n_components)
        bic = math.nan if c.error else float(c.bic)
        values[(c.covariance_type, c.n_components)] = -bic if mclust_sign else bic
    best = (result.best.covariance_type, result.best.n_components)
    width = max(10, max((len(m) for m in models), default=0) + 2, digits + 9)
    label = (
        "BIC (mclust: 2 logL - p ln n, higher is better)"
        if mclust_sign
        else "BIC (scikit-learn: -2 logL + p ln n, lower is better)"
    )
    lines = [label, " " * 3 + "".join(f"{m:>{width}}" for m in models)]
    for k in sorted(ks):
        row = f"{k:>3}"
        for m in models:
            v = values.get((m, k), math.nan)
            text = "NA" if math.isnan(v) else f"{v:.{digits}f}"
            row += f"{text + ('*' if (m, k) == best else ' '):>{width}}"
        lines.append(row)
    return "\n".join(lines)


def degeneracy(model: GaussianMixture, n_rows: float, n_parameters: int) -> str | None:
    """Why a fitted model must not be chosen silently: a component holding fewer than d + 1
    rows (its covariance is a spike held up by reg_covar) or more free parameters than rows."""
    d = int(model.n_features_in_)
    rows = np.asarray(model.weights_, dtype=float) * n_rows
    if n_parameters >= n_rows:
        return f"{n_parameters} parameters for {n_rows:g} rows"
    small = np.flatnonzero(rows < d + 1)
    if small.size:
        return (f"component {int(small[0]) + 1} holds {rows[small[0]]:.1f} rows, fewer than "
                f"d + 1 = {d + 1}")
    return None


def _criterion_value(cell: SelectionCell, criterion: str) -> float:
    if cell.error:
        return math.inf
    if criterion == "aic":
        return cell.aic
    return cell.bic  # bic and bic_mclust pick the same model (opposite signs)


def select_models(
    X: Any,
    n_components: int | Iterable[int] = range(1, 7),
    covariance_types: str | Sequence[str] = ("full", "tied", "diag", "spherical"),
    *,
    criterion: str = "bic",
    sample_weight: Any = None,
    callback: FitCallback | None = None,
    keep_models: bool = True,
    **gmm_params: Any,
) -> SelectionResult:
    """Fit every (n_components, covariance_type) cell and pick the best by ``criterion``.

    ``gmm_params`` go to every :class:`GaussianMixture` (``n_init``, ``random_state``,
    ``init_params``...). Progress goes through ``callback`` with a ``stage`` naming the cell
    and an overall ``fraction``; a true return value cancels (raises ``FitCancelled``).
    A cell whose fit fails is kept with its error; only if every cell fails is
    :class:`~gmm_desktop.errors.FitError` raised.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    ks = [n_components] if isinstance(n_components, int | np.integer) else list(n_components)
    if not ks or any(int(k) < 1 for k in ks):
        raise ValueError(f"n_components must be positive integers, got {ks!r}")
    types = [covariance_types] if isinstance(covariance_types, str) else list(covariance_types)
    if not types:
        raise ValueError("covariance_types is empty")
    for name in types:  # an unknown name is the caller's error, not a failed cell
        get_registry().get_class("covariance", name)
    # Bad data is the caller's error too: raise it once, before any fit.
    n_samples = check_array(X, estimator_name="select_models", ensure_min_samples=2).shape[0]
    grid = [(int(k), t) for t in types for k in ks]
    X_arr = X
    cells: list[SelectionCell] = []
    for index, (k, cov_type) in enumerate(grid):
        stage = f"{cov_type}, K={k} ({index + 1} of {len(grid)})"

        def relay(info: FitProgress, index: int = index, stage: str = stage) -> Any:
            if callback is None:
                return None
            fraction = (index + info.fraction) / len(grid)
            return callback(replace(info, fraction=fraction, stage=stage))

        model = GaussianMixture(n_components=k, covariance_type=cov_type, **gmm_params)
        started = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X_arr, sample_weight=sample_weight, callback=relay)
            loglik = float(model.score(X_arr)) * (
                n_samples if sample_weight is None else float(np.sum(sample_weight))
            )
            n_eff = n_samples if sample_weight is None else float(np.sum(sample_weight))
            p = model.n_parameters()
            bic, aic = information_criteria(loglik, p, n_eff)
            cells.append(
                SelectionCell(
                    n_components=k,
                    covariance_type=cov_type,
                    log_likelihood=loglik,
                    n_parameters=p,
                    bic=bic,
                    aic=aic,
                    converged=bool(model.converged_),
                    n_iter=int(model.n_iter_),
                    seconds=time.perf_counter() - started,
                    model=model if keep_models else None,
                    degenerate=degeneracy(model, n_eff, p),
                )
            )
        except FitCancelled:
            raise
        except (FitError, PluginError, ValueError) as exc:
            cells.append(
                SelectionCell(
                    n_components=k,
                    covariance_type=cov_type,
                    log_likelihood=math.nan,
                    n_parameters=0,
                    bic=math.nan,
                    aic=math.nan,
                    converged=False,
                    n_iter=0,
                    seconds=time.perf_counter() - started,
                    error=str(exc),
                )
            )
        if callback is not None and callback(
            FitProgress(0, 1, 0, 0, math.nan, math.nan, 0.0, (index + 1) / len(grid), stage)
        ):
            raise FitCancelled("model selection cancelled")
    usable = [c for c in cells if not c.error]
    if not usable:
        raise FitError(
            "Every cell of the model selection failed; first error: " + str(cells[0].error)
        )
    sound = [c for c in usable if not c.degenerate]
    if sound:
        best = min(sound, key=lambda c: _criterion_value(c, criterion))
    else:  # every cell is degenerate: the simplest model, said so by its note
        best = min(usable, key=lambda c: (c.n_parameters, _criterion_value(c, criterion)))
    return SelectionResult(cells=cells, best=best, criterion=criterion, n_samples=n_samples)
