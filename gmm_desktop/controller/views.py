"""Immutable, ready-to-draw results the controller hands to the GUI (no engine objects)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np


def frozen_array(a: Any, dtype: Any = None) -> np.ndarray:
    """A read-only copy-free view (the GUI must never write into worker arrays)."""
    arr = np.asarray(a, dtype=dtype).view()
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True)
class ProgressView:
    """Where a background task is: ``fraction`` done, a sentence, and while EM runs the
    log-likelihood curve so far as ``(restart, iteration, lower bound)`` points."""

    kind: str
    fraction: float
    message: str = ""
    history: tuple[tuple[int, int, float], ...] = ()


@dataclass(frozen=True)
class ViewSettings:
    """How the scatter plot shows the data and the model."""

    axes: str = "columns"  # "columns" or "pca"
    x_column: str | None = None
    y_column: str | None = None
    colour_by: str = "component"  # "component" or "uncertainty"
    ellipse_mode: str = "sigma"  # "sigma" (1, 2, 3 sd) or "mass"
    sigma_levels: tuple[float, ...] = (1.0, 2.0, 3.0)
    mass: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sigma_levels"] = list(self.sigma_levels)
        return d

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ViewSettings:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in doc.items() if k in known}
        if "sigma_levels" in kw:
            kw["sigma_levels"] = tuple(float(v) for v in kw["sigma_levels"])
        return cls(**kw)


@dataclass(frozen=True)
class DatasetView:
    """The loaded file, for the dataset panel."""

    name: str
    path: str
    n_rows: int
    n_columns: int
    columns: tuple[str, ...]
    numeric_columns: tuple[str, ...]
    preview_header: tuple[str, ...]
    preview_rows: tuple[tuple[str, ...], ...]
    messages: tuple[str, ...]
    preview_ids: tuple[str, ...] = ()  # the identity of each preview row (as in exports)
    id_column: str | None = None  # the column naming the rows (None: their position)
    id_candidates: tuple[str, ...] = ()  # the columns that could name the rows


@dataclass(frozen=True)
class FeaturesView:
    """The prepared feature matrix, as the dataset panel reports it."""

    columns: tuple[str, ...]
    missing: str
    scaling: str
    n_rows: int
    n_rows_total: int
    messages: tuple[str, ...]


@dataclass(frozen=True)
class ComponentRow:
    index: int
    weight: float
    mean: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class ModelSummary:
    """The fitted model, for the parameters view and the status bar (in model units)."""

    n_components: int
    covariance_type: str
    init_params: str
    converged: bool
    n_iter: int
    lower_bound: float
    lower_bounds: tuple[float, ...]
    bic: float
    aic: float
    n_parameters: int
    features: tuple[str, ...]
    components: tuple[ComponentRow, ...]
    units: str  # "scaled (standardize)" etc.
    #: The core's notes on this model (degenerate components, EM warnings): never quiet.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class LegendEntry:
    label: str
    colour_index: int


@dataclass(frozen=True)
class ScatterView:
    """Everything the scatter plot draws, in plot coordinates."""

    x: np.ndarray
    y: np.ndarray
    x_label: str
    y_label: str
    colour_kind: str  # "none", "component" or "uncertainty"
    colour_index: np.ndarray | None  # uint8 per point
    n_colours: int
    legend: tuple[LegendEntry, ...]
    ellipse_x: np.ndarray
    ellipse_y: np.ndarray
    n_ellipses: int
    ellipse_labels: tuple[str, ...]
    means: np.ndarray  # (K, 2)
    mean_labels: tuple[str, ...]
    settings: ViewSettings = field(default_factory=ViewSettings)
    note: str = ""  # e.g. "uniform sample: 200,000 of 31,000,000 rows" (big-data mode)

    @property
    def n_points(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class PointInfo:
    """What hovering over a point shows."""

    index: int
    row_id: str
    values: tuple[tuple[str, float], ...]
    component: int | None
    responsibilities: tuple[float, ...]
    why: WhyView | None = None

    def to_text(self) -> str:
        lines = [f"row {self.row_id}"]
        lines += [f"{name} = {value:.6g}" for name, value in self.values]
        if self.component is not None:
            lines.append(f"component {self.component + 1}")
            resp = ", ".join(f"{r:.3f}" for r in self.responsibilities)
            lines.append(f"responsibilities: {resp}")
        if self.why is not None:
            lines.append(self.why.summary())
        return "\n".join(lines)


@dataclass(frozen=True)
class WhyRow:
    """One feature of a row against its component: value, the component's mean and standard
    deviation (data units), and the feature's contribution to the squared distance."""

    feature: str
    value: float
    mean: float
    sd: float
    contribution: float

    @property
    def z(self) -> float:
        return (self.value - self.mean) / self.sd if self.sd > 0 else float("nan")


@dataclass(frozen=True)
class WhyView:
    """Why a row is (or is not) flagged: its features against its component, and each one's
    share of the squared Mahalanobis distance (the shares add up to it exactly)."""

    index: int
    row_id: str
    component: int  # 0-based
    flagged: bool
    log_density: float
    distance_squared: float
    rows: tuple[WhyRow, ...]
    decomposition: str

    @property
    def top(self) -> WhyRow:
        return max(self.rows, key=lambda r: r.contribution)

    def summary(self) -> str:
        top = self.top
        share = top.contribution / self.distance_squared if self.distance_squared > 0 else 0.0
        return (f"distance² {self.distance_squared:.3g} from component {self.component + 1}; "
                f"top feature {top.feature} ({100 * share:.0f}%)")


@dataclass(frozen=True)
class SweepView:
    """Model-selection curves: for each covariance type, criterion value per K."""

    criterion: str
    curves: tuple[tuple[str, tuple[int, ...], tuple[float, ...]], ...]
    best: tuple[int, str]
    table_text: str


@dataclass(frozen=True)
class AnomalyView:
    """The anomaly panel and the scatter overlay: histogram, threshold, flags, contour."""

    n_rows: int
    n_flagged: int
    kind: str  # "contamination", "log_density", "sigma", "chi2"
    value: float
    small_component_share: float | None
    cutoff: float | None  # log-density cut-off (None for the Mahalanobis gates)
    share_at_cutoff: float  # share of rows below the cut-off (contamination box)
    description: str
    hist_counts: np.ndarray
    hist_edges: np.ndarray
    flags: np.ndarray  # bool per plotted point
    flagged_rows: tuple[tuple[int, str, float, int], ...]  # (index, row id, log-density, comp)
    contour_x: np.ndarray
    contour_y: np.ndarray
    contour_note: str
    from_refit: str | None = None  # the accepted refit strategy whose rule gives the flags
    approximate: bool = False  # n_flagged is an estimate (the pass over every row is pending)
    sample_rows: int | None = None  # big-data mode: flags/flagged_rows are of this sample
    pinned: bool = False  # the threshold is a saved or refitted model's own rule
    how: str = ""  # how n_flagged was counted
    flagged_top: tuple[str, ...] = ()  # the top contributing feature of each flagged row
    view_low: float | None = None  # the histogram's shown range (a few extreme rows do
    view_high: float | None = None  # not stretch it), and the rows below it
    n_below_view: int = 0
    #: Manual labels among the rows, and the rows the density rule alone flags among the
    #: rows not marked outlier (its contamination counts those rows only); ``None`` when
    #: not counted (a Mahalanobis gate, big data).
    n_marked_outlier: int = 0
    n_marked_normal: int = 0
    n_rule: int | None = None

    @property
    def rule_share(self) -> float:
        """The density rule's share of the rows not marked outlier (the contamination
        box's meaning); the share below the cut-off when that was not counted."""
        base = self.n_rows - self.n_marked_outlier
        if self.n_rule is None or base <= 0:
            return self.share_at_cutoff
        return self.n_rule / base

    @property
    def share(self) -> float:
        return self.n_flagged / self.n_rows if self.n_rows else 0.0


@dataclass(frozen=True)
class SelectionView:
    """The selected rows (a set of row identities) and their table."""

    n_selected: int
    indices: np.ndarray  # positions of the selected rows among the plotted points
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # at most TABLE_LIMIT rows
    component: int | None  # a component selected from the legend/parameters (highlight)
    n_outliers: int  # manual labels, over the whole data
    n_normal: int
    n_excluded: int
    # positions among the plotted points of the rows with each manual label (the plot's marks)
    labelled: tuple[tuple[str, np.ndarray], ...] = ()


@dataclass(frozen=True)
class RefitView:
    """A refit waiting for the user: before and after."""

    strategy: str
    params: tuple[tuple[str, Any], ...]
    history: tuple[tuple[int, int, int, float, str], ...]  # round, flagged, changed, logL, note
    info: tuple[tuple[str, str], ...]
    old_ellipse_x: np.ndarray
    old_ellipse_y: np.ndarray
    new_ellipse_x: np.ndarray
    new_ellipse_y: np.ndarray
    old_flags: np.ndarray
    new_flags: np.ndarray
    description: str

    @property
    def n_old(self) -> int:
        return int(self.old_flags.sum())

    @property
    def n_new(self) -> int:
        return int(self.new_flags.sum())

    @property
    def n_both(self) -> int:
        return int((self.old_flags & self.new_flags).sum())


@dataclass(frozen=True)
class ParamField:
    """One parameter of a plugin, for a generic editor (from the plugin's ParamSpec)."""

    name: str
    type: str  # int, float, bool, choice, str
    default: Any
    help: str
    minimum: float | None
    maximum: float | None
    choices: tuple[str, ...]
    label: str
