"""Scoring, thresholds and export partition by partition (nothing is collected in memory).

* :func:`score_samples` / :func:`predict`: lazy Dask arrays of log-density / component.
* :func:`contamination_cutoff`: the exact cut-off of the in-memory detector (halfway
  between the ``m``-th and ``m+1``-th lowest log-density, ``m = round(q·n)``) in two passes:
  the first builds a histogram of ``top − log p`` on a fixed logarithmic grid (32 bins per
  doubling, about 2 % wide), which locates the two order statistics; the second returns
  only the values in their bins. The answer is exact (no approximation error); the driver
  holds one histogram (32,800 counts) and the rows of at most two bins.
* :func:`log_density_histogram`: counts of log-density on linear bins (for the GUI).
* :func:`write_scores`: one Parquet file per partition (``row_id``, ``log_density``,
  ``component``, ``flag``) into a dataset directory, written next to the destination and
  moved into place at the end (the previous output survives a failure). Workers must see
  the output folder (the same machine, or a shared file system).
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from dask import delayed

from gmm_desktop.engine import _em
from gmm_desktop.engine.anomaly import (
    Threshold,
    ThresholdSpec,
    contamination_rank,
    cutoff_between,
    threshold_from,
)
from gmm_desktop.outofcore._compute import PassProgress, compute_parts
from gmm_desktop.outofcore.fitting import RowBlocks, row_blocks
from gmm_desktop.registry import get_registry

__all__ = [
    "ScoreParams",
    "contamination_cutoff",
    "fit_threshold",
    "log_density_histogram",
    "predict",
    "score_samples",
    "write_scores",
]

_BINS_PER_DOUBLING = 32
_N_BINS = _BINS_PER_DOUBLING * 1030


@dataclass(frozen=True)
class ScoreParams:
    """The arrays a worker needs to score rows (no plugin lookup on the workers)."""

    weights: np.ndarray
    means: np.ndarray
    expanded: np.ndarray
    structure: str
    offset: np.ndarray  # log πₖ − d/2 log 2π + log det Uₖ
    chunk_size: int | None

    @classmethod
    def of(cls, model: Any) -> ScoreParams:
        if not hasattr(model, "precisions_cholesky_"):
            raise ValueError("the model is not fitted yet; fit it before scoring")
        cov = get_registry().create("covariance", model.covariance_type)
        means = np.asarray(model.means_, dtype=np.float64)
        k, d = means.shape
        expanded = np.ascontiguousarray(
            cov.expand_precision_cholesky(model.precisions_cholesky_, k, d), dtype=np.float64
        )
        weights = np.asarray(model.weights_, dtype=np.float64)
        offset = (
            -0.5 * d * np.log(2 * np.pi)
            + _em.log_det_cholesky(expanded, cov.structure)
            + np.log(weights)
        )
        return cls(weights, means, expanded, cov.structure, offset, model.chunk_size)

    @property
    def top(self) -> float:
        """An upper bound of every log-density (the mixture's value at Mahalanobis 0), + 1."""
        m = self.offset.max()
        return float(m + np.log(np.exp(self.offset - m).sum()) + 1.0)

    def weighted_log_prob(self, x: np.ndarray) -> np.ndarray:
        k, d = self.means.shape
        chunk = _em.chunk_rows(x.shape[0], d, k, self.chunk_size)
        return _em.weighted_log_prob(
            np.asarray(x), self.weights, self.means, self.expanded, self.structure, chunk
        )


def _block_scores(x: np.ndarray, p: ScoreParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log-density, component, weighted log-probabilities) of one block."""
    if x.shape[0] == 0:
        k = p.means.shape[0]
        return np.empty(0), np.empty(0, dtype=np.int64), np.empty((0, k))
    wlp = p.weighted_log_prob(x)
    return _em.logsumexp_rows(wlp), wlp.argmax(axis=1), wlp


def _blocks(X: Any) -> RowBlocks:
    return X if isinstance(X, RowBlocks) else row_blocks(X)


def score_samples(model: Any, X: Any) -> Any:
    """Lazy Dask array of ``log p(x)`` for every row of a Dask array or DataFrame."""
    blocks = _blocks(X)
    p = ScoreParams.of(model)
    return blocks.array.map_blocks(
        lambda x: _block_scores(x, p)[0], drop_axis=1, dtype=np.float64
    )


def predict(model: Any, X: Any) -> Any:
    """Lazy Dask array of the most likely component of every row."""
    blocks = _blocks(X)
    p = ScoreParams.of(model)
    return blocks.array.map_blocks(
        lambda x: _block_scores(x, p)[1], drop_axis=1, dtype=np.int64
    )


# --------------------------------------------------------------------------- thresholds


def _grid_bins(ld: np.ndarray, top: float) -> np.ndarray:
    u = np.maximum(top - ld, 1.0)  # ≥ 1 by construction of top; guards round-off
    u = np.where(np.isfinite(u), u, np.finfo(np.float64).max)
    b = np.floor(np.log2(u) * _BINS_PER_DOUBLING).astype(np.int64)
    return np.clip(b, 0, _N_BINS - 1)


def _hist_pass(x: np.ndarray, p: ScoreParams) -> np.ndarray:
    ld = _block_scores(x, p)[0]
    return np.bincount(_grid_bins(ld, p.top), minlength=_N_BINS)


def _values_pass(x: np.ndarray, p: ScoreParams, lo: int, hi: int) -> np.ndarray:
    ld = _block_scores(x, p)[0]
    b = _grid_bins(ld, p.top)
    return ld[(b >= lo) & (b <= hi)]


def contamination_cutoff(
    model: Any, X: Any, q: float, *, progress: PassProgress | None = None
) -> tuple[float, int]:
    """The exact contamination cut-off over every row, and the row count (two passes).

    Same rule as :func:`gmm_desktop.engine.anomaly.fit_threshold`: ``m = round(q·n)`` rows
    are below the cut-off, halfway between the ``m``-th and ``m+1``-th lowest log-density.
    """
    blocks = _blocks(X)
    p = ScoreParams.of(model)
    hist = np.zeros(_N_BINS, dtype=np.int64)
    for h in compute_parts(
        [delayed(_hist_pass, pure=True)(xb, p) for xb in blocks.x],
        stage="threshold: histogram of log-density", progress=progress,
    ):
        hist += h
    n = int(hist.sum())
    m = contamination_rank(q, n)
    if m <= 0:
        return -math.inf, n
    if m >= n:
        return math.inf, n
    # ascending log-density = descending bin; rank r (0-based, ascending) lies in bin
    # desc[searchsorted(cum, r, 'right')]
    desc = hist[::-1]
    cum = np.cumsum(desc)
    i_lo = int(np.searchsorted(cum, m - 1, side="right"))  # rank m-1
    i_hi = int(np.searchsorted(cum, m, side="right"))  # rank m
    below = int(cum[i_lo - 1]) if i_lo > 0 else 0
    bin_hi, bin_lo = _N_BINS - 1 - i_lo, _N_BINS - 1 - i_hi  # bin numbers
    values = compute_parts(
        [delayed(_values_pass, pure=True)(xb, p, bin_lo, bin_hi) for xb in blocks.x],
        stage="threshold: exact cut-off", progress=progress,
    )
    ordered = np.sort(np.concatenate(values))
    return cutoff_between(float(ordered[m - 1 - below]), float(ordered[m - below])), n


def fit_threshold(
    spec: ThresholdSpec, model: Any, X: Any, *, progress: PassProgress | None = None
) -> Threshold:
    """Learn ``spec`` on every row of ``X``: the engine's rule, with the exact two-pass
    contamination cut-off."""
    blocks = _blocks(X)
    return threshold_from(
        spec, model, n_features=blocks.n_features, n_rows=blocks.n_samples,
        cutoff_for=lambda q: contamination_cutoff(model, blocks, q, progress=progress)[0],
    )


def _block_flags(x: np.ndarray, p: ScoreParams, threshold: Threshold) -> tuple[Any, Any, Any]:
    ld, comp, wlp = _block_scores(x, p)
    d2 = -2.0 * (wlp - p.offset) if threshold.radius is not None else None
    return ld, comp, threshold.flags_of(ld, comp, d2, squared=True)


# --------------------------------------------------------------------------- histogram


def _range_pass(x: np.ndarray, p: ScoreParams) -> tuple[float, float]:
    ld = _block_scores(x, p)[0]
    ld = ld[np.isfinite(ld)]
    if ld.size == 0:
        return math.inf, -math.inf
    return float(ld.min()), float(ld.max())


def _linear_hist(x: np.ndarray, p: ScoreParams, edges: np.ndarray) -> np.ndarray:
    return np.histogram(_block_scores(x, p)[0], bins=edges)[0]


def log_density_histogram(
    model: Any,
    X: Any,
    bins: int = 100,
    value_range: tuple[float, float] | None = None,
    *,
    progress: PassProgress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, edges)`` of the log-density of every row (one pass, two without a range)."""
    blocks = _blocks(X)
    p = ScoreParams.of(model)
    if value_range is None:
        lows, highs = zip(
            *compute_parts(
                [delayed(_range_pass, pure=True)(xb, p) for xb in blocks.x],
                stage="histogram: range", progress=progress,
            ),
            strict=True,
        )
        value_range = (min(lows), max(highs))
        if not np.isfinite(value_range).all():
            raise ValueError("no finite log-density to draw a histogram of")
    edges = np.linspace(value_range[0], value_range[1], int(bins) + 1)
    counts = np.zeros(int(bins), dtype=np.int64)
    for c in compute_parts(
        [delayed(_linear_hist, pure=True)(xb, p, edges) for xb in blocks.x],
        stage="histogram", progress=progress,
    ):
        counts += c
    return counts, edges


# --------------------------------------------------------------------------- export


def _write_block(
    x: np.ndarray,
    ids: Any,
    first: int,
    p: ScoreParams,
    threshold: Threshold,
    folder: str,
    block: int,
    only_flagged: bool,
) -> tuple[int, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ld, comp, flags = _block_flags(x, p, threshold)
    row_id = np.arange(first, first + x.shape[0], dtype=np.int64) if ids is None else ids
    table = pa.table(
        {
            "row_id": np.asarray(row_id),
            "log_density": ld,
            "component": comp.astype(np.int32),
            "flag": flags,
        }
    )
    if only_flagged:
        table = table.filter(pa.array(flags))
    pq.write_table(table, os.path.join(folder, f"part.{block:05d}.parquet"))
    return int(x.shape[0]), int(flags.sum())


def write_scores(
    model: Any,
    X: Any,
    threshold: Threshold,
    path: str | os.PathLike[str],
    *,
    row_ids: Any = None,
    only_flagged: bool = False,
    progress: PassProgress | None = None,
) -> tuple[Path, int, int]:
    """Score, flag and write every row as a Parquet dataset directory at ``path``.

    Columns: ``row_id`` (``row_ids``, a Dask array aligned with ``X``'s rows, or the global
    row position), ``log_density``, ``component``, ``flag``. Returns ``(path, n_rows,
    n_flagged)``. The directory is written beside ``path`` and renamed into place.
    """
    import dask.array as da

    blocks = _blocks(X)
    p = ScoreParams.of(model)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    id_blocks: list[Any] = [None] * len(blocks.x)
    if row_ids is not None:
        ids = row_ids if isinstance(row_ids, da.Array) else da.from_array(np.asarray(row_ids))
        ids = ids.rechunk((tuple(int(c) for c in blocks.counts),))
        id_blocks = list(ids.to_delayed().ravel())
    offsets = blocks.offsets
    try:
        parts = [
            delayed(_write_block, pure=False)(
                xb, id_blocks[b], int(offsets[b]), p, threshold, str(tmp), b, only_flagged
            )
            for b, xb in enumerate(blocks.x)
        ]
        results = compute_parts(parts, stage="scoring and writing", progress=progress)
        if out.exists():
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
            os.replace(tmp, out)
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    n = sum(r[0] for r in results)
    flagged = sum(r[1] for r in results)
    return out, n, flagged
