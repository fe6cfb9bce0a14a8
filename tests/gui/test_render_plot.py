"""The main scatter plot (issue 13): big data drawn by aggregation, shaded by density and
in the legend's colours; flags, selection and labels each with their own mark, in the
legend; the lasso outline kept; the plot getting most of the window; a versioned layout;
screenshots at 1,000,000 rows in /tmp/gmm-shots."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QDockWidget, QLabel, QMainWindow

from gmm_desktop.controller import LegendEntry, ScatterView
from gmm_desktop.gui import markers, palette, raster
from gmm_desktop.gui.main_window import LAYOUT_VERSION, MainWindow
from gmm_desktop.gui.scatter import AGGREGATE_THRESHOLD, SYNC_LIMIT, ScatterPlot

SHOTS = Path("/tmp/gmm-shots")
TIMEOUT = 120_000


def rgb_array(image: QImage) -> np.ndarray:
    """``(h, w, 3)`` uint8 RGB of an image."""
    img = image.convertToFormat(QImage.Format.Format_RGB32)
    arr = np.frombuffer(img.constBits(), dtype=np.uint8)
    arr = arr.reshape(img.height(), img.bytesPerLine() // 4, 4)[:, : img.width()]
    return arr[..., 2::-1].copy()  # BGRA → RGB


def near(arr: np.ndarray, colour: str | QColor, tol: int = 8) -> np.ndarray:
    c = QColor(colour)
    target = np.array([c.red(), c.green(), c.blue()])
    return (np.abs(arr.astype(int) - target) <= tol).all(axis=-1)


def to_pixel(plot: ScatterPlot, x: float, y: float) -> tuple[int, int]:
    """Widget pixel (column, row) of data point ``(x, y)``."""
    vb = plot.getPlotItem().getViewBox()
    p = plot.mapFromScene(vb.mapViewToScene(QPointF(x, y)))
    return int(p.x()), int(p.y())


def make_view(x, y, group, k, **extra) -> ScatterView:
    legend = tuple(LegendEntry(f"component {c + 1}", c) for c in range(k))
    empty = np.empty(0)
    return ScatterView(x=np.asarray(x, float), y=np.asarray(y, float), x_label="x",
                       y_label="y", colour_kind="component",
                       colour_index=np.asarray(group, np.uint8), n_colours=k, legend=legend,
                       ellipse_x=empty, ellipse_y=empty, n_ellipses=0, ellipse_labels=(),
                       means=np.empty((0, 2)), mean_labels=(), **extra)


@pytest.fixture
def plot(qtbot):
    p = ScatterPlot()
    qtbot.addWidget(p)
    p.resize(900, 650)
    p.show()
    qtbot.waitExposed(p)
    return p


def legend_texts(plot: ScatterPlot) -> list[str]:
    return [label.text for _sample, label in plot.legend.items]


# --------------------------------------------------------------------------- aggregation


def test_big_data_is_aggregated_shaded_by_density_in_the_legend_colours(plot):
    """Two groups: a tight dense one and a wide sparse one. The dense core is drawn in
    exactly the legend's colour, the sparse rim in a paler shade of the same colour,
    empty places not at all."""
    rng = np.random.default_rng(0)
    n0, n1 = 200_000, 100_000
    x = np.r_[rng.normal(-4, 0.4, n0), rng.normal(3, 1.5, n1)]
    y = np.r_[rng.normal(0, 0.4, n0), rng.normal(0, 1.5, n1)]
    group = np.r_[np.zeros(n0), np.ones(n1)]
    assert n0 + n1 > AGGREGATE_THRESHOLD
    plot.set_view(make_view(x, y, group, 2))
    assert plot.points.aggregated and plot.points.n_points == n0 + n1
    image = rgb_array(plot.grab().toImage())
    c0, c1 = palette.categorical(2)
    # (the grid is drawn over the points: look at most pixels of a small square)
    col, row = to_pixel(plot, -3.85, 0.15)
    assert near(image[row - 3:row + 4, col - 3:col + 4], c0, 2).mean() > 0.7  # exact, opaque
    # the wide group: its centre is drawn darker (denser) than its rim, same hue
    col, row = to_pixel(plot, 3.15, 0.15)
    centre = np.median(image[row - 3:row + 4, col - 3:col + 4].reshape(-1, 3), axis=0)
    col, row = to_pixel(plot, 3.15, 3.6)  # 2.4 sd out
    rim = image[row - 4:row + 5, col - 4:col + 5].reshape(-1, 3)
    rim = np.median(rim[(rim < 250).any(axis=1)], axis=0)  # drawn pixels only
    np.testing.assert_allclose(centre, (c1.red(), c1.green(), c1.blue()), atol=20)
    assert rim.sum() > centre.sum() + 60  # paler: blended with the white background
    assert rim[2] > rim[0]  # and still the blue of group 2, not a grey or another colour
    # far from both groups the density image is transparent
    r = plot.points._raster
    fcol = int((-4 - r.frame.x0) / (r.frame.x1 - r.frame.x0) * r.frame.width)
    frow = int((r.frame.y1 - 4) / (r.frame.y1 - r.frame.y0) * r.frame.height)
    assert (r.pixels[frow - 3:frow + 4, fcol - 3:fcol + 4] == 0).all()
    assert (r.pixels != 0).mean() < 0.5
    texts = legend_texts(plot)
    assert texts[:2] == ["component 1", "component 2"]
    assert any("rows per pixel" in t for t in texts)


def test_pan_and_zoom_recompute_in_a_worker_with_the_previous_image_meanwhile(plot, qtbot):
    rng = np.random.default_rng(1)
    n = SYNC_LIMIT + 100_000
    x, y = rng.normal(size=n), rng.normal(size=n)
    group = (x > 0).astype(np.uint8)
    plot.set_view(make_view(x, y, group, 2))
    plot.repaint()
    assert plot.points.wait_for_image(30)
    count = plot.points.raster_count
    vb = plot.getPlotItem().getViewBox()
    vb.setRange(xRange=(-1, 1), yRange=(-1, 1), padding=0)
    started = time.perf_counter()
    plot.viewport().repaint()  # paints the old image, moved and scaled, and asks the worker
    took = time.perf_counter() - started
    assert plot.points.pending
    stale = rgb_array(plot.grab().toImage())
    col, row = to_pixel(plot, -0.5, 0.0)
    assert (stale[row - 2:row + 3, col - 2:col + 3] < 240).any()  # not a blank plot
    assert plot.points.wait_for_image(30)
    assert plot.points.raster_count > count  # (once per view size the axes settle on)
    frame = plot.points._raster.frame
    (x0, x1), (y0, y1) = vb.viewRange()
    px_x, px_y = (x1 - x0) / frame.width, (y1 - y0) / frame.height
    assert abs(frame.x0 - x0) <= px_x and abs(frame.x1 - x1) <= px_x
    assert abs(frame.y0 - y0) <= px_y and abs(frame.y1 - y1) <= px_y
    print(f"\nrepaint while the worker aggregates {n:,} points: {1000 * took:.1f} ms; "
          f"aggregation {1000 * plot.points.last_raster_seconds:.0f} ms")
    assert took < 0.1  # the GUI thread only drew the previous image


def test_a_large_export_aggregates_at_a_capped_size(plot, tmp_path, monkeypatch):
    """An export larger than MAX_RASTER_PIXELS is aggregated at that many pixels and
    scaled; the window's own image is left alone."""
    import pyqtgraph.exporters as exporters

    from gmm_desktop.gui import scatter

    rng = np.random.default_rng(5)
    n = 200_000
    x, y = rng.normal(size=n), rng.normal(size=n)
    plot.set_view(make_view(x, y, (x > 0).astype(np.uint8), 2))
    plot.grab()
    on_screen = plot.points._raster
    monkeypatch.setattr(scatter, "MAX_RASTER_PIXELS", 200_000)
    computed = []
    original = plot.points._compute
    monkeypatch.setattr(plot.points, "_compute",
                        lambda *a: computed.append(a[1]) or original(*a))
    exporter = exporters.ImageExporter(plot.getPlotItem())
    exporter.parameters()["width"] = 2400
    path = tmp_path / "big.png"
    exporter.export(str(path))
    frame = computed[-1]
    assert frame.width * frame.height <= 200_000 and frame.width > 300
    image = rgb_array(QImage(str(path)))
    assert image.shape[1] == 2400
    for colour in palette.categorical(2):
        assert near(image, colour, 3).sum() > 1000
    assert plot.points._raster is on_screen


# --------------------------------------------------------------------------- encodings


def test_marks_have_their_own_shapes_and_no_component_colour(qtbot):
    styles = markers.mark_styles(4.0, dark=False)
    sprites = {}
    for name, style in styles.items():
        img = markers.sprite(style, 1.0).toImage().convertToFormat(
            QImage.Format.Format_ARGB32)
        arr = np.frombuffer(img.constBits(), dtype=np.uint8).reshape(
            img.height(), img.bytesPerLine() // 4, 4)[:, : img.width()]
        sprites[name] = arr[..., [2, 1, 0, 3]].copy()  # BGRA → RGBA, owned
    # every mark has its own outline
    names = ["flagged", "selected", "outlier", "normal", "excluded"]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            sa, sb = sprites[a][..., 3] > 128, sprites[b][..., 3] > 128
            if sa.shape == sb.shape:
                assert (sa != sb).sum() > 10, (a, b)
    palette_hex = {c.lower() for c in palette.CATEGORICAL}
    for name in ("flagged", "outlier", "normal", "excluded"):
        style = styles[name]
        assert {style.colour.lower(), style.edge.lower()} == {"#000000", "#ffffff"}
        opaque = sprites[name][sprites[name][..., 3] == 255][:, :3].astype(int)
        assert (opaque.max(axis=1) - opaque.min(axis=1) <= 2).all()  # black, white, greys
    assert styles["selected"].colour.lower() not in palette_hex
    assert palette.SELECTION.lower() not in palette_hex
    dark = markers.mark_styles(4.0, dark=True)["flagged"]
    assert (dark.colour, dark.edge) == ("#FFFFFF", "#000000")  # ink on a dark plot


def test_flags_selection_and_labels_are_drawn_and_in_the_legend(plot):
    rng = np.random.default_rng(2)
    n = 600
    x, y = rng.normal(size=n), rng.normal(size=n)
    group = (x > 0).astype(np.uint8)
    plot.set_view(make_view(x, y, group, 2))
    far = int(np.argmax(x))  # the rightmost point: flagged, and its ring drawn in ink
    flags = np.zeros(n, bool)
    flags[[far, 3, 4]] = True
    plot.set_flags(flags)
    plot.set_selected(np.array([5, 6, 7, 8]))
    plot.set_labels({"outlier": np.array([far]), "normal": np.array([10]),
                     "excluded": np.array([11, 12])})
    texts = legend_texts(plot)
    for expected in ("flagged (3)", "selected (4)", "marked outlier (1)", "marked normal (1)",
                     "excluded (2)"):
        assert expected in texts
    assert plot.flag_core.n_points == 3 and plot.selected_item.n_points == 4
    assert plot.marks["excluded"].n_points == 2
    image = rgb_array(plot.grab().toImage())
    col, row = to_pixel(plot, x[far], y[far])
    assert near(image[row - 8:row + 9, col - 8:col + 9], "#000000", 40).sum() >= 10  # ✕, ○
    col, row = to_pixel(plot, x[3], y[3])  # flagged only: an ink ring around its own colour
    ring = image[row - 8:row + 9, col - 8:col + 9]
    assert near(ring, "#000000", 40).sum() >= 10
    assert near(image[row - 1:row + 2, col - 1:col + 2],
                palette.categorical(2)[int(group[3])], 12).any()
    sel = int(np.flatnonzero(~flags)[0])
    plot.set_selected(np.array([sel]))
    image = rgb_array(plot.grab().toImage())
    col, row = to_pixel(plot, x[sel], y[sel])
    assert near(image[row - 9:row + 10, col - 9:col + 10], palette.SELECTION, 30).sum() >= 8
    # the counts follow, and entries go when their rows do
    plot.set_flags(None)
    plot.set_labels(None)
    texts = legend_texts(plot)
    assert "selected (1)" in texts and not any(t.startswith(("flagged", "marked")) for t in texts)


def test_uncertainty_colouring_at_scale_shows_no_flag_orange(plot):
    """Issue 13: coloured by uncertainty, the big-data plot came out orange with dark
    rings (the old flag marker, component 1's orange). Now flagged rows are ink inside the
    density image and every other drawn pixel is a blend of the legend's viridis colours."""
    rng = np.random.default_rng(3)
    n = 250_000
    x, y = rng.normal(size=n), rng.normal(size=n)
    unc = np.clip(np.abs(x) / 3, 0, 0.999)
    bins = np.minimum((unc * 8).astype(np.uint8), 7)
    legend = tuple(LegendEntry(f"uncertainty bin {b}", b) for b in range(8))
    view = ScatterView(x=x, y=y, x_label="x", y_label="y", colour_kind="uncertainty",
                       colour_index=bins, n_colours=8, legend=legend, ellipse_x=np.empty(0),
                       ellipse_y=np.empty(0), n_ellipses=0, ellipse_labels=(),
                       means=np.empty((0, 2)), mean_labels=())
    plot.set_view(view)
    r2 = x**2 + y**2
    plot.set_flags(r2 > np.quantile(r2, 0.95))
    plot.points.wait_for_image(30)
    image = rgb_array(plot.grab().toImage())
    for orange in ("#E69F00", "#D55E00"):
        assert near(image, orange, 30).sum() == 0
    seq = palette.sequential(8)
    assert [s.opts["brush"].color().name() for s, _ in
            [(sample.item, None) for sample, _l in plot.legend.items[:8]]] == [
        c.name() for c in seq]
    # every pixel holding only flagged rows (beyond r = 2.45 every row is flagged) is ink
    r = plot.points._raster
    f = r.frame
    cols = f.x0 + (np.arange(f.width) + 0.5) * (f.x1 - f.x0) / f.width
    rows = f.y1 - (np.arange(f.height) + 0.5) * (f.y1 - f.y0) / f.height
    radius = np.hypot(cols[None, :], rows[:, None])
    rgba = raster.unpack(r.pixels)
    outer = (radius > 2.45 + 6 * (f.x1 - f.x0) / f.width) & (rgba[..., 3] > 0)
    assert outer.sum() > 500
    assert (rgba[outer][:, :3] == 0).all()
    # the dense core (low uncertainty) is the first legend colour: exactly where densest
    col, row = to_pixel(plot, 0.15, 0.15)
    core = image[row - 3:row + 4, col - 3:col + 4]
    assert near(core, seq[0], 3).mean() > 0.4 and near(core, seq[0], 45).mean() > 0.9


def test_legend_follows_a_change_of_colouring_and_back(plot, qtbot):
    """A new colouring recolours the legend's entries in place (adding entries was most of
    a colouring switch's time at a million rows): the swatches are the drawn colours, the
    texts the new ones, the surplus entries go, and only component labels select rows."""
    rng = np.random.default_rng(5)
    n = 3000
    x, y = rng.normal(size=n), rng.normal(size=n)
    group = rng.integers(0, 3, n)
    components = make_view(x, y, group, 3)
    plot.set_view(components)
    seq = palette.sequential(8)
    bins = rng.integers(0, 8, n).astype(np.uint8)
    legend = tuple(LegendEntry(f"uncertainty bin {b}", b) for b in range(8))
    uncertainty = replace(components, colour_kind="uncertainty", colour_index=bins,
                          n_colours=8, legend=legend)

    def swatches(count):
        return [sample.item.opts["brush"].color().name()
                for sample, _label in plot.legend.items[:count]]

    clicked = []
    plot.legendClicked.connect(clicked.append)
    for view, colours, texts in (
            (uncertainty, [c.name() for c in seq], [e.label for e in legend]),
            (components, [c.name() for c in palette.categorical(3)],
             [f"component {c + 1}" for c in range(3)]),
            (uncertainty, [c.name() for c in seq], [e.label for e in legend])):
        plot.set_view(view)
        assert swatches(len(colours)) == colours
        assert legend_texts(plot)[:len(texts)] == texts
        assert len(plot.legend.items) == len(texts)  # no entry left from the other one
        # the drawn points have the swatches' colours
        if plot.points.pending:
            plot.points.wait_for_image(30)
        image = rgb_array(plot.grab().toImage())
        for colour in set(colours[:3]):
            assert near(image, colour, 2).any(), colour
    # a component's label selects its rows; an uncertainty bin's label does nothing
    plot.set_view(components)
    label = plot.legend.items[1][1]
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=plot.mapFromScene(label.sceneBoundingRect().center()))
    assert clicked == [1]
    plot.set_view(uncertainty)
    label = plot.legend.items[1][1]
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=plot.mapFromScene(label.sceneBoundingRect().center()))
    assert clicked == [1]


def test_lasso_outline_stays_visible_until_the_selection_is_cleared(plot, qtbot):
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=500), rng.normal(size=500)
    plot.set_view(make_view(x, y, np.zeros(500), 1))
    drawn = []
    plot.selectionDrawn.connect(lambda idx, mode: drawn.append((idx, mode)))
    pts = [QPointF(-1, -1), QPointF(1, -1), QPointF(1, 1), QPointF(-1, 1)]
    plot._show_path(pts[:2], "lasso")  # while drawing
    assert plot.path_shown
    plot._finish_path(pts, "lasso", Qt.KeyboardModifier.NoModifier)
    assert plot.path_shown  # and after
    idx, mode = drawn[-1]
    assert mode == "replace" and idx.size == int(((np.abs(x) < 1) & (np.abs(y) < 1)).sum())
    plot.set_selected(idx)
    assert plot.path_shown
    image = rgb_array(plot.grab().toImage())
    col, row = to_pixel(plot, 0.0, 1.0)  # on the top edge of the outline
    assert near(image[row - 2:row + 3, col - 30:col + 30], "#000000", 60).any()
    plot.set_selected(np.empty(0, dtype=np.int64))
    assert not plot.path_shown


def test_marks_in_the_window_on_the_synthetic_demo(qtbot, gmm_state_dir, gmm_settings_dir):
    """Flags, a lasso selection and the three manual labels on real rows of the demo, all
    in the legend with their counts (screenshot render-marks-synthetic.png)."""
    w = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    open_demo_and_fit(qtbot, w)
    c = w.controller
    view = w.plot.view
    # label three rows: the first flagged row an outlier, the next one normal, one excluded
    flagged = np.flatnonzero(c.anomaly.view.flags)
    for label, rows in (("outlier", flagged[:1]), ("normal", flagged[1:2]),
                        ("excluded", np.flatnonzero(~c.anomaly.view.flags)[:1])):
        c.selection.select_indices(rows)
        c.selection.mark_selection(label)
    xs, ys = view.x, view.y
    cx, cy = float(np.median(xs)), float(np.median(ys))
    sx, sy = 0.5 * float(np.std(xs)), 0.5 * float(np.std(ys))
    lasso = [QPointF(cx - sx, cy - sy), QPointF(cx + sx, cy - sy), QPointF(cx + sx, cy + sy),
             QPointF(cx, cy + 1.5 * sy), QPointF(cx - sx, cy + sy)]
    w.plot._finish_path(lasso, "lasso", Qt.KeyboardModifier.NoModifier)
    qtbot.wait(50)
    sel = c.selection.view()
    texts = legend_texts(w.plot)
    n_flagged = c.anomaly.view.n_flagged
    assert f"flagged ({n_flagged:,})" in texts and f"selected ({sel.n_selected:,})" in texts
    for expected in ("marked outlier (1)", "marked normal (1)", "excluded (1)"):
        assert expected in texts
    assert w.plot.marks["outlier"].n_points == 1 and w.plot.path_shown
    SHOTS.mkdir(exist_ok=True)
    assert w.grab().save(str(SHOTS / "render-marks-synthetic.png"))
    c.cancel()
    c.wait(10_000)


# --------------------------------------------------------------------------- layout


def open_demo_and_fit(qtbot, w):
    c = w.controller
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        c.open_demo("synthetic")
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
        c.fit(n_components=5, random_state=0)
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    qtbot.wait(100)


@pytest.mark.parametrize("size", [None, (1366, 768), (1920, 1080)])
def test_the_plot_gets_most_of_the_window(qtbot, gmm_state_dir, gmm_settings_dir, size):
    w = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(w)
    if size is not None:
        w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    open_demo_and_fit(qtbot, w)
    name = "default" if size is None else f"{size[0]}x{size[1]}"
    SHOTS.mkdir(exist_ok=True)
    assert w.grab().save(str(SHOTS / f"render-layout-{name}.png"))
    width_share = w.plot.width() / w.width()
    height_share = w.plot.height() / w.height()
    print(f"\n{name}: window {w.width()}×{w.height()}, plot {w.plot.width()}×"
          f"{w.plot.height()} ({width_share:.0%} × {height_share:.0%})")
    assert width_share >= 0.6 and height_share >= 0.75
    # the panels are tabs of one column on the right, the parameters table under them
    tabbed = set(w.tabifiedDockWidgets(w.model_dock))
    assert {w.dataset_dock, w.sweep_dock, w.anomaly_dock, w.selection_dock} <= tabbed
    for dock in w.findChildren(QDockWidget):
        if dock.isVisible():  # (the mixture views open under the plot when asked for)
            assert w.dockWidgetArea(dock) == Qt.DockWidgetArea.RightDockWidgetArea
    assert w.parameters_dock.width() < 0.45 * w.width()
    assert w.parameters_dock.geometry().top() > w.model_dock.geometry().bottom()
    # long forms scroll instead of widening the column
    assert w.model_dock.width() <= 0.4 * w.width()
    w.controller.cancel()
    w.controller.wait(10_000)


def test_the_saved_layout_is_versioned(qtbot, gmm_state_dir, gmm_settings_dir):
    # a layout of this window's docks is restored
    w = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(w)
    w.show()
    w.resize(780, 700)
    w.sweep_dock.raise_()
    w.parameters_dock.hide()
    qtbot.wait(50)
    w.close()
    again = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(again)
    again.show()
    qtbot.wait(50)
    assert not again.parameters_dock.isVisible()
    assert again.settings.value("windowStateDocks") == again._dock_set()
    again.close()
    # a layout saved by another dock set (an older version of the window) is ignored:
    # the default layout is used, not a broken restore
    other = QMainWindow()
    qtbot.addWidget(other)
    for title, area in (("Dataset", Qt.DockWidgetArea.LeftDockWidgetArea),
                        ("Parameters", Qt.DockWidgetArea.BottomDockWidgetArea)):
        dock = QDockWidget(title, other)
        dock.setObjectName(title + "Dock")
        dock.setWidget(QLabel(title))
        other.addDockWidget(area, dock)
    settings = again.settings
    settings.setValue("windowState", other.saveState())
    settings.remove("windowStateDocks")
    settings.sync()
    fresh = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(fresh)
    fresh.show()
    qtbot.wait(50)
    assert fresh.parameters_dock.isVisible()
    assert fresh.dockWidgetArea(fresh.dataset_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    assert fresh.dockWidgetArea(fresh.parameters_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    # the same dock set saved with another layout version: ignored too
    fresh.parameters_dock.hide()
    settings.setValue("windowState", fresh.saveState(LAYOUT_VERSION - 1))
    settings.setValue("windowStateDocks", fresh._dock_set())
    settings.sync()
    last = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(last)
    last.show()
    qtbot.wait(50)
    assert last.parameters_dock.isVisible()


# --------------------------------------------------------------------------- 1M rows


def test_screenshots_at_a_million_rows(qtbot, gmm_state_dir, gmm_settings_dir, tmp_path):
    """Brief item 5: the aggregated plot at 1,000,000 rows by component and by
    uncertainty, with flags and a lasso selection, saved to /tmp/gmm-shots."""
    n = 1_000_000
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 6, (4, 4))
    truth = rng.integers(0, 4, n)
    X = centres[truth] + rng.normal(size=(n, 4)) * rng.uniform(0.5, 2, (4, 4))[truth]
    path = tmp_path / "million.npy"
    np.save(path, X)
    w = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    c = w.controller

    def settle():
        qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
        QApplication.processEvents()
        w.plot.viewport().repaint()
        assert w.plot.points.wait_for_image(60)
        QApplication.processEvents()

    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        c.open_file(path)
    settle()
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
        c.fit(n_components=4, max_iter=15, random_state=0)
    settle()
    SHOTS.mkdir(exist_ok=True)
    assert w.plot.points.aggregated and w.plot.points.n_points == n
    assert w.plot.flag_core.n_points == round(0.05 * n)
    image = rgb_array(w.grab().toImage())
    assert w.grab().save(str(SHOTS / "render-1M-component.png"))
    # every component's core is drawn in exactly its legend colour
    for k, colour in enumerate(palette.categorical(4)):
        assert near(image, colour, 3).sum() > 200, k
    c.set_view(colour_by="uncertainty")
    settle()
    assert w.grab().save(str(SHOTS / "render-1M-uncertainty.png"))
    image = rgb_array(w.plot.grab().toImage())
    assert near(image, palette.sequential(8)[0], 3).sum() > 1000
    assert near(image, "#E69F00", 30).sum() == 0  # no component-1 orange, no flag orange
    c.set_view(colour_by="component")
    settle()
    view = w.plot.view
    x0, x1 = np.quantile(view.x, [0.35, 0.55])
    y0, y1 = np.quantile(view.y, [0.35, 0.55])
    poly = [QPointF(x0, y0), QPointF(x1, y0), QPointF(x1, y1), QPointF(x0, y1)]
    w.plot._finish_path(poly, "lasso", Qt.KeyboardModifier.NoModifier)
    settle()
    n_sel = c.selection.view().n_selected
    assert n_sel > 1000 and w.plot.selected_item.n_points == n_sel
    assert w.grab().save(str(SHOTS / "render-1M-selection.png"))
    image = rgb_array(w.plot.grab().toImage())
    r, g, b = (image[..., i].astype(int) for i in range(3))
    magenta = (r > 200) & (b > 200) & (g < r - 60)  # the selected rows: magenta, shaded
    assert magenta.sum() > 200
    assert w.plot.path_shown
    # exports draw the density image at their own size, at once (no worker)
    png, svg = tmp_path / "million.png", tmp_path / "million.svg"
    w.export_plot(png, width=1600)
    w.export_plot(svg)
    exported = rgb_array(QImage(str(png)))
    assert exported.shape[1] == 1600
    for colour in palette.categorical(4):
        assert near(exported, colour, 3).sum() > 200
    assert "<image" in svg.read_text()
    c.cancel()
    c.wait(10_000)
