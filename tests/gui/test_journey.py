"""An analyst's journey through the finished window (issue 13), with screenshots.

At 1366 × 768, with every default: open the bundled synthetic dataset through File ▸ Open
and the import dialog (naming the ID column there), fit (the robust
route, the "best of" covariance types and K), read the plot, the flagged table and why a
row is flagged, look at the scatter matrix, the marginals, the χ² Q–Q plot and the
uncertainty view, export the flagged rows (with their explanations) and the HTML report
through the menus, save the session and reopen it in a second window, and run the
command line the window writes: every face gives the same flagged rows.

The screenshots go to ``$GMM_SHOTS`` (default ``/tmp/gmm-shots``), ``journey-*.png``.
"""

from __future__ import annotations

import hashlib
import html
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog

from gmm_desktop.gui.main_window import MainWindow
from tests.gui.test_why_view import double_click_flagged

TIMEOUT = 120_000
SHOTS = Path(os.environ.get("GMM_SHOTS", "/tmp/gmm-shots"))
DEMO = Path(__file__).resolve().parents[2] / "resources" / "synthetic.csv"


def idle(qtbot, w):
    qtbot.waitUntil(lambda: not w.controller.is_busy(), timeout=TIMEOUT)
    qtbot.wait(50)


def shot(qtbot, widget, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    qtbot.wait(150)  # let the layout and the aggregated drawing settle
    assert widget.grab().save(str(SHOTS / f"journey-{name}.png"))


def flagged_ids(w) -> list[int]:
    c = w.controller
    det = c.run.detection
    return sorted(int(v) for v in np.asarray(c.run.prepared.row_ids)[det.flags])


def save_as(monkeypatch, path: Path) -> None:
    """The next save dialog answers ``path`` (as the analyst would type it)."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(path), "")))


def trigger(w, text: str) -> None:
    """Click the menu action whose text (without '&' and '…') is ``text``, or else the
    first one that starts with it."""
    actions = w.findChildren(type(w.undo_action))
    names = [a.text().replace("&", "").rstrip("…. ") for a in actions]
    for exact in (True, False):
        for action, name in zip(actions, names, strict=True):
            if name == text or (not exact and name.startswith(text)):
                action.trigger()
                return
    raise AssertionError(f"no menu action {text!r} among {names}")


def test_an_analysts_journey(qtbot, gmm_state_dir, gmm_settings_dir, tmp_path, monkeypatch):
    w = MainWindow(ask_restore=lambda path: False)
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    c = w.controller
    try:
        # -- File > Open: the import dialog shows the rows as they will be read -------------
        monkeypatch.setattr(QFileDialog, "getOpenFileName",
                            staticmethod(lambda *a, **k: (str(DEMO), "")))
        trigger(w, "Open data")
        dialog = w.import_dialog
        assert dialog.wait_for_preview(30_000) and dialog.view is not None and dialog.view.ok
        assert "auto" in dialog.delimiter.currentText()
        head = pd.read_csv(DEMO, nrows=3)
        shown = [dialog.model.data(dialog.model.index(r, 1)) for r in range(3)]
        assert [float(v) for v in shown] == list(head["x"])
        # the analyst names the rows by their id column, there
        dialog.id_column.setCurrentIndex(dialog.id_column.findData("id"))
        assert dialog.wait_for_preview(30_000)
        shot(qtbot, dialog, "00-import-dialog")
        with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
            qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
        idle(qtbot, w)
        assert c.run.loaded.source.id_column == "id"
        # the loader's notes: id counts the rows, is_injected_outlier is a 0/1 label; neither
        # is a default feature
        assert set(c.run.prepared.columns) == {"x", "y"}
        assert c.run.config.method == "robust"
        with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
            qtbot.mouseClick(w.model_panel.fit_button, Qt.MouseButton.LeftButton)
        idle(qtbot, w)
        det = c.run.detection
        assert det is not None and det.flags.sum() > 0
        # the plot is what the analyst came for: most of the window
        assert w.plot.width() >= 0.6 * w.width()
        frame = c.run.loaded.table.frame
        injected = set(frame.loc[frame["is_injected_outlier"] == 1, "id"].astype(int))
        ids = flagged_ids(w)
        hits = len(injected & set(ids))
        assert hits >= 0.9 * len(injected)  # the default route finds the injected outliers
        shot(qtbot, w, "01-fitted")

        # -- the flagged table, and why its first row is flagged ---------------------------
        w.anomaly_dock.raise_()
        table = w.anomaly_panel.flagged
        assert table.rowCount() == min(300, len(ids))
        assert {table.item(r, 0).text() for r in range(table.rowCount())} <= {
            str(i) for i in ids}
        # the flagged rows can be read at 1366 × 768: eight rows tall, and at least five
        # of them on screen without scrolling the panel (before: two)
        row_px = table.verticalHeader().defaultSectionSize()
        assert table.viewport().height() >= 8 * row_px
        scroll = w.anomaly_dock.widget()
        top = table.mapTo(scroll.viewport(), QPoint(0, 0)).y()
        on_screen = scroll.viewport().height() - top - table.horizontalHeader().height()
        assert on_screen >= 5 * row_px, (on_screen, row_px)
        shot(qtbot, w, "02-anomalies")
        views = double_click_flagged(qtbot, w, 0)
        why = views.why.view
        assert why is not None and why.flagged and why.row_id == table.item(0, 0).text()
        assert table.item(0, 3).text() == why.top.feature
        w.mixture_dock.setFloating(True)
        w.mixture_dock.resize(1100, 760)
        shot(qtbot, w.mixture_dock, "03-why-this-row")

        # -- more views of the mixture ------------------------------------------------------
        for n, tab in enumerate(("matrix", "marginals", "qq", "uncertainty"), start=4):
            w.show_mixture_views(tab)
            qtbot.waitUntil(lambda tab=tab: views.is_ready(tab), timeout=TIMEOUT)
            shot(qtbot, w.mixture_dock, f"{n:02d}-{tab}")
        w.mixture_dock.setFloating(False)
        w.mixture_dock.hide()

        # -- exports through the menus: flagged rows with explanations, the report ---------
        out = tmp_path / "flagged.csv"
        save_as(monkeypatch, out)
        with qtbot.waitSignal(c.anomaly.exportFinished, timeout=TIMEOUT):
            w.export_table_dialog(only_flagged=True)
        written = pd.read_csv(out)
        assert sorted(written["id"].astype(int)) == ids
        contrib = [col for col in written.columns if col.startswith("contribution_")]
        assert contrib == ["contribution_x", "contribution_y"]
        top = written[contrib].to_numpy().argmax(axis=1)
        assert list(written["top_feature"]) == [contrib[j][len("contribution_"):] for j in top]

        report = tmp_path / "report.html"
        save_as(monkeypatch, report)
        with qtbot.waitSignal(c.anomaly.exportFinished, timeout=TIMEOUT):
            trigger(w, "Export report")
        text = report.read_text(encoding="utf-8")
        assert hashlib.sha256(DEMO.read_bytes()).hexdigest() in text
        assert "<script" not in text.lower()  # self-contained and inert
        body = html.unescape(text)
        assert all(f">{i}<" in body for i in ids[:20])

        # -- the session, reopened in a second window ------------------------------------
        session = tmp_path / "journey-session.json"
        assert c.sessions.save(session)
        other = MainWindow(ask_restore=lambda path: False)
        qtbot.addWidget(other)
        other.resize(1366, 768)
        other.show()
        try:
            with qtbot.waitSignal(other.controller.anomaly.anomalyChanged, timeout=TIMEOUT,
                                  check_params_cb=lambda v: v is not None):
                assert other.controller.sessions.open(session)
            idle(qtbot, other)
            assert flagged_ids(other) == ids
            shot(qtbot, other, "08-session-reopened")
        finally:
            other.controller.cancel()
            other.controller.wait(20_000)
            other.close()

        # -- the command line the window writes gives the same rows -------------------------
        cli_out = tmp_path / "cli-flagged.csv"
        _script, command, gaps = c.anomaly.reproduction(str(cli_out))
        assert gaps == []
        argv = shlex.split(command)
        assert argv[0] == "gmm-desktop"
        done = subprocess.run([sys.executable, "-m", "gmm_desktop", *argv[1:], "--quiet"],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert sorted(pd.read_csv(cli_out)["id"].astype(int)) == ids
    finally:
        c.cancel()
        c.wait(20_000)
