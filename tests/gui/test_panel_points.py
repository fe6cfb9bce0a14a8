"""The small-multiples points: each row's dot is drawn where its values are, in its own
colour, on screen (blitted sprites) and in an SVG export (vector points)."""

from __future__ import annotations

import re

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QVBoxLayout, QWidget

from gmm_desktop.gui.views.common import Points, export_widget

COLOURS = [QColor("#0072B2"), QColor("#E69F00"), QColor("#009E73")]


def _panel(qtbot, x, y, ci, width=8.0):
    glw = pg.GraphicsLayoutWidget()
    glw.setBackground("w")
    glw.resize(320, 240)
    plot = glw.addPlot()
    points = Points()
    plot.addItem(points)
    points.setData(x, y, ci, COLOURS, width=width)
    plot.setXRange(0, 10, padding=0)
    plot.setYRange(0, 5, padding=0)  # not the same scale as x: the dots stay round
    qtbot.addWidget(glw)
    glw.show()
    qtbot.waitExposed(glw)
    qtbot.wait(50)
    return glw, plot, points


def _pixel_of(glw, plot, x, y):
    scene = plot.getViewBox().mapViewToScene(QPointF(x, y))
    p = glw.mapFromScene(scene)
    return p.x(), p.y()


def test_each_dot_is_drawn_at_its_values_in_its_colour(qtbot):
    x = np.array([2.0, 5.0, 8.0, np.nan])
    y = np.array([1.0, 4.0, 2.5, 3.0])
    glw, plot, points = _panel(qtbot, x, y, np.array([0, 1, 2, 0]))
    assert points.n_points == 3  # the NaN row is not drawn
    image = glw.grab().toImage()
    for xi, yi, colour in zip(x[:3], y[:3], COLOURS, strict=True):
        px, py = _pixel_of(glw, plot, xi, yi)
        assert QColor(image.pixel(px, py)).name() == colour.name()
        # round: 2 px from the centre is inside in every direction, 7 px is outside
        for dx, dy in ((2, 0), (-2, 0), (0, 2), (0, -2)):
            assert QColor(image.pixel(px + dx, py + dy)).name() == colour.name()
        for dx, dy in ((7, 0), (0, 7), (5, 5)):
            assert QColor(image.pixel(px + dx, py + dy)).name() == "#ffffff"
    # nowhere else: the number of coloured pixels is about three discs of 8 px
    arr = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1, 4)
    coloured = 0
    for colour in COLOURS:
        b, g, r = colour.blue(), colour.green(), colour.red()
        coloured += int(np.count_nonzero((arr[..., 0] == b) & (arr[..., 1] == g)
                                         & (arr[..., 2] == r)))
    assert 3 * 16 < coloured < 3 * 64


def test_svg_export_draws_every_point_as_a_vector_circle(qtbot, tmp_path):
    rng = np.random.default_rng(0)
    x, y, groups = rng.uniform(1, 9, 40), rng.uniform(1, 4, 40), rng.integers(0, 3, 40)
    glw, _plot, _points = _panel(qtbot, x, y, groups)
    figure = QWidget()  # as a view's figure: the plot inside a widget
    QVBoxLayout(figure).addWidget(glw)
    qtbot.addWidget(figure)
    figure.resize(340, 260)
    figure.show()
    qtbot.waitExposed(figure)
    text = export_widget(figure, tmp_path / "panel.svg").read_text()
    # every point a vector circle in its colour (the SVG engine draws nothing for
    # QPainter.drawPoints: before, the matrix's SVG export had no points at all)
    for c, colour in enumerate(COLOURS):
        blocks = re.findall(rf'<g fill="{colour.name()}"[^>]*>\s*<path[^>]*d="([^"]*)"',
                            text, flags=re.IGNORECASE)
        circles = sum(block.count("Z") for block in blocks)
        assert circles == int(np.count_nonzero(groups == c)), colour.name()
