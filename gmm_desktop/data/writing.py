"""Writing tables (results, exports) without ever leaving a half-written file, and so that
the files cannot attack the person who opens them.

**Atomic, and consistent with the sidecar.** The table goes to a temporary file in the
same folder; its JSON sidecar (``<file>.json``) records the table's SHA-256 checksum, byte
size and row count and also goes to a temporary file; only then are both renamed into
place, sidecar first. Whatever happens (an exception, a full disk, ``kill -9`` between the
two renames) a reader finds either the previous pair, or a new sidecar next to the old
table, which :func:`verify_sidecar` reports as stale because the checksum does not match:
never a table silently described by another table's sidecar.

**No formulas in exports.** Spreadsheet programs run a cell that starts with ``=``, ``+``,
``-`` or ``@`` as a formula (CSV injection, OWASP). In CSV/TSV such text cells (and tab or
carriage-return starts) get a leading single quote and are quoted, as OWASP recommends;
in ``.xlsx`` every text cell is stored as text (type ``"s"``, with Excel's quote prefix
for those that look like formulas), never as a formula. Numbers stay numbers: a negative
number, or text that is just a number such as ``-5``, is not touched. Whole numbers that
Excel cannot hold exactly (beyond 2**53, such as 20-digit IDs) are written to ``.xlsx`` as
text.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from gmm_desktop.errors import GmmDesktopError
from gmm_desktop.fileio import StagedFile, staged_write

from .errors import DataError, clip_text

__all__ = [
    "FORMULA_TRIGGERS",
    "INTEGRITY_KEY",
    "WRITABLE_SUFFIXES",
    "SidecarStatus",
    "neutralise_frame",
    "neutralise_text",
    "sidecar_path",
    "verify_sidecar",
    "write_table_atomic",
    "write_table_chunks_atomic",
]

WRITABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".parquet", ".pq", ".xlsx")
_EXCEL_MAX_ROWS = 1_048_576
_EXCEL_MAX_COLUMNS = 16_384
_EXCEL_MAX_TEXT = 32_767
_EXACT_IN_FLOAT = 2**53

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet treat a text cell as a formula (OWASP)."""

INTEGRITY_KEY = "table_integrity"
"""The sidecar key under which the table's checksum, size and row count are recorded."""

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def sidecar_path(path: str | PathLike[str]) -> Path:
    """Where :func:`write_table_atomic` puts the JSON sidecar of ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


# --------------------------------------------------------------------------- formulas


def _risky(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS) and _PLAIN_NUMBER.fullmatch(text) is None


def neutralise_text(value: Any) -> Any:
    """``value`` made safe for a CSV cell: text that a spreadsheet would run as a formula
    (it starts with ``= + - @``, tab or carriage return and is not just a number) gets a
    leading single quote; anything else is returned unchanged."""
    if isinstance(value, str) and _risky(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, set[int]]:
    """``frame`` with every text cell and column name that a spreadsheet would run as a
    formula prefixed with a single quote (:func:`neutralise_text`); also the positions of
    the columns that changed. ``frame`` itself is never modified (it is copied only when
    something changes). Write the result with ``quoting=csv.QUOTE_NONNUMERIC`` so that
    those cells are also quoted, as OWASP recommends (a writer of CSV chunks applies it
    to every chunk)."""
    changed: set[int] = set()
    out = frame
    for j in range(frame.shape[1]):
        column = frame.iloc[:, j]
        if column.dtype.kind not in "OUS" and not isinstance(column.dtype, pd.StringDtype):
            continue
        values = column.to_numpy(dtype=object)
        mask = np.fromiter(
            (isinstance(v, str) and _risky(v) for v in values), dtype=bool, count=len(values)
        )
        if not mask.any():
            continue
        if out is frame:
            out = frame.copy()
        fixed = values.copy()
        fixed[mask] = ["'" + v for v in values[mask]]
        out.isetitem(j, pd.Series(fixed, index=frame.index, dtype=object))
        changed.add(j)
    names = [str(c) for c in frame.columns]
    safe_names = [neutralise_text(n) for n in names]
    if safe_names != names:
        if out is frame:
            out = frame.copy()
        out.columns = safe_names
    return out, changed


def _write_delimited(frame: pd.DataFrame, handle: Any, sep: str) -> None:
    safe, _ = neutralise_frame(frame)
    # Every text field is quoted (numbers are not): a neutralised cell is therefore both
    # prefixed and quoted, as OWASP recommends, and reads back as the same text.
    safe.to_csv(
        handle, sep=sep, index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC
    )


# --------------------------------------------------------------------------- Excel


def _excel_text(value: str, where: str) -> str:
    if len(value) > _EXCEL_MAX_TEXT:
        raise DataError(
            f"a text cell ({where}) holds {len(value):,} characters; Excel cells hold at "
            f"most {_EXCEL_MAX_TEXT:,}.",
            remedy="Export as CSV or Parquet instead, which hold text of any length.",
        )
    # Control characters are not allowed in the workbook's XML: show them as escapes.
    return _ILLEGAL_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def _excel_cells(column: pd.Series) -> list[Any]:
    """The values of one column as Python objects for openpyxl (None for missing)."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) and not column.isna().any():
        return [bool(v) for v in column.to_numpy()]
    if pd.api.types.is_integer_dtype(dtype):
        out: list[Any] = []
        for v in column.to_numpy(dtype=object):
            if v is None or v is pd.NA:
                out.append(None)
            else:
                v = int(v)
                out.append(str(v) if abs(v) >= _EXACT_IN_FLOAT else v)
        return out
    if pd.api.types.is_float_dtype(dtype):
        values = column.to_numpy(dtype=float, na_value=np.nan)
        return [
            None if math.isnan(v) else (("inf" if v > 0 else "-inf") if math.isinf(v) else v)
            for v in values.tolist()
        ]
    if isinstance(dtype, pd.DatetimeTZDtype):
        return [None if pd.isna(v) else v.isoformat() for v in column]
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return [None if pd.isna(v) else v.to_pydatetime() for v in column]
    out = []
    for v in column.to_numpy(dtype=object):
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        elif isinstance(v, bool | np.bool_):
            out.append(bool(v))
        elif isinstance(v, int | np.integer):
            v = int(v)
            out.append(str(v) if abs(v) >= _EXACT_IN_FLOAT else v)
        elif isinstance(v, float | np.floating):
            out.append(None if math.isnan(v) else float(v) if math.isfinite(v) else str(v))
        elif isinstance(v, _dt.datetime | _dt.date) and getattr(v, "tzinfo", None) is None:
            out.append(v)
        else:
            out.append(str(v))
    return out


def _write_xlsx(frame: pd.DataFrame, temp: Path) -> None:
    """Write ``frame`` with openpyxl so that text is text: no cell is ever a formula."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Sheet1")
    names = [str(c) for c in frame.columns]

    def text_cell(value: str, where: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=_excel_text(value, where))
        cell.data_type = "s"  # text, whatever it starts with: never a formula
        if value.startswith(FORMULA_TRIGGERS):
            cell.quotePrefix = True  # and it stays text if someone edits it in Excel
        return cell

    sheet.append([text_cell(n, f"the header of column {j + 1}") for j, n in enumerate(names)])
    columns = [_excel_cells(frame.iloc[:, j]) for j in range(frame.shape[1])]
    for i in range(len(frame)):
        row = []
        for j, values in enumerate(columns):
            v = values[i]
            if isinstance(v, str):
                v = text_cell(v, f"row {i + 1}, column '{clip_text(names[j])}'")
            row.append(v)
        sheet.append(row)
    book.save(temp)


# --------------------------------------------------------------------------- sidecars


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _sidecar_text(sidecar: Mapping[str, Any], path: Path) -> str:
    try:
        return json.dumps(sidecar, indent=2, allow_nan=False, default=_json_default) + "\n"
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"the sidecar metadata cannot be written as JSON ({clip_text(exc, 200)}).",
            path=sidecar_path(path),
            remedy="Store only numbers, strings, booleans, lists and dicts (no NaN/inf).",
        ) from exc


def file_sha256(path: str | PathLike[str]) -> str:
    """The SHA-256 checksum of a file's bytes, in hexadecimal (read 1 MB at a time)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _integrity(temp: Path, target: Path, rows: int) -> dict[str, Any]:
    return {
        "file": target.name,
        "sha256": file_sha256(temp),
        "bytes": temp.stat().st_size,
        "rows": int(rows),
    }


@dataclass(frozen=True)
class SidecarStatus:
    """Whether a table and its JSON sidecar belong together (:func:`verify_sidecar`).

    Attributes:
        state: ``"consistent"`` (the sidecar's checksum matches the table),
            ``"stale"`` (it describes other bytes, records no checksum, cannot be read,
            or the table is gone) or ``"missing"`` (no sidecar).
        message: one sentence for a person: what was found and what to do.
        table: the table file.
        sidecar: its sidecar file.
        recorded: what the sidecar records about its table (file, sha256, bytes, rows),
            if it could be read.
    """

    state: Literal["consistent", "stale", "missing"]
    message: str
    table: Path
    sidecar: Path
    recorded: dict[str, Any] | None = field(default=None)

    @property
    def ok(self) -> bool:
        """True when the sidecar describes exactly this table."""
        return self.state == "consistent"


def verify_sidecar(table_path: str | PathLike[str]) -> SidecarStatus:
    """Check that the sidecar next to ``table_path`` describes exactly that table.

    Compares the table's size and SHA-256 checksum with what the sidecar recorded when
    both were written by :func:`write_table_atomic`. Reads the table once; never raises
    for a damaged or missing file (that is a state, with a message).
    """
    table = Path(table_path)
    side = sidecar_path(table)

    def status(state: Any, message: str, recorded: Any = None) -> SidecarStatus:
        return SidecarStatus(state, message, table, side, recorded)

    if not side.is_file():
        return status("missing", f"'{clip_text(table.name)}' has no sidecar "
                      f"('{clip_text(side.name)}').")
    try:
        doc = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return status("stale", f"the sidecar '{clip_text(side.name)}' cannot be read as JSON; "
                      "it does not describe the table. Export the table again.")
    recorded = doc.get(INTEGRITY_KEY) if isinstance(doc, dict) else None
    if not isinstance(recorded, dict) or not isinstance(recorded.get("sha256"), str):
        return status("stale", f"the sidecar '{clip_text(side.name)}' records no checksum "
                      "(written by an older version, or edited), so it cannot be matched "
                      "to the table. Export the table again.")
    if not table.is_file():
        return status("stale", f"the sidecar '{clip_text(side.name)}' describes "
                      f"'{clip_text(table.name)}', which does not exist.", recorded)
    size = table.stat().st_size
    if recorded.get("bytes") != size or file_sha256(table) != recorded["sha256"]:
        return status(
            "stale",
            f"the sidecar '{clip_text(side.name)}' describes other contents than "
            f"'{clip_text(table.name)}' (its checksum does not match): the two were not "
            "written together, for example an export stopped between them. Export the "
            "table again.",
            recorded,
        )
    return status("consistent", f"'{clip_text(side.name)}' describes "
                  f"'{clip_text(table.name)}' ({recorded.get('rows')} rows).", recorded)


# --------------------------------------------------------------------------- the writer


def _stage_table(frame: pd.DataFrame, path: Path, suffix: str) -> StagedFile:
    if suffix in {".csv", ".tsv", ".tab"}:
        sep = "," if suffix == ".csv" else "\t"
        with staged_write(path, "w", encoding="utf-8", newline="") as (staged, handle):
            _write_delimited(frame, handle, sep)
    elif suffix in {".parquet", ".pq"}:
        with staged_write(path) as (staged, temp):
            frame.to_parquet(temp, engine="pyarrow", index=False)
    else:
        with staged_write(path) as (staged, temp):
            _write_xlsx(frame, temp)
    return staged


def _commit_pair(table: StagedFile, side: StagedFile | None, path: Path) -> None:
    """Rename the sidecar, then the table, into place; roll the sidecar back if the
    table cannot follow. Raises DataError saying exactly what was replaced."""
    if side is None:
        try:
            table.commit()
        except OSError as exc:
            table.discard()
            raise _io_error(path, exc, "nothing was replaced: the previous table, if any, "
                            "is unchanged") from exc
        return
    backup = None
    if side.target.exists():
        backup = side.target.with_name(f".{side.target.name}.previous")
        try:
            os.link(side.target, backup)
        except OSError:
            backup = None
    try:
        side.commit()
    except OSError as exc:
        side.discard()
        table.discard()
        _drop(backup)
        raise _io_error(path, exc, "nothing was replaced: the previous table and sidecar, "
                        "if any, are unchanged") from exc
    try:
        table.commit()
    except BaseException as exc:
        table.discard()
        restored = _restore(backup, side.target)
        if restored:
            what = ("nothing was replaced: the previous table and sidecar are unchanged "
                    "(the new sidecar was rolled back)")
        else:
            what = (f"the sidecar '{clip_text(side.target.name)}' was replaced but the table "
                    "was not: the previous table is unchanged and the new sidecar does not "
                    "match it (verify_sidecar reports the pair as stale); export again")
        if isinstance(exc, OSError):
            raise _io_error(path, exc, what) from exc
        raise
    _drop(backup)


def _restore(backup: Path | None, target: Path) -> bool:
    try:
        if backup is not None:
            os.replace(backup, target)
        else:
            target.unlink()  # there was no sidecar before: remove the new one
        return True
    except OSError:
        return False


def _drop(backup: Path | None) -> None:
    if backup is not None:
        try:
            backup.unlink()
        except OSError:
            pass


def _io_error(path: Path, exc: OSError, what: str) -> DataError:
    return DataError(
        f"the file could not be written ({clip_text(exc.strerror or exc, 200)}).",
        path=path,
        remedy=f"Check that the folder is writable and the disk is not full; {what}.",
    )


def write_table_atomic(
    frame: pd.DataFrame,
    path: str | PathLike[str],
    *,
    sidecar: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``frame`` to ``path`` atomically, in the format given by the extension.

    ``.csv`` (comma, UTF-8), ``.tsv``/``.tab`` (tab), ``.parquet``/``.pq`` or ``.xlsx``.
    The index is not written (keep IDs in a column). The data goes to a temporary file in
    the same folder which then replaces ``path`` in one step, so an existing file is
    either fully replaced or left as it was, never half-overwritten. Text cells that a
    spreadsheet would run as formulas are neutralised (see the module docstring).

    ``sidecar``: optional metadata written as JSON next to the table (``path + ".json"``,
    e.g. ``scores.csv.json``), with the table's checksum, size and row count added under
    :data:`INTEGRITY_KEY`. Both files are finished before either is renamed into place,
    sidecar first; :func:`verify_sidecar` tells a consistent pair from a stale one.

    Returns the path written. Raises :class:`DataError` for an unsupported extension, a
    table Excel cannot hold, sidecar data JSON cannot hold, or an I/O failure; the message
    says which files were replaced and which were not.
    """
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise DataError(
            f"cannot write a table with the extension '{clip_text(path.suffix or '(none)')}'.",
            path=path,
            remedy="Use one of: " + ", ".join(WRITABLE_SUFFIXES) + ".",
        )
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame to write, got {type(frame).__name__}.", path=path
        )
    if not path.parent.is_dir():
        raise DataError(
            f"the folder '{clip_text(path.parent, 200)}' does not exist.",
            path=path,
            remedy="Choose an existing folder, or create it first.",
        )
    if path.is_dir():
        raise DataError("this is a folder, not a file name.", path=path,
                        remedy="Give the name of the file to write.")
    if suffix == ".xlsx" and (
        len(frame) + 1 > _EXCEL_MAX_ROWS or frame.shape[1] > _EXCEL_MAX_COLUMNS
    ):
        raise DataError(
            f"Excel sheets hold at most {_EXCEL_MAX_ROWS - 1:,} rows and "
            f"{_EXCEL_MAX_COLUMNS:,} columns; this table is {len(frame):,} × {frame.shape[1]:,}.",
            path=path,
            remedy="Export as CSV or Parquet instead.",
        )
    if sidecar is not None:
        _check_sidecar(sidecar, path)  # refused before anything is written
    nothing = "nothing was replaced: the previous table and sidecar, if any, are unchanged"
    try:
        table = _stage_table(frame, path, suffix)
        side = _stage_sidecar(sidecar, table, path, len(frame))
    except GmmDesktopError:
        raise
    except OSError as exc:
        raise _io_error(path, exc, nothing) from exc
    except (ValueError, TypeError, ImportError) as exc:
        raise DataError(
            f"the table cannot be stored as {suffix} ({clip_text(exc, 200)}).",
            path=path,
            remedy="Export as CSV, which can hold any values.",
        ) from exc
    _commit_pair(table, side, path)
    return path


def _stage_sidecar(sidecar: Mapping[str, Any] | None, table: StagedFile, path: Path,
                   rows: int) -> StagedFile | None:
    """Stage the sidecar of the staged ``table`` (its checksum and ``rows`` recorded), or
    nothing without metadata; on any failure the staged table is discarded too."""
    if sidecar is None:
        return None
    try:
        document = {**sidecar, INTEGRITY_KEY: _integrity(table.temp, path, rows)}
        text = _sidecar_text(document, path)
        with staged_write(sidecar_path(path), "w", encoding="utf-8") as (side, handle):
            handle.write(text)
    except BaseException:
        table.discard()
        raise
    return side


def _check_sidecar(sidecar: Mapping[str, Any], path: Path) -> None:
    """Refuse, before anything is written, sidecar metadata that cannot be stored or that
    claims the writer's own integrity entry."""
    if INTEGRITY_KEY in sidecar:
        raise DataError(
            f"the sidecar metadata must not contain the key '{INTEGRITY_KEY}'; it is "
            "filled in by the writer.",
            path=sidecar_path(path),
            remedy="Rename that entry of the metadata.",
        )
    _sidecar_text(sidecar, path)


def write_table_chunks_atomic(
    chunks: Iterable[pd.DataFrame],
    path: str | PathLike[str],
    *,
    sidecar: Mapping[str, Any] | None = None,
) -> Path:
    """Write a table that arrives in chunks (same columns each) atomically, holding one
    chunk in memory at a time: ``.csv``/``.tsv`` appended chunk by chunk, Parquet as one row
    group per chunk. Excel needs the whole table (use :func:`write_table_atomic`).

    As :func:`write_table_atomic`: text that a spreadsheet would run as a formula is
    neutralised in every chunk, and the sidecar records the checksum and row count of the
    whole table; both files are renamed into place only once both are complete."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".tsv", ".tab", ".parquet", ".pq"}:
        raise DataError(
            "a table written in parts cannot have the extension "
            f"'{clip_text(path.suffix or '(none)')}'.",
            path=path,
            remedy="Use .csv, .tsv or .parquet.",
        )
    if not path.parent.is_dir():
        raise DataError(f"the folder '{clip_text(path.parent, 200)}' does not exist.",
                        path=path, remedy="Choose an existing folder, or create it first.")
    if sidecar is not None:
        _check_sidecar(sidecar, path)  # refused before anything is written
    nothing = "nothing was replaced: the previous table and sidecar, if any, are unchanged"
    rows = 0
    try:
        if suffix in {".parquet", ".pq"}:
            import pyarrow as pa
            import pyarrow.parquet as pq

            with staged_write(path) as (table, temp):
                writer = None
                try:
                    for chunk in chunks:
                        rows += len(chunk)
                        part = pa.Table.from_pandas(chunk, preserve_index=False)
                        if writer is None:
                            writer = pq.ParquetWriter(str(temp), part.schema)
                        writer.write_table(part)
                finally:
                    if writer is not None:
                        writer.close()
        else:
            sep = "," if suffix == ".csv" else "\t"
            with staged_write(path, "w", encoding="utf-8", newline="") as (table, handle):
                for i, chunk in enumerate(chunks):
                    rows += len(chunk)
                    safe, _ = neutralise_frame(chunk)
                    safe.to_csv(handle, sep=sep, index=False, header=i == 0,
                                lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
        side = _stage_sidecar(sidecar, table, path, rows)
    except GmmDesktopError:
        raise
    except OSError as exc:
        raise _io_error(path, exc, nothing) from exc
    _commit_pair(table, side, path)
    return path
