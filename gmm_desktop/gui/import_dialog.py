"""The import dialog: how a file will be read, with a live preview.

Opening a delimited text file, a spreadsheet or an .npz archive with several arrays from
the window (File ▸ Open, the recent files, drag and drop) shows this dialog first. For a
spreadsheet it offers the sheet (listed from the workbook), the header row, the
missing-value markers, the columns kept as text and the ID column, with a preview of the
chosen sheet; for an .npz archive, the array and the ID column; the options for text
files only are hidden. For a text file it shows the first rows exactly as they will be
read (each column's kind in its header), the controls for every reading option (each
"auto" choice shows what was detected, e.g. "auto (;)"), and the ID column. The preview
is made in a worker thread by the controller's
:class:`~gmm_desktop.controller.ImportPreviewer`, 200 ms after the last change (typing is
never blocked); an error is shown in the dialog, and OK is disabled with
the reason. OK hands back the :class:`~gmm_desktop.controller.ReadOptions`, the ID
column and the sheet; the window opens the file through the controller with them, and
the controller remembers them for the next time (the dialog then says "Options remembered
from <date>", and "Detect again" goes back to everything detected).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gmm_desktop.controller import (
    PREVIEW_ROWS,
    READ_CONTROLS,
    ImportPreview,
    ImportPreviewer,
    ReadOptions,
)
from gmm_desktop.controller.importing import import_kind

__all__ = ["ImportDialog"]

#: How long the dialog waits after the last change before it asks for a new preview.
DEBOUNCE_MS = 200
_AUTO = "auto"
_DELIMITERS = ((_AUTO, "auto"), (",", ", (comma)"), (";", "; (semicolon)"),
               ("\t", "Tab"), ("|", "| (pipe)"), ("whitespace", "Whitespace (runs of blanks)"))
_DECIMALS = ((_AUTO, "auto"), (".", ". (point)"), (",", ", (comma)"))
_HEADERS = ((_AUTO, "auto"), ("yes", "first row names the columns"),
            ("no", "no header: the first row is data"))
_ENCODINGS = (_AUTO, "utf-8", "latin-1", "cp1252", "utf-16")
_KIND_COLOURS = {"number": "#1b7837", "two values": "#8c510a", "text": "#555555",
                 "ID-like": "#2166ac",
                 "all missing": "#b2182b"}


class _PreviewModel(QAbstractTableModel):
    """The preview's cells, with each column's kind under its name."""

    def __init__(self) -> None:
        super().__init__()
        self.view: ImportPreview | None = None

    def set_view(self, view: ImportPreview | None) -> None:
        self.beginResetModel()
        self.view = view
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or self.view is None else len(self.view.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or self.view is None else len(self.view.columns)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if self.view is None or not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            row = self.view.rows[index.row()]
            return row[index.column()] if index.column() < len(row) else ""
        if role == Qt.ItemDataRole.TextAlignmentRole:
            kind = self.view.kinds.get(self.view.columns[index.column()])
            if kind == "number":
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        view = self.view
        if view is None:
            return None
        if orientation == Qt.Orientation.Vertical:  # row identities, or the file's lines
            lines = view.columns == ("line of the file",)
            return (str(section + 1 if lines else section)
                    if role == Qt.ItemDataRole.DisplayRole else None)
        if section >= len(view.columns):
            return None
        name = view.columns[section]
        kind = view.kinds.get(name)
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{name}\n({kind})" if kind else name
        if role == Qt.ItemDataRole.ForegroundRole and kind:
            return QColor(_KIND_COLOURS.get(kind, "#000000"))
        if role == Qt.ItemDataRole.ToolTipRole:
            return {"number": "numbers: offered as a feature",
                    "two values": "two values only (a label or flag): offered as a feature, not "
                    "chosen by default",
                    "text": "text: kept and exported, not a feature",
                    "ID-like": "identifiers or a row count: a candidate ID column",
                    "all missing": "every cell is empty or a missing-value marker"}.get(
                        kind or "", "the cells as parsed (the checks failed)")
        return None


def _combo(items: tuple[tuple[str, str], ...]) -> QComboBox:
    box = QComboBox()
    for key, label in items:
        box.addItem(label, key)
    return box


class ImportDialog(QDialog):
    """How a delimited text file will be read, with a live preview (see the module)."""

    def __init__(self, path: str | Path, parent: QWidget | None = None, *,
                 read: ReadOptions | None = None, id_column: str | None = None,
                 previewer: ImportPreviewer | None = None, sheet: str | None = None,
                 remembered: str = "") -> None:
        super().__init__(parent)
        self.path = Path(path)
        #: "text", "sheets" (a spreadsheet) or "arrays" (an .npz archive): which
        #: controls apply (see controller.importing.import_kind)
        self.kind = import_kind(self.path)
        self._sheet = sheet
        self.setWindowTitle(f"Import {self.path.name}")
        self.setObjectName("importDialog")
        self.previewer = previewer or ImportPreviewer(self)
        self.previewer.previewReady.connect(self._show_preview)
        self.view: ImportPreview | None = None
        self._pending = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh_now)

        # -- controls
        self.delimiter = _combo(_DELIMITERS)
        self.delimiter.setEditable(True)  # any other single character
        self.decimal = _combo(_DECIMALS)
        self.header = _combo(_HEADERS)
        self.skip_rows = QSpinBox()
        self.skip_rows.setRange(0, 1_000_000)
        self.comment = QLineEdit()
        self.comment.setMaxLength(1)
        self.comment.setPlaceholderText("none (e.g. #)")
        self.missing = QLineEdit()
        self.missing.setPlaceholderText("e.g. -999, n.d. (comma-separated; empty, NA, NaN, "
                                        "null, ?, - are always missing)")
        self.encoding = QComboBox()
        self.encoding.setEditable(True)
        self.encoding.addItems(list(_ENCODINGS))
        self.text_columns = QLineEdit()
        self.text_columns.setPlaceholderText("columns of numbers to keep as text (comma-separated)")
        self.id_column = QComboBox()
        self.id_column.addItem("(row position)", None)
        self.sheet = QComboBox()  # filled from the first preview (the file's sheets)
        self.sheet.setObjectName("importSheet")
        self.sheet.setMinimumContentsLength(16)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        left, right = QFormLayout(), QFormLayout()
        left.addRow(("Array" if self.kind == "arrays" else "Sheet") + ":", self.sheet)
        left.addRow(READ_CONTROLS["delimiter"] + ":", self.delimiter)
        left.addRow(READ_CONTROLS["decimal"] + ":", self.decimal)
        left.addRow(READ_CONTROLS["header"] + ":", self.header)
        left.addRow(READ_CONTROLS["skip_rows"] + ":", self.skip_rows)
        right.addRow(READ_CONTROLS["comment"] + ":", self.comment)
        right.addRow(READ_CONTROLS["encoding"] + ":", self.encoding)
        right.addRow(READ_CONTROLS["id_column"] + ":", self.id_column)
        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        form.addRow(READ_CONTROLS["missing_values"] + ":", self.missing)
        form.addRow(READ_CONTROLS["text_columns"] + ":", self.text_columns)
        options = QGroupBox("How the file is read")
        box = QVBoxLayout(options)
        box.addLayout(columns)
        box.addLayout(form)
        # only the controls that apply to this kind of file are shown
        text = self.kind == "text"
        sheets = self.kind in ("sheets", "arrays")
        cells = self.kind in ("text", "sheets")
        for layout_, widget, shown in (
                (left, self.sheet, sheets), (left, self.delimiter, text),
                (left, self.decimal, text), (left, self.header, cells),
                (left, self.skip_rows, text), (right, self.comment, text),
                (right, self.encoding, text), (form, self.missing, cells),
                (form, self.text_columns, cells)):
            layout_.setRowVisible(widget, shown)

        # "Options remembered from <date>" and a way back to what is detected
        self.remembered = QLabel()
        self.remembered.setObjectName("importRemembered")
        self.detect_again = QPushButton("Detect again")
        self.detect_again.setToolTip("Forget these options and read the file with "
                                     "everything detected")
        self.detect_again.clicked.connect(self.reset_to_detected)
        notice = QHBoxLayout()
        notice.addWidget(self.remembered, 1)
        notice.addWidget(self.detect_again)
        self.remembered.setText(f"Options remembered from {remembered} (the last time this "
                                "file was opened)." if remembered else "")
        self.remembered.setVisible(bool(remembered))
        self.detect_again.setVisible(bool(remembered))

        self.model = _PreviewModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setObjectName("importPreview")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        # a read-only text box, not a label: a long message wraps over a few lines and
        # scrolls instead of being cut at the dialog's edge
        self.message = QPlainTextEdit()
        self.message.setReadOnly(True)
        self.message.setObjectName("importMessage")
        self.message.setFrameShape(QFrame.Shape.NoFrame)
        self.message.setFixedHeight(5 * self.fontMetrics().lineSpacing() + 8)
        self.message.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.message.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Open")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        name = QLabel(f"<b>{self.path.name}</b> &nbsp; <span style='color:#666'>"
                      f"{self.path.parent}</span>")
        name.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(name)
        layout.addLayout(notice)
        layout.addWidget(options)
        layout.addWidget(self.caption)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(900, 640)

        self.set_options(read or ReadOptions(), id_column)
        for signal in (self.delimiter.currentIndexChanged, self.delimiter.editTextChanged,
                       self.decimal.currentIndexChanged, self.header.currentIndexChanged,
                       self.skip_rows.valueChanged, self.comment.textChanged,
                       self.missing.textChanged, self.encoding.currentIndexChanged,
                       self.encoding.editTextChanged, self.text_columns.textChanged,
                       self.id_column.currentIndexChanged, self.sheet.currentIndexChanged):
            signal.connect(self.schedule)
        self.refresh_now()

    # ------------------------------------------------------------------ options

    def set_options(self, read: ReadOptions, id_column: str | None = None) -> None:
        """Show ``read`` (and the ID column) in the controls."""
        delim = read.delimiter
        index = self.delimiter.findData(delim if delim is not None else _AUTO)
        if index >= 0:
            self.delimiter.setCurrentIndex(index)
        else:
            self.delimiter.setEditText(str(delim))
        self.decimal.setCurrentIndex(max(0, self.decimal.findData(read.decimal or _AUTO)))
        header = _AUTO if read.header is None else ("yes" if read.header else "no")
        self.header.setCurrentIndex(self.header.findData(header))
        self.skip_rows.setValue(read.skip_rows)
        self.comment.setText(read.comment or "")
        self.missing.setText(", ".join(read.missing_values))
        known = self.encoding.findText(read.encoding or _AUTO,
                                       Qt.MatchFlag.MatchFixedString
                                       if read.encoding else Qt.MatchFlag.MatchStartsWith)
        if known >= 0:
            self.encoding.setCurrentIndex(known)
        self.encoding.setEditText(read.encoding or self.encoding.itemText(max(known, 0)))
        self.text_columns.setText(", ".join(read.text_columns))
        if id_column:
            if self.id_column.findData(id_column) < 0:
                self.id_column.addItem(id_column, id_column)
            self.id_column.setCurrentIndex(self.id_column.findData(id_column))

    def reset_to_detected(self) -> None:
        """"Detect again": everything detected, rows by position, the first sheet."""
        self.set_options(ReadOptions(), None)
        blocked = self.id_column.blockSignals(True)
        self.id_column.setCurrentIndex(0)
        self.id_column.blockSignals(blocked)
        self._sheet = None
        if self.sheet.count():
            self.sheet.setCurrentIndex(0)
        self.remembered.setVisible(False)
        self.detect_again.setVisible(False)
        self.schedule()

    def chosen_sheet(self) -> str | None:
        """The sheet (array) chosen; None for a text file or a file with only one (which
        then needs no choosing, on the command line either)."""
        if self.kind not in ("sheets", "arrays"):
            return None
        if self.sheet.count() == 0:  # no preview yet: what the dialog was opened with
            return self._sheet
        return self.sheet.currentText() if self.sheet.count() > 1 else None

    def _requested_sheet(self) -> str | None:
        return self.sheet.currentText() if self.sheet.count() else self._sheet

    def _delimiter_value(self) -> str | None:
        text = self.delimiter.currentText()
        index = self.delimiter.findText(text)
        if index >= 0:
            key = self.delimiter.itemData(index)
        else:  # typed: one character, or a word such as "tab"
            key = text if text.strip() or text == " " else _AUTO
        return None if key == _AUTO or str(key).startswith("auto") else str(key)

    def raw_options(self) -> dict[str, Any]:
        """The controls as ReadOptions' keyword arguments (not yet validated); only those
        that apply to this kind of file (the others are left detected)."""
        decimal = self.decimal.currentData()
        header = self.header.currentData()
        encoding = self.encoding.currentText().strip()
        if self.kind == "arrays":
            return {}
        if self.kind == "sheets":
            return {
                "header": None if header == _AUTO else header == "yes",
                "missing_values": [v.strip() for v in self.missing.text().split(",")
                                   if v.strip()],
                "text_columns": [v.strip() for v in self.text_columns.text().split(",")
                                 if v.strip()],
            }
        return {
            "delimiter": self._delimiter_value(),
            "decimal": None if decimal == _AUTO else decimal,
            "header": None if header == _AUTO else header == "yes",
            "skip_rows": self.skip_rows.value(),
            "comment": self.comment.text() or None,
            "missing_values": [v.strip() for v in self.missing.text().split(",") if v.strip()],
            "encoding": None if not encoding or encoding.startswith(_AUTO) else encoding,
            "text_columns": [v.strip() for v in self.text_columns.text().split(",")
                             if v.strip()],
        }

    def options(self) -> ReadOptions:
        """The reading options chosen (valid: OK is enabled only then)."""
        return ReadOptions(**self.raw_options())

    def chosen_id_column(self) -> str | None:
        value = self.id_column.currentData()
        return str(value) if value else None

    # ------------------------------------------------------------------ preview

    def schedule(self, *_args: Any) -> None:
        """Ask for a new preview once the user pauses (debounced)."""
        self.ok_button.setEnabled(False)
        self._timer.start()

    def refresh_now(self) -> None:
        self._timer.stop()
        self.ok_button.setEnabled(False)
        self.caption.setText("Reading the first rows…")
        self._pending = self.previewer.request(self.path, self.raw_options(),
                                               self.chosen_id_column(), PREVIEW_ROWS,
                                               self._requested_sheet())

    @property
    def waiting(self) -> bool:
        """A preview has been asked for and not shown yet (or a change awaits the pause)."""
        return self._timer.isActive() or self.view is None or \
            self.view.generation != self._pending

    def _show_preview(self, view: ImportPreview) -> None:
        if view.generation != self._pending:
            return
        self.view = view
        self.model.set_view(view)
        self.table.resizeColumnsToContents()
        for j in range(self.model.columnCount()):
            self.table.setColumnWidth(j, min(self.table.columnWidth(j), 220))
        self._show_detected(view)
        self._update_sheets(view)
        self._update_id_choices(view)
        shown = len(view.rows)
        if view.ok:
            kinds = list(view.kinds.values())
            numbers, flags = kinds.count("number"), kinds.count("two values")
            flagged = (f"{flags} with two values only (offered, not chosen by default), "
                       if flags else "")
            where = ""
            if view.sheet is not None:
                noun = "array" if self.kind == "arrays" else "sheet"
                where = f" of {noun} '{view.sheet}'"
                if len(view.sheets) == 1:
                    where += f" (the only {noun})"
            self.caption.setText(
                f"The first {shown} row(s){where} as they will be read"
                f"{' (the whole file)' if view.complete else ''}: "
                f"{numbers} number column(s) offered as features, {flagged}"
                f"{len(kinds) - numbers - flags} other(s).")
        elif view.columns == ("line of the file",):
            self.caption.setText("The file's first lines as they are (the table could not be "
                                 "split into fields with these options):")
        else:
            self.caption.setText("The first rows as split into fields, before the checks:"
                                 if view.rows else "Nothing could be read with these options.")
        if view.ok:
            notes = list(view.warnings)
            self._say("\n".join(f"Note: {n}" for n in notes), "#6b4e00")
            self.ok_button.setEnabled(True)
            self.ok_button.setToolTip("")
        else:
            self._say(f"Cannot open with these options: {view.error}", "#b2182b")
            self.ok_button.setEnabled(False)
            self.ok_button.setToolTip(view.error)
        single = view.columns == ("line of the file",)
        self.table.horizontalHeader().setStretchLastSection(single)

    def _say(self, text: str, colour: str) -> None:
        self.message.setStyleSheet(f"QPlainTextEdit {{ color: {colour}; background: "
                                   "transparent; }")
        self.message.setPlainText(text)
        self.message.setVisible(bool(text))

    @property
    def message_text(self) -> str:
        """What the dialog says under the preview (an error, or notes about the data)."""
        return "" if self.message.isHidden() else self.message.toPlainText()

    def _show_detected(self, view: ImportPreview) -> None:
        """Each "auto" choice says what was detected ("auto (;)")."""
        detected = view.detected
        for box, key in ((self.delimiter, "delimiter"), (self.decimal, "decimal"),
                         (self.header, "header")):
            index = box.findData(_AUTO)
            if index >= 0:
                blocked = box.blockSignals(True)
                box.setItemText(index, f"auto ({detected[key]})" if key in detected
                                else "auto")
                box.blockSignals(blocked)
        index = self.encoding.findText(_AUTO, Qt.MatchFlag.MatchStartsWith)
        if index >= 0:
            blocked = self.encoding.blockSignals(True)
            current = self.encoding.currentIndex()
            self.encoding.setItemText(index, f"auto ({detected['encoding']})"
                                      if "encoding" in detected else _AUTO)
            # (only while "auto" is what the field shows: a typed or remembered encoding
            # leaves the index at "auto" and must not be replaced by it)
            if current == index and self.encoding.currentText().startswith(_AUTO):
                self.encoding.setEditText(self.encoding.itemText(index))
            self.encoding.blockSignals(blocked)

    def _update_sheets(self, view: ImportPreview) -> None:
        """The sheet list, from the file (the first preview lists it)."""
        items = [self.sheet.itemText(i) for i in range(self.sheet.count())]
        if list(view.sheets) == items and (view.sheet is None
                                           or self.sheet.currentText() == view.sheet):
            return
        blocked = self.sheet.blockSignals(True)
        self.sheet.clear()
        self.sheet.addItems(list(view.sheets))
        if view.sheet is not None:
            self.sheet.setCurrentIndex(max(0, self.sheet.findText(view.sheet)))
        self.sheet.setEnabled(len(view.sheets) > 1)
        self.sheet.blockSignals(blocked)

    def _update_id_choices(self, view: ImportPreview) -> None:
        if not view.ok:
            return
        current = self.chosen_id_column()
        blocked = self.id_column.blockSignals(True)
        self.id_column.clear()
        self.id_column.addItem("(row position)", None)
        for name in view.columns:
            kind = view.kinds.get(name, "")
            self.id_column.addItem(f"{name} ({kind})" if kind == "ID-like" else name, name)
        index = self.id_column.findData(current) if current else 0
        self.id_column.setCurrentIndex(max(0, index))
        self.id_column.blockSignals(blocked)

    def wait_for_preview(self, msecs: int = 5000) -> bool:
        """Block until the latest preview is shown (tests, screenshots)."""
        from PySide6.QtCore import QCoreApplication, QElapsedTimer

        clock = QElapsedTimer()
        clock.start()
        if self._timer.isActive():
            self.refresh_now()
        while self.waiting and clock.elapsed() < msecs:
            self.previewer.wait(50)
            QCoreApplication.processEvents()
        QCoreApplication.processEvents()  # the layout follows the message shown or hidden
        return not self.waiting

    def accept(self) -> None:
        if self.view is None or not self.view.ok or self.waiting:
            return  # OK is disabled then; a key press does not slip through
        super().accept()
