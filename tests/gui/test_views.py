"""More views of a mixture in the real window (issue 13): the scatter matrix with linked
selection, the marginals, the χ² Q–Q plot, the uncertainty view, the row inspection that
explains a flagged row lying inside every drawn ellipse (wine, 13 features), PNG/SVG
exports, and big-data mode (the views use the plotted sample and say so)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage
from scipy import stats
from sklearn.datasets import load_wine

TIMEOUT = 60_000
SHOTS = Path("/tmp/gmm-shots")


def idle(qtbot, w):
    qtbot.waitUntil(lambda: not w.controller.is_busy(), timeout=TIMEOUT)
    qtbot.wait(30)


def shot(widget, name):
    from PySide6.QtTest import QTest

    SHOTS.mkdir(exist_ok=True)
    QTest.qWait(150)  # let the layout settle before the picture
    assert widget.grab().save(str(SHOTS / f"issue-13-views-{name}.png"))


def open_and_fit(qtbot, w, path, k=3):
    with qtbot.waitSignal(w.controller.featuresChanged, timeout=TIMEOUT):
        w.open_path(path)
    idle(qtbot, w)
    w.model_panel.n_components.setValue(k)
    w.model_panel.auto_k.setChecked(False)
    w.model_panel.seed.setValue(0)
    panel = w.model_panel  # K full components fitted by EM (what these views are checked on)
    panel.method.setCurrentIndex(panel.method.findData("plain"))
    panel.covariance.setCurrentIndex(panel.covariance.findData("full"))
    with qtbot.waitSignal(w.controller.fitFinished, timeout=TIMEOUT):
        w.model_panel.fit()
    idle(qtbot, w)


def float_views(qtbot, w, tab):
    views = w.show_mixture_views(tab)
    w.mixture_dock.setFloating(True)
    w.mixture_dock.resize(1300, 950)
    qtbot.waitUntil(lambda: views.isVisible() and views.current() == tab, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: views.is_ready(tab), timeout=TIMEOUT)
    qtbot.wait(50)
    return views


def drag(qtbot, widget, start: QPoint, end: QPoint, modifier=Qt.KeyboardModifier.NoModifier):
    """A left-button drag on ``widget``'s viewport, as a mouse does."""
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    target = widget.viewport()

    def send(kind, pos, buttons):
        ev = QMouseEvent(kind, QPointF(pos), target.mapToGlobal(QPointF(pos)),
                         Qt.MouseButton.LeftButton, buttons, modifier)
        QApplication.sendEvent(target, ev)

    send(QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
    steps = 8
    for i in range(1, steps + 1):
        p = start + (end - start) * i / steps
        send(QEvent.Type.MouseMove, p, Qt.MouseButton.LeftButton)
        qtbot.wait(5)
    send(QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)
    qtbot.wait(20)


def widget_pos(glw, vb, x, y) -> QPoint:
    scene = vb.mapViewToScene(QPointF(x, y))
    p = glw.mapFromScene(scene)
    return QPoint(p.x(), p.y())


@pytest.fixture
def wine_csv(tmp_path):
    frame = load_wine(as_frame=True).frame.drop(columns=["target"])
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_scatter_matrix_linked_selection_and_inspection(qtbot, window, wine_csv, tmp_path):
    path, frame = wine_csv
    w = window
    c = w.controller
    open_and_fit(qtbot, w, path)
    views = float_views(qtbot, w, "matrix")
    m = views.matrix
    view = m.view
    assert view is not None and len(view.columns) == 5
    assert view.columns[:2] == tuple(frame.columns[:2])  # the main plot's axes first
    assert len(m.panels) == 10 and len(m.diagonal) == 5  # lower triangle + diagonal
    flags = np.asarray(c.anomaly.view.flags)
    for panel in m.panels.values():
        assert panel.points.n_points == len(frame)
        assert panel.ring.n_points == flags.sum() == 9
        assert len(panel.ellipses) == 3  # one outline curve per component (3 radii each)
    shot(views, "01-matrix")

    # a rectangle drawn in the (alcohol, malic_acid) panel selects every row inside it
    panel = m.panels[(1, 0)]
    vb = panel.item.getViewBox()
    box = (12.0, 13.5, 1.0, 2.5)  # alcohol range, malic_acid range
    start = widget_pos(m.glw, vb, box[0], box[3])
    end = widget_pos(m.glw, vb, box[1], box[2])
    drag(qtbot, m.glw, start, end)
    x0, x1 = sorted(vb.mapSceneToView(m.glw.mapToScene(p)).x() for p in (start, end))
    y0, y1 = sorted(vb.mapSceneToView(m.glw.mapToScene(p)).y() for p in (start, end))
    a, b = frame["alcohol"].to_numpy(), frame["malic_acid"].to_numpy()
    expect = np.flatnonzero((a >= x0) & (a <= x1) & (b >= y0) & (b <= y1))
    assert expect.size > 10
    sel = c.selection.view()
    assert sorted(sel.indices.tolist()) == expect.tolist()
    # linked: the main plot and every other panel show the same rows
    assert w.plot.selected_item.n_points == expect.size
    for other in m.panels.values():
        assert other.halo.n_points == expect.size
    shot(views, "02-matrix-selection")

    # the flagged row of wine that lies inside every drawn 3-sd ellipse: choose all 13
    # features, inspect it, and read why it is flagged
    m.choose(list(frame.columns))
    qtbot.waitUntil(lambda: m.view is not None and len(m.view.columns) == 10, timeout=TIMEOUT)
    # (ten features at most in the matrix; the list agrees; the inspection uses all 13)
    assert len(m.chosen_columns()) == 10
    m.features.item(12).setCheckState(Qt.CheckState.Checked)  # an 11th is refused
    assert len(m.chosen_columns()) == 10
    ins_rows = []
    for pos in np.flatnonzero(flags):
        ins = c.mixture.inspect(int(pos), tuple(frame.columns))
        if ins.inside_all:
            ins_rows.append(int(pos))
    assert ins_rows, "a flagged wine row inside every 3-sd ellipse"
    pos = ins_rows[0]
    w.anomaly_dock.raise_()
    row = next(r for r in range(w.anomaly_panel.flagged.rowCount())
               if int(w.anomaly_panel.flagged.item(r, 0).data(Qt.ItemDataRole.UserRole)) == pos)
    w.anomaly_panel.flagged.cellClicked.emit(row, 0)  # the flagged table, as a user clicks
    assert views.inspected == pos
    text = m.inspection_label.text()
    assert "flagged" in text and "Mahalanobis distance" in text
    assert "inside every drawn 3-sd ellipse" in text
    ins = m.inspection
    assert ins.d2 > stats.chi2.ppf(0.975, 13)
    for panel in m.panels.values():
        xs, _ys = panel.marker.getData()
        assert len(xs) == 1
        assert float(panel.label.toPlainText().split()[0]) <= 3.0
    shot(views, "03-matrix-inspected-wine")
    # "Where is it far?": the features that add most to its distance
    m.worst_button.click()
    far = {n for n, _c in ins.contributions[:4]}
    qtbot.waitUntil(lambda: set(m.view.columns) == far, timeout=TIMEOUT)
    shot(views, "04-matrix-where-far")

    # every view exports to PNG and SVG, atomically
    for tab in ("matrix", "marginals", "qq", "uncertainty"):
        views = float_views(qtbot, w, tab)
        png = views.export(tmp_path / f"{tab}.png")
        image = QImage(str(png))
        assert image.width() > 400 and image.height() > 200
        svg = views.export(tmp_path / f"{tab}.svg")
        assert "<svg" in svg.read_text()[:3000]
        shot(views, f"05-{tab}")
    # an existing file is replaced whole; a bad name is refused with the reason
    again = views.export(tmp_path / "matrix.png")
    assert QImage(str(again)).width() > 400
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        views.export(tmp_path / "view.jpg")
    assert not list(tmp_path.glob(".*.tmp*"))


def test_qq_and_uncertainty_views_select_rows(qtbot, window, wine_csv):
    path, frame = wine_csv
    w = window
    c = w.controller
    open_and_fit(qtbot, w, path)
    views = float_views(qtbot, w, "qq")
    qq = views.qq
    view = qq.view
    assert view.dof == 13 and len(view.components) == 3
    assert qq.which.count() == 4
    # the drawn points are the view's: χ² quantiles against D²
    item = qq.scatter[0]
    xs, _ys = item.getData()
    np.testing.assert_allclose(xs, view.components[0].theoretical)
    n = view.components[0].n_rows
    np.testing.assert_allclose(xs, stats.chi2.ppf((np.arange(n) + 0.5) / n, 13))
    assert "component 1:" in qq.summary.text() and "2.5 % expected" in qq.summary.text()
    # click the largest distance of component 1: its row is selected and inspected
    comp = view.components[0]
    vb = qq.plot.getPlotItem().getViewBox()
    scene = vb.mapViewToScene(QPointF(float(comp.theoretical[-1]), float(comp.observed[-1])))
    p = qq.plot.mapFromScene(scene)
    qtbot.mouseClick(qq.plot.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(p.x(), p.y()))
    assert c.selection.view().indices.tolist() == [int(comp.positions[-1])]
    assert views.inspected == int(comp.positions[-1])
    # one component only
    qq.which.setCurrentIndex(2)
    assert set(qq.scatter) == {1}
    shot(views, "06-qq-one-component")

    views = float_views(qtbot, w, "uncertainty")
    u = views.uncertainty
    assert u.table.rowCount() == min(200, len(frame))
    top = u.view.ranked[0]
    u.table.cellClicked.emit(0, 0)
    assert c.selection.view().indices.tolist() == [top[0]]
    assert u.table.selectionModel().isRowSelected(0)
    assert "mean uncertainty" in u.summary.text()


def test_views_follow_the_threshold_and_stay_lazy(qtbot, window, blobs_csv):
    w = window
    c = w.controller
    open_and_fit(qtbot, w, blobs_csv)
    views = w.mixture_views
    assert not views.is_shown()
    built = []
    orig = c.mixture.request
    c.mixture.request = lambda kind, *a, **k: built.append(kind) or orig(kind, *a, **k)
    w.anomaly_panel.drag_to(float(np.quantile(c.run.scored.scores.log_density, 0.1)))
    qtbot.wait(300)
    assert built == []  # a hidden view costs nothing
    w.mixture_action.trigger()  # View ▸ Mixture views (Ctrl+M): docked, built once shown
    qtbot.waitUntil(lambda: views.is_shown() and views.is_ready("matrix"), timeout=TIMEOUT)
    assert built == ["matrix"]  # built in a worker once shown
    views.window_button.click()  # "Open in a window": the dock floats, with room
    assert w.mixture_dock.isFloating() and w.mixture_dock.width() >= 900
    views = float_views(qtbot, w, "matrix")
    assert built == ["matrix"]
    n = c.anomaly.view.n_flagged
    assert n == 60
    assert all(p.ring.n_points == n for p in views.matrix.panels.values())
    for q in (0.02, 0.03, 0.04):  # a burst of threshold moves: drawn once after it
        w.anomaly_panel.drag_to(float(np.quantile(c.run.scored.scores.log_density, q)))
    qtbot.waitUntil(lambda: views.is_ready("matrix"), timeout=TIMEOUT)
    qtbot.wait(200)
    assert built == ["matrix", "matrix"]
    assert all(p.ring.n_points == c.anomaly.view.n_flagged == 24
               for p in views.matrix.panels.values())


def test_views_in_big_data_mode_use_the_plotted_sample(qtbot, gmm_state_dir,
                                                       gmm_settings_dir, monkeypatch,
                                                       tmp_path):
    from gmm_desktop.gui.main_window import MainWindow

    monkeypatch.setenv("GMM_DESKTOP_CONFIG_DIR", str(tmp_path / "config"))
    rng = np.random.default_rng(4)
    folder = tmp_path / "parts"
    folder.mkdir()
    for f in range(2):
        X = np.vstack([rng.normal([0, 0], [1, 0.5], (6000, 2)),
                       rng.normal([6, 3], [0.7, 1.2], (6000, 2))])
        pd.DataFrame({"a": X[:, 0], "b": X[:, 1]}).to_parquet(folder / f"p{f}.parquet")
    w = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    c = w.controller
    try:
        with qtbot.waitSignal(c.featuresChanged, timeout=120_000):
            c.bigdata.open(str(folder), columns=["a", "b"], sample_size=3000)
        idle(qtbot, w)
        w.model_panel.n_components.setValue(2)
        w.model_panel.seed.setValue(0)
        with qtbot.waitSignal(c.fitFinished, timeout=120_000):
            w.model_panel.fit()
        idle(qtbot, w)
        for tab in ("matrix", "marginals", "qq", "uncertainty"):
            views = float_views(qtbot, w, tab)
            label = {"matrix": views.matrix.legend, "marginals": views.marginals.legend,
                     "qq": views.qq.legend, "uncertainty": views.uncertainty.legend}[tab]
            assert "uniform sample: 3,000 of 24,000 rows" in label.text(), tab
        assert views.uncertainty.view.n_rows == 3000
        # no row selection out of core: a click inspects, the status says why it does not
        # select
        views = float_views(qtbot, w, "matrix")
        views._select(np.array([0]), "replace")
        assert c.selection.view().n_selected == 0
        shot(views, "07-big-data-matrix")
    finally:
        w.controller.shutdown()
