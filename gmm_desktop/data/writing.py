"""Writing tables (results, exports) without ever leaving a half-written file."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gmm_desktop.errors import GmmDesktopError
from gmm_desktop.fileio import atomic_write

from .errors import DataError

__all__ = ["WRITABLE_SUFFIXES", "sidecar_path", "write_table_atomic"]

WRITABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".parquet", ".pq", ".xlsx")
_EXCEL_MAX_ROWS = 1_048_576
_EXCEL_MAX_COLUMNS = 16_384


def sidecar_path(path: str | PathLike[str]) -> Path:
    """Where :func:`write_table_atomic` puts the JSON sidecar of ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


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
            f"the sidecar metadata cannot be written as JSON ({exc}).",
            path=sidecar_path(path),
            remedy="Store only numbers, strings, booleans, lists and dicts (no NaN/inf).",
        ) from exc


def write_table_atomic(
    frame: pd.DataFrame,
    path: str | PathLike[str],
    *,
    sidecar: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``frame`` to ``path`` atomically, in the format given by the extension.

    ``.csv`` (comma, UTF-8), ``.tsv``/``.tab`` (tab), ``.parquet``/``.pq`` or ``.xlsx``.
    The index is not written (keep IDs in a column).  The data goes to a temporary file
    in the same folder which then replaces ``path`` in one step, so an existing file is
    either fully replaced or left as it was, never half-overwritten.

    ``sidecar``: optional metadata written, also atomically, as JSON next to the table
    (``path + ".json"``, e.g. ``scores.csv.json``), after the table.  It is validated
    before anything is written.

    Returns the path written.  Raises :class:`DataError` for an unsupported extension,
    a table Excel cannot hold, sidecar data JSON cannot hold, or an I/O failure.
    """
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise DataError(
            f"cannot write a table with the extension '{path.suffix or '(none)'}'.",
            path=path,
            remedy="Use one of: " + ", ".join(WRITABLE_SUFFIXES) + ".",
        )
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame to write, got {type(frame).__name__}.", path=path
        )
    if not path.parent.is_dir():
        raise DataError(
            f"the folder '{path.parent}' does not exist.",
            path=path,
            remedy="Choose an existing folder, or create it first.",
        )
    if suffix == ".xlsx" and (
        len(frame) + 1 > _EXCEL_MAX_ROWS or frame.shape[1] > _EXCEL_MAX_COLUMNS
    ):
        raise DataError(
            f"Excel sheets hold at most {_EXCEL_MAX_ROWS - 1:,} rows and "
            f"{_EXCEL_MAX_COLUMNS:,} columns; this table is {len(frame):,} × {frame.shape[1]:,}.",
            path=path,
            remedy="Export as CSV or Parquet instead.",
        )
    text = _sidecar_text(sidecar, path) if sidecar is not None else None
    try:
        if suffix in {".csv", ".tsv", ".tab"}:
            sep = "," if suffix == ".csv" else "\t"
            with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
                frame.to_csv(handle, sep=sep, index=False, lineterminator="\n")
        elif suffix in {".parquet", ".pq"}:
            with atomic_write(path) as temp:
                frame.to_parquet(temp, engine="pyarrow", index=False)
        else:
            with atomic_write(path) as temp:
                frame.to_excel(temp, index=False, engine="openpyxl")
        if text is not None:
            with atomic_write(sidecar_path(path), "w", encoding="utf-8") as handle:
                handle.write(text)
    except GmmDesktopError:
        raise
    except OSError as exc:
        raise DataError(
            f"the file could not be written ({exc.strerror or exc}).",
            path=path,
            remedy="Check that the folder is writable and the disk is not full; the "
            "previous file, if any, is unchanged.",
        ) from exc
    except (ValueError, TypeError, ImportError) as exc:
        raise DataError(
            f"the table cannot be stored as {suffix} ({exc}).",
            path=path,
            remedy="Export as CSV, which can hold any values.",
        ) from exc
    return path


def write_table_chunks_atomic(
    chunks: Iterable[pd.DataFrame],
    path: str | PathLike[str],
    *,
    sidecar: Mapping[str, Any] | None = None,
) -> Path:
    """Write a table that arrives in chunks (same columns each) atomically, holding one
    chunk in memory at a time: ``.csv``/``.tsv`` appended chunk by chunk, Parquet as one row
    group per chunk. Excel needs the whole table (use :func:`write_table_atomic`)."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".tsv", ".tab", ".parquet", ".pq"}:
        raise DataError(
            f"a table written in parts cannot have the extension '{path.suffix or '(none)'}'.",
            path=path,
            remedy="Use .csv, .tsv or .parquet.",
        )
    if not path.parent.is_dir():
        raise DataError(f"the folder '{path.parent}' does not exist.", path=path,
                        remedy="Choose an existing folder, or create it first.")
    text = _sidecar_text(sidecar, path) if sidecar is not None else None
    try:
        if suffix == ".parquet" or suffix == ".pq":
            import pyarrow as pa
            import pyarrow.parquet as pq

            with atomic_write(path) as temp:
                writer = None
                try:
                    for chunk in chunks:
                        table = pa.Table.from_pandas(chunk, preserve_index=False)
                        if writer is None:
                            writer = pq.ParquetWriter(str(temp), table.schema)
                        writer.write_table(table)
                finally:
                    if writer is not None:
                        writer.close()
        else:
            sep = "," if suffix == ".csv" else "\t"
            with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
                for i, chunk in enumerate(chunks):
                    chunk.to_csv(handle, sep=sep, index=False, header=i == 0,
                                 lineterminator="\n")
        if text is not None:
            with atomic_write(sidecar_path(path), "w", encoding="utf-8") as handle:
                handle.write(text)
    except GmmDesktopError:
        raise
    except OSError as exc:
        raise DataError(
            f"the file could not be written ({exc.strerror or exc}).",
            path=path,
            remedy="Check that the folder is writable and the disk is not full; the "
            "previous file, if any, is unchanged.",
        ) from exc
    return path
