"""The real main window driven as a user would (pytest-qt, offscreen)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent, QImage, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog

from gmm_desktop.gui import palette
from gmm_desktop.gui.main_window import MainWindow

TIMEOUT = 30_000
SHOTS = Path("/tmp/gmm-shots")


@pytest.fixture
def window(qtbot, gmm_state_dir, gmm_settings_dir):
    w = MainWindow(ask_restore=lambda path: False)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.controller.cancel()
    w.controller.wait(10_000)


def idle(qtbot, w):
    qtbot.waitUntil(lambda: not w.controller.is_busy(), timeout=TIMEOUT)
    qtbot.wait(50)


def open_data(qtbot, w, path):
    with qtbot.waitSignal(w.controller.featuresChanged, timeout=TIMEOUT):
        w.open_path(path)
    idle(qtbot, w)


def click_fit(qtbot, w, k=3):
    w.model_panel.n_components.setValue(k)
    w.model_panel.auto_k.setChecked(False)  # exactly k components
    with qtbot.waitSignal(w.controller.fitFinished, timeout=TIMEOUT):
        qtbot.mouseClick(w.model_panel.fit_button, Qt.MouseButton.LeftButton)
    idle(qtbot, w)


def save_shot(w, tmp_path: Path, name: str) -> QImage:
    path = tmp_path / f"{name}.png"
    assert w.grab().save(str(path))
    SHOTS.mkdir(exist_ok=True)
    w.grab().save(str(SHOTS / f"{name}.png"))
    return QImage(str(path))


def colour_pixels(image: QImage, colour: QColor, tol: int = 18) -> int:
    """Pixels within ``tol`` of ``colour`` on every channel."""
    img = image.convertToFormat(QImage.Format.Format_RGB32)
    ptr = img.constBits()
    arr = np.frombuffer(ptr, dtype=np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)
    b, g, r = (arr[..., i].astype(int) for i in range(3))
    return int(
        ((abs(r - colour.red()) <= tol) & (abs(g - colour.green()) <= tol)
         & (abs(b - colour.blue()) <= tol)).sum()
    )


def test_open_choose_columns_fit_and_render(qtbot, window, blobs_csv, tmp_path):
    w = window
    open_data(qtbot, w, blobs_csv)
    assert "blobs.csv" in w.dataset_panel.title.text()
    assert "600 rows" in w.dataset_panel.title.text()
    assert w.dataset_panel.preview_model.rowCount() == 200
    assert w.dataset_panel.checked_columns() == ["alpha", "beta", "gamma"]
    assert "Using 600 of 600 rows" in w.dataset_panel.messages.toPlainText()
    # the user unchecks gamma and applies
    item = w.dataset_panel.columns.findItems("gamma", Qt.MatchFlag.MatchExactly)[0]
    item.setCheckState(Qt.CheckState.Unchecked)
    with qtbot.waitSignal(w.controller.featuresChanged, timeout=TIMEOUT):
        qtbot.mouseClick(w.dataset_panel.apply_button, Qt.MouseButton.LeftButton)
    idle(qtbot, w)
    assert w.controller.feature_columns == ("alpha", "beta")
    assert [w.view_controls.x_axis.itemText(i) for i in range(2)] == ["alpha", "beta"]
    before = save_shot(w, tmp_path, "01-data-only")
    assert w.plot.points.n_points == 600 and w.plot.points.n_colours == 1
    assert w.plot.n_ellipse_outlines == 0
    assert colour_pixels(before, QColor(palette.NEUTRAL)) > 300

    click_fit(qtbot, w, 3)
    image = save_shot(w, tmp_path, "02-fitted")
    assert w.plot.points.n_points == 600
    assert w.plot.points.n_colours == 3
    assert len(w.plot.ellipse_items) == 3 and w.plot.n_ellipse_outlines == 9
    assert len(w.plot.mean_labels) == 3
    assert w.plot.legend.layout.rowCount() >= 4  # 3 components + the ellipse levels
    # every component colour is visible in the rendered window
    for colour in palette.categorical(3):
        assert colour_pixels(image, colour) > 200, colour.name()
    # the parameters table: weight, 2 means, 3 covariance entries per component
    table = w.parameters
    assert table.rowCount() == 3 and table.columnCount() == 6
    weights = [table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(3)]
    assert sum(weights) == pytest.approx(1.0)
    assert "converged" in w.model_panel.summary.text()
    x, _y = w.model_panel.curve.getData()
    assert len(x) == w.controller.model_summary().n_iter


def test_cancel_button_keeps_previous_model(qtbot, window, tmp_path):
    w = window
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150_000, 3))
    path = tmp_path / "big.csv"
    np.savetxt(path, X, delimiter=",", header="p,q,r", comments="", fmt="%.5f")
    open_data(qtbot, w, path)
    w.model_panel.max_iter.setValue(3)
    click_fit(qtbot, w, 2)
    first = w.controller.model_summary()
    w.model_panel.max_iter.setValue(50_000)
    w.model_panel.tol.setText("0")
    w.model_panel.n_components.setValue(5)
    w.model_panel.auto_k.setChecked(False)
    w.model_panel.method.setCurrentIndex(w.model_panel.method.findData("plain"))  # EM's curve
    seen = []
    w.controller.fitProgress.connect(seen.append)
    qtbot.mouseClick(w.model_panel.fit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=TIMEOUT)
    assert w.model_panel.cancel_button.isEnabled()
    assert not w.model_panel.fit_button.isEnabled()
    x, _ = w.model_panel.curve.getData()
    assert len(x) >= 1  # the live log-likelihood curve is being drawn
    started = time.perf_counter()
    with qtbot.waitSignal(w.controller.fitCancelled, timeout=1000):
        qtbot.mouseClick(w.model_panel.cancel_button, Qt.MouseButton.LeftButton)
    assert time.perf_counter() - started < 1.0
    idle(qtbot, w)
    assert w.controller.model_summary() == first
    assert w.model_panel.fit_button.isEnabled()
    assert "previous model kept" in w.model_panel.progress.format()
    assert w.plot.n_ellipse_outlines == 6


def test_sweep_then_click_a_point(qtbot, window, blobs_csv, tmp_path):
    w = window
    open_data(qtbot, w, blobs_csv)
    w.sweep_dock.raise_()
    panel = w.sweep_panel
    panel.k_max.setValue(4)
    for i in range(panel.types.count()):
        item = panel.types.item(i)
        keep = item.text() in ("full", "diag")
        item.setCheckState(Qt.CheckState.Checked if keep else Qt.CheckState.Unchecked)
    with qtbot.waitSignal(w.controller.sweepFinished, timeout=60_000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    idle(qtbot, w)
    assert set(panel.curves) == {"full", "diag"}
    assert "K=3" in panel.info.text()
    save_shot(w, tmp_path, "03-sweep")
    # click the (K=2, diag) point on the curve, as a user would
    item = panel.curves["diag"]
    xs, ys = item.getData()
    vb = panel.plot.getPlotItem().getViewBox()
    scene_pos = vb.mapViewToScene(QPointF(float(xs[1]), float(ys[1])))
    widget_pos = panel.plot.mapFromScene(scene_pos)
    with qtbot.waitSignal(w.controller.modelChanged, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=widget_pos)
    idle(qtbot, w)
    summary = blocker.args[0]
    assert (summary.n_components, summary.covariance_type) == (2, "diag")
    assert w.plot.n_ellipse_outlines == 6
    assert w.model_panel.n_components.value() == 2
    assert w.model_panel.covariance.currentText() == "diag"


def test_change_axes_pca_and_colouring(qtbot, window, blobs_csv, tmp_path):
    w = window
    open_data(qtbot, w, blobs_csv)
    click_fit(qtbot, w, 3)
    vc = w.view_controls
    vc.y_axis.setCurrentText("gamma")
    qtbot.waitUntil(lambda: w.plot.view.y_label == "gamma", timeout=TIMEOUT)
    assert w.plot.getPlotItem().getAxis("left").labelText == "gamma"
    assert w.plot.n_ellipse_outlines == 9
    vc.pca.setChecked(True)
    qtbot.waitUntil(lambda: w.plot.view.x_label.startswith("PC1"), timeout=TIMEOUT)
    assert not vc.x_axis.isEnabled()
    vc.colour.setCurrentIndex(vc.colour.findData("uncertainty"))
    assert w.plot.view.colour_kind == "uncertainty"
    vc.ellipses.setCurrentIndex(vc.ellipses.findData("mass"))
    vc.mass.setValue(0.9)
    assert w.plot.n_ellipse_outlines == 3
    save_shot(w, tmp_path, "04-pca-uncertainty")
    vc.pca.setChecked(False)
    qtbot.waitUntil(lambda: w.plot.view.x_label == "alpha", timeout=TIMEOUT)


def test_hover_shows_row_values_and_responsibilities(qtbot, window, blobs_csv):
    w = window
    open_data(qtbot, w, blobs_csv)
    click_fit(qtbot, w, 3)
    view = w.plot.view
    i = 17
    vb = w.plot.getPlotItem().getViewBox()
    scene = vb.mapViewToScene(QPointF(float(view.x[i]), float(view.y[i])))
    pos = w.plot.mapFromScene(scene)
    qtbot.mouseMove(w.plot.viewport(), pos)
    qtbot.waitUntil(lambda: w.plot.hover_text.startswith("row"), timeout=5000)
    text = w.plot.hover_text
    assert "alpha = " in text and "responsibilities:" in text and "component" in text
    # the point found is the one under the mouse, or one overlapping it within a few pixels
    idx = w.plot.nearest_point(float(view.x[i]), float(view.y[i]))
    assert idx == i or np.hypot(view.x[idx] - view.x[i], view.y[idx] - view.y[i]) < 0.2


def test_save_and_reopen_session_through_the_menus(qtbot, window, blobs_csv, tmp_path,
                                                   monkeypatch):
    w = window
    open_data(qtbot, w, blobs_csv)
    click_fit(qtbot, w, 3)
    w.view_controls.y_axis.setCurrentText("gamma")
    session = tmp_path / "work.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(session), "")))
    w.save_session_action.trigger()
    assert session.exists()
    doc = json.loads(session.read_text())
    assert doc["view"]["y_column"] == "gamma"
    assert w.settings.value("lastFolder") == str(tmp_path.resolve())
    summary = w.controller.model_summary()

    other = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(other)
    other.show()
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(session), "")))
    with qtbot.waitSignal(other.controller.modelChanged, timeout=TIMEOUT,
                          check_params_cb=lambda s: s is not None):
        other.open_session_action.trigger()
    idle(qtbot, other)
    assert other.controller.model_summary().components == summary.components
    assert other.plot.view.y_label == "gamma"
    assert other.view_controls.y_axis.currentText() == "gamma"
    assert other.plot.n_ellipse_outlines == 9
    # model files: save and load through the menus
    model_path = tmp_path / "model.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(model_path), "")))
    w.save_model_dialog()
    assert json.loads(model_path.read_text())["format"] == "gmm-desktop/gaussian-mixture"


def test_drag_and_drop_and_recent_files(qtbot, window, blobs_csv, tmp_path):
    w = window
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(blobs_csv))])
    event = QDropEvent(QPointF(100, 100), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    w.dropEvent(event)  # a CSV file: the import dialog first, then OK opens it
    assert w.import_dialog is not None and w.import_dialog.wait_for_preview()
    with qtbot.waitSignal(w.controller.featuresChanged, timeout=TIMEOUT):
        w.import_dialog.accept()
    idle(qtbot, w)
    assert w.controller.feature_columns == ("alpha", "beta", "gamma")
    recent = w.recent_files()
    assert recent[0] == str(blobs_csv.resolve())
    actions = w.recent_menu.actions()
    assert actions and actions[0].text() == str(blobs_csv.resolve())
    # a second window finds the recent file in the settings and opens it from the menu
    other = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(other)
    other.recent_menu.actions()[0].trigger()
    assert other.import_dialog is not None and other.import_dialog.wait_for_preview()
    with qtbot.waitSignal(other.controller.featuresChanged, timeout=TIMEOUT):
        other.import_dialog.accept()
    idle(qtbot, other)
    assert other.controller.has_data


def test_errors_go_to_a_dialog_and_the_status_bar(qtbot, window, tmp_path):
    w = window
    bad = tmp_path / "empty.csv"
    bad.write_text("")
    w.open_path(bad)
    qtbot.waitUntil(lambda: w.last_error is not None, timeout=TIMEOUT)
    _title, message = w.last_error
    assert "empty.csv" in message and "Traceback" not in message
    assert w.error_box.isVisible() and w.error_box.text() == message
    assert "empty.csv" in w.statusBar().currentMessage()
    w.error_box.close()
    # fitting without data is refused with a message, nothing freezes
    w.fit_action.trigger()
    assert "Open a dataset" in w.last_error[1]


def test_keyboard_shortcuts(qtbot, window, blobs_csv):
    w = window
    assert w.open_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    assert w.save_session_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Save)
    assert w.fit_action.shortcut() == QKeySequence("Ctrl+R")
    assert w.cancel_action.shortcut() == QKeySequence("Esc")
    open_data(qtbot, w, blobs_csv)
    w.activateWindow()
    w.plot.setFocus()
    with qtbot.waitSignal(w.controller.fitFinished, timeout=TIMEOUT):
        qtbot.keyClick(w.plot, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    idle(qtbot, w)
    assert w.controller.has_model


def test_window_geometry_and_docks_are_remembered(qtbot, gmm_state_dir, gmm_settings_dir):
    w = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(w)
    w.show()
    # (the offscreen screen is 800 px wide: restoreGeometry keeps windows on screen)
    w.resize(780, 700)
    w.parameters_dock.hide()
    qtbot.wait(50)
    w.close()
    assert (gmm_settings_dir / "gmm-desktop.ini").exists()
    again = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(again)
    again.show()
    qtbot.wait(50)
    assert (again.width(), again.height()) == (780, 700)
    assert not again.parameters_dock.isVisible()
    assert again.dataset_dock.isVisible()


def test_restore_is_offered_after_an_unclean_exit(qtbot, gmm_state_dir, gmm_settings_dir,
                                                   blobs_csv):
    first = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(first)
    assert not first.offer_restore()
    open_data(qtbot, first, blobs_csv)
    click_fit(qtbot, first, 3)
    summary = first.controller.model_summary()
    assert (gmm_state_dir / "autosave-session.json").exists()
    # simulate a crash: the marker names a process that is gone
    (gmm_state_dir / "running.pid").write_text("999999999\n")
    asked = []
    second = MainWindow(ask_restore=lambda p: asked.append(p) or True)
    qtbot.addWidget(second)
    with qtbot.waitSignal(second.controller.modelChanged, timeout=TIMEOUT,
                          check_params_cb=lambda s: s is not None):
        assert second.offer_restore()
    idle(qtbot, second)
    assert asked == [gmm_state_dir / "autosave-session.json"]
    assert second.controller.model_summary().components == summary.components
    # a clean exit removes the marker and the autosave
    second.close()
    assert not (gmm_state_dir / "running.pid").exists()


def test_dark_palette_is_readable(qtbot, gmm_state_dir, gmm_settings_dir, blobs_csv, tmp_path):
    from PySide6.QtGui import QPalette

    app = QApplication.instance()
    old = app.palette()
    dark = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Window, "#2b2b2b"), (QPalette.ColorRole.Base, "#1e1e1e"),
        (QPalette.ColorRole.AlternateBase, "#262626"),
        (QPalette.ColorRole.Text, "#e6e6e6"), (QPalette.ColorRole.WindowText, "#e6e6e6"),
        (QPalette.ColorRole.Button, "#3a3a3a"), (QPalette.ColorRole.ButtonText, "#e6e6e6"),
    ):
        dark.setColor(role, QColor(colour))
    app.setPalette(dark)
    try:
        w = MainWindow(ask_restore=lambda p: False)
        qtbot.addWidget(w)
        w.resize(1400, 900)
        w.show()
        open_data(qtbot, w, blobs_csv)
        click_fit(qtbot, w, 3)
        image = save_shot(w, tmp_path, "05-dark")
        assert palette.is_dark()
        assert w.plot.backgroundBrush().color().lightness() < 60
        axis = w.plot.getPlotItem().getAxis("left")
        assert axis.textPen().color().lightness() > 180
        for colour in palette.categorical(3):
            assert colour_pixels(image, colour) > 200
    finally:
        app.setPalette(old)


def test_plugins_fill_the_model_choices(qtbot, window):
    from gmm_desktop.controller import AppController

    box = window.model_panel.covariance
    assert box.itemData(0) == "auto"  # the default: the best of the four built-in types
    assert [box.itemData(i) for i in range(1, box.count())] == AppController.covariance_types()
    init = window.model_panel.initializer
    assert [init.itemText(i) for i in range(init.count())] == AppController.initializers()


def test_demo_datasets_are_offered(qtbot, window):
    from gmm_desktop.data import demo_datasets

    demos = demo_datasets()
    assert set(window.dataset_panel.demo_buttons) == set(demos)
    assert window.dataset_panel.demo_box.isVisibleTo(window)
    with qtbot.waitSignal(window.controller.datasetChanged, timeout=TIMEOUT):
        qtbot.mouseClick(window.dataset_panel.demo_buttons["faithful"], Qt.MouseButton.LeftButton)
    idle(qtbot, window)
    assert window.controller.feature_columns == ("eruptions", "waiting")
    assert not window.dataset_panel.demo_box.isVisibleTo(window)
