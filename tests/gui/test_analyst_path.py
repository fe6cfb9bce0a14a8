"""An analyst's whole path through the real window (issue 7): open the bundled synthetic
dataset, fit, drag the threshold, lasso a group, mark it, refit with each built-in strategy,
accept, export and read the file back; then reproduce it with the script and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PySide6.QtCore import QPointF, Qt

TIMEOUT = 60_000
SHOTS = Path("/tmp/gmm-shots")


def idle(qtbot, w):
    qtbot.waitUntil(lambda: not w.controller.is_busy(), timeout=TIMEOUT)
    qtbot.wait(50)


def shot(w, name):
    SHOTS.mkdir(exist_ok=True)
    assert w.grab().save(str(SHOTS / f"issue-7-{name}.png"))


def open_synthetic_and_fit(qtbot, w):
    with qtbot.waitSignal(w.controller.featuresChanged, timeout=TIMEOUT):
        w.controller.open_demo("synthetic")
    idle(qtbot, w)
    w.dataset_panel.set_checked(["x", "y"])
    w.dataset_panel.scaling.setCurrentIndex(w.dataset_panel.scaling.findData("standardize"))
    with qtbot.waitSignal(w.controller.featuresChanged, timeout=TIMEOUT):
        qtbot.mouseClick(w.dataset_panel.apply_button, Qt.MouseButton.LeftButton)
    idle(qtbot, w)
    w.model_panel.n_components.setValue(4)
    w.model_panel.auto_k.setChecked(False)
    with qtbot.waitSignal(w.controller.fitFinished, timeout=TIMEOUT):
        qtbot.mouseClick(w.model_panel.fit_button, Qt.MouseButton.LeftButton)
    idle(qtbot, w)


def truth(w) -> pd.DataFrame:
    return w.controller.run.loaded.table.frame


def test_analyst_path(qtbot, window, tmp_path):
    w = window
    c = w.controller
    open_synthetic_and_fit(qtbot, w)
    w.anomaly_dock.raise_()
    a = c.anomaly.view
    assert a is not None and a.n_rows == 2640
    assert a.n_flagged == round(0.05 * 2640)
    assert a.contour_x.size > 0 and "exact" in a.contour_note
    assert w.plot.flag_core.n_points == a.n_flagged
    shot(w, "01-fitted-flags")

    # drag the threshold line: counts follow, and equal a direct count below the line
    ld = c.run.scored.scores.log_density
    new_cut = float(np.quantile(ld, 0.02))
    w.anomaly_panel.drag_to(new_cut)
    a = c.anomaly.view
    assert a.kind == "log_density" and a.n_flagged == int((ld < new_cut).sum())
    assert f"{a.n_flagged:,} of 2,640" in w.anomaly_panel.count.text()
    assert abs(w.anomaly_panel.threshold.value() - new_cut) < 1e-3
    assert abs(w.anomaly_panel.contamination.value() - a.n_flagged / 2640) < 1e-3
    shot(w, "02-threshold-dragged")

    # lasso the injected outliers far out in the lower left (they are x < -10)
    frame = truth(w)
    inj = frame["is_injected_outlier"].to_numpy() == 1
    far = inj & (frame["x"].to_numpy() < -10)
    assert far.sum() >= 3
    x0, x1 = frame["x"][far].min() - 0.5, frame["x"][far].max() + 0.5
    y0, y1 = frame["y"][far].min() - 0.5, frame["y"][far].max() + 0.5
    poly = [QPointF(x0, y0), QPointF(x1, y0), QPointF(x1, y1), QPointF(x0, y1)]
    w.view_controls.tool.setCurrentIndex(w.view_controls.tool.findData("lasso"))
    w.plot._finish_path(poly, "lasso", Qt.KeyboardModifier.NoModifier)
    sel = c.selection.view()
    inside = ((frame["x"] >= x0) & (frame["x"] <= x1) & (frame["y"] >= y0)
              & (frame["y"] <= y1)).to_numpy()
    assert sel.n_selected == int(inside.sum())
    assert w.plot.selected_item.n_points == sel.n_selected
    # Shift adds one more point, Ctrl removes it again
    w.plot._finish_path([QPointF(-100, -100), QPointF(100, -100), QPointF(100, 100)],
                        "rect", Qt.KeyboardModifier.ControlModifier)
    assert c.selection.view().n_selected == 0
    w.controller.selection.undo_stack.undo()
    assert c.selection.view().n_selected == int(inside.sum())
    w.selection_dock.raise_()
    shot(w, "03-lasso")

    # mark the group as outliers: flagged at once, and left out of the next fits
    qtbot.mouseClick(w.selection_panel.mark_outlier, Qt.MouseButton.LeftButton)
    marked = set(np.flatnonzero(inside))
    flags = c.anomaly.view.flags
    assert all(flags[i] for i in marked)
    assert "outliers" in w.selection_panel.labels.text()
    assert (~np.isin(c.run.prepared.row_ids, c.run.labels.fit_excluded)).sum() == 2640 - len(marked)
    w.undo_action.trigger()
    assert c.selection.label_ids("outlier").size == 0
    w.redo_action.trigger()
    assert c.selection.label_ids("outlier").size == len(marked)

    # refit with each built-in strategy: before/after shown, keep the old ones, accept last
    w.anomaly_dock.raise_()
    panel = w.anomaly_panel
    strategies = [panel.strategy.itemText(i) for i in range(panel.strategy.count())]
    assert {"trim-and-refit", "iterative-trimming", "noise-component"} <= set(strategies)
    for name in ("trim-and-refit", "noise-component", "iterative-trimming"):
        panel.strategy.setCurrentText(name)
        assert set(panel.editors) == {f.name for f in c.anomaly.refit_parameters(name)}
        if name == "iterative-trimming":  # the analyst asks for a stricter chi-square gate
            panel.editors["gate"][1].setCurrentText("chi2")
            panel.editors["chi2_probability"][1].setValue(0.999)
        with qtbot.waitSignal(c.anomaly.refitFinished, timeout=TIMEOUT) as blocker:
            qtbot.mouseClick(panel.refit_button, Qt.MouseButton.LeftButton)
        idle(qtbot, w)
        view = blocker.args[0]
        assert view.strategy == name and len(view.history) >= 1
        assert panel.history.rowCount() == len(view.history)
        assert w.plot.old_ellipses.getData()[0].size > 0
        assert w.plot.new_ellipses.getData()[0].size > 0
        assert all(view.new_flags[i] for i in marked)  # the labels are honoured
        shot(w, f"04-refit-{name}")
        if name != "iterative-trimming":
            qtbot.mouseClick(panel.keep, Qt.MouseButton.LeftButton)
            assert not c.anomaly.refit_pending
    qtbot.mouseClick(panel.accept, Qt.MouseButton.LeftButton)
    assert c.anomaly.view.from_refit == "iterative-trimming"
    assert w.plot.new_ellipses.getData()[0] is None or w.plot.new_ellipses.getData()[0].size == 0
    shot(w, "05-accepted")

    # export the flagged rows and read them back against the injected outliers
    out = tmp_path / "flagged.csv"
    with qtbot.waitSignal(c.anomaly.exportFinished, timeout=TIMEOUT):
        c.anomaly.export_flagged(out)
    idle(qtbot, w)
    back = pd.read_csv(out)
    assert (tmp_path / "flagged.csv.json").exists()
    assert len(back) == c.anomaly.view.n_flagged
    # rows are named by the demo's `id` column (demo_options), not by position
    ids = frame["id"].to_numpy()
    assert set(ids[inside]) <= set(back["id"])
    injected_ids = set(ids[inj])
    found = injected_ids & set(back["id"])
    assert len(found) / len(injected_ids) >= 0.9  # the refit finds the injected outliers
    assert back["is_injected_outlier"].mean() >= 0.3

    # the plot as PNG (on-screen size and a chosen size) and SVG
    png = w.export_plot(tmp_path / "plot.png")
    big = w.export_plot(tmp_path / "big.png", width=2000)
    svg = w.export_plot(tmp_path / "plot.svg")
    from PySide6.QtGui import QImage

    assert QImage(str(png)).width() > 100
    assert QImage(str(big)).width() == 2000
    assert "<svg" in svg.read_text()[:2000]

    # the script reproduces the GUI's flagged rows exactly (with the manual labels)
    script = tmp_path / "reproduce.py"
    cli = w.export_script(script)
    assert "manual labels" in cli  # the command line cannot carry them; it says so
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    again = pd.read_csv(tmp_path / "reproduce.csv")
    assert sorted(again["id"]) == sorted(back["id"])
    shot(w, "06-exported")


def test_script_and_command_line_reproduce_the_flags(qtbot, window, tmp_path):
    w = window
    c = w.controller
    open_synthetic_and_fit(qtbot, w)
    ld = c.run.scored.scores.log_density
    w.anomaly_panel.drag_to(float(np.quantile(ld, 0.03)))
    w.anomaly_panel.strategy.setCurrentText("trim-and-refit")
    with qtbot.waitSignal(c.anomaly.refitFinished, timeout=TIMEOUT):
        w.anomaly_panel.run_refit()
    idle(qtbot, w)
    c.anomaly.accept_refit()
    ids = truth(w)["id"].to_numpy()
    gui_ids = sorted(ids[np.flatnonzero(c.anomaly.view.flags)].tolist())
    script = tmp_path / "repro.py"
    cli = w.export_script(script)
    assert "not expressible" not in cli, cli
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert sorted(pd.read_csv(tmp_path / "repro.csv")["id"]) == gui_ids
    import shlex

    args = shlex.split(cli)
    assert args[:2] == ["gmm-desktop", "detect"]
    args[args.index("--output") + 1] = str(tmp_path / "cli.csv")
    run = subprocess.run([sys.executable, "-m", "gmm_desktop", *args[1:]], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr + run.stdout
    assert sorted(pd.read_csv(tmp_path / "cli.csv")["id"]) == gui_ids


def test_plugins_dialog_and_mclust_bic(qtbot, window):
    w = window
    dialog = w.show_plugins()
    names = {r["name"] for r in dialog.rows}
    assert {"full", "kmeans", "iterative-trimming"} <= names
    assert dialog.table.rowCount() == len(dialog.rows)
    builtin = next(i for i, r in enumerate(dialog.rows) if r["origin"] == "built-in")
    dialog.table.selectRow(builtin)
    assert not dialog.toggle.isEnabled()
    dialog.close()
