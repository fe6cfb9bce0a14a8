"""The anomaly side of the controller: thresholds, flags, selections, manual labels with
undo/redo, refit strategies, exports and the reproduction script.

A mixin of :class:`~gmm_desktop.controller.app_controller.AppController` (which holds the
signals and the data/model state). Selections and labels are sets of row identities
(``PreparedFeatures.row_ids``), so they survive a refit, a change of axes and a reopened
session. Heavy work runs in workers; what the GUI draws arrives as immutable views.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtGui import QUndoCommand, QUndoStack

from gmm_desktop.controller import anomaly_tools as tools
from gmm_desktop.controller import geometry
from gmm_desktop.controller.views import (
    AnomalyView,
    ParamField,
    RefitView,
    SelectionView,
    frozen_array,
)
from gmm_desktop.engine.anomaly import (
    AnomalyResult,
    Threshold,
    ThresholdSpec,
    fit_threshold,
    run_refit,
)
from gmm_desktop.registry import get_registry

TABLE_LIMIT = 1000
FLAGGED_TABLE_LIMIT = 1000
GRID = 160
LABELS = ("outlier", "normal", "excluded")
_EMPTY_IDS = np.empty(0, dtype=np.int64)


class _StateCommand(QUndoCommand):
    """An undoable change of the selection and/or the manual labels (both snapshots)."""

    def __init__(self, controller: Any, text: str, before: tuple, after: tuple) -> None:
        super().__init__(text)
        self.controller, self.before, self.after = controller, before, after

    def redo(self) -> None:
        self.controller._apply_snapshot(self.after)

    def undo(self) -> None:
        self.controller._apply_snapshot(self.before)


class AnalysisMixin:
    """Thresholds, flags, selections, labels, refit and exports (see the module doc)."""

    # ------------------------------------------------------------------ state

    def _init_analysis(self) -> None:
        self._spec = ThresholdSpec("contamination", 0.05)
        self._sel_ids: np.ndarray = _EMPTY_IDS
        self._sel_component: int | None = None
        self._labels: dict[str, np.ndarray] = {k: _EMPTY_IDS for k in LABELS}
        self._label_masks: dict[str, np.ndarray] | None = None
        self._anomaly: AnomalyView | None = None
        self._threshold: Threshold | None = None
        self._flags: np.ndarray | None = None
        self._grid_key: Any = None
        self._grid: tuple[np.ndarray, np.ndarray, np.ndarray, str] | None = None
        self._pending_refit: tuple[Any, AnomalyResult, RefitView, dict] | None = None
        self._refit_applied: dict[str, Any] | None = None  # the accepted refit's record
        self._adopting_refit = False
        self._fit_excluded: np.ndarray = _EMPTY_IDS  # ids left out of the current model's fit
        self._next_fit_excluded: np.ndarray | None = None
        self.undo_stack = QUndoStack(self)  # type: ignore[arg-type]

    @property
    def threshold_spec(self) -> ThresholdSpec:
        return self._spec

    @property
    def anomaly(self) -> AnomalyView | None:
        return self._anomaly

    @property
    def selected_ids(self) -> np.ndarray:
        return self._sel_ids

    def label_ids(self, label: str) -> np.ndarray:
        return self._labels[label]

    def _row_ids(self) -> np.ndarray | None:
        d = self._data
        if d is None:
            return None
        ids = getattr(d.prepared, "row_ids", None)
        return np.asarray(ids) if ids is not None else np.arange(d.X.shape[0])

    def _positions(self, ids: np.ndarray) -> np.ndarray:
        row_ids = self._row_ids()
        if row_ids is None or ids.size == 0:
            return np.zeros(0 if row_ids is None else row_ids.shape[0], dtype=bool)
        return np.isin(row_ids, ids)

    def _masks(self) -> dict[str, np.ndarray]:
        if self._label_masks is None:
            self._label_masks = {k: self._positions(v) for k, v in self._labels.items()}
        return self._label_masks

    def fit_keep_mask(self) -> np.ndarray | None:
        """Rows the next fit uses (``None``: all): not marked outlier, not excluded."""
        if self._data is None or not (self._labels["outlier"].size
                                      or self._labels["excluded"].size):
            return None
        m = self._masks()
        return ~(m["outlier"] | m["excluded"])

    # ------------------------------------------------------------------ hooks

    def _on_new_dataset(self) -> None:
        self._sel_ids = _EMPTY_IDS
        self._sel_component = None
        self._labels = {k: _EMPTY_IDS for k in LABELS}
        self._label_masks = None
        self._pending_refit = None
        self._refit_applied = None
        self.undo_stack.clear()

    def _on_model_adopted(self) -> None:
        self._grid_key = None
        self._label_masks = None
        if not self._adopting_refit:
            nxt = self._next_fit_excluded
            self._fit_excluded = _EMPTY_IDS if nxt is None else nxt
            self._next_fit_excluded = None
            self._refit_applied = None
            if self._pending_refit is not None:
                self._pending_refit = None
                self.refitClosed.emit(False)

    def _on_scatter_rebuilt(self) -> None:
        self._label_masks = None
        self._update_anomaly()
        self._emit_selection()
        if self._pending_refit is not None:
            model, result, _view, record = self._pending_refit
            view = self._refit_view(model, result, record)
            self._pending_refit = (model, result, view, record)
            self.refitFinished.emit(view)

    # ------------------------------------------------------------------ threshold and flags

    def set_threshold(
        self, kind: str, value: float, small_component_share: float | None = None
    ) -> bool:
        """Set the gate (a ``ThresholdSpec``); flags and counts follow at once."""
        try:
            spec = ThresholdSpec(kind, float(value), small_component_share)
        except ValueError as exc:
            self.errorOccurred.emit("Bad threshold", str(exc))
            return False
        self._spec = spec
        self._dirty = True
        self._update_anomaly()
        return True

    def drag_threshold(self, cutoff: float) -> AnomalyView | None:
        """The threshold line moved to log-density ``cutoff``: a fast update (binary search
        for the count, one comparison pass for the overlay mask)."""
        return (self.set_threshold(
            "log_density", cutoff, self._spec.small_component_share
        ) and self._anomaly) or None

    def _current_scores(self) -> Any:
        if not self._model_matches_data():
            return None
        return self._fitted.scores

    def _update_anomaly(self) -> None:
        f = self._fitted
        scores = self._current_scores()
        if f is None or scores is None or f.density is None:
            self._anomaly = None
            self._flags = None
            self.anomalyChanged.emit(None)
            return
        masks = self._masks()
        ex, nf = masks["outlier"], masks["normal"]
        if np.any(ex & nf):  # cannot happen through the labels API; be safe
            nf = nf & ~ex
        spec = self._spec
        dens = f.density
        record = self._refit_applied
        from_refit = None
        if record is not None and record.get("result") is not None and record["spec"] == spec \
                and record["labels_key"] == self._labels_key():
            result: AnomalyResult = record["result"]
            threshold, flags = result.threshold, result.flags
            from_refit = record["strategy"]
        else:
            if spec.kind == "contamination" and not ex.any():
                threshold = Threshold(spec, dens.cutoff_for_share(spec.value), None,
                                      self._small(spec), dens.n)
            elif spec.kind == "log_density":
                threshold = Threshold(spec, spec.value, None, self._small(spec),
                                      int((~ex).sum()))
            else:
                threshold = fit_threshold(spec, f.model, scores, exclude=ex)
            flags = threshold.flags(scores, exclude=ex, never_flag=nf)
        cutoff = threshold.log_density_cutoff
        n = dens.n
        if cutoff is not None:
            below = dens.count_below(cutoff)
        else:
            below = int(flags.sum())
        self._threshold = threshold
        self._flags = flags
        n_flagged = int(flags.sum())
        self._anomaly = AnomalyView(
            n_rows=n,
            n_flagged=n_flagged,
            kind=spec.kind,
            value=spec.value,
            small_component_share=spec.small_component_share,
            cutoff=cutoff,
            share_at_cutoff=below / n if n else 0.0,
            description=threshold.describe(),
            hist_counts=dens.counts,
            hist_edges=dens.edges,
            flags=frozen_array(flags),
            flagged_rows=self._flagged_rows(flags, scores),
            contour_x=np.empty(0),
            contour_y=np.empty(0),
            contour_note="",
            from_refit=from_refit,
        )
        cx, cy, note = self._contour(cutoff)
        self._anomaly = replace(self._anomaly, contour_x=frozen_array(cx),
                                contour_y=frozen_array(cy), contour_note=note)
        self.anomalyChanged.emit(self._anomaly)

    def _small(self, spec: ThresholdSpec) -> tuple[int, ...]:
        if spec.small_component_share is None:
            return ()
        w = np.asarray(self._fitted.model.weights_, dtype=float)
        return tuple(int(k) for k in np.flatnonzero(w < spec.small_component_share))

    def _flagged_rows(self, flags: np.ndarray, scores: Any) -> tuple:
        idx = np.flatnonzero(flags)
        if idx.size == 0:
            return ()
        ld = scores.log_density[idx]
        if idx.size > FLAGGED_TABLE_LIMIT:
            part = np.argpartition(ld, FLAGGED_TABLE_LIMIT - 1)[:FLAGGED_TABLE_LIMIT]
            idx, ld = idx[part], ld[part]
        order = np.argsort(ld, kind="stable")
        idx, ld = idx[order], ld[order]
        row_ids = self._row_ids()
        comp = scores.component[idx]
        return tuple(
            (int(i), str(row_ids[i]), float(v), int(c))
            for i, v, c in zip(idx, ld, comp, strict=True)
        )

    # ------------------------------------------------------------------ contour

    def _to_model(self) -> tuple[Any, str]:
        """Plot coordinates → model space, and what the contour honestly shows."""
        d = self._data
        v = self._view
        cols = d.columns
        dim = d.X.shape[1]
        base = d.X.mean(axis=0)
        if v.axes == "pca" and dim >= 2:
            comps = d.pca.components
            center = d.pca.center

            def to_model(px: np.ndarray, py: np.ndarray) -> np.ndarray:
                return center + np.outer(px, comps[0]) + np.outer(py, comps[1])

            note = ("exact decision boundary" if dim == 2 else
                    f"decision boundary on the plane of PC1/PC2 through the mean of the data "
                    f"({dim} features: rows off this plane can be flagged inside it)")
            return to_model, note
        i = cols.index(v.x_column) if v.x_column in cols else 0
        j = cols.index(v.y_column) if v.y_column in cols else min(1, dim - 1)

        def to_model_cols(px: np.ndarray, py: np.ndarray) -> np.ndarray:
            pts = np.tile(base, (px.shape[0], 1))
            pts[:, i] = (px - d.offset[i]) / d.scale[i]
            pts[:, j] = (py - d.offset[j]) / d.scale[j]
            return pts

        if dim <= 2:
            note = "exact decision boundary"
        else:
            note = (f"decision boundary on the slice where the other {dim - 2} features are "
                    "at their means (rows elsewhere can be flagged inside it)")
        return to_model_cols, note

    def _contour(self, cutoff: float | None) -> tuple[np.ndarray, np.ndarray, str]:
        sc = self._scatter
        if cutoff is None or sc is None or sc.n_points == 0 or not math.isfinite(cutoff):
            note = "" if cutoff is not None else \
                "the gate is a Mahalanobis radius: see the ellipses"
            return np.empty(0), np.empty(0), note
        key = (id(self._fitted.model), sc.x_label, sc.y_label, self._view.axes)
        if self._grid_key != key or self._grid is None:
            x, y = sc.x, sc.y
            fx, fy = x[np.isfinite(x)], y[np.isfinite(y)]
            if fx.size == 0:
                return np.empty(0), np.empty(0), ""
            (x0, x1), (y0, y1) = (fx.min(), fx.max()), (fy.min(), fy.max())
            px, py = 0.08 * (x1 - x0 or 1.0), 0.08 * (y1 - y0 or 1.0)
            xs = np.linspace(x0 - px, x1 + px, GRID)
            ys = np.linspace(y0 - py, y1 + py, GRID)
            to_model, note = self._to_model()
            grid = tools.density_grid(self._fitted.model, xs, ys, to_model)
            self._grid = (xs, ys, grid, note)
            self._grid_key = key
        xs, ys, grid, note = self._grid
        cx, cy = tools.contour_lines(grid, xs, ys, cutoff)
        return cx, cy, note

    # ------------------------------------------------------------------ selection

    def _snapshot(self) -> tuple:
        return (self._sel_ids, self._sel_component, dict(self._labels))

    def _apply_snapshot(self, snap: tuple) -> None:
        sel, comp, labels = snap
        labels_changed = any(
            not np.array_equal(labels[k], self._labels[k]) for k in LABELS
        )
        self._sel_ids, self._sel_component = sel, comp
        self._labels = dict(labels)
        self._dirty = True
        if labels_changed:
            self._label_masks = None
            self._update_anomaly()
        self._emit_selection()

    def _push(self, text: str, after: tuple) -> None:
        before = self._snapshot()
        if (np.array_equal(before[0], after[0]) and before[1] == after[1]
                and all(np.array_equal(before[2][k], after[2][k]) for k in LABELS)):
            return
        self.undo_stack.push(_StateCommand(self, text, before, after))

    def select_indices(self, indices: Any, mode: str = "replace",
                       component: int | None = None) -> None:
        """Select plotted points by position; ``mode`` is replace, add or remove."""
        row_ids = self._row_ids()
        if row_ids is None:
            return
        idx = np.asarray(indices, dtype=np.int64)
        idx = idx[(idx >= 0) & (idx < row_ids.shape[0])]
        ids = np.unique(row_ids[idx])
        if mode == "add":
            new = np.union1d(self._sel_ids, ids)
        elif mode == "remove":
            new = np.setdiff1d(self._sel_ids, ids)
        else:
            new = ids
        text = {"add": "Add to selection", "remove": "Remove from selection"}.get(mode, "Select")
        self._push(f"{text} ({idx.size} points)", (new, component, self._labels))

    def select_component(self, k: int, mode: str = "replace") -> None:
        """Select every row whose most likely component is ``k`` (and highlight it)."""
        f = self._fitted
        if f is None or f.labels is None or not self._model_matches_data():
            return
        self.select_indices(np.flatnonzero(f.labels == k), mode, component=k)

    def select_flagged(self) -> None:
        if self._flags is not None:
            self.select_indices(np.flatnonzero(self._flags))

    def clear_selection(self) -> None:
        self._push("Clear selection", (_EMPTY_IDS, None, self._labels))

    def mark_selection(self, label: str | None) -> None:
        """Label the selected rows: ``outlier`` (left out of fits, always flagged),
        ``normal`` (never flagged), ``excluded`` (left out of fits), or ``None`` (clear)."""
        if label is not None and label not in LABELS:
            raise ValueError(f"unknown label {label!r}")
        sel = self._sel_ids
        if sel.size == 0:
            self.statusMessage.emit("Select rows first (lasso, rectangle or click).")
            return
        labels = {k: np.setdiff1d(v, sel) for k, v in self._labels.items()}
        if label is not None:
            labels[label] = np.union1d(labels[label], sel)
        text = f"Mark {sel.size} rows {label}" if label else f"Clear labels of {sel.size} rows"
        self._push(text, (self._sel_ids, self._sel_component, labels))

    def _labels_key(self) -> tuple:
        return tuple(tuple(self._labels[k].tolist()) for k in LABELS)

    def _emit_selection(self) -> None:
        self.selectionChanged.emit(self.selection_view())

    def selection_view(self, limit: int = TABLE_LIMIT) -> SelectionView:
        pos = np.flatnonzero(self._positions(self._sel_ids)) if self._data else _EMPTY_IDS
        header, rows = self._table(pos[:limit])
        return SelectionView(
            n_selected=int(pos.size),
            indices=frozen_array(pos),
            header=header,
            rows=rows,
            component=self._sel_component,
            n_outliers=int(self._labels["outlier"].size),
            n_normal=int(self._labels["normal"].size),
            n_excluded=int(self._labels["excluded"].size),
        )

    def _table(self, pos: np.ndarray) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
        d = self._data
        if d is None:
            return (), ()
        frame = d.dataset.frame
        row_index = np.asarray(getattr(d.prepared, "row_index", np.arange(d.X.shape[0])))
        base = frame.iloc[row_index[pos]]
        header = ["row"] + [str(c) for c in frame.columns]
        scores = self._current_scores()
        if scores is not None:
            k = scores.responsibilities.shape[1]
            header += ["component"] + [f"resp {c + 1}" for c in range(k)]
            header += ["log-density", "flag", "label"]
        row_ids = self._row_ids()
        masks = self._masks()
        rows = []
        for n, (p, values) in enumerate(zip(pos, base.itertuples(index=False, name=None),
                                            strict=True)):
            del n
            cells = [str(row_ids[p])] + [_fmt(v) for v in values]
            if scores is not None:
                cells.append(str(int(scores.component[p]) + 1))
                cells += [f"{r:.3f}" for r in scores.responsibilities[p]]
                cells.append(f"{scores.log_density[p]:.5g}")
                flag = self._flags is not None and bool(self._flags[p])
                cells.append("yes" if flag else "")
                cells.append(next((k for k in LABELS if masks[k][p]), ""))
            rows.append(tuple(cells))
        return tuple(header), tuple(rows)

    def selection_text(self) -> str:
        """The selected rows as tab-separated text (for the clipboard)."""
        pos = np.flatnonzero(self._positions(self._sel_ids))
        header, rows = self._table(pos)
        return "\n".join("\t".join(r) for r in (header, *rows)) + "\n"

    # ------------------------------------------------------------------ refit

    @staticmethod
    def refit_strategies() -> list[str]:
        return get_registry().names("refit")

    @staticmethod
    def refit_parameters(name: str) -> tuple[ParamField, ...]:
        """The strategy's declared parameters (its ParamSpec), for a generic editor."""
        cls = get_registry().get_class("refit", name)
        return tuple(
            ParamField(
                name=p.name, type=p.type, default=p.default, help=p.help,
                minimum=p.minimum, maximum=p.maximum,
                choices=tuple(p.choices or ()), label=p.label or p.name.replace("_", " "),
            )
            for p in cls.parameters
        )

    @staticmethod
    def refit_description(name: str) -> str:
        return str(getattr(get_registry().get_class("refit", name), "description", ""))

    def run_refit(self, name: str, params: dict[str, Any]) -> bool:
        """Run a refit strategy on the current model in the background (labels honoured)."""
        f, d = self._fitted, self._data
        if f is None or d is None or not self._model_matches_data():
            self.errorOccurred.emit("Cannot refit", "Fit a model on the current data first.")
            return False
        try:
            strategy = get_registry().create("refit", name)
            strategy.set_params(**params)
        except Exception as exc:  # bad value or a broken plugin: a message, never a crash
            self.errorOccurred.emit("Cannot refit", f"{name}: {exc}")
            return False
        masks = self._masks()
        ex, nf = masks["outlier"].copy(), masks["normal"].copy()
        spec = self._spec
        model, X = f.model, d.X
        old_flags = None if self._flags is None else self._flags.copy()
        labels_key = self._labels_key()

        def work(state: Any) -> Any:
            from gmm_desktop.plugin_api import RefitProgress

            def callback(info: RefitProgress) -> bool:
                state.report({"fraction": float(info.fraction),
                              "stage": f"{info.strategy}: round {info.round}"})
                return state.cancelled

            from gmm_desktop.controller.app_controller import _derive

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = run_refit(strategy, model, X, spec, exclude=ex, never_flag=nf,
                                   callback=callback)
            return result, _derive(result.refit.model, d, scores=result.scores)

        def success(out: Any) -> None:
            result, derived = out
            if self._fitted is None or self._fitted.model is not model:
                self.statusMessage.emit("The model changed during the refit; result dropped.")
                return
            record = {
                "strategy": name,
                "params": dict(strategy.values),
                "spec": spec,
                "labels_key": labels_key,
                "old_flags": old_flags,
                "history": [vars(r) for r in result.refit.history],
                "info": dict(result.refit.info),
                "base_refit": self._refit_applied,
            }
            record["derived"] = derived
            view = self._refit_view(result.refit.model, result, record)
            self._pending_refit = (result.refit.model, result, view, record)
            self.refitFinished.emit(view)

        started = self._start("refit", work, success, on_progress=self.refitProgress.emit)
        if started:
            self.refitStarted.emit(name)
        return started

    def _ellipses_of(self, model: Any) -> tuple[np.ndarray, np.ndarray]:
        d, v = self._data, self._view
        cols = d.columns
        if v.axes == "pca" and len(cols) >= 2:
            means2 = d.pca.project(model.means_)
            covs2 = d.pca.project_covariances(model.full_covariances())
        else:
            i = cols.index(v.x_column) if v.x_column in cols else 0
            j = cols.index(v.y_column) if v.y_column in cols else min(1, len(cols) - 1)
            s = d.scale[[i, j]]
            means2 = d.offset[[i, j]] + s * model.means_[:, [i, j]]
            covs2 = model.marginal_covariances(i, j) * np.outer(s, s)
        radius = geometry.radius_for_mass(0.95)
        return geometry.ellipse_outlines(means2, covs2, [radius])

    def _refit_view(self, model: Any, result: AnomalyResult, record: dict) -> RefitView:
        ox, oy = self._ellipses_of(self._fitted.model)
        nx, ny = self._ellipses_of(model)
        old = record["old_flags"]
        if old is None:
            old = np.zeros_like(result.flags)
        hist = tuple(
            (int(h["round"]), int(h["n_flagged"]), int(h["n_changed"]),
             float(h["log_likelihood"]), str(h.get("note", "")))
            for h in record["history"]
        )
        info = tuple(
            (str(k), f"{v:.5g}" if isinstance(v, float) else str(v))
            for k, v in record["info"].items() if not isinstance(v, list | dict)
        )
        return RefitView(
            strategy=record["strategy"],
            params=tuple(record["params"].items()),
            history=hist,
            info=info,
            old_ellipse_x=frozen_array(ox), old_ellipse_y=frozen_array(oy),
            new_ellipse_x=frozen_array(nx), new_ellipse_y=frozen_array(ny),
            old_flags=frozen_array(old), new_flags=frozen_array(result.flags),
            description=result.threshold.describe(),
        )

    def accept_refit(self) -> bool:
        """Make the pending refit's model current (its flags become the flags)."""
        pending = self._pending_refit
        if pending is None:
            return False
        _model, result, _view, record = pending
        self._pending_refit = None
        new = record.pop("derived")
        record = dict(record, result=result)
        self._adopting_refit = True
        try:
            self._refit_applied = record
            self._adopt(new)
        finally:
            self._adopting_refit = False
        self.refitClosed.emit(True)
        self.statusMessage.emit(
            f"Refit {record['strategy']} accepted: {result.n_flagged} rows flagged."
        )
        self.autosave()
        return True

    def reject_refit(self) -> None:
        if self._pending_refit is not None:
            self._pending_refit = None
            self.refitClosed.emit(False)
            self.statusMessage.emit("Refit discarded; the previous model is kept.")

    @property
    def refit_pending(self) -> bool:
        return self._pending_refit is not None

    # ------------------------------------------------------------------ exports

    def _detector_snapshot(self) -> Any:
        """A :class:`~gmm_desktop.detector.Detector` holding the current state (for exports
        with the provenance the detector defines)."""
        from gmm_desktop.detector import Detector, DetectorConfig

        f, d = self._fitted, self._data
        if f is None or d is None or self._flags is None or not self._model_matches_data():
            return None
        p = self._fit_params
        rec = self._refit_applied
        det = Detector(DetectorConfig(
            columns=list(d.columns), n_components=int(f.model.n_components),
            covariance_types=(str(f.model.covariance_type),), scaling=d.scaling,
            missing=d.missing, threshold=self._spec,
            refit=None if rec is None else rec["strategy"],
            refit_params={} if rec is None else dict(rec["params"]),
            n_init=p.n_init, max_iter=p.max_iter, reg_covar=p.reg_covar,
            random_state=p.random_state,
        ))
        det.dataset = d.dataset
        det.features = d.prepared
        det.model = f.model
        det.scaler = d.prepared.scaler
        det.columns = list(d.columns)
        det.threshold = self._threshold
        det.result = AnomalyResult(f.scores, self._threshold, self._flags.copy())
        if rec is not None:
            det.refit_record = {"strategy": rec["strategy"], "params": rec["params"],
                                "info": rec["info"], "history": rec["history"]}
        return det

    def export_flagged(self, path: str | os.PathLike[str], *, only_flagged: bool = True) -> bool:
        """Write the flagged rows (or every row with its flag) in the background, atomically,
        with the detector's columns and JSON provenance sidecar."""
        det = self._detector_snapshot()
        if det is None:
            self.errorOccurred.emit("Cannot export", "Fit a model first: nothing is flagged yet.")
            return False
        out = Path(path)

        def work(state: Any) -> str:
            return str(det.export(out, only_flagged=only_flagged))

        return self._start("export", work, self._exported)

    def _exported(self, path: str) -> None:
        self.statusMessage.emit(f"Wrote {path}")
        self.exportFinished.emit(path)

    def export_selection(self, path: str | os.PathLike[str]) -> bool:
        """Write the selected rows (original columns and their scores) atomically."""
        det = self._detector_snapshot()
        d = self._data
        if d is None:
            return False
        pos = np.flatnonzero(self._positions(self._sel_ids))
        if pos.size == 0:
            self.errorOccurred.emit("Cannot export", "The selection is empty.")
            return False
        out = Path(path)

        def work(state: Any) -> str:
            from gmm_desktop.data import write_table_atomic

            if det is not None:
                frame = det.result_frame().iloc[pos].reset_index(drop=True)
            else:
                row_index = np.asarray(d.prepared.row_index)
                frame = d.dataset.frame.iloc[row_index[pos]].reset_index(drop=True)
            return str(write_table_atomic(frame, out))

        return self._start("export", work, self._exported)

    def save_sample(self, path: str | os.PathLike[str], n: int, seed: int | None = 0) -> bool:
        """Draw ``n`` synthetic rows from the current model (original units) and save them."""
        det = self._detector_snapshot()
        if det is None:
            self.errorOccurred.emit("Cannot draw a sample", "Fit a model first.")
            return False
        out = Path(path)

        def work(state: Any) -> str:
            from gmm_desktop.data import write_table_atomic

            return str(write_table_atomic(det.sample(int(n), seed=seed), out))

        return self._start("export", work, self._exported)

    # ------------------------------------------------------------------ reproduction

    def recipe(self) -> tools.Recipe | None:
        """What the analyst did, for :func:`anomaly_tools.script_text` / ``cli_command``."""
        f, d = self._fitted, self._data
        if f is None or d is None or not self._model_matches_data():
            return None
        p = self._fit_params
        rec = self._refit_applied
        if rec is not None and (rec.get("base_refit") is not None
                                or rec["labels_key"] != self._labels_key()):
            return None  # a refit of a refit, or labels changed after the refit
        return tools.Recipe(
            data_path=str(Path(d.dataset.path).resolve()),
            columns=tuple(d.columns), scaling=d.scaling, missing=d.missing,
            n_components=int(p.n_components), covariance_type=p.covariance_type,
            init_params=p.init_params, n_init=p.n_init, max_iter=p.max_iter, tol=p.tol,
            reg_covar=p.reg_covar, random_state=p.random_state,
            threshold=self._spec.to_dict(),
            refit=None if rec is None else rec["strategy"],
            refit_params=() if rec is None else tuple(rec["params"].items()),
            refit_threshold=None if rec is None else rec["spec"].to_dict(),
            outliers=tuple(_plain(v) for v in self._labels["outlier"]),
            normal=tuple(_plain(v) for v in self._labels["normal"]),
            fit_excluded=tuple(_plain(v) for v in self._fit_excluded),
            id_column=getattr(d.dataset, "id_column", None),
        )

    def reproduction(self, output: str = "flagged.csv") -> tuple[str, str, list[str]] | None:
        """``(script, command line, what the command line cannot express)``."""
        r = self.recipe()
        if r is None:
            return None
        cli, gaps = tools.cli_command(r, output)
        return tools.script_text(r, output), cli, gaps

    def export_script(self, path: str | os.PathLike[str], output: str = "flagged.csv") -> str:
        """Write the reproduction script atomically; returns the equivalent command line."""
        from gmm_desktop.fileio import atomic_write_text

        rep = self.reproduction(output)
        if rep is None:
            raise ValueError(
                "Nothing to reproduce yet (fit a model), or a refit of a refit or labels "
                "changed after a refit, which one detect run cannot express."
            )
        script, cli, gaps = rep
        atomic_write_text(path, script)
        return cli + ("" if not gaps else "\n# not expressible on the command line: "
                      + "; ".join(gaps))

    # ------------------------------------------------------------------ plugins

    @staticmethod
    def plugin_rows() -> list[dict[str, Any]]:
        from gmm_desktop.registry import plugin_table

        return plugin_table(get_registry().load_all())

    def set_plugin_enabled(self, kind: str, name: str, enabled: bool) -> str:
        """Enable/disable a plugin; returns a message for the user (raises ValueError)."""
        get_registry().set_enabled(kind, name, enabled)
        return (f"{name} ({kind}) {'enabled' if enabled else 'disabled'}; the registry applies "
                "it at once (the lists in open panels refresh at the next start).")

    # ------------------------------------------------------------------ session

    def analysis_document(self) -> dict[str, Any]:
        return {
            "threshold": self._spec.to_dict(),
            "selection": [_plain(v) for v in self._sel_ids],
            "labels": {k: [_plain(v) for v in self._labels[k]] for k in LABELS},
        }

    def restore_analysis(self, doc: dict[str, Any] | None) -> None:
        if not doc:
            return
        try:
            self._spec = ThresholdSpec.from_dict(doc.get("threshold") or self._spec.to_dict())
        except ValueError:
            pass
        row_ids = self._row_ids()
        dtype = row_ids.dtype if row_ids is not None else object
        self._sel_ids = np.unique(np.asarray(doc.get("selection") or [], dtype=dtype))
        labels = doc.get("labels") or {}
        self._labels = {k: np.unique(np.asarray(labels.get(k) or [], dtype=dtype))
                        for k in LABELS}
        self._label_masks = None
        self._update_anomaly()
        self._emit_selection()


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)
