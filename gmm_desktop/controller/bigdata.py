"""Big-data mode of the controller: a table bigger than memory, opened lazily with Dask.

A mixin of :class:`~gmm_desktop.controller.app_controller.AppController`. The table is
opened with :func:`gmm_desktop.outofcore.open_table` / :func:`~gmm_desktop.outofcore.prepare`
in a worker; the fit (:func:`gmm_desktop.outofcore.fit`), the histogram of log-density,
the threshold (:func:`gmm_desktop.outofcore.fit_threshold`), the flag count and the export
(:func:`gmm_desktop.outofcore.write_scores`, a Parquet folder) use **every row**, on the
Dask scheduler chosen in the settings (``"threads"``, ``"local"`` for a ``LocalCluster``,
or a scheduler address ``tcp://host:8786``). The scatter plot shows a uniform random
sample of the rows (:func:`gmm_desktop.outofcore.plot_sample`): in-memory ``_data`` *is*
that sample, so the axes, colours, ellipses and hover work unchanged.

What needs every row in memory (the selection table, manual labels, refit strategies) is
refused in this mode with a message saying why.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from gmm_desktop.controller import geometry
from gmm_desktop.controller.views import AnomalyView, frozen_array

#: The settings key of the Dask scheduler (``gmm_desktop.settings``).
SCHEDULER_KEY = "bigdata.scheduler"
DEFAULT_SCHEDULER = "threads"
#: Rows drawn for the scatter plot (a uniform sample, without replacement).
PLOT_SAMPLE_SIZE = 200_000
HIST_BINS = 200
THRESHOLD_DEBOUNCE_MS = 250
_ITERATION = re.compile(r"iteration (\d+)/\d+ of restart (\d+)/\d+, lower bound (\S+)")
#: Why a feature is off in big-data mode (tooltips and messages).
BIG_DATA_REASON = (
    "Not available in big-data mode: it needs every row in memory, and the plot shows "
    "only a uniform sample of the rows."
)


def check_scheduler(value: str) -> str:
    """A valid scheduler setting (stripped) or ``ValueError`` with what to type instead."""
    text = (value or "").strip()
    if text in ("threads", "local", "processes", "synchronous"):
        return text
    if "://" in text and len(text.split("://", 1)[1]) > 0:
        return text
    raise ValueError(
        f"{value!r} is not a Dask scheduler. Type 'threads' (this process), 'local' (a "
        "local cluster of worker processes) or a scheduler address such as "
        "tcp://host:8786."
    )


@dataclass(frozen=True)
class _Big:
    """The lazy table, its prepared features and where the plotted sample came from."""

    table: Any  # outofcore.LazyTable
    features: Any  # outofcore.LazyFeatures
    scaling: str
    n_sample: int
    scheduler: str

    @property
    def n_rows(self) -> int:
        return int(self.features.n_used)


@dataclass(frozen=True)
class _BigScores:
    """Every-row results of one model: histogram, total log-likelihood, threshold."""

    model: Any
    counts: np.ndarray
    edges: np.ndarray
    loglik: float
    n: int


@dataclass(frozen=True)
class _BigThreshold:
    model: Any
    spec: Any
    threshold: Any  # engine.anomaly.Threshold, learnt on every row
    n_flagged: int | None  # exact over every row (None: a Mahalanobis gate, not counted)


def _ld_stats(ld: np.ndarray, low: float) -> tuple[float, float, float, int, int]:
    """Sum, min, max of the finite log-densities, their count, and how many are < ``low``."""
    ld = np.asarray(ld, dtype=float)
    fin = ld[np.isfinite(ld)]
    if fin.size == 0:
        return 0.0, math.inf, -math.inf, 0, 0
    return (float(fin.sum()), float(fin.min()), float(fin.max()), int(fin.size),
            int((fin < low).sum()))


def _count_flags(ld: np.ndarray, comp: Any, cutoff: float, small: tuple[int, ...]) -> int:
    flags = np.asarray(ld) < cutoff
    if small and comp is not None:
        flags |= np.isin(np.asarray(comp), small)
    return int(flags.sum())


def _hist_below(counts: np.ndarray, edges: np.ndarray, cutoff: float) -> float:
    """Rows below ``cutoff`` from a histogram (linear within the bin it falls in)."""
    if not math.isfinite(cutoff):
        return 0.0 if cutoff < 0 else float(counts.sum())
    full = float(counts[edges[1:] <= cutoff].sum())
    i = int(np.searchsorted(edges, cutoff, side="right")) - 1
    if 0 <= i < counts.size and edges[i + 1] > cutoff:
        full += counts[i] * (cutoff - edges[i]) / (edges[i + 1] - edges[i])
    return full


class BigDataMixin:
    """Big-data mode (see the module docstring)."""

    def _init_big(self) -> None:
        self._big: _Big | None = None
        self._big_scores: _BigScores | None = None
        self._big_thr: _BigThreshold | None = None
        self._conn_lock = threading.Lock()
        self._conn_stack: contextlib.ExitStack | None = None
        self._conn_for: str | None = None
        from PySide6.QtCore import QTimer

        self._threshold_timer = QTimer(self)  # type: ignore[arg-type]
        self._threshold_timer.setSingleShot(True)
        self._threshold_timer.setInterval(THRESHOLD_DEBOUNCE_MS)
        self._threshold_timer.timeout.connect(self._start_threshold_pass)

    # ------------------------------------------------------------------ settings

    @property
    def big_data_mode(self) -> bool:
        return self._big is not None

    @property
    def big_data_sample(self) -> tuple[int, int] | None:
        """``(rows plotted, rows in the data)`` in big-data mode."""
        b = self._big
        return None if b is None else (b.n_sample, b.n_rows)

    @staticmethod
    def dask_scheduler() -> str:
        from gmm_desktop.settings import get_settings

        value = get_settings().get(SCHEDULER_KEY, DEFAULT_SCHEDULER)
        try:
            return check_scheduler(str(value))
        except ValueError:
            return DEFAULT_SCHEDULER

    def set_dask_scheduler(self, value: str) -> bool:
        """Persist the scheduler; the next big-data task connects to it."""
        from gmm_desktop.settings import get_settings

        try:
            text = check_scheduler(value)
        except ValueError as exc:
            self.errorOccurred.emit("Bad Dask scheduler", str(exc))
            return False
        try:
            get_settings().set(SCHEDULER_KEY, text)
        except (OSError, ValueError) as exc:
            self.errorOccurred.emit("Cannot save the setting", str(exc))
            return False
        self.statusMessage.emit(f"Dask scheduler: {text} (used by the next big-data task)")
        return True

    def _ensure_connected(self) -> None:
        """Connect to the chosen scheduler (in a worker: a cluster takes seconds)."""
        from gmm_desktop import outofcore

        wanted = self.dask_scheduler()
        with self._conn_lock:
            if self._conn_for == wanted and self._conn_stack is not None:
                return
            self._disconnect_locked()
            stack = contextlib.ExitStack()
            try:
                stack.enter_context(outofcore.connect(wanted))
            except OSError as exc:
                stack.close()
                raise ValueError(str(exc)) from None
            except Exception as exc:
                stack.close()
                raise ValueError(f"cannot start the Dask scheduler {wanted!r}: {exc}") from None
            self._conn_stack, self._conn_for = stack, wanted

    def _disconnect_locked(self) -> None:
        stack, self._conn_stack, self._conn_for = self._conn_stack, None, None
        if stack is not None:
            try:
                stack.close()
            except Exception:  # a cluster that is already gone
                pass

    def disconnect_dask(self) -> None:
        with self._conn_lock:
            self._disconnect_locked()

    # ------------------------------------------------------------------ opening

    def open_big(
        self,
        path: str,
        *,
        columns: list[str] | None = None,
        scaling: str = "standardize",
        id_column: str | None = None,
        sample_size: int = PLOT_SAMPLE_SIZE,
        then: Any = None,
    ) -> bool:
        """Open a Parquet file/folder or CSV files (folder or glob) lazily, in big-data mode.

        One profiling pass (row counts, scaler) and one sampling pass run in a worker; the
        table itself is never loaded whole.
        """
        from gmm_desktop import outofcore

        generation = self._generation + 1
        scheduler = self.dask_scheduler()

        def work(state: Any) -> tuple[Any, Any]:
            self._ensure_connected()
            table = outofcore.open_table(str(path), id_column=id_column or None)
            feats = outofcore.prepare(table, columns, scaling=scaling,
                                      progress=self._pass_progress(state, 0.0, 0.5))
            return self._big_sample(table, feats, scaling, scheduler, generation, sample_size,
                                    state)

        def success(result: tuple[Any, Any]) -> None:
            big, data = result
            self._enter_big(big, data, new_dataset=True)
            self.statusMessage.emit(
                f"Opened {big.table.name} in big-data mode: {big.n_rows:,} rows "
                f"(plot: a uniform sample of {big.n_sample:,})"
            )
            if then is not None:
                then()

        return self._start("load", work, success,
                           on_progress=lambda p: self.loadProgress.emit(p[0], p[1]))

    @staticmethod
    def _pass_progress(state: Any, start: float, width: float) -> Any:
        def progress(stage: str, fraction: float) -> bool:
            state.report((start + width * float(fraction), str(stage)))
            return state.cancelled

        return progress

    def _big_sample(self, table, feats, scaling, scheduler, generation, size, state):
        """The plotted sample as in-memory ``_Data`` (in a worker)."""
        from gmm_desktop import outofcore
        from gmm_desktop.controller.app_controller import PREVIEW_ROWS, _affine_of, _Data

        sample = outofcore.plot_sample(feats.X, size, seed=0,
                                       progress=self._pass_progress(state, 0.5, 0.3))
        pos = np.asarray(sample.positions, dtype=np.int64)
        order = np.argsort(pos, kind="stable")
        rows, pos = np.asarray(sample.rows, dtype=float)[order], pos[order]
        ids = np.asarray(feats.row_ids[pos].compute()) if pos.size else np.empty(0)
        state.report((0.9, "reading the preview"), force=True)
        head = table.frame.head(PREVIEW_ROWS, npartitions=1, compute=True)
        X = frozen_array(np.ascontiguousarray(rows))
        cols = tuple(str(c) for c in feats.columns)
        n_dropped = int(feats.n_rows - feats.n_used)
        notes = [
            f"Big-data mode: the plot shows a uniform sample of {X.shape[0]:,} of "
            f"{feats.n_used:,} rows; the fit, the histogram, the threshold and the export "
            "use every row.",
        ]
        if n_dropped:
            notes.append(f"{n_dropped:,} rows with a missing or infinite value are left out.")
        dataset = SimpleNamespace(
            frame=head, path=str(table.path), name=str(table.name), n_rows=int(feats.n_rows),
            numeric_columns=list(table.numeric_columns), warnings=(), id_column=table.id_column,
        )
        prepared = SimpleNamespace(
            X=X, row_ids=ids, row_index=pos, columns=list(cols), scaler=feats.scaler,
            report=None, warnings=tuple(notes),
        )
        offset, scale = _affine_of(feats.scaler, X.shape[1])
        data = _Data(dataset=dataset, prepared=prepared, X=X, columns=cols, missing="drop",
                     scaling=scaling, offset=offset, scale=scale, pca=geometry.fit_pca(X),
                     generation=generation, demo=None)
        big = _Big(table, feats, scaling, int(X.shape[0]), scheduler)
        return big, data

    def _enter_big(self, big: _Big, data: Any, *, new_dataset: bool) -> None:
        was = self._big is not None
        self._big = big
        if new_dataset:
            self._big_scores = None
            self._big_thr = None
        self._set_data(data, new_dataset=new_dataset)
        if not was:
            self.bigDataChanged.emit(True)

    def _leave_big(self) -> None:
        if self._big is None:
            return
        self._big = None
        self._big_scores = None
        self._big_thr = None
        self.bigDataChanged.emit(False)

    def _set_features_big(self, columns: list[str], scaling: str) -> bool:
        from gmm_desktop import outofcore

        big = self._big
        generation = self._generation + 1

        def work(state: Any) -> tuple[Any, Any]:
            self._ensure_connected()
            feats = outofcore.prepare(big.table, list(columns) or None, scaling=scaling,
                                      progress=self._pass_progress(state, 0.0, 0.5))
            return self._big_sample(big.table, feats, scaling, big.scheduler, generation,
                                    big.n_sample or PLOT_SAMPLE_SIZE, state)

        def success(result: tuple[Any, Any]) -> None:
            nb, data = result
            self._big_scores = None
            self._big_thr = None
            self._enter_big(nb, data, new_dataset=False)

        return self._start("load", work, success,
                           on_progress=lambda p: self.loadProgress.emit(p[0], p[1]))

    # ------------------------------------------------------------------ every-row passes

    def _score_every_row(self, model: Any, big: _Big, sample_ld: np.ndarray, state: Any,
                         span=(0.0, 1.0)):
        """Total log-likelihood and the histogram of log-density over every row.

        The fine bins span the bulk of the rows (from the plotted sample's 1 % quantile,
        minus half the range above it); one wide first bin holds the rows below it, so
        the counts add up to every row and a few extreme rows do not make the bins coarse.
        """
        from dask import delayed

        from gmm_desktop import outofcore

        X = big.features.X
        start, width = span
        fin = sample_ld[np.isfinite(sample_ld)]
        low = -math.inf
        if fin.size:
            q, top = float(np.quantile(fin, 0.01)), float(fin.max())
            low = q - 0.5 * max(top - q, 1e-9)
        ld = outofcore.score_samples(model, X)
        parts = [delayed(_ld_stats, pure=True)(b, low) for b in ld.to_delayed().ravel()]
        stats = outofcore.compute_parts(
            parts, stage="log-density of every row",
            progress=self._fit_like_progress(state, start, width / 2))
        total = sum(s[0] for s in stats)
        lo, hi = min(s[1] for s in stats), max(s[2] for s in stats)
        n_finite, n_low = sum(s[3] for s in stats), sum(s[4] for s in stats)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("no row has a finite log-density under this model")
        if hi <= lo:
            hi = lo + 1.0
        split = n_low > 0 and low > lo
        counts, edges = outofcore.log_density_histogram(
            model, X, HIST_BINS, (low, hi) if split else (lo, hi),
            progress=self._fit_like_progress(state, start + width / 2, width / 2))
        counts, edges = np.asarray(counts, dtype=np.int64), np.asarray(edges, dtype=float)
        if split:  # rows below the fine bins, in one wide bin
            counts = np.r_[n_finite - int(counts.sum()), counts]
            edges = np.r_[lo, edges]
        return _BigScores(model, counts, edges, float(total), int(counts.sum()))

    @staticmethod
    def _fit_like_progress(state: Any, start: float, width: float) -> Any:
        def progress(stage: str, fraction: float) -> bool:
            m = _ITERATION.search(str(stage))
            if m is not None:  # the log-likelihood curve of the model panel
                it, restart, lb = int(m[1]), int(m[2]) - 1, float(m[3])
                if math.isfinite(lb) and (not state.history or state.history[-1][:2]
                                          != (restart, it)):
                    state.history.append((restart, it, lb))
            state.report({"fraction": start + width * float(fraction), "text": str(stage),
                          "history": tuple(state.history)})
            return state.cancelled

        return progress

    def _threshold_pass(self, model: Any, spec: Any, big: _Big, progress: Any) -> _BigThreshold:
        """Learn ``spec`` on every row and count the flagged rows (in a worker)."""
        from dask import delayed

        from gmm_desktop import outofcore

        X = big.features.X
        threshold = outofcore.fit_threshold(spec, model, X, progress=progress)
        cutoff = threshold.log_density_cutoff
        n_flagged: int | None = None
        if cutoff is not None:
            small = tuple(threshold.anomalous_components)
            ld = outofcore.score_samples(model, X).to_delayed().ravel()
            comp = (outofcore.predict(model, X).to_delayed().ravel() if small
                    else [None] * len(ld))
            parts = [delayed(_count_flags, pure=True)(a, c, float(cutoff), small)
                     for a, c in zip(ld, comp, strict=True)]
            n_flagged = int(sum(outofcore.compute_parts(
                parts, stage="counting the flagged rows", progress=progress)))
        return _BigThreshold(model, spec, threshold, n_flagged)

    def _big_fitted(self, model: Any, data: Any, big: _Big, spec: Any, state: Any,
                    notes: tuple[str, ...] = (), span=(0.0, 1.0)):
        """Sample results, every-row histogram, criteria and threshold of ``model``."""
        from gmm_desktop.controller.app_controller import _derive

        fitted = _derive(model, data, notes)  # the plotted sample
        start, width = span
        scores = self._score_every_row(model, big, fitted.scores.log_density, state,
                                       (start, 0.6 * width))
        n = max(scores.n, 1)
        p = model.n_parameters()
        fitted = replace(fitted, bic=-2 * scores.loglik + p * math.log(n),
                         aic=-2 * scores.loglik + 2 * p)
        thr = self._threshold_pass(model, spec, big,
                                   self._fit_like_progress(state, start + 0.6 * width,
                                                           0.4 * width))
        return fitted, scores, thr

    # ------------------------------------------------------------------ fit

    def _fit_big(self, params: Any) -> bool:
        from gmm_desktop import outofcore
        from gmm_desktop.engine import GaussianMixture

        data, big, spec = self._data, self._big, self._spec

        def work(state: Any) -> Any:
            self._ensure_connected()
            model = GaussianMixture(**params.to_dict())
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                outofcore.fit(model, big.features.X,
                              progress=self._fit_like_progress(state, 0.0, 0.8))
            notes = tuple(dict.fromkeys(  # the engine's own (not the readers' deprecations)
                str(w.message) for w in caught if "gmm_desktop" in str(w.filename)))
            return self._big_fitted(model, data, big, spec, state, notes, (0.8, 0.2))

        def success(result: Any) -> None:
            fitted, scores, thr = result
            if self._data is None or self._data.generation != data.generation:
                self.statusMessage.emit(
                    "The features changed during the fit; its result was not used.")
                return
            self._big_scores, self._big_thr = scores, thr
            self._next_fit_excluded = None
            self._adopt(fitted)
            for note in fitted.warnings:
                self.statusMessage.emit(note)
            self.fitFinished.emit(self._summary())
            self.autosave()

        started = self._start("fit", work, success, on_progress=self.fitProgress.emit,
                              on_cancel=self.fitCancelled.emit)
        if started:
            self.fitStarted.emit(params)
        return started

    def _derive_big_async(self, model: Any, data: Any) -> None:
        big, spec = self._big, self._spec

        def work(state: Any) -> Any:
            self._ensure_connected()
            return self._big_fitted(model, data, big, spec, state)

        def success(result: Any) -> None:
            fitted, scores, thr = result
            if self._data is not None and self._data.generation == data.generation:
                self._big_scores, self._big_thr = scores, thr
                self._adopt(fitted)
                self.autosave()

        self._start("derive", work, success, on_progress=self.fitProgress.emit)

    # ------------------------------------------------------------------ threshold

    def set_threshold(self, kind: str, value: float,
                      small_component_share: float | None = None) -> bool:
        ok = super().set_threshold(kind, value, small_component_share)  # type: ignore[misc]
        if ok and self._big is not None:
            self._threshold_timer.start()  # a drag moves the line often: count once it rests
        return ok

    def _start_threshold_pass(self) -> None:
        f, big, spec = self._fitted, self._big, self._spec
        if f is None or big is None or self._big_scores is None:
            return
        thr = self._big_thr
        if thr is not None and thr.spec == spec and thr.model is f.model:
            return
        self.cancel("threshold")
        model = f.model

        def work(state: Any) -> _BigThreshold:
            self._ensure_connected()
            return self._threshold_pass(model, spec, big, self._pass_progress(state, 0.0, 1.0))

        def success(result: _BigThreshold) -> None:
            if self._fitted is not None and self._fitted.model is result.model:
                self._big_thr = result
                self._update_anomaly()

        if self._start("threshold", work, success,
                       on_progress=lambda p: self.loadProgress.emit(p[0], p[1])):
            self._update_anomaly()  # says that every row is being counted

    def _update_anomaly(self) -> None:
        if self._big is None:
            super()._update_anomaly()  # type: ignore[misc]
            return
        from gmm_desktop.engine.anomaly import Threshold, fit_threshold

        f, big, bs = self._fitted, self._big, self._big_scores
        scores = self._current_scores()
        if f is None or scores is None or f.density is None or bs is None \
                or bs.model is not f.model:
            self._anomaly, self._flags = None, None
            self.anomalyChanged.emit(None)
            return
        spec = self._spec
        n = big.n_rows
        thr = self._big_thr
        exact = thr is not None and thr.spec == spec and thr.model is f.model
        if exact:
            threshold = thr.threshold
            n_flagged = thr.n_flagged
        elif spec.kind == "contamination":
            # until the pass over every row is done: the sample's quantile
            threshold = Threshold(spec, f.density.cutoff_for_share(spec.value), None,
                                  self._small(spec), n)
            n_flagged = None
        elif spec.kind == "log_density":
            threshold = Threshold(spec, spec.value, None, self._small(spec), n)
            n_flagged = None
        else:
            threshold = fit_threshold(spec, f.model, scores)
            n_flagged = None
        flags = threshold.flags(scores)  # the plotted sample
        cutoff = threshold.log_density_cutoff
        approximate = n_flagged is None
        if n_flagged is None:
            if cutoff is not None and not threshold.anomalous_components:
                n_flagged = round(_hist_below(bs.counts, bs.edges, cutoff))
            else:
                n_flagged = round(flags.mean() * n) if flags.size else 0
        if cutoff is not None:
            below = n_flagged if not threshold.anomalous_components else \
                _hist_below(bs.counts, bs.edges, cutoff)
        else:
            below = n_flagged
        self._threshold, self._flags = threshold, flags
        if exact:
            how = "counted over every row"
        elif cutoff is not None and not threshold.anomalous_components:
            how = ("estimated from the histogram of every row; counting every row…"
                   if self.is_busy("threshold") else "estimated from the histogram of every row")
        else:
            how = "estimated from the plotted sample"
        view = AnomalyView(
            n_rows=n, n_flagged=int(n_flagged), kind=spec.kind, value=spec.value,
            small_component_share=spec.small_component_share, cutoff=cutoff,
            share_at_cutoff=float(below) / n if n else 0.0,
            description=f"{threshold.describe()} ({how})",
            hist_counts=frozen_array(bs.counts), hist_edges=frozen_array(bs.edges),
            flags=frozen_array(flags), flagged_rows=self._flagged_rows(flags, scores),
            contour_x=np.empty(0), contour_y=np.empty(0), contour_note="",
            approximate=approximate, sample_rows=big.n_sample,
        )
        cx, cy, note = self._contour(cutoff)
        self._anomaly = replace(view, contour_x=frozen_array(cx), contour_y=frozen_array(cy),
                                contour_note=note)
        self.anomalyChanged.emit(self._anomaly)

    # ------------------------------------------------------------------ export

    def export_flagged(self, path: Any, *, only_flagged: bool = True) -> bool:
        if self._big is None:
            return super().export_flagged(path, only_flagged=only_flagged)  # type: ignore[misc]
        from gmm_desktop import outofcore
        from gmm_desktop.data import sidecar_path
        from gmm_desktop.fileio import atomic_write_text

        f, big, spec = self._fitted, self._big, self._spec
        if f is None or self._big_scores is None:
            self.errorOccurred.emit("Cannot export", "Fit a model first: nothing is flagged yet.")
            return False
        out = Path(path)
        if out.suffix.lower() in (".csv", ".tsv", ".xlsx", ".txt"):
            out = out.with_suffix("")
        thr = self._big_thr
        ready = thr if thr is not None and thr.spec == spec and thr.model is f.model else None
        model = f.model

        def work(state: Any) -> str:
            self._ensure_connected()
            t = ready if ready is not None else self._threshold_pass(
                model, spec, big, self._pass_progress(state, 0.0, 0.4))
            written, n, n_flagged = outofcore.write_scores(
                model, big.features.X, t.threshold, out, row_ids=big.features.row_ids,
                only_flagged=only_flagged, progress=self._pass_progress(state, 0.4, 0.6))
            meta = {
                "written_by": "gmm-desktop (big-data mode)",
                "rows": "flagged rows only" if only_flagged else "all scored rows",
                "columns_written": ["row_id", "log_density", "component", "flag"],
                "n_scored": int(n),
                "n_flagged": int(n_flagged),
                "source": {"path": str(big.table.path), "id_column": big.table.id_column,
                           "n_rows": int(big.features.n_rows), "out_of_core": True},
                "features": list(big.features.columns),
                "scaling": big.scaling,
                "threshold": t.threshold.describe(),
                "scheduler": big.scheduler,
            }
            atomic_write_text(sidecar_path(written), json.dumps(meta, indent=2))
            return str(written)

        return self._start("export", work, self._exported,
                           on_progress=lambda p: self.loadProgress.emit(p[0], p[1]))

    # ------------------------------------------------------------------ refused

    def _refuse_big(self, what: str) -> bool:
        if self._big is None:
            return False
        self.errorOccurred.emit(f"{what} is not available", BIG_DATA_REASON)
        return True

    def select_indices(self, indices: Any, mode: str = "replace", *a: Any, **k: Any) -> None:
        if self._refuse_big("Selecting rows"):
            return
        super().select_indices(indices, mode, *a, **k)  # type: ignore[misc]

    def mark_selection(self, label: str | None) -> None:
        if self._refuse_big("Labelling rows"):
            return
        super().mark_selection(label)  # type: ignore[misc]

    def run_refit(self, name: str, params: dict[str, Any]) -> bool:
        if self._refuse_big("Refitting"):
            return False
        return super().run_refit(name, params)  # type: ignore[misc]

    def export_selection(self, path: Any) -> bool:
        if self._refuse_big("Exporting the selection"):
            return False
        return super().export_selection(path)  # type: ignore[misc]
