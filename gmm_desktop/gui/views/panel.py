"""The "Mixture views" dock: the scatter matrix, the marginals, the χ² Q–Q plot, the
uncertainty view and "Why this row" in tabs, linked to the window's selection, each
exportable to PNG/SVG.

A view is built only while it is shown: a change of the model, the features or the flags
marks the views stale, and the shown one is rebuilt shortly after (changes that come in a
burst, as while the threshold is dragged, are drawn once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gmm_desktop.controller import AppController
from gmm_desktop.controller.views import SelectionView
from gmm_desktop.gui.views.common import export_widget
from gmm_desktop.gui.views.marginals import MarginalsPanel
from gmm_desktop.gui.views.matrix import ScatterMatrix
from gmm_desktop.gui.views.qq import QQPanel
from gmm_desktop.gui.views.uncertainty import UncertaintyPanel
from gmm_desktop.gui.views.why import WhyPanel

#: Selected rows highlighted in the scatter matrix (beyond: the first ones).
HALO_LIMIT = 20_000
TABS = ("matrix", "marginals", "qq", "uncertainty", "why")
#: Views built in a worker by the controller (the row view is one row: built here).
BUILT = ("matrix", "marginals", "qq", "uncertainty")
#: Features shown by "Where is it far?".
FAR_FEATURES = 4


class MixtureViews(QWidget):
    """Tabs of views of the current mixture (see the module docstring)."""

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.mixture = controller.mixture
        self.stale: set[str] = set(TABS)
        self.pending: dict[str, int] = {}  # view → ticket of the build in a worker
        self.inspected: int | None = None
        self._selected = np.empty(0, dtype=np.int64)
        self._last_dir = str(Path.home())
        # a small explicit minimum: a small window keeps fitting its docks (the views are
        # squeezed there; "Open in a window" gives them room)
        self.setMinimumSize(200, 60)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setVisible(False)
        layout.addWidget(self.status)
        self.tabs = QTabWidget()
        corner = QWidget()
        buttons = QHBoxLayout(corner)
        buttons.setContentsMargins(0, 0, 0, 2)
        self.window_button = QPushButton("Open in a window")
        self.window_button.setToolTip("Show the views in a window of their own (more room)")
        self.export_button = QPushButton("Export view…")
        self.export_button.setToolTip("Write the view shown to a PNG or SVG file")
        buttons.addWidget(self.window_button)
        buttons.addWidget(self.export_button)
        self.tabs.setCornerWidget(corner)
        self.matrix = ScatterMatrix()
        self.marginals = MarginalsPanel()
        self.qq = QQPanel()
        self.uncertainty = UncertaintyPanel()
        self.why = WhyPanel()
        for widget, title in ((self.matrix, "Scatter matrix"), (self.marginals, "Marginals"),
                              (self.qq, "χ² Q–Q"), (self.uncertainty, "Uncertainty"),
                              (self.why, "Why this row")):
            self.tabs.addTab(widget, title)
        layout.addWidget(self.tabs, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(120)
        self._timer.timeout.connect(self.refresh)

        self.export_button.clicked.connect(self.export_dialog)
        self.tabs.currentChanged.connect(lambda _i: self._later())
        self.mixture.changed.connect(self._model_changed)
        self.mixture.viewReady.connect(self._ready)
        self.mixture.flagsChanged.connect(self._flags_changed)
        controller.featuresChanged.connect(self._features_changed)
        controller.selection.selectionChanged.connect(self._selection_changed)
        self.matrix.columnsChanged.connect(self._columns_changed)
        self.matrix.boxRequested.connect(self._box)
        self.matrix.worst_button.clicked.connect(self.show_where_far)
        for view in (self.matrix, self.qq, self.uncertainty):
            view.selectRequested.connect(self._select)
            view.inspectRequested.connect(self.inspect)

    # ------------------------------------------------------------------ staleness

    def current(self) -> str:
        return TABS[self.tabs.currentIndex()]

    def is_shown(self) -> bool:
        """On screen (a dock in a background tab is "visible" to Qt but not shown)."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def _later(self) -> None:
        if self.is_shown():
            self._timer.start()

    def shown_changed(self, shown: bool) -> None:
        """The dock holding the views was shown or hidden (its tab chosen or not)."""
        if shown:
            self._timer.start()

    def _model_changed(self) -> None:
        self.stale.update(TABS)
        self._later()

    def _flags_changed(self) -> None:
        self.stale.update(TABS)
        self._later()

    def _features_changed(self, view: Any) -> None:
        columns = tuple(view.columns) if view is not None else ()
        if columns != self.matrix.offered_columns():
            self.inspected = None
            self.matrix.set_columns(columns, self.mixture.default_matrix_columns())
        self.stale.update(TABS)
        self._later()

    def _columns_changed(self) -> None:
        self.stale.update(("matrix",))
        self.refresh(force=True)  # the analyst asked: even if the dock is covered

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._timer.start()

    # ------------------------------------------------------------------ building

    def refresh(self, force: bool = False, *, wait: bool = False) -> None:
        """Build the shown view if it is stale (``force``: even if not, and even if the
        views are not on screen). The data are built in a worker and drawn when ready
        (``wait``: built here and drawn at once, as an export needs)."""
        tab = self.current()
        if not force and (tab not in self.stale or not self.is_shown()):
            return
        self.stale.discard(tab)
        m = self.mixture
        if not m.available:
            self.status.setText("Open data to see the mixture views.")
        elif not m.has_model:
            self.status.setText("Fit a model: the views show its components.")
        else:
            self.status.setText("")
        self.status.setVisible(bool(self.status.text()))
        if tab == "why":  # one row: cheap, drawn here
            self._draw_why()
            return
        columns = (self.matrix.chosen_columns() or None) if tab == "matrix" else None
        if wait:
            self.pending.pop(tab, None)
            self._draw(tab, m._builder(tab, columns)())
        else:
            self.pending[tab] = m.request(tab, columns)

    def is_ready(self, tab: str | None = None) -> bool:
        """The view (default: the shown one) is drawn and up to date."""
        tab = tab or self.current()
        return tab not in self.stale and tab not in self.pending

    def _ready(self, kind: str, view: Any) -> None:
        if self.pending.get(kind) != self.mixture.latest(kind):
            return  # drawn already by a newer request, or built here meanwhile
        self.pending.pop(kind, None)
        self._draw(kind, view)

    def _draw(self, tab: str, view: Any) -> None:
        if tab == "matrix":
            matrix, marg = view if view is not None else (None, None)
            self.matrix.show_view(matrix, marg)
            self._halo()
            self._inspect_again()
        elif tab == "marginals":
            self.marginals.show_view(view)
        elif tab == "qq":
            self.qq.show_view(view)
            self.qq.set_selected(self._selected)
            self.qq.set_inspected(self.inspected)
        else:
            self.uncertainty.show_view(view)
            self.uncertainty.set_selected(self._selected)

    def refresh_all(self) -> None:
        """Build and draw every view now (tests, exports)."""
        current = self.tabs.currentIndex()
        for i in range(len(TABS)):
            self.tabs.setCurrentIndex(i)
            self.refresh(force=True, wait=True)
        self.tabs.setCurrentIndex(current)

    # ------------------------------------------------------------------ selection, inspection

    def _select(self, positions: Any, mode: str) -> None:
        caps = self.controller.capabilities
        if not caps.selection:  # big-data mode: the views inspect, they do not select
            self.controller.statusMessage.emit(caps.refusal("selection"))
            return
        self.controller.selection.select_indices(np.asarray(positions, dtype=np.int64), mode)

    def _box(self, x_column: str, y_column: str, rect: QRectF, mode: str) -> None:
        rows = self.mixture.rows_in_box(x_column, y_column, (rect.left(), rect.right()),
                                        (rect.top(), rect.bottom()))
        self._select(rows, mode)

    def _selection_changed(self, view: SelectionView) -> None:
        self._selected = np.asarray(view.indices, dtype=np.int64)
        self._halo()
        self.qq.set_selected(self._selected)
        self.uncertainty.set_selected(self._selected)
        if view.n_selected == 1 and self._selected.size == 1:
            self.inspect(int(self._selected[0]))

    def _halo(self) -> None:
        columns = self.matrix.view.columns if self.matrix.view is not None else ()
        if not columns or self._selected.size == 0:
            self.matrix.show_selected(None)
            return
        self.matrix.show_selected(self.mixture.rows(columns, self._selected[:HALO_LIMIT]))

    def inspect(self, position: int) -> None:
        """Show why the row at ``position`` is (or is not) flagged, in every view."""
        self.inspected = int(position)
        self._inspect_again()
        self.qq.set_inspected(self.inspected)
        self.stale.add("why")
        self._later()

    def _draw_why(self) -> None:
        view = None
        if self.inspected is not None and self.mixture.has_model:
            view = self.controller.anomaly.why(self.inspected)
        self.why.show_view(view)

    def explain(self, position: int) -> None:
        """Show why the row at ``position`` is (or is not) flagged, and bring the row view
        to the front (the flagged table's double click)."""
        self.tabs.setCurrentIndex(TABS.index("why"))
        self.inspect(position)
        self.refresh(force=True)

    def _inspect_again(self) -> None:
        view = self.matrix.view
        if self.inspected is None or view is None:
            self.matrix.show_inspection(None, None)
            return
        ins = self.mixture.inspect(self.inspected, view.columns)
        values = self.mixture.rows(view.columns, np.array([self.inspected]))
        self.matrix.show_inspection(ins, values)

    def show_where_far(self) -> None:
        """Show the :data:`FAR_FEATURES` features that add most to the inspected row's
        distance (the core's decomposition of D²): large panels, the pairs that matter."""
        ins = self.matrix.inspection
        if ins is None or not ins.contributions:
            return
        self.matrix.choose([name for name, _c in ins.contributions[:FAR_FEATURES]])

    # ------------------------------------------------------------------ export

    def figure(self) -> QWidget:
        """The widget an export writes (the shown view, without its controls)."""
        return {"matrix": self.matrix.figure, "marginals": self.marginals.figure,
                "qq": self.qq.figure, "uncertainty": self.uncertainty.figure,
                "why": self.why.figure}[self.current()]

    def export(self, path: str | Path) -> Path:
        """Write the shown view to ``path`` (PNG or SVG by its extension), atomically."""
        if not self.is_ready():
            self.refresh(force=True, wait=True)
        return export_widget(self.figure(), path, title=f"gmm-desktop {self.current()} view")

    def export_dialog(self) -> None:
        name = {"matrix": "scatter-matrix", "marginals": "marginals", "qq": "qq-plot",
                "uncertainty": "uncertainty", "why": "why-this-row"}[self.current()]
        path, _ = QFileDialog.getSaveFileName(self, "Export view",
                                              str(Path(self._last_dir) / f"{name}.png"),
                                              "PNG image (*.png);;SVG drawing (*.svg)")
        if not path:
            return
        self._last_dir = str(Path(path).parent)
        try:
            self.export(path)
        except (OSError, ValueError) as exc:
            self.controller.errorOccurred.emit("Cannot export the view", f"{path}: {exc}")
            return
        self.controller.statusMessage.emit(f"Wrote {path}")
