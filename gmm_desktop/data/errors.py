"""Error and warning types of the data layer.

:class:`DataError` is raised for anything wrong with an input file or with a request
made of a loaded dataset.  Its message always says *where* (file, column, row or line
when known), *what* is wrong and *what to do*; the GUI and the command line show
``str(error)`` as is.  :class:`DataWarning` describes a non-fatal finding (a constant
column, a column that is probably a label, ...) together with a suggested remedy.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from gmm_desktop.errors import GmmDesktopError, ModelFileError

__all__ = ["ECHO_LIMIT", "DataError", "DataWarning", "ScalerFormatError", "clip_text"]

ECHO_LIMIT = 80
"""Most characters of one user-supplied value (a cell, a name, a header) in a message."""
_MESSAGE_LIMIT = 2_000
"""Most characters of a whole problem or remedy (a safety net behind :func:`clip_text`)."""


def clip_text(value: object, limit: int = ECHO_LIMIT) -> str:
    """``str(value)`` for a message: at most ``limit`` characters (cut with "…"), with
    line breaks, tabs and other control characters shown as escapes (``\\n``), so that
    a message stays one short line whatever the file contains."""
    text = str(value)
    cut = len(text) > limit
    text = text[: limit + 1]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if cut or len(text) > limit:
        text = text[: max(limit - 1, 1)] + "…"
    return text


class DataError(GmmDesktopError, ValueError):
    """A data file cannot be used, or a request on a dataset is invalid.

    Attributes:
        problem: what is wrong, without the location prefix or the remedy.
        path: the file concerned, if any.
        column: the column concerned, if any.
        row: the 0-based position of the row concerned in the loaded table (the same
            position as in ``Dataset.frame``), if any.
        row_label: how the row is shown to a person (``"line 17"`` for a text file,
            ``"row 17 of sheet 'Data'"`` for a spreadsheet); derived from ``row`` when
            not given.
        remedy: what the user can do about it.
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str | PathLike[str] | None = None,
        column: str | None = None,
        row: int | None = None,
        row_label: str | None = None,
        remedy: str | None = None,
    ) -> None:
        self.problem = _bounded(problem)
        self.path = Path(path) if path is not None else None
        self.column = column
        self.row = row
        self.row_label = row_label
        self.remedy = None if remedy is None else _bounded(remedy)
        super().__init__(self._compose())

    def _compose(self) -> str:
        where: list[str] = []
        if self.path is not None:
            where.append(f"'{clip_text(self.path.name, 200)}'")
        if self.column is not None:
            where.append(f"column '{clip_text(self.column)}'")
        if self.row_label is not None:
            where.append(clip_text(self.row_label))
        elif self.row is not None:
            where.append(f"data row {self.row + 1}")
        text = f"{', '.join(where)}: {self.problem}" if where else self.problem
        if self.remedy:
            text = f"{text} What to do: {self.remedy}"
        return text

    def __reduce__(self):  # keep the attributes when pickled (e.g. across processes)
        return (_rebuild_data_error, (type(self), self.problem, self._kwargs()))

    def _kwargs(self) -> dict[str, object]:
        return {
            "path": self.path,
            "column": self.column,
            "row": self.row,
            "row_label": self.row_label,
            "remedy": self.remedy,
        }


def _bounded(text: str) -> str:
    text = str(text)
    if len(text) <= _MESSAGE_LIMIT and "\n" not in text and "\r" not in text:
        return text
    return clip_text(" ".join(text.split()), _MESSAGE_LIMIT)


def _rebuild_data_error(cls: type[DataError], problem: str, kwargs: dict) -> DataError:
    return cls(problem, **kwargs)


class ScalerFormatError(DataError, ModelFileError):
    """A serialised :class:`~gmm_desktop.data.Scaler` is malformed.

    It is both a :class:`DataError` and a :class:`~gmm_desktop.errors.ModelFileError`,
    because a scaler is stored inside a saved model document.
    """


@dataclass(frozen=True)
class DataWarning:
    """A non-fatal finding about a dataset or a feature selection.

    Attributes:
        code: a stable, machine-readable identifier (``"constant-column"``, ...).
        message: what was found, for a person.
        column: the column concerned, if any.
        remedy: what the user may want to do about it.
    """

    code: str
    message: str
    column: str | None = None
    remedy: str | None = None

    def __str__(self) -> str:
        return f"{self.message} {self.remedy}" if self.remedy else self.message
