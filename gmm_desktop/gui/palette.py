"""Colours: colour-blind-safe categorical palette, a sequential map, light/dark themes,
and the colours of the marks drawn over the points (flags, selection, labels).

Every encoding is told apart without relying on hue alone: components by colour (a
palette chosen for colour-vision deficiencies), marks by shape and by colours that no
component uses (ink and paper: black and white; the selection: magenta, the hue farthest
from every palette colour under protan, deutan and tritan simulation).
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from gmm_desktop.colours import CATEGORICAL as CATEGORICAL
from gmm_desktop.colours import NEUTRAL as NEUTRAL

# CATEGORICAL (components: Okabe & Ito, then Paul Tol's "muted" set; black and white are
# left out, they are the marks' ink and paper) and NEUTRAL (points with no model yet) are
# gmm_desktop.colours', shared with the HTML report.
#: The selection's frame. Its smallest CIELAB distance to a palette colour is 59 (normal
#: vision), 36 (protan), 16 (deutan), 32 (tritan) under Machado et al. (2009) simulation;
#: of the saturated hues tried (red, lime, cyan, pink, yellow) it is the farthest.
SELECTION = "#FF00FF"
#: Refit comparison: rows flagged only by the old model (the old ellipses' grey) and only
#: by the new one (the new ellipses' blue).
REFIT_OLD = "#7F7F7F"
REFIT_NEW = "#0072B2"

#: Viridis is cut before its last fifth: its yellow end is unreadable on white.
SEQUENTIAL_END = 0.85


def categorical(n: int) -> list[QColor]:
    """``n`` colours for components (the palette repeats past its length)."""
    return [QColor(CATEGORICAL[i % len(CATEGORICAL)]) for i in range(n)]


def sequential(n: int) -> list[QColor]:
    """``n`` colours of the viridis map (perceptually uniform, colour-blind safe)."""
    import pyqtgraph as pg

    cmap = pg.colormap.get("viridis")
    if n <= 1:
        return [cmap.map(0.0, mode="qcolor")]
    return [cmap.map(SEQUENTIAL_END * i / (n - 1), mode="qcolor") for i in range(n)]


def is_dark() -> bool:
    app = QApplication.instance()
    if app is None:
        return False
    window = app.palette().color(QPalette.ColorRole.Window)
    return window.lightness() < 128


def mark_ink(dark: bool | None = None) -> str:
    """The colour of flag and label marks: black on a light plot, white on a dark one."""
    return "#FFFFFF" if (is_dark() if dark is None else dark) else "#000000"


def mark_paper(dark: bool | None = None) -> str:
    """The edge around the ink, so that a mark shows on any colour: the opposite."""
    return "#000000" if (is_dark() if dark is None else dark) else "#FFFFFF"


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
