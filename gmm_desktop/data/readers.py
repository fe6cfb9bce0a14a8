"""Format readers (internal): each turns a file into a raw :class:`RawTable`.

The readers only read; deciding which columns are numeric, the row identity and the
warnings is done afterwards by :mod:`gmm_desktop.data.loading`, the same way for every
format.  Every failure of a third-party parser on a damaged or unexpected file is turned
into a :class:`DataError` that names the file and says what to do.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from gmm_desktop.errors import GmmDesktopError

from ._progress import Progress
from .dataset import listing
from .errors import DataError, DataWarning, OptionHint, clip_text
from .sniff import (
    NULL_SPELLINGS,
    WHITESPACE,
    Dialect,
    describe_binary,
    looks_like_header,
    strip_comments,
)

# Share of the progress bar given to reading the bytes; the rest covers conversion.
READ_SHARE = 0.9
CSV_BLOCK_BYTES = 4 << 20


@dataclass
class RawTable:
    """What a reader hands to the loader."""

    frame: pd.DataFrame
    fmt: str
    locate: Callable[[int], str]
    text_cells: bool = False
    """True when numbers may arrive as text (CSV, Excel) and need checking."""
    decimal: str = "."
    sheet: str | None = None
    warnings: list[DataWarning] = field(default_factory=list)
    header: bool | None = None
    """A spreadsheet's: whether its first row named the columns (given or detected)."""


def default_names(n: int) -> list[str]:
    """Names given to the columns of a table without a header."""
    return [f"column_{j + 1}" for j in range(n)]


# --------------------------------------------------------------------------- CSV / TSV


class _CountingReader(io.RawIOBase):
    """A raw binary stream that counts the bytes handed out and can be stopped."""

    def __init__(self, raw: io.RawIOBase) -> None:
        super().__init__()
        self._raw = raw
        self.bytes_read = 0
        self.stopped = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.stopped:
            return 0
        n = self._raw.readinto(buffer) or 0
        self.bytes_read += n
        return n

    def read(self, size: int = -1) -> bytes:
        if self.stopped:
            return b""
        data = self._raw.read(size) if size is not None and size >= 0 else self._raw.readall()
        data = data or b""
        self.bytes_read += len(data)
        return data


def _run_with_polling(
    work: Callable[[], Any], counter: _CountingReader, total: int, progress: Progress, name: str
) -> Any:
    """Run ``work`` in a helper thread while reporting progress from this thread.

    The progress callback is therefore always called in the caller's thread.  When it
    asks to stop, the stream is made to end early so the parser returns quickly, and
    :class:`Cancelled` is raised here.
    """
    if not progress.enabled:
        return work()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = work()
        except BaseException as exc:  # handed over to the calling thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="gmm-desktop-reader", daemon=True)
    thread.start()
    mb_total = total / 1e6
    try:
        while thread.is_alive():
            thread.join(0.05)
            done = counter.bytes_read
            progress(
                READ_SHARE * done / max(total, 1),
                f"Reading {name}: {done / 1e6:.0f} of {mb_total:.0f} MB",
            )
    except BaseException:
        counter.stopped = True
        thread.join()
        raise
    if "error" in box:
        raise box["error"]
    return box["result"]


_RAGGED = re.compile(r"Expected (\d+) columns, got (\d+)")
_PANDAS_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _lines(fh: Any, dialect: Dialect) -> Iterator[tuple[int, str]]:
    """(line number, text) of the file's physical lines after the skipped ones, with
    comments removed (a line that held only a comment is dropped)."""
    numbered: Iterator[tuple[int, str]] = enumerate(fh, start=1)
    if dialect.skip_rows:
        numbered = itertools.islice(numbered, dialect.skip_rows, None)
    comment = dialect.comment
    if comment is None:
        yield from numbered
        return
    for number, line in numbered:
        if comment not in line:
            yield number, line
            continue
        kept = strip_comments([line.rstrip("\r\n")], comment, dialect.quotechar)
        if kept:
            yield number, kept[0] + "\n"


def _records(path: Path, dialect: Dialect, limit: int | None = None):
    """Yield (first line number, fields) for every non-blank record of the file (the
    first ``limit`` records only, if given), after the skipped lines, without comments."""
    with open(path, encoding=dialect.python_encoding, errors="replace", newline="") as fh:
        lines = _lines(fh, dialect)
        count = 0
        if dialect.delimiter == WHITESPACE:
            for number, line in lines:
                fields = line.split()
                if fields:
                    yield number, fields
                    count += 1
                    if limit is not None and count >= limit:
                        return
            return
        numbers: list[int] = []

        def texts() -> Iterator[str]:
            for number, line in lines:
                numbers.append(number)
                yield line

        reader = csv.reader(texts(), delimiter=dialect.delimiter, quotechar=dialect.quotechar)
        previous = 0
        try:
            for fields in reader:
                start = numbers[previous] if previous < len(numbers) else previous + 1
                previous = reader.line_num
                if fields:
                    yield start, fields
                    count += 1
                    if limit is not None and count >= limit:
                        return
        except csv.Error:
            return


def csv_locator(path: Path, dialect: Dialect) -> Callable[[int], str]:
    """Map a 0-based data-row position to ``"line N"`` (scans the file; error path only)."""

    def locate(position: int) -> str:
        skip = 1 if dialect.header else 0
        for index, (line, _fields) in enumerate(_records(path, dialect)):
            if index - skip == position:
                return f"line {line}"
        return f"data row {position + 1}"

    return locate


_COMMENT_MARKS = "#%!"


def _ragged_hints(path: Path, dialect: Dialect, head: list[tuple[int, list[str]]],
                  line: int) -> tuple[OptionHint, ...]:
    """Reading options that may explain a ragged row: lines above the table (a title, an
    instrument's notes) or comment lines."""
    hints: list[OptionHint] = []
    with open(path, encoding=dialect.python_encoding, errors="replace", newline="") as fh:
        text = next(itertools.islice(fh, line - 1, None), "").lstrip()
    # (text[:1] of an empty line is "", which `in` finds in any string)
    if dialect.comment is None and text and text[0] in _COMMENT_MARKS:
        hints.append(OptionHint("comment", text[0], f"if lines starting with {text[0]} are "
                                "notes"))
    counts = [len(fields) for _, fields in head]
    if len(counts) >= 3:
        common = max(set(counts[1:]), key=counts[1:].count)
        if counts[0] != common and counts[1:].count(common) >= 0.8 * (len(counts) - 1):
            first = next(n for n, fields in head if len(fields) == common)
            skip = first - 1  # the physical lines above the table
            if skip > dialect.skip_rows:
                hints.append(OptionHint(
                    "skip_rows", skip,
                    f"if the table starts at line {first} (the lines above it are not part "
                    "of it)"))
    return tuple(hints)


def _ragged_error(path: Path, dialect: Dialect, detail: str) -> DataError:
    expected: int | None = None
    head = list(_records(path, dialect, 200))
    for line, fields in _records(path, dialect):
        if expected is None:
            expected = len(fields)
            continue
        if len(fields) != expected:
            what = "header" if dialect.header else "first row"
            return DataError(
                f"this row has {len(fields)} fields but the {what} has {expected}.",
                path=path,
                row_label=f"line {line}",
                remedy="Make every line have the same number of fields: add the missing "
                "separators, quote values that contain the separator, or remove the "
                "extra values.",
                hints=_ragged_hints(path, dialect, head, line),
            )
    return DataError(
        f"a row does not have the same number of fields as the others "
        f"({clip_text(detail, 160)}).",
        path=path,
        remedy="Make every line have the same number of fields.",
    )


def _finish_names(names: list[str], header: bool) -> list[str]:
    return list(names) if header else default_names(len(names))


def _arrow_options(
    dialect: Dialect, extra_missing: Sequence[str], block_size: int = CSV_BLOCK_BYTES
) -> tuple[Any, Any, Any]:
    read_options = pacsv.ReadOptions(
        use_threads=True,
        block_size=block_size,
        skip_rows=dialect.skip_rows,
        autogenerate_column_names=not dialect.header,
        encoding="utf8" if dialect.encoding == "utf-8" else dialect.encoding,
    )
    parse_options = pacsv.ParseOptions(
        delimiter=dialect.delimiter,
        quote_char=dialect.quotechar,
        double_quote=True,
        newlines_in_values=dialect.has_quotes,
        ignore_empty_lines=True,
    )
    convert_options = pacsv.ConvertOptions(
        null_values=[*NULL_SPELLINGS, *extra_missing],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        decimal_point=dialect.decimal,
    )
    return read_options, parse_options, convert_options


def _arrow_head(handle: Any, options: tuple[Any, Any, Any], nrows: int) -> pa.Table:
    """The first ``nrows`` rows through pyarrow's streaming reader (only the first
    blocks of the file are read)."""
    read_options, parse_options, convert_options = options
    reader = pacsv.open_csv(handle, read_options=read_options, parse_options=parse_options,
                            convert_options=convert_options)
    batches = []
    count = 0
    while count < nrows:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        batches.append(batch)
        count += batch.num_rows
    table = pa.Table.from_batches(batches, schema=reader.schema)
    return table.slice(0, nrows)


def _read_csv_arrow(
    path: Path,
    dialect: Dialect,
    progress: Progress,
    extra_missing: Sequence[str],
    nrows: int | None = None,
) -> pd.DataFrame:
    total = path.stat().st_size
    block = CSV_BLOCK_BYTES if nrows is None else 1 << 18
    options = _arrow_options(dialect, extra_missing, block)
    read_options, parse_options, convert_options = options
    if nrows is not None:
        with open(path, "rb") as handle:
            table = _arrow_head(handle, options, nrows)
    else:
        with open(path, "rb", buffering=0) as raw:
            counter = _CountingReader(raw)

            def work() -> pa.Table:
                return pacsv.read_csv(
                    counter,
                    read_options=read_options,
                    parse_options=parse_options,
                    convert_options=convert_options,
                )

            table = _run_with_polling(work, counter, total, progress, path.name)
    inexact = _inexact_integer_columns(table)
    if inexact:
        # pyarrow reads whole numbers beyond int64 as doubles (a 20-digit ID becomes
        # 1e+20): read those columns again as text, which the loader converts exactly.
        convert_options.column_types = {name: pa.string() for name in inexact}
        with open(path, "rb") as handle:
            if nrows is not None:
                table = _arrow_head(handle, options, nrows)
            else:
                table = pacsv.read_csv(
                    handle,
                    read_options=read_options,
                    parse_options=parse_options,
                    convert_options=convert_options,
                )
    progress(READ_SHARE, f"Converting {path.name}", force=True)
    names = _finish_names(table.column_names, dialect.header)
    table = table.rename_columns([str(j) for j in range(table.num_columns)])
    frame = exact_to_pandas(table)
    frame.columns = names
    return frame


def _inexact_integer_columns(table: pa.Table) -> list[str]:
    """Names of double columns holding a whole number of magnitude 2**53 or more (such a
    value may have been a longer integer in the file), when the names are unique."""
    import pyarrow.compute as pc

    names = table.column_names
    if len(set(names)) != len(names):
        return []
    found = []
    for name, column in zip(names, table.columns, strict=True):
        if not pa.types.is_floating(column.type) or column.null_count == len(column):
            continue
        big = pc.greater_equal(pc.abs(column), 2.0**53)
        whole = pc.equal(column, pc.floor(column))
        if pc.any(pc.and_(big, whole)).as_py():
            found.append(name)
    return found


def pandas_csv_options(dialect: Dialect, extra_missing: Sequence[str] = ()) -> dict[str, Any]:
    """The keyword arguments of :func:`pandas.read_csv` that read a file of ``dialect``
    from its first byte: the separator, decimal mark, header line, quote character, the
    missing-value spellings (:data:`NULL_SPELLINGS` and ``extra_missing``), lines to skip,
    comment marker and encoding. The in-memory C-engine reader and the out-of-core reader
    (:mod:`gmm_desktop.outofcore.tables`) both use it, so both read a file the same way."""
    sep = r"\s+" if dialect.delimiter == WHITESPACE else dialect.delimiter
    options: dict[str, Any] = {
        "sep": sep,
        "decimal": dialect.decimal,
        "header": 0 if dialect.header else None,
        "quotechar": dialect.quotechar,
        "na_values": [*NULL_SPELLINGS, *extra_missing],
        "keep_default_na": False,
        "skip_blank_lines": True,
        "encoding": dialect.python_encoding,
        "engine": "c",
    }
    if dialect.skip_rows:
        options["skiprows"] = dialect.skip_rows
    if dialect.comment is not None:
        options["comment"] = dialect.comment
    return options


def _read_csv_pandas(
    path: Path,
    dialect: Dialect,
    progress: Progress,
    extra_missing: Sequence[str],
    nrows: int | None = None,
) -> pd.DataFrame:
    """Parse with pandas' C engine (one call, progress from the bytes it has read);
    ``nrows``: only the first rows (pandas then reads only the head of the file)."""
    total = path.stat().st_size
    if dialect.header:
        # A first data row longer than the header makes pandas use the extra leading
        # fields as an index: the columns shift silently (and 200,000 extra fields take
        # minutes). pyarrow calls it a ragged row; so does this reader, before parsing.
        head = list(itertools.islice(_records(path, dialect), 2))
        if len(head) == 2 and len(head[1][1]) > len(head[0][1]):
            raise _ragged_error(path, dialect, "")
    options = pandas_csv_options(dialect, extra_missing)
    options["nrows"] = nrows
    if nrows is not None:
        with open(path, "rb") as handle:
            frame = pd.read_csv(handle, **options)
    else:
        with open(path, "rb", buffering=0) as raw:
            counter = _CountingReader(raw)

            def work() -> pd.DataFrame:
                return pd.read_csv(io.BufferedReader(counter, 1 << 20), **options)

            frame = _run_with_polling(work, counter, total, progress, path.name)
    inexact = _inexact_float_labels(frame)
    if inexact:
        # A column of whole numbers with a gap (or too long for int64) arrives as float64
        # and loses digits beyond 2**53: read those columns again as text, which the
        # loader converts exactly.
        with open(path, "rb") as handle:
            frame = pd.read_csv(handle, dtype={label: str for label in inexact}, **options)
    progress(READ_SHARE, f"Converting {path.name}", force=True)
    names = dialect.first_row
    if dialect.header and names is not None and len(names) == frame.shape[1]:
        frame.columns = [c.strip() for c in names]  # as written, not mangled by pandas
    elif not dialect.header:
        frame.columns = default_names(frame.shape[1])
    else:
        frame.columns = [str(c) for c in frame.columns]
    if frame.shape[1] > 1 and len(frame) and frame.iloc[:, -1].isna().any():
        # The C engine pads a row with too few fields with NaN; such a row can only be
        # one whose last value is missing, so only then is the file checked line by line.
        error = _short_row_error(path, dialect, None if nrows is None else nrows + 1)
        if error is not None:
            raise error
    return frame


def _inexact_float_labels(frame: pd.DataFrame) -> list[Any]:
    """Labels of float64 columns holding a whole number of magnitude 2**53 or more."""
    labels = list(frame.columns)
    if len(set(labels)) != len(labels):
        return []
    floats = [j for j, dtype in enumerate(frame.dtypes) if dtype.kind == "f"]
    if not floats:
        return []

    def suspicious(values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            hit = (np.abs(values) >= 2.0**53) & np.isfinite(values)
            return (hit & (values == np.floor(values))).any(axis=0)

    found: list[Any] = []
    # Wide tables in blocks of columns (per-column access costs ~0.1 ms each in pandas),
    # tall ones column by column (no copy of the whole table).
    step = max(1, (1 << 22) // max(len(frame), 1))
    for start in range(0, len(floats), step):
        block = floats[start : start + step]
        values = frame.iloc[:, block].to_numpy(dtype=np.float64)
        found.extend(labels[j] for j, hit in zip(block, suspicious(values), strict=True) if hit)
    return found


def _short_row_error(path: Path, dialect: Dialect,
                     limit: int | None = None) -> DataError | None:
    expected: int | None = None
    for _line, fields in _records(path, dialect, limit):
        if expected is None:
            expected = len(fields)
        elif len(fields) < expected:
            return _ragged_error(path, dialect, "")
    return None


def use_arrow_engine() -> bool:
    """Whether CSV files are parsed with pyarrow (else pandas' C engine).

    pyarrow's parser is multi-threaded: with four or more usable cores it is clearly
    faster than pandas' C engine.  With fewer cores it gains little when the machine is
    idle and loses badly when other processes compete for the cores, so the C engine is
    used there.  :data:`ENGINE` forces the choice (``"pyarrow"`` or ``"c"``).
    """
    if ENGINE != "auto":
        return ENGINE == "pyarrow"
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return cores >= 4


ENGINE = "auto"
"""CSV parser choice: ``"auto"`` (see :func:`use_arrow_engine`), ``"pyarrow"`` or ``"c"``."""


def read_csv(
    path: Path,
    dialect: Dialect,
    progress: Progress,
    extra_missing: Sequence[str] = (),
    nrows: int | None = None,
) -> RawTable:
    """Read a delimited text file whose dialect has been detected (``nrows``: only the
    first rows, read from the head of the file, for a preview).

    pyarrow has no comment marker: a dialect with one (like blank-separated columns) is
    read by pandas' C engine whichever engine is chosen.
    """
    use_arrow = (dialect.delimiter != WHITESPACE and dialect.comment is None
                 and use_arrow_engine())
    frame: pd.DataFrame | None = None
    if use_arrow:
        try:
            frame = _read_csv_arrow(path, dialect, progress, extra_missing, nrows)
        except GmmDesktopError:
            raise
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            message = str(exc)
            if _RAGGED.search(message):
                raise _ragged_error(path, dialect, message) from exc
            if "UTF8" in message or isinstance(exc, UnicodeDecodeError):
                return _retry_as_latin1(path, dialect, progress, extra_missing, exc, nrows)
            frame = None  # let the C engine try this dialect
        except (pa.ArrowException, ValueError, OSError):
            frame = None
    if frame is None:
        try:
            frame = _read_csv_pandas(path, dialect, progress, extra_missing, nrows)
        except GmmDesktopError:
            raise
        except UnicodeDecodeError as exc:
            return _retry_as_latin1(path, dialect, progress, extra_missing, exc, nrows)
        except pd.errors.ParserError as exc:
            if _PANDAS_RAGGED.search(str(exc)):
                raise _ragged_error(path, dialect, str(exc)) from exc
            raise _unreadable(path, "a delimited text table", exc) from exc
        except pd.errors.EmptyDataError as exc:
            raise DataError(
                "the file has no table in it.",
                path=path,
                remedy="Choose a file with a header line and data rows.",
            ) from exc
        except (ValueError, OSError, MemoryError, csv.Error) as exc:
            raise _unreadable(path, "a delimited text table", exc) from exc
    return RawTable(
        frame=frame,
        fmt="csv",
        locate=csv_locator(path, dialect),
        text_cells=True,
        decimal=dialect.decimal,
        warnings=list(dialect.warnings),
    )


def _retry_as_latin1(
    path: Path,
    dialect: Dialect,
    progress: Progress,
    extra_missing: Sequence[str],
    exc: BaseException,
    nrows: int | None = None,
) -> RawTable:
    if dialect.encoding_given:
        detail = clip_text(str(exc).strip().splitlines()[0] if str(exc).strip() else exc, 120)
        raise DataError(
            f"the file is not {dialect.encoding} text ({detail}).",
            path=path,
            remedy="Choose the encoding the file was saved with, or leave it to be detected.",
            hints=(OptionHint("encoding", "latin-1" if dialect.encoding != "latin-1"
                              else "utf-8", "for example"),),
        ) from exc
    if dialect.encoding != "utf-8":
        raise _unreadable(path, "a delimited text table", exc) from exc
    dialect.encoding = "latin-1"
    dialect.warnings.append(
        DataWarning(
            "not-utf8",
            f"{path.name} is not UTF-8 text; it was read as Latin-1 (ISO-8859-1).",
            remedy="Check that accented letters in text columns look right; if not, save "
            "the file as UTF-8.",
        )
    )
    return read_csv(path, dialect, progress, extra_missing, nrows)


def _unreadable(path: Path, what: str, exc: BaseException) -> DataError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    detail = clip_text(detail, 160)
    return DataError(
        f"the file could not be read as {what} ({detail}).",
        path=path,
        remedy="The file may be truncated or damaged: export it again from the program "
        "that made it, or save it as CSV.",
    )


# ------------------------------------------------------------------------------ Parquet


def exact_to_pandas(table: pa.Table) -> pd.DataFrame:
    """``table.to_pandas()`` without losing digits of whole numbers.

    pyarrow turns an integer column with nulls into float64, which is exact only below
    2**53: such a column whose values reach 2**53 becomes pandas' nullable ``Int64``
    instead (an ID column of 19-digit numbers with a gap stays exact).
    """
    import pyarrow.compute as pc

    mapped: set[str] = set()
    for name, column in zip(table.column_names, table.columns, strict=True):
        if (
            pa.types.is_integer(column.type)
            and column.null_count
            and column.null_count < len(column)
        ):
            peak = pc.max_element_wise(pc.abs(pc.min(column)), pc.abs(pc.max(column)))
            if peak.as_py() >= 2**53:
                mapped.add(name)
    if not mapped:
        return table.to_pandas()
    nullable = {pa.int64(): pd.Int64Dtype(), pa.uint64(): pd.UInt64Dtype()}
    frame = table.to_pandas()
    for j, name in enumerate(table.column_names):
        if name in mapped:
            column = table.column(j)
            frame.isetitem(j, column.to_pandas(types_mapper=nullable.get).set_axis(frame.index))
    return frame


def _exact_decimal(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A decimal column as float64, or as int64 / text when it holds whole numbers that
    float64 cannot represent exactly (decimal(20, 0) identifiers)."""
    import pyarrow.compute as pc

    if column.type.scale == 0 and column.type.precision > 15:
        try:
            return pc.cast(column, pa.int64(), safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return pc.cast(column, pa.string())
    return pc.cast(column, pa.float64())


def _arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    # Decimal columns become float64 so that they are offered as numeric features (whole
    # numbers too long for float64 stay exact: int64, or text).
    columns = []
    for column in table.columns:
        t = column.type
        if pa.types.is_decimal(t):
            column = _exact_decimal(column)
        elif pa.types.is_float16(t):
            column = column.cast(pa.float64())
        columns.append(column)
    table = pa.Table.from_arrays(columns, names=table.column_names,
                                 metadata=table.schema.metadata)
    frame = exact_to_pandas(table)
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        frame = frame.reset_index()  # a stored pandas index is kept as ordinary column(s)
    return frame


def read_parquet(path: Path, progress: Progress) -> RawTable:
    """Read a Parquet file, one record batch at a time for progress and cancellation."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except GmmDesktopError:
        raise
    except Exception as exc:  # any parser failure means a damaged file
        raise _unreadable(path, "a Parquet file", exc) from exc
    try:
        total = max(parquet.metadata.num_rows, 1)
        batches = []
        done = 0
        for batch in parquet.iter_batches(batch_size=65536):
            batches.append(batch)
            done += batch.num_rows
            progress(READ_SHARE * done / total, f"Reading {path.name}: {done:,} rows")
        table = pa.Table.from_batches(batches, schema=parquet.schema_arrow)
        frame = _arrow_to_pandas(table)
    except GmmDesktopError:
        raise
    except Exception as exc:
        raise _unreadable(path, "a Parquet file", exc) from exc
    finally:
        parquet.close()
    frame.columns = [str(c) for c in frame.columns]
    return RawTable(frame=frame, fmt="parquet", locate=lambda p: f"row index {p} (0-based)")


# -------------------------------------------------------------------------------- Excel


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return str(value)



def _choose(names: list[str], wanted: str | int | None, path: Path, *, whole: str,
            noun: str) -> str:
    """The one of ``names`` that ``wanted`` picks (a name, a 0-based number, or ``None``
    when there is only one), or a :class:`DataError` that lists them all."""
    shown = listing(names)
    if wanted is None:
        if len(names) > 1:
            raise DataError(
                f"{whole} {len(names)} {noun}s: {shown}.",
                path=path,
                remedy=f"Choose the {noun} to load.",
                hints=(OptionHint("sheet", names[0], "for example"),),
            )
        return names[0]
    if isinstance(wanted, int) and not isinstance(wanted, bool):
        if not -len(names) <= wanted < len(names):
            raise DataError(
                f"there is no {noun} number {wanted}; the {noun}s are {shown}.",
                path=path,
                remedy=f"Choose one of these {noun}s by name.",
            )
        return names[wanted]
    if str(wanted) not in names:
        raise DataError(
            f"there is no {noun} named '{clip_text(wanted)}'; the {noun}s are {shown}.",
            path=path,
            remedy=f"Choose one of these {noun}s.",
        )
    return str(wanted)

#: Spreadsheet formats read by :func:`read_excel`, with the name used in messages.
SPREADSHEET_KINDS = {
    ".xlsx": "an Excel .xlsx workbook",
    ".xlsm": "an Excel .xlsm workbook",
    ".xlsb": "an Excel .xlsb (binary) workbook",
    ".xls": "an Excel 97-2003 .xls workbook",
    ".ods": "an OpenDocument .ods spreadsheet",
}


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and value != value
    )


def read_excel(path: Path, sheet: str | int | None, progress: Progress,
               header: bool | None = None) -> RawTable:
    """Read one sheet of a spreadsheet (``sheet`` is its name or 0-based index).

    .xlsx, .xlsm, .xlsb, .xls and .ods are read by pandas with python-calamine: every
    row of the sheet's cells is read, whatever the file's ``<dimension>`` element claims
    (an openpyxl read-only loop trusted it and loaded 100 of 1,000 rows of such a file).
    The table may start anywhere in the sheet: blank rows above and below it and empty
    columns are dropped, and positions are reported as the sheet's row numbers.
    """
    kind = SPREADSHEET_KINDS.get(path.suffix.lower(), "a spreadsheet")
    progress(0.05, f"Reading {path.name}", force=True)
    try:
        with pd.ExcelFile(path, engine="calamine") as book:
            names = [str(n) for n in book.sheet_names]
            if not names:
                raise DataError(
                    "the workbook has no worksheets.", path=path, remedy="Choose another file."
                )
            title = _choose(names, sheet, path, whole="the workbook has", noun="sheet")
            progress(0.1, f"Reading {path.name} [{title}]", force=True)
            # Every cell as written (empty cells are ""): missing markers ("NA", "-", ...)
            # are decided by the loader as for CSV files.
            grid = pd.read_excel(
                book, sheet_name=title, header=None, na_filter=False, dtype=object
            )
    except GmmDesktopError:
        raise
    except Exception as exc:
        raise _unreadable(path, kind, exc) from exc
    progress(READ_SHARE, f"Converting {path.name} [{title}]", force=True)

    cells = grid.to_numpy(dtype=object, copy=True)
    empty = pd.isna(cells) | (cells == "")
    # Blank rows above and below the table (spaces count as blank) are dropped; the grid's
    # row 0 is the sheet's row 1 (pandas keeps blank rows), so positions stay the sheet's.
    first, last = 0, len(cells) - 1
    while first <= last and all(map(_is_blank, cells[first])):
        first += 1
    while last > first and all(map(_is_blank, cells[last])):
        last -= 1
    if first > last:
        raise DataError(
            f"the sheet '{clip_text(title)}' is empty.",
            path=path,
            remedy="Choose the sheet that holds the table.",
        )
    used = np.flatnonzero(~empty[first : last + 1].all(axis=0))
    body_empty = empty[first : last + 1][:, used]
    cells = cells[first : last + 1][:, used]
    cells[body_empty] = None
    text_rows = [[_cell_text(v) for v in row] for row in cells[:200]]
    has_header = (looks_like_header(text_rows[0], text_rows[1:], ".") if header is None
                  else header)
    if has_header:
        names_ = [_cell_text(v).strip() for v in cells[0]]
        body = cells[1:]
    else:
        names_ = default_names(len(used))
        body = cells
    frame = pd.DataFrame(body, columns=pd.RangeIndex(len(used)), dtype=object)
    frame = frame.infer_objects()
    frame.columns = pd.Index(names_)
    first_data_row = first + 1 + (1 if has_header else 0)

    def locate(position: int) -> str:
        return f"row {first_data_row + position} of sheet '{clip_text(title)}'"

    return RawTable(
        frame=frame, fmt="excel", locate=locate, text_cells=True, sheet=title, warnings=[],
        header=bool(has_header),
    )


# -------------------------------------------------------------------------------- NumPy


def _array_to_frame(path: Path, array: np.ndarray, progress: Progress) -> pd.DataFrame:
    if array.dtype.hasobject:
        raise DataError(
            "the array holds Python objects, which are not loaded for safety.",
            path=path,
            remedy="Save a plain numeric array (for example with X.astype(float)).",
        )
    if array.dtype.names:  # a structured array: one column per field
        if array.ndim != 1:
            raise DataError(
                f"a structured array must be 1-D, this one has shape {array.shape}.",
                path=path,
                remedy="Save it flattened, or as a plain 2-D numeric array.",
            )
        columns: dict[str, Any] = {}
        for name in array.dtype.names:
            values = np.asarray(array[name])
            if values.ndim != 1:
                raise DataError(
                    f"the field '{clip_text(name)}' holds sub-arrays of shape "
                    f"{values.shape[1:]}.",
                    path=path,
                    remedy="Save one field per column.",
                )
            columns[str(name)] = values
        return pd.DataFrame(columns)
    if array.ndim == 0 or array.ndim > 2:
        raise DataError(
            f"the array has {array.ndim} dimensions (shape {array.shape}); a table needs 2.",
            path=path,
            remedy="Save a 2-D array of shape (rows, features), e.g. X.reshape(len(X), -1).",
        )
    if array.dtype.kind == "c":
        raise DataError(
            "the array holds complex numbers.",
            path=path,
            remedy="Save the real and imaginary parts as separate columns.",
        )
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    n = array.shape[0]
    out = np.empty(array.shape, dtype=array.dtype)
    step = max(1, (8 << 20) // max(array.itemsize * array.shape[1], 1))
    for start in range(0, n, step):
        out[start : start + step] = array[start : start + step]
        progress(READ_SHARE * min(start + step, n) / max(n, 1), f"Reading {path.name}")
    return pd.DataFrame(out, columns=default_names(array.shape[1]), copy=False)


def read_npy(path: Path, progress: Progress) -> RawTable:
    """Read a NumPy ``.npy`` file (memory-mapped, copied in blocks for progress)."""
    try:
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            if "pickle" in str(exc) or "object" in str(exc).lower():
                raise DataError(
                    "the array holds Python objects, which are not loaded for safety.",
                    path=path,
                    remedy="Save a plain numeric array (for example with X.astype(float)).",
                ) from exc
            raise
        frame = _array_to_frame(path, array, progress)
    except GmmDesktopError:
        raise
    except Exception as exc:
        raise _unreadable(path, "a NumPy .npy array", exc) from exc
    return RawTable(frame=frame, fmt="npy", locate=lambda p: f"row index {p} (0-based)")


def read_npz(path: Path, member: str | int | None, progress: Progress) -> RawTable:
    """Read one array of a NumPy ``.npz`` archive (``member`` chooses it when several)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise DataError(
                    "this is not an .npz archive.",
                    path=path,
                    remedy="Rename a single-array file to .npy.",
                )
            names = list(archive.files)
            if not names:
                raise DataError("the archive holds no arrays.", path=path)
            member = _choose(names, member, path, whole="the archive holds", noun="array")
            progress(0.1, f"Reading {path.name} [{member}]", force=True)
            try:
                array = archive[str(member)]
            except ValueError as exc:
                if "pickle" in str(exc):
                    raise DataError(
                        f"the array '{clip_text(member)}' holds Python objects, which are not "
                        "loaded "
                        "for safety.",
                        path=path,
                        remedy="Save a plain numeric array.",
                    ) from exc
                raise
            frame = _array_to_frame(path, array, progress)
    except GmmDesktopError:
        raise
    except Exception as exc:
        raise _unreadable(path, "a NumPy .npz archive", exc) from exc
    return RawTable(
        frame=frame, fmt="npz", locate=lambda p: f"row index {p} (0-based)", sheet=str(member)
    )


def sniff_binary_kind(path: Path) -> tuple[str, str] | None:
    """Recognise a binary format from the first bytes of ``path``."""
    with open(path, "rb") as handle:
        return describe_binary(handle.read(16))


def sheet_names(path: Path) -> list[str]:
    """The sheets of a spreadsheet, or the arrays of an ``.npz`` archive, in the file's
    order (what ``sheet=`` chooses from); ``[]`` for any other format.

    Only the workbook's directory (or the archive's list of members) is read, not the
    cells. Raises :class:`DataError` for a file that cannot be read as its suffix says.
    """
    suffix = path.suffix.lower()
    if suffix in SPREADSHEET_KINDS:
        try:
            with pd.ExcelFile(path, engine="calamine") as book:
                return [str(n) for n in book.sheet_names]
        except Exception as exc:
            raise _unreadable(path, SPREADSHEET_KINDS[suffix], exc) from exc
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                if not isinstance(archive, np.lib.npyio.NpzFile):
                    raise DataError("this is not an .npz archive.", path=path,
                                    remedy="Rename a single-array file to .npy.")
                return [str(n) for n in archive.files]
        except GmmDesktopError:
            raise
        except Exception as exc:
            raise _unreadable(path, "a NumPy .npz archive", exc) from exc
    return []
