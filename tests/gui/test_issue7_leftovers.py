"""Issue 7 leftovers: a legend click selects a component, the refit's before/after flags,
and the anomaly histogram's view clipped to a robust range (with the rows left out)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt

TIMEOUT = 60_000
SHOTS = Path("/tmp/gmm-shots")


def idle(qtbot, w):
    qtbot.waitUntil(lambda: not w.controller.is_busy(), timeout=TIMEOUT)
    qtbot.wait(50)


def shot(w, name):
    SHOTS.mkdir(exist_ok=True)
    assert w.grab().save(str(SHOTS / f"issue-8-{name}.png"))


def test_legend_click_refit_before_after_and_clipped_histogram(qtbot, window):
    w = window
    c = w.controller
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        c.open_demo("synthetic")
    idle(qtbot, w)
    w.model_panel.n_components.setValue(4)
    w.model_panel.seed.setValue(0)
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
        qtbot.mouseClick(w.model_panel.fit_button, Qt.MouseButton.LeftButton)
    idle(qtbot, w)

    # a real click on the third legend entry's label
    k = 2
    _sample, label = w.plot.legend.items[k]
    centre = label.mapToScene(label.boundingRect().center())
    pos = w.plot.mapFromScene(centre)
    qtbot.mouseClick(w.plot.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))
    qtbot.waitUntil(lambda: c.selection.view().component == k, timeout=5000)
    labels = c.run.scored.scores.component
    assert c.selection.view().n_selected == int((labels == k).sum())
    widths = [curve.opts["pen"].widthF() for curve in w.plot.ellipse_items]
    assert widths[k] > max(widths[:k] + widths[k + 1:])  # its ellipse is highlighted
    c.selection.clear_selection()

    # the histogram: a few extreme rows do not stretch the axis; the note counts them
    a = c.anomaly.view
    ld = c.run.scored.scores.log_density
    (x0, _x1), _ = w.anomaly_panel.hist.getPlotItem().getViewBox().viewRange()
    below = w.anomaly_panel.n_below_range
    lo, n_below = a.view_low, a.n_below_view
    assert below == n_below == int((ld < lo).sum()) > 0
    assert x0 > ld.min() + 0.5 * (lo - ld.min())  # the view starts well right of the minimum
    assert w.anomaly_panel.range_note.toPlainText() == f"{below:,} rows below the shown range"

    # refit: rows flagged only before / only after are marked apart
    w.anomaly_panel.strategy.setCurrentText("trim-and-refit")
    with qtbot.waitSignal(c.anomaly.refitFinished, timeout=TIMEOUT) as blocker:
        w.anomaly_panel.run_refit()
    idle(qtbot, w)
    v = blocker.args[0]
    old_only = int((v.old_flags & ~v.new_flags).sum())
    new_only = int((v.new_flags & ~v.old_flags).sum())
    assert w.plot._change_counts == (old_only, new_only)
    assert w.plot.old_only_ring.n_points == old_only
    assert w.plot.new_only_core.n_points == new_only
    legend_text = [lab.text for _s, lab in w.plot.legend.items]
    assert any("before the refit only" in t for t in legend_text)
    w.anomaly_dock.raise_()
    shot(w, "03-refit-before-after")
    w.anomaly_panel.keep.click()
    assert w.plot._change_counts is None
