"""Files found by the bad-input harness (benchmarks/bad_inputs.py): each gives one clear
DataError quickly, never a hang, a traceback or silently shifted columns (issue 14)."""

from __future__ import annotations

import os
import time

import pytest

from gmm_desktop.data import DataError, load_table, readers


@pytest.fixture(params=["c", "pyarrow"])
def engine(request, monkeypatch):
    monkeypatch.setattr(readers, "ENGINE", request.param)
    return request.param


def test_a_first_row_with_200000_fields_is_a_ragged_row_not_minutes_of_work(tmp_path, engine):
    path = tmp_path / "long.csv"
    path.write_text("x,y\n" + ",".join(["1"] * 200_000) + "\n1,2\n")
    start = time.perf_counter()
    with pytest.raises(DataError, match="line 2: this row has 200000 fields but the header has 2"):
        load_table(path)
    assert time.perf_counter() - start < 30


@pytest.mark.parametrize("body", ["0,1,2\n1,3,4\n2,5,6\n", "1,2,\n3,4,\n5,6,\n"],
                         ids=["one-more-field", "trailing-delimiter"])
def test_rows_longer_than_the_header_never_shift_the_columns(tmp_path, engine, body):
    path = tmp_path / "shifted.csv"
    path.write_text("x,y\n" + body)
    with pytest.raises(DataError, match="this row has 3 fields but the header has 2"):
        load_table(path)


@pytest.mark.skipif(os.name != "posix", reason="symlinks and FIFOs")
def test_a_symlink_loop_is_a_clear_error(tmp_path):
    os.symlink(tmp_path / "b.csv", tmp_path / "a.csv")
    os.symlink(tmp_path / "a.csv", tmp_path / "b.csv")
    with pytest.raises(DataError, match="link that leads nowhere"):
        load_table(tmp_path / "a.csv")


@pytest.mark.skipif(os.name != "posix", reason="symlinks and FIFOs")
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_pipes_and_devices_are_refused_without_reading(tmp_path, kind):
    if kind == "fifo":
        path = tmp_path / "pipe.csv"
        os.mkfifo(path)
    else:
        path = "/dev/zero"
    with pytest.raises(DataError, match="not a regular file"):
        load_table(path)


@pytest.mark.parametrize(
    "text",
    [",\"a" * 30_000, "x,t\n" + "\n".join(f'{i},"' + "[" * 5000 + '"' for i in range(30))],
    ids=["quotes", "long-quoted-fields"],
)
def test_quote_heavy_text_is_sniffed_in_linear_time(tmp_path, text):
    path = tmp_path / "quotes.csv"
    path.write_text(text + "\n")
    start = time.perf_counter()
    try:
        load_table(path)
    except DataError:
        pass
    assert time.perf_counter() - start < 10  # csv.Sniffer on 64 KB of ',"a' took 20 s
