"""Every kind of bad input gets a specific DataError (or warning) naming file/column/row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gmm_desktop.data import DataError, load_table, prepare_features, readers


@pytest.fixture(autouse=True, params=["pyarrow", "c"])
def csv_engine(request, monkeypatch):
    """Run every test with both CSV parsers (the choice depends on the machine)."""
    monkeypatch.setattr(readers, "ENGINE", request.param)
    return request.param

def test_missing_file(tmp_path):
    with pytest.raises(DataError) as info:
        load_table(tmp_path / "nope.csv")
    err = info.value
    assert err.path == tmp_path / "nope.csv"
    assert "'nope.csv'" in str(err) and "does not exist" in str(err)
    assert err.remedy and "What to do" in str(err)


def test_missing_folder_is_mentioned(tmp_path):
    with pytest.raises(DataError, match=r"folder .* does not exist either"):
        load_table(tmp_path / "no_dir" / "nope.csv")


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(DataError, match="folder, not a file"):
        load_table(tmp_path)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_empty_file(write, content):
    with pytest.raises(DataError, match="empty") as info:
        load_table(write("empty.csv", content))
    assert "'empty.csv'" in str(info.value)


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_header_without_rows(write, suffix):
    sep = "," if suffix == ".csv" else "\t"
    with pytest.raises(DataError, match=r"header .* but no data rows") as info:
        load_table(write("head" + suffix, f"alpha{sep}beta{sep}gamma\n"))
    assert "'alpha', 'beta', 'gamma'" in str(info.value)


def test_no_numeric_column(write):
    with pytest.raises(DataError, match="no numeric column") as info:
        load_table(write("text.csv", "name,city\nAnn,Oslo\nBob,Rome\n"))
    assert "'name'" in str(info.value) and "'city'" in str(info.value)
    assert info.value.remedy


def test_only_numeric_column_is_the_id_column(write):
    with pytest.raises(DataError, match="no numeric column"):
        load_table(write("idonly.csv", "key,name\n1,a\n2,b\n"), id_column="key")


def test_text_value_in_a_numeric_column_names_column_line_and_value(write):
    values = [f"{0.1 * i:.1f}" for i in range(200)]
    values[137] = "n/a-ish"
    body = "\n".join(f"{i},{v}" for i, v in enumerate(values))
    path = write("mostly.csv", f"id,temp\n{body}\n")
    with pytest.raises(DataError) as info:
        load_table(path)
    err = info.value
    assert err.column == "temp"
    assert err.row == 137
    assert err.row_label == "line 139"  # header is line 1, data row 0 is line 2
    text = str(err)
    assert "'n/a-ish'" in text and "column 'temp'" in text and "line 139" in text
    assert "'mostly.csv'" in text
    assert "99.5%" in text
    assert "text_columns=['temp']" in err.remedy


def test_text_value_with_decimal_comma_file(write):
    rows = [f"{i};{i},5" for i in range(50)] + ["50;oops"]
    path = write("eu_bad.csv", "n;wert\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as info:
        load_table(path)
    assert info.value.column == "wert" and info.value.row_label == "line 52"


def test_several_bad_values_are_counted(write):
    values = [str(i) for i in range(100)]
    values[10] = "x"
    values[20] = "y"
    path = write("two.csv", "v\n" + "\n".join(values) + "\n")
    with pytest.raises(DataError, match=r"'x' is not a number.*1 more") as info:
        load_table(path)
    assert info.value.row == 10


@pytest.mark.parametrize(
    ("content", "line", "fields"),
    [
        ("a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n11,12,13\n", 4, 4),
        ("a,b,c\n1,2,3\n4,5\n", 3, 2),
        ('a,b,c\n"x,y",2,3\n1,2,3\n\n1,2\n', 5, 2),
    ],
)
def test_ragged_row_names_the_line(write, content, line, fields):
    with pytest.raises(DataError) as info:
        load_table(write("ragged.csv", content))
    err = info.value
    assert err.row_label == f"line {line}"
    assert f"has {fields} fields but the header has 3" in str(err)


def test_ragged_row_in_a_big_file_is_found(write):
    lines = ["x,y"] + [f"{i},{i}" for i in range(100_000)]
    lines[77_777] = "1,2,3"
    with pytest.raises(DataError, match="line 77778"):
        load_table(write("bigragged.csv", "\n".join(lines) + "\n"))


def test_binary_file_with_csv_name(write):
    rng = np.random.default_rng(0)
    blob = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    with pytest.raises(DataError, match="binary data") as info:
        load_table(write("random.csv", blob))
    assert "'random.csv'" in str(info.value)


@pytest.mark.parametrize(
    ("writer", "what"),
    [
        (lambda df, p: df.to_parquet(p), "Parquet"),
        (lambda df, p: df.to_excel(p, index=False), "ZIP archive"),
        (lambda df, p: np.save(p, df.to_numpy()), "NumPy"),
    ],
)
def test_known_binary_format_with_csv_name_says_what_it_is(tmp_path, writer, what):
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]})
    real = tmp_path / "real.bin"
    with open(real, "wb") as handle:
        writer(frame, handle)
    fake = tmp_path / "fake.csv"
    fake.write_bytes(real.read_bytes())
    with pytest.raises(DataError, match=what):
        load_table(fake)


def test_text_starting_with_par1_is_still_text(write):
    ds = load_table(write("par.csv", "PAR1,PAR2\n1,2\n3,4\n"))
    assert ds.numeric_columns == ["PAR1", "PAR2"]


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_parquet(tmp_path, keep):
    frame = pd.DataFrame({"x": np.arange(5000.0), "y": np.arange(5000.0) ** 2})
    full = tmp_path / "full.parquet"
    frame.to_parquet(full)
    data = full.read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(DataError, match="could not be read as a Parquet file") as info:
        load_table(cut)
    assert "'cut.parquet'" in str(info.value)
    assert "truncated or damaged" in info.value.remedy


def test_excel_with_several_sheets_lists_them_and_sheet_chooses(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"a": [1.0, 2.0]}).to_excel(writer, sheet_name="First", index=False)
        pd.DataFrame({"b": [3.0, 4.0, 5.0]}).to_excel(writer, sheet_name="Data 2", index=False)
    with pytest.raises(DataError) as info:
        load_table(path)
    text = str(info.value)
    assert "2 sheets" in text and "'First'" in text and "'Data 2'" in text
    assert "sheet=" in info.value.remedy
    ds = load_table(path, sheet="Data 2")
    assert ds.numeric_columns == ["b"] and ds.n_rows == 3
    assert ds.sheet == "Data 2" and ds.name == "book.xlsx [Data 2]"
    assert load_table(path, sheet=0).numeric_columns == ["a"]
    with pytest.raises(DataError, match=r"no sheet named 'Third'.*'First', 'Data 2'"):
        load_table(path, sheet="Third")
    with pytest.raises(DataError, match="no sheet number 5"):
        load_table(path, sheet=5)


def test_single_row_loads_with_a_warning_and_prepare_refuses(write):
    ds = load_table(write("one.csv", "x,y\n1.5,2.5\n"))
    assert ds.n_rows == 1
    assert [w.code for w in ds.warnings] == ["single-row"]
    with pytest.raises(DataError, match="only 1 row"):
        prepare_features(ds)


def test_all_nan_column_is_reported_and_not_offered(write):
    ds = load_table(write("nan.csv", "x,empty,y\n1,,2\n3,NA,4\n5,nan,6\n"))
    assert ds.numeric_columns == ["x", "y"]
    assert "empty" in ds.other_columns
    warning = [w for w in ds.warnings if w.code == "empty-column"]
    assert len(warning) == 1 and warning[0].column == "empty"
    prepare_features(ds)  # the default selection works
    with pytest.raises(DataError, match="no values") as info:
        prepare_features(ds, ["x", "empty"])
    assert info.value.column == "empty"


def test_all_nan_float_column_in_parquet(tmp_path):
    path = tmp_path / "nan.parquet"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "gone": [np.nan] * 3}).to_parquet(path)
    ds = load_table(path)
    assert ds.numeric_columns == ["x"]
    assert any(w.code == "empty-column" and w.column == "gone" for w in ds.warnings)


def test_huge_values_whose_squares_overflow(write):
    rows = "\n".join(f"{(-1) ** i * (i + 1) * 1e306:.6e},{i}" for i in range(50))
    ds = load_table(write("huge.csv", f"big,small\n{rows}\n"))
    with pytest.raises(DataError, match="squares overflow") as info:
        prepare_features(ds, scaling="none")
    assert info.value.column == "big"
    assert "scaling='standardize'" in info.value.remedy
    prep = prepare_features(ds, scaling="standardize")
    assert np.all(np.isfinite(prep.X))
    assert np.all(np.isfinite(prep.X**2).sum(axis=0))
    np.testing.assert_allclose(prep.X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(prep.X.std(axis=0), 1, rtol=1e-12)
    back = prep.original_values()
    np.testing.assert_allclose(back[:, 0], ds.frame["big"].to_numpy(), rtol=1e-12)


def test_value_beyond_float_range_becomes_inf_and_is_reported(write):
    ds = load_table(write("inf.csv", "x,y\n1,2\n1e309,3\n4,5\n"))
    prep = prepare_features(ds)
    assert prep.report.rows_dropped == 1
    assert prep.report.infinite_counts == {"x": 1}
    assert "infinite" in prep.report.summary


def test_a_damaged_old_excel_file_names_the_format(write):
    # .xls is read (tests/data/test_excel.py); a damaged one says what it was read as
    with pytest.raises(DataError, match=r"could not be read as an Excel 97-2003 \.xls workbook"):
        load_table(write("old.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 100))


def test_thousands_separator_gets_a_specific_hint(write):
    rows = "\n".join(f"{i}.5" for i in range(40))
    with pytest.raises(DataError, match="thousands separators") as info:
        load_table(write("k.csv", f'amount\n"1,234.5"\n{rows}\n'))
    assert info.value.row_label == "line 2"
