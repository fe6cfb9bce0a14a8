"""Loading a table from a file: :func:`load_table`.

Supported formats, chosen by the file extension:

* ``.csv``, ``.tsv``, ``.tab``, ``.txt`` (and anything else that is text): delimited
  text.  The delimiter (``,`` ``;`` tab ``|`` or runs of blanks), the quote character,
  the header line and the decimal mark (``1,5`` in semicolon-separated European files)
  are detected; a UTF-8 byte-order mark is ignored and non-UTF-8 files are read as
  Latin-1 with a warning.  With four or more usable cores the file is parsed by
  pyarrow's multi-threaded CSV reader (pandas' C engine is then the fallback for
  dialects pyarrow cannot handle, such as blank-separated columns); with fewer cores
  pandas' C engine is used, because pyarrow gains little there and is much slower when
  other processes compete for the cores (see ``readers.use_arrow_engine``).  Either way
  the parser runs in a helper thread reading through a byte counter, so progress is
  reported (from the caller's thread) as a share of the file read, and cancelling makes
  the stream end at once.  Rows with too many or too few fields are errors that name
  the line.  How the file is read can also be given (:class:`~gmm_desktop.data.ReadOptions`:
  lines to skip above the header, a comment marker, the encoding, ...), and
  :func:`preview_table` shows the first rows as a full load would read them.
* ``.parquet``/``.pq``: Parquet (column types are kept as stored).
* ``.xlsx``, ``.xlsm``, ``.xlsb``, ``.xls`` (Excel) and ``.ods`` (OpenDocument): one sheet of
  a spreadsheet (``sheet=`` chooses it), read by pandas with python-calamine.
* ``.npy``: a 1-D or 2-D numeric array or a structured array; ``.npz``: one array of
  the archive (``sheet=`` chooses it when there are several).

**Numbers written as text** (CSV and Excel).  A column whose values all read as numbers
(or are missing markers: empty, ``NA``, ``N/A``, ``NaN``, ``null``, ``None``, ``-``,
``?``, ``.`` and the like, see :data:`MISSING_MARKERS`) is numeric.  A column in which
at least 90 % of the non-missing values are numbers but some are not is treated as a
mistake in the file: :class:`DataError` names the column, the first offending line and
its value, with hints naming the reading options that would help (the missing-value
markers if those values mean "missing", the text columns to keep it as text), which each
interface renders in its own terms (:class:`~gmm_desktop.data.OptionHint`).  A column
that is between half and 90 % numbers is kept as text with a ``mixed-column`` warning;
a column that is mostly text is a text column.  Columns never silently change from numbers to text.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gmm_desktop.errors import GmmDesktopError

from ._progress import Progress, ProgressCallback
from .dataset import Dataset, listing, row_identity
from .errors import DataError, DataWarning, OptionHint, clip_text
from .options import ReadOptions
from .readers import (
    RawTable,
    default_names,
    pandas_csv_options,
    read_csv,
    read_excel,
    read_npy,
    read_npz,
    read_parquet,
)
from .readers import sheet_names as _sheet_names
from .sniff import MISSING_MARKERS, Dialect, sniff

__all__ = [
    "COLUMN_KINDS",
    "MISSING_MARKERS",
    "MOSTLY_NUMERIC",
    "SHEET_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "TEXT_SUFFIXES",
    "CsvReading",
    "TablePreview",
    "column_kinds",
    "csv_reading",
    "load_table",
    "preview_table",
    "sheet_names",
]

MOSTLY_NUMERIC = 0.9
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([,.' \u00a0]\d{3})+([.,]\d+)?$")
"""Share of numeric values above which non-numeric entries in a column are an error."""

_TEXT_SUFFIXES = {".csv", ".tsv", ".tab", ".txt", ".dat"}
#: The suffixes read as delimited text (the import dialog is shown for these).
TEXT_SUFFIXES = tuple(sorted(_TEXT_SUFFIXES))
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
#: The suffixes of files with several tables, one chosen by ``sheet=``: spreadsheets (a
#: sheet) and NumPy .npz archives (an array).
SHEET_SUFFIXES = (*sorted(_EXCEL_SUFFIXES), ".npz")
SUPPORTED_SUFFIXES = (
    sorted(_TEXT_SUFFIXES) + sorted(_PARQUET_SUFFIXES) + sorted(_EXCEL_SUFFIXES)
) + [".npy", ".npz"]


def _check_file(path: Path) -> None:
    try:
        _check_file_unguarded(path)
    except OSError as exc:  # a symlink loop, a name too long, an I/O error...
        raise DataError(
            f"the file cannot be opened ({clip_text(exc.strerror or exc, 160)}).",
            path=path,
            remedy="Check the path: it must name a readable data file.",
        ) from None


def _check_file_unguarded(path: Path) -> None:
    if path.is_symlink() and not path.exists():
        try:
            path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise DataError(
                "this is a link that leads nowhere (or to itself).",
                path=path,
                remedy="Open the file the link was meant to point to.",
            ) from None
    if not path.exists():
        parent = path.parent
        hint = (
            f"The folder '{clip_text(parent, 200)}' does not exist either."
            if not parent.exists()
            else "Check the spelling and the folder."
        )
        raise DataError(
            "the file does not exist.",
            path=path,
            remedy=f"{hint} (full path: {clip_text(os.path.abspath(path), 300)})",
        )
    if path.is_dir():
        raise DataError("this is a folder, not a file.", path=path, remedy="Choose a data file.")
    if not path.is_file():
        raise DataError(
            "this is not a regular file (it is a device, a pipe or a socket).",
            path=path,
            remedy="Save the data to a file and open that file.",
        )
    if not os.access(path, os.R_OK):
        raise DataError(
            "the file cannot be read (permission denied).",
            path=path,
            remedy="Check the file's permissions, or copy it somewhere you can read it.",
        )
    if path.stat().st_size == 0:
        raise DataError(
            "the file is empty.",
            path=path,
            remedy="Choose a file that contains a table (a header line and data rows).",
        )


def _fix_names(names: list[str]) -> tuple[list[str], list[DataWarning]]:
    warnings: list[DataWarning] = []
    fixed: list[str] = []
    for j, raw in enumerate(names):
        name = str(raw).strip()
        if not name:
            name = f"column_{j + 1}"
            warnings.append(
                DataWarning(
                    "unnamed-column",
                    f"Column {j + 1} has no name in the header; it is called '{clip_text(name)}'.",
                    column=name,
                    remedy="Give it a name in the file if you refer to it elsewhere.",
                )
            )
        fixed.append(name)
    seen: dict[str, int] = {}
    taken = set(fixed)
    result: list[str] = []
    for name in fixed:
        if name in seen:
            seen[name] += 1
            candidate = f"{name}.{seen[name]}"
            while candidate in taken:
                seen[name] += 1
                candidate = f"{name}.{seen[name]}"
            taken.add(candidate)
            warnings.append(
                DataWarning(
                    "duplicate-column-name",
                    f"The header names '{clip_text(name)}' more than once; this copy is called "
                    f"'{clip_text(candidate)}'.",
                    column=candidate,
                    remedy="Give every column a distinct name in the file.",
                )
            )
            result.append(candidate)
        else:
            seen[name] = 0
            result.append(name)
    return result, warnings


def _is_numeric_dtype(dtype: Any) -> bool:
    return (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
        and not pd.api.types.is_complex_dtype(dtype)
    )


def _numeric_view(
    series: pd.Series, decimal: str, missing: frozenset[str]
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Parse a text column: (numbers, missing mask, bad mask) with positional masks."""
    na = series.isna().to_numpy()
    text = series.astype(object).where(~na, "").astype(str).str.strip()
    marker = text.str.lower().isin(missing).to_numpy() | na
    candidate = text.where(~marker, None)
    if decimal == ",":
        candidate = candidate.str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(candidate, errors="coerce")
    bad = ~marker & numbers.isna().to_numpy()
    return numbers.astype(np.float64), marker, bad


_EXACT_FLOAT = 2.0**53
"""Whole numbers from this magnitude on are not all exact in float64."""
_INTEGER_TEXT = r"[+-]?\d+"


def _all_integer_text(series: pd.Series, marker: np.ndarray) -> bool:
    text = series[~marker].astype(str).str.strip()
    return bool(text.str.fullmatch(_INTEGER_TEXT).all())


def _stripped_text(series: pd.Series, marker: np.ndarray) -> pd.Series:
    text = series.astype(object).where(~marker, None)
    return text.map(lambda v: v if v is None else str(v).strip()).astype(object)


def _exact_integers(series: pd.Series, marker: np.ndarray) -> pd.Series | np.ndarray | None:
    """The column as exact 64-bit integers, or None if a value is not a whole number
    written without a decimal point or exponent, or does not fit in int64."""
    if not _all_integer_text(series, marker):
        return None
    values = [int(str(v).strip()) for v in series[~marker]]
    if not all(-(2**63) <= v < 2**63 for v in values):
        return None
    if not marker.any():
        return np.asarray(values, dtype=np.int64)
    out = pd.array([None] * len(series), dtype="Int64")
    out[~marker] = np.asarray(values, dtype=np.int64)
    return pd.Series(out, index=series.index)


def _too_long_warning(name: str, series: pd.Series, marker: np.ndarray) -> DataWarning:
    example = str(series[~marker].iloc[0]).strip()
    return DataWarning(
        "long-integers",
        f"Column '{clip_text(name)}' holds whole numbers too long for 64-bit integers "
        f"(such as {clip_text(example)}); it is kept exactly, as text, and is not offered "
        "as a feature.",
        column=name,
        remedy="Use it as the ID column if it identifies the rows; numbers this long are "
        "identifiers, not measurements.",
    )


def _classify_text_column(
    raw: RawTable,
    name: str,
    path: Path,
    missing: frozenset[str],
    warnings: list[DataWarning],
) -> bool:
    """Check a text column of a CSV/Excel table; convert it in place if it is numeric.

    Returns whether the column is numeric.  Raises :class:`DataError` for a numeric
    column with a few non-numeric values.
    """
    series = raw.frame[name]
    n = len(series)
    if n > 5000:  # cheap look at an evenly spread sample first
        sample = series.iloc[np.linspace(0, n - 1, 2000).astype(np.int64)]
        _, marker, bad = _numeric_view(sample, raw.decimal, missing)
        present = int((~marker).sum())
        if present and (present - int(bad.sum())) / present < 0.5:
            return False
    numbers, marker, bad = _numeric_view(series, raw.decimal, missing)
    present = int((~marker).sum())
    if present == 0:
        return False  # only missing markers: reported as an empty column by the caller
    n_bad = int(bad.sum())
    if n_bad == 0:
        values = numbers.to_numpy()
        finite = np.isfinite(values)
        whole = finite & (values == np.round(values))
        if np.all(whole | marker) and np.any(np.abs(values[whole]) >= _EXACT_FLOAT):
            # Whole numbers beyond 2**53 lose digits as float64 (a 20-digit ID would
            # become 1e+20 and collide with its neighbours): read them exactly.
            exact = _exact_integers(series, marker)
            if exact is not None:
                raw.frame[name] = exact
                return True
            if _all_integer_text(series, marker):
                raw.frame[name] = _stripped_text(series, marker)
                warnings.append(_too_long_warning(name, series, marker))
                return False
        if not marker.any() and np.all(whole) and np.all(np.abs(values) < _EXACT_FLOAT):
            raw.frame[name] = values.astype(np.int64)
            return True
        raw.frame[name] = values
        return True
    share = (present - n_bad) / present
    first = int(np.flatnonzero(bad)[0])
    value = series.iloc[first]
    if share >= MOSTLY_NUMERIC:
        more = f" ({n_bad - 1} more non-numeric value(s) follow)" if n_bad > 1 else ""
        hint = ""
        if _THOUSANDS.match(str(value).strip()):
            hint = "It looks like a number with thousands separators: remove them. "
        raise DataError(
            f"the value '{clip_text(value)}' is not a number, but {share:.1%} of the values in "
            f"this column are numbers{more}.",
            path=path,
            column=name,
            row=first,
            row_label=raw.locate(first),
            remedy=f"{hint}Correct the value in the file, or leave the cell empty (or write NA) "
            "if it is missing.",
            hints=(
                OptionHint("missing_values", clip_text(str(value).strip()),
                           "if such values mean 'missing'"),
                OptionHint("text_columns", name,
                           "to keep the column as text (it will not be a feature)"),
            ),
        )
    if share >= 0.5:
        warnings.append(
            DataWarning(
                "mixed-column",
                f"Column '{clip_text(name)}' is {share:.0%} numbers but also holds text such as "
                f"'{clip_text(value)}' ({raw.locate(first)}); it is kept as a text column and is "
                "not offered as a feature.",
                column=name,
                remedy="If it should be numeric, correct the text values in the file.",
                hints=(OptionHint("missing_values", clip_text(str(value).strip()),
                                  "if such values mean 'missing'"),),
            )
        )
    return False


def _beyond_int64(series: pd.Series) -> bool:
    """Whether an unsigned integer column holds values that do not fit in int64."""
    dtype = series.dtype  # numpy's uint64 or pandas' nullable UInt64
    if dtype.kind != "u" or getattr(dtype, "itemsize", 0) < 8 or not len(series):
        return False
    return bool(series.max() >= 2**63)


_BATCH_ROWS = 2_000
"""Text columns of tables up to this many rows are screened together (see below)."""


def _plainly_text(raw: RawTable, names: list[str], missing: frozenset[str]) -> set[str]:
    """The columns among ``names`` that are plainly text (under half numbers), found with
    one vectorised pass over many columns at once.

    For a short, wide table the per-column checks cost pandas' fixed overhead thousands
    of times (30,000 text columns took half a minute); the columns that are numbers, or
    partly numbers (an error or a warning to write), still go through
    :func:`_classify_text_column` one by one.
    """
    frame = raw.frame
    n = len(frame)
    if n == 0 or n > _BATCH_ROWS or len(names) < 50:
        return set()
    found: set[str] = set()
    step = max(1, (1 << 21) // n)
    for start in range(0, len(names), step):
        group = names[start : start + step]
        cells = frame[group].to_numpy(dtype=object).ravel(order="F")
        _, marker, bad = _numeric_view(pd.Series(cells), raw.decimal, missing)
        marker = marker.reshape((n, len(group)), order="F")
        bad = bad.reshape((n, len(group)), order="F")
        present = (~marker).sum(axis=0)
        numbers = present - bad.sum(axis=0)
        text = (present > 0) & (numbers < 0.5 * present)
        found.update(name for name, is_text in zip(group, text, strict=True) if is_text)
    return found


#: A column with only two distinct values in at least this many rows is a flag or label.
TWO_VALUED_MIN_ROWS = 20


def _two_values(series: pd.Series) -> tuple[float, float] | None:
    """The two values of a numeric column that holds exactly two (a 0/1 flag, a label), or
    None. Reads a small head first, so that most columns are dismissed at once."""
    if len(series) < TWO_VALUED_MIN_ROWS or not _is_numeric_dtype(series.dtype):
        return None
    if series.head(512).nunique(dropna=True) > 2:
        return None
    values = series.dropna().unique()
    if len(values) != 2 or series.count() < TWO_VALUED_MIN_ROWS:
        return None
    low, high = sorted(float(v) for v in values)
    return low, high


def _no_numeric_hints(raw: RawTable) -> tuple[OptionHint, ...]:
    """What to try when a text file shows no numeric column."""
    if raw.fmt != "csv":
        return ()
    hints = []
    if raw.frame.shape[1] <= 1:
        hints.append(OptionHint("delimiter", ";", "if the fields are separated by ;"))
    if raw.decimal != ",":
        hints.append(OptionHint("decimal", ",", "if numbers are written with a decimal comma"))
    if raw.frame.shape[1] > 1 and not hints:
        hints.append(OptionHint("delimiter", ";", "if the fields are separated by ;"))
    return tuple(hints)


def _index_like(values: np.ndarray) -> bool:
    n = values.size
    if n < 5 or values.dtype.kind not in "iu":
        return False
    start = int(values[0])
    if start not in (0, 1) or int(values[-1]) != start + n - 1:
        return False
    return bool(np.array_equal(values, np.arange(start, start + n)))


def _build(
    raw: RawTable,
    path: Path,
    id_column: str | None,
    text_columns: Sequence[str],
    missing: frozenset[str],
    progress: Progress,
    read: ReadOptions | None = None,
    dialect: Mapping[str, object] | None = None,
) -> Dataset:
    frame = raw.frame
    warnings = list(raw.warnings)
    names, name_warnings = _fix_names([str(c) for c in frame.columns])
    frame.columns = names
    warnings.extend(name_warnings)
    if frame.shape[1] == 0:
        raise DataError(
            "the file has no columns.",
            path=path,
            remedy="Choose a file that contains a table.",
        )
    if len(frame) == 0:
        raise DataError(
            f"the file has a header ({listing(names)}) but no data rows.",
            path=path,
            remedy="Add data rows below the header, or choose another file.",
        )
    frame.index = pd.RangeIndex(len(frame))

    keep_text = set(text_columns)
    _check_text_columns(text_columns, names, path)

    # Column by column only where a column needs work (text to check, unsigned integers
    # to keep exact): pandas' per-column access costs ~0.1 ms, minutes at 10,000 columns
    # if repeated, so the cheap facts are read for every column at once.
    dtypes = dict(zip(names, frame.dtypes, strict=True))
    classified: dict[str, bool] = {}
    text_like = [
        name for name in names
        if name not in keep_text and raw.text_cells and (
            pd.api.types.is_object_dtype(dtypes[name])
            or pd.api.types.is_string_dtype(dtypes[name]))
    ]
    plainly_text = _plainly_text(raw, text_like, missing)
    for name in names:
        dtype = dtypes[name]
        if name in keep_text:
            continue
        if _is_numeric_dtype(dtype):
            if dtype.kind == "u" and _beyond_int64(frame[name]):
                # uint64 values from 2**63 on (identifiers): exact as text, never floats.
                marker = frame[name].isna().to_numpy()
                frame[name] = _stripped_text(frame[name], marker)
                warnings.append(_too_long_warning(name, frame[name], marker))
                classified[name] = False
            else:
                classified[name] = True
        elif name in plainly_text:
            classified[name] = False
        elif raw.text_cells and (
            pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
        ):
            classified[name] = _classify_text_column(raw, name, path, missing, warnings)
        else:
            classified[name] = False
    empty = frame.isna().all(axis=0).to_numpy()
    numeric: list[str] = []
    for name, is_empty in zip(names, empty, strict=True):
        if name not in classified:
            continue
        if is_empty:
            warnings.append(
                DataWarning(
                    "empty-column",
                    f"Column '{clip_text(name)}' has no values (every cell is empty or "
                    "missing); it is not offered as a feature.",
                    column=name,
                    remedy="Remove the column from the file, or fill it in.",
                )
            )
            continue
        if classified[name]:
            numeric.append(name)

    if id_column is not None:  # the ID column is meant to hold identifiers
        warnings = [w for w in warnings
                    if not (w.code == "long-integers" and w.column == id_column)]
    features = [c for c in numeric if c != id_column]
    if not features:
        kinds = ", ".join(f"'{clip_text(c)}' ({frame[c].dtype})" for c in names[:10])
        raise DataError(
            "the file has no numeric column to use as a feature; its columns are "
            f"{kinds}{' ...' if len(names) > 10 else ''}.",
            path=path,
            remedy="Choose a file with at least one column of numbers.",
            hints=_no_numeric_hints(raw),
        )

    row_ids = row_identity(frame, id_column, path, raw.locate)
    if id_column is None:
        for name in numeric:
            if frame[name].dtype.kind in "iu" and _index_like(frame[name].to_numpy()):
                warnings.append(
                    DataWarning(
                        "index-like-column",
                        f"Column '{clip_text(name)}' counts the rows (it goes "
                        f"{frame[name].iloc[0]}, {frame[name].iloc[1]}, ...); it looks like "
                        "a row number or ID rather than a measurement.",
                        column=name,
                        remedy="Leave it out of the features, or use it as the ID column.",
                        hints=(OptionHint("id_column", name, "to name the rows by it"),),
                    )
                )
    for name in features:
        pair = _two_values(frame[name])
        if pair is not None:
            warnings.append(
                DataWarning(
                    "two-valued-column",
                    f"Column '{clip_text(name)}' holds only two values ({pair[0]:g} and "
                    f"{pair[1]:g}); it looks like a label or a flag rather than a "
                    "measurement, and a Gaussian fitted to it is meaningless.",
                    column=name,
                    remedy="It is left out of the default features; choose it explicitly "
                    "to use it anyway.",
                )
            )
    if len(frame) == 1:
        warnings.append(
            DataWarning(
                "single-row",
                "The file has a single data row; a mixture model needs many rows.",
                remedy="Check that the file is complete (and that its first line is not "
                "mistaken for data or header).",
            )
        )
    feature_set = set(features)
    other = [c for c in names if c not in feature_set]
    progress(1.0, f"Loaded {path.name}: {len(frame):,} rows", force=True)
    return Dataset(
        path=path,
        frame=frame,
        row_ids=row_ids,
        id_column=id_column,
        numeric_columns=features,
        other_columns=other,
        warnings=warnings,
        format=raw.fmt,
        sheet=raw.sheet,
        read=read if read is not None else ReadOptions(),
        dialect=dialect,
        _candidates=tuple(numeric),
        _locate=raw.locate,
    )


def _merge_options(
    read: ReadOptions | Mapping[str, Any] | None,
    legacy: Mapping[str, Any],
) -> ReadOptions:
    """``read`` with the older keyword arguments of :func:`load_table` laid over it."""
    options = ReadOptions.coerce(read)
    given = {k: v for k, v in legacy.items() if v is not None and not (
        k in ("missing_values", "text_columns") and not v)}
    if not given:
        return options
    for key in ("missing_values", "text_columns"):
        if key in given and isinstance(given[key], str):
            given[key] = [given[key]]
    return options.replace(**given)


def _open_raw(
    path: Path,
    options: ReadOptions,
    sheet: str | int | None,
    reporter: Progress,
    nrows: int | None = None,
    seen: dict[str, Dialect] | None = None,
) -> tuple[RawTable, Dialect | None]:
    suffix = path.suffix.lower()
    text_only = options.text_only()
    if suffix not in _TEXT_SUFFIXES and text_only and suffix in (
            _PARQUET_SUFFIXES | _EXCEL_SUFFIXES | {".npy", ".npz"}):
        raise DataError(
            f"reading options for text files were given ({', '.join(text_only)}), but this "
            "is not a text file.",
            path=path,
            remedy="Leave them out: they apply to CSV/TSV/TXT files only.",
        )
    if suffix in _PARQUET_SUFFIXES:
        return read_parquet(path, reporter), None
    if suffix in _EXCEL_SUFFIXES:
        return read_excel(path, sheet, reporter, header=options.header), None
    if suffix == ".npy":
        return read_npy(path, reporter), None
    if suffix == ".npz":
        return read_npz(path, sheet, reporter), None
    if sheet is not None:
        raise DataError(
            f"a sheet ('{clip_text(sheet)}') was given, but a text file has no sheets.",
            path=path,
            remedy="Leave the sheet out for CSV/TSV files (it chooses an Excel sheet or an "
            ".npz array).",
        )
    dialect = sniff(path, delimiter=options.delimiter, decimal=options.decimal,
                    header=options.header, skip_rows=options.skip_rows,
                    comment=options.comment, encoding=options.encoding)
    if seen is not None:
        seen["dialect"] = dialect
    raw = read_csv(path, dialect, reporter, list(options.missing_values), nrows)
    return raw, dialect


def _guarded(path: Path, work: Callable[[], Any]) -> Any:
    """Run ``work``; failures of the libraries underneath become :class:`DataError`."""
    try:
        return work()
    except GmmDesktopError:
        raise
    except MemoryError as exc:
        raise DataError(
            "the file is too large to load into memory.",
            path=path,
            remedy="Load a subset of the rows or columns, or use a machine with more memory.",
        ) from exc
    except (OSError, UnicodeError) as exc:
        raise DataError(
            f"the file could not be read ({clip_text(exc, 200)}).",
            path=path,
            remedy="Check that the file is readable and not being written by another program.",
        ) from exc


def load_table(
    path: str | PathLike[str],
    *,
    read: ReadOptions | Mapping[str, Any] | None = None,
    sheet: str | int | None = None,
    id_column: str | None = None,
    delimiter: str | None = None,
    decimal: str | None = None,
    header: bool | None = None,
    missing_values: Sequence[str] = (),
    text_columns: Sequence[str] = (),
    progress: ProgressCallback | None = None,
) -> Dataset:
    """Load a table from ``path`` and return a new :class:`Dataset`.

    Args:
        path: a CSV/TSV/text, Parquet, spreadsheet (.xlsx, .xlsm, .xlsb, .xls, .ods),
            NumPy .npy or .npz file.
        read: how to read it (:class:`~gmm_desktop.data.ReadOptions`: delimiter, decimal
            mark, header, lines to skip, comment marker, missing-value markers, encoding,
            text columns); default: everything detected. A dict of the same is accepted.
        sheet: the sheet of a spreadsheet, or the array of an .npz archive, by
            name or 0-based index.  Required when there are several.
        id_column: a column whose values identify the rows (must be unique and
            complete).  Default: rows are identified by their 0-based position.
        delimiter, decimal, header, missing_values, text_columns: the same as the
            fields of ``read`` (kept for older callers); when given they override it.
        progress: ``progress(fraction, message) -> bool | None``, called from this
            thread while loading; returning True stops the load, which then raises
            :class:`~gmm_desktop.errors.Cancelled`.

    Raises:
        DataError: the file is missing, empty, damaged, has no numeric column, a numeric
            column holds text, a line is ragged, the ID column is not unique, a reading
            option is invalid... The message names the file (and column/line) and says
            what to do; its ``hints`` name the reading option that would help.
        Cancelled: the progress callback asked to stop.

    Nothing is shared between calls: a failed load leaves every earlier dataset as it was.
    """
    options = _merge_options(read, {
        "delimiter": delimiter, "decimal": decimal, "header": header,
        "missing_values": missing_values, "text_columns": text_columns})
    path = Path(path).expanduser()
    _check_file(path)
    missing = MISSING_MARKERS | {v.strip().lower() for v in options.missing_values}
    reporter = Progress(progress, path.name)
    reporter(0.0, f"Opening {path.name}", force=True)

    def work() -> Dataset:
        raw, dialect = _open_raw(path, options, sheet, reporter)
        if raw.fmt not in {"csv", "excel"}:
            raw.text_cells = False
        return _build(raw, path, id_column, list(options.text_columns), missing, reporter,
                      options, None if dialect is None else dialect.describe())

    return _guarded(path, work)


#: The kinds of column a preview shows.
COLUMN_KINDS = ("numeric", "flag", "text", "id", "missing")


@dataclass(frozen=True)
class TablePreview:
    """The head of a file as :func:`load_table` would read it (see :func:`preview_table`).

    Attributes:
        path: the file.
        read: the options it was read with.
        dialect: what was used for a text file, detected or given (see
            :attr:`Dataset.dialect`); ``None`` for other formats or when the file could not
            be sniffed.
        rows: the first rows exactly as the full load reads them (after the same checks
            and conversions), or ``None`` when the options do not work (see ``error``).
        cells: the first rows as parsed, before the checks (shown when ``rows`` is None
            but the file could be split into fields), or ``None``.
        kinds: each column's kind: ``numeric`` (offered as a feature), ``flag`` (two values:
            a label, offered but not chosen by default), ``text``, ``id``
            (the ID column, or a column that counts the rows or holds identifiers too long
            for numbers) or ``missing`` (every cell empty or a missing marker).
        warnings: the data warnings of those rows.
        error: why the options do not work, or ``None``.
        complete: True when the whole file is in the preview (its checks are then final).
        sheet_header: for a spreadsheet whose header row was left to detection, whether
            its first row was found to name the columns (``None`` otherwise).
        lines: when the file could not even be split into fields, its first lines as text
            (to see where the table starts), else empty.
    """

    path: Path
    read: ReadOptions
    dialect: Mapping[str, object] | None
    rows: pd.DataFrame | None
    cells: pd.DataFrame | None
    kinds: Mapping[str, str]
    warnings: tuple[DataWarning, ...]
    error: DataError | None
    complete: bool = False
    lines: tuple[str, ...] = ()
    sheet_header: bool | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def columns(self) -> list[str]:
        table = self.rows if self.rows is not None else self.cells
        return [] if table is None else [str(c) for c in table.columns]

    def detected(self, name: str) -> bool:
        """Whether reading aspect ``name`` (delimiter, decimal, header, encoding) was
        detected rather than given."""
        return self.dialect is not None and name in self.dialect.get("detected", ())  # type: ignore[operator]


def _head_lines(path: Path, dialect: Dialect | None, n: int) -> tuple[str, ...]:
    """The first ``n`` lines of a text file, as text (never raises)."""
    if path.suffix.lower() not in _TEXT_SUFFIXES:
        return ()
    encoding = dialect.python_encoding if dialect is not None else "utf-8-sig"
    try:
        with open(path, encoding=encoding, errors="replace", newline=None) as fh:
            return tuple(clip_text(line.rstrip("\n"), 300) for _, line in zip(range(n), fh,
                                                                             strict=False))
    except (OSError, LookupError, ValueError):
        return ()


def column_kinds(ds: Dataset) -> dict[str, str]:
    """Each column of ``ds`` as ``numeric``, ``flag`` (numbers with only two values: a
    label, not a default feature), ``text``, ``id`` or ``missing``."""
    by_code: dict[str, set[str]] = {}
    for w in ds.warnings:
        if w.column is not None:
            by_code.setdefault(w.code, set()).add(w.column)
    id_like = by_code.get("index-like-column", set()) | by_code.get("long-integers", set())
    empty = by_code.get("empty-column", set())
    flags = by_code.get("two-valued-column", set())
    numeric = set(ds.numeric_columns)
    kinds: dict[str, str] = {}
    for name in ds.columns:
        if name == ds.id_column or name in id_like:
            kinds[name] = "id"
        elif name in empty:
            kinds[name] = "missing"
        elif name in flags:
            kinds[name] = "flag"
        elif name in numeric:
            kinds[name] = "numeric"
        else:
            kinds[name] = "text"
    return kinds


def preview_table(
    path: str | PathLike[str],
    read: ReadOptions | Mapping[str, Any] | None = None,
    n_rows: int = 50,
    *,
    id_column: str | None = None,
    sheet: str | int | None = None,
) -> TablePreview:
    """The first ``n_rows`` rows of ``path`` as :func:`load_table` with the same options
    would read them, reading only the head of the file (a 1 GB CSV previews in
    milliseconds).

    The same sniffing, parser, missing markers, column checks and conversions run as in a
    full load, on the first rows only: with the same options, ``rows`` equals the first
    rows of the full load. When the options do not work (a ragged line, a number column
    holding text, an unknown encoding...), ``error`` holds the :class:`DataError` the full
    load would raise for those rows and ``rows`` is ``None``. It never raises for a bad
    file or bad options (an invalid option is an ``error`` too).
    """
    file = Path(path).expanduser()
    n_rows = max(1, int(n_rows))
    try:
        options = ReadOptions.coerce(read)
    except DataError as exc:
        return TablePreview(file, ReadOptions(), None, None, None, {}, (), exc)
    dialect: Dialect | None = None
    cells: pd.DataFrame | None = None
    seen: dict[str, Dialect] = {}
    try:
        _check_file(file)
        reporter = Progress(None, file.name)
        raw, dialect = _guarded(file, lambda: _open_raw(file, options, sheet, reporter,
                                                        n_rows + 1, seen))
        complete = len(raw.frame) <= n_rows
        raw.frame = raw.frame.iloc[:n_rows].copy()
        cells = raw.frame.copy()
        if raw.fmt not in {"csv", "excel"}:
            raw.text_cells = False
        missing = MISSING_MARKERS | {v.strip().lower() for v in options.missing_values}
        ds = _guarded(file, lambda: _build(raw, file, id_column, list(options.text_columns),
                                           missing, reporter, options))
    except DataError as exc:
        dialect = dialect or seen.get("dialect")
        described = None if dialect is None else dialect.describe()
        lines = () if cells is not None else _head_lines(file, dialect, n_rows)
        return TablePreview(file, options, described, None, cells, {}, (), exc, lines=lines)
    return TablePreview(
        path=file,
        read=options,
        dialect=None if dialect is None else dialect.describe(),
        rows=ds.frame,
        cells=cells,
        kinds=column_kinds(ds),
        warnings=tuple(ds.warnings),
        error=None,
        complete=complete,
        sheet_header=raw.header if raw.fmt == "excel" and options.header is None else None,
    )


def load_frame(
    frame: Any,
    *,
    id_column: str | None = None,
    name: str = "data frame",
    columns: Sequence[str] | None = None,
) -> Dataset:
    """A :class:`Dataset` from a table already in memory: a pandas DataFrame, or a 2-D
    array (its columns are named ``columns`` or ``x0, x1, ...``).

    The same checks as :func:`load_table` apply (names, numeric columns, the ID column);
    the frame is copied, so later changes to it do not reach the dataset. The dataset's
    ``path`` is ``Path(name)``; it has no file behind it.
    """
    if isinstance(frame, pd.DataFrame):
        table = frame.copy()
    else:
        arr = np.asarray(frame)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise DataError(
                f"a table must be 2-D (rows × columns), got an array of shape {arr.shape}.",
                remedy="Pass a DataFrame or a 2-D array.",
            )
        names = list(columns) if columns is not None else [f"x{j}" for j in range(arr.shape[1])]
        if len(names) != arr.shape[1]:
            raise DataError(
                f"{len(names)} column names for an array of {arr.shape[1]} columns.",
                remedy="Give one name per column.",
            )
        table = pd.DataFrame(arr, columns=names)
    table = table.reset_index(drop=True)
    raw = RawTable(frame=table, fmt="frame", locate=lambda p: f"row {p} (0-based)")
    return _build(raw, Path(name), id_column, [], frozenset(MISSING_MARKERS), Progress(None, name))


def sheet_names(path: str | PathLike[str]) -> list[str]:
    """The sheets of a spreadsheet (.xlsx, .xlsm, .xlsb, .xls, .ods) or the arrays of an
    .npz archive, in the file's order: what ``sheet=`` of :func:`load_table` chooses
    from. ``[]`` for the other formats. Reads the workbook's directory, not its cells.

    Raises:
        DataError: the file is missing, empty or cannot be read as its suffix says.
    """
    file = Path(path).expanduser()
    if file.suffix.lower() not in SHEET_SUFFIXES:
        return []
    _check_file(file)
    return list(_sheet_names(file))


@dataclass(frozen=True)
class CsvReading:
    """How :func:`pandas.read_csv` reads a delimited text file the way :func:`load_table`
    does, for a reader that parses it in blocks (the out-of-core reader).

    Attributes:
        path: the file whose head was sniffed.
        read: the reading options.
        dialect: what is used, detected or given (as :attr:`Dataset.dialect`).
        names: the column names (the header's, or ``column_1``... without one), fixed as
            the loader fixes them (blank and repeated names).
        first: keyword arguments for a file's first block: the lines to skip, the header
            line replaced by ``names``, and the rest.
        rest: keyword arguments for any later block (it starts on a data line: no lines
            skipped, no header).
    """

    path: Path
    read: ReadOptions
    dialect: Mapping[str, object]
    names: tuple[str, ...]
    first: Mapping[str, Any]
    rest: Mapping[str, Any]


def csv_reading(path: str | PathLike[str],
                read: ReadOptions | Mapping[str, Any] | None = None) -> CsvReading:
    """The pandas reading of the delimited text file ``path`` with ``read`` (sniffed from
    its head with the same detection as :func:`load_table`), see :class:`CsvReading`.

    Raises:
        DataError: the file or the options do not work (as :func:`load_table` would say).
    """
    options = ReadOptions.coerce(read)
    file = Path(path).expanduser()
    _check_file(file)
    dialect = _guarded(file, lambda: sniff(
        file, delimiter=options.delimiter, decimal=options.decimal, header=options.header,
        skip_rows=options.skip_rows, comment=options.comment, encoding=options.encoding))
    if not dialect.first_row:
        raise DataError("the file has no table in it.", path=file,
                        remedy="Choose a file with a header line and data rows.")
    extra = list(dict.fromkeys(
        v for m in options.missing_values for v in (m, m.strip(), m.lower(), m.upper())))
    base = pandas_csv_options(dialect, extra)
    if dialect.header:
        names, _ = _fix_names([c.strip() for c in dialect.first_row])
    else:
        names = default_names(len(dialect.first_row))
    _check_text_columns(options.text_columns, names, file)
    dtype = {name: object for name in options.text_columns}
    first = dict(base, names=list(names), index_col=False)
    if dtype:
        first["dtype"] = dtype
    rest = dict(first, header=None)
    rest.pop("skiprows", None)
    return CsvReading(file, options, dialect.describe(), tuple(names), first, rest)


def source_files(path: str | os.PathLike[str]) -> list[str]:
    """The files of a big-data source, in order: a glob's matches, a folder's files
    (recursively, leaving out hidden and ``_``-prefixed ones such as ``_SUCCESS``), or the
    file itself (none if it does not exist)."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        return sorted(glob.glob(text))
    p = Path(text)
    if p.is_dir():
        return sorted(str(f) for f in p.rglob("*")
                      if f.is_file() and not f.name.startswith((".", "_")))
    return [text] if p.exists() else []


def _check_text_columns(text_columns: Sequence[str], names: Sequence[str], path: Any) -> None:
    """Refuse columns to keep as text that the file does not have (with the choices)."""
    unknown = [c for c in text_columns if c not in set(names)]
    if unknown:
        raise DataError(
            f"the columns to keep as text include column(s) that do not exist: "
            f"{listing(unknown)}.",
            path=path,
            remedy="Choose among: " + listing(list(names)) + ".",
            hints=(OptionHint("text_columns", names[0], "for example"),),
        )
