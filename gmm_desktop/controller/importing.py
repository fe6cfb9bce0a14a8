"""The import preview behind the window's import dialog (no widgets).

:class:`ImportPreviewer` reads the head of a text file with the dialog's reading options in
a worker thread (:func:`gmm_desktop.data.preview_table`: the same sniffing, parser and
checks as the full load, on the first rows only) and hands the dialog an immutable
:class:`ImportPreview`, ready to show: cells as text, each column's kind, what was
detected, the warnings and, when the options do not work, the error in the window's words.
Only the answer to the latest request is delivered, so typing in the dialog never shows a
stale preview.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from gmm_desktop.controller.messages import window_hint, window_message
from gmm_desktop.data import TEXT_SUFFIXES, ReadOptions, TablePreview, preview_table

__all__ = ["PREVIEW_ROWS", "ImportPreview", "ImportPreviewer", "needs_import_dialog",
           "preview_view"]

#: Rows shown in the import dialog.
PREVIEW_ROWS = 50
#: How each kind of column is named in the preview's header.
KIND_LABELS = {"numeric": "number", "flag": "two values", "text": "text", "id": "ID-like",
               "missing": "all missing"}


def needs_import_dialog(path: str | os.PathLike[str]) -> bool:
    """Whether opening ``path`` from the window goes through the import dialog (delimited
    text: .csv, .tsv, .txt...); Parquet, spreadsheets and NumPy files open directly."""
    return Path(path).suffix.lower() in TEXT_SUFFIXES


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
                 generation: int = 0) -> ImportPreview:
    """Build the preview in this thread (the worker's job; tests call it directly)."""
    return preview_view(preview_table(path, read, n_rows, id_column=id_column or None),
                        id_column, generation)


#: One thread for every dialog's previews (a preview reads a file's head: requests that
#: come in a burst are served in turn, and the answers of the stale ones are dropped). A
#: module-level pool of plain threads: no Qt object is created per request, so a dialog
#: closed (and collected) while its preview runs leaves nothing that a worker still uses.
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gmm-desktop-preview")


class ImportPreviewer(QObject):
    """Previews in a worker thread; only the latest request's answer is delivered."""

    previewReady = Signal(object)  # ImportPreview
    _answered = Signal(object)  # (result, generation), from the worker thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self._lock = threading.Lock()
        self._pending: set[Future[None]] = set()
        # emitted in the worker, delivered in this object's (the GUI) thread
        self._answered.connect(self._finished, Qt.ConnectionType.QueuedConnection)

    @property
    def generation(self) -> int:
        return self._generation

    def request(self, path: str | os.PathLike[str], read: ReadOptions | Mapping[str, Any],
                id_column: str | None = None, n_rows: int = PREVIEW_ROWS) -> int:
        """Start a preview; returns its generation (the answer carries it)."""
        with self._lock:
            self._generation += 1
            gen = self._generation
        answered = self._answered

        def work() -> None:  # in the pool's thread; make_preview never raises for bad input
            result: Any
            try:
                result = make_preview(path, read, id_column, n_rows, gen)
            except Exception as exc:  # an unforeseen failure still reaches the dialog
                result = exc
            try:
                answered.emit((result, gen))
            except RuntimeError:  # the dialog was closed and its previewer deleted
                pass

        future = _POOL.submit(work)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return gen

    @Slot(object)
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
