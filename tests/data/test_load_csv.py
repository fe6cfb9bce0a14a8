"""Loading delimited text: dialect detection, types, row identity, progress."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from gmm_desktop.data import DataError, load_table, readers
from gmm_desktop.errors import Cancelled, GmmDesktopError


@pytest.fixture(autouse=True, params=["pyarrow", "c"])
def csv_engine(request, monkeypatch):
    """Run every test with both CSV parsers (the choice depends on the machine)."""
    monkeypatch.setattr(readers, "ENGINE", request.param)
    return request.param

def test_plain_csv_keeps_all_columns_and_splits_numeric_from_other(write):
    path = write(
        "plain.csv",
        "id,x,y,site,when\n"
        "a1,1.5,10,north,2021-01-01\n"
        "a2,2.5,20,south,2021-01-02\n"
        "a3,-3.25,30,east,2021-01-03\n",
    )
    ds = load_table(path)
    assert list(ds.frame.columns) == ["id", "x", "y", "site", "when"]
    assert ds.numeric_columns == ["x", "y"]
    assert ds.other_columns == ["id", "site", "when"]
    assert ds.n_rows == 3
    np.testing.assert_array_equal(ds.row_ids, [0, 1, 2])
    np.testing.assert_array_equal(ds.frame["x"].to_numpy(), [1.5, 2.5, -3.25])
    assert ds.frame["y"].dtype.kind == "i"
    assert list(ds.frame["site"]) == ["north", "south", "east"]
    assert ds.format == "csv"
    assert ds.name == "plain.csv"
    assert ds.id_column is None


def test_id_column_gives_row_identity_and_is_not_a_feature(write):
    path = write("ids.csv", "sample,x,y\nS3,1,2\nS1,3,4\nS2,5,6\n")
    ds = load_table(path, id_column="sample")
    assert list(ds.row_ids) == ["S3", "S1", "S2"]
    assert ds.id_column == "sample"
    assert ds.numeric_columns == ["x", "y"]
    assert ds.position_of("S1") == 1
    with pytest.raises(KeyError):
        ds.position_of("nope")


def test_numeric_id_column_is_excluded_from_features(write):
    path = write("nid.csv", "key,x\n10,1.0\n20,2.0\n30,4.0\n")
    ds = load_table(path, id_column="key")
    assert ds.numeric_columns == ["x"]
    assert "key" in ds.other_columns
    np.testing.assert_array_equal(ds.row_ids, [10, 20, 30])
    back = ds.with_id_column(None)
    assert back.numeric_columns == ["key", "x"]
    np.testing.assert_array_equal(back.row_ids, [0, 1, 2])
    assert ds.numeric_columns == ["x"]  # the original is unchanged


def test_duplicate_ids_are_an_error_naming_value_and_lines(write):
    path = write("dup.csv", "id,x\nA,1\nB,2\nA,3\nC,4\n")
    with pytest.raises(DataError) as info:
        load_table(path, id_column="id")
    err = info.value
    assert err.column == "id"
    assert err.row == 2
    assert "'A'" in str(err) and "line 2" in str(err) and "line 4" in str(err)
    assert "unique" in str(err)
    assert err.remedy


def test_missing_id_value_and_unknown_id_column(write):
    path = write("ids.csv", "id,x\nA,1\n,2\nC,3\n")
    with pytest.raises(DataError, match="line 3") as info:
        load_table(path, id_column="id")
    assert info.value.row == 1
    with pytest.raises(DataError, match="Did you mean 'id'"):
        load_table(path, id_column="idd")


def test_semicolon_european_csv_with_decimal_comma(write):
    path = write("eu.csv", "Länge;Breite;Ort\n1,5;2,25;Köln\n3,75;-4,5;Bonn\n10;0,125;Ulm\n")
    ds = load_table(path)
    assert ds.numeric_columns == ["Länge", "Breite"]
    np.testing.assert_allclose(ds.frame["Länge"], [1.5, 3.75, 10.0])
    np.testing.assert_allclose(ds.frame["Breite"], [2.25, -4.5, 0.125])
    assert list(ds.frame["Ort"]) == ["Köln", "Bonn", "Ulm"]


def test_explicit_delimiter_and_decimal_override_detection(write):
    path = write("amb.txt", "a|b\n1,5|2\n3,5|4\n")
    ds = load_table(path, delimiter="|", decimal=",")
    np.testing.assert_allclose(ds.frame["a"], [1.5, 3.5])
    with pytest.raises(DataError, match="decimal mark and the delimiter"):
        load_table(path, delimiter=",", decimal=",")


def test_tsv_and_utf8_bom_and_crlf(write):
    path = write("t.tsv", b"\xef\xbb\xbfname\tx\ty\r\nfoo\t1.5\t2\r\nbar\t3.5\t4\r\n")
    ds = load_table(path)
    assert list(ds.frame.columns) == ["name", "x", "y"]  # no BOM in the first name
    np.testing.assert_allclose(ds.frame["x"], [1.5, 3.5])


def test_quoted_fields_with_delimiters_quotes_and_newlines(write):
    path = write(
        "q.csv",
        'label,x\n"Smith, John",1\n"say ""hi""",2\n"two\nlines",3\n',
    )
    ds = load_table(path)
    assert list(ds.frame["label"]) == ["Smith, John", 'say "hi"', "two\nlines"]
    np.testing.assert_array_equal(ds.frame["x"], [1, 2, 3])


def test_headerless_numeric_file_gets_generated_names(write):
    path = write("nohead.csv", "1.5,2\n3.5,4\n5.5,6\n")
    ds = load_table(path)
    assert list(ds.frame.columns) == ["column_1", "column_2"]
    assert ds.n_rows == 3
    forced = load_table(path, header=True)
    assert list(forced.frame.columns) == ["1.5", "2"]
    assert forced.n_rows == 2


def test_numeric_looking_header_detected_over_text_labels(write):
    # A header is recognised when a text cell sits above a column of numbers.
    path = write("h.csv", "name,2019,value\nA,1,2\nB,3,4\n")
    ds = load_table(path)
    assert list(ds.frame.columns) == ["name", "2019", "value"]
    # Without such a cell it is ambiguous and read as data; header=True settles it.
    path1 = write("h1.csv", "name,2019,2020\nA,1,2\nB,3,4\n")
    assert load_table(path1).n_rows == 3
    assert list(load_table(path1, header=True).frame.columns) == ["name", "2019", "2020"]
    # No header: text label column plus numbers in the first row.
    path2 = write("h2.csv", "A,1.5\nB,2.5\nC,3.5\n")
    ds2 = load_table(path2)
    assert list(ds2.frame.columns) == ["column_1", "column_2"]
    assert ds2.n_rows == 3


def test_whitespace_separated_columns_use_the_c_engine_fallback(write):
    path = write("ws.dat", "x   y    z\n1.0 2.0  3.0\n4.0   5.0 6.0\n")
    ds = load_table(path)
    assert list(ds.frame.columns) == ["x", "y", "z"]
    np.testing.assert_allclose(ds.frame.to_numpy(), [[1, 2, 3], [4, 5, 6]])


def test_missing_markers_become_nan_in_numeric_columns(write):
    path = write("m.csv", "x,y\n1,NA\n2,\n3,-\n4,null\n5,N/A\n6,?\n7,nan\n8,8\n")
    ds = load_table(path)
    assert ds.numeric_columns == ["x", "y"]
    y = ds.frame["y"].to_numpy(dtype=float)
    assert np.isnan(y[:7]).all() and y[7] == 8.0


def test_values_with_blanks_and_infinities_are_numbers(write):
    path = write("sp.csv", "x,y\n 1.5 ,inf\n2.5,-Infinity\n 3 ,4\n")
    ds = load_table(path)
    assert ds.numeric_columns == ["x", "y"]
    np.testing.assert_allclose(ds.frame["x"], [1.5, 2.5, 3.0])
    assert list(np.isinf(ds.frame["y"].to_numpy(dtype=float))) == [True, True, False]


def test_custom_missing_values_and_text_columns(write):
    rows = "\n".join(f"{i},{i * 0.5}" for i in range(30))
    path = write("c.csv", f"code,x\n{rows}\nunknown,1.0\n")
    with pytest.raises(DataError) as info:
        load_table(path)
    assert info.value.column == "code"
    ds = load_table(path, missing_values=["unknown"])
    assert "code" in ds.numeric_columns
    assert np.isnan(ds.frame["code"].iloc[-1])
    ds2 = load_table(path, text_columns=["code"])
    assert ds2.numeric_columns == ["x"]
    assert ds2.frame["code"].iloc[-1] == "unknown"


def test_mixed_column_between_half_and_ninety_percent_numbers_is_text_with_warning(write):
    values = ["1", "2", "3", "x", "4", "y", "5", "6"]  # 75 % numbers
    body = "\n".join(f"{v},{i}" for i, v in enumerate(values))
    ds = load_table(write("mx.csv", f"grade,x\n{body}\n"))
    assert ds.numeric_columns == ["x"]
    codes = {w.code: w for w in ds.warnings}
    assert "mixed-column" in codes
    assert codes["mixed-column"].column == "grade"
    assert "'x'" in codes["mixed-column"].message and "line 5" in codes["mixed-column"].message


def test_duplicate_and_empty_header_names_are_made_unique_with_warnings(write):
    path = write("names.csv", "a,a,,b\n1,2,3,4\n5,6,7,8\n")
    ds = load_table(path)
    assert list(ds.frame.columns) == ["a", "a.1", "column_3", "b"]
    codes = sorted(w.code for w in ds.warnings)
    assert codes == ["duplicate-column-name", "unnamed-column"]


def test_index_like_column_is_flagged(write):
    rows = "\n".join(f"{i},{np.sin(i):.4f}" for i in range(1, 21))
    ds = load_table(write("idx.csv", f"n,x\n{rows}\n"))
    warning = [w for w in ds.warnings if w.code == "index-like-column"]
    assert len(warning) == 1 and warning[0].column == "n"
    assert "id_column='n'" in str(warning[0])
    # Once it is the ID column there is nothing to warn about.
    assert not [w for w in ds.with_id_column("n").warnings if w.code == "index-like-column"]


def test_latin1_file_is_read_with_a_warning(write):
    path = write("l1.csv", "ville,x\nZürich,1\nGenève,2\n".encode("latin-1"))
    ds = load_table(path)
    assert list(ds.frame["ville"]) == ["Zürich", "Genève"]
    assert [w.code for w in ds.warnings] == ["not-utf8"]


def test_locate_maps_rows_to_file_lines_across_blank_and_multiline_records(write):
    path = write("loc.csv", 'name,x\n"a\nb",1\n\nc,2\nd,3\n')
    ds = load_table(path)
    assert ds.n_rows == 3
    assert ds.locate(0) == "line 2"
    assert ds.locate(1) == "line 5"
    assert ds.locate(2) == "line 6"


def _counting_progress():
    calls: list[tuple[float, str, int]] = []

    def progress(fraction: float, message: str) -> None:
        calls.append((fraction, message, threading.get_ident()))

    return calls, progress


def test_progress_is_reported_in_order_from_the_calling_thread(write):
    path = write("p.csv", "a,b,c\n" + "1.5,2.5,3.5\n" * 400_000)
    calls, progress = _counting_progress()
    ds = load_table(path, progress=progress)
    assert ds.n_rows == 400_000
    fractions = [c[0] for c in calls]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    assert {c[2] for c in calls} == {threading.get_ident()}
    assert "p.csv" in calls[-1][1]


@pytest.mark.parametrize("stop_at", ["Opening", "Converting", "Loaded"])
def test_cancel_raises_cancelled_at_any_stage(write, stop_at):
    path = write("c.csv", "a,b\n" + "1,2\n" * 1000)

    def progress(fraction: float, message: str) -> bool:
        return message.startswith(stop_at)

    with pytest.raises(Cancelled, match=r"c\.csv"):
        load_table(path, progress=progress)


def test_cancel_while_reading_stops_the_parser_thread_early():
    """The reader thread is told to stop; the caller gets Cancelled without waiting."""
    import io
    import time

    from gmm_desktop.data._progress import Progress
    from gmm_desktop.data.readers import _CountingReader, _run_with_polling

    counter = _CountingReader(io.BytesIO(b"x" * 10_000_000))
    chunks: list[int] = []

    def slow_work() -> int:
        while True:
            data = counter.read(10_000)
            if not data:
                return len(chunks)
            chunks.append(len(data))
            time.sleep(0.001)

    asked: list[float] = []

    def progress(fraction: float, message: str) -> bool:
        asked.append(fraction)
        return fraction > 0

    start = time.perf_counter()
    with pytest.raises(Cancelled):
        _run_with_polling(slow_work, counter, 10_000_000, Progress(progress, "x", 0.0), "x")
    assert counter.stopped
    assert sum(chunks) < 10_000_000  # stopped long before the end
    assert time.perf_counter() - start < 5
    assert asked and asked[-1] > 0


def test_progress_callback_errors_propagate(write):
    path = write("e.csv", "a\n1\n2\n")

    def progress(fraction: float, message: str) -> None:
        raise RuntimeError("callback broke")

    with pytest.raises(RuntimeError, match="callback broke"):
        load_table(path, progress=progress)


def test_a_failed_load_leaves_the_previous_dataset_untouched(write):
    good = load_table(write("good.csv", "x,y\n1,2\n3,4\n"))
    snapshot = good.frame.copy()
    ids = good.row_ids.copy()
    for bad in [
        write("bad1.csv", "x,y\n1,2\n3,4,5\n"),
        write("bad2.csv", ""),
        write("bad3.csv", "x,y\n"),
    ]:
        with pytest.raises(GmmDesktopError):
            load_table(bad)
    pd.testing.assert_frame_equal(good.frame, snapshot)
    np.testing.assert_array_equal(good.row_ids, ids)
    assert good.numeric_columns == ["x", "y"]


def test_sheet_argument_is_rejected_for_text_files(write):
    with pytest.raises(DataError, match="no sheets"):
        load_table(write("s.csv", "x\n1\n2\n"), sheet="Sheet1")


def test_loaded_frame_matches_pandas_on_a_typical_file(write, tmp_path):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(500, 4)), columns=list("abcd"))
    frame["label"] = rng.choice(["u", "v"], size=500)
    frame["count"] = rng.integers(0, 1000, size=500)
    path = tmp_path / "typical.csv"
    frame.to_csv(path, index=False)
    ds = load_table(path)
    expected = pd.read_csv(path)
    np.testing.assert_array_equal(ds.frame[list("abcd")].to_numpy(), expected[list("abcd")])
    np.testing.assert_array_equal(ds.frame["count"], expected["count"])
    assert ds.numeric_columns == ["a", "b", "c", "d", "count"]
