"""Messages echo bounded input; CR-only line endings and UTF-16 without a byte-order mark
are read as the text they are (issue 14)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gmm_desktop.data import DataError, load_table, prepare_features, readers
from gmm_desktop.data.errors import ECHO_LIMIT, clip_text

LIMIT = 600  # a message: what and where, the remedy, and a few echoed values


@pytest.fixture(params=["c", "pyarrow"])
def engine(request, monkeypatch):
    monkeypatch.setattr(readers, "ENGINE", request.param)
    return request.param


def _message(call) -> str:
    with pytest.raises(DataError) as info:
        call()
    text = str(info.value)
    assert "\n" not in text and "\r" not in text
    return text


def test_clip_text():
    assert clip_text("abc") == "abc"
    clipped = clip_text("x" * 5000)
    assert len(clipped) == ECHO_LIMIT and clipped.endswith("…")
    assert clip_text("a\nb\x00") == "a\\nb\\x00"


def test_a_one_megabyte_field_is_not_echoed(tmp_path, engine):
    path = tmp_path / "big.csv"
    values = "\n".join(f"{i}.5" for i in range(40))
    path.write_text("x\n" + values + "\n" + "y" * 1_000_000 + "\n")
    message = _message(lambda: load_table(path))
    assert "is not a number" in message and len(message) < LIMIT
    assert "y" * (ECHO_LIMIT + 1) not in message and "…" in message


def test_a_one_megabyte_header_is_not_echoed(tmp_path, engine):
    path = tmp_path / "header.csv"
    path.write_text("h" * 1_000_000 + ",b\nx,y\nz,w\n")
    message = _message(lambda: load_table(path))
    assert "no numeric column" in message and len(message) < LIMIT


def test_binary_looking_text_shown_as_a_header_is_bounded(tmp_path, engine):
    rng = np.random.default_rng(0)
    junk = bytes(rng.integers(128, 256, 8192, dtype=np.uint8))  # Latin-1 "text"
    path = tmp_path / "junk.csv"
    path.write_bytes(junk + b"\n" + junk + b"\n")
    message = _message(lambda: load_table(path))
    assert len(message) < LIMIT


def test_ten_thousand_columns_are_not_all_listed(tmp_path):
    path = tmp_path / "wide.csv"
    frame = pd.DataFrame(np.zeros((3, 10_000)), columns=[f"column{j}" for j in range(10_000)])
    frame.iloc[:, :] = np.arange(30_000).reshape(3, 10_000)
    frame.to_csv(path, index=False)
    ds = load_table(path)
    message = _message(lambda: prepare_features(ds, ["nope"]))
    assert "and 9,988 more" in message and len(message) < LIMIT
    message = _message(lambda: load_table(path, id_column="n" * 100_000))
    assert len(message) < LIMIT


@pytest.mark.parametrize(
    "options",
    [{"delimiter": ";" * 100_000}, {"decimal": "," * 100_000},
     {"sheet": "s" * 100_000}, {"text_columns": ["t" * 100_000]}],
)
def test_long_option_values_are_not_echoed(tmp_path, options):
    path = tmp_path / "ok.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    assert len(_message(lambda: load_table(path, **options))) < LIMIT


def test_a_long_npz_member_name_is_not_echoed(tmp_path):
    path = tmp_path / "many.npz"
    np.savez(path, **{"a" * 5000: np.zeros((2, 2)), "b": np.ones((2, 2))})
    message = _message(lambda: load_table(path))
    assert "2 arrays" in message and len(message) < LIMIT


# --------------------------------------------------------------------------- encodings


def test_cr_only_line_endings_load(tmp_path, engine):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"a,b,c\r1,2.5,3\r4,5.5,6\r7,8.5,9\r10,11.5,12\r")
    ds = load_table(path)
    assert ds.columns == ["a", "b", "c"] and ds.n_rows == 4
    np.testing.assert_array_equal(ds.frame["b"], [2.5, 5.5, 8.5, 11.5])


def test_cr_only_ragged_line_is_located(tmp_path, engine):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"a,b\r1,2\r3,4,5\r6,7\r")
    message = _message(lambda: load_table(path))
    assert "line 3" in message and "3 fields" in message


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_text(tmp_path, engine, encoding):
    path = tmp_path / "u16.csv"
    text = "name;value\nα;1,5\nβ;2,25\nγ;-3\n"
    path.write_bytes(text.encode(encoding))
    ds = load_table(path)
    assert ds.frame["name"].tolist() == ["α", "β", "γ"]
    np.testing.assert_array_equal(ds.frame["value"], [1.5, 2.25, -3.0])
    assert any(w.code == "utf16-without-bom" for w in ds.warnings)


def test_real_binary_is_still_called_binary(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(bytes(range(256)) * 20)
    assert "binary data" in _message(lambda: load_table(path))
