"""Error and warning types of the data layer.

:class:`DataError` is raised for anything wrong with an input file or with a request
made of a loaded dataset.  Its message always says *where* (file, column, row or line
when known), *what* is wrong and *what to do*; the GUI and the command line show
``str(error)`` as is.  :class:`DataWarning` describes a non-fatal finding (a constant
column, a column that is probably a label, ...) together with a suggested remedy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from gmm_desktop.errors import GmmDesktopError, ModelFileError

__all__ = [
    "ECHO_LIMIT",
    "HINT_OPTIONS",
    "DataError",
    "DataWarning",
    "OptionHint",
    "ScalerFormatError",
    "clip_text",
    "python_hint",
]

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


#: The reading options a hint may name: the fields of
#: :class:`~gmm_desktop.data.ReadOptions`, plus the ID column and the sheet.
HINT_OPTIONS = (
    "delimiter",
    "decimal",
    "header",
    "skip_rows",
    "comment",
    "missing_values",
    "encoding",
    "text_columns",
    "id_column",
    "sheet",
)
#: Options that hold a list: a hint suggests one value to *add* to it.
LIST_OPTIONS = frozenset({"missing_values", "text_columns"})


@dataclass(frozen=True)
class OptionHint:
    """A structured remedy: "set this reading option to this value".

    The data layer does not know which interface the user is in, so it does not write
    ``missing_values=['?']`` into its messages; it attaches hints, and each face renders
    them in its own terms: Python ``missing_values=['?']``, the command line
    ``--missing-values '?'``, the window "add ? to 'Missing-value markers' in the import
    dialog". See :meth:`DataError.render`.

    Attributes:
        option: one of :data:`HINT_OPTIONS`.
        value: the suggested value; for a list option (``missing_values``,
            ``text_columns``) the one item to add.
        when: the condition or purpose, face-neutral ("if such values mean 'missing'"),
            or "" when the hint is simply what to do.
    """

    option: str
    value: Any
    when: str = ""

    def __post_init__(self) -> None:
        if self.option not in HINT_OPTIONS:
            raise ValueError(f"unknown reading option {self.option!r} in a hint")
        if isinstance(self.value, str):  # a value from the file: one short line in messages
            object.__setattr__(self, "value", clip_text(self.value))

    def to_dict(self) -> dict[str, Any]:
        return {"option": self.option, "value": self.value, "when": self.when}


HintRenderer = Callable[[OptionHint], str]
"""Turns one hint into the action phrase of a face ("load with missing_values=['?']")."""


def python_hint(hint: OptionHint) -> str:
    """The Python API's phrase: ``load with missing_values=['?']``."""
    value = [hint.value] if hint.option in LIST_OPTIONS else hint.value
    return f"load with {hint.option}={value!r}"


def _sentence(hint: OptionHint, render: HintRenderer) -> str:
    action = render(hint)
    text = f"{hint.when}, {action}" if hint.when else action
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def render_hints(hints: Sequence[OptionHint], render: HintRenderer = python_hint) -> str:
    """Every hint as a sentence, in the words of one face."""
    return " ".join(_sentence(h, render) for h in hints)


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
        remedy: what the user can do about it, in words that fit every interface.
        hints: the reading options that would help (:class:`OptionHint`), rendered after
            the remedy in the words of the interface: ``str(error)`` uses the Python
            API's (``missing_values=['?']``); the command line and the window call
            :meth:`render` with their own renderer.
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
        hints: Sequence[OptionHint] = (),
    ) -> None:
        self.problem = _bounded(problem)
        self.path = Path(path) if path is not None else None
        self.column = column
        self.row = row
        self.row_label = row_label
        self.hints = tuple(hints)
        base = None if remedy is None else _bounded(remedy)
        self.plain_remedy = base
        self.remedy = self._remedy(python_hint)
        super().__init__(self._compose())

    def _remedy(self, render: HintRenderer) -> str | None:
        if not self.hints:
            return self.plain_remedy
        tail = _bounded(render_hints(self.hints, render))
        return f"{self.plain_remedy} {tail}" if self.plain_remedy else tail

    def render(self, render: HintRenderer) -> str:
        """The whole message with the hints in the words of one interface (``render``
        turns one :class:`OptionHint` into an action phrase)."""
        return self._compose(self._remedy(render))

    def _compose(self, remedy: str | None = None) -> str:
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
        remedy = self.remedy if remedy is None else remedy
        if remedy:
            text = f"{text} What to do: {remedy}"
        return text

    def __reduce__(self):  # keep the attributes when pickled (e.g. across processes)
        return (_rebuild_data_error, (type(self), self.problem, self._kwargs()))

    def _kwargs(self) -> dict[str, object]:
        return {
            "path": self.path,
            "column": self.column,
            "row": self.row,
            "row_label": self.row_label,
            "remedy": self.plain_remedy,
            "hints": self.hints,
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
        remedy: what the user may want to do about it (face-neutral words).
        hints: reading options that would help, rendered per interface.
    """

    code: str
    message: str
    column: str | None = None
    remedy: str | None = None
    hints: tuple[OptionHint, ...] = ()

    def __str__(self) -> str:
        return self.render(python_hint)

    def render(self, render: HintRenderer) -> str:
        """The warning with its hints in the words of one interface (see
        :meth:`DataError.render`)."""
        parts = [self.message]
        if self.remedy:
            parts.append(self.remedy)
        if self.hints:
            parts.append(render_hints(self.hints, render))
        return " ".join(parts)
