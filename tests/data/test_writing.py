"""write_table_atomic and the atomic_write helper."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest

from gmm_desktop.data import DataError, load_table, sidecar_path, write_table_atomic
from gmm_desktop.fileio import atomic_write


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "row_id": ["a", "b", "c"],
            "x": [1.5, -2.25, 1e-10],
            "score": [0.1, 0.2, np.nan],
            "flag": [True, False, True],
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".xlsx"])
def test_round_trip_through_the_loader(tmp_path, frame, suffix):
    path = tmp_path / f"out{suffix}"
    assert write_table_atomic(frame, path) == path
    ds = load_table(path, id_column="row_id")
    assert list(ds.frame.columns) == list(frame.columns)
    assert list(ds.row_ids) == ["a", "b", "c"]
    np.testing.assert_array_equal(ds.frame["x"].to_numpy(dtype=float), frame["x"].to_numpy())
    assert np.isnan(ds.frame["score"].iloc[2])
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_sidecar_is_written_next_to_the_table(tmp_path, frame):
    path = tmp_path / "scores.csv"
    meta = {"model": "m.json", "threshold": np.float64(3.5), "columns": np.array(["x"])}
    write_table_atomic(frame, path, sidecar=meta)
    side = sidecar_path(path)
    assert side.name == "scores.csv.json"
    written = json.loads(side.read_text())
    integrity = written.pop("table_integrity")
    assert written == {"model": "m.json", "threshold": 3.5, "columns": ["x"]}
    assert integrity["rows"] == 3 and integrity["file"] == "scores.csv"
    assert integrity["bytes"] == path.stat().st_size


def test_invalid_sidecar_writes_nothing(tmp_path, frame):
    path = tmp_path / "t.csv"
    path.write_text("old\n")
    with pytest.raises(DataError, match="JSON"):
        write_table_atomic(frame, path, sidecar={"bad": float("nan")})
    assert path.read_text() == "old\n"
    assert not sidecar_path(path).exists()


def test_a_failure_during_writing_keeps_the_old_file(tmp_path, frame, monkeypatch):
    path = tmp_path / "keep.parquet"
    write_table_atomic(frame, path)
    before = path.read_bytes()

    def explode(self, target, *args, **kwargs):
        with open(target, "wb") as handle:
            handle.write(b"PAR1 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", explode)
    with pytest.raises(DataError, match="No space left") as info:
        write_table_atomic(frame.iloc[:1], path)
    assert "unchanged" in info.value.remedy
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.parquet"]


@pytest.mark.parametrize("name", ["x.json", "x", "x.xls"])
def test_unsupported_extension(tmp_path, frame, name):
    with pytest.raises(DataError, match="extension"):
        write_table_atomic(frame, tmp_path / name)


def test_missing_folder(tmp_path, frame):
    with pytest.raises(DataError, match="does not exist"):
        write_table_atomic(frame, tmp_path / "nope" / "x.csv")


def test_atomic_write_text_binary_and_path_modes(tmp_path):
    target = tmp_path / "doc.txt"
    with atomic_write(target, "w") as handle:
        handle.write("héllo")
    assert target.read_text(encoding="utf-8") == "héllo"
    with atomic_write(target, "wb") as handle:
        handle.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    with atomic_write(target) as temp:
        assert temp.parent == tmp_path and temp != target
        temp.write_text("via path")
    assert target.read_text() == "via path"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.txt"]


def test_atomic_write_failure_leaves_old_content_and_no_temp(tmp_path):
    target = tmp_path / "doc.txt"
    target.write_text("original")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as handle:
        handle.write("half of the new")
        raise RuntimeError("boom")
    assert target.read_text() == "original"
    with pytest.raises(KeyboardInterrupt), atomic_write(target) as temp:
        temp.write_text("x")
        raise KeyboardInterrupt
    assert target.read_text() == "original"
    assert [p.name for p in tmp_path.iterdir()] == ["doc.txt"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_atomic_write_keeps_permissions(tmp_path):
    target = tmp_path / "p.txt"
    target.write_text("a")
    os.chmod(target, 0o640)
    with atomic_write(target, "w") as handle:
        handle.write("b")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_atomic_write_rejects_read_modes_and_missing_folders(tmp_path):
    with pytest.raises(ValueError, match="write mode"), atomic_write(tmp_path / "a", "r"):
        pass
    with pytest.raises(FileNotFoundError), atomic_write(tmp_path / "no" / "a", "w"):
        pass
