"""More views of a mixture, ready to draw (Qt-free, pure functions).

* a **scatter matrix** of chosen features with every component's ellipses (small
  multiples, data units);
* per-feature **marginal histograms** with the fitted component densities (data units: the
  model lives in scaled space, the scaler's affine map brings it back);
* a **χ² Q–Q plot** per component: the squared Mahalanobis distances of the rows assigned
  to it against χ²_d quantiles, the check an analyst uses to trust a Gaussian;
* an **uncertainty view**: 1 − max responsibility, histogram and rows ranked;
* a **row inspection**: why a row that lies inside every drawn ellipse can be flagged.

Every builder takes the core's immutable results (:class:`~gmm_desktop.core.Prepared`,
:class:`~gmm_desktop.core.Scored`, :class:`~gmm_desktop.core.Detection`) and the plot
geometry, and returns frozen views. Out of core, the prepared rows are the plotted uniform
sample and every view says so (``note``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from scipy import stats

from gmm_desktop.controller import geometry
from gmm_desktop.controller.views import frozen_array
from gmm_desktop.core import Detection, Prepared, Scored
from gmm_desktop.core.steps import explain

#: Rows drawn per scatter-matrix panel (a uniform subsample beyond), and flagged rows
#: drawn on top of them (all of them, or the lowest-density ones beyond this count).
MATRIX_POINTS = 3000
MATRIX_FLAGGED = 1000
#: Features a scatter matrix shows by default (the analyst can choose more).
MATRIX_DEFAULT_FEATURES = 5
#: Points drawn per component in the Q–Q plot (exact order statistics, thinned evenly in
#: the bulk; the largest distances and every flagged row are always drawn).
QQ_POINTS = 1500
QQ_TAIL = 100
#: Rows listed in the uncertainty ranking.
UNCERTAIN_ROWS = 200
#: Points of each fitted density curve.
CURVE_POINTS = 256
MAX_BINS = 80


# --------------------------------------------------------------------------- helpers


def _offset_scale(geom: Any, d: int) -> tuple[np.ndarray, np.ndarray]:
    if geom is None:
        return np.zeros(d), np.ones(d)
    return np.asarray(geom.offset, dtype=float), np.asarray(geom.scale, dtype=float)


def model_in_data_units(model: Any, offset: np.ndarray, scale: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(weights (K,), means (K, d), covariances (K, d, d))`` in the data's units: the
    scaler is affine per feature (``x = offset + scale·z``), so ``μ = offset + scale·μ_z``
    and ``Σ = diag(scale) Σ_z diag(scale)``."""
    means = offset + scale * np.asarray(model.means_, dtype=float)
    covs = np.asarray(model.full_covariances(), dtype=float) * np.outer(scale, scale)
    return np.asarray(model.weights_, dtype=float), means, covs


def sample_note(prepared: Prepared) -> str:
    """What the rows of a view are, out of core."""
    if not prepared.big:
        return ""
    return (f"uniform sample: {prepared.n_view_rows:,} of {prepared.n_rows_used:,} rows "
            "(the views use the plotted sample)")


def _thin(n: int, limit: int, rng_seed: int = 0) -> np.ndarray | None:
    """Sorted positions of a uniform subsample of ``limit`` of ``n`` rows (None: all)."""
    if n <= limit:
        return None
    rng = np.random.default_rng(rng_seed)
    return np.sort(rng.choice(n, size=limit, replace=False))


def _bins(x: np.ndarray) -> np.ndarray:
    """Histogram edges over the rows' range: the bin width of numpy's "auto" rule
    (Sturges / Freedman–Diaconis; on a uniform sample of 100,000 rows for big tables), at
    most ``MAX_BINS`` bins."""
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return np.array([0.0, 1.0])
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        return np.array([lo - 0.5, hi + 0.5])
    sample = finite if finite.size <= 100_000 else finite[
        np.random.default_rng(0).integers(0, finite.size, 100_000)]
    width = float(np.diff(np.histogram_bin_edges(sample, bins="auto")[:2])[0])
    bins = int(np.ceil((hi - lo) / width)) if width > 0 else 10
    edges = np.linspace(lo, hi, max(1, min(MAX_BINS, bins)) + 1)
    return edges


# --------------------------------------------------------------------------- scatter matrix


@dataclass(frozen=True, eq=False)
class MatrixView:
    """A scatter matrix of ``columns`` (data units).

    ``values`` are the drawn rows (a uniform subsample of at most ``MATRIX_POINTS`` plus the
    flagged rows, at most ``MATRIX_FLAGGED`` of them: the lowest-density ones), ``positions``
    their positions among the prepared rows (the selection's
    language); ``ellipses[(i, j)]`` the outlines of every component at every radius for the
    panel with feature ``i`` across and ``j`` up (NaN-separated, ``K × len(radii)``).
    """

    columns: tuple[str, ...]
    values: np.ndarray  # (m, p)
    positions: np.ndarray  # (m,)
    colour_index: np.ndarray | None  # (m,) component of each drawn row
    flagged: np.ndarray  # (m,) bool
    n_colours: int
    means: np.ndarray  # (K, p)
    ellipses: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]
    ellipse_labels: tuple[str, ...]
    n_rows: int  # prepared rows (the plotted rows)
    n_flagged: int
    note: str

    @property
    def n_points(self) -> int:
        return int(self.values.shape[0])


def default_columns(prepared: Prepared, limit: int = MATRIX_DEFAULT_FEATURES) -> tuple[str, ...]:
    return prepared.columns[:limit]


def matrix_view(prepared: Prepared, geom: Any, scored: Scored | None,
                detection: Detection | None, columns: Sequence[str] | None = None, *,
                radii: Sequence[float] = (1.0, 2.0, 3.0),
                ellipse_labels: Sequence[str] | None = None,
                max_points: int = MATRIX_POINTS,
                max_flagged: int = MATRIX_FLAGGED) -> MatrixView:
    """The scatter matrix of ``columns`` (default: the first few features)."""
    cols_all = prepared.columns
    chosen = [c for c in (columns or default_columns(prepared)) if c in cols_all]
    if not chosen:
        chosen = list(default_columns(prepared))
    idx = [cols_all.index(c) for c in chosen]
    X = prepared.X
    offset, scale = _offset_scale(geom, X.shape[1])
    n = int(X.shape[0])
    flags = (np.asarray(detection.flags, dtype=bool) if detection is not None
             and detection.flags.shape[0] == n else np.zeros(n, dtype=bool))
    keep = _thin(n, max_points)
    flagged_rows = np.flatnonzero(flags)
    all_flagged = flagged_rows.size <= max_flagged or keep is None
    if not all_flagged and scored is not None:  # the most anomalous (lowest density)
        ld = np.asarray(scored.scores.log_density)[flagged_rows]
        flagged_rows = np.sort(flagged_rows[np.argpartition(ld, max_flagged - 1)[:max_flagged]])
    if keep is None:
        pos = np.arange(n)
    else:
        pos = np.union1d(keep, flagged_rows)
    values = offset[idx] + scale[idx] * X[np.ix_(pos, np.asarray(idx, dtype=np.int64))]
    colour_index = None
    n_colours = 0
    means = np.empty((0, len(idx)))
    ellipses: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    if scored is not None:
        model = scored.model
        k = int(model.n_components)
        _w, mu, cov = model_in_data_units(model, offset, scale)
        means = mu[:, idx]
        colour_index = np.asarray(scored.scores.component)[pos].astype(np.int32)
        n_colours = k
        for a, b in combinations(range(len(idx)), 2):
            i, j = idx[a], idx[b]
            covs2 = cov[:, [i, j]][:, :, [i, j]]
            ellipses[(a, b)] = geometry.ellipse_outlines(mu[:, [i, j]], covs2, list(radii))
    labels = tuple(ellipse_labels) if ellipse_labels is not None else tuple(
        f"{r:g} sd" for r in radii)
    note = sample_note(prepared)
    if keep is not None:
        which = ("every flagged row" if all_flagged else
                 f"the {flagged_rows.size:,} lowest-density of the {int(flags.sum()):,} "
                 "flagged rows")
        shown = f"drawn: a uniform {max_points:,} of the {n:,} rows and {which} " \
                f"({pos.size:,} points)"
        note = f"{note}; {shown}" if note else shown
    return MatrixView(
        columns=tuple(chosen), values=frozen_array(values), positions=frozen_array(pos),
        colour_index=None if colour_index is None else frozen_array(colour_index),
        flagged=frozen_array(flags[pos]), n_colours=n_colours, means=frozen_array(means),
        ellipses=ellipses, ellipse_labels=labels if scored is not None else (),
        n_rows=n, n_flagged=int(flags.sum()), note=note,
    )


def rows_in_units(prepared: Prepared, geom: Any, columns: Sequence[str],
                  positions: np.ndarray) -> np.ndarray:
    """The values of the rows at ``positions`` for ``columns``, in data units (p columns)."""
    cols_all = prepared.columns
    idx = [cols_all.index(c) for c in columns]
    offset, scale = _offset_scale(geom, prepared.X.shape[1])
    pos = np.asarray(positions, dtype=np.int64)
    pos = pos[(pos >= 0) & (pos < prepared.n_view_rows)]
    return frozen_array(offset[idx] + scale[idx] * prepared.X[np.ix_(
        pos, np.asarray(idx, dtype=np.int64))])


def rows_in_box(prepared: Prepared, geom: Any, x_column: str, y_column: str,
                x_range: tuple[float, float], y_range: tuple[float, float]) -> np.ndarray:
    """Positions of every prepared row whose ``x_column``/``y_column`` values (data units)
    lie in the box: a rectangle drawn in one panel selects all its rows, drawn or not."""
    cols = prepared.columns
    i, j = cols.index(x_column), cols.index(y_column)
    offset, scale = _offset_scale(geom, prepared.X.shape[1])
    x = offset[i] + scale[i] * prepared.X[:, i]
    y = offset[j] + scale[j] * prepared.X[:, j]
    (x0, x1), (y0, y1) = sorted(x_range), sorted(y_range)
    return np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))


# --------------------------------------------------------------------------- marginals


@dataclass(frozen=True, eq=False)
class MarginalFeature:
    """One feature: the rows' histogram as a density (its area is 1) and the fitted
    densities on a grid, all in the data's units. ``components`` are weighted
    (``w_k·N(x; μ_k, σ_k²)``), so they add up to ``mixture``."""

    name: str
    edges: np.ndarray
    density: np.ndarray  # histogram heights (area 1)
    flagged_density: np.ndarray  # the flagged rows' share of each bar (same scale)
    grid: np.ndarray
    components: np.ndarray  # (K, G)
    mixture: np.ndarray  # (G,)
    means: np.ndarray  # (K,)
    sds: np.ndarray  # (K,)


@dataclass(frozen=True, eq=False)
class MarginalsView:
    features: tuple[MarginalFeature, ...]
    n_rows: int
    n_colours: int
    note: str


def marginal_density(x: np.ndarray, weights: np.ndarray, means: np.ndarray,
                     sds: np.ndarray) -> np.ndarray:
    """``(K, len(x))`` weighted normal densities ``w_k·φ((x − μ_k)/σ_k)/σ_k``."""
    x = np.asarray(x, dtype=float)
    return weights[:, None] * stats.norm.pdf(x[None, :], loc=means[:, None],
                                             scale=sds[:, None])


def marginals_view(prepared: Prepared, geom: Any, scored: Scored | None,
                   detection: Detection | None,
                   columns: Sequence[str] | None = None) -> MarginalsView:
    """Histograms of every chosen feature (default: all) with the fitted marginals."""
    X = prepared.X
    cols_all = prepared.columns
    chosen = [c for c in (columns or cols_all) if c in cols_all] or list(cols_all)
    offset, scale = _offset_scale(geom, X.shape[1])
    n = int(X.shape[0])
    flags = (np.asarray(detection.flags, dtype=bool) if detection is not None
             and detection.flags.shape[0] == n else np.zeros(n, dtype=bool))
    weights = mu = cov = None
    if scored is not None:
        weights, mu, cov = model_in_data_units(scored.model, offset, scale)
    features = []
    for name in chosen:
        i = cols_all.index(name)
        x = offset[i] + scale[i] * X[:, i]
        edges = _bins(x)
        # equal-width bins: numpy's fast path (an array of edges would sort the rows)
        edge_range = (float(edges[0]), float(edges[-1]))
        counts, _ = np.histogram(x, bins=edges.size - 1, range=edge_range)
        fcounts, _ = np.histogram(x[flags], bins=edges.size - 1, range=edge_range) if (
            flags.any()) else (np.zeros_like(counts), None)
        widths = np.diff(edges)
        total = max(int(counts.sum()), 1)
        density = counts / (total * widths)
        flagged_density = fcounts / (total * widths)
        lo, hi = float(edges[0]), float(edges[-1])
        if weights is not None and mu is not None and cov is not None:
            means = mu[:, i]
            sds = np.sqrt(np.clip(cov[:, i, i], 1e-300, None))
            lo = min(lo, float((means - 4 * sds).min()))
            hi = max(hi, float((means + 4 * sds).max()))
            span = hi - lo
            grid = np.linspace(lo - 0.02 * span, hi + 0.02 * span, CURVE_POINTS)
            comps = marginal_density(grid, weights, means, sds)
        else:
            means = sds = np.empty(0)
            grid = np.linspace(lo, hi, CURVE_POINTS)
            comps = np.empty((0, grid.size))
        features.append(MarginalFeature(
            name=name, edges=frozen_array(edges), density=frozen_array(density),
            flagged_density=frozen_array(flagged_density), grid=frozen_array(grid),
            components=frozen_array(comps), mixture=frozen_array(comps.sum(axis=0)),
            means=frozen_array(means), sds=frozen_array(sds)))
    return MarginalsView(features=tuple(features), n_rows=n,
                         n_colours=0 if weights is None else int(weights.shape[0]),
                         note=sample_note(prepared))


# --------------------------------------------------------------------------- Q–Q plot


@dataclass(frozen=True, eq=False)
class QQComponent:
    """The rows assigned to one component: their squared Mahalanobis distances sorted
    (``observed``) against the χ²_d quantiles at the plotting positions (i − ½)/n
    (``theoretical``). The bulk is thinned for drawing; every point drawn is exact."""

    component: int
    n_rows: int
    theoretical: np.ndarray
    observed: np.ndarray
    positions: np.ndarray  # prepared positions of the drawn points
    flagged: np.ndarray  # bool per drawn point
    median_ratio: float  # median D² / χ²_d median: 1 for a Gaussian fit
    beyond_975: float  # share of its rows beyond the χ²_d 97.5 % quantile (2.5 % expected)


@dataclass(frozen=True, eq=False)
class QQView:
    dof: int
    components: tuple[QQComponent, ...]
    quantiles: tuple[tuple[float, float], ...]  # (probability, χ²_d quantile)
    note: str


def qq_points(d2: np.ndarray, dof: int, limit: int = QQ_POINTS, tail: int = QQ_TAIL,
              keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(order, theoretical, observed)`` of a χ² Q–Q plot of ``d2``: ``order`` are the
    indices into ``d2`` of the drawn points (ascending distance), ``theoretical`` the
    ``chi2.ppf((i − 0.5)/n, dof)`` at their ranks ``i``. Beyond ``limit`` points the bulk
    is thinned evenly; the ``tail`` largest and the rows in ``keep`` (at most ``limit`` of
    them, the farthest) are always drawn."""
    d2 = np.asarray(d2, dtype=float)
    n = int(d2.shape[0])
    order = np.argsort(d2)  # ties are equal values: any order of them is the same plot
    ranks = np.arange(n)
    if n > limit:
        bulk = np.unique(np.linspace(0, n - 1, limit - tail).round().astype(np.int64))
        chosen = np.union1d(bulk, np.arange(max(n - tail, 0), n))
        if keep is not None and keep.any():
            inverse = np.empty(n, dtype=np.int64)
            inverse[order] = ranks
            kept = np.sort(inverse[np.flatnonzero(keep)])[-limit:]  # the farthest ones
            chosen = np.union1d(chosen, kept)
        ranks = chosen
    probs = (ranks + 0.5) / n
    return order[ranks], stats.chi2.ppf(probs, dof), d2[order[ranks]]


def qq_view(prepared: Prepared, scored: Scored, detection: Detection | None,
            limit: int = QQ_POINTS) -> QQView:
    """The χ² Q–Q plot of every component (rows assigned by the largest responsibility)."""
    scores = scored.scores
    dof = int(scores.n_features)
    n = scores.n_samples
    flags = (np.asarray(detection.flags, dtype=bool) if detection is not None
             and detection.flags.shape[0] == n else np.zeros(n, dtype=bool))
    d2_own = np.asarray(scores.mahalanobis, dtype=float) ** 2
    comps = []
    median = float(stats.chi2.ppf(0.5, dof))
    q975 = float(stats.chi2.ppf(0.975, dof))
    for k in range(int(scored.model.n_components)):
        rows = np.flatnonzero(scores.component == k)
        if rows.size == 0:
            continue
        d2 = d2_own[rows]
        order, theo, obs = qq_points(d2, dof, limit, keep=flags[rows])
        comps.append(QQComponent(
            component=k, n_rows=int(rows.size), theoretical=frozen_array(theo),
            observed=frozen_array(obs), positions=frozen_array(rows[order]),
            flagged=frozen_array(flags[rows[order]]),
            median_ratio=float(np.median(d2) / median) if median > 0 else math.nan,
            beyond_975=float(np.mean(d2 > q975)),
        ))
    quantiles = tuple((p, float(stats.chi2.ppf(p, dof))) for p in (0.95, 0.975, 0.999))
    return QQView(dof=dof, components=tuple(comps), quantiles=quantiles,
                  note=sample_note(prepared))


# --------------------------------------------------------------------------- uncertainty


@dataclass(frozen=True, eq=False)
class UncertaintyView:
    """1 − max responsibility of every row: how sure the model is of a row's component.

    ``edges``/``counts``: its histogram over [0, 1 − 1/K] (the largest value possible);
    ``ranked``: the most uncertain rows, as ``(position, row id, component, runner-up,
    max responsibility, runner-up responsibility, uncertainty, flagged)``; ``curve``: the
    uncertainty of every row sorted (largest first), thinned for drawing.
    """

    n_rows: int
    n_components: int
    edges: np.ndarray
    counts: np.ndarray
    flagged_counts: np.ndarray
    ranked: tuple[tuple[int, str, int, int, float, float, float, bool], ...]
    curve_rank: np.ndarray
    curve_value: np.ndarray
    mean: float
    share_above: tuple[tuple[float, float], ...]  # (level, share of rows above it)
    note: str


def uncertainty_view(prepared: Prepared, scored: Scored, detection: Detection | None,
                     bins: int = 40, top: int = UNCERTAIN_ROWS) -> UncertaintyView:
    resp = np.asarray(scored.scores.responsibilities, dtype=float)
    n, k = resp.shape
    flags = (np.asarray(detection.flags, dtype=bool) if detection is not None
             and detection.flags.shape[0] == n else np.zeros(n, dtype=bool))
    comp = np.asarray(scored.scores.component)
    rows_all = np.arange(n)
    best = resp[rows_all, comp] if k >= 1 else np.ones(n)
    if k >= 2:  # the runner-up: the largest of the others (a row-wise partition is slow)
        others = resp.copy()
        others[rows_all, comp] = -np.inf
        second = others.max(axis=1)
        del others
    else:
        second = np.zeros(n)
    unc = 1.0 - best
    top_value = max(1.0 - 1.0 / k, 1e-9)
    edges = np.linspace(0.0, top_value, bins + 1)
    counts, _ = np.histogram(np.clip(unc, 0.0, top_value), bins=bins, range=(0.0, top_value))
    fcounts, _ = np.histogram(np.clip(unc[flags], 0.0, top_value), bins=bins,
                              range=(0.0, top_value))
    m = min(top, n)
    if n > m:  # the m most uncertain rows, then in order (most uncertain first)
        part = np.argpartition(-unc, m - 1)[:m]
        order = part[np.argsort(-unc[part], kind="stable")]
    else:
        order = np.argsort(-unc, kind="stable")
    if k >= 2:
        masked = resp[order].copy()
        masked[np.arange(m), comp[order]] = -1.0
        runner = masked.argmax(axis=1)
    else:
        runner = np.zeros(m, dtype=np.int64)
    row_ids = prepared.row_ids
    ranked = tuple(
        (int(p), str(row_ids[p]), int(comp[p]), int(r), float(best[p]), float(second[p]),
         float(unc[p]), bool(flags[p]))
        for p, r in zip(order, runner, strict=True)
    )
    if n > 2000:  # the ranked curve at 2,000 ranks spread on a log scale (as drawn)
        ranks = np.unique(np.r_[np.arange(min(n, 500)),
                                np.geomspace(1, n, 1500).round().astype(np.int64) - 1])
    else:
        ranks = np.arange(n)
    sorted_unc = np.sort(unc)[::-1]
    levels = (0.1, 0.25, 0.5)
    return UncertaintyView(
        n_rows=n, n_components=k, edges=frozen_array(edges), counts=frozen_array(counts),
        flagged_counts=frozen_array(fcounts), ranked=ranked,
        curve_rank=frozen_array(ranks + 1), curve_value=frozen_array(sorted_unc[ranks]),
        mean=float(unc.mean()) if n else 0.0,
        share_above=tuple((lv, float(np.mean(unc > lv))) for lv in levels if lv < top_value),
        note=sample_note(prepared),
    )


# --------------------------------------------------------------------------- row inspection


@dataclass(frozen=True)
class RowInspection:
    """Why one row is (or is not) flagged, in terms the scatter matrix can show.

    ``d2``: its squared Mahalanobis distance to its component over all ``dof`` features;
    ``pair_sd``: its Mahalanobis distance (in sd) in each drawn pair of features, the
    distance an ellipse of the matrix shows; ``inside_all``: within ``radius`` sd in every
    drawn pair.
    """

    position: int
    row_id: str
    component: int
    log_density: float
    cutoff: float | None
    flagged: bool
    dof: int
    d2: float
    tail: float  # P(χ²_d > D²)
    quantile_975: float
    pair_sd: dict[tuple[int, int], float]
    columns: tuple[str, ...]
    radius: float
    text: str
    #: ``(feature, contribution)`` over every feature, largest first: the core's
    #: decomposition of D² (:func:`gmm_desktop.core.steps.explain`; they add up to ``d2``).
    contributions: tuple[tuple[str, float], ...] = ()

    @property
    def max_pair_sd(self) -> float:
        return max(self.pair_sd.values()) if self.pair_sd else math.nan

    @property
    def inside_all(self) -> bool:
        return bool(self.pair_sd) and self.max_pair_sd <= self.radius


def inspect_row(prepared: Prepared, scored: Scored, detection: Detection | None,
                position: int, columns: Sequence[str], radius: float = 3.0) -> RowInspection:
    """The row at ``position``: its distance over every feature against its distances in
    each drawn pair (the ellipses are 2-D shadows of a ``d``-dimensional ellipsoid)."""
    scores = scored.scores
    model = scored.model
    k = int(scores.component[position])
    dof = int(scores.n_features)
    d2 = float(scores.mahalanobis[position]) ** 2
    x = np.asarray(prepared.X[position], dtype=float)
    mu = np.asarray(model.means_, dtype=float)[k]
    cov = np.asarray(model.full_covariances(), dtype=float)[k]
    cols_all = prepared.columns
    chosen = [c for c in columns if c in cols_all]
    idx = [cols_all.index(c) for c in chosen]
    pair_sd: dict[tuple[int, int], float] = {}
    # Mahalanobis distances do not depend on the (affine, per-feature) scaler: computed in
    # the model's space they are the distances in the data's units too
    for a, b in combinations(range(len(idx)), 2):
        ij = [idx[a], idx[b]]
        diff = x[ij] - mu[ij]
        sub = cov[np.ix_(ij, ij)]
        try:
            pair_sd[(a, b)] = float(np.sqrt(max(diff @ np.linalg.solve(sub, diff), 0.0)))
        except np.linalg.LinAlgError:
            pair_sd[(a, b)] = math.inf
    why = explain(prepared, scored, np.array([position]))
    contributions = tuple(sorted(
        ((str(c), float(v)) for c, v in zip(why.columns, why.contributions[0], strict=True)),
        key=lambda t: -t[1]))
    flagged = bool(detection is not None and detection.flags[position])
    cutoff = None if detection is None else detection.threshold.log_density_cutoff
    ld = float(scores.log_density[position])
    tail = float(stats.chi2.sf(d2, dof))
    q975 = float(stats.chi2.ppf(0.975, dof))
    row_id = str(prepared.row_ids[position])
    lines = [f"Row {row_id}: {'flagged' if flagged else 'not flagged'}, log-density "
             f"{ld:.4g}" + (f" (cut-off {cutoff:.4g})" if cutoff is not None
                            and math.isfinite(cutoff) else "") + f"; component {k + 1}."]
    lines.append(
        f"Over all {dof} features its Mahalanobis distance to component {k + 1} is "
        f"{math.sqrt(d2):.2f} (D² = {d2:.1f}; the χ²_{dof} 97.5 % quantile is {q975:.1f}; "
        f"tail probability {tail:.2g}).")
    if pair_sd:
        worst = max(pair_sd, key=pair_sd.__getitem__)
        lines.append(
            f"In the {len(pair_sd)} drawn pairs it is at most {pair_sd[worst]:.2f} sd away "
            f"({chosen[worst[0]]} × {chosen[worst[1]]}).")
        if max(pair_sd.values()) <= radius and dof > 2:
            lines.append(
                f"It lies inside every drawn {radius:g}-sd ellipse: each ellipse is the 2-D "
                f"shadow of a {dof}-dimensional ellipsoid, and small deviations in many "
                f"features add up to a large distance over all of them (see the Q–Q plot).")
    if dof > 1:
        top = ", ".join(f"{name} {value:.1f}" for name, value in contributions[:3])
        lines.append(f"Largest contributions to D²: {top}.")
    return RowInspection(
        position=int(position), row_id=row_id, component=k, log_density=ld, cutoff=cutoff,
        flagged=flagged, dof=dof, d2=d2, tail=tail, quantile_975=q975, pair_sd=pair_sd,
        columns=tuple(chosen), radius=float(radius), text=" ".join(lines),
        contributions=contributions)
