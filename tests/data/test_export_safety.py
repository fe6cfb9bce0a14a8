"""Exports cannot attack the person who opens them, and a table and its sidecar are
written as a pair a reader can check (issue 14)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import openpyxl
import pandas as pd
import pytest

from gmm_desktop.data import DataError, load_table
from gmm_desktop.data import writing as writing_module
from gmm_desktop.data.writing import (
    INTEGRITY_KEY,
    neutralise_frame,
    neutralise_text,
    sidecar_path,
    verify_sidecar,
    write_table_atomic,
)

TRIGGERS = ["=", "+", "-", "@", "\t", "\r"]


def _attack_frame(n: int = 100) -> pd.DataFrame:
    """100 text cells that spreadsheets would run as formulas, next to real numbers."""
    payloads = [
        "=1+1", "=HYPERLINK(\"http://evil.example\",\"x\")", "+1+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+2", "\r=1+2",
        "=cmd|' /C notepad'!'A1'",
    ]
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "label": [payloads[i % len(payloads)] + f" #{i}" for i in range(n)],
            "value": -rng.random(n) * 100,  # negative numbers stay numbers
            "count": np.arange(-50, n - 50),
            "plain": [f"row {i}" for i in range(n)],
            "numeric_text": ["-5", "+3", "-1.5e3", ".5"] * (n // 4),
        }
    )


def test_neutralise_text_follows_owasp_and_leaves_numbers_alone():
    for first in TRIGGERS:
        assert neutralise_text(first + "x") == "'" + first + "x"
    for text in ["-5", "+3.25", "-1e-3", ".5", "hello", "a=b", ""]:
        assert neutralise_text(text) == text
    assert neutralise_text(-5.0) == -5.0 and neutralise_text(None) is None


def test_neutralise_frame_copies_only_when_needed():
    safe = pd.DataFrame({"a": ["x", "y"], "b": [-1.0, 2.0]})
    same, changed = neutralise_frame(safe)
    assert same is safe and changed == set()
    risky = pd.DataFrame({"=a": ["x", "@y"], "b": [-1.0, 2.0]})
    fixed, changed = neutralise_frame(risky)
    assert changed == {0} and list(fixed.columns) == ["'=a", "b"]
    assert fixed.iloc[:, 0].tolist() == ["x", "'@y"]
    assert risky.iloc[:, 0].tolist() == ["x", "@y"]  # the caller's frame is untouched


def test_xlsx_export_has_no_formula_among_100_attack_cells(tmp_path):
    frame = _attack_frame()
    path = tmp_path / "out.xlsx"
    write_table_atomic(frame, path)
    book = openpyxl.load_workbook(path)  # not read-only: keeps data types and styles
    sheet = book.active
    rows = list(sheet.iter_rows())
    assert len(rows) == 101
    kinds = {cell.data_type for row in rows for cell in row}
    assert "f" not in kinds  # no formula anywhere
    label_cells = [row[0] for row in rows[1:]]
    # The text is unchanged (XML turns a carriage return into a line feed when read).
    assert [c.value for c in label_cells] == [v.replace("\r", "\n") for v in frame["label"]]
    assert all(c.data_type == "s" for c in label_cells)
    assert all(c.quotePrefix for c in label_cells)  # stays text when edited in Excel
    value_cells = [row[1] for row in rows[1:]]
    assert all(c.data_type == "n" for c in value_cells)  # negative numbers are numbers
    # openpyxl writes 16 significant digits (the same with pandas' to_excel).
    np.testing.assert_allclose([c.value for c in value_cells], frame["value"], rtol=1e-15)
    assert [row[2].value for row in rows[1:]] == list(frame["count"])
    # Text that is just a number stays that text (a text cell, not a formula).
    assert [row[4].value for row in rows[1:5]] == ["-5", "+3", "-1.5e3", ".5"]
    assert all(row[4].data_type == "s" for row in rows[1:])


def test_xlsx_formula_in_a_column_name_is_text(tmp_path):
    frame = pd.DataFrame({"=SUM(A1:A9)": [1.0, 2.0], "x": ["a", "b"]})
    path = tmp_path / "names.xlsx"
    write_table_atomic(frame, path)
    header = next(openpyxl.load_workbook(path).active.iter_rows())
    assert header[0].value == "=SUM(A1:A9)" and header[0].data_type == "s"


def test_csv_export_neutralises_the_100_attack_cells(tmp_path):
    frame = _attack_frame()
    path = tmp_path / "out.csv"
    write_table_atomic(frame, path)
    text = path.read_bytes().decode("utf-8")  # no newline translation: "\r" stays
    lines = text.split("\n")
    assert lines[0] == '"label","value","count","plain","numeric_text"'
    body = lines[1:101]
    for i, line in enumerate(body):
        expected = neutralise_text(frame["label"][i]).replace('"', '""')
        assert line.startswith(f'"{expected}",'), line  # prefixed with ' and quoted
        assert expected.startswith("'")
    # No field starts with a trigger character once its quotes are removed, except the
    # numbers: negative values are written as numbers, unquoted.
    reread = pd.read_csv(path, keep_default_na=False, dtype={"numeric_text": str})
    for column in ("label", "plain"):
        assert not any(str(v).startswith(tuple(TRIGGERS)) for v in reread[column])
    assert reread["value"].dtype == float and (reread["value"] < 0).all()
    np.testing.assert_allclose(reread["value"], frame["value"], rtol=0, atol=0)
    assert list(reread["numeric_text"][:4]) == ["-5", "+3", "-1.5e3", ".5"]
    assert '"-5"' in text and "'-5" not in text


def test_tsv_export_neutralises_too_and_reads_back(tmp_path):
    frame = pd.DataFrame({"id": ["=1+1", "ok", "@x"], "x": [-1.0, 2.0, -3.5]})
    path = tmp_path / "out.tsv"
    write_table_atomic(frame, path)
    ds = load_table(path, id_column="id")
    assert list(ds.row_ids) == ["'=1+1", "ok", "'@x"]
    np.testing.assert_array_equal(ds.frame["x"], frame["x"])


def test_long_integers_are_exact_text_in_xlsx_and_exact_in_csv(tmp_path):
    ids = [2**53 + 1, 9_000_000_000_000_000_001, 12]
    frame = pd.DataFrame({"id": np.array(ids, dtype=np.int64), "x": [0.5, 1.5, 2.5]})
    xlsx = tmp_path / "ids.xlsx"
    write_table_atomic(frame, xlsx)
    cells = [row[0] for row in openpyxl.load_workbook(xlsx).active.iter_rows(min_row=2)]
    assert [c.value for c in cells] == [str(ids[0]), str(ids[1]), 12]
    csv_path = tmp_path / "ids.csv"
    write_table_atomic(frame, csv_path)
    assert list(load_table(csv_path, id_column="id").row_ids) == ids


# --------------------------------------------------------------------------- the pair


@pytest.fixture
def frames():
    old = pd.DataFrame({"id": ["a", "b"], "x": [1.0, 2.0]})
    new = pd.DataFrame({"id": ["a", "b", "c"], "x": [1.0, 2.0, 3.0]})
    return old, new


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_the_sidecar_records_checksum_and_rows(tmp_path, frames, suffix):
    _, new = frames
    path = tmp_path / f"t{suffix}"
    write_table_atomic(new, path, sidecar={"what": "test"})
    record = json.loads(sidecar_path(path).read_text())[INTEGRITY_KEY]
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["rows"] == 3 and record["bytes"] == path.stat().st_size
    status = verify_sidecar(path)
    assert status.state == "consistent" and status.ok and "3 rows" in status.message


def test_verify_sidecar_states(tmp_path, frames):
    old, _ = frames
    path = tmp_path / "t.csv"
    write_table_atomic(old, path)
    assert verify_sidecar(path).state == "missing"
    write_table_atomic(old, path, sidecar={"a": 1})
    assert verify_sidecar(path).ok
    path.write_text(path.read_text() + '"z",9\n')  # the table changed afterwards
    status = verify_sidecar(path)
    assert status.state == "stale" and "checksum does not match" in status.message
    sidecar_path(path).write_text('{"a": 1}')  # an old-style sidecar
    assert verify_sidecar(path).state == "stale"
    sidecar_path(path).write_text("[" * 100_000)
    assert "cannot be read" in verify_sidecar(path).message
    write_table_atomic(old, path, sidecar={"a": 1})
    path.unlink()
    assert "does not exist" in verify_sidecar(path).message


def test_reserved_key_in_the_metadata_is_refused(tmp_path, frames):
    with pytest.raises(DataError, match=INTEGRITY_KEY):
        write_table_atomic(frames[0], tmp_path / "t.csv", sidecar={INTEGRITY_KEY: 1})


def _previous_pair(tmp_path, frame, suffix=".csv"):
    path = tmp_path / f"t{suffix}"
    write_table_atomic(frame, path, sidecar={"version": "old"})
    return path, path.read_bytes(), sidecar_path(path).read_bytes()


def _assert_unchanged(path, table_bytes, side_bytes):
    assert path.read_bytes() == table_bytes
    assert sidecar_path(path).read_bytes() == side_bytes
    assert verify_sidecar(path).ok
    leftovers = [p.name for p in path.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no temporary or backup file left behind


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_failure_while_writing_the_table_keeps_the_pair(tmp_path, frames, monkeypatch, suffix):
    old, new = frames
    path, table_bytes, side_bytes = _previous_pair(tmp_path, old, suffix)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    target = {".csv": "_write_delimited", ".parquet": None, ".xlsx": "_write_xlsx"}[suffix]
    if target is None:
        monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    else:
        monkeypatch.setattr(writing_module, target, full_disk)
    with pytest.raises(DataError, match="No space left") as info:
        write_table_atomic(new, path, sidecar={"version": "new"})
    assert "nothing was replaced" in str(info.value)
    _assert_unchanged(path, table_bytes, side_bytes)


def test_failure_while_writing_the_sidecar_keeps_the_pair(tmp_path, frames, monkeypatch):
    old, new = frames
    path, table_bytes, side_bytes = _previous_pair(tmp_path, old)
    real = writing_module.staged_write
    calls = []

    def failing_second(target, *args, **kwargs):
        calls.append(target)
        if len(calls) == 2:  # the sidecar: the disk fills up
            raise OSError(28, "No space left on device")
        return real(target, *args, **kwargs)

    monkeypatch.setattr(writing_module, "staged_write", failing_second)
    with pytest.raises(DataError, match="nothing was replaced") as info:
        write_table_atomic(new, path, sidecar={"version": "new"})
    assert "unchanged" in info.value.remedy
    _assert_unchanged(path, table_bytes, side_bytes)


def test_failure_of_the_first_rename_keeps_the_pair(tmp_path, frames, monkeypatch):
    old, new = frames
    path, table_bytes, side_bytes = _previous_pair(tmp_path, old)

    def refuse(*args, **kwargs):
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(DataError, match="nothing was replaced"):
        write_table_atomic(new, path, sidecar={"version": "new"})
    monkeypatch.undo()
    _assert_unchanged(path, table_bytes, side_bytes)


def test_failure_between_the_renames_rolls_the_sidecar_back(tmp_path, frames, monkeypatch):
    old, new = frames
    path, table_bytes, side_bytes = _previous_pair(tmp_path, old)
    real = os.replace
    calls = []

    def second_fails(src, dst, *args, **kwargs):
        calls.append(dst)
        if len(calls) == 2:  # the table's rename
            raise OSError(5, "Input/output error")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", second_fails)
    with pytest.raises(DataError, match="rolled back"):
        write_table_atomic(new, path, sidecar={"version": "new"})
    monkeypatch.undo()
    _assert_unchanged(path, table_bytes, side_bytes)


def test_when_even_the_rollback_fails_the_pair_is_detectably_stale(
    tmp_path, frames, monkeypatch
):
    old, new = frames
    path, table_bytes, _ = _previous_pair(tmp_path, old)
    real = os.replace
    calls = []

    def only_first_works(src, dst, *args, **kwargs):
        calls.append(dst)
        if len(calls) >= 2:  # the table's rename, and the sidecar's restore
            raise OSError(5, "Input/output error")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", only_first_works)
    with pytest.raises(DataError, match="was replaced but the table was not") as info:
        write_table_atomic(new, path, sidecar={"version": "new"})
    monkeypatch.undo()
    assert "stale" in str(info.value)
    assert path.read_bytes() == table_bytes  # the previous table is intact
    status = verify_sidecar(path)
    assert status.state == "stale" and status.recorded["rows"] == 3


def test_no_previous_sidecar_and_failure_between_renames(tmp_path, frames, monkeypatch):
    old, new = frames
    path = tmp_path / "t.csv"
    write_table_atomic(old, path)
    before = path.read_bytes()
    real = os.replace
    calls = []

    def second_fails(src, dst, *args, **kwargs):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", second_fails)
    with pytest.raises(DataError, match="nothing was replaced"):
        write_table_atomic(new, path, sidecar={"version": "new"})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert verify_sidecar(path).state == "missing"  # the new sidecar was removed again


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_kill_9_between_the_two_renames_leaves_a_detectably_stale_pair(tmp_path, frames):
    old, _ = frames
    path, table_bytes, _ = _previous_pair(tmp_path, old)
    script = textwrap.dedent(
        f"""
        import os, signal
        import pandas as pd
        from gmm_desktop.data import write_table_atomic
        real = os.replace
        calls = []
        def replace(src, dst):
            real(src, dst)
            calls.append(dst)
            if len(calls) == 1:  # the sidecar is in place, the table is not yet
                os.kill(os.getpid(), signal.SIGKILL)
        os.replace = replace
        frame = pd.DataFrame({{"id": ["a", "b", "c"], "x": [1.0, 2.0, 3.0]}})
        write_table_atomic(frame, {str(path)!r}, sidecar={{"version": "new"}})
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    assert path.read_bytes() == table_bytes
    assert json.loads(sidecar_path(path).read_text())["version"] == "new"
    status = verify_sidecar(path)
    assert status.state == "stale" and "checksum does not match" in status.message
