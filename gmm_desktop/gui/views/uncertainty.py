"""The uncertainty view: 1 − max responsibility of every row (0: the model is sure of the
row's component; up to 1 − 1/K: it cannot tell), as a histogram, a ranked curve and the
table of the most uncertain rows."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gmm_desktop.controller.mixture_views import UncertaintyView
from gmm_desktop.gui import palette
from gmm_desktop.gui.views.common import (
    FLAG_RING,
    WrapLabel,
    legend_html,
    style_plot,
    translucent,
)

HEADERS = ["row", "component", "runner-up", "max resp.", "runner-up resp.", "uncertainty",
           "flagged"]


class UncertaintyPanel(QWidget):
    """Histogram, ranked curve and table of 1 − max responsibility."""

    selectRequested = Signal(object, str)
    inspectRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view: UncertaintyView | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.figure = QWidget()
        fig = QVBoxLayout(self.figure)
        fig.setContentsMargins(0, 0, 0, 0)
        self.legend = WrapLabel("")
        fig.addWidget(self.legend)
        plots = QHBoxLayout()
        self.hist = pg.PlotWidget(background=palette.plot_background())
        self.hist.setMouseEnabled(False, False)
        style_plot(self.hist.getPlotItem(), x_label="1 − max responsibility", y_label="rows")
        self.ranked = pg.PlotWidget(background=palette.plot_background())
        self.ranked.setMouseEnabled(False, False)
        style_plot(self.ranked.getPlotItem(), x_label="rows ranked (most uncertain first)",
                   y_label="1 − max responsibility")
        self.ranked.getPlotItem().setLogMode(x=True, y=False)
        for w in (self.hist, self.ranked):
            w.setMinimumHeight(90)
            plots.addWidget(w, 1)
        fig.addLayout(plots, 2)
        self.summary = WrapLabel("")
        self.summary.setObjectName("uncertainty_summary")
        fig.addWidget(self.summary)
        layout.addWidget(self.figure, 2)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setObjectName("uncertainty_table")
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip("The most uncertain rows; click one to select and inspect it")
        layout.addWidget(self.table, 1)
        self.table.cellClicked.connect(self._clicked)

    def show_view(self, view: UncertaintyView | None) -> None:
        self.view = view
        hist, ranked = self.hist.getPlotItem(), self.ranked.getPlotItem()
        hist.clear()
        ranked.clear()
        self.table.setRowCount(0)
        if view is None:
            self.legend.setText("Fit a model to see how sure it is of each row's component.")
            self.summary.setText("")
            return
        edges, counts = np.asarray(view.edges), np.asarray(view.counts)
        hist.addItem(pg.PlotCurveItem(edges, counts, stepMode="center", fillLevel=0,
                                      brush=pg.mkBrush(palette.CATEGORICAL[1]),
                                      pen=pg.mkPen(palette.CATEGORICAL[4])))
        if np.any(view.flagged_counts):
            hist.addItem(pg.PlotCurveItem(edges, np.asarray(view.flagged_counts),
                                          stepMode="center", fillLevel=0,
                                          brush=pg.mkBrush(translucent(FLAG_RING, 150)),
                                          pen=None))
        hist.setXRange(0.0, float(edges[-1]), padding=0.01)
        ranked.addItem(pg.PlotDataItem(np.asarray(view.curve_rank, dtype=float),
                                       np.asarray(view.curve_value),
                                       pen=pg.mkPen(palette.CATEGORICAL[4], width=2)))
        ranked.enableAutoRange()
        powers = [10**e for e in range(int(np.log10(max(view.n_rows, 1))) + 1)]
        ranked.getAxis("bottom").setTicks(
            [[(float(np.log10(v)), f"{v:,}") for v in powers],
             [(float(np.log10(m * v)), "") for v in powers for m in range(2, 10)
              if m * v <= view.n_rows]])
        t = self.table
        t.setUpdatesEnabled(False)
        t.setRowCount(len(view.ranked))
        for r, (pos, row_id, comp, runner, best, second, unc, flagged) in enumerate(
                view.ranked):
            texts = (row_id, str(comp + 1), str(runner + 1), f"{best:.3f}", f"{second:.3f}",
                     f"{unc:.3f}", "yes" if flagged else "")
            for c, text in enumerate(texts):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, int(pos))
                t.setItem(r, c, item)
        t.setUpdatesEnabled(True)
        t.resizeColumnsToContents()
        above = "; ".join(f"{100 * share:.1f} % above {level:g}"
                          for level, share in view.share_above)
        self.summary.setText(
            f"{view.n_rows:,} rows, {view.n_components} components: mean uncertainty "
            f"{view.mean:.3f} (the largest possible is {1 - 1 / view.n_components:.3f}); "
            f"{above}.")
        parts = [("▇", palette.CATEGORICAL[1], "rows"), ("▇", FLAG_RING, "flagged rows")]
        text = (legend_html(parts) + "<br>0: the model is sure of the row's component; "
                "high values: the row lies between components (its component may be wrong).")
        if view.note:
            text += f" <i>{view.note}</i>"
        self.legend.setText(text)

    def set_selected(self, positions: np.ndarray) -> None:
        """Highlight the listed rows that are selected."""
        chosen = set(np.asarray(positions, dtype=np.int64).tolist())
        t = self.table
        t.blockSignals(True)
        t.clearSelection()
        mode = t.selectionMode()
        t.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for r in range(t.rowCount()):
            item = t.item(r, 0)
            if item is not None and int(item.data(Qt.ItemDataRole.UserRole)) in chosen:
                t.selectRow(r)
        t.setSelectionMode(mode)
        t.blockSignals(False)

    def _clicked(self, row: int, _col: int) -> None:
        item = self.table.item(row, 0)
        if item is None:
            return
        pos = int(item.data(Qt.ItemDataRole.UserRole))
        self.selectRequested.emit(np.array([pos]), "replace")
        self.inspectRequested.emit(pos)
