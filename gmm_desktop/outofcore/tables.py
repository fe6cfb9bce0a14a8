"""Opening big tables lazily (a Parquet dataset, or a folder / glob of CSV files) and
preparing their features without collecting them.

:func:`open_table` gives a :class:`LazyTable` (a Dask DataFrame). :func:`prepare` makes one
pass over it (the *profile*: rows per partition, rows with a missing or infinite feature,
and the features' means and centred sums of squares, merged across partitions with Chan's
formula so large sums keep their precision); from it come the scaler and a Dask array of
the scaled, finite feature rows with known partition sizes, plus the row identities (the
id column, or the row's position in the table counting from 0).

``scaling="robust"`` takes the median and interquartile range of a uniform random sample
of at most 100,000 kept rows (a rank error of about 1/√n_sample ≈ 0.3 % of the rows).
Missing values: rows with a missing or infinite feature are dropped (``missing="drop"``,
the only policy out of core).

Parquet is read by pyarrow directly, not through pandas: each partition is a run of whole
row groups of one file (about :data:`PIECE_ROWS` rows), only the feature columns are
decoded, each column straight into one row of a features × rows float64 array, and the
feature block handed on is its transpose (an F-ordered rows × features view, which the
EM kernels read column by column). Reading the row identities (the id column, or the
positions) is a separate task, run only when they are asked for (export, plot sample),
so a fit reads nothing but the features.

CSV files are read as :func:`gmm_desktop.data.load_table` reads one file: the first file's
head is sniffed with the reading options (:class:`~gmm_desktop.data.ReadOptions`:
delimiter, decimal mark, header, lines to skip, comment marker, missing-value markers,
encoding, text columns; whatever is not given is detected), and every file is parsed by
pandas with the same keyword arguments (:func:`gmm_desktop.data.csv_reading`), in blocks of
about 64 MB cut at line ends: a file's first block skips its lines above the header and
checks the header against the first file's, a later block starts on a data line. Each
block is given the first rows' column types (whole numbers as floats, so a later block
with a missing value fits); a number column that holds text in a later block is an error
naming the file, the column and the value, with the reading option that would help.
"""

from __future__ import annotations

import functools
import gzip
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from dask import delayed

from gmm_desktop.data import (
    MISSING_MARKERS,
    CsvReading,
    DataError,
    OptionHint,
    ReadOptions,
    Scaler,
    csv_reading,
    preview_table,
    source_files,
)
from gmm_desktop.outofcore._compute import PassProgress, compute_parts

__all__ = ["LazyFeatures", "LazyTable", "is_lazy_source", "open_table", "prepare"]

_CSV = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
_PARQUET = (".parquet", ".pq", ".parq")

#: Rows per partition of a Parquet table (whole row groups of one file are joined up to
#: about this many rows: 80 MB of float64 features at 10 columns).
PIECE_ROWS = 1 << 20


@dataclass(frozen=True)
class ParquetPiece:
    """One partition of a Parquet table: consecutive row groups of one file."""

    path: str
    row_groups: tuple[int, ...]
    n_rows: int


@dataclass
class LazyTable:
    """A table opened lazily: ``frame`` is a Dask DataFrame (nothing read yet).

    ``pieces`` lists the partitions of a Parquet table (read by pyarrow directly); it is
    ``None`` for CSV, whose partitions are ``frame``'s.
    """

    frame: Any
    path: str
    name: str
    id_column: str | None
    pieces: list[ParquetPiece] | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    """The reading options of CSV files (the defaults for Parquet)."""
    dialect: Mapping[str, object] | None = None
    """What CSV files are read with, detected or given (``None`` for Parquet)."""

    @property
    def numeric_columns(self) -> list[str]:
        return [
            str(c) for c, t in self.frame.dtypes.items()
            if getattr(t, "kind", "O") in "fiu" and str(c) != self.id_column
        ]


@dataclass
class LazyFeatures:
    """Scaled feature rows of a :class:`LazyTable`, as Dask arrays with known row blocks."""

    X: Any
    row_ids: Any
    columns: list[str]
    scaler: Scaler
    n_rows: int
    n_used: int

    @property
    def n_dropped(self) -> int:
        return self.n_rows - self.n_used


def is_lazy_source(path: str | os.PathLike[str]) -> bool:
    """True for a folder (Parquet dataset or CSV files) or a glob pattern."""
    text = str(path)
    return any(ch in text for ch in "*?[") or Path(text).is_dir()


def open_table(
    path: str | os.PathLike[str],
    *,
    id_column: str | None = None,
    delimiter: str | None = None,
    blocksize: str | int = "64MB",
    read: ReadOptions | Mapping[str, Any] | None = None,
) -> LazyTable:
    """Open a Parquet dataset (a file or folder) or CSV files (a folder or a glob) lazily.

    ``read`` says how CSV files are read (see the module docstring; ``delimiter`` is the
    older spelling of ``read.delimiter``). Reading options for text are refused for
    Parquet, as :func:`gmm_desktop.data.load_table` refuses them.
    """
    import dask.dataframe as dd

    options = ReadOptions.coerce(read)
    if delimiter is not None:
        options = options.replace(delimiter=delimiter)
    text = str(path)
    files = source_files(text)
    if not files:
        raise DataError(
            f"{text}: no such file, folder or matching files.",
            remedy="Give a Parquet file or dataset folder, a folder of CSV files, or a glob "
            "such as 'logs/*.csv' (quoted, so the shell does not expand it).",
        )
    lower = [f.lower() for f in files]
    pieces = None
    reading: CsvReading | None = None
    try:
        if all(f.endswith(_PARQUET) for f in lower):
            if not options.is_default:
                raise DataError(
                    f"{text}: reading options for text files were given "
                    f"({', '.join(options.changed())}), but these are Parquet files.",
                    remedy="Leave them out: they apply to CSV/TSV/TXT files only.",
                )
            frame = dd.read_parquet(files if len(files) > 1 else files[0])
            pieces = _parquet_pieces(files)
        elif all(f.endswith(_CSV) for f in lower):
            frame, reading = _read_csv_files(files, options, blocksize, id_column)
        else:
            kinds = sorted({Path(f).suffix or "(none)" for f in files})
            raise DataError(
                f"{text}: mixed or unsupported files ({', '.join(kinds)}).",
                remedy="Out-of-core data must be all Parquet or all CSV/TSV files.",
            )
    except DataError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(
            f"{text}: cannot be opened as a table ({exc}).",
            remedy="Check that the files are valid Parquet or CSV with a header row.",
        ) from None
    if id_column is not None and id_column not in frame.columns:
        raise DataError(
            f"{text}: no column {id_column!r} for the row identity.",
            remedy=f"Columns: {', '.join(map(str, list(frame.columns)[:20]))}.",
        )
    name = Path(text.rstrip("/")).name or text
    return LazyTable(frame, text, name, id_column, pieces, options,
                     None if reading is None else reading.dialect)


# --------------------------------------------------------------------------- CSV


#: Rows of the first file read to decide the column types.
_META_ROWS = 1000
#: Bytes of a compressed file's head decompressed to detect its dialect.
_SNIFF_BYTES = 256 * 1024


def _is_gz(path: str) -> bool:
    return path.lower().endswith(".gz")


def _splittable(encoding: str) -> bool:
    """Whether a file in ``encoding`` can be cut at b"\n" bytes (not UTF-16/32)."""
    try:
        return "\n".encode(encoding.replace("-sig", "")) == b"\n"
    except LookupError:
        return False


def _reading_of(first: str, options: ReadOptions) -> CsvReading:
    """:func:`csv_reading` of the first file (of its decompressed head if gzipped)."""
    if not _is_gz(first):
        return csv_reading(first, options)
    import tempfile

    with gzip.open(first, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    inner = Path(first[:-3]).name
    with tempfile.TemporaryDirectory() as folder:
        sample = Path(folder) / inner
        sample.write_bytes(head)
        reading = csv_reading(sample, options)
    return CsvReading(Path(first), reading.read, reading.dialect, reading.names,
                      reading.first, reading.rest)


def _block_ranges(files: list[str], blocksize: int | None) -> list[tuple[str, int, int | None]]:
    """(file, offset, length) of every block: whole files when ``blocksize`` is None."""
    out: list[tuple[str, int, int | None]] = []
    for f in files:
        size = os.path.getsize(f)
        if blocksize is None or _is_gz(f) or size <= blocksize:
            out.append((f, 0, None))
            continue
        out.extend((f, offset, blocksize) for offset in range(0, size, blocksize))
    return out


def _csv_block(path: str, offset: int, length: int | None, kwargs: Mapping[str, Any],
               names: tuple[str, ...], header: bool, dtypes: Mapping[str, Any],
               missing: frozenset[str] = MISSING_MARKERS) -> Any:
    """One block of a CSV file as a pandas DataFrame with the table's columns and types.

    A file's first block (``offset == 0``) is read with ``kwargs`` = the first-block
    arguments; its header (when the files have one) must name the same columns as the
    first file's. Raises :class:`DataError` naming the file for anything that does not fit.
    """
    import pandas as pd
    from fsspec.utils import read_block

    if _is_gz(path):
        with gzip.open(path, "rb") as handle:
            data = handle.read()
    else:
        with open(path, "rb") as handle:
            data = read_block(handle, offset, length, delimiter=b"\n") if length is not None \
                else handle.read()
    args = dict(kwargs)
    first = offset == 0
    check_header = first and header
    if check_header:  # read the header as written, compare it, then use the names
        args.pop("names", None)
        args.pop("index_col", None)
    try:
        frame = pd.read_csv(io.BytesIO(data), **args)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame({n: pd.Series([], dtype=t) for n, t in dtypes.items()})
        return frame
    except (pd.errors.ParserError, ValueError, UnicodeError) as exc:
        raise DataError(
            f"{path}: cannot be read with the same reading as the first file "
            f"({str(exc).strip().splitlines()[0] if str(exc).strip() else exc}).",
            remedy="Every file of the folder must be written the same way (delimiter, "
            "columns, encoding...).",
        ) from None
    if check_header:
        found = [str(c).strip() for c in frame.columns]
        if found != [n.strip() for n in names]:
            raise DataError(
                f"{path}: its columns ({', '.join(found[:10])}) are not the first file's "
                f"({', '.join(names[:10])}).",
                remedy="Every file of the folder must have the same columns in the same "
                "order.",
            )
        frame.columns = list(names)
    elif frame.shape[1] != len(names):
        raise DataError(
            f"{path}: {frame.shape[1]} column(s) where the first file has {len(names)}.",
            remedy="Every file of the folder must have the same columns.",
        )
    for name, dtype in dtypes.items():
        column = frame[name]
        if column.dtype == dtype:
            continue
        if getattr(dtype, "kind", "O") in "fiu":
            if getattr(column.dtype, "kind", "O") not in "fiub":
                # as the loader reads text cells: stripped, missing markers in any case,
                # the file's decimal mark
                text = column.astype(object).where(column.notna(), "").astype(str).str.strip()
                marker = text.str.lower().isin(missing)
                if kwargs.get("decimal") == ",":
                    text = text.str.replace(",", ".", regex=False)
                numbers = pd.to_numeric(text.where(~marker, None), errors="coerce")
                bad = numbers.isna() & ~marker
                if bad.any():
                    value = str(column[bad].iloc[0]).strip()
                    raise DataError(
                        f"{path}: the column '{name}' holds numbers, but also the text "
                        f"'{value[:40]}'.",
                        remedy="Correct the value in the file, or leave the cell empty if "
                        "it is missing.",
                        hints=(OptionHint("missing_values", value[:40],
                                          "if such values mean 'missing'"),
                               OptionHint("text_columns", name,
                                          "to keep the column as text (it will not be a "
                                          "feature)")),
                    )
                column = numbers
            try:
                frame[name] = column.astype(dtype)
            except (TypeError, ValueError):
                raise DataError(
                    f"{path}: the column '{name}' has missing values, but it identifies "
                    "the rows.",
                    remedy="Choose an ID column with a value in every row.",
                ) from None
        else:
            frame[name] = column.astype(dtype)
    return frame


def _read_csv_files(files: list[str], options: ReadOptions, blocksize: str | int | None,
                    id_column: str | None) -> tuple[Any, CsvReading]:
    """A Dask DataFrame of CSV files read in blocks (see the module docstring)."""
    import dask.dataframe as dd
    import pandas as pd
    from dask.utils import parse_bytes

    reading = _reading_of(files[0], options)
    first = dict(reading.first)
    size = parse_bytes(blocksize) if isinstance(blocksize, str) else blocksize
    if not _splittable(str(first["encoding"])):
        size = None
    if _is_gz(files[0]):
        head = pd.read_csv(files[0], nrows=_META_ROWS, compression="gzip", **first)
    else:
        # the column types of the first rows as the in-memory loader decides them (a
        # number column with a stray text value is the loader's error, with its hints)
        preview = preview_table(files[0], options, _META_ROWS, id_column=id_column)
        if preview.error is not None:
            raise preview.error
        assert preview.rows is not None
        head = preview.rows
    dtypes: dict[str, Any] = {}
    for name in reading.names:
        dtype = head[name].dtype
        if name in options.text_columns:
            dtype = np.dtype(object)  # never a feature, whatever it holds
        elif getattr(dtype, "kind", "O") in "iu" and name != id_column:
            dtype = np.dtype(np.float64)  # a later block may have a missing value
        elif getattr(dtype, "kind", "O") == "b":
            dtype = np.dtype(np.float64)
        dtypes[name] = dtype
    meta = pd.DataFrame({n: pd.Series([], dtype=t) for n, t in dtypes.items()})
    header = bool(reading.dialect.get("header"))
    # from_map (one task per block), not from_delayed: the latter's partitions are
    # aliases of the delayed keys, which the array graph optimisation lost downstream.
    read_one = functools.partial(_csv_part, reading=reading, header=header, dtypes=dtypes)
    return dd.from_map(read_one, _block_ranges(files, size), meta=meta,
                       enforce_metadata=False, label="read-csv-block"), reading


def _csv_part(block: tuple[str, int, int | None], *, reading: CsvReading, header: bool,
              dtypes: Mapping[str, Any]) -> Any:
    path, offset, length = block
    missing = MISSING_MARKERS | {v.strip().lower() for v in reading.read.missing_values}
    return _csv_block(path, offset, length, reading.first if offset == 0 else reading.rest,
                      reading.names, header, dtypes, missing)


def _parquet_pieces(files: list[str], target_rows: int | None = None) -> list[ParquetPiece]:
    """Partitions of Parquet files: consecutive row groups of a file, about ``target_rows``
    (default :data:`PIECE_ROWS`) each."""
    import pyarrow.parquet as pq

    target_rows = PIECE_ROWS if target_rows is None else target_rows
    pieces = []
    for path in files:
        meta = pq.ParquetFile(path).metadata
        groups: list[int] = []
        rows = 0
        for g in range(meta.num_row_groups):
            groups.append(g)
            rows += meta.row_group(g).num_rows
            if rows >= target_rows:
                pieces.append(ParquetPiece(path, tuple(groups), rows))
                groups, rows = [], 0
        if groups or meta.num_row_groups == 0:  # the rest of the file (or an empty file)
            pieces.append(ParquetPiece(path, tuple(groups), rows))
    return pieces


# --------------------------------------------------------------------------- profile


def _features_t(part: Any, columns: list[str]) -> np.ndarray:
    """The feature columns of a partition as a features × rows float64 array.

    A :class:`ParquetPiece` is read with pyarrow (only these columns; nulls become NaN),
    each column decoded straight into its row of the result; a pandas partition (CSV)
    through ``to_numpy``.
    """
    if isinstance(part, ParquetPiece):
        import pyarrow.parquet as pq

        table = pq.ParquetFile(part.path).read_row_groups(
            list(part.row_groups), columns=list(columns), use_threads=False
        )
        xt = np.empty((len(columns), table.num_rows))
        for j, name in enumerate(columns):
            xt[j] = table.column(name).to_numpy()
        return xt
    return np.ascontiguousarray(part[columns].to_numpy(dtype=np.float64, na_value=np.nan).T)


def _finite_columns(xt: np.ndarray) -> np.ndarray | None:
    """Mask of the rows (columns of ``xt``) with every feature finite; ``None`` if all are."""
    finite = np.isfinite(xt).all(axis=0)
    return None if finite.all() else finite


def _profile(part: Any, columns: list[str]) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(rows, kept rows, mean of kept rows, centred sum of squares of kept rows)."""
    xt = _features_t(part, columns)
    keep = _finite_columns(xt)
    xk = xt if keep is None else np.compress(keep, xt, axis=1)
    n = xk.shape[1]
    d = xt.shape[0]
    if n == 0:
        return xt.shape[1], 0, np.zeros(d), np.zeros(d)
    mean = xk.mean(axis=1)
    m2 = ((xk - mean[:, None]) ** 2).sum(axis=1)
    return xt.shape[1], n, mean, m2


def _block(part: Any, columns: list[str], center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The scaled, finite feature rows of a partition (rows × features, F-ordered)."""
    xt = _features_t(part, columns)
    keep = _finite_columns(xt)
    if keep is not None:
        xt = np.compress(keep, xt, axis=1)  # C-ordered (``xt[:, keep]`` is F-ordered)
    if np.any(center != 0.0):
        xt -= center[:, None]
    if np.any(scale != 1.0):
        xt /= scale[:, None]
    return xt.T


def _ids(part: Any, columns: list[str], id_column: str | None, first: int) -> np.ndarray:
    """The identities of a partition's kept rows: its id column, or the rows' positions."""
    keep = _finite_columns(_features_t(part, columns))
    if id_column is None:
        n = part.n_rows if isinstance(part, ParquetPiece) else len(part)
        ids = np.arange(first, first + n, dtype=np.int64)
    elif isinstance(part, ParquetPiece):
        import pyarrow.parquet as pq

        table = pq.ParquetFile(part.path).read_row_groups(
            list(part.row_groups), columns=[id_column], use_threads=False
        )
        ids = table.column(id_column).to_numpy(zero_copy_only=False)
    else:
        ids = part[id_column].to_numpy()
    return ids if keep is None else ids[keep]


def prepare(
    table: LazyTable,
    columns: list[str] | None = None,
    *,
    missing: str = "drop",
    scaling: str = "standardize",
    seed: int = 0,
    progress: PassProgress | None = None,
) -> LazyFeatures:
    """The scaled feature rows of ``table`` (one profiling pass; see the module docstring)."""
    import dask.array as da

    if missing != "drop":
        raise DataError(
            f"missing={missing!r} is not available out of core.",
            remedy="Use --missing drop (rows with a missing value are left out).",
        )
    available = table.numeric_columns
    if columns is None:
        columns = available
        if not columns:
            raise DataError(f"{table.name}: no numeric column to use as a feature.")
    else:
        unknown = [c for c in columns if c not in table.frame.columns]
        if unknown:
            raise DataError(
                f"{table.name}: no column {unknown[0]!r}.",
                remedy=f"Numeric columns: {', '.join(available[:20])}.",
            )
        wrong = [c for c in columns if c not in available]
        if wrong:
            raise DataError(f"{table.name}: column {wrong[0]!r} is not numeric.")
    parts: list[Any] = (
        list(table.pieces) if table.pieces is not None else list(table.frame.to_delayed())
    )
    profiles = compute_parts(
        [delayed(_profile, pure=True)(p, columns) for p in parts],
        stage="reading the data (profile)", progress=progress,
    )
    d = len(columns)
    n_rows = sum(p[0] for p in profiles)
    n, mean, m2 = 0, np.zeros(d), np.zeros(d)
    for _, nb, mb, m2b in profiles:  # Chan et al.'s pairwise merge
        if nb == 0:
            continue
        total = n + nb
        delta = mb - mean
        mean = mean + delta * (nb / total)
        m2 = m2 + m2b + delta * delta * (n * nb / total)
        n = total
    if n < 2:
        raise DataError(
            f"{table.name}: {n} complete row(s) in the chosen columns; at least 2 are needed."
        )
    if scaling == "none":
        scaler = Scaler.identity(d, columns)
    elif scaling == "standardize":
        std = np.sqrt(m2 / n)
        scaler = Scaler("standardize", mean, np.where(std > 0, std, 1.0), columns)
    elif scaling == "robust":
        scaler = None  # from a sample, below
    else:
        raise DataError(f"unknown scaling {scaling!r}.", remedy="Use none, standardize or robust.")
    firsts = np.concatenate([[0], np.cumsum([p[0] for p in profiles])[:-1]])

    id_dtype = (
        np.dtype(np.int64) if table.id_column is None else table.frame[table.id_column].dtype
    )
    if not isinstance(id_dtype, np.dtype):
        id_dtype = np.dtype(object)

    def build(center: np.ndarray, scale: np.ndarray) -> tuple[Any, Any]:
        xs, ids = [], []
        for b, part in enumerate(parts):
            nb = profiles[b][1]
            if nb == 0:
                continue
            block = delayed(_block, pure=True)(part, columns, center, scale)
            xs.append(da.from_delayed(block, shape=(nb, d), dtype=np.float64))
            idb = delayed(_ids, pure=True)(part, columns, table.id_column, int(firsts[b]))
            ids.append(da.from_delayed(idb, shape=(nb,), dtype=id_dtype))
        return da.concatenate(xs, axis=0), da.concatenate(ids, axis=0)

    if scaler is None:
        from gmm_desktop.outofcore.fitting import row_blocks, uniform_sample

        raw, _ = build(np.zeros(d), np.ones(d))
        sample, _, _ = uniform_sample(row_blocks(raw), 100_000, seed, progress=progress)
        scaler = Scaler.fit(sample, "robust", columns)
    X, row_ids = build(np.asarray(scaler.center_), np.asarray(scaler.scale_))
    return LazyFeatures(X, row_ids, list(columns), scaler, int(n_rows), int(n))
