"""The immutable results of a run's steps.

A step computes one of these from other immutable values (in any thread) and the run
adopts it (in one thread). Each result names the generation of the prepared features it
was computed on, so a result that arrives after the features changed is recognised as
stale and dropped instead of being mixed with the new data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gmm_desktop.core.modelfile import ModelBundle
from gmm_desktop.core.records import RefitRecord, SourceInfo
from gmm_desktop.data import Dataset, PreparedFeatures
from gmm_desktop.engine import SelectionResult
from gmm_desktop.engine.anomaly import Scores, Threshold, contamination_cutoff

__all__ = [
    "HIST_BINS",
    "DensityIndex",
    "Detection",
    "Fitted",
    "Loaded",
    "Prepared",
    "RefitProposal",
    "Scored",
    "frozen",
]

HIST_BINS = 120


def frozen(a: Any, dtype: Any = None) -> np.ndarray:
    """A read-only view (results are shared between threads and never written)."""
    arr = np.asarray(a, dtype=dtype).view()
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class Loaded:
    """A table: in memory (``table``) or opened lazily for big data (``lazy``)."""

    source: SourceInfo
    generation: int
    table: Dataset | None = None
    lazy: Any = None  # outofcore.LazyTable
    preview: Any = None  # the first rows of a lazy table (a pandas DataFrame)

    @property
    def big(self) -> bool:
        return self.lazy is not None

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def columns(self) -> tuple[str, ...]:
        if self.table is not None:
            return tuple(str(c) for c in self.table.frame.columns)
        return tuple(str(c) for c in self.lazy.frame.columns)

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        if self.table is not None:
            return tuple(str(c) for c in self.table.numeric_columns)
        return tuple(self.lazy.numeric_columns)

    @property
    def id_column(self) -> str | None:
        if self.table is not None:
            return self.table.id_column
        return self.lazy.id_column

    def head(self, n: int) -> Any:
        """The first ``n`` rows (a pandas DataFrame), for a preview."""
        if self.table is not None:
            return self.table.frame.head(n)
        return self.preview.head(n)


@dataclass(frozen=True, eq=False)
class Prepared:
    """The model-ready features of a table.

    ``features`` are the rows the run scores row by row: every used row in memory, a
    uniform random sample of the rows out of core (then ``lazy`` holds every row, as Dask
    arrays, and ``n_rows_used`` counts them all).
    """

    loaded: Loaded
    features: PreparedFeatures
    missing: str
    generation: int
    n_rows_used: int
    lazy: Any = None  # outofcore.LazyFeatures

    @property
    def big(self) -> bool:
        return self.lazy is not None

    @property
    def X(self) -> np.ndarray:
        return self.features.X

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.features.columns)

    @property
    def row_ids(self) -> np.ndarray:
        return np.asarray(self.features.row_ids)

    @property
    def scaler(self) -> Any:
        return self.features.scaler

    @property
    def scaling(self) -> str:
        return str(self.features.scaler.method)

    @property
    def n_view_rows(self) -> int:
        return int(self.features.X.shape[0])

    @property
    def source(self) -> SourceInfo:
        s = self.loaded.source
        return SourceInfo(
            path=s.path, name=s.name, n_rows=s.n_rows, n_rows_used=self.n_rows_used,
            id_column=s.id_column, sheet=s.sheet, demo=s.demo, sha256=s.sha256,
            out_of_core=s.out_of_core,
        )


@dataclass(frozen=True, eq=False)
class Fitted:
    """A fitted model (and the model-selection table when several were tried)."""

    bundle: ModelBundle
    prepared_generation: int
    selection: SelectionResult | None = None
    warnings: tuple[str, ...] = ()
    robust: Any = None  # engine.robust.RobustFit: the trimmed-BIC table of the robust route


@dataclass(frozen=True, eq=False)
class DensityIndex:
    """Log-densities sorted once, for O(log n) threshold counts, and their histogram.

    Out of core, ``sorted_ld`` holds the plotted sample's values while ``counts`` is the
    histogram of every row and ``n`` counts every row.
    """

    sorted_ld: np.ndarray
    counts: np.ndarray
    edges: np.ndarray
    n: int

    @classmethod
    def build(cls, log_density: np.ndarray, bins: int = HIST_BINS) -> DensityIndex:
        ld = np.asarray(log_density, dtype=float)
        finite = ld[np.isfinite(ld)]
        if finite.size == 0:
            counts, edges = np.zeros(1, dtype=np.int64), np.array([0.0, 1.0])
        else:
            # the far tail is clipped to the 0.1 % quantile so a few extreme rows do not
            # squash the histogram; they are still counted, in the first bin
            lo = float(np.quantile(finite, 0.001)) if finite.size > 1000 else float(finite.min())
            hi = float(finite.max())
            if hi <= lo:
                hi = lo + 1.0
            counts, edges = np.histogram(np.clip(finite, lo, hi), bins=bins, range=(lo, hi))
        return cls(frozen(np.sort(ld)), frozen(counts), frozen(edges), int(ld.shape[0]))

    def count_below(self, cutoff: float) -> int:
        """Rows with log-density strictly below ``cutoff`` (exact when ``sorted_ld`` holds
        every row)."""
        return int(np.searchsorted(self.sorted_ld, cutoff, side="left"))

    def cutoff_for_share(self, q: float) -> float:
        """The contamination cut-off (the engine's rule, on the sorted values)."""
        return contamination_cutoff(self.sorted_ld, q)

    @property
    def exact(self) -> bool:
        return int(self.sorted_ld.shape[0]) == self.n

    def view_range(self, cutoff: float | None = None, quantile: float = 0.01,
                   margin: float = 0.25) -> tuple[float, float, int]:
        """``(low, high, rows below low)`` for showing the histogram: from the ``quantile``
        of the rows minus ``margin`` × (high − that quantile), so that a few extreme rows do
        not squash the rest, never hiding the threshold ``cutoff``."""
        counts, edges = np.asarray(self.counts), np.asarray(self.edges)
        total = int(counts.sum())
        lo_all, hi = float(edges[0]), float(edges[-1])
        if total == 0 or counts.size == 0:
            return lo_all, hi, 0
        cum = np.cumsum(counts)
        i = int(np.searchsorted(cum, quantile * total, side="left"))
        q = float(edges[min(i, counts.size - 1)])
        lo = q - margin * (hi - q)
        if cutoff is not None and math.isfinite(cutoff) and cutoff < lo:
            lo = cutoff - 0.05 * (hi - cutoff)
        if lo <= lo_all:
            return lo_all, hi, 0
        j = int(np.searchsorted(edges, lo, side="right")) - 1  # the bin holding lo
        below = int(cum[j - 1]) if j > 0 else 0  # whole bins left of lo's bin
        return float(edges[j]), hi, below

    def estimate_below(self, cutoff: float) -> float:
        """Rows below ``cutoff`` estimated from the histogram (linear within a bin)."""
        if not math.isfinite(cutoff):
            return 0.0 if cutoff < 0 else float(self.counts.sum())
        counts, edges = self.counts, self.edges
        full = float(counts[edges[1:] <= cutoff].sum())
        i = int(np.searchsorted(edges, cutoff, side="right")) - 1
        if 0 <= i < counts.size and edges[i + 1] > cutoff:
            full += counts[i] * (cutoff - edges[i]) / (edges[i + 1] - edges[i])
        return full


@dataclass(frozen=True, eq=False)
class Scored:
    """Per-row scores of the prepared rows under one model, and figures over every row."""

    bundle: ModelBundle
    scores: Scores
    density: DensityIndex
    log_likelihood: float  # total over every row used
    n_rows: int  # every row used (out of core too)
    bic: float
    aic: float
    prepared_generation: int

    @property
    def model(self) -> Any:
        return self.bundle.model


@dataclass(frozen=True, eq=False)
class Detection:
    """The flags of the prepared rows under a threshold.

    ``n_flagged`` counts every row (``None`` while an out-of-core count is pending;
    ``exact`` says whether it was counted or estimated); ``pinned`` is true when the
    threshold is a saved or refitted model's own rule rather than learned from the
    analyst's setting.
    """

    threshold: Threshold
    flags: np.ndarray
    n_flagged: int | None
    n_rows: int
    exact: bool = True
    how: str = ""
    from_refit: str | None = None
    pinned: bool = False

    @property
    def share(self) -> float:
        if not self.n_rows or self.n_flagged is None:
            return 0.0
        return self.n_flagged / self.n_rows


@dataclass(frozen=True, eq=False)
class RefitProposal:
    """A refit waiting for the analyst: the new model, its scores and flags, and the record.

    ``base`` is the model it was computed from; accepting it is refused if the current
    model is no longer that one.
    """

    base: ModelBundle
    bundle: ModelBundle
    scored: Scored
    detection: Detection
    record: RefitRecord
    old_flags: np.ndarray
    strategy_flags: np.ndarray
    prepared_generation: int
