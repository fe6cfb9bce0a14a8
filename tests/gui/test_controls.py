"""Controls that do what they show (issue 13): typed numbers are committed when the analyst
is done, in their locale; tiny refit parameters keep their digits; the BIC star adopts its
model; the BIC legend stays off the curves; the contamination box says what it means; the
view comes back to the data after a refit; degenerate fits say so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QLocale, QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication

from gmm_desktop.controller.views import SweepView
from gmm_desktop.gui.numbers import NumberBox, NumberEdit, format_number, parse_number
from gmm_desktop.gui.panels import curve_styles

TIMEOUT = 60_000
SHOTS = Path("/tmp/gmm-shots")


def idle(qtbot, w):
    qtbot.waitUntil(lambda: not w.controller.is_busy(), timeout=TIMEOUT)
    qtbot.wait(30)


def shot(widget, name):
    SHOTS.mkdir(exist_ok=True)
    QApplication.processEvents()  # let the layout settle before the picture
    assert widget.grab().save(str(SHOTS / f"issue-13-controls-{name}.png"))


def open_synthetic_and_fit(qtbot, w, k=4):
    with qtbot.waitSignal(w.controller.featuresChanged, timeout=TIMEOUT):
        w.controller.open_demo("synthetic")
    idle(qtbot, w)
    w.model_panel.n_components.setValue(k)
    w.model_panel.auto_k.setChecked(False)
    w.model_panel.seed.setValue(0)
    with qtbot.waitSignal(w.controller.fitFinished, timeout=TIMEOUT):
        qtbot.mouseClick(w.model_panel.fit_button, Qt.MouseButton.LeftButton)
    idle(qtbot, w)
    w.anomaly_dock.raise_()


def type_into(qtbot, box, text: str, enter: bool = True) -> None:
    """Click into the field, select its text and type, as a user does."""
    edit = box.lineEdit() if hasattr(box, "lineEdit") else box
    box.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    if enter:
        qtbot.keyClick(edit, Qt.Key.Key_Return)


# ----------------------------------------------------------------------------- numbers


def test_parse_and_format_numbers_in_two_locales():
    de, en = QLocale("de_DE"), QLocale("en_US")
    assert parse_number("0,005", de) == 0.005
    assert parse_number("0.005", de) == 0.005  # a dot is a decimal mark, never a separator
    assert parse_number("1.000", de) == 1.0
    assert parse_number("1,5e-3", de) == 0.0015
    assert parse_number("\u22127,5", de) == -7.5
    assert parse_number("-7.5", en) == -7.5
    assert parse_number("1e-8", en) == 1e-8
    for bad in ("", "-", "abc", "0,0,5", "nan", "inf"):
        assert parse_number(bad, de) is None, bad
    assert parse_number("0,005", en) is None  # a comma is not a decimal mark in English
    assert format_number(0.005, de) == "0,005"
    assert format_number(1e-8, en) == "1e-08"
    assert format_number(12345.678, de) == "12345,7"  # no group separator
    assert format_number(0.0, en) == "0"


def test_number_box_commits_on_enter_keeps_digits_and_steps(qtbot):
    box = NumberBox(minimum=0.0, maximum=1.0, value=0.05, step=0.005)
    qtbot.addWidget(box)
    box.show()
    seen: list[float] = []
    box.valueChanged.connect(seen.append)
    type_into(qtbot, box, "0.02", enter=False)
    assert seen == []  # nothing is committed while typing
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert seen == [pytest.approx(0.02)] and box.text() == "0.02"
    qtbot.keyClick(box, Qt.Key.Key_Up)  # the arrows still step
    assert seen[-1] == pytest.approx(0.025)
    QApplication.clipboard().setText("0.000123")  # paste, then Enter
    box.setFocus()
    box.lineEdit().selectAll()
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert box.value() == pytest.approx(0.000123) and box.text() == "0.000123"
    # a tolerance keeps its digits and steps by factors of ten
    tol = NumberBox(minimum=0.0, maximum=1.0, value=1e-8, log_step=True)
    qtbot.addWidget(tol)
    assert tol.value() == 1e-8 and tol.text() == "1e-08"
    tol.stepBy(1)
    assert tol.value() == pytest.approx(1e-7)
    # letters cannot be typed; half a number or one out of range is refused out loud and
    # the value is kept
    messages: list[str] = []
    box.invalidEntry.connect(messages.append)
    type_into(qtbot, box, "abc")
    assert box.value() == pytest.approx(0.000123) and box.text() == "0.000123"
    type_into(qtbot, box, "1e-")
    assert messages and "“1e-” is not a number; kept 0.000123" in messages[-1]
    type_into(qtbot, box, "2")
    assert "“2” is outside 0 … 1; kept 0.000123" in messages[-1]
    assert box.value() == pytest.approx(0.000123)
    box.clearFocus()  # leaving the field puts the kept value back
    assert box.text() == "0.000123"


def test_german_locale_accepts_a_decimal_comma_everywhere(qtbot):
    previous = QLocale()
    QLocale.setDefault(QLocale("de_DE"))
    try:
        box = NumberBox(minimum=0.0, maximum=0.9999, value=0.05)
        edit = NumberEdit(1e-3, "Tolerance")
        for w in (box, edit):
            qtbot.addWidget(w)
            w.show()
        assert box.text() == "0,05" and edit.text() == "0,001"
        type_into(qtbot, box, "0,005")
        assert box.value() == pytest.approx(0.005) and box.text() == "0,005"
        type_into(qtbot, edit, "0,0001")
        assert edit.number() == pytest.approx(1e-4)
        edit.setText("0,0,5")  # never silently replaced by a default
        with pytest.raises(ValueError, match="Tolerance"):
            edit.number()
    finally:
        QLocale.setDefault(previous)


# ----------------------------------------------------------------------------- the window


def test_typing_contamination_and_threshold_in_the_window(qtbot, window):
    w = window
    c = w.controller
    open_synthetic_and_fit(qtbot, w)
    panel = w.anomaly_panel
    ld = c.run.scored.scores.log_density
    changes: list[object] = []
    c.anomaly.anomalyChanged.connect(changes.append)
    type_into(qtbot, panel.contamination, "0.02", enter=False)
    assert changes == []  # the first keystroke ("0") is not committed
    qtbot.keyClick(panel.contamination.lineEdit(), Qt.Key.Key_Return)
    view = c.anomaly.view
    assert (view.kind, view.value) == ("contamination", pytest.approx(0.02))
    assert view.n_flagged == round(0.02 * 2640) == 53
    assert panel.contamination.text() == "0.02"
    assert "53 of 2,640" in panel.count.text()

    type_into(qtbot, panel.threshold, "-7.5")
    view = c.anomaly.view
    assert (view.kind, view.value) == ("log_density", -7.5)
    assert view.n_flagged == int((ld < -7.5).sum())
    assert panel.threshold.text() == "-7.5"
    # the contamination box shows the share below the typed cut-off, with its digits
    assert panel.contamination.value() == pytest.approx(view.n_flagged / 2640)
    shot(w, "01-typed-threshold")

    # drag the line just above the lowest row: one row flagged, never "0.0000" or "-inf"
    lowest = np.sort(ld)[:2]
    panel.drag_to(float(lowest.mean()))
    view = c.anomaly.view
    assert view.n_flagged == 1
    assert panel.contamination.value() == pytest.approx(1 / 2640)
    assert panel.contamination.text() == format_number(1 / 2640)
    assert "1 of 2,640 rows (0.038 %)" in panel.count.text()
    type_into(qtbot, panel.contamination, "0")
    assert c.anomaly.view.n_flagged == 0
    text = panel.count.text()
    assert "-inf" not in text and "flags no row" in text


def test_manual_outliers_and_the_contamination_box(qtbot, window):
    w = window
    c = w.controller
    open_synthetic_and_fit(qtbot, w)
    panel = w.anomaly_panel
    frame = c.run.loaded.table.frame
    ld = c.run.scored.scores.log_density
    # mark 30 rows of high density (the rule would never flag them) as outliers
    dense = np.argsort(ld)[-30:]
    c.selection.select_indices(dense)
    c.selection.mark_selection("outlier")
    view = c.anomaly.view
    # the core's rule: the contamination is a share of the 2,610 rows not marked outlier
    assert view.n_flagged == round(0.05 * 2610) + 30 == 160
    assert panel.contamination.value() == pytest.approx(0.05)  # the rule's share (input)
    note = panel.share_note.text()
    assert ("density rule's share of the 2,610 rows not marked outlier: 130 rows "
            "(4.98 %)") in note
    assert "Flagged in total: 160 (6.06 %), +30 with the manual labels (30 marked outlier)" \
        in note
    shot(w, "02-manual-outliers")
    type_into(qtbot, panel.contamination, "0.02")
    assert c.anomaly.view.n_flagged == round(0.02 * 2610) + 30
    assert panel.contamination.text() == "0.02"
    # the lowest-density rows marked outlier: the box still reads the rule's share
    c.selection.select_indices(np.argsort(ld)[:30])
    c.selection.mark_selection("outlier")
    type_into(qtbot, panel.contamination, "0.05")
    view = c.anomaly.view
    assert view.n_marked_outlier == 60 and view.n_rule == round(0.05 * 2580) == 129
    assert view.n_flagged == 129 + 60
    assert "+60 with the manual labels (60 marked outlier)" in panel.share_note.text()
    # drag the line: the box shows the share of the unlabelled rows below it
    cut = float(np.sort(ld)[200])
    panel.drag_to(cut)
    view = c.anomaly.view
    outlier = np.isin(c.run.prepared.row_ids, c.run.labels.ids("outlier"))
    rule = int(((ld < cut) & ~outlier).sum())
    assert view.n_rule == rule
    assert panel.contamination.value() == pytest.approx(rule / (2640 - 60))
    assert len(frame) == 2640


def test_refit_parameters_below_1e6_are_shown_and_used(qtbot, window):
    w = window
    c = w.controller
    open_synthetic_and_fit(qtbot, w)
    panel = w.anomaly_panel
    panel.strategy.setCurrentText("noise-component")
    field, tol = panel.editors["tol"]
    assert isinstance(tol, NumberBox)
    assert tol.text() == format_number(field.default) and field.default <= 1e-6
    assert panel.params()["tol"] == field.default  # not rounded to 0 by 6 decimals
    type_into(qtbot, tol, "1e-10")
    assert panel.params()["tol"] == 1e-10
    type_into(qtbot, tol, "1e-8")
    assert tol.text() == "1e-08"
    # the view was panned away (a flagged row centred); the refit brings the data back
    panel.flagged.cellClicked.emit(0, 0)
    vb = w.plot.getPlotItem().getViewBox()
    x, y = c.scatter.x, c.scatter.y
    with qtbot.waitSignal(c.anomaly.refitFinished, timeout=TIMEOUT):
        qtbot.mouseClick(panel.refit_button, Qt.MouseButton.LeftButton)
    idle(qtbot, w)
    assert dict(c.run.pending.record.params)["tol"] == 1e-8
    assert "did not converge" not in panel.refit_result.text()
    (x0, x1), (y0, y1) = vb.viewRange()
    inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    assert inside.all()
    qtbot.mouseClick(panel.accept, Qt.MouseButton.LeftButton)
    (x0, x1), (y0, y1) = vb.viewRange()
    assert ((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)).all()
    shot(w, "03-after-refit")


def test_bic_star_adopts_its_model_and_the_legend_is_off_the_curves(qtbot, window, blobs_csv):
    w = window
    c = w.controller
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        w.open_path(blobs_csv)
    idle(qtbot, w)
    w.model_panel.n_components.setValue(1)
    w.model_panel.auto_k.setChecked(False)
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
        w.model_panel.fit()
    idle(qtbot, w)
    w.sweep_dock.raise_()
    panel = w.sweep_panel
    panel.k_max.setValue(4)
    for i in range(panel.types.count()):
        item = panel.types.item(i)
        keep = item.text() in ("full", "diag", "tied", "spherical")
        item.setCheckState(Qt.CheckState.Checked if keep else Qt.CheckState.Unchecked)
    with qtbot.waitSignal(c.sweepFinished, timeout=TIMEOUT):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    idle(qtbot, w)
    k, cov = panel.view.best
    assert k == 3
    # a real click on the star
    qtbot.wait(50)
    vb = panel.plot.getPlotItem().getViewBox()
    xs, ys = panel.best_marker.getData()
    scene_pos = vb.mapViewToScene(QPointF(float(xs[0]), float(ys[0])))
    pos = panel.plot.mapFromScene(scene_pos)
    with qtbot.waitSignal(c.modelChanged, timeout=TIMEOUT,
                          check_params_cb=lambda s: s is not None and s.n_components == k):
        qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton,
                         pos=QPoint(pos.x(), pos.y()))
    idle(qtbot, w)
    summary = c.model_summary()
    assert (summary.n_components, summary.covariance_type) == (k, cov)
    # the legend is a list beside the plot, not an item over the curves
    assert panel.plot.getPlotItem().legend is None
    legend_box = panel.legend.geometry()
    assert not legend_box.intersects(panel.plot.geometry())
    assert [panel.legend.item(i).text() for i in range(panel.legend.count())] == list(
        panel.curves)
    # unchecking an entry hides its curve
    panel.legend.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert not panel.curves[panel.legend.item(0).text()].isVisible()
    shot(w, "04-sweep-star")


def test_twenty_covariance_types_get_twenty_colours(qtbot, window):
    styles = curve_styles(20)
    assert len({colour.name() for colour, _s, _d in styles}) == 20
    assert len({(colour.name(), s, d) for colour, s, d in styles}) == 20
    names = [f"type{i}" for i in range(20)]
    ks = (1, 2, 3)
    view = SweepView(criterion="bic",
                     curves=tuple((n, ks, (100.0 + i, 90.0 + i, 95.0 + i))
                                  for i, n in enumerate(names)),
                     best=(2, "type0"), table_text="")
    panel = window.sweep_panel
    window.sweep_dock.raise_()
    panel.show_sweep(view)
    pens = [panel.curves[n].opts["pen"].color().name() for n in names]
    assert len(set(pens)) == 20
    assert panel.legend.count() == 20
    shot(window, "05-twenty-types")


def test_degenerate_fit_is_not_a_quiet_converged(qtbot, window, tmp_path):
    path = tmp_path / "five.csv"
    pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 5.5], "b": [2.0, 1.0, 4.0, 3.0, 7.0]}).to_csv(
        path, index=False)
    w = window
    c = w.controller
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        w.open_path(path)
    idle(qtbot, w)
    panel = w.model_panel
    panel.n_components.setValue(5)
    panel.auto_k.setChecked(False)
    # the robust route refuses five components on five rows, and says why
    errors: list[str] = []
    c.errorOccurred.connect(lambda _t, m: errors.append(m))
    with qtbot.waitSignal(c.errorOccurred, timeout=TIMEOUT):
        panel.fit()
    idle(qtbot, w)
    assert "no model could be fitted robustly" in errors[-1]
    # plain EM fits it, and the window does not call it a quiet "converged"
    panel.method.setCurrentIndex(panel.method.findData("plain"))
    panel.covariance.setCurrentIndex(panel.covariance.findData("full"))
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT) as blocker:
        panel.fit()
    idle(qtbot, w)
    summary = blocker.args[0]
    assert len(summary.warnings) == 5 and all("degenerate" in n for n in summary.warnings)
    text = w.model_panel.summary.text()
    assert f"converged in {summary.n_iter} iterations, but the fit is degenerate" in text
    assert "component 1 holds about 1.0 rows" in text
    w.model_dock.raise_()
    shot(w, "06-degenerate")


def test_bad_tolerance_is_refused_with_a_message(qtbot, window, blobs_csv):
    w = window
    c = w.controller
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        w.open_path(blobs_csv)
    idle(qtbot, w)
    w.model_panel.tol.setText("1e-")
    started: list[object] = []
    c.fitStarted.connect(started.append)
    w.model_panel.fit()
    assert started == []
    assert w.last_error is not None and "Tolerance" in w.last_error[1]


def test_german_window_reads_decimal_commas(qtbot, gmm_state_dir, gmm_settings_dir):
    from gmm_desktop.gui.main_window import MainWindow

    previous = QLocale()
    QLocale.setDefault(QLocale("de_DE"))
    try:
        w = MainWindow(ask_restore=lambda p: False)
        qtbot.addWidget(w)
        w.resize(1500, 950)
        w.show()
        c = w.controller
        with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
            c.open_demo("synthetic")
        idle(qtbot, w)
        assert w.model_panel.tol.text() == "0,001"
        panel = w.model_panel  # the tolerance is plain EM's setting
        panel.method.setCurrentIndex(panel.method.findData("plain"))
        type_into(qtbot, w.model_panel.tol, "0,0001", enter=False)
        w.model_panel.n_components.setValue(4)
        w.model_panel.auto_k.setChecked(False)
        with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
            w.model_panel.fit()
        idle(qtbot, w)
        assert c.config.tol == pytest.approx(1e-4)  # never the default 1e-3
        w.anomaly_dock.raise_()
        type_into(qtbot, w.anomaly_panel.contamination, "0,005")
        view = c.anomaly.view
        assert (view.kind, view.value) == ("contamination", pytest.approx(0.005))
        assert view.n_flagged == round(0.005 * 2640)
        assert w.anomaly_panel.contamination.text() == "0,005"
        type_into(qtbot, w.anomaly_panel.threshold, "-7,5")
        assert (c.anomaly.view.kind, c.anomaly.view.value) == ("log_density", -7.5)
        shot(w, "07-german")
        w.controller.cancel()
        w.controller.wait(20_000)
    finally:
        QLocale.setDefault(previous)
