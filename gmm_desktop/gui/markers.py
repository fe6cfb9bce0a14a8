"""Marks drawn over the points: flagged rows, the selection, manual labels, refit changes.

Each mark has its own shape and none uses a component colour (``gui/palette.py``): flags
and labels are drawn in "ink" (black on a light plot, white on a dark one) edged with
"paper" (the opposite), so they show on every component colour and on the background;
the selection is a magenta square frame, the palette's farthest hue from every component
colour. The same sprite is drawn in the plot and in the legend, so the legend is exact.

A :class:`MarkerLayer` draws one pre-rendered sprite per marked point with a single
``QPainter.drawPixmapFragments`` call, straight from numpy (pyqtgraph's
``ScatterPlotItem`` spends seconds per 100,000 points in Python). Thousands of marks in
one spot cost no more than one: beyond :data:`DEDUPLICATE_ABOVE` marks in view, one mark
per block of a few pixels is drawn.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems.LegendItem import ItemSample
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPixmap

from gmm_desktop.gui import palette, raster

#: Above this many marks in view, draw one per ``cell × cell`` block of device pixels.
DEDUPLICATE_ABOVE = 20_000
#: ``sparse`` spacing: a mark-sized block holding at most SPARSE_MOST marked points gets
#: one mark (more show as a patch in the density image), while at most SPARSE_LIMIT do.
SPARSE_MOST = 3
SPARSE_LIMIT = 300

SHAPES = ("ring", "square", "cross", "check", "diamond", "triangle", "disc")


def shape_path(shape: str, size: float) -> QPainterPath:
    """The outline of ``shape`` centred on (0, 0), ``size`` pixels across."""
    r = size / 2.0
    path = QPainterPath()
    if shape in ("ring", "disc"):
        path.addEllipse(QPointF(0, 0), r, r)
    elif shape == "square":
        path.addRect(QRectF(-r, -r, size, size))
    elif shape == "cross":
        path.moveTo(-r, -r)
        path.lineTo(r, r)
        path.moveTo(-r, r)
        path.lineTo(r, -r)
    elif shape == "check":
        path.moveTo(-r, 0.05 * size)
        path.lineTo(-0.15 * size, r)
        path.lineTo(r, -r)
    elif shape == "diamond":
        path.moveTo(0, -r)
        path.lineTo(r, 0)
        path.lineTo(0, r)
        path.lineTo(-r, 0)
        path.closeSubpath()
    elif shape == "triangle":
        h = size * math.sqrt(3) / 2
        path.moveTo(0, -h / 2 - 0.1 * size)
        path.lineTo(r, h / 2 - 0.1 * size)
        path.lineTo(-r, h / 2 - 0.1 * size)
        path.closeSubpath()
    else:
        raise ValueError(f"unknown marker shape {shape!r}; use one of {', '.join(SHAPES)}")
    return path


@dataclass(frozen=True)
class MarkerStyle:
    """How a mark looks: a shape of ``size`` pixels stroked ``stroke`` wide in ``colour``
    over an ``edge`` outline ``edge_width`` wider; ``fill`` fills closed shapes."""

    name: str
    shape: str
    size: float
    colour: str
    edge: str
    stroke: float = 2.0
    edge_width: float = 2.0
    fill: str | None = None

    @property
    def extent(self) -> float:
        """Pixels from the centre to the outermost painted pixel."""
        return self.size / 2.0 + (self.stroke + self.edge_width) / 2.0 + 1.0


def mark_styles(point_px: float = 2.0, dark: bool | None = None) -> dict[str, MarkerStyle]:
    """The marks for points drawn ``point_px`` pixels wide, in the theme's ink and paper."""
    if dark is None:
        dark = palette.is_dark()
    ink, paper = palette.mark_ink(dark), palette.mark_paper(dark)
    ring = max(8.0, point_px + 5.0)
    return {
        "flagged": MarkerStyle("flagged", "ring", ring, ink, paper, 1.6, 1.6),
        "selected": MarkerStyle("selected", "square", ring + 3.0, palette.SELECTION, ink,
                                2.2, 1.4),
        # the selected points themselves, drawn over their component colour
        "selected_fill": MarkerStyle("selected_fill", "disc", point_px + 1.0,
                                     palette.SELECTION, palette.SELECTION, 1.0, 0.0,
                                     fill=palette.SELECTION),
        "outlier": MarkerStyle("outlier", "cross", ring + 1.0, ink, paper, 2.0, 2.0),
        "normal": MarkerStyle("normal", "check", ring + 1.0, ink, paper, 2.0, 2.0),
        "excluded": MarkerStyle("excluded", "diamond", ring + 2.0, ink, paper, 1.6, 1.6),
        "old_only": MarkerStyle("old_only", "ring", ring + 3.0, palette.REFIT_OLD, paper,
                                2.2, 1.4),
        "new_only": MarkerStyle("new_only", "triangle", ring + 1.0, palette.REFIT_NEW, paper,
                                1.2, 1.4, fill=palette.REFIT_NEW),
    }


@lru_cache(maxsize=64)
def sprite(style: MarkerStyle, dpr: float = 1.0) -> QPixmap:
    """The mark rendered once (antialiased) at device-pixel ratio ``dpr``."""
    extent = style.extent
    side = math.ceil(2 * extent * dpr) | 1  # odd: the centre is a pixel's centre
    pixmap = QPixmap(side, side)
    pixmap.setDevicePixelRatio(dpr)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.translate(side / (2 * dpr), side / (2 * dpr))
        path = shape_path(style.shape, style.size)
        cap = Qt.PenCapStyle.RoundCap
        join = Qt.PenJoinStyle.RoundJoin
        edge = QPen(QColor(style.edge), style.stroke + style.edge_width, Qt.PenStyle.SolidLine,
                    cap, join)
        painter.setPen(edge)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        painter.setPen(QPen(QColor(style.colour), style.stroke, Qt.PenStyle.SolidLine, cap,
                            join))
        if style.fill is not None:
            painter.setBrush(QColor(style.fill))
        painter.drawPath(path)
    finally:
        painter.end()
    return pixmap


def pixel_size(item: Any) -> tuple[float, float]:
    """The size of one device pixel in ``item``'s coordinates, ``(|dx|, |dy|)``, cached
    until the view's transform changes (pyqtgraph's ``pixelVectors`` costs about a
    millisecond, and Qt asks for bounding rectangles many times per paint)."""
    cached = getattr(item, "_pixel", None)
    if cached is None:
        px = item.pixelVectors()
        cached = (0.0, 0.0)
        if px[0] is not None:
            cached = (abs(px[0].x()) + abs(px[1].x()), abs(px[0].y()) + abs(px[1].y()))
        item._pixel = cached
    return cached


def _fragments() -> Any:
    """pyqtgraph's contiguous array of ``QPainter.PixmapFragment`` (what its
    ``ScatterPlotItem`` draws with); ``None`` if this pyqtgraph lacks it."""
    try:
        from pyqtgraph.Qt import internals

        return internals.PrimitiveArray(QPainter.PixmapFragment, 10)
    except Exception:  # pragma: no cover - depends on the pyqtgraph version
        return None


class MarkerLayer(pg.GraphicsObject):
    """One sprite per marked point (see the module docstring)."""

    def __init__(self, style: MarkerStyle) -> None:
        super().__init__()
        self.style = style
        self._x = np.empty(0)
        self._y = np.empty(0)
        self._bounds = QRectF()
        self._fragments = _fragments()
        #: Which marks are drawn: ``all`` (one per block of a few pixels beyond
        #: DEDUPLICATE_ABOVE), ``isolated`` (only those with no other mark within a mark's
        #: size: dense groups show otherwise, e.g. by their colour in a density image) or
        #: ``sparse`` (one per mark-sized block holding a few marked points, while at most
        #: SPARSE_LIMIT blocks do, else ``isolated``).
        self.spacing = "all"
        self.last_drawn = 0  # sprites drawn by the last paint
        self.last_paint_seconds = 0.0

    def setData(self, x: np.ndarray, y: np.ndarray) -> None:
        """Mark the points ``(x, y)`` (data coordinates; non-finite ones are skipped)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        keep = np.isfinite(x) & np.isfinite(y)
        if not keep.all():
            x, y = x[keep], y[keep]
        self.prepareGeometryChange()
        self._x, self._y = x, y
        self._bounds = (QRectF(float(x.min()), float(y.min()), float(np.ptp(x)),
                               float(np.ptp(y))) if x.size else QRectF())
        self.update()

    def clear(self) -> None:
        self.setData(np.empty(0), np.empty(0))

    def setStyle(self, style: MarkerStyle) -> None:
        if style != self.style:
            self.style = style
            self.prepareGeometryChange()
            self.update()

    @property
    def n_points(self) -> int:
        """How many points are marked (whether in view or not)."""
        return int(self._x.shape[0])

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange: Any = None) -> tuple:
        return (None, None)  # marks never change the auto-range (their points do)

    def boundingRect(self) -> QRectF:
        if self.n_points == 0:
            return QRectF()
        pad_x, pad_y = pixel_size(self)
        pad_x, pad_y = pad_x * self.style.extent, pad_y * self.style.extent
        return self._bounds.adjusted(-pad_x, -pad_y, pad_x, pad_y)

    def viewTransformChanged(self) -> None:
        self._pixel = None
        self.prepareGeometryChange()

    def paint(self, painter: QPainter, option: Any = None, widget: Any = None) -> None:
        started = time.perf_counter()
        self.last_drawn = 0
        if self.n_points == 0:
            return
        t = painter.transform()
        device = painter.device()
        dpr = float(device.devicePixelRatioF()) if device is not None else 1.0
        px = t.m11() * self._x + t.m21() * self._y + t.dx()
        py = t.m12() * self._x + t.m22() * self._y + t.dy()
        vb = self.getViewBox()
        area = t.mapRect(vb.viewRect()) if vb is not None else QRectF(
            0, 0, device.width() / dpr, device.height() / dpr)
        margin = self.style.extent
        left, top = area.left() - margin, area.top() - margin
        width = math.ceil(area.width() + 2 * margin)
        height = math.ceil(area.height() + 2 * margin)
        with np.errstate(invalid="ignore"):
            in_view = np.flatnonzero((px >= left) & (px < left + width) & (py >= top)
                                     & (py < top + height))
        cell = max(2, math.ceil(self.style.size))
        sparse = None
        if self.spacing == "sparse" and in_view.size:
            sparse = in_view[raster.one_per_cell(px[in_view] - left, py[in_view] - top,
                                                 width, height, cell, most=SPARSE_MOST)]
            if sparse.size <= SPARSE_LIMIT:
                in_view = sparse
        if self.spacing == "isolated" or (sparse is not None and sparse.size > SPARSE_LIMIT):
            if in_view.size:
                in_view = in_view[raster.isolated(px[in_view] - left, py[in_view] - top,
                                                  width, height, cell)]
        elif sparse is None and in_view.size > DEDUPLICATE_ABOVE:
            # crowded: one mark per block of a third of a mark
            small = max(2, round(self.style.size / 3))
            in_view = in_view[raster.one_per_cell(px[in_view] - left, py[in_view] - top,
                                                  width, height, small)]
        if in_view.size == 0:
            return
        pixmap = sprite(self.style, dpr)
        painter.save()
        try:
            painter.resetTransform()
            if self._fragments is not None:
                self._fragments.resize(in_view.size)
                frags = self._fragments.ndarray()
                frags[:, 0] = px[in_view]
                frags[:, 1] = py[in_view]
                frags[:, 2:6] = (0.0, 0.0, pixmap.width(), pixmap.height())
                frags[:, 6:10] = (1.0 / dpr, 1.0 / dpr, 0.0, 1.0)
                painter.drawPixmapFragments(*self._fragments.drawargs(), pixmap)
            else:  # pragma: no cover - older pyqtgraph: one call per mark
                half = pixmap.width() / (2 * dpr)
                for i in in_view:
                    painter.drawPixmap(QPointF(px[i] - half, py[i] - half), pixmap)
        finally:
            painter.restore()
        self.last_drawn = int(in_view.size)
        self.last_paint_seconds = time.perf_counter() - started


class _Dummy:
    """What pyqtgraph's ItemSample expects of an item (never hidden by a click)."""

    opts: ClassVar[dict[str, Any]] = {}

    def isVisible(self) -> bool:
        return True


class MarkerSample(ItemSample):
    """A legend swatch that draws a mark's own sprite (so the legend is exact)."""

    def __init__(self, style: MarkerStyle, centre: QColor | None = None) -> None:
        super().__init__(_Dummy())
        self.style = style
        self.centre = centre  # the colour the rows take in a density image, drawn inside

    def paint(self, painter: QPainter, *args: Any) -> None:
        dpr = 1.0
        device = painter.device()
        if device is not None:
            dpr = float(device.devicePixelRatioF())
        if self.centre is not None:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.centre)
            painter.drawRect(QRectF(8, 8, 4, 4))
        pixmap = sprite(self.style, dpr)
        half = pixmap.width() / (2 * dpr)
        painter.drawPixmap(QPointF(10 - half, 10 - half), pixmap)

    def mouseClickEvent(self, event: Any) -> None:
        event.accept()  # a mark's entry toggles nothing


class ShadeSample(ItemSample):
    """A legend swatch for the density shading: a bar from sparse (translucent) to dense
    (opaque) in the plot's foreground colour."""

    def __init__(self, colour: QColor, min_alpha: float) -> None:
        super().__init__(_Dummy())
        self.colour = QColor(colour)
        self.min_alpha = min_alpha

    def paint(self, painter: QPainter, *args: Any) -> None:
        steps = 5
        for i in range(steps):
            c = QColor(self.colour)
            c.setAlphaF(self.min_alpha + (1 - self.min_alpha) * i / (steps - 1))
            painter.fillRect(QRectF(i * 4, 4, 4, 12), c)

    def mouseClickEvent(self, event: Any) -> None:
        event.accept()
