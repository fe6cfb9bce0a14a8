"""The selection part of the controller: selected rows and manual labels, with undo/redo.

Both are sets of row identities held by the run (they survive a refit, a new column
choice and a reopened session). Every change is an undoable command on :attr:`undo_stack`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from gmm_desktop.controller import messages as msg
from gmm_desktop.controller import plotting
from gmm_desktop.controller.views import SelectionView, frozen_array
from gmm_desktop.core import LABELS, Labels
from gmm_desktop.errors import GmmDesktopError

if TYPE_CHECKING:
    from gmm_desktop.controller.app_controller import AppController

_EMPTY = np.empty(0, dtype=np.int64)
Snapshot = tuple[np.ndarray, Any, Labels]


class _StateCommand(QUndoCommand):
    """An undoable change of the selection and/or the labels (both snapshots)."""

    def __init__(self, part: SelectionController, text: str, before: Snapshot,
                 after: Snapshot) -> None:
        super().__init__(text)
        self.part, self.before, self.after = part, before, after

    def redo(self) -> None:
        self.part._apply(self.after)

    def undo(self) -> None:
        self.part._apply(self.before)


class SelectionController(QObject):
    """Row selection (lasso, rectangle, click, component, flagged) and manual labels."""

    selectionChanged = Signal(object)  # SelectionView

    def __init__(self, app: AppController) -> None:
        super().__init__(app)
        self.app = app
        self.undo_stack = QUndoStack(self)

    @property
    def run(self) -> Any:
        return self.app.run

    @property
    def selected_ids(self) -> np.ndarray:
        return self.run.selected

    def label_ids(self, label: str) -> np.ndarray:
        return self.run.labels.ids(label)

    def reset(self) -> None:
        self.undo_stack.clear()

    # ------------------------------------------------------------------ snapshots

    def _snapshot(self) -> Snapshot:
        return (self.run.selected, self.run.selected_component, self.run.labels)

    def _apply(self, snap: Snapshot) -> None:
        sel, comp, labels = snap
        run = self.run
        changed = labels != run.labels
        run.selected, run.selected_component = sel, comp
        if changed:
            run.set_labels(labels)
            self.app.anomaly.refresh()
        self.app.sessions.mark_dirty()
        self.refresh()

    def _push(self, text: str, after: Snapshot) -> None:
        if not self.run.capabilities.selection:
            self.app.errorOccurred.emit("Not available",
                                        self.run.capabilities.refusal("selection"))
            return
        before = self._snapshot()
        if (np.array_equal(before[0], after[0]) and before[1] == after[1]
                and before[2] == after[2]):
            return
        self.undo_stack.push(_StateCommand(self, text, before, after))

    # ------------------------------------------------------------------ selecting

    def select_indices(self, indices: Any, mode: str = "replace",
                       component: int | None = None) -> None:
        """Select plotted points by position; ``mode`` is replace, add or remove."""
        prepared = self.run.prepared
        if prepared is None:
            return
        row_ids = prepared.row_ids
        idx = np.asarray(indices, dtype=np.int64)
        idx = idx[(idx >= 0) & (idx < row_ids.shape[0])]
        ids = np.unique(row_ids[idx]) if idx.size else _EMPTY
        current = self.run.selected
        if mode == "add":
            new = np.union1d(current, ids)
        elif mode == "remove":
            new = np.setdiff1d(current, ids)
        else:
            new = ids
        text = {"add": "Add to selection", "remove": "Remove from selection"}.get(mode, "Select")
        self._push(f"{text} ({idx.size} points)", (new, component, self.run.labels))

    def select_component(self, k: int, mode: str = "replace") -> None:
        """Select every row whose most likely component is ``k`` (and highlight it)."""
        scored = self.app.shown_scored()
        if scored is None:
            return
        self.select_indices(np.flatnonzero(scored.scores.component == k), mode, component=k)

    def select_flagged(self) -> None:
        det = self.run.detection
        if det is not None:
            self.select_indices(np.flatnonzero(det.flags))

    def clear_selection(self) -> None:
        self._push("Clear selection", (_EMPTY, None, self.run.labels))

    def mark_selection(self, label: str | None) -> None:
        """Label the selected rows: ``outlier`` (left out of fits, always flagged),
        ``normal`` (never flagged), ``excluded`` (left out of fits), or ``None`` (clear)."""
        if label is not None and label not in LABELS:
            raise ValueError(f"unknown label {label!r}")
        sel = self.run.selected
        if sel.size == 0:
            self.app.statusMessage.emit(msg.EMPTY_SELECTION)
            return
        try:
            labels = self.run.labels.with_label(sel, label)
        except (GmmDesktopError, ValueError) as exc:
            self.app.errorOccurred.emit("Cannot label", str(exc))
            return
        text = f"Mark {sel.size} rows {label}" if label else f"Clear labels of {sel.size} rows"
        self._push(text, (sel, self.run.selected_component, labels))

    # ------------------------------------------------------------------ views

    def refresh(self) -> None:
        self.selectionChanged.emit(self.view())

    def view(self, limit: int = plotting.TABLE_LIMIT) -> SelectionView:
        run = self.run
        pos = run.positions(run.selected)
        header: tuple[str, ...] = ()
        rows: tuple[tuple[str, ...], ...] = ()
        if run.prepared is not None:
            header, rows = plotting.rows_table(run.prepared, pos[:limit], self.app.shown_scored(),
                                               run.detection, run.labels)
        labels = run.labels
        labelled = tuple((k, frozen_array(run.positions(labels.ids(k)))) for k in LABELS
                         if labels.ids(k).size)
        return SelectionView(
            n_selected=int(pos.size), indices=frozen_array(pos), header=header, rows=rows,
            component=run.selected_component, n_outliers=int(labels.outlier.size),
            n_normal=int(labels.normal.size), n_excluded=int(labels.excluded.size),
            labelled=labelled,
        )

    def text(self) -> str:
        """The selected rows as tab-separated text (for the clipboard)."""
        run = self.run
        if run.prepared is None:
            return ""
        header, rows = plotting.rows_table(run.prepared, run.positions(run.selected),
                                           self.app.shown_scored(), run.detection, run.labels)
        return "\n".join("\t".join(r) for r in (header, *rows)) + "\n"
