"""The loaded table: :class:`Dataset`."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError, DataWarning, clip_text
from .options import ReadOptions

__all__ = ["Dataset"]


def _suggest(name: str, choices: list[str]) -> str:
    if len(choices) > 2_000 or len(name) > 200:  # difflib is quadratic; not worth it here
        return ""
    close = difflib.get_close_matches(name, choices, n=1)
    return f" Did you mean '{clip_text(close[0])}'?" if close else ""


def listing(names: list[str], limit: int = 12) -> str:
    """``'a', 'b', 'c'`` for a message: at most ``limit`` names, each clipped, then the
    count of the others (a table of 10,000 columns gives one short line)."""
    shown = ", ".join(f"'{clip_text(n)}'" for n in names[:limit])
    if len(names) > limit:
        shown += f" and {len(names) - limit:,} more"
    return shown


def row_identity(
    frame: pd.DataFrame,
    id_column: str | None,
    path: Path | None,
    locate: Callable[[int], str],
) -> np.ndarray:
    """The row identity of ``frame``: positions ``0..n-1``, or the unique ``id_column``."""
    if id_column is None:
        return np.arange(len(frame), dtype=np.int64)
    columns = [str(c) for c in frame.columns]
    if id_column not in set(columns):
        raise DataError(
            f"there is no column named '{clip_text(id_column)}' to use as the row ID."
            + _suggest(id_column, columns),
            path=path,
            remedy="Choose one of the columns: " + listing(columns) + ".",
        )
    values = frame[id_column]
    missing = np.flatnonzero(values.isna().to_numpy())
    if missing.size:
        pos = int(missing[0])
        raise DataError(
            f"the ID column has no value in this row ({missing.size} row(s) without an ID).",
            path=path,
            column=id_column,
            row=pos,
            row_label=locate(pos),
            remedy="Give every row an ID, or choose a different ID column (or none, to use "
            "the row position).",
        )
    duplicated = values.duplicated(keep=False).to_numpy()
    if duplicated.any():
        first = int(np.flatnonzero(duplicated)[0])
        value = values.iloc[first]
        same = np.flatnonzero((values == value).to_numpy())
        n_dup = int(values.duplicated().sum())
        raise DataError(
            f"ID values must be unique, but '{clip_text(value)}' appears {same.size} times "
            f"({locate(int(same[0]))} and {locate(int(same[1]))}); "
            f"{n_dup} row(s) repeat an earlier ID.",
            path=path,
            column=id_column,
            row=int(same[1]),
            row_label=locate(int(same[1])),
            remedy="Make the IDs unique in the file, or choose a different ID column (or "
            "none, to use the row position).",
        )
    return values.to_numpy()


@dataclass(frozen=True, eq=False)
class Dataset:
    """A table loaded from a file, with every original column and a stable row identity.

    Attributes:
        path: the file it was loaded from.
        name: a short display name (the file name, plus the sheet or array if chosen).
        frame: all original columns, in file order, indexed by row position 0..n-1.
            Treat it as read-only: derived objects refer to rows by position.
        row_ids: the identity of each row, aligned with ``frame``: the 0-based row
            position in the file, or the values of ``id_column``.
        id_column: the column holding the row IDs, or None.
        numeric_columns: the columns that can be used as features (numeric, not
            entirely empty, not the ID column), in file order.
        other_columns: every other column (ID, labels, dates, text...), in file order;
            they are carried into exports.
        warnings: non-fatal findings made while loading.
        format: ``"csv"``, ``"parquet"``, ``"excel"``, ``"npy"`` or ``"npz"``.
        sheet: the worksheet (Excel) or array (npz) that was loaded, if any.
        read: the reading options it was loaded with (as given: ``None`` = detected).
        dialect: for a text file, what was used to read it, detected or given
            (delimiter, decimal, header, skip_rows, comment, encoding, quotechar, and
            ``detected``: the names of the aspects that were detected).
    """

    path: Path
    frame: pd.DataFrame
    row_ids: np.ndarray
    id_column: str | None
    numeric_columns: list[str]
    other_columns: list[str]
    warnings: list[DataWarning]
    format: str
    sheet: str | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    dialect: Mapping[str, object] | None = None
    _candidates: tuple[str, ...] = field(default=(), repr=False)
    _locate: Callable[[int], str] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """Display name: the file name, with the sheet or array in brackets if chosen."""
        return f"{self.path.name} [{self.sheet}]" if self.sheet else self.path.name

    @property
    def n_rows(self) -> int:
        """Number of data rows."""
        return len(self.frame)

    @property
    def columns(self) -> list[str]:
        """All column names, in file order."""
        return [str(c) for c in self.frame.columns]

    def locate(self, position: int) -> str:
        """Describe where the row at 0-based ``position`` is in the source file.

        For example ``"line 18"`` (text files, counting the header line), ``"row 18 of
        sheet 'Data'"`` (Excel) or ``"row index 16 (0-based)"`` (Parquet, NumPy).
        """
        if not 0 <= position < self.n_rows:
            raise IndexError(f"row position {position} is outside 0..{self.n_rows - 1}")
        return self._locate(position) if self._locate else f"data row {position + 1}"

    def position_of(self, row_id: Hashable) -> int:
        """The 0-based position in ``frame`` of the row whose identity is ``row_id``."""
        hits = np.flatnonzero(self.row_ids == row_id)
        if hits.size == 0:
            raise KeyError(row_id)
        return int(hits[0])

    def with_id_column(self, id_column: str | None) -> Dataset:
        """A new dataset identical to this one but identified by ``id_column``.

        ``None`` goes back to row positions.  Raises :class:`DataError` if the column
        does not exist, has empty cells or repeats a value.  This dataset is unchanged.
        """
        row_ids = row_identity(
            self.frame, id_column, self.path, self._locate or (lambda p: f"data row {p + 1}")
        )
        numeric = [c for c in self._candidates if c != id_column]
        chosen = set(numeric)
        other = [c for c in self.columns if c not in chosen]
        return replace(
            self,
            row_ids=row_ids,
            id_column=id_column,
            numeric_columns=numeric,
            other_columns=other,
            warnings=[w for w in self.warnings if w.code != "index-like-column"],
        )

    def summary(self) -> str:
        """One line describing the dataset, for status bars and logs."""
        ident = f"ID column '{self.id_column}'" if self.id_column else "rows identified by position"
        return (
            f"{self.name}: {self.n_rows:,} rows, {len(self.numeric_columns)} numeric and "
            f"{len(self.other_columns)} other column(s), {ident}"
        )
