"""The scatter plot: points (markers or, for big data, an aggregated density image),
component ellipses, means, marks for flags/selection/labels, legend, hover.

pyqtgraph's ``ScatterPlotItem`` spends seconds per million points in a per-point Python
loop, so the points are drawn by :class:`FastScatterItem`. Up to
:data:`AGGREGATE_THRESHOLD` points, the points of each colour are packed once into a
``QPolygonF`` straight from numpy and painted with one ``QPainter.drawPoints`` call per
colour (a round cosmetic pen whose width shrinks as the number of points grows). Beyond
it, the points are aggregated per screen pixel (:mod:`gmm_desktop.gui.raster`: counts
shaded by density, colour groups blended by their share), recomputed for every view range
and size: in the GUI thread up to :data:`SYNC_LIMIT` points, else in a worker thread while
the previous image, moved and scaled to the new view, stands in. Marks (flags, selection,
labels) are sprites (:mod:`gmm_desktop.gui.markers`); ellipses, means and the legend are
small.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
import pyqtgraph.functions as fn
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QApplication, QWidget

from gmm_desktop.controller import ScatterView
from gmm_desktop.gui import palette, raster
from gmm_desktop.gui.markers import MarkerLayer, MarkerSample, ShadeSample, mark_styles
from gmm_desktop.gui.markers import pixel_size as _pixel_size
from gmm_desktop.gui.views.common import selection_mode

log = logging.getLogger("gmm_desktop.gui")

#: Above this many points, they are aggregated per pixel instead of drawn one by one.
AGGREGATE_THRESHOLD = 150_000
RASTER_THRESHOLD = AGGREGATE_THRESHOLD  # the name before issue 13
#: Up to this many points, a pan or zoom re-aggregates in the GUI thread (a few tens of
#: ms); beyond, in a worker thread.
SYNC_LIMIT = 400_000
#: Milliseconds between a new view and the start of its aggregation in the worker.
WORKER_DELAY_MS = 25
#: The largest density image (pixels): an export at a higher resolution is aggregated at
#: this size and scaled (4 planes of float64 per pixel are needed meanwhile: 128 MB).
MAX_RASTER_PIXELS = 4_000_000


def point_width(n: int) -> float:
    """Pen width in device-independent pixels for ``n`` points."""
    if n <= 5_000:
        return 6.0
    if n <= 50_000:
        return 4.0
    if n <= AGGREGATE_THRESHOLD:
        return 3.0
    return 2.0


def _translucent(colour: QColor, alpha: int = 200) -> QColor:
    out = QColor(colour)
    out.setAlpha(alpha)
    return out


@dataclass(frozen=True, eq=False)
class _Raster:
    """An aggregated image and what it was computed for."""

    generation: int
    frame: raster.Frame
    dpr: float
    pixels: np.ndarray  # (h, w) uint32 premultiplied ARGB (kept alive for the QImage)
    image: QImage
    seconds: float


class FastScatterItem(pg.GraphicsObject):
    """All points: markers (one ``drawPoints`` call per colour) or an aggregated image."""

    _rasterReady = Signal(object)  # a _Raster computed by the worker thread

    def __init__(self) -> None:
        super().__init__()
        self._groups: list[tuple[QColor, Any, int]] = []  # colour, QPolygonF or None, count
        self._last_points: tuple[Any, ...] | None = None  # x, y and what was checked of them
        self._n = 0
        self._bounds = QRectF()
        self._xr = (0.0, 1.0)
        self._yr = (0.0, 1.0)
        self._width = 4.0
        self.last_paint_seconds = 0.0
        self.paint_count = 0
        # aggregated mode
        self.aggregated = False
        self.shading = "eq_hist"
        self.min_alpha = raster.MIN_ALPHA
        self._x = self._y = np.empty(0)
        self._group: np.ndarray | None = None
        self._rgb = np.zeros((1, 3))
        self._weights: tuple[int, np.ndarray | None] | None = None  # each point's RGB
        self._colour_generation = 0  # of the points' colours (groups, palette, emphasis)
        self._generation = 0  # of the picture: points, colours or emphasis changed
        self._points_generation = 0  # of the points' positions only
        self._index: tuple[int, raster.Frame, np.ndarray] | None = None  # pixel of each point
        self._raster: _Raster | None = None
        self._wanted: tuple[int, raster.Frame, float] | None = None
        self._busy = False
        self._flagged: np.ndarray | None = None  # aggregated mode: rows drawn in ink
        self._chosen: np.ndarray | None = None  # and rows drawn in the selection colour
        self._emphasis_rgb = np.zeros((0, 3))
        self.raster_count = 0  # aggregated images computed (for tests and benchmarks)
        self.last_raster_seconds = 0.0
        self._rasterReady.connect(self._adopt_raster, Qt.ConnectionType.QueuedConnection)
        self._start_timer = QTimer()
        self._start_timer.setSingleShot(True)
        self._start_timer.setInterval(WORKER_DELAY_MS)
        self._start_timer.timeout.connect(self._start_worker)

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
        n = int(x.shape[0])
        # (a million rows: every pass counts. The checks of the same arrays as last time
        # (a new colouring of the same points) are reused, and the common all-finite case
        # is checked without building a mask)
        last = self._last_points
        if last is not None and last[0] is x and last[1] is y:
            all_finite, finite, xr, yr = last[2:]
        else:
            all_finite = bool(np.isfinite(x).all() and np.isfinite(y).all())
            finite = np.ones(n, dtype=bool) if all_finite else np.isfinite(x) & np.isfinite(y)
            xr = yr = (0.0, 1.0)
            if n and (all_finite or finite.any()):
                xf, yf = (x, y) if all_finite else (x[finite], y[finite])
                xr = (float(xf.min()), float(xf.max()))
                yr = (float(yf.min()), float(yf.max()))
            self._last_points = (x, y, all_finite, finite, xr, yr)
        if colour_index is None or not colours:
            palette_ = [colours[0] if colours else QColor(palette.NEUTRAL)]
            counts = np.array([int(finite.sum())])
            ci = None
        else:
            ci = np.asarray(colour_index)
            palette_ = list(colours)
            counts = np.bincount(ci[finite] if not all_finite else ci,
                                 minlength=len(colours))
        self._n = n
        self._width = point_width(n) if width is None else float(width)
        aggregated = n > AGGREGATE_THRESHOLD
        if aggregated:
            same_points = (self.aggregated and self._x.shape == x.shape
                           and ((last is not None and last[0] is x and last[1] is y)
                                or (_same_sample(self._x, x) and _same_sample(self._y, y))))
            self._x = x if all_finite else raster.finite_or_outside(np.where(finite, x, np.nan))
            self._y = y if all_finite else raster.finite_or_outside(np.where(finite, y, np.nan))
            rgb = np.array([[c.red(), c.green(), c.blue()] for c in palette_], float)
            if not (self.aggregated and _same_array(ci, self._group)
                    and np.array_equal(rgb, self._rgb)):
                self._colour_generation += 1  # (new axes keep the colours of the points)
            self._group = None if ci is None else ci
            self._rgb = rgb
            self._generation += 1
            if not same_points:  # the old picture would mislead even for a moment
                self._raster = None
                self._points_generation += 1
                self._index = None
            self._groups = [(palette_[c], None, int(counts[c]))
                            for c in np.argsort(-counts, kind="stable") if counts[c]]
        else:
            self._x = self._y = np.empty(0)
            self._raster = None
            self._groups = self._point_groups(x, y, ci, palette_, finite, all_finite, counts)
        self.aggregated = aggregated
        self._xr, self._yr = xr, yr
        w = max(self._xr[1] - self._xr[0], 1e-300)
        h = max(self._yr[1] - self._yr[0], 1e-300)
        self._bounds = QRectF(self._xr[0], self._yr[0], w, h)
        self.update()

    def set_emphasis(self, flagged: np.ndarray | None, selected: np.ndarray | None,
                     flag_colour: QColor, selection_colour: QColor) -> None:
        """Aggregated mode: draw the ``flagged`` rows (a bool mask) in ``flag_colour``
        instead of their group's colour, blended by their share in each pixel like any
        group (a ring per row would bury the picture under 50,000 marks), and every pixel
        holding one of the ``selected`` rows (positions) in ``selection_colour``."""
        if flagged is not None and (flagged.shape[0] != self._n or not flagged.any()):
            flagged = None
        if selected is not None:
            selected = np.asarray(selected)
            selected = selected[(selected >= 0) & (selected < self._n)]
            if selected.size == 0:
                selected = None
        rgb = np.array([[c.red(), c.green(), c.blue()]
                        for c in (flag_colour, selection_colour)], float)
        same_flags = (_same_array(flagged, self._flagged)
                      and np.array_equal(rgb, self._emphasis_rgb))
        same_selection = _same_array(selected, self._chosen)
        self._flagged, self._chosen, self._emphasis_rgb = flagged, selected, rgb
        if (same_flags and same_selection) or not self.aggregated:
            return
        self._generation += 1  # the picture changes, the points stay where they are
        if not same_flags:
            self._colour_generation += 1  # (a new selection keeps every point's colour)
        self.update()

    def _display_groups(self) -> tuple[np.ndarray | None, np.ndarray]:
        """Every point's colour group and the colours, flagged rows in the flag colour
        (blended by their share in the pixel: dense flagged regions show dark)."""
        group, rgb = self._group, self._rgb
        if self._flagged is None:
            return group, rgb
        n_base = rgb.shape[0]
        dtype = np.uint8 if n_base + 1 <= 255 else np.int32
        out = np.zeros(self._n, dtype=dtype) if group is None else group.astype(dtype)
        out[self._flagged] = n_base
        return out, np.vstack([rgb, self._emphasis_rgb[:1]])

    @staticmethod
    def _point_groups(x: np.ndarray, y: np.ndarray, ci: np.ndarray | None,
                      colours: list[QColor], finite: np.ndarray, all_finite: bool,
                      counts: np.ndarray) -> list[tuple[QColor, Any, int]]:
        if ci is None:
            members: list[np.ndarray | None] = [None if all_finite else np.flatnonzero(finite)]
            order_colours = [colours[0]]
        else:
            order = np.argsort(ci, kind="stable")
            starts = np.concatenate([[0], np.cumsum(np.bincount(ci, minlength=len(colours)))])
            members, order_colours = [], []
            # largest group first, so that small components are drawn on top
            for c in np.argsort(-counts, kind="stable"):
                idx = order[starts[c]: starts[c + 1]]
                idx = idx if all_finite else idx[finite[idx]]
                if idx.size:
                    members.append(idx)
                    order_colours.append(colours[c % len(colours)])
        groups = []
        for idx, colour in zip(members, order_colours, strict=True):
            px = x if idx is None else x[idx]
            py = y if idx is None else y[idx]
            if px.shape[0] == 0:
                continue
            poly = fn.create_qpolygonf(px.shape[0])
            buf = fn.ndarray_from_qpolygonf(poly)
            buf[:, 0] = px
            buf[:, 1] = py
            groups.append((colour, poly, int(px.shape[0])))
        return groups

    @property
    def n_points(self) -> int:
        return sum(g[2] for g in self._groups)

    @property
    def n_colours(self) -> int:
        return len(self._groups)

    def group_colours(self) -> list[QColor]:
        return [g[0] for g in self._groups]

    @property
    def point_px(self) -> float:
        """How wide a point is drawn, in pixels (aggregated: a spread pixel)."""
        return 3.0 if self.aggregated else self._width

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
        pad_x, pad_y = _pixel_size(self)
        pad_x, pad_y = pad_x * self._width, pad_y * self._width
        return self._bounds.adjusted(-pad_x, -pad_y, pad_x, pad_y)

    def viewTransformChanged(self) -> None:
        self._pixel = None
        self.prepareGeometryChange()

    def paint(self, painter: QPainter, option: Any = None, widget: Any = None) -> None:
        started = time.perf_counter()
        if self.aggregated:
            self._paint_aggregated(painter, widget)
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

    # -- aggregated mode -----------------------------------------------------------------

    def _frame_for(self, painter: QPainter) -> tuple[raster.Frame, QRectF, float] | None:
        """The visible data rectangle snapped to whole device pixels, that rectangle on
        the device (logical pixels) and the device-pixel ratio."""
        vb = self.getViewBox()
        device = painter.device()
        if vb is None or device is None:
            return None
        dpr = float(device.devicePixelRatioF())
        t = painter.transform()
        inverse, ok = t.inverted()
        if not ok:
            return None
        area = t.mapRect(vb.viewRect())
        left, top = np.floor(area.left() * dpr), np.floor(area.top() * dpr)
        right, bottom = np.ceil(area.right() * dpr), np.ceil(area.bottom() * dpr)
        width, height = int(right - left), int(bottom - top)
        if width < 1 or height < 1:
            return None
        target = QRectF(left / dpr, top / dpr, width / dpr, height / dpr)
        data = inverse.mapRect(target)
        if width * height > MAX_RASTER_PIXELS:  # a big export: aggregate coarser, scale up
            shrink = (MAX_RASTER_PIXELS / (width * height)) ** 0.5
            width, height = max(1, int(width * shrink)), max(1, int(height * shrink))
        try:
            frame = raster.Frame(data.left(), data.right(), data.top(), data.bottom(),
                                 width, height)
        except ValueError:
            return None
        return frame, target, dpr

    def _compute(self, generation: int, frame: raster.Frame, dpr: float) -> _Raster:
        """Aggregate and shade (any thread: reads only arrays that are never written)."""
        started = time.perf_counter()
        # (the generations are read before the data: a cache entry is never newer than
        # its key, at worst it is never used again)
        points, colours = self._points_generation, self._colour_generation
        x, y = self._x, self._y
        group, rgb = self._display_groups()
        cached = self._weights
        if cached is not None and cached[0] == colours:
            weights = cached[1]
        else:
            weights = raster.point_colours(group, rgb)
            self._weights = (colours, weights)
        cached_index = self._index
        if cached_index is not None and cached_index[:2] == (points, frame):
            index = cached_index[2]
        else:
            index = frame.padded_index(x, y)
            self._index = (points, frame, index)
        agg = raster.aggregate(x, y, group, rgb, frame, weights=weights, index=index)
        chosen, highlight = self._chosen, None
        if chosen is not None:  # a pixel holding a selected row is the selection's colour
            highlight = (raster.pixels_of(index[chosen], frame),
                         tuple(float(v) for v in self._emphasis_rgb[1]))
        pixels = raster.shade(agg, how=self.shading, min_alpha=self.min_alpha,
                              highlight=highlight)
        image = QImage(pixels.data, frame.width, frame.height, 4 * frame.width,
                       QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(dpr)
        return _Raster(generation, frame, dpr, pixels, image, time.perf_counter() - started)

    def _paint_aggregated(self, painter: QPainter, widget: Any) -> None:
        found = self._frame_for(painter)
        if found is None:
            return
        frame, target, dpr = found
        current = self._raster
        exact = (current is not None and current.generation == self._generation
                 and current.frame == frame and current.dpr == dpr)
        if not exact:
            on_screen = widget is not None
            if not on_screen or self._n <= SYNC_LIMIT:
                current = self._compute(self._generation, frame, dpr)
                self.last_raster_seconds = current.seconds
                self.raster_count += 1
                if on_screen:
                    self._raster = current
                exact = True
            else:  # the previous image (if any) stands in while the worker computes
                self._request(self._generation, frame, dpr)
        if current is None:
            return
        painter.save()
        try:
            if exact:
                painter.resetTransform()
                painter.drawImage(target, current.image)
            else:
                old = current.frame
                rect = QRectF(old.x0, old.y0, old.x1 - old.x0, old.y1 - old.y0)
                device_rect = painter.transform().mapRect(rect)
                painter.resetTransform()
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
                painter.drawImage(device_rect, current.image)
        finally:
            painter.restore()

    def _request(self, generation: int, frame: raster.Frame, dpr: float) -> None:
        """Ask for the image of this view. The worker starts a moment later: a new view
        is followed by a burst of repaints (axes, legend, ranges) that would otherwise
        compete with it for the CPU and the GIL, and a pan's many views become one."""
        self._wanted = (generation, frame, dpr)
        if not self._busy and not self._start_timer.isActive():
            self._start_timer.start()

    def _start_worker(self) -> None:
        wanted, self._wanted = self._wanted, None
        if wanted is None or self._busy:
            return
        self._busy = True

        def work() -> None:
            _lower_priority()
            try:
                result: Any = self._compute(*wanted)
            except Exception:  # never let a worker die silently
                if wanted[0] == self._generation:  # (a stale request may meet new data)
                    log.exception("aggregating the points failed")
                result = None
            try:
                self._rasterReady.emit(result)
            except RuntimeError:  # the item was deleted meanwhile
                pass

        threading.Thread(target=work, name="gmm-raster", daemon=True).start()

    @Slot(object)
    def _adopt_raster(self, result: _Raster | None) -> None:
        self._busy = False
        if result is not None and result.generation == self._generation:
            self._raster = result
            self.last_raster_seconds = result.seconds
            self.raster_count += 1
            self.update()
        if self._wanted is not None:
            self._start_timer.start()

    @property
    def pending(self) -> bool:
        """An aggregated image is being computed or waits to be."""
        return self._busy or self._wanted is not None

    def wait_for_image(self, timeout: float = 10.0) -> bool:
        """Process events until no aggregated image is pending (tests, benchmarks)."""
        app = QApplication.instance()
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if app is not None:
                app.processEvents()
            if not self.pending:
                return True
            time.sleep(0.002)
        return False


class GridLines(pg.GraphicsObject):
    """Grid lines at the axes' ticks, in opaque colours blended with the background
    beforehand (pyqtgraph's own grid draws translucent lines from each axis and was half
    of the plot's repaint time: 30 of 59 ms measured)."""

    #: Opacity of the grid at the major and the minor ticks (as pyqtgraph's alpha=0.15).
    STRENGTH = (0.22, 0.09)

    def __init__(self, plot_item: Any) -> None:
        super().__init__()
        self._plot_item = plot_item
        self.setZValue(-100)

    def boundingRect(self) -> QRectF:
        vb = self.getViewBox()
        return vb.viewRect() if vb is not None else QRectF()

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange: Any = None) -> tuple:
        return (None, None)

    def paint(self, painter: QPainter, option: Any = None, widget: Any = None) -> None:
        vb = self.getViewBox()
        if vb is None:
            return
        t = painter.transform()
        area = t.mapRect(vb.viewRect())
        (x0, x1), (y0, y1) = vb.viewRange()
        bg, fg = palette.plot_background(), palette.plot_foreground()
        levels: list[list[Any]] = [[], []]
        for name, lo, hi, size in (("bottom", x0, x1, area.width()),
                                   ("left", y0, y1, area.height())):
            axis = self._plot_item.getAxis(name)
            try:
                ticks = axis.tickValues(lo, hi, size)
            except Exception:  # a degenerate range: no grid
                continue
            seen: set[float] = set()
            for level, (_spacing, values) in enumerate(ticks[:2]):
                for v in values:
                    if v in seen:
                        continue
                    seen.add(v)
                    if name == "bottom":
                        px = t.map(QPointF(v, y0)).x()
                        levels[level].append(QLineF(px, area.top(), px, area.bottom()))
                    else:
                        py = t.map(QPointF(x0, v)).y()
                        levels[level].append(QLineF(area.left(), py, area.right(), py))
        painter.save()
        try:
            painter.resetTransform()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            for lines, strength in zip(levels, self.STRENGTH, strict=True):
                if not lines:
                    continue
                colour = QColor(
                    round(bg.red() + strength * (fg.red() - bg.red())),
                    round(bg.green() + strength * (fg.green() - bg.green())),
                    round(bg.blue() + strength * (fg.blue() - bg.blue())))
                painter.setPen(QPen(colour, 0))
                painter.drawLines(lines)
        finally:
            painter.restore()


def _lower_priority() -> None:
    """Give the calling (worker) thread a lower scheduling priority than the GUI thread:
    on a busy machine the event loop then keeps its core (Linux: per-thread niceness)."""
    try:
        import os

        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not allowed: no matter
        pass


def _z(item: Any, z: float) -> Any:
    item.setZValue(z)
    return item


def _same_array(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a is b or (a.shape == b.shape and bool(np.array_equal(a, b)))


def _same_sample(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two coordinate arrays agree on a sample of their entries (a colour change
    keeps the points where they are; new axes move them)."""
    if a.shape != b.shape:
        return False
    step = max(1, a.shape[0] // 1000)
    return bool(np.array_equal(a[::step], b[::step], equal_nan=True))


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


#: The mark layers, bottom to top, and their legend texts ("{n}" is the row count).
MARKS = (
    ("selected", "selected ({n:,})"),
    ("flagged", "flagged ({n:,})"),
    ("excluded", "excluded ({n:,})"),
    ("normal", "marked normal ({n:,})"),
    ("outlier", "marked outlier ({n:,})"),
    ("old_only", "flagged before the refit only ({n:,})"),
    ("new_only", "flagged after the refit only ({n:,})"),
)
LABEL_MARKS = ("outlier", "normal", "excluded")
#: Aggregated mode: flagged and selected rows take these colours in the density image;
#: their rings and frames are drawn only around rows with no other marked row near them.
EMPHASIS = {"flagged": palette.mark_ink, "selected": lambda: palette.SELECTION}


class ScatterPlot(pg.PlotWidget):
    """The main plot: points, component ellipses, means with labels, marks, legend, hover."""

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
        self.grid = GridLines(item)
        self.addItem(self.grid, ignoreBounds=True)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(fg)
            axis.setTextPen(fg)
        self.points = FastScatterItem()
        self.addItem(self.points)
        self.ellipse_items: list[pg.PlotCurveItem] = []
        self.halo_items: list[pg.PlotCurveItem] = []
        self.mean_item = pg.ScatterPlotItem(size=17, symbol="+", pxMode=True)
        self.mean_item.setZValue(20)
        self.addItem(self.mean_item)
        self.mean_labels: list[pg.TextItem] = []
        self.legend = item.addLegend(offset=(-10, 10), labelTextColor=fg,
                                     brush=pg.mkBrush(_translucent(palette.plot_background())))
        self.legend.setZValue(30)
        self.legend.sigSampleClicked.connect(self._legend_sample_clicked)
        self._legend_keys: list[str] = []
        self._legend_labels: dict[str, tuple[Any, Any]] = {}  # key: (handle, label)
        self._legend_entries: dict[int, int] = {}
        self._legend_held = False
        self.view: ScatterView | None = None
        self.hover_text = ""
        self._pending_hover: QPointF | None = None
        self._hover_timer = QTimer(self)
        self._hover_timer.setSingleShot(True)
        self._hover_timer.setInterval(30)
        self._hover_timer.timeout.connect(self._do_hover)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.last_set_seconds = 0.0
        # marks over the points (gui/markers.py): one layer each, in the MARKS order
        styles = mark_styles(self.points.point_px)
        self.marks: dict[str, MarkerLayer] = {}
        for z, (name, _text) in enumerate(MARKS):
            layer = MarkerLayer(styles[name])
            layer.setZValue(5 + 0.1 * z)
            self.addItem(layer)
            self.marks[name] = layer
        # marker mode: the selected points in the selection colour (aggregated mode draws
        # them so inside the density image); their frames are drawn only where isolated
        self.selected_fill = MarkerLayer(styles["selected_fill"])
        self.selected_fill.setZValue(4.5)
        self.addItem(self.selected_fill)
        self.marks["selected"].spacing = "isolated"
        # the names of the layers before issue 13 (tests and the main window use them)
        self.selected_item = self.marks["selected"]
        self.flag_ring = self.flag_core = self.marks["flagged"]
        self.old_only_ring = self.old_only_core = self.marks["old_only"]
        self.new_only_ring = self.new_only_core = self.marks["new_only"]
        self._change_counts: tuple[int, int] | None = None
        self.contour_item = pg.PlotCurveItem(
            connect="finite", pen=pg.mkPen(fg, width=2, style=Qt.PenStyle.DashLine))
        self.contour_item.setZValue(13)
        self.addItem(self.contour_item)
        self.old_ellipses = pg.PlotCurveItem(
            connect="finite", pen=pg.mkPen(palette.REFIT_OLD, width=2,
                                           style=Qt.PenStyle.DashLine))
        self.new_ellipses = pg.PlotCurveItem(connect="finite",
                                             pen=pg.mkPen(palette.REFIT_NEW, width=2.5))
        self.old_ellipses.setZValue(14)
        self.new_ellipses.setZValue(14)
        self.addItem(self.old_ellipses)
        self.addItem(self.new_ellipses)
        # the lasso/rectangle: ink dashes over a paper halo, kept after the mouse is released
        self.path_halo = pg.PlotCurveItem(pen=pg.mkPen(palette.mark_paper(), width=4.5))
        self.path_halo.setZValue(39)
        self.addItem(self.path_halo)
        self.path_item = pg.PlotCurveItem(pen=pg.mkPen(palette.mark_ink(), width=2,
                                                       style=Qt.PenStyle.DashLine))
        self.path_item.setZValue(40)
        self.addItem(self.path_item)
        self.focus_item = pg.ScatterPlotItem(size=26, symbol="o", brush=None,
                                             pen=pg.mkPen(palette.SELECTION, width=3))
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
        self._flag_cache: tuple[Any, np.ndarray, np.ndarray] | None = None
        self._selected: np.ndarray | None = None
        self._labelled: dict[str, np.ndarray] = {}
        self._flag_change: tuple[np.ndarray, np.ndarray] | None = None
        self._highlight_component: int | None = None
        self.legend_corner: tuple[int, int] = (1, 0)

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
        note = getattr(view, "note", "") if view is not None else ""
        self.note_item.setText(note)
        self.note_item.setVisible(bool(note))
        if view is None:
            self._set_outlines(0, 0, None)
            self.points.setData(np.empty(0), np.empty(0), None, [])
            self.mean_item.setData([], [])
            self._clear_path()
            for layer in self.marks.values():
                layer.clear()
            self.selected_fill.clear()
            self._rebuild_legend()
            self.last_set_seconds = time.perf_counter() - started
            return
        colours = self.colours_for(view)
        self.points.setData(view.x, view.y, view.colour_index, colours)
        styles = mark_styles(self.points.point_px)
        for name, layer in self.marks.items():
            layer.setStyle(styles[name])
        self.selected_fill.setStyle(styles["selected_fill"])
        item.setLabel("bottom", view.x_label, color=self._fg.name())
        item.setLabel("left", view.y_label, color=self._fg.name())
        k = len(view.mean_labels)
        self._set_outlines(k if view.ellipse_x.size else 0, k, view)
        if k:
            self.mean_item.setData(
                x=view.means[:, 0], y=view.means[:, 1],
                pen=pg.mkPen(palette.mark_paper(), width=1.5),
                brush=pg.mkBrush(palette.mark_ink()), symbol="+", size=17,
            )
        else:
            self.mean_item.setData([], [])
        same_axes = previous is not None and (previous.x_label, previous.y_label) == (
            view.x_label, view.y_label
        )
        if not same_axes:
            self._clear_path()  # a lasso drawn on other axes means nothing here
        had_model = previous is not None and previous.n_ellipses > 0
        if reset_range or not same_axes or (view.n_ellipses > 0 and not had_model):
            self.reset_view()
        self._legend_held = True  # one legend rebuild, after every layer is set
        try:
            self._draw_selected()
            self._draw_flags()
            self._draw_labels()
            self._draw_flag_change()
        finally:
            self._legend_held = False
        self._rebuild_legend()
        self._place_legend()
        self.last_set_seconds = time.perf_counter() - started

    def _pool(self, items: list[Any], n: int, make: Any) -> None:
        """Keep ``n`` plot items in ``items``: reuse those there (creating and adding
        plot items costs more than setting their data), add or remove the difference."""
        while len(items) > n:
            self.removeItem(items.pop())
        while len(items) < n:
            item = make()
            self.addItem(item)
            items.append(item)

    def _set_outlines(self, n_outlines: int, n_means: int, view: ScatterView | None) -> None:
        """The components' ellipses (one curve per component over one shared halo) and
        the numbers at their means."""
        bg = palette.plot_background()
        self._pool(self.halo_items, 1 if n_outlines else 0, lambda: _z(pg.PlotCurveItem(
            # the background's colour under the antialiased lines: smoothing it would
            # cost paint time and show nothing
            connect="finite", antialias=False), 10))
        self._pool(self.ellipse_items, n_outlines,
                   lambda: _z(pg.PlotCurveItem(connect="finite", antialias=True), 11))
        self._pool(self.mean_labels, n_means, lambda: _z(pg.TextItem(
            "", color=self._fg, anchor=(-0.3, 1.1),
            fill=pg.mkBrush(QColor(bg.red(), bg.green(), bg.blue(), 190))), 21))
        if view is None:
            return
        if n_outlines:
            self.halo_items[0].setData(view.ellipse_x, view.ellipse_y, connect="finite",
                                       pen=pg.mkPen(bg, width=4.5))
            per = view.ellipse_x.size // n_outlines
            colours = palette.categorical(n_outlines)
            for c, curve in enumerate(self.ellipse_items):
                sl = slice(c * per, (c + 1) * per)
                line = QColor(colours[c]) if view.colour_kind == "component" else \
                    QColor(self._fg)
                line = line.darker(130) if not palette.is_dark() else line.lighter(115)
                curve.setData(view.ellipse_x[sl], view.ellipse_y[sl], connect="finite",
                              pen=pg.mkPen(line, width=2))
        for c, text in enumerate(self.mean_labels):
            text.setText(view.mean_labels[c])
            text.setPos(float(view.means[c, 0]), float(view.means[c, 1]))

    def reset_view(self) -> None:
        self.getPlotItem().enableAutoRange()
        self.getPlotItem().autoRange()
        self._place_legend()

    # -- legend --------------------------------------------------------------------------

    def _legend_wanted(self) -> list[tuple[str, str]]:
        """``(key, text)`` of every entry the legend should show now, in order: colours,
        ellipses, shading, then every mark that has rows. The key says everything the
        entry's swatch shows (its text may change under the same key)."""
        view = self.view
        out: list[tuple[str, str]] = []
        if view is None:
            return out
        colours = self.colours_for(view)
        out += [(f"colour:{e.colour_index}:{view.colour_kind}:"
                 f"{colours[e.colour_index].name()}", e.label) for e in view.legend]
        if view.ellipse_labels:
            out.append(("ellipses", "ellipses: " + ", ".join(view.ellipse_labels)))
        aggregated = self.points.aggregated
        if aggregated:
            out.append(("shade", "rows per pixel (shade)"))
        for name, text in MARKS:
            n = self.marks[name].n_points
            if n:
                out.append((f"mark:{name}:{aggregated}:{self.marks[name].style}",
                            text.format(n=n)))
        return out

    def _legend_sample(self, key: str) -> tuple[Any, Any]:
        """The swatch of entry ``key`` and what pyqtgraph's ``removeItem`` knows it by."""
        kind, _, rest = key.partition(":")
        if kind == "colour":
            index, _, rest = rest.partition(":")
            colour = QColor(rest.partition(":")[2])
            sample: Any = pg.ScatterPlotItem(size=10, symbol="o", pen=None,
                                             brush=pg.mkBrush(colour))
            self._legend_entries[id(sample)] = int(index)
            return sample, sample
        if kind == "ellipses":
            sample = pg.PlotDataItem(pen=pg.mkPen(self._fg, width=2))
            return sample, sample
        if kind == "shade":
            sample = ShadeSample(self._fg, self.points.min_alpha)
            return sample, sample.item
        name = rest.partition(":")[0]
        centre = None
        if name == "selected" or (self.points.aggregated and name in EMPHASIS):
            centre = QColor(EMPHASIS[name]())
        sample = MarkerSample(self.marks[name].style, centre)
        return sample, sample.item

    def _rebuild_legend(self) -> None:
        """Bring the legend up to date: entries whose swatch is unchanged keep their place
        and only update their text; from the first changed entry on, the entries are
        removed and added again (marks come and go at the end: the colours stay)."""
        if self._legend_held:
            return
        wanted = self._legend_wanted()
        keys = [k for k, _ in wanted]
        old = self._legend_keys
        keep = 0
        while keep < min(len(keys), len(old)) and keys[keep] == old[keep]:
            keep += 1
        for key, text in wanted[:keep]:
            label = self._legend_labels[key][1]
            if label.text != text:
                label.setText(text)
        view = self.view
        # colour entries whose colour (or kind) changed are recoloured in place: adding
        # legend entries cost 3-4 ms each (8 uncertainty bins: 30 ms in the GUI thread)
        again = keep
        while (again < min(len(keys), len(old)) and keys[again].startswith("colour:")
               and old[again].startswith("colour:")):
            handle, label = self._legend_labels.pop(old[again])
            index, _, rest = keys[again].removeprefix("colour:").partition(":")
            handle.setBrush(pg.mkBrush(QColor(rest.partition(":")[2])))
            self._legend_entries[id(handle)] = int(index)
            label.setText(wanted[again][1])
            self._clickable(label, handle, view)
            self._legend_labels[keys[again]] = (handle, label)
            again += 1
        if again > keep:
            self.legend.update()
        for key in old[again:]:
            handle, _label = self._legend_labels.pop(key)
            self.legend.removeItem(handle)
            self._legend_entries.pop(id(handle), None)
        for key, text in wanted[again:]:
            sample, handle = self._legend_sample(key)
            self.legend.addItem(sample, text)
            _, label = self.legend.items[-1]
            self._legend_labels[key] = (handle, label)
            if key.startswith("colour:"):
                self._clickable(label, sample, view)
        self.legend.setColumnCount(2 if len(wanted) > 9 else 1)
        self._legend_keys = keys

    def _clickable(self, label: Any, sample: Any, view: ScatterView | None) -> None:
        """A component's legend label selects its rows when clicked (other colourings'
        labels do nothing)."""
        if view is not None and view.colour_kind == "component":
            label.mouseClickEvent = (lambda ev, s=sample: self._legend_label_clicked(ev, s))
            label.setToolTip("Click: select this component's rows")
        else:
            label.__dict__.pop("mouseClickEvent", None)
            label.setToolTip("")

    def _place_legend(self) -> None:
        """Put the legend in the corner of the view with the fewest points under it."""
        view = self.view
        if view is None or view.n_points == 0:
            return
        (x0, x1), (y0, y1) = self.getPlotItem().getViewBox().viewRange()
        step = max(1, view.n_points // 20_000)
        fx = (view.x[::step] - x0) / ((x1 - x0) or 1.0)
        fy = (view.y[::step] - y0) / ((y1 - y0) or 1.0)
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

    def _legend_sample_clicked(self, item: Any) -> None:
        if hasattr(item, "setVisible"):
            item.setVisible(True)  # pyqtgraph toggles the sample's item: keep it drawn
        k = self._legend_entries.get(id(item))
        if k is not None and self.view is not None and self.view.colour_kind == "component":
            self.legendClicked.emit(int(k))

    def _legend_label_clicked(self, ev: Any, sample: Any) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._legend_sample_clicked(sample)

    # -- marks ---------------------------------------------------------------------------

    def _mark(self, name: str, indices: np.ndarray | None) -> None:
        """Mark the plotted points at ``indices`` with layer ``name`` (``None``: none)."""
        view, layer = self.view, self.marks[name]
        if view is None or indices is None or indices.size == 0:
            layer.clear()
            return
        idx = np.asarray(indices)
        idx = idx[(idx >= 0) & (idx < view.n_points)]
        layer.setData(view.x[idx], view.y[idx])

    def _update_emphasis(self) -> None:
        """Aggregated mode: flagged and selected rows are drawn in the marks' colours inside
        the density image; their marks show only when few are in view."""
        aggregated = self.points.aggregated
        self.marks["flagged"].spacing = "isolated" if aggregated else "all"
        # (the selected points: marker mode fills them, so frames only where isolated;
        # the density image colours their pixels, so frames around scattered ones)
        self.marks["selected"].spacing = "sparse" if aggregated else "isolated"
        if not aggregated:
            return
        view, flags = self.view, self._flags
        if view is None or flags is None or not self.show_flags or flags.shape[0] != view.n_points:
            flags = None
        self.points.set_emphasis(flags, self._selected, QColor(palette.mark_ink()),
                                 QColor(palette.SELECTION))

    def set_flags(self, flags: np.ndarray | None) -> None:
        self._flags = flags
        self._draw_flags()

    def _draw_flags(self) -> None:
        view, flags = self.view, self._flags
        if (view is None or flags is None or not self.show_flags
                or flags.shape[0] != view.n_points):
            self._mark("flagged", None)
        else:
            self._mark("flagged", self._flag_positions(flags))
        self._update_emphasis()
        self._rebuild_legend()

    def _flag_positions(self, flags: np.ndarray) -> np.ndarray:
        """``np.flatnonzero(flags)``, reused while the same read-only buffer comes back
        (the controller's views of the run's flags: each wraps the same memory)."""
        if flags.flags.writeable:  # someone may change it in place: no reuse
            return np.flatnonzero(flags)
        pointer = (flags.__array_interface__["data"][0], flags.shape, flags.strides)
        cached = self._flag_cache
        if cached is not None and cached[0] == pointer:
            return cached[2]
        idx = np.flatnonzero(flags)
        self._flag_cache = (pointer, flags, idx)  # (the array is kept: its memory is too)
        return idx

    def set_selected(self, indices: np.ndarray | None) -> None:
        self._selected = indices
        if indices is None or indices.size == 0:
            self._clear_path()
        self._draw_selected()
        self._rebuild_legend()

    def _draw_selected(self) -> None:
        self._mark("selected", self._selected)
        view, idx = self.view, self._selected
        if self.points.aggregated or view is None or idx is None or idx.size == 0:
            self.selected_fill.clear()
        else:
            idx = idx[(idx >= 0) & (idx < view.n_points)]
            self.selected_fill.setData(view.x[idx], view.y[idx])
        self._update_emphasis()

    def set_labels(self, labelled: dict[str, np.ndarray] | None) -> None:
        """Manual labels: positions of the plotted points marked ``outlier``, ``normal``
        and ``excluded``."""
        self._labelled = dict(labelled or {})
        self._draw_labels()
        self._rebuild_legend()

    def _draw_labels(self) -> None:
        for name in LABEL_MARKS:
            self._mark(name, self._labelled.get(name))

    def set_flag_change(self, old: np.ndarray | None, new: np.ndarray | None) -> None:
        """Refit before/after: ``old``/``new`` flags of the plotted points (``None``: off).

        Rows flagged only by the old model get a grey ring, rows flagged only by the new
        model a blue triangle (the colours of the old and new ellipses); rows flagged by
        both keep the usual flag mark.
        """
        if old is None or new is None:
            self._flag_change = None
        else:
            old, new = np.asarray(old, bool), np.asarray(new, bool)
            self._flag_change = (old & ~new, new & ~old)
        self._draw_flag_change()
        self._rebuild_legend()

    def _draw_flag_change(self) -> None:
        view, change = self.view, self._flag_change
        if view is None or change is None or change[0].shape[0] != view.n_points:
            self._mark("old_only", None)
            self._mark("new_only", None)
            self._change_counts = None
            return
        io, inew = np.flatnonzero(change[0]), np.flatnonzero(change[1])
        self._mark("old_only", io)
        self._mark("new_only", inew)
        self._change_counts = (int(io.size), int(inew.size))

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

    # -- selection tools -----------------------------------------------------------------

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
        self.path_halo.setData(xs, ys)
        self.path_item.setData(xs, ys)

    def _clear_path(self) -> None:
        self.path_halo.setData([], [])
        self.path_item.setData([], [])

    @property
    def path_shown(self) -> bool:
        """Whether a lasso or rectangle outline is drawn."""
        x, _ = self.path_item.getData()
        return x is not None and len(x) > 0

    def _finish_path(self, pts: list[QPointF], mode: str, modifiers: Any) -> None:
        """The drawn outline selects the points inside it; the outline stays until the
        selection is cleared, another outline is drawn or the axes change."""
        view = self.view
        if view is None or len(pts) < 2:
            self._clear_path()
            return
        from gmm_desktop.controller.anomaly_tools import points_in_polygon, points_in_rect

        self._show_path(pts, mode)
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
        self._clear_path()
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
