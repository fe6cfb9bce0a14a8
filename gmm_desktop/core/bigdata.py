"""Big data: the run's backend for tables bigger than memory (Dask, out of core).

The table is opened lazily; the features are profiled and scaled in one pass; the fit,
the log-density histogram, the threshold, the flag count and the export use every row, on
the Dask scheduler of a :class:`Connection`. The rows the run scores one by one (and the
window draws) are a uniform random sample, held as ordinary prepared features, so the
scatter, the ellipses and the hover work as in memory.

What this backend cannot do is declared once, in :data:`CAPABILITIES`; the window and the
command line read it from there.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gmm_desktop.core.capabilities import OUT_OF_CORE
from gmm_desktop.core.config import ConfigError, RunConfig, default_columns
from gmm_desktop.core.modelfile import ModelBundle, export_metadata
from gmm_desktop.core.progress import ProgressCallback, Reporter
from gmm_desktop.core.records import SourceInfo
from gmm_desktop.core.routes import fit_robust_route
from gmm_desktop.core.state import (
    DensityIndex,
    Detection,
    Fitted,
    Loaded,
    Prepared,
    Scored,
    frozen,
)
from gmm_desktop.data import (
    DataError,
    PreparationReport,
    PreparedFeatures,
    ReadOptions,
    load_frame,
    sidecar_path,
)
from gmm_desktop.engine import GaussianMixture
from gmm_desktop.engine.anomaly import Threshold, score_rows
from gmm_desktop.engine.selection import information_criteria
from gmm_desktop.fileio import atomic_write_text

__all__ = [
    "CAPABILITIES",
    "DEFAULT_SCHEDULER",
    "HIST_BINS",
    "PLOT_SAMPLE_SIZE",
    "Connection",
    "check_scheduler",
    "count_pass",
    "ensure_dask",
    "estimate_detection",
    "export",
    "fit",
    "looks_lazy",
    "open_table",
    "prepare",
    "score",
]

CAPABILITIES = OUT_OF_CORE
DEFAULT_SCHEDULER = "threads"
#: Rows drawn for the scatter plot and the per-row views (a uniform sample).
PLOT_SAMPLE_SIZE = 200_000
HIST_BINS = 200
PREVIEW_ROWS = 200
_PART_FILE = re.compile(r"part\.\d+\.parquet")


def check_scheduler(value: str) -> str:
    """A valid scheduler setting (stripped), or ``ValueError`` saying what to type."""
    text = (value or "").strip()
    if text in ("threads", "local", "processes", "synchronous"):
        return text
    if "://" in text and len(text.split("://", 1)[1]) > 0:
        return text
    raise ValueError(
        f"{value!r} is not a Dask scheduler. Type 'threads' (this process), 'local' (a "
        "local cluster of worker processes) or a scheduler address such as tcp://host:8786."
    )


class Connection:
    """The Dask scheduler a run uses, connected on first use and kept until closed.

    Thread-safe: the window connects from a worker thread (a cluster takes seconds to
    start) and closes it at exit or when the setting changes.
    """

    def __init__(self, scheduler: str | None = None) -> None:
        self.scheduler = check_scheduler(scheduler or DEFAULT_SCHEDULER)
        self._lock = threading.Lock()
        self._stack: contextlib.ExitStack | None = None
        self._for: str | None = None

    def set_scheduler(self, scheduler: str) -> None:
        with self._lock:
            self.scheduler = check_scheduler(scheduler)

    def ensure(self) -> None:
        from gmm_desktop import outofcore

        with self._lock:
            if self._for == self.scheduler and self._stack is not None:
                return
            self._close_locked()
            stack = contextlib.ExitStack()
            try:
                stack.enter_context(outofcore.connect(self.scheduler))
            except OSError as exc:
                stack.close()
                raise ConfigError(str(exc)) from None
            except Exception as exc:
                stack.close()
                raise ConfigError(
                    f"cannot start the Dask scheduler {self.scheduler!r}: {exc}") from None
            self._stack, self._for = stack, self.scheduler

    def _close_locked(self) -> None:
        stack, self._stack, self._for = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):  # a cluster that is already gone
                stack.close()

    def close(self) -> None:
        with self._lock:
            self._close_locked()


def _lazy() -> Any:
    try:
        from gmm_desktop import outofcore
    except ImportError as exc:  # pragma: no cover - dask is an optional dependency
        raise ConfigError(
            f"big data needs Dask: pip install 'gmm-desktop[dask]' ({exc})") from None
    return outofcore


# --------------------------------------------------------------------------- open, prepare


def open_table(path: str, *, id_column: str | None = None, generation: int = 0,
               progress: ProgressCallback | None = None,
               read: ReadOptions | None = None) -> Loaded:
    """Open a Parquet file or folder, or CSV files (a folder or a glob), lazily; ``read``
    says how the CSV files are read (every file the same way; see
    :mod:`gmm_desktop.outofcore.tables`)."""
    oc = _lazy()
    report = Reporter(progress, "load")
    table = oc.open_table(str(path), id_column=id_column or None, read=read)
    report(0.5, "reading the first rows")
    preview = table.frame.head(PREVIEW_ROWS, npartitions=1, compute=True)
    report(1.0, f"opened {table.name} lazily")
    src = SourceInfo(path=str(table.path), name=str(table.name), n_rows=0,
                     id_column=table.id_column, out_of_core=True)
    return Loaded(source=src, generation=generation, lazy=table, preview=preview)


def _default_columns(loaded: Loaded) -> list[str] | None:
    """The in-memory rule for the default features (:func:`config.default_columns`), judged
    on the first rows: the columns that count the rows or hold two values only are left
    out. ``None`` (every numeric column) when the first rows cannot be judged."""
    numeric = list(loaded.lazy.numeric_columns)
    preview = loaded.preview
    if preview is None or len(preview) < 2 or not numeric:
        return None
    try:
        head = load_frame(preview[[c for c in numeric if c in preview.columns]],
                          name=loaded.name)
    except DataError:
        return None
    chosen = [c for c in default_columns(head) if c in numeric]
    return chosen or None


def prepare(
    loaded: Loaded,
    *,
    columns: Sequence[str] | None = None,
    missing: str = "drop",
    scaling: str = "standardize",
    bundle: ModelBundle | None = None,
    generation: int = 0,
    sample_size: int | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> Prepared:
    """Profile and scale every row (one pass) and draw the uniform sample for the views."""
    oc = _lazy()
    if missing != "drop":
        raise ConfigError(OUT_OF_CORE.refusal("missing"))
    report = Reporter(progress, "prepare")
    table = loaded.lazy
    if bundle is not None:
        bundle.check_columns(loaded.columns, source=loaded.name)
        columns = list(bundle.columns) if bundle.columns is not None else columns
    elif columns is None:
        columns = _default_columns(loaded)
    feats = oc.prepare(table, None if columns is None else list(columns), missing=missing,
                       scaling=scaling if bundle is None else "none", seed=seed,
                       progress=report.part(0.0, 0.5).pass_callback())
    if bundle is not None:
        feats = _rescaled(feats, bundle)
    size = int(sample_size or PLOT_SAMPLE_SIZE)
    sample = oc.plot_sample(feats.X, size, seed=0,
                            progress=report.part(0.5, 0.4).pass_callback())
    pos = np.asarray(sample.positions, dtype=np.int64)
    order = np.argsort(pos, kind="stable")
    rows, pos = np.asarray(sample.rows, dtype=float)[order], pos[order]
    ids = np.asarray(feats.row_ids[pos].compute()) if pos.size else np.empty(0)
    report(0.95, "sample drawn")
    n_dropped = int(feats.n_rows - feats.n_used)
    notes = [
        f"Big-data mode: the plot shows a uniform sample of {rows.shape[0]:,} of "
        f"{feats.n_used:,} rows; the fit, the histogram, the threshold and the export use "
        "every row."
    ]
    if n_dropped:
        notes.append(f"{n_dropped:,} rows with a missing or infinite value are left out.")
    prep_report = PreparationReport(
        policy="drop", rows_total=int(feats.n_rows), rows_kept=int(feats.n_used),
        rows_dropped=n_dropped, rows_imputed=0, columns_affected={},
        summary=" ".join(notes),
    )
    X = np.ascontiguousarray(rows)
    X.flags.writeable = False
    features = PreparedFeatures(X, frozen(ids), frozen(pos), list(feats.columns), feats.scaler,
                                prep_report, [])
    s = loaded.source
    src = SourceInfo(path=s.path, name=s.name, n_rows=int(feats.n_rows), id_column=s.id_column,
                     out_of_core=True)
    loaded = Loaded(source=src, generation=loaded.generation, lazy=loaded.lazy,
                    preview=loaded.preview)
    return Prepared(loaded=loaded, features=features, missing="drop", generation=generation,
                    n_rows_used=int(feats.n_used), lazy=feats)


def _rescaled(feats: Any, bundle: ModelBundle) -> Any:
    """The lazy features scaled with a saved model's scaler instead of their own."""
    from dataclasses import replace as dc_replace

    sc = bundle.scaler
    center = np.asarray(sc.center_)
    scale = np.asarray(sc.scale_)
    X = (feats.X - center) / scale
    return dc_replace(feats, X=X, scaler=sc)


# --------------------------------------------------------------------------- fit


def fit(prepared: Prepared, config: RunConfig, *,
        progress: ProgressCallback | None = None) -> Fitted:
    """The robust route on the uniform sample (in memory), or plain EM on every row on the
    connected scheduler (the engine's ``FitProgress`` reaches ``progress`` unchanged, and
    each finished partition is reported too)."""
    oc = _lazy()
    refused = OUT_OF_CORE.refusals(config)
    if refused:
        raise ConfigError("not available out of core: " + "; ".join(refused))
    report = Reporter(progress, "fit")
    robust = None
    if config.method == "robust":  # on the uniform sample, in memory
        robust = fit_robust_route(prepared.X, config, report)
        model = robust.model
        notes: tuple[str, ...] = (
            f"The robust route fitted the model on the uniform sample of "
            f"{prepared.n_view_rows:,} of {prepared.n_rows_used:,} rows; the histogram, the "
            "threshold, the counts and the export use every row.",)
    else:
        model = GaussianMixture(n_components=config.component_candidates[0],
                                covariance_type=config.covariance_types[0],
                                **config.gmm_params())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            oc.fit(model, prepared.lazy.X, callback=report.fit_callback(),
                   progress=report.pass_callback())
        notes = tuple(dict.fromkeys(
            str(w.message) for w in caught if "gmm_desktop" in str(getattr(w, "filename", ""))))
    bundle = ModelBundle(
        model=model, columns=prepared.columns, scaler=prepared.scaler, missing="drop",
        config=config.replace(columns=prepared.columns, missing="drop",
                              scaling=prepared.scaling),
        source=prepared.source,
    )
    return Fitted(bundle=bundle, prepared_generation=prepared.generation, warnings=notes,
                  robust=robust)


# --------------------------------------------------------------------------- scores


def _ld_stats(ld: np.ndarray, low: float) -> tuple[float, float, float, int, int]:
    """Sum, min, max of the finite log-densities, their count, and how many are < ``low``."""
    ld = np.asarray(ld, dtype=float)
    fin = ld[np.isfinite(ld)]
    if fin.size == 0:
        return 0.0, math.inf, -math.inf, 0, 0
    return (float(fin.sum()), float(fin.min()), float(fin.max()), int(fin.size),
            int((fin < low).sum()))


def score(prepared: Prepared, bundle: ModelBundle, *,
          progress: ProgressCallback | None = None) -> Scored:
    """Scores of the sample; the total log-likelihood and the log-density histogram of
    every row. The histogram's fine bins span the bulk of the rows (from the sample's 1 %
    quantile less half the range above it); one wide first bin holds the rows below, so the
    counts add up to every row and a few extreme rows do not make the bins coarse."""
    from dask import delayed

    oc = _lazy()
    report = Reporter(progress, "score")
    model = bundle.model
    scores = score_rows(model, prepared.X)
    sample_ld = scores.log_density
    fin = sample_ld[np.isfinite(sample_ld)]
    low = -math.inf
    if fin.size:
        q, top = float(np.quantile(fin, 0.01)), float(fin.max())
        low = q - 0.5 * max(top - q, 1e-9)
    X = prepared.lazy.X
    ld = oc.score_samples(model, X)
    parts = [delayed(_ld_stats, pure=True)(b, low) for b in ld.to_delayed().ravel()]
    stats = oc.compute_parts(parts, stage="log-density of every row",
                             progress=report.part(0.0, 0.5).pass_callback())
    total = sum(s[0] for s in stats)
    lo, hi = min(s[1] for s in stats), max(s[2] for s in stats)
    n_finite, n_low = sum(s[3] for s in stats), sum(s[4] for s in stats)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ConfigError("no row has a finite log-density under this model")
    if hi <= lo:
        hi = lo + 1.0
    split = n_low > 0 and low > lo
    counts, edges = oc.log_density_histogram(
        model, X, HIST_BINS, (low, hi) if split else (lo, hi),
        progress=report.part(0.5, 0.5).pass_callback())
    counts, edges = np.asarray(counts, dtype=np.int64), np.asarray(edges, dtype=float)
    if split:  # rows below the fine bins, in one wide bin
        counts = np.r_[n_finite - int(counts.sum()), counts]
        edges = np.r_[lo, edges]
    n = int(prepared.n_rows_used)
    density = DensityIndex(frozen(np.sort(sample_ld)), frozen(counts), frozen(edges), n)
    bic, aic = information_criteria(float(total), model.n_parameters(), n)
    return Scored(bundle=bundle, scores=scores, density=density, log_likelihood=float(total),
                  n_rows=n, bic=bic, aic=aic, prepared_generation=prepared.generation)


# --------------------------------------------------------------------------- thresholds


def estimate_detection(scored: Scored, threshold: Threshold, flags: np.ndarray, *,
                       pinned: bool) -> Detection:
    """Flags of the sample and the count over every row estimated from the histogram (the
    exact count is :func:`count_pass`)."""
    cutoff = threshold.log_density_cutoff
    n = scored.n_rows
    if cutoff is not None and not threshold.anomalous_components:
        estimate = round(scored.density.estimate_below(cutoff))
        how = "estimated from the histogram of every row"
    else:
        estimate = round(flags.mean() * n) if flags.size else 0
        how = "estimated from the sample"
    return Detection(threshold=threshold, flags=frozen(flags), n_flagged=int(estimate),
                     n_rows=n, exact=False, how=how, pinned=pinned)


def _count_flags(ld: np.ndarray, comp: Any, cutoff: float, small: tuple[int, ...]) -> int:
    flags = np.asarray(ld) < cutoff
    if small and comp is not None:
        flags |= np.isin(np.asarray(comp), small)
    return int(flags.sum())


def count_pass(
    prepared: Prepared,
    scored: Scored,
    spec: Any,
    *,
    pinned: Threshold | None = None,
    progress: ProgressCallback | None = None,
) -> Detection:
    """The threshold learned on every row and the exact count of flagged rows (passes over
    the data; the sample's flags follow the exact threshold)."""
    from dask import delayed

    oc = _lazy()
    report = Reporter(progress, "threshold")
    model = scored.model
    X = prepared.lazy.X
    threshold = pinned if pinned is not None else oc.fit_threshold(
        spec, model, X, progress=report.part(0.0, 0.6).pass_callback())
    flags = threshold.flags(scored.scores)
    cutoff = threshold.log_density_cutoff
    if cutoff is None:  # a Mahalanobis gate: count block by block with the engine's rule
        n_flagged = _count_gate(model, X, threshold, report.part(0.6, 0.4))
    else:
        small = tuple(threshold.anomalous_components)
        ld = oc.score_samples(model, X).to_delayed().ravel()
        comp = oc.predict(model, X).to_delayed().ravel() if small else [None] * len(ld)
        parts = [delayed(_count_flags, pure=True)(a, c, float(cutoff), small)
                 for a, c in zip(ld, comp, strict=True)]
        n_flagged = int(sum(oc.compute_parts(
            parts, stage="counting the flagged rows",
            progress=report.part(0.6, 0.4).pass_callback())))
    return Detection(threshold=threshold, flags=frozen(flags), n_flagged=n_flagged,
                     n_rows=scored.n_rows, exact=True, how="counted over every row",
                     pinned=pinned is not None)


def _gate_block(x: np.ndarray, params: Any, threshold: Threshold) -> int:
    from gmm_desktop.outofcore.scoring import _block_flags

    return int(_block_flags(x, params, threshold)[2].sum())


def _count_gate(model: Any, X: Any, threshold: Threshold, report: Reporter) -> int:
    from dask import delayed

    from gmm_desktop.outofcore.fitting import row_blocks
    from gmm_desktop.outofcore.scoring import ScoreParams

    oc = _lazy()
    params = ScoreParams.of(model)
    blocks = row_blocks(X)
    parts = [delayed(_gate_block, pure=True)(xb, params, threshold) for xb in blocks.x]
    return int(sum(oc.compute_parts(parts, stage="counting the flagged rows",
                                    progress=report.pass_callback())))


# --------------------------------------------------------------------------- export


def _check_export_folder(out: Path) -> None:
    """Only a folder this program wrote (Parquet part files) may be replaced."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(
            f"{out} exists and is a file; out of core the export is a Parquet dataset folder. "
            "Choose a new name.")
    foreign = [p.name for p in out.iterdir() if not _PART_FILE.fullmatch(p.name)]
    if foreign:
        raise ConfigError(
            f"{out} is a folder that holds other files ({', '.join(sorted(foreign)[:3])}); "
            "gmm-desktop replaces only a folder of Parquet parts it wrote itself. Choose a new "
            "name.")


def export(
    path: str | os.PathLike[str],
    prepared: Prepared,
    scored: Scored,
    detection: Detection,
    *,
    only_flagged: bool = True,
    config: RunConfig | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Score, flag and write every row as a Parquet dataset folder (``row_id``,
    ``log_density``, ``component``, ``flag``), with the export sidecar; the threshold is
    learned on every row first if the detection is an estimate."""
    oc = _lazy()
    out = Path(path)
    if out.suffix.lower() in (".csv", ".tsv", ".xlsx", ".txt"):
        out = out.with_suffix("")
    _check_export_folder(out)
    report = Reporter(progress, "export")
    if not detection.exact:
        detection = count_pass(prepared, scored, detection.threshold.spec,
                               pinned=detection.threshold if detection.pinned else None,
                               progress=report.part(0.0, 0.4).relay())
    written, n, n_flagged = oc.write_scores(
        scored.model, prepared.lazy.X, detection.threshold, out,
        row_ids=prepared.lazy.row_ids, only_flagged=only_flagged,
        progress=report.part(0.4, 0.6).pass_callback())
    meta = export_metadata(
        scored.bundle, output=Path(written), only_flagged=only_flagged, n_scored=n,
        n_flagged=n_flagged, threshold=detection.threshold, source=prepared.source,
        columns_written=["row_id", "log_density", "component", "flag"], config=config,
    )
    import json

    atomic_write_text(sidecar_path(written), json.dumps(meta, indent=2, allow_nan=False))
    return Path(written)


def looks_lazy(path: str) -> bool:
    """A folder or a glob: read lazily (big data) rather than loaded whole."""
    text = str(path)
    return any(ch in text for ch in "*?[") or Path(text).is_dir()


def ensure_dask() -> None:
    """Raise a clear error when Dask is not installed."""
    _lazy()

