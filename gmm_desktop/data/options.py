"""How a table is read: :class:`ReadOptions`, one place for every reading option.

The same options are given by a Python caller (``load_table(path, read=ReadOptions(...))``),
by the command line (``--delimiter``, ``--skip-rows``, ...), by the window's import dialog,
and they are stored in the run's configuration, its sessions, model files, exported
scripts and reports, so that the same file read with the same options gives the same
table on every face. ``None`` (and the empty defaults) mean "detect it".
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .errors import DataError, OptionHint, clip_text

__all__ = ["DELIMITER_NAMES", "TEXT_ONLY_OPTIONS", "ReadOptions"]

WHITESPACE = "whitespace"  # the same spelling as sniff.WHITESPACE (runs of blanks)

#: Names accepted for delimiters that are awkward to type (command line, JSON).
DELIMITER_NAMES = {
    "tab": "\t",
    "\\t": "\t",
    "comma": ",",
    "semicolon": ";",
    "pipe": "|",
    "space": WHITESPACE,
    " ": WHITESPACE,
    "\\s+": WHITESPACE,
    "whitespace": WHITESPACE,
    "blank": WHITESPACE,
}
#: The options that mean something for delimited text only.
TEXT_ONLY_OPTIONS = ("delimiter", "decimal", "skip_rows", "comment", "encoding")
_BAD_MARKS = {"\n", "\r", '"'}


def _bad(problem: str, option: str, value: Any, when: str = "") -> DataError:
    return DataError(problem, hints=(OptionHint(option, value, when),))


def _tuple_of_text(value: Any, option: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence | set | frozenset):
        raise DataError(f"{option} must be a list of texts, got {type(value).__name__}.")
    return tuple(str(v) for v in value)


def _delimiter(value: Any) -> str | None:
    if value is None or value == "" or value == "auto":
        return None
    text = str(value)
    named = DELIMITER_NAMES.get(text.lower() if len(text) > 1 else text)
    if named is not None:
        return named
    if len(text) != 1 or text in _BAD_MARKS:
        raise _bad(f"the delimiter '{clip_text(text)}' cannot be used: it must be one "
                   "character (such as , ; | or a tab) or 'whitespace' for runs of blanks.",
                   "delimiter", ";", "for example")
    return text


def _encoding(value: Any) -> str | None:
    if value is None or value == "" or value == "auto":
        return None
    text = str(value).strip()
    try:
        name = codecs.lookup(text).name
    except LookupError:
        raise _bad(f"'{clip_text(text)}' is not a text encoding Python knows.",
                   "encoding", "latin-1",
                   "give one such as utf-8, latin-1, cp1252 or utf-16, for example") from None
    return {"iso8859-1": "latin-1", "utf-8-sig": "utf-8"}.get(name, name)


@dataclass(frozen=True)
class ReadOptions:
    """How to read a delimited text file (and, for ``header``/``missing_values``/
    ``text_columns``, a spreadsheet). ``None`` means "detect it".

    Attributes:
        delimiter: the field separator: one character (``","``, ``";"``, ``"\\t"``,
            ``"|"``), or ``"whitespace"`` for runs of blanks. ``"tab"``, ``"comma"``,
            ``"semicolon"``, ``"pipe"`` and ``"space"`` are accepted and normalised.
        decimal: ``"."`` or ``","``.
        header: whether the first line (after ``skip_rows``) names the columns.
        skip_rows: lines before the header (a title, notes written by an instrument...).
        comment: a marker character; the rest of a line from it on is ignored, and a
            line that starts with it is skipped. ``None``: no comments.
        missing_values: extra spellings that mean "missing" in numeric columns, in
            addition to :data:`~gmm_desktop.data.MISSING_MARKERS`.
        encoding: the text encoding (``"utf-8"``, ``"latin-1"``, ``"cp1252"``,
            ``"utf-16"``...). ``None``: detected (UTF-8 with or without a byte-order
            mark, UTF-16, else Latin-1 with a warning).
        text_columns: columns to keep as text even if they hold numbers.

    Invalid values raise :class:`~gmm_desktop.data.DataError` at once (before any file is
    read), with a hint naming the option.
    """

    delimiter: str | None = None
    decimal: str | None = None
    header: bool | None = None
    skip_rows: int = 0
    comment: str | None = None
    missing_values: tuple[str, ...] = ()
    encoding: str | None = None
    text_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "delimiter", _delimiter(self.delimiter))
        decimal = self.decimal
        if decimal in ("", "auto"):
            decimal = None
        if decimal is not None and decimal not in (".", ","):
            raise _bad(f"the decimal mark '{clip_text(decimal)}' is not supported; it is "
                       "'.' or ','.", "decimal", ",", "for a decimal comma")
        set_(self, "decimal", decimal)
        header = self.header
        if header is not None and not isinstance(header, bool):
            if isinstance(header, str) and header.lower() in ("true", "yes", "false", "no"):
                header = header.lower() in ("true", "yes")
            else:
                raise _bad(f"header is true, false or detected (None), got {header!r}.",
                           "header", False, "if the first line is data")
        set_(self, "header", header)
        skip = self.skip_rows
        if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
            try:
                skip = int(str(skip))
            except ValueError:
                skip = -1
            if skip < 0 or isinstance(self.skip_rows, bool):
                raise _bad(f"the rows to skip must be a whole number of lines, 0 or more "
                           f"(got {clip_text(self.skip_rows)}).", "skip_rows", 0,
                           "to start at the first line")
        set_(self, "skip_rows", skip)
        comment = self.comment
        if comment == "":
            comment = None
        if comment is not None and (len(str(comment)) != 1 or str(comment) in _BAD_MARKS
                                    or str(comment).isspace()):
            raise _bad(f"the comment marker '{clip_text(comment)}' cannot be used: it must be "
                       "one visible character such as #.", "comment", "#", "for example")
        set_(self, "comment", None if comment is None else str(comment))
        set_(self, "missing_values", _tuple_of_text(self.missing_values, "missing_values"))
        set_(self, "text_columns", _tuple_of_text(self.text_columns, "text_columns"))
        set_(self, "encoding", _encoding(self.encoding))
        delim = self.delimiter
        if delim is not None and delim == self.decimal:
            raise _bad(f"the decimal mark and the delimiter are both '{delim}'.",
                       "delimiter", ";", "European files with a decimal comma usually use ;")
        if self.comment is not None and self.comment in (delim, self.decimal):
            raise _bad(f"the comment marker '{self.comment}' is also the delimiter or the "
                       "decimal mark.", "comment", "#", "choose another one, for example")

    # ---------------------------------------------------------------- views

    @property
    def is_default(self) -> bool:
        """True when everything is detected (nothing given)."""
        return self == ReadOptions()

    def changed(self) -> dict[str, Any]:
        """The options that differ from the defaults, by name (for messages and the
        command line)."""
        default = ReadOptions()
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != getattr(default, f.name)}

    def text_only(self) -> list[str]:
        """The given options that apply to delimited text files only."""
        return [name for name in TEXT_ONLY_OPTIONS if name in self.changed()]

    def replace(self, **changes: Any) -> ReadOptions:
        """A copy with ``changes`` (validated)."""
        return replace(self, **changes)

    # ---------------------------------------------------------------- persistence

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (every field; lists for the tuples)."""
        out = asdict(self)
        out["missing_values"] = list(self.missing_values)
        out["text_columns"] = list(self.text_columns)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> ReadOptions:
        """Read :meth:`to_dict`'s output (unknown keys are ignored; ``None`` gives the
        defaults). Raises :class:`DataError` for an invalid value."""
        if data is None:
            return cls()
        if isinstance(data, ReadOptions):
            return data
        if not isinstance(data, Mapping):
            raise DataError(f"reading options must be an object, got {type(data).__name__}.")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        return cls(**values)

    @classmethod
    def coerce(cls, value: Any) -> ReadOptions:
        """A :class:`ReadOptions` from itself, a dict, or ``None`` (the defaults)."""
        return value if isinstance(value, ReadOptions) else cls.from_dict(value)
