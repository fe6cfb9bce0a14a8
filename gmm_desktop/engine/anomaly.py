"""Anomaly scores, thresholds and refit strategies on a fitted mixture (numpy/scipy only).

For every row :func:`score_rows` gives the log-density under the mixture, the most likely
component, all responsibilities, the Mahalanobis distance to that component and its
chi-square tail probability. A :class:`ThresholdSpec` says how to draw the line:

``contamination``
    flag the lowest-density fraction ``q`` of the rows (the cut-off log-density is learned
    on the fitting data and then applies unchanged to new data);
``log_density``
    flag rows whose log-density is below an absolute value;
``sigma``
    a per-component gate of ``k`` standard deviations: a row outside *every* component's
    ``k``-sigma ellipsoid (Mahalanobis distance above ``k``) is flagged;
``chi2``
    the same gate given as a chi-square probability ``q`` (``k² = χ²_d(q)``; 0.975 is the
    usual robust-statistics gate).

On top of any of them, ``small_component_share`` declares every component whose weight is
below that share anomalous and flags its rows (a tight group of bad rows that captured a
Gaussian of its own). :func:`fit_threshold` turns a spec into a :class:`Threshold` with its
learned values; the threshold is JSON-ready (``to_dict``) and is saved with the model, so
that a model fitted on clean data flags new rows (novelty detection).

:func:`run_refit` runs a refit strategy plugin and checks what it returns.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import stats

from gmm_desktop.engine import _em
from gmm_desktop.errors import FitCancelled, PluginError
from gmm_desktop.plugin_api import (
    RefitCallback,
    RefitResult,
    RefitStrategy,
    squared_mahalanobis,
)

__all__ = [
    "THRESHOLD_KINDS",
    "AnomalyResult",
    "Scores",
    "Threshold",
    "ThresholdSpec",
    "check_masks",
    "contamination_cutoff",
    "contamination_rank",
    "cutoff_between",
    "detect",
    "feature_contributions",
    "fit_threshold",
    "run_refit",
    "score_rows",
    "small_components",
    "threshold_from",
]

THRESHOLD_KINDS = ("contamination", "log_density", "sigma", "chi2")


# --------------------------------------------------------------------------- scores


@dataclass(frozen=True)
class Scores:
    """Per-row scores of ``X`` under a fitted mixture.

    ``mahalanobis_all`` holds the (not squared) distance of every row to every component;
    ``mahalanobis`` and ``tail_probability`` (``P(χ²_d > D²)``) refer to the most likely
    component, ``component``.
    """

    log_density: np.ndarray
    component: np.ndarray
    responsibilities: np.ndarray
    mahalanobis: np.ndarray
    tail_probability: np.ndarray
    mahalanobis_all: np.ndarray
    n_features: int

    @property
    def n_samples(self) -> int:
        return int(self.log_density.shape[0])


#: Numbers in the largest temporary of one scoring chunk (K × rows × (d + 1)): 8 MB.
SCORE_CHUNK_ELEMENTS = 1 << 20


def _mixture_parts(model: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, str] | None:
    """``(weights, means, expanded precision factors, structure)`` of an engine model,
    read in the covariance type's own storage; None for another kind of model."""
    plugin = getattr(model, "_plugin", None)
    if plugin is None or not hasattr(model, "precisions_cholesky_"):
        return None
    cov = plugin()
    means = np.asarray(model.means_, dtype=float)
    k, d = means.shape
    expanded = cov.expand_precision_cholesky(model.precisions_cholesky_, k, d)
    return np.asarray(model.weights_, dtype=float), means, np.asarray(expanded), cov.structure


def score_rows(model: Any, X: Any, *, chunk_size: int | None = None) -> Scores:
    """Scores of every row of ``X`` (already in the model's feature space).

    Rows are scored ``chunk_size`` at a time (default: about a million numbers per
    temporary), so the memory used beyond the returned arrays is bounded by the chunk,
    not by the number of rows. For an engine :class:`~gmm_desktop.engine.GaussianMixture`
    the Mahalanobis distances come from the model's own precision factors in its
    covariance type's storage (a diagonal model never builds a ``d × d`` matrix) and the
    log-densities are computed from the same distances, in one pass: they equal
    ``model.score_samples`` and ``model.predict_proba``. Any other fitted mixture with
    ``score_samples``, ``predict_proba``, ``means_`` and ``full_covariances()`` is scored
    through those.
    """
    if not all(hasattr(model, name) for name in ("means_", "score_samples", "predict_proba")):
        raise TypeError(
            f"score_rows needs a fitted Gaussian mixture (means_, score_samples, "
            f"predict_proba), got {type(model).__name__}"
            + ("; call fit first" if hasattr(model, "score_samples") else "")
        )
    check = getattr(model, "_validate_predict_input", None)
    if check is not None and isinstance(X, np.ndarray) and X.dtype.kind in "fiu" and X.ndim == 2:
        # A plain array is checked a chunk at a time (the first chunk fully: features,
        # shape), so the whole table is never copied or masked at once.
        arr = X
        check(arr[: max(1, min(len(arr), 64))])
    elif check is not None:
        arr, check = check(X), None
    else:
        arr = np.asarray(X, dtype=float)
    parts = _mixture_parts(model)
    n, d = arr.shape
    means = np.asarray(model.means_, dtype=float)
    k = means.shape[0]
    if chunk_size is None:
        chunk_size = max(64, SCORE_CHUNK_ELEMENTS // max(1, k * (d + 1)))
    covariances = None if parts is not None else model.full_covariances()

    log_density = np.empty(n)
    component = np.empty(n, dtype=np.intp)
    resp = np.empty((n, k))
    own = np.empty(n)  # squared distance to the most likely component, then its root
    tail = np.empty(n)
    distances = np.empty((n, k))
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        xb = arr[start:stop]
        if xb.dtype != np.float64:
            xb = xb.astype(np.float64)
        if check is not None and not np.all(np.isfinite(xb)):
            check(arr)  # raises, naming the first bad row of the whole table
        if parts is not None:
            weights, _, expanded, structure = parts
            d2 = _em._mahalanobis(xb[None, :, :] - means[:, None, :], expanded, structure)
            offset = (
                -0.5 * d * _em._LOG_2PI
                + _em.log_det_cholesky(expanded, structure)
                + np.log(weights)
            )
            wlp = offset - 0.5 * d2
            ld = _em.logsumexp_rows(wlp)
            rb = np.exp(wlp - ld[:, None])
        else:
            ld = np.asarray(model.score_samples(xb), dtype=float)
            rb = np.asarray(model.predict_proba(xb), dtype=float)
            d2 = squared_mahalanobis(xb, means, covariances)
        np.maximum(d2, 0.0, out=d2)
        best = rb.argmax(axis=1)
        log_density[start:stop] = ld
        resp[start:stop] = rb
        component[start:stop] = best
        nearest = d2[np.arange(stop - start), best]
        tail[start:stop] = stats.chi2.sf(nearest, d)
        np.sqrt(nearest, out=own[start:stop])
        np.sqrt(d2, out=distances[start:stop])
    return Scores(
        log_density=log_density,
        component=component,
        responsibilities=resp,
        mahalanobis=own,
        tail_probability=tail,
        mahalanobis_all=distances,
        n_features=d,
    )


# --------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class ThresholdSpec:
    """How to draw the line (see the module docstring); validated on creation."""

    kind: str = "contamination"
    value: float = 0.05
    small_component_share: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in THRESHOLD_KINDS:
            raise ValueError(
                f"unknown threshold kind {self.kind!r}; use one of {', '.join(THRESHOLD_KINDS)}"
            )
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise ValueError(f"the threshold value must be a number, got {value!r}")
        value = float(value)
        object.__setattr__(self, "value", value)
        if not math.isfinite(value):
            raise ValueError(f"the threshold value must be finite, got {value}")
        if self.kind == "contamination" and not 0.0 <= value < 1.0:
            raise ValueError(
                f"a contamination is a fraction of the rows in [0, 1), got {value:g} "
                "(write 5% as 0.05)"
            )
        if self.kind == "sigma" and value <= 0.0:
            raise ValueError(f"a sigma gate needs a positive number of deviations, got {value:g}")
        if self.kind == "chi2" and not 0.0 < value < 1.0:
            raise ValueError(f"a chi-square gate is a probability in (0, 1), got {value:g}")
        share = self.small_component_share
        if share is not None:
            share = float(share)
            object.__setattr__(self, "small_component_share", share)
            if not 0.0 < share < 1.0:
                raise ValueError(
                    f"the small-component share must be in (0, 1), got {share:g}"
                )

    def describe(self) -> str:
        text = {
            "contamination": f"lowest-density {self.value:.4g} of the rows",
            "log_density": f"log-density below {self.value:.6g}",
            "sigma": f"outside every component's {self.value:g}-sigma ellipsoid",
            "chi2": f"outside every component's {self.value:g} chi-square ellipsoid",
        }[self.kind]
        if self.small_component_share is not None:
            text += f"; components under {self.small_component_share:.4g} of the weight"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "small_component_share": self.small_component_share,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ThresholdSpec:
        if not isinstance(data, dict) or "kind" not in data or "value" not in data:
            raise ValueError(f"a threshold needs 'kind' and 'value', got {data!r}")
        return cls(str(data["kind"]), data["value"], data.get("small_component_share"))


@dataclass(frozen=True)
class Threshold:
    """A :class:`ThresholdSpec` with what was learned when it was fitted.

    ``log_density_cutoff`` (contamination and log-density kinds): rows strictly below it
    are flagged. ``radius`` (sigma and chi-square kinds): the Mahalanobis radius of the
    gate. ``anomalous_components``: components declared anomalous by the small-component
    rule. ``n_fit`` is the number of rows the threshold was learned on.
    """

    spec: ThresholdSpec
    log_density_cutoff: float | None = None
    radius: float | None = None
    anomalous_components: tuple[int, ...] = ()
    n_fit: int = 0

    def flags(
        self,
        scores: Scores,
        *,
        exclude: np.ndarray | None = None,
        never_flag: np.ndarray | None = None,
    ) -> np.ndarray:
        """Bool flags of the scored rows; ``exclude`` rows are flagged, ``never_flag`` not."""
        flags = self.flags_of(scores.log_density, scores.component, scores.mahalanobis_all)
        exclude, never_flag = check_masks(scores.n_samples, exclude, never_flag)
        return (flags | exclude) & ~never_flag

    def flags_of(
        self,
        log_density: np.ndarray,
        component: np.ndarray,
        mahalanobis_all: np.ndarray | None = None,
        *,
        squared: bool = False,
    ) -> np.ndarray:
        """The gate itself, on raw per-row figures (the one dispatch every path uses).

        ``mahalanobis_all`` (rows × components) is needed by the Mahalanobis gates only;
        ``squared`` says it holds squared distances (as the out-of-core scorer has them).
        """
        if self.radius is not None:
            if mahalanobis_all is None:
                raise ValueError("a Mahalanobis gate needs the distances to every component")
            limit = self.radius**2 if squared else self.radius
            flags = np.all(np.asarray(mahalanobis_all) > limit, axis=1)
        else:
            cutoff = -np.inf if self.log_density_cutoff is None else self.log_density_cutoff
            flags = np.asarray(log_density) < cutoff
        if self.anomalous_components:
            flags = flags | np.isin(component, self.anomalous_components)
        return flags

    def describe(self) -> str:
        text = self.spec.describe()
        if self.spec.kind == "contamination" and self.log_density_cutoff is not None:
            text += f" (log-density below {self.log_density_cutoff:.6g})"
        if self.radius is not None:
            text += f" (Mahalanobis distance above {self.radius:.4g})"
        if self.anomalous_components:
            text += f"; anomalous components: {list(self.anomalous_components)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        cutoff = self.log_density_cutoff
        return {
            "spec": self.spec.to_dict(),
            "log_density_cutoff": None if cutoff is None or not math.isfinite(cutoff) else cutoff,
            "cutoff_infinite": (
                None if cutoff is None or math.isfinite(cutoff) else ("+" if cutoff > 0 else "-")
            ),
            "radius": self.radius,
            "anomalous_components": list(self.anomalous_components),
            "n_fit": self.n_fit,
            "description": self.describe(),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Threshold:
        if not isinstance(data, dict) or "spec" not in data:
            raise ValueError(f"a saved threshold needs a 'spec', got {data!r}")
        spec = ThresholdSpec.from_dict(data["spec"])
        cutoff = data.get("log_density_cutoff")
        if cutoff is None and data.get("cutoff_infinite") in ("+", "-"):
            cutoff = math.inf if data["cutoff_infinite"] == "+" else -math.inf
        radius = data.get("radius")
        return cls(
            spec=spec,
            log_density_cutoff=None if cutoff is None else float(cutoff),
            radius=None if radius is None else float(radius),
            anomalous_components=tuple(int(k) for k in data.get("anomalous_components", ())),
            n_fit=int(data.get("n_fit", 0)),
        )


def check_masks(
    n: int, exclude: Any = None, never_flag: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Both manual-label masks as bool arrays of length ``n`` (all false when ``None``)."""
    out = []
    for name, mask in (("exclude", exclude), ("never_flag", never_flag)):
        if mask is None:
            out.append(np.zeros(n, dtype=bool))
            continue
        arr = np.asarray(mask)
        if arr.shape != (n,) or arr.dtype != bool:
            raise ValueError(f"{name} must be a bool mask of {n} rows, got {arr.dtype} {arr.shape}")
        out.append(arr)
    if np.any(out[0] & out[1]):
        first = int(np.flatnonzero(out[0] & out[1])[0])
        raise ValueError(
            f"row {first} is marked both outlier and normal; clear one of the two labels"
        )
    return out[0], out[1]


def contamination_rank(q: float, n: int) -> int:
    """How many of ``n`` rows a contamination of ``q`` flags: ``round(q·n)``."""
    return round(float(q) * int(n))


def cutoff_between(lower: float, upper: float) -> float:
    """The cut-off between the m-th lowest log-density and the next: their midpoint, so
    that exactly m rows are strictly below it (ties aside)."""
    return float(0.5 * (lower + upper))


def contamination_cutoff(sorted_log_density: np.ndarray, q: float) -> float:
    """The log-density cut-off that flags the lowest share ``q`` of the rows.

    ``sorted_log_density`` is ascending. ``m = round(q·n)`` rows are flagged: the cut-off
    lies halfway between the m-th lowest value and the next (``-inf`` flags none, ``+inf``
    every row). The out-of-core pass finds the same two order statistics without sorting.
    """
    ordered = np.asarray(sorted_log_density)
    n = int(ordered.shape[0])
    m = contamination_rank(q, n)
    if m <= 0:
        return -math.inf
    if m >= n:
        return math.inf
    return cutoff_between(float(ordered[m - 1]), float(ordered[m]))


def small_components(weights: Any, share: float | None) -> tuple[int, ...]:
    """The small-component rule: components whose weight is below ``share`` are anomalous."""
    if share is None:
        return ()
    w = np.asarray(weights, dtype=float)
    return tuple(int(k) for k in np.flatnonzero(w < share))


def threshold_from(
    spec: ThresholdSpec,
    model: Any,
    *,
    n_features: int,
    n_rows: int,
    cutoff_for: Callable[[float], float] | None = None,
) -> Threshold:
    """Turn ``spec`` into a :class:`Threshold`: the one place that dispatches on its kind.

    ``cutoff_for(q)`` returns the contamination cut-off over the fitting rows (sorted
    log-densities in memory, two passes over a Dask array out of core); it is called only
    for the contamination kind.
    """
    cutoff = radius = None
    if spec.kind == "contamination":
        if cutoff_for is None:
            raise ValueError("a contamination threshold needs the rows' log-densities")
        cutoff = float(cutoff_for(spec.value))
    elif spec.kind == "log_density":
        cutoff = spec.value
    elif spec.kind == "sigma":
        radius = spec.value
    else:
        radius = float(math.sqrt(stats.chi2.ppf(spec.value, n_features)))
    small = small_components(model.weights_, spec.small_component_share)
    return Threshold(spec, cutoff, radius, small, int(n_rows))


def fit_threshold(
    spec: ThresholdSpec, model: Any, scores: Scores, *, exclude: Any = None
) -> Threshold:
    """Learn ``spec`` on the scored fitting data (rows in ``exclude`` are left out)."""
    exclude, _ = check_masks(scores.n_samples, exclude, None)
    used = scores.log_density[~exclude]
    ordered = np.sort(used) if spec.kind == "contamination" else used
    return threshold_from(
        spec, model, n_features=scores.n_features, n_rows=int(used.size),
        cutoff_for=lambda q: contamination_cutoff(ordered, q),
    )


# --------------------------------------------------------------------------- detection


@dataclass
class AnomalyResult:
    """Scores, the fitted threshold and the flags of one dataset under one model."""

    scores: Scores
    threshold: Threshold
    flags: np.ndarray
    refit: RefitResult | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def n_flagged(self) -> int:
        return int(self.flags.sum())


def detect(
    model: Any,
    X: Any,
    threshold: ThresholdSpec | Threshold,
    *,
    exclude: Any = None,
    never_flag: Any = None,
) -> AnomalyResult:
    """Score ``X`` and flag its rows.

    A :class:`ThresholdSpec` is learned on ``X`` (fitting data); a fitted
    :class:`Threshold` is applied as it is (novelty detection on new data).
    """
    if not isinstance(threshold, ThresholdSpec | Threshold):
        raise TypeError(
            "threshold must be a ThresholdSpec (a rule learned on X, e.g. "
            "ThresholdSpec('contamination', 0.05)) or a fitted Threshold, got "
            f"{type(threshold).__name__}")
    scores = score_rows(model, X)
    exclude, never_flag = check_masks(scores.n_samples, exclude, never_flag)
    if isinstance(threshold, ThresholdSpec):
        threshold = fit_threshold(threshold, model, scores, exclude=exclude)
    flags = threshold.flags(scores, exclude=exclude, never_flag=never_flag)
    return AnomalyResult(scores, threshold, flags)


def _refit_model_problem(fitted: Any, n_features: int) -> str | None:
    """What is wrong with a model a refit strategy returned (None if it is usable)."""
    for attr in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        if not hasattr(fitted, attr):
            return f"no {attr} (it is not fitted)"
    try:
        weights = np.asarray(fitted.weights_, dtype=float)
        means = np.asarray(fitted.means_, dtype=float)
        covariances = np.asarray(fitted.covariances_, dtype=float)
        factors = np.asarray(fitted.precisions_cholesky_, dtype=float)
    except (TypeError, ValueError) as exc:
        return f"parameters that are not arrays of numbers ({exc})"
    if means.ndim != 2 or means.shape[1] != n_features:
        return f"means of shape {means.shape}, expected (K, {n_features})"
    k = means.shape[0]
    if weights.shape != (k,):
        return f"weights of shape {weights.shape}, expected ({k},) for {k} means"
    plugin = getattr(fitted, "_plugin", None)
    if plugin is not None:
        try:
            expected = tuple(plugin().covariance_shape(k, n_features))
        except Exception:  # an unknown covariance type: the finiteness checks still apply
            expected = None
        if expected is not None and covariances.shape != expected:
            return f"covariances of shape {covariances.shape}, expected {expected}"
    for name, values in (("weights", weights), ("means", means),
                         ("covariances", covariances), ("precision factors", factors)):
        if not np.all(np.isfinite(values)):
            return f"non-finite {name} (NaN or infinite values)"
    if np.any(weights < 0) or abs(float(weights.sum()) - 1.0) > 1e-6:
        return f"weights that are not a probability vector (they sum to {weights.sum():.6g})"
    return None


def run_refit(
    strategy: RefitStrategy,
    model: Any,
    X: Any,
    spec: ThresholdSpec,
    *,
    exclude: Any = None,
    never_flag: Any = None,
    callback: RefitCallback | None = None,
) -> AnomalyResult:
    """Run a refit strategy plugin, check its result, and score ``X`` with the new model.

    The strategy receives a deep copy of ``model`` (a strategy that modifies the model it
    is given cannot damage the caller's), and what it returns is checked before use: a
    new fitted model whose means, weights and covariances have the right shapes, are
    finite, and whose weights sum to 1; flags of the right shape; a valid threshold.
    Anything else, or any exception from the strategy, raises
    :class:`~gmm_desktop.errors.PluginError` naming the strategy.

    The strategy's flags are final (plus the small-component rule and the manual labels);
    the threshold recorded with the result is the one that reproduces them on new data: the
    strategy's own rule when it declares one, ``spec`` learned on the refitted model else.
    """
    if not isinstance(strategy, RefitStrategy):
        raise TypeError(
            f"run_refit needs a RefitStrategy plugin, got {type(strategy).__name__}; create "
            "one with get_registry().create('refit', NAME)"
        )
    arr = np.asarray(X, dtype=float)
    n = arr.shape[0]
    exclude, never_flag = check_masks(n, exclude, never_flag)

    def flagger(fitted: Any, data: np.ndarray) -> np.ndarray:
        return detect(fitted, data, spec, exclude=exclude, never_flag=never_flag).flags

    label = f"refit strategy {strategy.name!r}"
    # The strategy works on a copy: whatever it does to the model it is given (even
    # overwrite its means with NaN), the caller's model is untouched.
    given = copy.deepcopy(model)
    try:
        result = strategy.run(
            arr,
            given,
            threshold=flagger,
            exclude=exclude.copy(),
            never_flag=never_flag.copy(),
            callback=callback,
        )
    except (FitCancelled, PluginError, MemoryError):
        raise
    except Exception as exc:
        raise PluginError(
            f"the {label} failed: {type(exc).__name__}: {exc}", plugin=strategy.name
        ) from exc
    if not isinstance(result, RefitResult):
        raise PluginError(
            f"the {label} returned {type(result).__name__}, not a RefitResult",
            plugin=strategy.name,
        )
    flags = np.asarray(result.flags)
    if flags.shape != (n,) or flags.dtype != bool:
        raise PluginError(
            f"the {label} returned flags of {flags.dtype} {flags.shape}, expected bool ({n},)",
            plugin=strategy.name,
        )
    if not hasattr(result.model, "means_") or result.model is model or result.model is given:
        raise PluginError(
            f"the {label} must return a new fitted model, not the input or an unfitted one",
            plugin=strategy.name,
        )
    problem = _refit_model_problem(result.model, arr.shape[1])
    if problem:
        raise PluginError(
            f"the {label} returned a model with {problem}; the strategy is at fault (the "
            "data and the previous model are unchanged): choose another strategy, or "
            "disable this one and report the problem to its author",
            plugin=strategy.name,
        )
    final_spec = spec
    if result.threshold is not None:
        try:
            final_spec = replace(
                ThresholdSpec.from_dict(result.threshold),
                small_component_share=spec.small_component_share,
            )
        except ValueError as exc:
            raise PluginError(
                f"the {label} returned a bad threshold: {exc}", plugin=strategy.name
            ) from exc
    scores = score_rows(result.model, arr)
    threshold = fit_threshold(final_spec, result.model, scores, exclude=exclude)
    final = flags.copy()
    if threshold.anomalous_components:
        final |= np.isin(scores.component, threshold.anomalous_components)
    final = (final | exclude) & ~never_flag
    return AnomalyResult(scores, threshold, final, refit=result)


# --------------------------------------------------------------------------- explanations


def feature_contributions(
    model: Any, X: Any, component: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's share of a row's squared Mahalanobis distance to its component.

    For a row ``x`` and component ``k`` with mean ``μ`` and precision ``Λ = Σ⁻¹``, the squared
    distance ``D² = (x − μ)ᵀ Λ (x − μ)`` is split as ``c_j = (x − μ)_j · (Λ (x − μ))_j``, so
    ``Σ_j c_j = D²`` exactly. This is the Shapley value of ``D²`` over the features with the
    component's mean as the baseline (every cross term ``(x−μ)_i Λ_ij (x−μ)_j`` is shared
    equally by its two features), so it does not depend on the order of the features, costs
    ``O(d²)`` per row, and is unchanged by rescaling a feature. A negative ``c_j`` means the
    row's value of feature ``j`` is what its correlations with the other features predict:
    it brings the row closer. ``component`` (default: the most likely) picks ``k`` per row.

    Returns ``(contributions (n, d), component (n,))``.
    """
    arr = np.asarray(X, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D (rows × features), got shape {arr.shape}")
    means = np.asarray(model.means_, dtype=float)
    k, d = means.shape
    if arr.shape[1] != d:
        raise ValueError(f"X has {arr.shape[1]} features but the model has {d}")
    if component is None:
        component = np.asarray(model.predict(arr))
    component = np.asarray(component, dtype=np.int64)
    plugin = model._plugin()
    factors = np.asarray(plugin.expand_precision_cholesky(model.precisions_cholesky_, k, d))
    out = np.empty_like(arr)
    for c in np.unique(component):
        rows = component == c
        delta = arr[rows] - means[c]
        if plugin.structure == "full":
            y = delta @ factors[c]  # (x − μ)ᵀ U, with Λ = U Uᵀ
            out[rows] = delta * (y @ factors[c].T)  # (x − μ) ∘ Λ(x − μ)
        else:
            out[rows] = delta * delta * factors[c] ** 2
    return out, component
