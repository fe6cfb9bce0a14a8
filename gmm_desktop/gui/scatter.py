"""The scatter plot: a fast point layer for up to millions of rows, ellipses, means, legend.

pyqtgraph's ``ScatterPlotItem`` spends seconds per million points in a per-point Python
loop, so the points are drawn by :class:`FastScatterItem`: the points of each colour are
packed once into a ``QPolygonF`` straight from numpy, and painted with one
``QPainter.drawPoints`` call per colour (a round cosmetic pen whose width shrinks as the
number of points grows). Everything else (ellipses, means, labels, legend) is small.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyqtgraph as pg
import pyqtgraph.functions as fn
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QWidget

from gmm_desktop.controller import ScatterView
from gmm_desktop.gui import palette

#: Above this many points, they are rasterised with numpy instead of drawn by QPainter.
RASTER_THRESHOLD = 150_000


def point_width(n: int) -> float:
    """Pen width in device-independent pixels for ``n`` points."""
    if n <= 5_000:
        return 6.0
    if n <= 50_000:
        return 4.0
    if n <= RASTER_THRESHOLD:
        return 3.0
    return 2.0


def _translucent(colour: QColor, alpha: int = 200) -> QColor:
    out = QColor(colour)
    out.setAlpha(alpha)
    return out


class FastScatterItem(pg.GraphicsObject):
    """All points, drawn with one ``drawPoints`` call per colour."""

    def __init__(self) -> None:
        super().__init__()
        self._groups: list[tuple[QColor, Any, int]] = []  # colour, QPolygonF or None, count
        self._arrays: list[tuple[np.ndarray, np.ndarray]] = []  # x, y per group
        self._n = 0
        self._bounds = QRectF()
        self._xr = (0.0, 1.0)
        self._yr = (0.0, 1.0)
        self._width = 4.0
        self.last_paint_seconds = 0.0
        self.paint_count = 0

    # -- data ---------------------------------------------------------------------------

    def setData(
        self,
        x: np.ndarray,
        y: np.ndarray,
        colour_index: np.ndarray | None,
        colours: list[QColor],
        width: float | None = None,
    ) -> None:
        """Points ``(x, y)`` coloured by ``colours[colour_index]`` (one colour if None)."""
        self.prepareGeometryChange()
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        finite = np.isfinite(x) & np.isfinite(y)
        n = int(x.shape[0])
        groups = []
        if colour_index is None or not colours:
            members = [np.flatnonzero(finite)] if not finite.all() else [None]
            palette_ = [colours[0] if colours else QColor(palette.NEUTRAL)]
        else:
            ci = np.asarray(colour_index)
            counts = np.bincount(ci[finite], minlength=len(colours))
            order = np.argsort(ci, kind="stable")
            starts = np.concatenate([[0], np.cumsum(np.bincount(ci, minlength=len(colours)))])
            members, palette_ = [], []
            # largest group first, so that small components are drawn on top
            for c in np.argsort(-counts, kind="stable"):
                idx = order[starts[c] : starts[c + 1]]
                idx = idx[finite[idx]]
                if idx.size:
                    members.append(idx)
                    palette_.append(colours[c % len(colours)])
        arrays = []
        raster = n > RASTER_THRESHOLD
        for idx, colour in zip(members, palette_, strict=True):
            px = x if idx is None else x[idx]
            py = y if idx is None else y[idx]
            if px.shape[0] == 0:
                continue
            arrays.append((px, py))
            poly = None
            if not raster:
                poly = fn.create_qpolygonf(px.shape[0])
                buf = fn.ndarray_from_qpolygonf(poly)
                buf[:, 0] = px
                buf[:, 1] = py
            groups.append((colour, poly, int(px.shape[0])))
        self._arrays = arrays
        self._groups = groups
        self._n = n
        self._width = point_width(n) if width is None else float(width)
        if finite.any():
            xf, yf = x[finite], y[finite]
            self._xr = (float(xf.min()), float(xf.max()))
            self._yr = (float(yf.min()), float(yf.max()))
        else:
            self._xr = self._yr = (0.0, 1.0)
        w = max(self._xr[1] - self._xr[0], 1e-300)
        h = max(self._yr[1] - self._yr[0], 1e-300)
        self._bounds = QRectF(self._xr[0], self._yr[0], w, h)
        self.update()

    @property
    def n_points(self) -> int:
        return sum(g[2] for g in self._groups)

    @property
    def n_colours(self) -> int:
        return len(self._groups)

    def group_colours(self) -> list[QColor]:
        return [g[0] for g in self._groups]

    # -- pyqtgraph protocol ----------------------------------------------------------------

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange: Any = None) -> tuple:
        if self._n == 0:
            return (None, None)
        return self._xr if ax == 0 else self._yr

    def pixelPadding(self) -> float:
        return self._width

    def boundingRect(self) -> QRectF:
        if self._n == 0:
            return QRectF()
        # grow by a few pixels so that the round points at the border are repainted
        px = self.pixelVectors()
        pad_x = pad_y = 0.0
        if px[0] is not None:
            pad_x = abs(px[0].x()) * self._width
            pad_y = abs(px[1].y()) * self._width
        return self._bounds.adjusted(-pad_x, -pad_y, pad_x, pad_y)

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()

    def paint(self, painter: QPainter, option: Any = None, widget: Any = None) -> None:
        started = time.perf_counter()
        if self._groups and self._groups[0][1] is None:
            self._paint_raster(painter, widget)
        else:
            self._paint_points(painter)
        self.last_paint_seconds = time.perf_counter() - started
        self.paint_count += 1

    def _paint_points(self, painter: QPainter) -> None:
        # Map to device pixels first and draw untransformed: round dots stay round under
        # any axis scaling (a cosmetic pen under a non-uniform transform draws ovals).
        transform = painter.transform()  # world transform; Qt adds the high-DPI scale
        painter.save()
        painter.resetTransform()
        # Antialiased wide round points are costly in Qt's raster engine (measured: ~220 ms
        # for 10k flag markers of 5 px at 1M rows): smooth edges only where that is cheap.
        smooth = self._n <= 5_000 or (self._n <= 50_000 and self._width <= 4.0)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, smooth)
        for colour, poly, _count in self._groups:
            pen = QPen(colour)
            pen.setWidthF(self._width)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            painter.drawPoints(transform.map(poly))
        painter.restore()

    def _paint_raster(self, painter: QPainter, widget: Any) -> None:
        """Many points: rasterise them with numpy into one image, then one drawImage."""
        device = painter.device()
        if device is None:
            return
        dpr = float(device.devicePixelRatioF()) if hasattr(device, "devicePixelRatioF") else 1.0
        if widget is not None:
            width_px, height_px = widget.width(), widget.height()
        else:
            width_px, height_px = device.width() / dpr, device.height() / dpr
        w = max(1, int(np.ceil(width_px * dpr)))
        h = max(1, int(np.ceil(height_px * dpr)))
        t = painter.transform()
        image = np.zeros((h, w), dtype=np.uint32)
        dot = max(1, round(self._width * dpr))
        for (colour, _poly, _count), (x, y) in zip(self._groups, self._arrays, strict=True):
            fx = (t.m11() * x + t.m21() * y + t.dx()) * dpr
            fy = (t.m12() * x + t.m22() * y + t.dy()) * dpr
            ix = fx.astype(np.int64)
            iy = fy.astype(np.int64)
            inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
            ix, iy = ix[inside], iy[inside]
            argb = np.uint32(colour.rgba())  # opaque ARGB, as premultiplied
            for dy in range(dot):
                for dx in range(dot):
                    jx = np.minimum(ix + dx, w - 1)
                    jy = np.minimum(iy + dy, h - 1)
                    image[jy, jx] = argb
        qimage = QImage(image.data, w, h, 4 * w, QImage.Format.Format_ARGB32_Premultiplied)
        qimage.setDevicePixelRatio(dpr)
        painter.save()
        painter.resetTransform()
        painter.drawImage(0, 0, qimage)
        painter.restore()
        self._last_image = image  # keep the buffer alive until Qt has copied it


class SelectViewBox(pg.ViewBox):
    """A view box whose left-drag draws a rectangle or a lasso in the select modes."""

    def __init__(self, plot: ScatterPlot | None = None) -> None:
        super().__init__()
        self.plot = plot
        self.mode = "pan"
        self._path: list[QPointF] = []

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        plot = self.plot
        if self.mode not in ("rect", "lasso") or plot is None \
                or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            start = self.mapSceneToView(ev.buttonDownScenePos())
            self._path = [start]
        self._path.append(p)
        plot._show_path(self._path, self.mode)
        if ev.isFinish():
            plot._finish_path(self._path, self.mode, ev.modifiers())
            self._path = []

    def mouseClickEvent(self, ev: Any) -> None:
        plot = self.plot
        if self.mode != "pan" and plot is not None and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            plot._click_select(p.x(), p.y(), ev.modifiers())
            return
        super().mouseClickEvent(ev)


def selection_mode(modifiers: Any) -> str:
    """Shift adds to the selection, Ctrl removes from it, otherwise it is replaced."""
    if modifiers & Qt.KeyboardModifier.ShiftModifier:
        return "add"
    if modifiers & Qt.KeyboardModifier.ControlModifier:
        return "remove"
    return "replace"


#: Flagged points: a dark ring with a vermillion centre (Okabe-Ito), visible on every
#: component colour; selected points: a yellow halo underneath.
FLAG_RING = "#000000"
FLAG_CORE = "#D55E00"
OLD_ONLY = "#7F7F7F"  # refit comparison: the colour of the old ellipses
NEW_ONLY = "#0072B2"  # and of the new ones
SELECT_HALO = "#F0E442"


class ScatterPlot(pg.PlotWidget):
    """The main plot: points, component ellipses, means with labels, legend, hover."""

    pointHovered = Signal(int)  # index of the plotted point under the mouse, or -1
    selectionDrawn = Signal(object, str)  # indices of plotted points, mode (replace/add/remove)
    legendClicked = Signal(int)  # the colour index of a clicked legend entry (a component)

    def __init__(self, parent: QWidget | None = None) -> None:
        vb = SelectViewBox()
        super().__init__(parent, background=palette.plot_background(), viewBox=vb)
        vb.plot = self
        self.select_box = vb
        fg = palette.plot_foreground()
        self._fg = fg
        item = self.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.15)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(fg)
            axis.setTextPen(fg)
        self.points = FastScatterItem()
        self.addItem(self.points)
        self.ellipse_items: list[pg.PlotCurveItem] = []
        self.halo_items: list[pg.PlotCurveItem] = []
        self.mean_item = pg.ScatterPlotItem(size=14, symbol="x", pxMode=True)
        self.mean_item.setZValue(20)
        self.addItem(self.mean_item)
        self.mean_labels: list[pg.TextItem] = []
        self.legend = item.addLegend(offset=(-10, 10), labelTextColor=fg,
                                     brush=pg.mkBrush(_translucent(palette.plot_background())))
        self.legend.setZValue(30)
        self.legend.sigSampleClicked.connect(self._legend_sample_clicked)
        self._legend_samples: list[Any] = []
        self.view: ScatterView | None = None
        self.hover_text = ""
        self._pending_hover: QPointF | None = None
        self._hover_timer = QTimer(self)
        self._hover_timer.setSingleShot(True)
        self._hover_timer.setInterval(30)
        self._hover_timer.timeout.connect(self._do_hover)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.last_set_seconds = 0.0
        # overlays: selection halo, flagged points, decision contour, refit comparison
        self.selected_item = FastScatterItem()
        self.selected_item.setZValue(5)
        self.flag_ring = FastScatterItem()
        self.flag_ring.setZValue(6)
        self.flag_core = FastScatterItem()
        self.flag_core.setZValue(7)
        # refit before/after: flagged only by the old model (hollow grey), only by the new
        self.old_only_ring = FastScatterItem()
        self.old_only_core = FastScatterItem()
        self.new_only_ring = FastScatterItem()
        self.new_only_core = FastScatterItem()
        for z, it in enumerate((self.old_only_ring, self.old_only_core, self.new_only_ring,
                                self.new_only_core)):
            it.setZValue(8 + 0.1 * z)
        self._change_samples: list[Any] = []
        self._change_counts: tuple[int, int] | None = None
        for it in (self.selected_item, self.flag_ring, self.flag_core, self.old_only_ring,
                   self.old_only_core, self.new_only_ring, self.new_only_core):
            self.addItem(it)
        self.contour_item = pg.PlotCurveItem(
            connect="finite", pen=pg.mkPen(fg, width=2, style=Qt.PenStyle.DashLine))
        self.contour_item.setZValue(13)
        self.addItem(self.contour_item)
        self.old_ellipses = pg.PlotCurveItem(
            connect="finite", pen=pg.mkPen("#7F7F7F", width=2, style=Qt.PenStyle.DashLine))
        self.new_ellipses = pg.PlotCurveItem(connect="finite", pen=pg.mkPen("#0072B2", width=2.5))
        self.old_ellipses.setZValue(14)
        self.new_ellipses.setZValue(14)
        self.addItem(self.old_ellipses)
        self.addItem(self.new_ellipses)
        self.path_item = pg.PlotCurveItem(pen=pg.mkPen(fg, width=1.5, style=Qt.PenStyle.DotLine))
        self.path_item.setZValue(40)
        self.addItem(self.path_item)
        self.focus_item = pg.ScatterPlotItem(size=26, symbol="o", brush=None,
                                             pen=pg.mkPen(FLAG_CORE, width=3))
        self.focus_item.setZValue(41)
        self.addItem(self.focus_item)
        # a note pinned to the top left of the view (big-data mode: the sample's size)
        self.note_item = pg.TextItem("", color=fg, anchor=(0, 0),
                                     fill=pg.mkBrush(_translucent(palette.plot_background())))
        self.note_item.setParentItem(vb)
        self.note_item.setPos(6, 4)
        self.note_item.setZValue(35)
        self.note_item.setVisible(False)
        self.show_flags = True
        self.show_contour = True
        self._flags: np.ndarray | None = None
        self._selected: np.ndarray | None = None
        self._highlight_component: int | None = None

    # -- content --------------------------------------------------------------------------

    def colours_for(self, view: ScatterView) -> list[QColor]:
        if view.colour_kind == "component":
            return palette.categorical(view.n_colours)
        if view.colour_kind == "uncertainty":
            return palette.sequential(view.n_colours)
        return [QColor(palette.NEUTRAL)]

    def set_view(self, view: ScatterView | None, *, reset_range: bool = False) -> None:
        """Draw a controller :class:`ScatterView` (``None`` clears the plot)."""
        started = time.perf_counter()
        previous = self.view
        self.view = view
        item = self.getPlotItem()
        for it in self.ellipse_items + self.halo_items + self.mean_labels:
            self.removeItem(it)
        self.ellipse_items, self.halo_items, self.mean_labels = [], [], []
        self.legend.clear()
        self._legend_samples = []
        note = getattr(view, "note", "") if view is not None else ""
        self.note_item.setText(note)
        self.note_item.setVisible(bool(note))
        if view is None:
            self.points.setData(np.empty(0), np.empty(0), None, [])
            self.mean_item.setData([], [])
            self.last_set_seconds = time.perf_counter() - started
            return
        colours = self.colours_for(view)
        self.points.setData(view.x, view.y, view.colour_index, colours)
        item.setLabel("bottom", view.x_label, color=self._fg.name())
        item.setLabel("left", view.y_label, color=self._fg.name())
        k = len(view.mean_labels)
        comp_colours = palette.categorical(k)
        bg = palette.plot_background()
        if k and view.ellipse_x.size:
            per = view.ellipse_x.size // k
            for c in range(k):
                sl = slice(c * per, (c + 1) * per)
                halo = pg.PlotCurveItem(
                    view.ellipse_x[sl], view.ellipse_y[sl], connect="finite",
                    pen=pg.mkPen(bg, width=4.5),
                )
                line_colour = QColor(comp_colours[c])
                if view.colour_kind != "component":
                    line_colour = QColor(self._fg)
                curve = pg.PlotCurveItem(
                    view.ellipse_x[sl], view.ellipse_y[sl], connect="finite",
                    pen=pg.mkPen(line_colour.darker(130) if palette.is_dark() is False
                                 else line_colour.lighter(115), width=2),
                    antialias=True,
                )
                halo.setZValue(10)
                curve.setZValue(11)
                self.addItem(halo)
                self.addItem(curve)
                self.halo_items.append(halo)
                self.ellipse_items.append(curve)
        if k:
            self.mean_item.setData(
                x=view.means[:, 0], y=view.means[:, 1],
                pen=pg.mkPen(bg, width=1.5), brush=pg.mkBrush(self._fg),
                symbol="x", size=15,
            )
            for c, label in enumerate(view.mean_labels):
                text = pg.TextItem(label, color=self._fg, anchor=(-0.3, 1.1),
                                   fill=pg.mkBrush(QColor(bg.red(), bg.green(), bg.blue(), 190)))
                text.setPos(float(view.means[c, 0]), float(view.means[c, 1]))
                text.setZValue(21)
                self.addItem(text)
                self.mean_labels.append(text)
        else:
            self.mean_item.setData([], [])
        self._legend_entries: dict[int, int] = {}
        for entry in view.legend:
            sample = pg.ScatterPlotItem(
                size=10, symbol="o", pen=None, brush=pg.mkBrush(colours[entry.colour_index])
            )
            self._legend_samples.append(sample)
            self._legend_entries[id(sample)] = entry.colour_index
            self.legend.addItem(sample, entry.label)
            if view.colour_kind == "component":  # the label is clickable too
                _, label = self.legend.items[-1]
                label.mouseClickEvent = (lambda ev, s=sample: self._legend_label_clicked(ev, s))
                label.setToolTip("Click: select this component's rows")
        if view.ellipse_labels:
            sample = pg.PlotDataItem(pen=pg.mkPen(self._fg, width=2))
            self._legend_samples.append(sample)
            self.legend.addItem(sample, "ellipses: " + ", ".join(view.ellipse_labels))
        same_axes = previous is not None and (previous.x_label, previous.y_label) == (
            view.x_label, view.y_label
        )
        had_model = previous is not None and previous.n_ellipses > 0
        if reset_range or not same_axes or (view.n_ellipses > 0 and not had_model):
            self.reset_view()
        self._draw_selected()
        self._draw_flags()
        self._draw_flag_change()
        self._place_legend()
        self.last_set_seconds = time.perf_counter() - started

    def reset_view(self) -> None:
        self.getPlotItem().enableAutoRange()
        self.getPlotItem().autoRange()
        self._place_legend()

    # -- overlays ----------------------------------------------------------------------------

    def _place_legend(self) -> None:
        """Put the legend in the corner of the view with the fewest points under it."""
        view = self.view
        if view is None or view.n_points == 0:
            return
        (x0, x1), (y0, y1) = self.getPlotItem().getViewBox().viewRange()
        fx, fy = (view.x - x0) / ((x1 - x0) or 1.0), (view.y - y0) / ((y1 - y0) or 1.0)
        step = max(1, view.n_points // 50_000)
        fx, fy = fx[::step], fy[::step]
        w, h = 0.4, 0.3  # the share of the view a legend typically covers
        corners = {
            (1, 0): (fx > 1 - w) & (fy > 1 - h),  # top right (y grows upwards)
            (0, 0): (fx < w) & (fy > 1 - h),
            (1, 1): (fx > 1 - w) & (fy < h),
            (0, 1): (fx < w) & (fy < h),
        }
        if self.note_item.isVisible():
            corners.pop((0, 0))  # the note is pinned there
        inside = (fx >= 0) & (fx <= 1) & (fy >= 0) & (fy <= 1)
        best = min(corners, key=lambda k: int((corners[k] & inside).sum()))
        offset = (-10 if best[0] else 10, -10 if best[1] else 10)
        self.legend.anchor(itemPos=best, parentPos=best, offset=offset)
        self.legend_corner = best

    def set_flags(self, flags: np.ndarray | None) -> None:
        self._flags = flags
        self._draw_flags()

    def _draw_flags(self) -> None:
        view, flags = self.view, self._flags
        if (view is None or flags is None or not self.show_flags
                or flags.shape[0] != view.n_points):
            for it in (self.flag_ring, self.flag_core):
                it.setData(np.empty(0), np.empty(0), None, [])
            return
        idx = np.flatnonzero(flags)
        w = point_width(view.n_points)
        x, y = view.x[idx], view.y[idx]
        self.flag_ring.setData(x, y, None, [QColor(FLAG_RING)], width=w + 3.0)
        self.flag_core.setData(x, y, None, [QColor(FLAG_CORE)], width=w + 0.5)

    def _legend_sample_clicked(self, item: Any) -> None:
        item.setVisible(True)  # pyqtgraph toggles the sample's item: keep the swatch drawn
        k = getattr(self, "_legend_entries", {}).get(id(item))
        if k is not None and self.view is not None and self.view.colour_kind == "component":
            self.legendClicked.emit(int(k))

    def _legend_label_clicked(self, ev: Any, sample: Any) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._legend_sample_clicked(sample)

    def set_flag_change(self, old: np.ndarray | None, new: np.ndarray | None) -> None:
        """Refit before/after: ``old``/``new`` flags of the plotted points (``None``: off).

        Rows flagged only by the old model are drawn hollow grey, rows flagged only by the
        new model solid blue (the colours of the old and new ellipses); rows flagged by
        both keep the usual flag marker.
        """
        if old is None or new is None:
            self._flag_change = None
        else:
            old, new = np.asarray(old, bool), np.asarray(new, bool)
            self._flag_change = (old & ~new, new & ~old)
        self._draw_flag_change()

    def _draw_flag_change(self) -> None:
        view = self.view
        change = getattr(self, "_flag_change", None)
        for sample in self._change_samples:
            self.legend.removeItem(sample)
        self._change_samples = []
        items = (self.old_only_ring, self.old_only_core, self.new_only_ring,
                 self.new_only_core)
        if view is None or change is None or change[0].shape[0] != view.n_points:
            for it in items:
                it.setData(np.empty(0), np.empty(0), None, [])
            self._change_counts = None
            return
        w = point_width(view.n_points)
        bg = palette.plot_background()
        old_only, new_only = change
        io, inew = np.flatnonzero(old_only), np.flatnonzero(new_only)
        self.old_only_ring.setData(view.x[io], view.y[io], None, [QColor(OLD_ONLY)],
                                   width=w + 4.0)
        self.old_only_core.setData(view.x[io], view.y[io], None, [QColor(bg)], width=w)
        self.new_only_ring.setData(view.x[inew], view.y[inew], None, [QColor(bg)],
                                   width=w + 4.0)
        self.new_only_core.setData(view.x[inew], view.y[inew], None, [QColor(NEW_ONLY)],
                                   width=w + 2.0)
        self._change_counts = (int(io.size), int(inew.size))
        for text, pen, brush in (
            (f"flagged before the refit only ({io.size:,})", pg.mkPen(OLD_ONLY, width=2.5),
             pg.mkBrush(bg)),
            (f"flagged after the refit only ({inew.size:,})", pg.mkPen(bg, width=1),
             pg.mkBrush(NEW_ONLY)),
        ):
            sample = pg.ScatterPlotItem(size=10, symbol="o", pen=pen, brush=brush)
            self._change_samples.append(sample)
            self.legend.addItem(sample, text)

    def set_selected(self, indices: np.ndarray | None) -> None:
        self._selected = indices
        self._draw_selected()

    def _draw_selected(self) -> None:
        view, idx = self.view, self._selected
        if view is None or idx is None or idx.size == 0 or (idx.size and idx.max()
                                                              >= view.n_points):
            self.selected_item.setData(np.empty(0), np.empty(0), None, [])
            return
        w = point_width(view.n_points)
        self.selected_item.setData(view.x[idx], view.y[idx], None, [QColor(SELECT_HALO)],
                                   width=w + 6.0)

    def set_contour(self, x: np.ndarray, y: np.ndarray) -> None:
        self.contour_item.setData(x, y, connect="finite")
        self.contour_item.setVisible(self.show_contour)

    def set_comparison(self, old: tuple | None, new: tuple | None) -> None:
        """Refit before/after: the old model's ellipses dashed, the new one's solid."""
        for item, xy in ((self.old_ellipses, old), (self.new_ellipses, new)):
            if xy is None:
                item.setData([], [])
            else:
                item.setData(xy[0], xy[1], connect="finite")

    def highlight_component(self, k: int | None) -> None:
        """Thicken the ellipses of component ``k`` (``None``: none)."""
        self._highlight_component = k
        colours = palette.categorical(len(self.ellipse_items))
        for c, curve in enumerate(self.ellipse_items):
            pen = curve.opts["pen"]
            colour = QColor(pen.color()) if pen is not None else colours[c]
            curve.setPen(pg.mkPen(colour, width=4.5 if c == k else 2))

    def focus_point(self, index: int) -> None:
        """Centre the view on plotted point ``index`` and ring it."""
        view = self.view
        if view is None or not 0 <= index < view.n_points:
            self.focus_item.setData([], [])
            return
        x, y = float(view.x[index]), float(view.y[index])
        vb = self.getPlotItem().getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        vb.setRange(xRange=(x - (x1 - x0) / 2, x + (x1 - x0) / 2),
                    yRange=(y - (y1 - y0) / 2, y + (y1 - y0) / 2), padding=0)
        self.focus_item.setData([x], [y])

    def set_tool(self, mode: str) -> None:
        """``pan`` (drag moves the view), ``rect``, ``lasso`` or ``click`` (select)."""
        self.select_box.mode = mode
        self.select_box.setMouseEnabled(True, True)

    def _show_path(self, pts: list[QPointF], mode: str) -> None:
        if mode == "rect":
            a, b = pts[0], pts[-1]
            xs = [a.x(), b.x(), b.x(), a.x(), a.x()]
            ys = [a.y(), a.y(), b.y(), b.y(), a.y()]
        else:
            xs = [p.x() for p in pts] + [pts[0].x()]
            ys = [p.y() for p in pts] + [pts[0].y()]
        self.path_item.setData(xs, ys)

    def _finish_path(self, pts: list[QPointF], mode: str, modifiers: Any) -> None:
        self.path_item.setData([], [])
        view = self.view
        if view is None or len(pts) < 2:
            return
        from gmm_desktop.controller.anomaly_tools import points_in_polygon, points_in_rect

        if mode == "rect":
            a, b = pts[0], pts[-1]
            idx = points_in_rect(view.x, view.y, a.x(), a.y(), b.x(), b.y())
        else:
            idx = points_in_polygon(view.x, view.y, [p.x() for p in pts],
                                    [p.y() for p in pts])
        self.selectionDrawn.emit(idx, selection_mode(modifiers))

    def _click_select(self, x: float, y: float, modifiers: Any) -> None:
        i = self.nearest_point(x, y)
        mode = selection_mode(modifiers)
        if i < 0:
            if mode == "replace":
                self.selectionDrawn.emit(np.empty(0, dtype=np.int64), "replace")
            return
        self.selectionDrawn.emit(np.array([i], dtype=np.int64), mode)

    @property
    def n_ellipse_outlines(self) -> int:
        """Outlines drawn (counted from the NaN separators of the curves)."""
        total = 0
        for curve in self.ellipse_items:
            x, _ = curve.getData()
            total += int(np.isnan(x).sum()) if x is not None else 0
        return total

    # -- hover ------------------------------------------------------------------------------

    def _on_mouse_moved(self, pos: QPointF) -> None:
        self._pending_hover = pos
        if not self._hover_timer.isActive():
            self._hover_timer.start()

    def nearest_point(self, x: float, y: float, radius_px: float = 8.0) -> int:
        """Index of the plotted point nearest ``(x, y)`` within ``radius_px`` pixels, or −1."""
        view = self.view
        if view is None or view.n_points == 0:
            return -1
        vb = self.getPlotItem().getViewBox()
        sx, sy = vb.viewPixelSize()
        if not sx or not sy:
            return -1
        rx, ry = radius_px * sx, radius_px * sy
        px, py = view.x, view.y
        mask = (np.abs(px - x) <= rx) & (np.abs(py - y) <= ry)
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return -1
        d2 = ((px[idx] - x) / sx) ** 2 + ((py[idx] - y) / sy) ** 2
        best = int(np.argmin(d2))
        if d2[best] > radius_px**2:
            return -1
        return int(idx[best])

    def _do_hover(self) -> None:
        pos = self._pending_hover
        if pos is None:
            return
        vb = self.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(pos):
            return
        p = vb.mapSceneToView(pos)
        self.pointHovered.emit(self.nearest_point(p.x(), p.y()))
