"""The χ² Q–Q plot: for each component, the squared Mahalanobis distances of the rows
assigned to it against the quantiles of χ² with d degrees of freedom. Points on the
diagonal: the component is a good Gaussian; bending up at the right: heavier tails than a
Gaussian (outliers, or a component that should be two)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gmm_desktop.controller.mixture_views import QQView
from gmm_desktop.gui import palette
from gmm_desktop.gui.views.common import (
    FLAG_RING,
    INSPECTED,
    POINT_WIDTH,
    SELECTED,
    Dots,
    Points,
    SelectBox,
    WrapLabel,
    inside,
    legend_html,
    nearest,
    style_plot,
    translucent,
)


class QQPanel(QWidget):
    """χ² Q–Q plot of every component, or of one (the combo box)."""

    selectRequested = Signal(object, str)
    inspectRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view: QQView | None = None
        self.scatter: dict[int, Points] = {}
        self._x = np.empty(0)
        self._y = np.empty(0)
        self._pos = np.empty(0, dtype=np.int64)
        self._selected: np.ndarray = np.empty(0, dtype=np.int64)
        self._inspected: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Show"))
        self.which = QComboBox()
        self.which.setObjectName("qq_component")
        self.which.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        row.addWidget(self.which)
        row.addStretch(1)
        layout.addLayout(row)
        self.figure = QWidget()
        fig = QVBoxLayout(self.figure)
        fig.setContentsMargins(0, 0, 0, 0)
        self.legend = WrapLabel("")
        fig.addWidget(self.legend)
        box = SelectBox(self._rect, self._click)
        self.plot = pg.PlotWidget(background=palette.plot_background(), viewBox=box)
        self.plot.setMinimumHeight(110)
        style_plot(self.plot.getPlotItem(), x_label="χ² quantile",
                   y_label="squared Mahalanobis distance D²")
        fig.addWidget(self.plot, 1)
        self.summary = WrapLabel("")
        self.summary.setObjectName("qq_summary")
        fig.addWidget(self.summary)
        layout.addWidget(self.figure, 1)
        self.which.currentIndexChanged.connect(lambda _i: self._draw())

    def show_view(self, view: QQView | None) -> None:
        previous = self.which.currentData()
        self.view = view
        self.which.blockSignals(True)
        self.which.clear()
        if view is not None:
            self.which.addItem("All components", -1)
            for comp in view.components:
                self.which.addItem(f"Component {comp.component + 1} ({comp.n_rows:,} rows)",
                                   comp.component)
            index = self.which.findData(previous)
            self.which.setCurrentIndex(max(index, 0))
        self.which.blockSignals(False)
        self._draw()

    def _draw(self) -> None:
        item = self.plot.getPlotItem()
        item.clear()
        self.scatter = {}
        view = self.view
        if view is None:
            self.legend.setText("Fit a model to see the χ² Q–Q plot of its components.")
            self.summary.setText("")
            self._x = self._y = np.empty(0)
            self._pos = np.empty(0, dtype=np.int64)
            return
        k_max = max((c.component for c in view.components), default=-1) + 1
        colours = palette.categorical(max(k_max, 1))
        fg = palette.plot_foreground()
        chosen = self.which.currentData()
        comps = [c for c in view.components if chosen in (None, -1, c.component)]
        xs, ys, ps = [], [], []
        top = 0.0
        for comp in comps:
            x, y = np.asarray(comp.theoretical), np.asarray(comp.observed)
            colour = colours[comp.component]
            flagged = np.asarray(comp.flagged, dtype=bool)
            if flagged.any():  # a dark ring: the flagged row's own colour over a wider dot
                ring = Points()
                ring.setData(x[flagged], y[flagged], None, [QColor(FLAG_RING)],
                             width=POINT_WIDTH + 5)
                ring.setZValue(2)
                item.addItem(ring)
            dots = Points()
            dots.setData(x, y, None, [colour], width=POINT_WIDTH + 2)
            dots.setZValue(3)
            item.addItem(dots)
            self.scatter[comp.component] = dots
            xs.append(x)
            ys.append(y)
            ps.append(np.asarray(comp.positions))
            top = max(top, float(np.max(x, initial=0)), float(np.max(y, initial=0)))
        self._x = np.concatenate(xs) if xs else np.empty(0)
        self._y = np.concatenate(ys) if ys else np.empty(0)
        self._pos = np.concatenate(ps) if ps else np.empty(0, dtype=np.int64)
        item.setLabel("bottom", f"χ²<sub>{view.dof}</sub> quantile", color=fg.name())
        q975 = dict(view.quantiles).get(0.975)
        span = max(top, q975 or 0.0) * 1.05 or 1.0
        diag = pg.PlotCurveItem([0.0, span], [0.0, span],
                                pen=pg.mkPen(fg, width=1.5, style=Qt.PenStyle.DashLine))
        item.addItem(diag, ignoreBounds=True)
        if q975 is not None:
            for angle in (0, 90):
                line = pg.InfiniteLine(q975, angle=angle,
                                       pen=pg.mkPen(translucent(fg, 120), width=1,
                                                    style=Qt.PenStyle.DotLine))
                item.addItem(line, ignoreBounds=True)
        self._halo = Dots(size=13, brush=pg.mkBrush(translucent(SELECTED, 150)),
                                        pen=None)
        self._halo.setZValue(1)
        item.addItem(self._halo, ignoreBounds=True)
        self._marker = Dots(size=20, brush=None, pen=pg.mkPen(INSPECTED, width=2.5))
        self._marker.setZValue(4)
        item.addItem(self._marker, ignoreBounds=True)
        self._draw_marks()
        item.getViewBox().enableAutoRange()
        d = view.dof
        lines = []
        for comp in comps:
            lines.append(
                f"<span style='color:{colours[comp.component].name()}'>●</span> component "
                f"{comp.component + 1}: {comp.n_rows:,} rows; median D² / χ²<sub>{d}</sub> "
                f"median = {comp.median_ratio:.2f} (1 for a Gaussian); "
                f"{100 * comp.beyond_975:.1f} % beyond the 97.5 % quantile (2.5 % expected)")
        self.summary.setText("<br>".join(lines))
        parts = [("●", fg.name(), "rows of a component (its colour)"),
                 ("◉", FLAG_RING, "ringed: flagged"), ("●", SELECTED, "halo: selected"),
                 ("◯", INSPECTED, "inspected row"),
                 ("- -", fg.name(), "the diagonal: a perfect Gaussian")]
        text = (legend_html(parts) + f"<br>χ² with d = {d} degrees of freedom; dotted: its "
                f"97.5 % quantile ({q975:.3g}). Points bending above the diagonal: heavier "
                "tails than a Gaussian. Click a point to inspect its row.")
        if view.note:
            text += f" <i>{view.note}</i>"
        self.legend.setText(text)

    # ------------------------------------------------------------------ marks

    def set_selected(self, positions: np.ndarray) -> None:
        self._selected = np.asarray(positions, dtype=np.int64)
        self._draw_marks()

    def set_inspected(self, position: int | None) -> None:
        self._inspected = position
        self._draw_marks()

    def _draw_marks(self) -> None:
        if not hasattr(self, "_halo"):
            return
        sel = np.isin(self._pos, self._selected) if self._selected.size else np.zeros(
            self._pos.size, dtype=bool)
        self._halo.setData(self._x[sel], self._y[sel])
        ins = self._pos == self._inspected if self._inspected is not None else sel & False
        self._marker.setData(self._x[ins], self._y[ins])

    # ------------------------------------------------------------------ mouse

    def _rect(self, rect, mode: str) -> None:
        self.selectRequested.emit(self._pos[inside(self._x, self._y, rect)], mode)

    def _click(self, x: float, y: float, pixel: tuple[float, float], mode: str) -> None:
        i = nearest(self._x, self._y, x, y, pixel)
        if i < 0:
            return
        pos = int(self._pos[i])
        self.selectRequested.emit(np.array([pos]), mode)
        self.inspectRequested.emit(pos)
