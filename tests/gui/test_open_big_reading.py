"""File ▸ Open big dataset… takes the CSV files' reading options from the import dialog,
shown on the source's first file (issue 13): the window flags the rows that the command
line and Python flag with the same options."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("dask")

from gmm_desktop.gui.bigdata import OpenBigDialog
from gmm_desktop.gui.import_dialog import ImportDialog
from tests.controller.test_bigdata_read_options import (
    TIMEOUT,
    controller,  # noqa: F401  (the fixture)
    fit_and_export_flagged,
)
from tests.outofcore.test_read_options_out_of_core import (
    FEATURES,
    READ,
    flagged_in_memory,
    penguins,  # noqa: F401  (the fixture)
)


def _accepting(dialog: ImportDialog) -> ImportDialog:
    """The import dialog as the analyst leaves it: preview shown, OK pressed."""
    assert dialog.wait_for_preview(20_000)

    def exec_() -> int:
        dialog.accept()
        return dialog.result()

    dialog.exec = exec_  # type: ignore[method-assign]
    return dialog


def test_open_big_dialog_reads_csv_files_with_the_import_dialogs_options(
        qtbot, controller, penguins, tmp_path):  # noqa: F811
    _frame, folder, whole = penguins
    c = controller
    dialog = OpenBigDialog(c)
    qtbot.addWidget(dialog)
    # a Parquet dataset has no reading options: said, nothing opened
    pq = tmp_path / "pq"
    pq.mkdir()
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(pq / "a.parquet")
    dialog.path.setText(str(pq))
    assert not dialog.edit_reading()
    assert "Parquet" in dialog.read_label.text() and dialog.read is None

    # CSV folder: the import dialog opens on its first file, with the analyst's options
    dialog.path.setText(str(folder))
    first = c.bigdata.first_text_file(str(folder))
    assert first is not None and first.endswith("part0.csv")
    imported = ImportDialog(first, dialog, read=READ, id_column="id")
    imported.id_column.setCurrentIndex(imported.id_column.findText("id"))
    assert dialog.edit_reading(_accepting(imported))
    assert dialog.read == READ
    assert "delimiter ';'" in dialog.read_label.text()
    assert dialog.id_column.text() == "id"
    dialog.columns.setText(", ".join(FEATURES))
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        assert dialog.open_now()
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    assert c.bigdata.active and c.config.read == READ
    # the same rows as Python in memory on the files joined (and so as the command line:
    # tests/outofcore/test_read_options_out_of_core.py)
    window_ids = fit_and_export_flagged(qtbot, c, tmp_path / "flagged.parquet")
    assert len(window_ids) == 10 and window_ids == flagged_in_memory(whole)
