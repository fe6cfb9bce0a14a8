"""Per-feature marginal histograms with the fitted component densities, in the data's
units: bars are the rows (area 1), each coloured curve a component's weighted normal
density, the dashed curve their sum (the mixture's marginal)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea, QVBoxLayout, QWidget

from gmm_desktop.controller.mixture_views import MarginalsView
from gmm_desktop.gui import palette
from gmm_desktop.gui.views.common import (
    FLAG_RING,
    WrapLabel,
    legend_html,
    style_plot,
    translucent,
)

#: Plots per row, and the height of one plot (pixels).
COLUMNS = 3
PLOT_HEIGHT = 190


class MarginalsPanel(QWidget):
    """One histogram per feature with the fitted marginal densities."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view: MarginalsView | None = None
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, list[pg.PlotCurveItem]] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.figure = QWidget()
        fig = QVBoxLayout(self.figure)
        fig.setContentsMargins(0, 0, 0, 0)
        self.legend = WrapLabel("")
        fig.addWidget(self.legend)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(palette.plot_background())
        fig.addWidget(self.glw, 1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.figure)
        layout.addWidget(self.scroll)

    def show_view(self, view: MarginalsView | None) -> None:
        self.view = view
        names = [] if view is None else [f.name for f in view.features]
        if names != list(self.plots):  # new plots only for new features (they cost most)
            self.glw.clear()
            self.plots = {}
            for n, name in enumerate(names):
                item = self.glw.addPlot(row=n // COLUMNS, col=n % COLUMNS)
                item.setMouseEnabled(False, False)
                item.hideButtons()
                style_plot(item, x_label=name, y_label="density" if n % COLUMNS == 0 else "")
                self.plots[name] = item
        self.curves = {}
        if view is None:
            self.legend.setText("Open data to see the marginal histograms.")
            return
        k = view.n_colours
        colours = palette.categorical(k)
        fg = palette.plot_foreground()
        rows = (len(view.features) + COLUMNS - 1) // COLUMNS
        self.figure.setMinimumHeight(rows * PLOT_HEIGHT + 60)
        for feat in view.features:
            item = self.plots[feat.name]
            item.clear()
            bars = pg.PlotCurveItem(np.asarray(feat.edges), np.asarray(feat.density),
                                    stepMode="center", fillLevel=0,
                                    brush=pg.mkBrush(translucent(palette.NEUTRAL, 80)),
                                    pen=pg.mkPen(translucent(palette.NEUTRAL, 220)))
            item.addItem(bars)
            if np.any(feat.flagged_density > 0):
                item.addItem(pg.PlotCurveItem(
                    np.asarray(feat.edges), np.asarray(feat.flagged_density), stepMode="center",
                    fillLevel=0, brush=pg.mkBrush(translucent(FLAG_RING, 150)), pen=None))
            curves = []
            for comp in range(feat.components.shape[0]):
                curve = pg.PlotCurveItem(np.asarray(feat.grid), feat.components[comp],
                                         pen=pg.mkPen(colours[comp], width=2))
                item.addItem(curve)
                curves.append(curve)
            if k:
                mix = pg.PlotCurveItem(np.asarray(feat.grid), np.asarray(feat.mixture),
                                       pen=pg.mkPen(fg, width=2, style=Qt.PenStyle.DashLine))
                item.addItem(mix)
                curves.append(mix)
            # the rows' range, widened to 2.5 sd around each component's mean
            lo, hi = float(feat.edges[0]), float(feat.edges[-1])
            if feat.means.size:
                lo = min(lo, float((feat.means - 2.5 * feat.sds).min()))
                hi = max(hi, float((feat.means + 2.5 * feat.sds).max()))
            item.setXRange(lo, hi, padding=0.02)
            top = float(max(np.max(feat.density, initial=0.0),
                            np.max(feat.mixture, initial=0.0)))
            item.setYRange(0.0, top * 1.08 if top > 0 else 1.0, padding=0)
            self.curves[feat.name] = curves
        parts = [("▇", palette.NEUTRAL, f"rows ({view.n_rows:,}; area 1)"),
                 ("▇", FLAG_RING, "flagged rows")]
        if k:
            parts += [("—", colours[0].name(), f"components 1–{k} (weighted densities)"
                       if k > 1 else "the component's density"),
                      ("- -", fg.name(), "the mixture (their sum)")]
        text = legend_html(parts) + "<br>In the data's units."
        if view.note:
            text += f" <i>{view.note}</i>"
        self.legend.setText(text)
