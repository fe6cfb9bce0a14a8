"""The "Why this row" view: one row against its component, feature by feature.

For each feature: the row's value against the component's mean ± 1 and ± 2 standard
deviations (on a common axis: the distance from the mean in the component's standard
deviations), and the feature's share of the row's squared Mahalanobis distance (the
core's decomposition, whose shares add up to the distance exactly). Features are listed
by contribution, largest first; a wide table shows the first :data:`SHOWN` of them.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gmm_desktop.controller.views import WhyView
from gmm_desktop.gui import palette
from gmm_desktop.gui.views.common import FLAG_RING, WrapLabel, note_label, style_plot, translucent

#: Features drawn and listed (the largest contributions).
SHOWN = 25
#: The axis is clipped here (in standard deviations); a row beyond it is drawn at the edge
#: with its value written beside it.
CLIP = 8.0
HEADERS = ("feature", "value", "component mean ± sd", "z", "contribution", "share")


def _fmt(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


class WhyPanel(QWidget):
    """Why the inspected row is (or is not) flagged (see the module docstring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view: WhyView | None = None
        self.order: list[int] = []  # rows of the view, as listed (largest contribution first)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.figure = QWidget()
        fig = QVBoxLayout(self.figure)
        fig.setContentsMargins(0, 0, 0, 0)
        self.headline = WrapLabel("")
        self.headline.setObjectName("why_headline")
        fig.addWidget(self.headline)
        self.plot = pg.PlotWidget(background=palette.plot_background())
        self.plot.setMinimumHeight(110)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        style_plot(self.plot.getPlotItem(),
                   x_label="distance from the component's mean, in its standard deviations")
        fig.addWidget(self.plot, 2)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setObjectName("why_table")
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        fig.addWidget(self.table, 1)
        self.note = note_label()
        fig.addWidget(self.note)
        layout.addWidget(self.figure, 1)
        self.show_view(None)

    # ------------------------------------------------------------------ drawing

    def show_view(self, view: WhyView | None) -> None:
        self.view = view
        item = self.plot.getPlotItem()
        item.clear()
        self.table.setRowCount(0)
        if view is None:
            self.order = []
            self.headline.setText(
                "Click a flagged row in the Anomalies panel (or a point in the Q–Q plot or "
                "the scatter matrix) to see why it is, or is not, flagged.")
            self.note.setText("")
            return
        rows = sorted(range(len(view.rows)), key=lambda j: -view.rows[j].contribution)
        self.order = rows[:SHOWN]
        self._headline(view)
        self._draw(view)
        self._fill(view)
        more = len(view.rows) - len(self.order)
        tail = f" The {more} features with the smallest contributions are not listed." if more \
            else ""
        self.note.setText(view.decomposition + tail)

    def _headline(self, view: WhyView) -> None:
        top = view.top
        d2 = view.distance_squared
        share = top.contribution / d2 if d2 > 0 else 0.0
        state = "<b>flagged</b>" if view.flagged else "not flagged"
        self.headline.setText(
            f"Row <b>{view.row_id}</b> is {state}: log-density {_fmt(view.log_density)}, "
            f"squared distance D² = {_fmt(d2)} from component {view.component + 1}. "
            f"<b>{top.feature}</b> contributes most ({100 * share:.0f}% of D²).")

    def _draw(self, view: WhyView) -> None:
        item = self.plot.getPlotItem()
        n = len(self.order)
        fg = palette.plot_foreground()
        colour = palette.categorical(view.component + 1)[view.component]
        ys = np.arange(n, dtype=float)[::-1]  # the largest contribution at the top
        # the component's mean ± 2 sd and ± 1 sd, as bands behind every feature
        for half, alpha in ((2.0, 35), (1.0, 70)):
            band = pg.BarGraphItem(x0=np.full(n, -half), x1=np.full(n, half), y=ys,
                                   height=0.6, brush=translucent(colour, alpha), pen=None)
            item.addItem(band)
        item.addItem(pg.InfiniteLine(pos=0.0, angle=90,
                                     pen=pg.mkPen(fg, width=1, style=Qt.PenStyle.DashLine)))
        z = np.array([view.rows[j].z for j in self.order], dtype=float)
        shown = np.clip(np.nan_to_num(z, nan=0.0), -CLIP, CLIP)
        ring = QColor(FLAG_RING) if view.flagged else fg
        item.addItem(pg.ScatterPlotItem(x=shown, y=ys, size=11, brush=pg.mkBrush(colour),
                                        pen=pg.mkPen(ring, width=2 if view.flagged else 1)))
        for y, zz, s in zip(ys, z, shown, strict=True):
            if abs(zz) > CLIP or not math.isfinite(zz):
                label = pg.TextItem(f"{_fmt(zz)} sd", color=fg,
                                    anchor=(1.0, 0.5) if s > 0 else (0.0, 0.5))
                label.setPos(s, y)
                item.addItem(label)
        axis = item.getAxis("left")
        axis.setTicks([[(float(y), view.rows[j].feature[:24])
                        for y, j in zip(ys, self.order, strict=True)]])
        reach = max(3.0, float(np.abs(shown).max()) + 0.5) if n else 3.0
        item.setXRange(-reach, reach, padding=0.02)
        item.setYRange(-0.7, n - 0.3, padding=0.0)

    def _fill(self, view: WhyView) -> None:
        d2 = view.distance_squared
        t = self.table
        t.setRowCount(len(self.order))
        for r, j in enumerate(self.order):
            row = view.rows[j]
            share = row.contribution / d2 if d2 > 0 else 0.0
            cells = (row.feature, _fmt(row.value), f"{_fmt(row.mean)} ± {_fmt(row.sd)}",
                     _fmt(row.z), _fmt(row.contribution), f"{100 * share:.1f}%")
            for c, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if c:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                t.setItem(r, c, cell)
