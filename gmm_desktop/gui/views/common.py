"""Shared pieces of the mixture views: plot styling, the selecting view box, the encodings
(flagged, selected, inspected), and atomic PNG/SVG export of any view."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPaintEngine, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QWidget

from gmm_desktop.gui import palette

#: The encodings of the views (the legend line of each view names them).
FLAG_RING = "#000000"  # flagged rows: a dark ring around the row's own colour
SELECTED = "#AA3377"  # selected rows: a wine-red halo
INSPECTED = "#D55E00"  # the inspected row: a large vermillion circle
NEUTRAL = palette.NEUTRAL

#: Width in pixels of the points of a small-multiples panel.
POINT_WIDTH = 4.0


def selection_mode(modifiers: Any) -> str:
    """Shift adds to the selection, Ctrl removes, otherwise it is replaced."""
    if modifiers & Qt.KeyboardModifier.ShiftModifier:
        return "add"
    if modifiers & Qt.KeyboardModifier.ControlModifier:
        return "remove"
    return "replace"


def style_plot(item: pg.PlotItem, *, x_label: str = "", y_label: str = "") -> None:
    """Axes in the theme's text colour, no SI prefixes, labels if given."""
    fg = palette.plot_foreground()
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(fg)
        axis.setTextPen(fg)
        axis.enableAutoSIPrefix(False)
    if x_label:
        item.setLabel("bottom", x_label, color=fg.name())
    if y_label:
        item.setLabel("left", y_label, color=fg.name())


def translucent(colour: str | QColor, alpha: int) -> QColor:
    c = QColor(colour)
    c.setAlpha(alpha)
    return c


def legend_html(parts: list[tuple[str, str, str]]) -> str:
    """One line of ``(symbol, colour, text)`` entries: a view's legend."""
    return " &nbsp; ".join(f"<span style='color:{colour}'><b>{symbol}</b></span> "
                           f"{html.escape(text)}" for symbol, colour, text in parts)


#: Round dots pre-drawn per (colour, width, pixel ratio): a panel blits them.
_SPRITES: dict[tuple[int, float, float], QPixmap] = {}


def _sprite(colour: QColor, width: float, ratio: float) -> QPixmap:
    """An antialiased disc of ``width`` pixels in ``colour`` (cached)."""
    key = (colour.rgba(), width, ratio)
    sprite = _SPRITES.get(key)
    if sprite is None:
        side = int(np.ceil(width * ratio)) + 2
        sprite = QPixmap(side, side)
        sprite.fill(Qt.GlobalColor.transparent)
        painter = QPainter(sprite)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        d = width * ratio
        painter.drawEllipse(QRectF((side - d) / 2, (side - d) / 2, d, d))
        painter.end()
        if len(_SPRITES) > 256:  # colours come from a few palettes; never grow unbounded
            _SPRITES.clear()
        _SPRITES[key] = sprite
    return sprite


class Points(pg.GraphicsObject):
    """Points of a small-multiples panel (a few thousand per panel, many panels).

    On screen each colour's points are blitted from one pre-drawn antialiased disc
    (``QPainter.drawPixmapFragments``), at positions mapped to pixels first so that dots
    stay round under any axis scaling: at 5,000 points this took about 1 ms where
    ``drawPoints`` with a round pen took 12–15 ms, and a 4-feature matrix paints 24 sets.
    A vector export (SVG) draws them as vector points instead."""

    def __init__(self) -> None:
        super().__init__()
        self._groups: list[tuple[QColor, np.ndarray, np.ndarray]] = []
        self._n = 0
        self._width = POINT_WIDTH
        self._bounds = QRectF()
        self._fragments: Any = None

    def setData(self, x: np.ndarray, y: np.ndarray, colour_index: np.ndarray | None,
                colours: list[QColor], width: float = POINT_WIDTH) -> None:
        self.prepareGeometryChange()
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        if colour_index is None:
            members = [(colours[0] if colours else QColor(NEUTRAL), np.flatnonzero(ok))]
        else:
            ci = np.asarray(colour_index)
            members = [(colours[c % len(colours)], np.flatnonzero(ok & (ci == c)))
                       for c in np.unique(ci[ok])]
        self._groups = [(QColor(colour), x[idx], y[idx]) for colour, idx in members if idx.size]
        self._xy = (x[ok], y[ok])
        self._n = int(ok.sum())
        self._width = float(width)
        if self._n:
            xs, ys = x[ok], y[ok]
            self._bounds = QRectF(float(xs.min()), float(ys.min()),
                                  max(float(xs.max() - xs.min()), 1e-300),
                                  max(float(ys.max() - ys.min()), 1e-300))
        else:
            self._bounds = QRectF()
        self.update()

    @property
    def n_points(self) -> int:
        return self._n

    def getData(self) -> tuple[np.ndarray, np.ndarray]:
        """The drawn points' coordinates (finite ones), as pyqtgraph items give them."""
        return getattr(self, "_xy", (np.empty(0), np.empty(0)))

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange: Any = None) -> tuple:
        if not self._n:
            return (None, None)
        b = self._bounds
        return (b.left(), b.right()) if ax == 0 else (b.top(), b.bottom())

    def boundingRect(self) -> QRectF:
        if not self._n:
            return QRectF()
        px = self.pixelVectors()
        pad_x = pad_y = 0.0
        if px[0] is not None:
            pad_x, pad_y = abs(px[0].x()) * self._width, abs(px[1].y()) * self._width
        return self._bounds.adjusted(-pad_x, -pad_y, pad_x, pad_y)

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()

    def paint(self, painter: QPainter, option: Any = None, widget: Any = None) -> None:
        if not self._groups:
            return
        t = painter.transform()
        vector = painter.paintEngine().type() in (QPaintEngine.Type.SVG,
                                                  QPaintEngine.Type.Pdf)
        device = painter.device()
        ratio = float(device.devicePixelRatioF()) if device is not None else 1.0
        painter.save()
        painter.resetTransform()
        for colour, x, y in self._groups:
            # to pixels (the transform is affine); kept within what Qt can draw
            px = np.clip(t.m11() * x + t.m21() * y + t.dx(), -2.0 ** 30, 2.0 ** 30)
            py = np.clip(t.m12() * x + t.m22() * y + t.dy(), -2.0 ** 30, 2.0 ** 30)
            if vector:
                self._paint_vector(painter, colour, px, py)
                continue
            sprite = _sprite(colour, self._width, ratio)
            if self._fragments is None:
                from pyqtgraph.Qt import internals

                self._fragments = internals.PrimitiveArray(QPainter.PixmapFragment, 10)
            self._fragments.resize(px.size)
            frag = self._fragments.ndarray()
            frag[:, 0], frag[:, 1] = px, py  # the centre of each dot
            frag[:, 2:6] = (0.0, 0.0, sprite.width(), sprite.height())  # the whole sprite
            frag[:, 6:10] = (1.0 / ratio, 1.0 / ratio, 0.0, 1.0)  # scale, rotation, opacity
            painter.drawPixmapFragments(*self._fragments.drawargs(), sprite)
        painter.restore()

    def _paint_vector(self, painter: QPainter, colour: QColor, px: np.ndarray,
                      py: np.ndarray) -> None:
        """Each point as a filled circle (an SVG engine draws nothing for ``drawPoints``)."""
        path = QPainterPath()
        path.setFillRule(Qt.FillRule.WindingFill)  # overlapping dots stay filled
        r = self._width / 2
        for cx, cy in zip(px.tolist(), py.tolist(), strict=True):
            path.addEllipse(QPointF(cx, cy), r, r)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawPath(path)


class Dots(pg.ScatterPlotItem):
    """A scatter item that leaves clicks to its view box (which picks the nearest row);
    pyqtgraph's own item would take a click on any of its points."""

    def mouseClickEvent(self, ev: Any) -> None:
        ev.ignore()


class SelectBox(pg.ViewBox):
    """A view box for small multiples: a left drag draws a selection rectangle, a click
    picks the nearest point; the view itself does not pan or zoom (every panel shows all
    of its rows)."""

    def __init__(self, on_rect: Callable[[QRectF, str], None],
                 on_click: Callable[[float, float, tuple[float, float], str], None]) -> None:
        super().__init__(enableMenu=False)
        self.setMouseEnabled(False, False)
        self.on_rect, self.on_click = on_rect, on_click
        self.band = QGraphicsRectItem()
        pen = QPen(palette.plot_foreground())
        pen.setCosmetic(True)
        pen.setStyle(Qt.PenStyle.DashLine)
        self.band.setPen(pen)
        self.band.setBrush(translucent(SELECTED, 40))
        self.band.setZValue(50)
        self.band.setVisible(False)
        self.addItem(self.band, ignoreBounds=True)

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        start = self.mapSceneToView(ev.buttonDownScenePos())
        now = self.mapSceneToView(ev.scenePos())
        rect = QRectF(start, now).normalized()
        self.band.setRect(rect)
        self.band.setVisible(not ev.isFinish())
        if ev.isFinish():
            self.on_rect(rect, selection_mode(ev.modifiers()))

    def mouseClickEvent(self, ev: Any) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        px, py = self.viewPixelSize()
        self.on_click(float(p.x()), float(p.y()), (float(px), float(py)),
                      selection_mode(ev.modifiers()))


def nearest(x: np.ndarray, y: np.ndarray, px: float, py: float,
            pixel: tuple[float, float], radius_px: float = 8.0) -> int:
    """Index of the point nearest to ``(px, py)`` within ``radius_px`` pixels, else -1."""
    if x.size == 0:
        return -1
    sx, sy = max(pixel[0], 1e-300), max(pixel[1], 1e-300)
    d2 = ((x - px) / sx) ** 2 + ((y - py) / sy) ** 2
    i = int(np.nanargmin(d2))
    return i if d2[i] <= radius_px**2 else -1


def inside(x: np.ndarray, y: np.ndarray, rect: QRectF) -> np.ndarray:
    return ((x >= rect.left()) & (x <= rect.right()) & (y >= rect.top())
            & (y <= rect.bottom()))


class WrapLabel(QLabel):
    """A word-wrapped label that keeps the height its text needs at its width (a squeezed
    layout would otherwise clip its second line)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        height = self.heightForWidth(max(self.width(), 50)) if self.text() else 0
        if height != self.minimumHeight():
            self.setMinimumHeight(max(height, 0))


def note_label() -> QLabel:
    label = WrapLabel("")
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def export_widget(widget: QWidget, path: str | Path, title: str = "gmm-desktop view") -> Path:
    """Write ``widget`` as it is drawn to ``path``: PNG (pixels) or SVG (vector), chosen by
    the extension, atomically (an existing file is replaced whole or not at all)."""
    from gmm_desktop.fileio import atomic_write

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"{path.name}: export to a .png or .svg file")
    if widget.width() < 2 or widget.height() < 2:
        raise ValueError("the view is not shown: open it (View ▸ Mixture views) first")
    with atomic_write(path) as tmp:
        if suffix == ".svg":
            from PySide6.QtSvg import QSvgGenerator

            gen = QSvgGenerator()
            gen.setFileName(str(tmp))
            gen.setSize(widget.size())
            gen.setViewBox(widget.rect())
            gen.setTitle(title)
            painter = QPainter(gen)
            try:
                widget.render(painter, QPoint(0, 0))
            finally:
                painter.end()
        else:
            image = widget.grab()
            if not image.save(str(tmp), "PNG"):
                raise OSError(f"{path}: the image could not be written")
    return path
