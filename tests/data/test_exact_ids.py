"""Identifiers stay exact: 20-digit integer IDs never become 1e+20, 21-digit IDs are not
duplicates of each other, whatever the reader (issue 14)."""

from __future__ import annotations

import decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gmm_desktop.data import load_table, prepare_features, readers, write_table_atomic

ID20 = [50_000_000_000_000_000_000 + i for i in range(8)]  # > uint64: text
ID21 = [100_000_000_000_000_000_000 + i for i in range(8)]  # 21 digits: text
ID20_UINT = [15_000_000_000_000_000_000 + i for i in range(8)]  # in uint64, not int64
ID19 = [9_000_000_000_000_000_000 + i for i in range(8)]  # int64, beyond 2**53
X = [0.25, 1.5, -0.75, 2.0, 0.1, -1.2, 3.3, 0.0]


@pytest.fixture(params=["c", "pyarrow"])
def engine(request, monkeypatch):
    monkeypatch.setattr(readers, "ENGINE", request.param)
    return request.param


def _csv(tmp_path, ids, name="ids.csv", gap=None):
    lines = ["id,x"]
    for i, (v, x) in enumerate(zip(ids, X, strict=True)):
        lines.append(f"{'NA' if i == gap else v},{x}")
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("ids", [ID20, ID21, ID20_UINT], ids=["20-digit", "21-digit", "uint64"])
def test_ids_beyond_int64_are_kept_exactly_as_text(tmp_path, engine, ids):
    ds = load_table(_csv(tmp_path, ids), id_column="id")
    assert list(ds.row_ids) == [str(v) for v in ids]
    assert ds.numeric_columns == ["x"]
    assert not [w for w in ds.warnings if w.code == "long-integers"]  # it is the ID column
    assert ds.position_of(str(ids[3])) == 3


def test_a_long_integer_column_that_is_not_the_id_is_text_with_a_warning(tmp_path, engine):
    ds = load_table(_csv(tmp_path, ID21))
    assert ds.frame["id"].tolist() == [str(v) for v in ID21]
    assert "id" not in ds.numeric_columns
    warning = next(w for w in ds.warnings if w.code == "long-integers")
    assert "kept exactly, as text" in warning.message and warning.column == "id"
    assert ds.with_id_column("id").row_ids[0] == str(ID21[0])


def test_ids_beyond_two_to_the_53_in_int64_stay_integers(tmp_path, engine):
    ds = load_table(_csv(tmp_path, ID19), id_column="id")
    assert ds.row_ids.dtype == np.int64 and ds.row_ids.tolist() == ID19


def test_a_gap_in_a_column_of_long_integers_does_not_round_them(tmp_path, engine):
    ds = load_table(_csv(tmp_path, ID19, gap=2))
    column = ds.frame["id"]
    assert str(column.dtype) == "Int64"
    assert column.iloc[1] == ID19[1] and pd.isna(column.iloc[2]) and column.iloc[7] == ID19[7]


def test_floats_written_as_floats_stay_floats(tmp_path, engine):
    path = tmp_path / "f.csv"
    path.write_text("v,x\n1e20,1\n2.5e19,2\n3.0,3\n4,4.5\n")
    ds = load_table(path)
    assert ds.frame["v"].dtype == np.float64 and ds.frame["v"].iloc[0] == 1e20


def test_round_trip_of_long_ids_through_every_writable_format(tmp_path):
    frame = pd.DataFrame({"id": [str(v) for v in ID21], "x": X})
    for suffix in (".csv", ".tsv", ".parquet", ".xlsx"):
        path = tmp_path / f"out{suffix}"
        write_table_atomic(frame, path)
        assert list(load_table(path, id_column="id").row_ids) == [str(v) for v in ID21], suffix


def test_excel_text_cells_holding_long_ids(tmp_path):
    path = tmp_path / "ids.xlsx"
    pd.DataFrame({"id": [str(v) for v in ID20], "x": X}).to_excel(path, index=False)
    ds = load_table(path, id_column="id")
    assert list(ds.row_ids) == [str(v) for v in ID20]


def test_parquet_decimal_and_uint64_ids(tmp_path):
    table = pa.table(
        {
            "dec": pa.array([decimal.Decimal(v) for v in ID21], pa.decimal128(25, 0)),
            "dec_small": pa.array([decimal.Decimal(i) for i in range(8)], pa.decimal128(25, 0)),
            "u": pa.array(ID20_UINT, pa.uint64()),
            "x": X,
        }
    )
    path = tmp_path / "ids.parquet"
    pq.write_table(table, path)
    ds = load_table(path, id_column="dec")
    assert list(ds.row_ids) == [str(v) for v in ID21]
    assert ds.frame["dec_small"].tolist() == list(range(8))  # whole decimals: int64
    assert load_table(path, id_column="u").row_ids.tolist() == [str(v) for v in ID20_UINT]
    prep = prepare_features(ds, ["x", "dec_small"])
    assert prep.row_ids.tolist() == [str(v) for v in ID21]


def test_parquet_int64_ids_with_a_gap(tmp_path):
    path = tmp_path / "gap.parquet"
    pq.write_table(pa.table({"id": pa.array([*ID19[:7], None], pa.int64()), "x": X}), path)
    column = load_table(path).frame["id"]
    assert str(column.dtype) == "Int64" and column.iloc[6] == ID19[6]


def test_npz_uint64_ids(tmp_path):
    path = tmp_path / "ids.npz"
    np.savez(path, data=np.array([[v, i] for i, v in enumerate(ID20_UINT)], dtype=np.uint64))
    ds = load_table(path, id_column="column_1")
    assert ds.row_ids.tolist() == [str(v) for v in ID20_UINT]
    assert ds.numeric_columns == ["column_2"]


def test_the_duplicate_message_shows_the_exact_id(tmp_path, engine):
    path = _csv(tmp_path, [ID21[0], ID21[0], *ID21[2:]])
    with pytest.raises(Exception, match=rf"'{ID21[0]}' appears 2 times"):
        load_table(path, id_column="id")
