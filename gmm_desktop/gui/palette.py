"""Colours: colour-blind-safe categorical palette, a sequential map, light/dark themes."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

#: Okabe & Ito (2008), then Paul Tol's "muted" set: distinguishable with colour-vision
#: deficiencies. Black is left out (it is the mean marker and the light theme's text).
CATEGORICAL = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#332288",
    "#DDCC77",
    "#117733",
    "#88CCEE",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
)

#: Points with no model yet.
NEUTRAL = "#7F7F7F"


def categorical(n: int) -> list[QColor]:
    """``n`` colours for components (the palette repeats past its length)."""
    return [QColor(CATEGORICAL[i % len(CATEGORICAL)]) for i in range(n)]


def sequential(n: int) -> list[QColor]:
    """``n`` colours of the viridis map (perceptually uniform, colour-blind safe)."""
    import pyqtgraph as pg

    cmap = pg.colormap.get("viridis")
    if n <= 1:
        return [cmap.map(0.0, mode="qcolor")]
    return [cmap.map(i / (n - 1), mode="qcolor") for i in range(n)]


def is_dark() -> bool:
    app = QApplication.instance()
    if app is None:
        return False
    window = app.palette().color(QPalette.ColorRole.Window)
    return window.lightness() < 128


def plot_background() -> QColor:
    app = QApplication.instance()
    if app is None:
        return QColor("white")
    return app.palette().color(QPalette.ColorRole.Base)


def plot_foreground() -> QColor:
    app = QApplication.instance()
    if app is None:
        return QColor("black")
    return app.palette().color(QPalette.ColorRole.Text)
