"""Big-data (Dask) dialogs: the scheduler setting and opening a table lazily."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gmm_desktop.controller import AppController
from gmm_desktop.data import ReadOptions
from gmm_desktop.gui.import_dialog import ImportDialog

SCHEDULER_HELP = (
    "Where the big-data passes (fit, histogram, threshold, export) run:<br>"
    "<b>threads</b> — in this process, on every core (the default);<br>"
    "<b>local</b> — start a local Dask cluster of worker processes;<br>"
    "<b>tcp://host:8786</b> — the address of a running Dask scheduler."
)


class SchedulerDialog(QDialog):
    """Settings ▸ Big data (Dask): the scheduler, persisted in the settings file."""

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Big data (Dask)")
        self.setMinimumWidth(480)
        self.controller = controller
        layout = QVBoxLayout(self)
        help_label = QLabel(SCHEDULER_HELP)
        help_label.setWordWrap(True)
        layout.addWidget(help_label)
        form = QFormLayout()
        self.scheduler = QComboBox()
        self.scheduler.setEditable(True)
        self.scheduler.addItems(["threads", "local"])
        self.scheduler.setCurrentText(controller.bigdata.scheduler())
        self.scheduler.lineEdit().setPlaceholderText("threads, local or tcp://host:8786")
        form.addRow("Scheduler", self.scheduler)
        layout.addLayout(form)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def apply(self) -> None:
        if self.controller.bigdata.set_scheduler(self.scheduler.currentText()):
            self.accept()


class OpenBigDialog(QDialog):
    """File ▸ Open big dataset: a Parquet file or folder, or a CSV glob, opened lazily."""

    def __init__(self, controller: AppController, folder: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open big dataset")
        self.setMinimumWidth(620)
        self.controller = controller
        self.folder = folder
        layout = QVBoxLayout(self)
        note = QLabel(
            "The table is read in parts and never loaded whole: the plot shows a uniform "
            "random sample of the rows, while the fit, the histogram of log-density, the "
            "threshold and the export use every row, on the Dask scheduler "
            f"(<b>{controller.bigdata.scheduler()}</b>; change it in Tools ▸ Big data).")
        note.setWordWrap(True)
        layout.addWidget(note)
        form = QFormLayout()
        row = QHBoxLayout()
        self.path = QLineEdit()
        self.path.setPlaceholderText("data/part-*.parquet, a Parquet folder, or logs/*.csv")
        self.file_button = QPushButton("File…")
        self.folder_button = QPushButton("Folder…")
        row.addWidget(self.path, 1)
        row.addWidget(self.file_button)
        row.addWidget(self.folder_button)
        form.addRow("Data", row)
        self.columns = QLineEdit()
        self.columns.setPlaceholderText("every numeric column")
        self.columns.setToolTip("Feature columns, separated by commas (empty: every numeric)")
        form.addRow("Feature columns", self.columns)
        self.id_column = QLineEdit()
        self.id_column.setPlaceholderText("none: the row number")
        form.addRow("ID column", self.id_column)
        self.scaling = QComboBox()
        for key in ("standardize", "robust", "none"):
            self.scaling.addItem(key, key)
        form.addRow("Scaling", self.scaling)
        # CSV files: how to read them (every file alike), chosen in the import dialog on
        # the first file, with its preview
        self.read: ReadOptions | None = None
        reading = QHBoxLayout()
        self.read_label = QLabel("detected from the files")
        self.read_label.setWordWrap(True)
        self.read_button = QPushButton("Reading options…")
        self.read_button.setToolTip("Delimiter, decimal mark, header, rows to skip, comment "
                                    "and missing-value markers of the CSV files, with a "
                                    "preview of the first file")
        reading.addWidget(self.read_label, 1)
        reading.addWidget(self.read_button)
        form.addRow("Reading (CSV)", reading)
        layout.addLayout(form)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.open_now)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.file_button.clicked.connect(self._pick_file)
        self.folder_button.clicked.connect(self._pick_folder)
        self.read_button.clicked.connect(lambda: self.edit_reading())

    def edit_reading(self, dialog: ImportDialog | None = None) -> bool:
        """Choose the CSV files' reading options in the import dialog, on the source's
        first file (``dialog``: one already made, for tests); ``True`` if chosen."""
        first = self.controller.bigdata.first_text_file(self.path.text())
        if first is None:
            self.read_label.setText("Give a folder or glob of CSV files first: a Parquet "
                                    "dataset has no reading options.")
            return False
        dialog = dialog or ImportDialog(first, self, read=self.read or ReadOptions())
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        self.read = dialog.options()
        chosen_id = dialog.chosen_id_column()
        if chosen_id:
            self.id_column.setText(chosen_id)
        self.read_label.setText(", ".join(f"{k.replace('_', ' ')} {v!r}"
                                          for k, v in self.read.changed().items())
                                or "detected from the files")
        return True

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Big dataset file", self.folder,
            "Parquet or CSV (*.parquet *.pq *.csv *.tsv *.csv.gz);;All files (*)")
        if path:
            self.path.setText(path)

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Parquet dataset or CSV folder",
                                                self.folder)
        if path:
            self.path.setText(path)

    def open_now(self) -> bool:
        text = self.path.text().strip()
        if not text:
            self.controller.errorOccurred.emit(
                "Cannot open", "Give a Parquet file or folder, or a CSV glob such as "
                "logs/*.csv.")
            return False
        cols = [c.strip() for c in self.columns.text().split(",") if c.strip()]
        ok = self.controller.bigdata.open(
            text, columns=cols or None, scaling=self.scaling.currentData(),
            id_column=self.id_column.text().strip() or None, read=self.read)
        if ok:
            self.accept()
        return ok
