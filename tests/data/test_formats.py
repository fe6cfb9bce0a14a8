"""Parquet, Excel and NumPy inputs."""

from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gmm_desktop.data import DataError, load_table


def test_parquet_keeps_types_and_all_columns(tmp_path):
    path = tmp_path / "t.parquet"
    table = pa.table(
        {
            "x": pa.array([1.5, 2.5, None], pa.float64()),
            "n": pa.array([1, 2, 3], pa.int32()),
            "price": pa.array(
                [decimal.Decimal("1.10"), decimal.Decimal("2.20"), decimal.Decimal("3.30")],
                pa.decimal128(5, 2),
            ),
            "when": pa.array([dt.date(2020, 1, d) for d in (1, 2, 3)]),
            "label": pa.array(["a", "b", "c"]),
            "flag": pa.array([True, False, True]),
            "text_numbers": pa.array(["1", "2", "3"]),
        }
    )
    pq.write_table(table, path, row_group_size=2)
    ds = load_table(path)
    assert ds.format == "parquet"
    assert list(ds.frame.columns) == table.column_names
    assert ds.numeric_columns == ["x", "n", "price"]
    # Parquet column types are kept: strings stay strings, booleans are not features.
    assert set(ds.other_columns) == {"when", "label", "flag", "text_numbers"}
    np.testing.assert_allclose(ds.frame["price"], [1.1, 2.2, 3.3])
    assert ds.locate(2) == "row index 2 (0-based)"


def test_parquet_with_a_stored_pandas_index_keeps_it_as_a_column(tmp_path):
    path = tmp_path / "idx.parquet"
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=pd.Index(["a", "b", "c"], name="key"))
    frame.to_parquet(path)
    ds = load_table(path, id_column="key")
    assert list(ds.frame.columns) == ["key", "x"]
    assert list(ds.row_ids) == ["a", "b", "c"]


def test_parquet_progress_and_cancel(tmp_path, monkeypatch):
    from gmm_desktop.data import _progress
    from gmm_desktop.errors import Cancelled

    monkeypatch.setattr(_progress, "INTERVAL", 0.0)  # report every batch
    path = tmp_path / "p.parquet"
    pd.DataFrame({"x": np.arange(300_000.0)}).to_parquet(path, row_group_size=50_000)
    seen: list[float] = []
    load_table(path, progress=lambda f, m: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and len(seen) >= 5
    assert seen == sorted(seen)
    stops: list[float] = []

    def stop_midway(fraction: float, message: str) -> bool:
        stops.append(fraction)
        return fraction > 0.3

    with pytest.raises(Cancelled):
        load_table(path, progress=stop_midway)
    assert 0.3 < stops[-1] < 0.9  # stopped while reading, not at the end


def test_excel_single_sheet_with_numbers_stored_as_text(tmp_path):
    path = tmp_path / "s.xlsx"
    frame = pd.DataFrame(
        {
            "name": ["a", "b", "c", "d"],
            "x": [1.5, 2.5, None, 4.5],
            "as_text": ["1", "2", "3", "NA"],
            "when": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"]),
        }
    )
    frame.to_excel(path, index=False, sheet_name="Only")
    ds = load_table(path)
    assert ds.format == "excel" and ds.sheet == "Only"
    assert list(ds.frame.columns) == ["name", "x", "as_text", "when"]
    assert ds.numeric_columns == ["x", "as_text"]
    np.testing.assert_allclose(ds.frame["as_text"], [1, 2, 3, np.nan])
    assert ds.locate(0) == "row 2 of sheet 'Only'"


def test_excel_text_in_numeric_column_names_the_sheet_row(tmp_path):
    path = tmp_path / "bad.xlsx"
    values: list[object] = [float(i) for i in range(30)]
    values[12] = "oops"
    pd.DataFrame({"x": values}).to_excel(path, index=False, sheet_name="Data")
    with pytest.raises(DataError) as info:
        load_table(path)
    assert info.value.row_label == "row 14 of sheet 'Data'"
    assert info.value.column == "x" and "'oops'" in str(info.value)


def test_excel_table_not_starting_at_a1(tmp_path):
    import openpyxl

    path = tmp_path / "offset.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "S"
    sheet["B3"], sheet["C3"] = "x", "y"
    for i in range(4):
        sheet.cell(row=4 + i, column=2, value=float(i))
        sheet.cell(row=4 + i, column=3, value=float(i * i))
    book.save(path)
    ds = load_table(path)
    assert list(ds.frame.columns) == ["x", "y"]
    np.testing.assert_allclose(ds.frame["y"], [0, 1, 4, 9])
    assert ds.locate(0) == "row 4 of sheet 'S'"


def test_damaged_excel_file(tmp_path):
    path = tmp_path / "broken.xlsx"
    pd.DataFrame({"x": [1.0, 2.0]}).to_excel(path, index=False)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="could not be read as an Excel"):
        load_table(path)


def test_empty_excel_sheet(tmp_path):
    import openpyxl

    path = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(DataError, match="is empty"):
        load_table(path)


def test_npy_2d_and_1d(tmp_path):
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.save(tmp_path / "a.npy", X)
    ds = load_table(tmp_path / "a.npy")
    assert list(ds.frame.columns) == ["column_1", "column_2", "column_3"]
    np.testing.assert_array_equal(ds.frame.to_numpy(), X)
    np.save(tmp_path / "b.npy", np.array([1.0, 2.0, 3.0]))
    assert load_table(tmp_path / "b.npy").frame.shape == (3, 1)


def test_npy_structured_array_uses_field_names(tmp_path):
    arr = np.array([(1, 2.5, b"a"), (2, 3.5, b"b")], dtype=[("id", "i4"), ("x", "f8"), ("s", "S1")])
    np.save(tmp_path / "s.npy", arr)
    ds = load_table(tmp_path / "s.npy", id_column="id")
    assert ds.numeric_columns == ["x"]
    assert list(ds.row_ids) == [1, 2]


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 2, 2)), "3 dimensions"),
        (np.array([1 + 2j, 3j]), "complex"),
        (np.zeros((0, 3)), "no data rows"),
    ],
)
def test_npy_unusable_arrays(tmp_path, array, message):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(DataError, match=message):
        load_table(tmp_path / "bad.npy")


def test_npy_object_array_is_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="Python objects"):
        load_table(tmp_path / "obj.npy")


def test_truncated_npy(tmp_path):
    np.save(tmp_path / "t.npy", np.arange(1000.0).reshape(100, 10))
    data = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(data[:3000])
    with pytest.raises(DataError, match="NumPy"):
        load_table(tmp_path / "t.npy")


def test_npz_one_or_several_arrays(tmp_path):
    np.savez(tmp_path / "one.npz", X=np.ones((5, 2)))
    assert load_table(tmp_path / "one.npz").frame.shape == (5, 2)
    np.savez_compressed(tmp_path / "two.npz", X=np.ones((5, 2)), y=np.arange(5))
    with pytest.raises(DataError, match="2 arrays: 'X', 'y'"):
        load_table(tmp_path / "two.npz")
    ds = load_table(tmp_path / "two.npz", sheet="y")
    assert ds.name == "two.npz [y]"
    np.testing.assert_array_equal(ds.frame["column_1"], np.arange(5))
    with pytest.raises(DataError, match="no array named 'z'"):
        load_table(tmp_path / "two.npz", sheet="z")
