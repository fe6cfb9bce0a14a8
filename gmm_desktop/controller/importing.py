"""The import preview behind the window's import dialog (no widgets), and the reading
options the window remembers for each file.

:class:`ImportPreviewer` reads the head of a file (delimited text, or one sheet of a
spreadsheet or one array of an .npz archive) with the dialog's reading options in
a worker thread (:func:`gmm_desktop.data.preview_table`: the same sniffing, parser and
checks as the full load, on the first rows only) and hands the dialog an immutable
:class:`ImportPreview`, ready to show: cells as text, each column's kind, what was
detected, the warnings and, when the options do not work, the error in the window's words.
Only the answer to the latest request is delivered, so typing in the dialog never shows a
stale preview.

:class:`ReadingMemory` keeps, in the user's settings (:mod:`gmm_desktop.settings`, key
:data:`REMEMBERED_KEY`), how each file was last opened from the window when that was not
"everything detected" (reading options, ID column, sheet): at most
:data:`MAX_REMEMBERED` files, newest first, keyed by the resolved path. The window starts
the import dialog from them. The command line never reads them: a script must not depend
on hidden state.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import weakref
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal, Slot

from gmm_desktop.controller.messages import window_hint, window_message
from gmm_desktop.data import (
    SHEET_SUFFIXES,
    TEXT_SUFFIXES,
    DataError,
    ReadOptions,
    TablePreview,
    preview_table,
    sheet_names,
)

__all__ = ["MAX_REMEMBERED", "PREVIEW_ROWS", "REMEMBERED_KEY", "ImportPreview",
           "ImportPreviewer", "ReadingMemory", "RememberedReading", "import_kind",
           "needs_import_dialog", "preview_view"]

log = logging.getLogger("gmm_desktop.controller")

#: Rows shown in the import dialog.
PREVIEW_ROWS = 50
#: How each kind of column is named in the preview's header.
KIND_LABELS = {"numeric": "number", "flag": "two values", "text": "text", "id": "ID-like",
               "missing": "all missing"}


def import_kind(path: str | os.PathLike[str]) -> str:
    """What the import dialog offers for ``path``: ``"text"`` (every reading option),
    ``"sheets"`` (a spreadsheet: the sheet, the header row, missing-value markers, columns
    kept as text), ``"arrays"`` (an .npz archive: the array) or ``"other"`` (no dialog)."""
    suffix = Path(path).suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return "text"
    if suffix == ".npz":
        return "arrays"
    if suffix in SHEET_SUFFIXES:
        return "sheets"
    return "other"


def needs_import_dialog(path: str | os.PathLike[str]) -> bool:
    """Whether opening ``path`` from the window goes through the import dialog: delimited
    text (.csv, .tsv, .txt...), every spreadsheet (.xlsx, .xlsm, .xlsb, .xls, .ods: the
    sheet, whether its first row names the columns and the ID column are chosen there,
    with a preview, even when there is one sheet), and an .npz archive with several arrays
    (the array to read). Parquet, .npy and one-array .npz files open directly: there is
    nothing to choose but the ID column, which the Dataset panel sets."""
    kind = import_kind(path)
    if kind == "arrays":
        try:
            return len(sheet_names(path)) > 1
        except DataError:
            return False  # opened directly: the load says what is wrong
    return kind in ("text", "sheets")


@dataclass(frozen=True)
class ImportPreview:
    """What the import dialog shows for one set of reading options.

    Attributes:
        path: the file.
        read: the options the preview was made with.
        id_column: the ID column it was made with.
        ok: whether the file reads with these options (the dialog's OK is enabled).
        error: why not, in the window's words ("" when ``ok``).
        columns: the column names (of the parsed cells when the checks failed).
        kinds: each column's kind, as shown ("number", "two values", "text", "ID-like",
            "all missing");
            empty when the checks failed.
        rows: the first rows as text, exactly as they will be read (missing values "").
        detected: what was detected for each option left on "auto" (delimiter, decimal,
            header, encoding), as shown ("';'", "','", "yes", "utf-8").
        dialect: what was used, detected or given (delimiter, decimal, header, skip_rows,
            comment, encoding, quotechar), or None.
        warnings: the data warnings of these rows, in the window's words.
        complete: the whole file is in the preview.
        generation: the request this answers.
        sheets: the file's sheets (a spreadsheet) or arrays (an .npz), in order; empty
            for other formats.
        sheet: the sheet (array) shown, or None.
    """

    path: str
    read: ReadOptions
    id_column: str | None
    ok: bool
    error: str
    columns: tuple[str, ...]
    kinds: Mapping[str, str]
    rows: tuple[tuple[str, ...], ...]
    detected: Mapping[str, str]
    dialect: Mapping[str, Any] | None
    warnings: tuple[str, ...]
    complete: bool
    generation: int = 0
    sheets: tuple[str, ...] = ()
    sheet: str | None = None

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if self.kinds.get(c) == "number")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    try:
        if value != value:  # pandas' NA and NaT
            return ""
    except (TypeError, ValueError):
        return ""
    return str(value)


_SHOWN_DELIMITER = {"\t": "Tab", "whitespace": "Whitespace", " ": "Space"}


def _shown(key: str, value: Any) -> str:
    if key == "header":
        return "yes" if value else "no"
    if key == "delimiter":
        return _SHOWN_DELIMITER.get(str(value), str(value))
    return str(value)


def preview_view(preview: TablePreview, id_column: str | None = None,
                 generation: int = 0) -> ImportPreview:
    """The dialog's view of a :class:`~gmm_desktop.data.TablePreview`."""
    table = preview.rows if preview.rows is not None else preview.cells
    columns = tuple(str(c) for c in table.columns) if table is not None else ()
    rows: tuple[tuple[str, ...], ...] = ()
    if table is not None:
        rows = tuple(tuple(_cell(v) for v in row)
                     for row in table.itertuples(index=False, name=None))
    elif preview.lines:  # not even split into fields: the file's first lines as they are
        columns = ("line of the file",)
        rows = tuple((line,) for line in preview.lines)
    dialect = dict(preview.dialect) if preview.dialect is not None else None
    detected: dict[str, str] = {}
    if dialect is not None:
        found: Any = dialect.get("detected", ())
        for key in found:
            detected[str(key)] = _shown(str(key), dialect.get(key))
    if preview.sheet_header is not None:  # a spreadsheet's header row, detected
        detected["header"] = _shown("header", preview.sheet_header)
    return ImportPreview(
        path=str(preview.path),
        read=preview.read,
        id_column=id_column,
        ok=preview.ok,
        error="" if preview.error is None else window_message(preview.error),
        columns=columns,
        kinds={c: KIND_LABELS[k] for c, k in preview.kinds.items()},
        rows=rows,
        detected=detected,
        dialect=dialect,
        warnings=tuple(w.render(window_hint) for w in preview.warnings),
        complete=preview.complete,
        generation=generation,
    )


def make_preview(path: str | os.PathLike[str], read: ReadOptions | Mapping[str, Any] | None,
                 id_column: str | None = None, n_rows: int = PREVIEW_ROWS,
                 generation: int = 0, sheet: str | None = None) -> ImportPreview:
    """Build the preview in this thread (the worker's job; tests call it directly).

    For a spreadsheet or an .npz archive the preview lists its sheets (arrays) and shows
    ``sheet`` (the first one when ``sheet`` is None or no longer in the file)."""
    sheets: tuple[str, ...] = ()
    if import_kind(path) in ("sheets", "arrays"):
        try:
            sheets = tuple(sheet_names(path))
        except DataError as exc:
            view = preview_view(preview_table(path, read, n_rows, id_column=id_column or None),
                                id_column, generation)
            return replace(view, ok=False, error=window_message(exc))
        if sheets and sheet not in sheets:
            sheet = sheets[0]
    else:
        sheet = None
    view = preview_view(preview_table(path, read, n_rows, id_column=id_column or None,
                                      sheet=sheet), id_column, generation)
    return replace(view, sheets=sheets, sheet=sheet)


#: One thread for every dialog's previews (a preview reads a file's head: requests that
#: come in a burst are served in turn, and the answers of the stale ones are dropped). A
#: module-level pool of plain threads: no Qt object is created per request, so a dialog
#: closed (and collected) while its preview runs leaves nothing that a worker still uses.
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gmm-desktop-preview")


class _Relay(QObject):
    """Carries the workers' answers to the GUI thread. It is made once, in the GUI thread,
    and never deleted: a worker must never emit on a previewer's own signal, because the
    dialog may delete the previewer in the GUI thread during that very emit (a crash
    seen once in a test run under load). The answer reaches its previewer only if the
    previewer is still alive."""

    answered = Signal(object)  # (weak reference to the previewer, result, generation)

    def __init__(self) -> None:
        super().__init__()
        self.answered.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _deliver(self, payload: Any) -> None:
        ref, result, generation = payload
        previewer = ref()
        if previewer is not None and shiboken6.isValid(previewer):
            previewer._finished((result, generation))


_RELAY: _Relay | None = None


def _relay() -> _Relay:
    """The relay (made on the first preview, in the GUI thread that asks for it)."""
    global _RELAY
    if _RELAY is None:
        _RELAY = _Relay()
    return _RELAY


class ImportPreviewer(QObject):
    """Previews in a worker thread; only the latest request's answer is delivered."""

    previewReady = Signal(object)  # ImportPreview

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self._lock = threading.Lock()
        self._pending: set[Future[None]] = set()

    @property
    def generation(self) -> int:
        return self._generation

    def request(self, path: str | os.PathLike[str], read: ReadOptions | Mapping[str, Any],
                id_column: str | None = None, n_rows: int = PREVIEW_ROWS,
                sheet: str | None = None) -> int:
        """Start a preview (of ``sheet`` for a spreadsheet or an .npz archive); returns its
        generation (the answer carries it)."""
        with self._lock:
            self._generation += 1
            gen = self._generation
        answered = _relay().answered
        me = weakref.ref(self)

        def work() -> None:  # in the pool's thread; make_preview never raises for bad input
            result: Any
            try:
                result = make_preview(path, read, id_column, n_rows, gen, sheet)
            except Exception as exc:  # an unforeseen failure still reaches the dialog
                result = exc
            answered.emit((me, result, gen))  # (on the relay: never deleted)

        future = _POOL.submit(work)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return gen

    def _finished(self, answer: Any) -> None:
        result, generation = answer
        if generation != self._generation:
            return  # a newer request is on its way
        if isinstance(result, BaseException):
            result = ImportPreview(
                path="", read=ReadOptions(), id_column=None, ok=False,
                error=f"The preview failed unexpectedly: {type(result).__name__}: {result}",
                columns=(), kinds={}, rows=(), detected={}, dialect=None, warnings=(),
                complete=False, generation=generation)
        self.previewReady.emit(result)

    def wait(self, msecs: int = 5000) -> bool:
        """Wait for the previews started here to be computed (their answers are then
        queued for the event loop); True if none is left."""
        pending = list(self._pending)
        if pending:
            wait_futures(pending, timeout=max(0, msecs) / 1000)
        return not any(not f.done() for f in pending)


# ---------------------------------------------------------------------- remembered readings

#: The settings key (``gmm_desktop.settings``) of the remembered readings: a list of
#: entries, newest first.
REMEMBERED_KEY = "import.remembered"
#: How many files' readings are kept.
MAX_REMEMBERED = 50


def _resolved(path: str | os.PathLike[str]) -> str:
    try:
        return str(Path(path).expanduser().resolve())
    except (OSError, RuntimeError):  # a loop of links: the path as given
        return str(Path(path).expanduser().absolute())


@dataclass(frozen=True)
class RememberedReading:
    """How a file was last opened from the window.

    Attributes:
        path: the file, resolved.
        read: its reading options.
        id_column: the ID column, or None (rows named by position).
        sheet: the sheet (spreadsheet) or array (.npz), or None.
        saved: when, as an ISO 8601 local date and time ("" for the open file's reading,
            which is not a remembered one).
    """

    path: str
    read: ReadOptions
    id_column: str | None = None
    sheet: str | None = None
    saved: str = ""

    @property
    def when(self) -> str:
        """``saved`` as shown ("2026-05-01 14:03"), or ""."""
        try:
            return datetime.fromisoformat(self.saved).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return ""

    @property
    def is_default(self) -> bool:
        """Nothing to remember: everything detected, rows by position, no sheet chosen."""
        return self.read.is_default and not self.id_column and self.sheet is None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "read": self.read.to_dict(), "id_column": self.id_column,
                "sheet": self.sheet, "saved": self.saved}

    @classmethod
    def from_dict(cls, data: Any) -> RememberedReading:
        """Read :meth:`to_dict`'s output; ``ValueError`` (with the reason) if it is not one."""
        if not isinstance(data, Mapping):
            raise ValueError(f"an entry must be an object, got {type(data).__name__}")
        path, saved = data.get("path"), data.get("saved", "")
        if not isinstance(path, str) or not path:
            raise ValueError("its 'path' is not a file name")
        id_column, sheet = data.get("id_column"), data.get("sheet")
        for name, value in (("id_column", id_column), ("sheet", sheet)):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"its '{name}' is not text")
        if not isinstance(saved, str):
            raise ValueError("its 'saved' date is not text")
        datetime.fromisoformat(saved)  # ValueError if not a date
        try:
            read = ReadOptions.from_dict(data.get("read"))
        except (DataError, TypeError) as exc:
            raise ValueError(f"its reading options are not valid ({exc})") from None
        return cls(path, read, id_column or None, sheet, saved)


class ReadingMemory:
    """The remembered readings in the user's settings (see the module docstring).

    ``settings`` is a :class:`gmm_desktop.settings.Settings` (default: the shared one of
    the configuration folder, ``GMM_DESKTOP_CONFIG_DIR`` in tests). An entry that cannot be
    read (a hand-edited or damaged settings file) is ignored with a warning in the log,
    and dropped at the next change; it never stops the window.
    """

    def __init__(self, settings: Any = None) -> None:
        self._settings = settings

    @property
    def settings(self) -> Any:
        if self._settings is not None:
            return self._settings
        from gmm_desktop.settings import get_settings

        return get_settings()

    def entries(self) -> list[RememberedReading]:
        """The readings that can be read, newest first."""
        try:
            value = self.settings.get(REMEMBERED_KEY, [])
        except (OSError, ValueError) as exc:
            log.warning("the remembered reading options cannot be read: %s", exc)
            return []
        if not isinstance(value, list):
            log.warning("the remembered reading options (%s) are not a list; ignored",
                        REMEMBERED_KEY)
            return []
        out: list[RememberedReading] = []
        for i, item in enumerate(value):
            try:
                out.append(RememberedReading.from_dict(item))
            except ValueError as exc:
                log.warning("remembered reading options, entry %d ignored: %s", i + 1, exc)
        return out

    def recall(self, path: str | os.PathLike[str]) -> RememberedReading | None:
        """How ``path`` was last opened from the window, or None."""
        key = _resolved(path)
        return next((e for e in self.entries() if e.path == key), None)

    def remember(self, path: str | os.PathLike[str], read: ReadOptions | None = None,
                 id_column: str | None = None, sheet: str | None = None, *,
                 now: datetime | None = None) -> RememberedReading | None:
        """Record how ``path`` was opened (first in the list); when that is everything
        detected, forget it instead. Returns the entry, or None. A settings file that
        cannot be written is logged, not raised (the file is open all the same)."""
        entry = RememberedReading(_resolved(path), ReadOptions.coerce(read), id_column or None,
                                  sheet, (now or datetime.now()).isoformat(timespec="seconds"))
        kept = [e for e in self.entries() if e.path != entry.path]
        if not entry.is_default:
            kept.insert(0, entry)
        try:
            self.settings.set(REMEMBERED_KEY, [e.to_dict() for e in kept[:MAX_REMEMBERED]])
        except (OSError, ValueError) as exc:
            log.warning("the reading options of %s cannot be remembered: %s", path, exc)
        return None if entry.is_default else entry

    def forget(self, path: str | os.PathLike[str]) -> None:
        key = _resolved(path)
        kept = [e for e in self.entries() if e.path != key]
        try:
            self.settings.set(REMEMBERED_KEY, [e.to_dict() for e in kept])
        except (OSError, ValueError) as exc:
            log.warning("the remembered reading options cannot be saved: %s", exc)
