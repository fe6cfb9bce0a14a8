"""Ready-to-draw views of a run's state (Qt-free, pure functions).

The controller calls these with the core's immutable results and the window's view
settings; they return the immutable views of :mod:`gmm_desktop.controller.views`, in plot
coordinates (the data's own units, or principal components).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gmm_desktop.controller import anomaly_tools as tools
from gmm_desktop.controller import geometry
from gmm_desktop.controller.messages import window_hint
from gmm_desktop.controller.views import (
    AnomalyView,
    ComponentRow,
    DatasetView,
    FeaturesView,
    LegendEntry,
    ModelSummary,
    PointInfo,
    RefitView,
    ScatterView,
    SweepView,
    ViewSettings,
    WhyRow,
    WhyView,
    frozen_array,
)
from gmm_desktop.core import LABELS, Detection, Labels, Loaded, Prepared, Scored, steps

#: Bins of the uncertainty colouring (1 − max responsibility).
UNCERTAINTY_BINS = 8
PREVIEW_ROWS = 200
TABLE_LIMIT = 1000
FLAGGED_TABLE_LIMIT = 1000
GRID = 160


def _isna(value: Any) -> bool:
    try:
        return bool(value != value) or value is None
    except Exception:
        return False


def fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def affine_of(scaler: Any, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``offset``, ``scale`` with ``inverse_transform(z) = offset + scale · z``."""
    if scaler is None:
        return np.zeros(d), np.ones(d)
    center = np.asarray(getattr(scaler, "center_", np.zeros(d)), dtype=float)
    scale = np.asarray(getattr(scaler, "scale_", np.ones(d)), dtype=float)
    if center.shape != (d,) or scale.shape != (d,):
        return np.zeros(d), np.ones(d)
    return center, scale


@dataclass(frozen=True, eq=False)
class PlotGeometry:
    """How the prepared rows map to the plot: the scaler's affine map (the plot is in the
    data's units) and the principal axes of the rows (in the model's space)."""

    offset: np.ndarray
    scale: np.ndarray
    pca: geometry.Pca
    generation: int

    @classmethod
    def of(cls, prepared: Prepared) -> PlotGeometry:
        X = prepared.X
        offset, scale = affine_of(prepared.scaler, X.shape[1])
        return cls(offset, scale, geometry.fit_pca(X), prepared.generation)


# --------------------------------------------------------------------------- data


def dataset_view(loaded: Loaded, n_rows: int | None = None) -> DatasetView:
    head = loaded.head(PREVIEW_ROWS)
    rows = tuple(
        tuple("" if _isna(v) else (f"{v:.6g}" if isinstance(v, float) else str(v)) for v in r)
        for r in head.itertuples(index=False, name=None)
    )
    ds = loaded.table
    warnings = tuple(w.render(window_hint) for w in (ds.warnings if ds is not None else ()))
    if ds is not None:
        ids = tuple(str(v) for v in np.asarray(ds.row_ids)[: len(head)])
        # a column can name the rows when its values are unique and complete
        candidates = tuple(str(c) for c in ds.columns
                           if not ds.frame[c].isna().any() and ds.frame[c].is_unique)
    else:  # a lazy table: the rows' positions are known only after a pass
        ids, candidates = (), tuple(loaded.columns)
    return DatasetView(
        name=str(loaded.name),
        path=str(loaded.source.path or loaded.name),
        n_rows=int(n_rows if n_rows is not None else loaded.source.n_rows),
        n_columns=len(loaded.columns),
        columns=loaded.columns,
        numeric_columns=loaded.numeric_columns,
        preview_header=tuple(str(c) for c in head.columns),
        preview_rows=rows,
        messages=warnings,
        preview_ids=ids,
        id_column=loaded.id_column,
        id_candidates=candidates,
    )


def opened_views(opened: Any, view: ViewSettings | None = None
                 ) -> tuple[PlotGeometry, DatasetView, ReadyViews | None]:
    """The plot geometry, the dataset view and (given the view settings) the first scatter
    view of a table just opened, made in the worker that opened it: finding the columns
    that could name the rows passes over every value (0.26 s at a million rows) and the
    coordinates over every row, which blocked the event loop in the GUI thread."""
    prepared = opened.prepared
    geom = PlotGeometry.of(prepared)
    ready = None
    if view is not None:
        ready = ready_views(prepared, geom, view_for(prepared, view), None, None,
                            scatter_note(prepared))
    return geom, dataset_view(opened.loaded, prepared.source.n_rows), ready


def view_for(prepared: Prepared, view: ViewSettings) -> ViewSettings:
    """``view`` with axes among the prepared features (the first two when its own are not
    there; never the same feature twice when there are two)."""
    cols = prepared.columns
    x = view.x_column if view.x_column in cols else (cols[0] if cols else None)
    y = view.y_column if view.y_column in cols else (cols[1] if len(cols) > 1 else x)
    if x == y and len(cols) > 1:
        y = cols[1] if x == cols[0] else cols[0]
    return replace(view, x_column=x, y_column=y)


def scatter_note(prepared: Prepared) -> str:
    """What the scatter says of its rows (big-data mode: a uniform sample)."""
    if not prepared.big:
        return ""
    return f"uniform sample: {prepared.n_view_rows:,} of {prepared.n_rows_used:,} rows"


def features_view(prepared: Prepared) -> FeaturesView:
    feats = prepared.features
    messages = [str(w) for w in (feats.warnings or ())]
    report = feats.report
    if report is not None and report.summary and report.summary not in messages:
        messages.insert(0, str(report.summary))
    return FeaturesView(
        columns=prepared.columns,
        missing=prepared.missing,
        scaling=prepared.scaling,
        n_rows=int(prepared.n_rows_used),
        n_rows_total=int(prepared.source.n_rows),
        messages=tuple(messages),
    )


# --------------------------------------------------------------------------- model


def model_summary(bundle: Any, scored: Scored | None) -> ModelSummary:
    """The model in the data's own units (the scaler's inverse), for the parameters view."""
    m = bundle.model
    means = bundle.means_original()
    covs = bundle.covariances_original()
    comps = tuple(
        ComponentRow(
            index=c,
            weight=float(m.weights_[c]),
            mean=tuple(float(v) for v in means[c]),
            covariance=tuple(tuple(float(v) for v in row) for row in covs[c]),
        )
        for c in range(m.n_components)
    )
    return ModelSummary(
        n_components=int(m.n_components),
        covariance_type=str(m.covariance_type),
        init_params=str(m.init_params),
        converged=bool(m.converged_),
        n_iter=int(m.n_iter_),
        lower_bound=float(m.lower_bound_),
        lower_bounds=tuple(float(v) for v in getattr(m, "lower_bounds_", ())),
        bic=float(scored.bic) if scored is not None else math.nan,
        aic=float(scored.aic) if scored is not None else math.nan,
        n_parameters=int(m.n_parameters()),
        features=tuple(bundle.columns or ()),
        components=comps,
        units="data units",
    )


def sweep_view(result: Any, criterion: str) -> SweepView:
    """Curves of ``criterion`` (bic, aic or bic_mclust) per covariance type; the best cell
    is re-read from the table for the criterion (no refit)."""
    curves = []
    types = list(dict.fromkeys(c.covariance_type for c in result.cells))
    mclust = criterion == "bic_mclust"
    for t in types:
        cells = sorted((c for c in result.cells if c.covariance_type == t),
                       key=lambda c: c.n_components)
        ks = tuple(c.n_components for c in cells)
        vals = tuple(
            math.nan if c.error else float(c.bic_mclust if mclust else (
                c.aic if criterion == "aic" else c.bic))
            for c in cells
        )
        curves.append((t, ks, vals))
    usable = [c for c in result.cells if not c.error]
    best = min(usable, key=lambda c: c.aic if criterion == "aic" else c.bic)
    return SweepView(
        criterion=criterion,
        curves=tuple(curves),
        best=(best.n_components, best.covariance_type),
        table_text=result.to_text(mclust_sign=mclust),
    )


# --------------------------------------------------------------------------- scatter


def _axes(prepared: Prepared, view: ViewSettings) -> tuple[int, int]:
    cols = prepared.columns
    i = cols.index(view.x_column) if view.x_column in cols else 0
    j = cols.index(view.y_column) if view.y_column in cols else min(1, len(cols) - 1)
    return i, j


def _pca_axes(prepared: Prepared, view: ViewSettings) -> bool:
    return view.axes == "pca" and prepared.X.shape[1] >= 2


def project_model(prepared: Prepared, geom: PlotGeometry, view: ViewSettings,
                  model: Any) -> tuple[np.ndarray, np.ndarray]:
    """The components' means ``(K, 2)`` and covariances ``(K, 2, 2)`` in plot coordinates."""
    if _pca_axes(prepared, view):
        return (geom.pca.project(model.means_),
                geom.pca.project_covariances(model.full_covariances()))
    i, j = _axes(prepared, view)
    s = geom.scale[[i, j]]
    means2 = geom.offset[[i, j]] + s * np.asarray(model.means_)[:, [i, j]]
    covs2 = model.marginal_covariances(i, j) * np.outer(s, s)
    return means2, covs2


class ScatterMemo:
    """The plot coordinates and colour groups of the scatter views of the current inputs,
    reused when the inputs are the same objects: a new colouring keeps the points where
    they are, new axes keep their colours, and switching back costs nothing (at a million
    rows each costs passes over the data in the GUI thread). New inputs (features, model)
    drop what was made of the old ones."""

    #: Views kept per kind of piece (a million rows: 16 MB of coordinates per pair of axes).
    KEEP = 3

    def __init__(self) -> None:
        self._slots: dict[str, tuple[tuple[Any, ...], dict[tuple[Any, ...], Any]]] = {}

    def peek(self, which: str, inputs: tuple[Any, ...], settings: tuple[Any, ...]) -> Any:
        """What :meth:`get` would reuse, or ``None`` (nothing is made or forgotten)."""
        slot = self._slots.get(which)
        if (slot is None or len(slot[0]) != len(inputs)
                or not all(a is b for a, b in zip(slot[0], inputs, strict=True))):
            return None
        return slot[1].get(settings)

    def get(self, which: str, inputs: tuple[Any, ...], settings: tuple[Any, ...],
            make: Any) -> Any:
        """``make()``, or the value made last time for the same ``inputs`` (objects,
        compared by identity) and equal ``settings`` (plain values)."""
        slot = self._slots.get(which)
        if (slot is None or len(slot[0]) != len(inputs)
                or not all(a is b for a, b in zip(slot[0], inputs, strict=True))):
            slot = (inputs, {})  # new inputs: forget what was made of the old ones
            self._slots[which] = slot
        made = slot[1]
        if settings in made:
            made[settings] = made.pop(settings)  # the most recent last
        else:
            made[settings] = make()
            while len(made) > self.KEEP:  # the memory of a few views at most
                made.pop(next(iter(made)))
        return made[settings]


def _scatter_axes(prepared: Prepared, geom: PlotGeometry,
                  view: ViewSettings) -> tuple[np.ndarray, np.ndarray, str, str]:
    X = prepared.X
    if _pca_axes(prepared, view):
        # one contiguous array per axis (the plot streams through each of them)
        x, y = geom.pca.project_axis(X, 0), geom.pca.project_axis(X, 1)
        r = geom.pca.explained_ratio
        return (frozen_array(x, float), frozen_array(y, float),
                f"PC1 ({100 * r[0]:.1f}% of variance)", f"PC2 ({100 * r[1]:.1f}% of variance)")
    cols = prepared.columns
    i, j = _axes(prepared, view)
    x = geom.offset[i] + geom.scale[i] * X[:, i]
    y = geom.offset[j] + geom.scale[j] * X[:, j]
    return frozen_array(x, float), frozen_array(y, float), cols[i], cols[j]


def _scatter_colours(scored: Scored, colour_by: str
                     ) -> tuple[str, np.ndarray, int, tuple[LegendEntry, ...]]:
    model = scored.model
    k = int(model.n_components)
    scores = scored.scores
    if colour_by == "uncertainty":
        resp = scores.responsibilities
        # the row maximum column by column: numpy's max(axis=1) over a (1M, 4) array
        # took 133 ms, this 15 ms
        top_resp = np.array(resp[:, 0], dtype=np.float64)
        for c in range(1, resp.shape[1]):
            np.maximum(top_resp, resp[:, c], out=top_resp)
        unc = 1.0 - top_resp
        top = max(1.0 - 1.0 / k, 1e-9)
        bins = np.minimum((unc / top * UNCERTAINTY_BINS).astype(np.int32),
                          UNCERTAINTY_BINS - 1)
        edges = np.linspace(0, top, UNCERTAINTY_BINS + 1)
        # every bin: each colour drawn has its entry
        legend = tuple(
            LegendEntry(f"uncertainty {edges[b]:.2f}–{edges[b + 1]:.2f}", b)
            for b in range(UNCERTAINTY_BINS)
        )
        return "uncertainty", frozen_array(bins.astype(np.uint8)), UNCERTAINTY_BINS, legend
    labels = scores.component.astype(np.uint8 if k < 256 else np.int16)
    legend = tuple(
        LegendEntry(f"component {c + 1} (weight {model.weights_[c]:.3f})", c)
        for c in range(k)
    )
    return "component", frozen_array(labels), k, legend


#: From this many plotted rows a new colouring or new axes are built in a worker (at a
#: million rows building them in the GUI thread blocked the event loop for about 70 ms);
#: below it they are built at once, which is faster than a round trip to a worker.
ASYNC_VIEW_ROWS = 200_000


def _axes_key(prepared: Prepared, view: ViewSettings) -> tuple[Any, ...]:
    return (_pca_axes(prepared, view), _axes(prepared, view))


def scatter_axes(prepared: Prepared, geom: PlotGeometry, view: ViewSettings,
                 memo: ScatterMemo | None = None, *, make: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, str, str] | None:
    """The plotted coordinates of every shown row and the axis labels (reused from
    ``memo`` when the features, geometry and axes are the same; ``make=False``: only
    what the memo has, else ``None``)."""
    memo = memo or ScatterMemo()
    if not make:
        return memo.peek("axes", (prepared, geom), _axes_key(prepared, view))
    return memo.get("axes", (prepared, geom), _axes_key(prepared, view),
                    lambda: _scatter_axes(prepared, geom, view))


def remember_views(memo: ScatterMemo, ready: ReadyViews) -> None:
    """Keep a worker's coordinates and colour groups in ``memo`` (as if it had made them:
    a later change of colouring or axes alone reuses them)."""
    made = ready.scatter
    memo.get("axes", (ready.prepared, ready.geometry), _axes_key(ready.prepared, ready.settings),
             lambda: (made.x, made.y, made.x_label, made.y_label))
    if ready.scored is not None:
        memo.get("colours", (ready.scored,), (ready.settings.colour_by,),
                 lambda: (made.colour_kind, made.colour_index, made.n_colours, made.legend))


def scatter_view(prepared: Prepared, geom: PlotGeometry, view: ViewSettings,
                 scored: Scored | None, note: str = "",
                 memo: ScatterMemo | None = None, *,
                 axes: tuple[np.ndarray, np.ndarray, str, str] | None = None) -> ScatterView:
    """Points, colours, legend, ellipses and means (``scored`` ``None``: points only).

    ``memo`` (a :class:`ScatterMemo` kept by the caller) reuses the coordinates or the
    colour groups of the previous view when their inputs did not change; ``axes`` (from
    :func:`scatter_axes`) gives the coordinates outright (a worker thread must not touch
    the GUI thread's memo)."""
    memo = memo or ScatterMemo()
    x, y, x_label, y_label = axes or scatter_axes(prepared, geom, view, memo)  # type: ignore
    ex = ey = np.empty(0)
    n_ell = 0
    legend: tuple[LegendEntry, ...] = ()
    means2 = np.empty((0, 2))
    mean_labels: tuple[str, ...] = ()
    colour_kind, colour_index, n_colours = "none", None, 0
    ellipse_labels: tuple[str, ...] = ()
    if scored is not None:
        model = scored.model
        k = int(model.n_components)
        means2, covs2 = project_model(prepared, geom, view, model)
        if view.ellipse_mode == "mass":
            radii = [geometry.radius_for_mass(view.mass)]
            ellipse_labels = (f"{100 * view.mass:g}% mass",)
        else:
            radii = list(view.sigma_levels)
            ellipse_labels = tuple(f"{r:g} sd" for r in radii)
        ex, ey = geometry.ellipse_outlines(means2, covs2, radii)
        n_ell = k * len(radii)
        mean_labels = tuple(str(c + 1) for c in range(k))
        colour_kind, colour_index, n_colours, legend = memo.get(
            "colours", (scored,), (view.colour_by,),
            lambda: _scatter_colours(scored, view.colour_by))
    return ScatterView(
        x=x, y=y, x_label=x_label, y_label=y_label,
        colour_kind=colour_kind,
        colour_index=None if colour_index is None else frozen_array(colour_index),
        n_colours=n_colours, legend=legend, ellipse_x=frozen_array(ex),
        ellipse_y=frozen_array(ey), n_ellipses=n_ell, ellipse_labels=ellipse_labels,
        means=frozen_array(means2), mean_labels=mean_labels, settings=view, note=note,
    )


def ellipses_of(prepared: Prepared, geom: PlotGeometry, view: ViewSettings,
                model: Any) -> tuple[np.ndarray, np.ndarray]:
    """The 95 %-mass outline of every component (the refit's before/after comparison)."""
    means2, covs2 = project_model(prepared, geom, view, model)
    return geometry.ellipse_outlines(means2, covs2, [geometry.radius_for_mass(0.95)])


DECOMPOSITION = (
    "Each feature's contribution is (x − μ)ⱼ·(Σ⁻¹(x − μ))ⱼ for the row's component: the "
    "contributions add up to the squared Mahalanobis distance exactly, they are the Shapley "
    "values of that distance with the component's mean as the baseline (independent of the "
    "order of the features and of their units), and a negative one means the feature's value "
    "is what the other features predict."
)


def why_view(prepared: Prepared, scored: Scored, detection: Detection | None,
             index: int) -> WhyView | None:
    """The row at ``index`` against its component, feature by feature (data units)."""
    if not 0 <= index < prepared.n_view_rows:
        return None
    why = steps.explain(prepared, scored, np.array([index]))
    k = int(why.component[0])
    bundle = scored.bundle
    mean = bundle.means_original()[k]
    sd = np.sqrt(np.clip(np.diagonal(bundle.covariances_original()[k]), 0.0, None))
    value = bundle.scaler.inverse_transform(prepared.X[index][None, :])[0]
    rows = tuple(
        WhyRow(feature=c, value=float(value[j]), mean=float(mean[j]), sd=float(sd[j]),
               contribution=float(why.contributions[0, j]))
        for j, c in enumerate(prepared.columns)
    )
    return WhyView(
        index=index, row_id=str(prepared.row_ids[index]), component=k,
        flagged=bool(detection.flags[index]) if detection is not None else False,
        log_density=float(scored.scores.log_density[index]),
        distance_squared=float(why.distance_squared[0]), rows=rows,
        decomposition=DECOMPOSITION,
    )


def point_info(prepared: Prepared, geom: PlotGeometry, index: int,
               scored: Scored | None, detection: Detection | None = None) -> PointInfo | None:
    if not 0 <= index < prepared.n_view_rows:
        return None
    row = prepared.X[index]
    values = tuple((c, float(geom.offset[n] + geom.scale[n] * row[n]))
                   for n, c in enumerate(prepared.columns))
    row_id = str(prepared.row_ids[index])
    component: int | None = None
    resp: tuple[float, ...] = ()
    why = None
    if scored is not None:
        r = scored.scores.responsibilities[index]
        component, resp = int(r.argmax()), tuple(float(v) for v in r)
        why = why_view(prepared, scored, detection, index)
    return PointInfo(index, row_id, values, component, resp, why)


# --------------------------------------------------------------------------- anomaly


def _to_model(prepared: Prepared, geom: PlotGeometry, view: ViewSettings) -> tuple[Any, str]:
    """Plot coordinates → model space, and what the contour honestly shows."""
    dim = prepared.X.shape[1]
    base = geom.pca.center  # the mean of the rows (computed once per feature matrix)
    if _pca_axes(prepared, view):
        comps, center = geom.pca.components, geom.pca.center

        def to_model(px: np.ndarray, py: np.ndarray) -> np.ndarray:
            return center + np.outer(px, comps[0]) + np.outer(py, comps[1])

        note = ("exact decision boundary" if dim == 2 else
                f"decision boundary on the plane of PC1/PC2 through the mean of the data "
                f"({dim} features: rows off this plane can be flagged inside it)")
        return to_model, note
    i, j = _axes(prepared, view)

    def to_model_cols(px: np.ndarray, py: np.ndarray) -> np.ndarray:
        pts = np.tile(base, (px.shape[0], 1))
        pts[:, i] = (px - geom.offset[i]) / geom.scale[i]
        pts[:, j] = (py - geom.offset[j]) / geom.scale[j]
        return pts

    note = "exact decision boundary" if dim <= 2 else (
        f"decision boundary on the slice where the other {dim - 2} features are at their "
        "means (rows elsewhere can be flagged inside it)")
    return to_model_cols, note


@dataclass(frozen=True, eq=False)
class DensityGrid:
    """The mixture's log-density on a grid over the plot (for the decision contour)."""

    key: tuple[Any, ...]
    xs: np.ndarray
    ys: np.ndarray
    values: np.ndarray
    note: str


def density_grid(prepared: Prepared, geom: PlotGeometry, view: ViewSettings, model: Any,
                 scatter: ScatterView) -> DensityGrid | None:
    x, y = scatter.x, scatter.y
    # (a million rows: no copies when every value is finite, the usual case)
    fx = x if np.isfinite(x).all() else x[np.isfinite(x)]
    fy = y if np.isfinite(y).all() else y[np.isfinite(y)]
    if fx.size == 0 or fy.size == 0:
        return None
    (x0, x1), (y0, y1) = (fx.min(), fx.max()), (fy.min(), fy.max())
    px, py = 0.08 * (x1 - x0 or 1.0), 0.08 * (y1 - y0 or 1.0)
    xs = np.linspace(x0 - px, x1 + px, GRID)
    ys = np.linspace(y0 - py, y1 + py, GRID)
    to_model, note = _to_model(prepared, geom, view)
    values = tools.density_grid(model, xs, ys, to_model)
    return DensityGrid(grid_key(model, scatter), xs, ys, values, note)


@dataclass(frozen=True, eq=False)
class ReadyViews:
    """The views of a new model made in the worker that fitted or scored it, so that the
    GUI thread only adopts them (at a million rows, building them there blocked the event
    loop for tens of milliseconds). They are used only if nothing they were made from
    changed meanwhile (:meth:`fits`)."""

    scored: Scored | None
    prepared: Prepared
    geometry: PlotGeometry
    settings: ViewSettings
    scatter: ScatterView
    grid: DensityGrid | None

    def fits(self, prepared: Prepared | None, geom: PlotGeometry | None,
             settings: ViewSettings, scored: Scored | None) -> bool:
        return (prepared is self.prepared and geom is self.geometry
                and settings == self.settings and scored is self.scored)


def ready_views(prepared: Prepared, geom: PlotGeometry, view: ViewSettings,
                scored: Scored | None, axes: tuple[np.ndarray, np.ndarray, str, str] | None,
                note: str, colours: tuple[Any, ...] | None = None) -> ReadyViews:
    """The scatter view and the density grid of ``scored``'s model (``None``: the points
    alone), in a worker thread. ``axes`` and ``colours`` are what the GUI thread's memo
    had before the work started (``None``: made here)."""
    memo = ScatterMemo()  # the worker's own
    if colours is not None and scored is not None:
        memo.get("colours", (scored,), (view.colour_by,), lambda: colours)
    scatter = scatter_view(prepared, geom, view, scored, note, memo, axes=axes)
    grid = (density_grid(prepared, geom, view, scored.model, scatter)
            if scored is not None and scatter.n_points else None)
    return ReadyViews(scored, prepared, geom, view, scatter, grid)


def grid_key(model: Any, scatter: ScatterView) -> tuple[Any, ...]:
    return (id(model), scatter.x_label, scatter.y_label, scatter.settings.axes,
            scatter.n_points)


def flagged_rows(flags: np.ndarray, scored: Scored,
                 row_ids: np.ndarray) -> tuple[tuple[int, str, float, int], ...]:
    """The flagged rows, lowest density first (at most FLAGGED_TABLE_LIMIT)."""
    idx = np.flatnonzero(flags)
    if idx.size == 0:
        return ()
    ld = scored.scores.log_density[idx]
    if idx.size > FLAGGED_TABLE_LIMIT:
        part = np.argpartition(ld, FLAGGED_TABLE_LIMIT - 1)[:FLAGGED_TABLE_LIMIT]
        idx, ld = idx[part], ld[part]
    order = np.argsort(ld, kind="stable")
    idx, ld = idx[order], ld[order]
    comp = scored.scores.component[idx]
    ids = [str(v) for v in np.asarray(row_ids)[idx].tolist()]  # (plain Python values)
    return tuple(zip(idx.tolist(), ids, ld.tolist(), comp.tolist(), strict=True))


def flagged_top_features(prepared: Prepared, scored: Scored,
                         rows: tuple[tuple[int, str, float, int], ...]) -> tuple[str, ...]:
    """The top contributing feature of each row of the flagged table."""
    if not rows:
        return ()
    pos = np.array([r[0] for r in rows], dtype=np.int64)
    return tuple(steps.explain(prepared, scored, pos).top_feature)


def flagged_table(prepared: Prepared, scored: Scored, detection: Detection
                  ) -> tuple[tuple[tuple[int, str, float, int], ...], tuple[str, ...]]:
    """The flagged table's rows (lowest density first) and each one's top feature."""
    rows = flagged_rows(np.asarray(detection.flags), scored, prepared.row_ids)
    return rows, flagged_top_features(prepared, scored, rows)


def anomaly_view(prepared: Prepared, scored: Scored, detection: Detection,
                 grid: DensityGrid | None, *, busy_counting: bool = False,
                 labels: Labels | None = None,
                 table: tuple[tuple[Any, ...], tuple[str, ...]] | None = None) -> AnomalyView:
    """The anomaly panel's and the plot's view of ``detection`` (``table``: the flagged
    rows and their top features, if already made for this detection: a new contour
    alone does not pass over the flags again)."""
    threshold = detection.threshold
    spec = threshold.spec
    dens = scored.density
    cutoff = threshold.log_density_cutoff
    n = detection.n_rows
    if cutoff is not None and math.isfinite(cutoff):
        below = dens.count_below(cutoff) if dens.exact else dens.estimate_below(cutoff)
    elif cutoff is not None:
        below = 0 if cutoff < 0 else n
    else:
        below = detection.n_flagged or 0
    cx = cy = np.empty(0)
    note = ""
    if cutoff is None:
        note = "the gate is a Mahalanobis radius: see the ellipses"
    elif grid is not None and math.isfinite(cutoff):
        cx, cy = tools.contour_lines(grid.values, grid.xs, grid.ys, cutoff)
        note = grid.note
    rows, tops = table if table is not None else flagged_table(prepared, scored, detection)
    how = detection.how
    if not detection.exact and busy_counting:
        how += "; counting every row…"
    view_low, view_high, n_below_view = dens.view_range(cutoff)
    description = threshold.describe()
    if prepared.big:
        description += f" ({how})"
    n_out = n_norm = 0
    n_rule: int | None = None
    if not prepared.big and cutoff is not None:
        n_rule = int(below)
        if labels is not None and not labels.empty:
            masks = labels.masks(prepared.row_ids)
            n_out, n_norm = int(masks["outlier"].sum()), int(masks["normal"].sum())
            n_rule = int(np.count_nonzero((scored.scores.log_density < cutoff)
                                          & ~masks["outlier"]))
    return AnomalyView(
        n_rows=n,
        n_flagged=int(detection.n_flagged or 0),
        kind=spec.kind,
        value=spec.value,
        small_component_share=spec.small_component_share,
        cutoff=cutoff,
        share_at_cutoff=float(below) / n if n else 0.0,
        description=description,
        hist_counts=dens.counts,
        hist_edges=dens.edges,
        flags=frozen_array(detection.flags),
        flagged_rows=rows,
        flagged_top=tops,
        view_low=view_low,
        view_high=view_high,
        n_below_view=n_below_view,
        contour_x=frozen_array(cx),
        contour_y=frozen_array(cy),
        contour_note=note,
        from_refit=detection.from_refit,
        approximate=not detection.exact,
        sample_rows=prepared.n_view_rows if prepared.big else None,
        pinned=detection.pinned,
        how=how,
        n_marked_outlier=n_out,
        n_marked_normal=n_norm,
        n_rule=n_rule,
    )


def refit_view(prepared: Prepared, geom: PlotGeometry, view: ViewSettings, proposal: Any,
               old_model: Any) -> RefitView:
    ox, oy = ellipses_of(prepared, geom, view, old_model)
    nx, ny = ellipses_of(prepared, geom, view, proposal.bundle.model)
    rec = proposal.record
    hist = tuple(
        (int(h["round"]), int(h["n_flagged"]), int(h["n_changed"]),
         float(h["log_likelihood"]), str(h.get("note", "")))
        for h in rec.history
    )
    info = tuple(
        (str(k), f"{v:.5g}" if isinstance(v, float) else str(v))
        for k, v in rec.info.items() if not isinstance(v, list | dict)
    )
    return RefitView(
        strategy=rec.strategy,
        params=tuple(rec.params),
        history=hist,
        info=info,
        old_ellipse_x=frozen_array(ox), old_ellipse_y=frozen_array(oy),
        new_ellipse_x=frozen_array(nx), new_ellipse_y=frozen_array(ny),
        old_flags=frozen_array(proposal.old_flags),
        new_flags=frozen_array(proposal.detection.flags),
        description=proposal.detection.threshold.describe(),
    )


# --------------------------------------------------------------------------- tables


def rows_table(prepared: Prepared, pos: np.ndarray, scored: Scored | None,
               detection: Detection | None, labels: Labels
               ) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The rows at positions ``pos``: identity, every original column, scores, flag, label."""
    loaded = prepared.loaded
    if loaded.table is None:
        return (), ()
    frame = loaded.table.frame
    row_index = np.asarray(prepared.features.row_index)
    base = frame.iloc[row_index[pos]]
    header = ["row", *[str(c) for c in frame.columns]]
    if scored is not None:
        k = scored.scores.responsibilities.shape[1]
        header += ["component", *[f"resp {c + 1}" for c in range(k)]]
        header += ["log-density", "flag", "label"]
    row_ids = prepared.row_ids
    masks = labels.masks(row_ids[pos]) if pos.size else {}
    rows = []
    for n, (p, values) in enumerate(zip(pos, base.itertuples(index=False, name=None),
                                        strict=True)):
        cells = [str(row_ids[p]), *[fmt(v) for v in values]]
        if scored is not None:
            s = scored.scores
            cells.append(str(int(s.component[p]) + 1))
            cells += [f"{r:.3f}" for r in s.responsibilities[p]]
            cells.append(f"{s.log_density[p]:.5g}")
            flag = detection is not None and bool(detection.flags[p])
            cells.append("yes" if flag else "")
            cells.append(next((k for k in LABELS if masks[k][n]), ""))
        rows.append(tuple(cells))
    return tuple(header), tuple(rows)
