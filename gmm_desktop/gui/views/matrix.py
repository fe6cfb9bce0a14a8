"""The scatter matrix: small multiples of the chosen features with every component's
ellipses, the marginal histograms on the diagonal, linked selection, and the inspected
row's distances (why a row inside every drawn ellipse can be flagged)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gmm_desktop.controller.mixture_views import MarginalsView, MatrixView, RowInspection
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
    note_label,
    style_plot,
    translucent,
)

#: More features than this make panels too small to read.
MAX_FEATURES = 10


class _Panel:
    """One scatter panel: feature ``c`` across, feature ``r`` up."""

    def __init__(self, item: pg.PlotItem, r: int, c: int) -> None:
        self.item, self.r, self.c = item, r, c
        self.halo = Points()
        self.ring = Points()
        self.points = Points()
        self.cores = Points()
        for z, it in enumerate((self.halo, self.ring, self.points, self.cores)):
            it.setZValue(z + 1)
            item.addItem(it)
        self.ellipses: list[pg.PlotCurveItem] = []
        self.means = Dots(symbol="x", size=11, pxMode=True)
        self.means.setZValue(8)
        item.addItem(self.means, ignoreBounds=True)
        self.marker = Dots(symbol="o", size=20, pxMode=True, brush=None,
                                         pen=pg.mkPen(INSPECTED, width=2.5))
        self.marker.setZValue(9)
        item.addItem(self.marker, ignoreBounds=True)
        self.label = pg.TextItem("", color=INSPECTED, anchor=(1, 0))
        self.label.setZValue(10)
        vb = item.getViewBox()
        self.label.setParentItem(vb)
        vb.sigResized.connect(self.place_label)  # the top-right corner, whatever the size

    def place_label(self, *_a: Any) -> None:
        self.label.setPos(self.item.getViewBox().width() - 2, 1)


class ScatterMatrix(QWidget):
    """Small multiples of the chosen features (see the module docstring).

    ``selectRequested(positions, mode)``: rows chosen in a panel (a rectangle selects every
    row of the data inside it, drawn or not; a click the nearest drawn row);
    ``inspectRequested(position)``: a clicked row; ``columnsChanged``: the feature choice.
    """

    selectRequested = Signal(object, str)
    boxRequested = Signal(str, str, object, str)  # x column, y column, QRectF, mode
    inspectRequested = Signal(int)
    columnsChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view: MatrixView | None = None
        self.marginals: MarginalsView | None = None
        self.inspection: RowInspection | None = None
        self.panels: dict[tuple[int, int], _Panel] = {}
        self.diagonal: dict[int, pg.PlotItem] = {}
        self._diagonal_curves: dict[int, list[pg.PlotCurveItem]] = {}
        self._columns: tuple[str, ...] = ()
        self._filling = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        side = QVBoxLayout()
        side.addWidget(QLabel("Features:"))
        self.features = QListWidget()
        self.features.setObjectName("matrix_features")
        self.features.setMaximumWidth(170)
        self.features.setToolTip(f"Check the features to show (up to {MAX_FEATURES})")
        side.addWidget(self.features, 1)
        self.worst_button = QPushButton("Where is it far?")
        self.worst_button.setToolTip("Show the features that add most to the inspected "
                                     "row's distance from its component")
        self.worst_button.setEnabled(False)
        side.addWidget(self.worst_button)
        layout.addLayout(side)
        #: What an export writes: the legend, the panels and the inspection.
        self.figure = QWidget()
        right = QVBoxLayout(self.figure)
        right.setContentsMargins(0, 0, 0, 0)
        self.legend = WrapLabel("")
        right.addWidget(self.legend)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(palette.plot_background())
        self.glw.setMinimumSize(160, 160)
        right.addWidget(self.glw, 1)
        self.inspection_label = note_label()
        self.inspection_label.setObjectName("matrix_inspection")
        right.addWidget(self.inspection_label)
        layout.addWidget(self.figure, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.columnsChanged.emit)
        self.features.itemChanged.connect(self._feature_toggled)

    # ------------------------------------------------------------------ features

    def set_columns(self, columns: tuple[str, ...], chosen: tuple[str, ...]) -> None:
        """Offer ``columns``; check ``chosen``."""
        self._filling = True
        try:
            self.features.clear()
            for name in columns:
                item = QListWidgetItem(name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if name in chosen
                                   else Qt.CheckState.Unchecked)
                self.features.addItem(item)
        finally:
            self._filling = False

    def offered_columns(self) -> tuple[str, ...]:
        return tuple(self.features.item(i).text() for i in range(self.features.count()))

    def chosen_columns(self) -> tuple[str, ...]:
        return tuple(
            self.features.item(i).text() for i in range(self.features.count())
            if self.features.item(i).checkState() == Qt.CheckState.Checked
        )[:MAX_FEATURES]

    def choose(self, columns: tuple[str, ...] | list[str]) -> None:
        """Check exactly ``columns`` (the view follows)."""
        columns = [c for c in self.offered_columns() if c in columns][:MAX_FEATURES]
        self._filling = True
        try:
            for i in range(self.features.count()):
                item = self.features.item(i)
                item.setCheckState(Qt.CheckState.Checked if item.text() in columns
                                   else Qt.CheckState.Unchecked)
        finally:
            self._filling = False
        self.columnsChanged.emit()

    def _feature_toggled(self, item: QListWidgetItem) -> None:
        if self._filling:
            return
        checked = [self.features.item(i) for i in range(self.features.count())
                   if self.features.item(i).checkState() == Qt.CheckState.Checked]
        if len(checked) > MAX_FEATURES:  # more would make the panels too small to read
            self._filling = True
            item.setCheckState(Qt.CheckState.Unchecked)
            self._filling = False
            self.inspection_label.setText(
                f"Up to {MAX_FEATURES} features at a time: uncheck one first.")
            return
        self._timer.start()

    # ------------------------------------------------------------------ drawing

    def _build(self, columns: tuple[str, ...]) -> None:
        """The grid of panels for ``columns`` (lower triangle + diagonal)."""
        self.glw.clear()
        self.panels, self.diagonal, self._diagonal_curves = {}, {}, {}
        p = len(columns)
        for r in range(p):
            for c in range(r + 1):
                if r == c:
                    item = self.glw.addPlot(row=r, col=c)
                    item.setMouseEnabled(False, False)
                    item.hideButtons()
                    item.setMenuEnabled(False)
                    self.diagonal[r] = item
                else:
                    box = SelectBox(lambda rect, mode, rr=r, cc=c: self._rect(rr, cc, rect, mode),
                                    lambda x, y, px, mode, rr=r, cc=c:
                                    self._click(rr, cc, x, y, px, mode))
                    item = self.glw.addPlot(row=r, col=c, viewBox=box)
                    item.hideButtons()
                    self.panels[(r, c)] = _Panel(item, r, c)
                style_plot(item)
                item.showAxis("left", c == 0)
                item.showAxis("bottom", r == p - 1)
                if c == 0:
                    item.setLabel("left", columns[r] if r else "",
                                  color=palette.plot_foreground().name())
                if r == p - 1:
                    item.setLabel("bottom", columns[c], color=palette.plot_foreground().name())
                if r == c and c == 0:
                    item.getAxis("left").setStyle(showValues=False)
                    item.setLabel("left", columns[0], color=palette.plot_foreground().name())
        self._columns = columns

    def show_view(self, view: MatrixView | None, marginals: MarginalsView | None) -> None:
        """Draw a controller :class:`MatrixView` (``None``: nothing to show)."""
        self.view, self.marginals = view, marginals
        if view is None:
            self.glw.clear()
            self.panels, self.diagonal, self._columns = {}, {}, ()
            self._diagonal_curves = {}
            self.legend.setText("Open data to see the scatter matrix.")
            return
        if view.columns != self._columns:
            self._build(view.columns)
        k = view.n_colours
        colours = palette.categorical(k) if k else [QColor(palette.NEUTRAL)]
        vals = np.asarray(view.values)
        ranges = [self._range(vals[:, i]) for i in range(vals.shape[1])]
        flagged = np.asarray(view.flagged, dtype=bool)
        ci = None if view.colour_index is None else np.asarray(view.colour_index)
        fg = palette.plot_foreground()
        for (r, c), panel in self.panels.items():
            x, y = vals[:, c], vals[:, r]
            panel.points.setData(x, y, ci, colours, width=POINT_WIDTH)
            panel.ring.setData(x[flagged], y[flagged], None, [QColor(FLAG_RING)],
                               width=POINT_WIDTH + 3.5)
            panel.cores.setData(x[flagged], y[flagged], None if ci is None else ci[flagged],
                                colours, width=POINT_WIDTH)
            ex, ey = view.ellipses.get((c, r), (np.empty(0), np.empty(0)))
            wanted = k if ex.size and k else 0
            # the curves are kept and given new data (removing and adding items to a
            # panel cost more than drawing them)
            while len(panel.ellipses) > wanted:
                panel.item.removeItem(panel.ellipses.pop())
            while len(panel.ellipses) < wanted:
                curve = pg.PlotCurveItem(connect="finite", antialias=True)
                curve.setZValue(6)
                panel.item.addItem(curve, ignoreBounds=True)
                panel.ellipses.append(curve)
            per = ex.size // k if wanted else 0
            for comp, curve in enumerate(panel.ellipses):
                sl = slice(comp * per, (comp + 1) * per)
                curve.setData(ex[sl], ey[sl], connect="finite",
                              pen=pg.mkPen(colours[comp].darker(140), width=1.5))
            if view.means.size:
                panel.means.setData(view.means[:, c], view.means[:, r],
                                    pen=pg.mkPen(palette.plot_background(), width=1),
                                    brush=pg.mkBrush(fg))
            else:
                panel.means.setData([], [])
            panel.item.setXRange(*ranges[c], padding=0)
            panel.item.setYRange(*ranges[r], padding=0)
        self._draw_diagonal(view, marginals, ranges, colours)
        parts = [("●", colours[0].name() if k else palette.NEUTRAL,
                  f"components 1–{k}" if k > 1 else ("component 1" if k else "rows")),
                 ("◉", FLAG_RING, "ringed: flagged"), ("●", SELECTED, "halo: selected"),
                 ("◯", INSPECTED, "inspected row")]
        if view.ellipse_labels:
            parts.append(("—", fg.name(), "ellipses: " + ", ".join(view.ellipse_labels)))
        text = legend_html(parts)
        if view.note:
            text += f"<br><i>{view.note}</i>"
        text += ("<br>Drag a rectangle in a panel to select rows (Shift adds, Ctrl removes); "
                 "click a point to inspect it.")
        self.legend.setText(text)
        self.show_inspection(self.inspection, None)

    @staticmethod
    def _range(v: np.ndarray) -> tuple[float, float]:
        finite = v[np.isfinite(v)]
        if finite.size == 0:
            return 0.0, 1.0
        lo, hi = float(finite.min()), float(finite.max())
        pad = 0.06 * (hi - lo) if hi > lo else 0.5
        return lo - pad, hi + pad

    def _draw_diagonal(self, view: MatrixView, marginals: MarginalsView | None,
                       ranges: list[tuple[float, float]], colours: list[QColor]) -> None:
        by_name = {f.name: f for f in (marginals.features if marginals else ())}
        fg = palette.plot_foreground()
        for i, item in self.diagonal.items():
            feat = by_name.get(view.columns[i])
            k = 0 if feat is None else int(feat.components.shape[0])
            # the histogram, a curve per component and the mixture's (reused: a new item
            # per redraw cost more than its drawing)
            curves = self._curves(i, item, 0 if feat is None else 1 + k + (1 if k else 0))
            if feat is None:
                continue
            curves[0].setData(np.asarray(feat.edges), np.asarray(feat.density),
                              stepMode="center", fillLevel=0,
                              brush=pg.mkBrush(translucent(palette.NEUTRAL, 90)),
                              pen=pg.mkPen(translucent(palette.NEUTRAL, 200)))
            for comp in range(k):
                curves[1 + comp].setData(np.asarray(feat.grid), feat.components[comp],
                                         pen=pg.mkPen(colours[comp % len(colours)],
                                                      width=1.5))
            if k:
                curves[k + 1].setData(np.asarray(feat.grid), np.asarray(feat.mixture),
                                      pen=pg.mkPen(fg, width=1.5,
                                                   style=Qt.PenStyle.DashLine))
            item.setXRange(*ranges[i], padding=0)
            top = float(max(np.max(feat.density, initial=0.0), np.max(feat.mixture, initial=0.0)))
            item.setYRange(0.0, top * 1.08 if top > 0 else 1.0, padding=0)

    def _curves(self, i: int, item: pg.PlotItem, n: int) -> list[pg.PlotCurveItem]:
        """The ``n`` curves of diagonal panel ``i`` (made or removed as needed)."""
        curves = self._diagonal_curves.setdefault(i, [])
        while len(curves) > n:
            item.removeItem(curves.pop())
        while len(curves) < n:
            curve = pg.PlotCurveItem()
            item.addItem(curve)
            curves.append(curve)
        return curves

    def show_selected(self, values: np.ndarray | None) -> None:
        """Halo the selected rows (``values``: their chosen features, data units)."""
        for (r, c), panel in self.panels.items():
            if values is None or values.size == 0:
                panel.halo.setData(np.empty(0), np.empty(0), None, [QColor(SELECTED)])
            else:
                panel.halo.setData(values[:, c], values[:, r], None,
                                   [translucent(SELECTED, 170)], width=POINT_WIDTH + 7)

    def show_inspection(self, ins: RowInspection | None, values: np.ndarray | None) -> None:
        """Ring the inspected row in every panel with its distance in that pair."""
        if values is not None or ins is None:
            self._inspected_values = values
        values = getattr(self, "_inspected_values", None)
        self.inspection = ins
        self.worst_button.setEnabled(ins is not None)
        if ins is None or values is None or values.size == 0 or ins.columns != self._columns:
            for panel in self.panels.values():
                panel.marker.setData([], [])
                panel.label.setText("")
            self.inspection_label.setText(
                "" if ins is None else ins.text)
            return
        row = values[0]
        for (r, c), panel in self.panels.items():
            panel.marker.setData([row[c]], [row[r]])
            sd = ins.pair_sd.get((c, r))
            panel.label.setText("" if sd is None else f"{sd:.1f} sd")
            panel.place_label()
        colour = INSPECTED if ins.flagged else palette.plot_foreground().name()
        self.inspection_label.setText(f"<span style='color:{colour}'>●</span> {ins.text}")

    # ------------------------------------------------------------------ mouse

    def _rect(self, r: int, c: int, rect: QRectF, mode: str) -> None:
        if self.view is None:
            return
        self.boxRequested.emit(self.view.columns[c], self.view.columns[r], rect, mode)

    def _click(self, r: int, c: int, x: float, y: float, pixel: tuple[float, float],
               mode: str) -> None:
        view = self.view
        if view is None:
            return
        vals = np.asarray(view.values)
        i = nearest(vals[:, c], vals[:, r], x, y, pixel)
        if i < 0:
            if mode == "replace":
                self.selectRequested.emit(np.empty(0, dtype=np.int64), mode)
            return
        pos = int(view.positions[i])
        self.selectRequested.emit(np.array([pos]), mode)
        self.inspectRequested.emit(pos)

    def rows_in(self, r: int, c: int, rect: QRectF) -> np.ndarray:
        """Positions of the drawn rows inside ``rect`` of panel ``(r, c)``."""
        if self.view is None:
            return np.empty(0, dtype=np.int64)
        vals = np.asarray(self.view.values)
        return np.asarray(self.view.positions)[inside(vals[:, c], vals[:, r], rect)]

    def panel_at(self, r: int, c: int) -> Any:
        return self.panels.get((r, c))
