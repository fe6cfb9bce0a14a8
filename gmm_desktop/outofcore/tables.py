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
"""

from __future__ import annotations

import glob as _glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from dask import delayed

from gmm_desktop.data import DataError, Scaler
from gmm_desktop.outofcore._compute import PassProgress, compute_parts

__all__ = ["LazyFeatures", "LazyTable", "is_lazy_source", "open_table", "prepare"]

_CSV = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
_PARQUET = (".parquet", ".pq", ".parq")


@dataclass
class LazyTable:
    """A table opened lazily: ``frame`` is a Dask DataFrame (nothing read yet)."""

    frame: Any
    path: str
    name: str
    id_column: str | None

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


def _files(path: str) -> list[str]:
    if any(ch in path for ch in "*?["):
        return sorted(_glob.glob(path))
    p = Path(path)
    if p.is_dir():
        return sorted(
            str(f) for f in p.rglob("*")
            if f.is_file() and not f.name.startswith((".", "_"))
        )
    return [path] if p.exists() else []


def open_table(
    path: str | os.PathLike[str],
    *,
    id_column: str | None = None,
    delimiter: str | None = None,
    blocksize: str = "64MB",
) -> LazyTable:
    """Open a Parquet dataset (a file or folder) or CSV files (a folder or a glob) lazily."""
    import dask.dataframe as dd

    text = str(path)
    files = _files(text)
    if not files:
        raise DataError(
            f"{text}: no such file, folder or matching files.",
            remedy="Give a Parquet file or dataset folder, a folder of CSV files, or a glob "
            "such as 'logs/*.csv' (quoted, so the shell does not expand it).",
        )
    lower = [f.lower() for f in files]
    try:
        if all(f.endswith(_PARQUET) for f in lower):
            frame = dd.read_parquet(files if len(files) > 1 else files[0])
        elif all(f.endswith(_CSV) for f in lower):
            sep = delimiter or ("\t" if lower[0].endswith((".tsv", ".tsv.gz")) else ",")
            compressed = lower[0].endswith(".gz")
            frame = dd.read_csv(
                files, sep=sep, blocksize=None if compressed else blocksize,
                assume_missing=True,
            )
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
    return LazyTable(frame, text, name, id_column)


# --------------------------------------------------------------------------- profile


def _features(df: Any, columns: list[str]) -> np.ndarray:
    return df[columns].to_numpy(dtype=np.float64, na_value=np.nan)


def _profile(df: Any, columns: list[str]) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(rows, kept rows, mean of kept rows, centred sum of squares of kept rows)."""
    x = _features(df, columns)
    keep = np.isfinite(x).all(axis=1)
    xk = x[keep]
    n = xk.shape[0]
    d = x.shape[1]
    if n == 0:
        return x.shape[0], 0, np.zeros(d), np.zeros(d)
    mean = xk.mean(axis=0)
    m2 = ((xk - mean) ** 2).sum(axis=0)
    return x.shape[0], n, mean, m2


def _block(
    df: Any, columns: list[str], center: np.ndarray, scale: np.ndarray,
    id_column: str | None, first: int,
) -> tuple[np.ndarray, np.ndarray]:
    x = _features(df, columns)
    keep = np.isfinite(x).all(axis=1)
    if id_column is None:
        ids = np.arange(first, first + x.shape[0], dtype=np.int64)[keep]
    else:
        ids = df[id_column].to_numpy()[keep]
    return (x[keep] - center) / scale, ids


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
    parts = list(table.frame.to_delayed())
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

    def build(center: np.ndarray, scale: np.ndarray) -> tuple[Any, Any]:
        xs, ids = [], []
        for b, part in enumerate(parts):
            nb = profiles[b][1]
            if nb == 0:
                continue
            pair = delayed(_block, nout=2, pure=True)(
                part, columns, center, scale, table.id_column, int(firsts[b])
            )
            xs.append(da.from_delayed(pair[0], shape=(nb, d), dtype=np.float64))
            id_dtype = (
                np.dtype(np.int64) if table.id_column is None
                else table.frame[table.id_column].dtype
            )
            if not isinstance(id_dtype, np.dtype):
                id_dtype = np.dtype(object)
            ids.append(da.from_delayed(pair[1], shape=(nb,), dtype=id_dtype))
        return da.concatenate(xs, axis=0), da.concatenate(ids, axis=0)

    if scaler is None:
        from gmm_desktop.outofcore.fitting import row_blocks, uniform_sample

        raw, _ = build(np.zeros(d), np.ones(d))
        sample, _, _ = uniform_sample(row_blocks(raw), 100_000, seed, progress=progress)
        scaler = Scaler.fit(sample, "robust", columns)
    X, row_ids = build(np.asarray(scaler.center_), np.asarray(scaler.scale_))
    return LazyFeatures(X, row_ids, list(columns), scaler, int(n_rows), int(n))
