"""Dock panels: dataset, model (with the live log-likelihood curve), model selection,
parameters. They show controller views and call controller methods; no engine here."""

from __future__ import annotations

import html
import math
from typing import Any

import pyqtgraph as pg
from pyqtgraph.graphicsItems.ScatterPlotItem import drawSymbol as draw_symbol
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gmm_desktop.controller import (
    AppController,
    DatasetView,
    FeaturesView,
    ModelSummary,
    ProgressView,
    SweepView,
)
from gmm_desktop.gui import palette
from gmm_desktop.gui.numbers import NumberEdit

#: Text colour of warnings (vermillion: readable on light and dark backgrounds).
WARNING_COLOUR = "#D55E00"

MISSING_CHOICES = (("drop", "Drop rows with missing values"), ("median", "Fill with the median"))
SCALING_CHOICES = (
    ("none", "None (data units)"),
    ("standardize", "Standardize (mean 0, sd 1)"),
    ("robust", "Robust (median, IQR)"),
)


class PreviewModel(QAbstractTableModel):
    """The first rows of the file, as text."""

    def __init__(self) -> None:
        super().__init__()
        self._header: tuple[str, ...] = ()
        self._rows: tuple[tuple[str, ...], ...] = ()
        self._ids: tuple[str, ...] = ()

    def set_content(self, header: tuple[str, ...], rows: tuple[tuple[str, ...], ...],
                    ids: tuple[str, ...] = ()) -> None:
        """``ids``: the rows' identities (what exports, labels and the plot call them)."""
        self.beginResetModel()
        self._header, self._rows, self._ids = header, rows, ids
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._header)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and index.isValid():
            return self._rows[index.row()][index.column()]
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._header[section] if section < len(self._header) else None
        if section < len(self._ids):
            return self._ids[section]
        return str(section)


def _combo(choices: tuple[tuple[str, str], ...]) -> QComboBox:
    box = QComboBox()
    for key, label in choices:
        box.addItem(label, key)
    return box


def _select(box: QComboBox, key: str) -> None:
    index = box.findData(key)
    if index >= 0:
        box.setCurrentIndex(index)


class DatasetPanel(QWidget):
    """File summary, preview, feature columns, missing values, scaling, loader messages."""

    demoRequested = Signal(str)

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QVBoxLayout(self)
        self.title = QLabel("No dataset. Open a file (File ▸ Open, or drop it on the window).")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.title)

        self.demo_box = QGroupBox("Demo datasets")
        demo_layout = QVBoxLayout(self.demo_box)
        self.demo_buttons: dict[str, QPushButton] = {}
        try:
            demos = controller.demo_datasets()
        except Exception:  # the data layer offers no demos: nothing to show
            demos = {}
        for name in sorted(demos):
            button = QPushButton(f"Open the “{name}” demo")
            button.clicked.connect(lambda _=False, n=name: self.demoRequested.emit(n))
            demo_layout.addWidget(button)
            self.demo_buttons[name] = button
        self.demo_box.setVisible(bool(demos))
        layout.addWidget(self.demo_box)

        self.preview_model = PreviewModel()
        self.preview = QTableView()
        self.preview.setModel(self.preview_model)
        self.preview.setMinimumHeight(120)
        self.preview.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        layout.addWidget(self.preview, 2)

        layout.addWidget(QLabel("Feature columns:"))
        self.columns = QListWidget()
        self.columns.setMinimumHeight(80)
        layout.addWidget(self.columns, 1)

        form = QFormLayout()
        self.id_column = QComboBox()
        self.id_column.setToolTip(
            "What names the rows in the plot, the tables, the labels and the exports: their "
            "position in the file (from 0), or a column of unique values")
        self.id_column.activated.connect(self._id_chosen)
        self.missing = _combo(MISSING_CHOICES)
        self.scaling = _combo(SCALING_CHOICES)
        form.addRow("Rows named by", self.id_column)
        form.addRow("Missing values", self.missing)
        form.addRow("Scaling", self.scaling)
        layout.addLayout(form)
        self.apply_button = QPushButton("Apply feature choice")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        layout.addWidget(self.apply_button)

        self.messages = QPlainTextEdit()
        self.messages.setReadOnly(True)
        self.messages.setPlaceholderText("Messages from the loader appear here.")
        self.messages.setMaximumHeight(110)
        layout.addWidget(self.messages)
        self._dataset_messages: tuple[str, ...] = ()

        controller.datasetChanged.connect(self.show_dataset)
        controller.featuresChanged.connect(self.show_features)
        controller.busyChanged.connect(self._busy)

    def show_dataset(self, view: DatasetView | None) -> None:
        if view is None:
            return
        self.title.setText(
            f"<b>{view.name}</b><br>{view.n_rows:,} rows, {view.n_columns} columns "
            f"({len(view.numeric_columns)} numeric)"
        )
        self.title.setToolTip(view.path)
        self.demo_box.setVisible(False)
        self.preview_model.set_content(view.preview_header, view.preview_rows, view.preview_ids)
        self.preview.resizeColumnsToContents()
        self.id_column.blockSignals(True)
        self.id_column.clear()
        self.id_column.addItem("their position (from 0)", None)
        for name in view.id_candidates:
            self.id_column.addItem(f"column {name}", name)
        self.id_column.setCurrentIndex(max(0, self.id_column.findData(view.id_column)))
        self.id_column.blockSignals(False)
        self.columns.clear()
        for name in view.columns:
            item = QListWidgetItem(name)
            if name in view.numeric_columns:
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked)
            else:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip("not numeric: cannot be a feature")
            self.columns.addItem(item)
        self._dataset_messages = view.messages
        self.apply_button.setEnabled(True)

    def show_features(self, view: FeaturesView | None) -> None:
        if view is None:
            return
        chosen = set(view.columns)
        for row in range(self.columns.count()):
            item = self.columns.item(row)
            if item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
                state = Qt.CheckState.Checked if item.text() in chosen else Qt.CheckState.Unchecked
                item.setCheckState(state)
        _select(self.missing, view.missing)
        _select(self.scaling, view.scaling)
        lines = [
            f"Using {view.n_rows:,} of {view.n_rows_total:,} rows and {len(view.columns)} "
            f"feature column(s)."
        ]
        lines += list(self._dataset_messages) + list(view.messages)
        self.messages.setPlainText("\n".join(dict.fromkeys(lines)))

    def checked_columns(self) -> list[str]:
        out = []
        for row in range(self.columns.count()):
            item = self.columns.item(row)
            if (
                item.flags() & Qt.ItemFlag.ItemIsUserCheckable
                and item.checkState() == Qt.CheckState.Checked
            ):
                out.append(item.text())
        return out

    def set_checked(self, names: list[str]) -> None:
        for row in range(self.columns.count()):
            item = self.columns.item(row)
            if item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
                item.setCheckState(
                    Qt.CheckState.Checked if item.text() in names else Qt.CheckState.Unchecked
                )

    def _id_chosen(self, _index: int) -> None:
        self.controller.set_id_column(self.id_column.currentData())

    def apply(self) -> None:
        columns = self.checked_columns()
        if not columns:
            self.messages.setPlainText("Check at least one feature column, then apply.")
            return
        self.controller.set_features(
            columns, self.missing.currentData(), self.scaling.currentData()
        )

    def _busy(self, kind: str, busy: bool) -> None:
        if kind == "load":
            self.apply_button.setEnabled(not busy and self.controller.has_data)


class ModelPanel(QWidget):
    """Model parameters (choices filled from the plugin registry), fit, cancel, progress."""

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QVBoxLayout(self)
        form = QFormLayout()
        cfg = controller.config
        self.method = QComboBox()
        self.method.addItem("Robust (trimmed fits; default)", "robust")
        self.method.addItem("Plain EM on every row", "plain")
        self.method.setToolTip(
            "Robust: every count × covariance type is fitted leaving the worst-fitting rows "
            "out, chosen by a trimmed BIC, refitted on the rows that fit, small far "
            "components declared clusters of outliers. Plain: EM on every row, chosen by BIC.")
        self.n_components = QSpinBox()
        self.n_components.setRange(1, 100)
        self.auto_k = QCheckBox("1…K, the best one")
        self.auto_k.setToolTip("Fit every count from 1 to the number above (and every "
                               "covariance type chosen) and keep the best (trimmed BIC for "
                               "the robust method, BIC for plain EM)")
        self.covariance = QComboBox()
        self.auto_types = controller.default_covariance_types()
        self.covariance.addItem("the best of " + ", ".join(self.auto_types), "auto")
        for name in controller.covariance_types():
            self.covariance.addItem(name, name)
        self.initializer = QComboBox()
        self.initializer.addItems(controller.initializers())
        self.n_init = QSpinBox()
        self.n_init.setRange(1, 1000)
        self.max_iter = QSpinBox()
        self.max_iter.setRange(1, 100_000)
        self.tol = NumberEdit(cfg.tol, "Tolerance")
        self.reg_covar = NumberEdit(cfg.reg_covar, "Covariance regularisation")
        self.seed = QSpinBox()
        self.seed.setRange(-1, 2**31 - 1)
        self.seed.setSpecialValueText("random")
        self.seed.setToolTip("Random seed; “random” gives a different start each time.")
        form.addRow("Method", self.method)
        self.method.currentIndexChanged.connect(self._method_changed)
        form.addRow("Components (K)", self.n_components)
        form.addRow("", self.auto_k)
        form.addRow("Covariance type", self.covariance)
        form.addRow("Initializer", self.initializer)
        form.addRow("Restarts (n_init)", self.n_init)
        form.addRow("Max iterations", self.max_iter)
        form.addRow("Tolerance", self.tol)
        form.addRow("Covariance regularisation", self.reg_covar)
        form.addRow("Random seed", self.seed)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Fit the model in the background (Ctrl+R)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the fit and keep the previous model (Esc)")
        self.cancel_button.setEnabled(False)
        buttons.addWidget(self.fit_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        layout.addWidget(self.progress)
        self.curve_plot = pg.PlotWidget(background=palette.plot_background())
        self.curve_plot.setMinimumHeight(140)
        fg = palette.plot_foreground()
        pi = self.curve_plot.getPlotItem()
        pi.setLabel("bottom", "iteration", color=fg.name())
        pi.setLabel("left", "log-likelihood / row", color=fg.name())
        for name in ("left", "bottom"):
            pi.getAxis(name).setPen(fg)
            pi.getAxis(name).setTextPen(fg)
            pi.getAxis(name).enableAutoSIPrefix(False)
        self.curve = self.curve_plot.plot([], [], pen=pg.mkPen(palette.CATEGORICAL[4], width=2),
                                          connect="finite")
        layout.addWidget(self.curve_plot, 1)
        self.summary = QLabel("No model yet.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.summary)
        self.set_config(cfg)

        self.fit_button.clicked.connect(self.fit)
        self.cancel_button.clicked.connect(lambda: controller.cancel("fit"))
        controller.fitStarted.connect(self._started)
        controller.fitProgress.connect(self._progress)
        controller.fitCancelled.connect(self._cancelled)
        controller.modelChanged.connect(self.show_model)
        controller.busyChanged.connect(self._busy)

    def _method_changed(self, *_args: Any) -> None:
        """The initializer, restarts, iterations and tolerance are plain EM's settings (the
        robust route has its own starts and stopping rule): greyed out, saying so."""
        plain = self.method.currentData() == "plain"
        for w in (self.initializer, self.n_init, self.max_iter, self.tol):
            w.setEnabled(plain)
            w.setToolTip("" if plain else "Plain EM's setting: the robust route chooses its "
                         "own starts and stopping rule")

    def params(self) -> dict[str, Any]:
        """The run configuration's model settings as the form shows them (``ValueError``
        with a message naming the field when one holds text that is not a number)."""
        seed = self.seed.value()
        k = self.n_components.value()
        cov = self.covariance.currentData()
        return {
            "method": self.method.currentData(),
            "n_components": tuple(range(1, k + 1)) if self.auto_k.isChecked() and k > 1 else k,
            "covariance_types": tuple(self.auto_types) if cov == "auto" else (cov,),
            "init_params": self.initializer.currentText(),
            "n_init": self.n_init.value(),
            "max_iter": self.max_iter.value(),
            "tol": self.tol.number(),
            "reg_covar": self.reg_covar.number(),
            "random_state": None if seed < 0 else seed,
        }

    def set_config(self, cfg: Any) -> None:
        """Show a run configuration (the fitted model's K and type when one is current)."""
        ks = cfg.component_candidates
        self.auto_k.setChecked(len(ks) > 1)
        self.n_components.setValue(max(ks))
        summary = self.controller.model_summary()
        if summary is not None and len(ks) == 1:
            self.n_components.setValue(summary.n_components)
        self.method.setCurrentIndex(max(0, self.method.findData(cfg.method)))
        self._method_changed()
        types = tuple(cfg.covariance_types)
        cov = "auto" if len(types) > 1 else types[0]
        if summary is not None and len(ks) == 1 and len(types) == 1:
            cov = summary.covariance_type
        index = self.covariance.findData(cov)
        if index >= 0:
            self.covariance.setCurrentIndex(index)
        if self.initializer.findText(cfg.init_params) >= 0:
            self.initializer.setCurrentText(cfg.init_params)
        self.n_init.setValue(cfg.n_init)
        self.max_iter.setValue(cfg.max_iter)
        self.tol.set_number(cfg.tol)
        self.reg_covar.set_number(cfg.reg_covar)
        self.seed.setValue(-1 if cfg.random_state is None else int(cfg.random_state))

    def fit(self) -> None:
        try:
            params = self.params()
        except ValueError as exc:  # never a silent default: say which field and why
            self.progress.setFormat("not started: see the message")
            self.controller.errorOccurred.emit("Cannot fit", str(exc))
            return
        self.controller.fit(**params)

    def _started(self, _config: Any) -> None:
        self.curve.setData([], [])
        self.progress.setValue(0)
        self.progress.setFormat("starting…")

    def _progress(self, info: ProgressView) -> None:
        self.progress.setValue(int(1000 * info.fraction))
        self.progress.setFormat(info.message[:80])
        xs: list[float] = []
        ys: list[float] = []
        last_restart = None
        for restart, it, lb in info.history:
            if last_restart is not None and restart != last_restart:
                xs.append(math.nan)
                ys.append(math.nan)
            xs.append(it)
            ys.append(lb)
            last_restart = restart
        self.curve.setData(xs, ys, connect="finite")
        self._fit_y_range(ys)

    def _fit_y_range(self, ys: list[float]) -> None:
        """A nearly flat curve gets a sensible range (no ticks 1e-6 apart with long labels)."""
        finite = [v for v in ys if math.isfinite(v)]
        if not finite:
            return
        lo, hi = min(finite), max(finite)
        centre = 0.5 * (lo + hi)
        half = max(0.5 * (hi - lo) * 1.1, 1e-3 * max(abs(centre), 1.0))
        self.curve_plot.getPlotItem().setYRange(centre - half, centre + half, padding=0.02)

    def _cancelled(self, message: str) -> None:
        self.progress.setFormat("cancelled: previous model kept")

    def _busy(self, kind: str, busy: bool) -> None:
        if kind == "fit":
            self.fit_button.setEnabled(not busy)
            self.cancel_button.setEnabled(busy)
            if not busy and not self.progress.format().startswith("cancelled"):
                self.progress.setValue(1000)
                self.progress.setFormat("done")

    def show_model(self, summary: ModelSummary | None) -> None:
        if summary is None:
            self.summary.setText("No model yet.")
            return
        state = "converged" if summary.converged else "did not converge"
        state += f" in {summary.n_iter} iterations"
        warnings = tuple(getattr(summary, "warnings", ()))
        if warnings:
            state += ", but the fit is degenerate" if any(
                "degenerate" in w for w in warnings) else ", with warnings"
        text = (
            f"<b>{summary.n_components} components, {summary.covariance_type}</b> — "
            f"{state}<br>"
            f"log-likelihood/row {summary.lower_bound:.5g}; BIC {summary.bic:.6g}; "
            f"AIC {summary.aic:.6g}; {summary.n_parameters} parameters"
        )
        if warnings:
            shown = list(warnings[:4]) + ([f"… and {len(warnings) - 4} more"]
                                          if len(warnings) > 4 else [])
            text += (f"<br><span style='color:{WARNING_COLOUR}'><b>⚠ Warning:</b> "
                     + "<br>⚠ ".join(html.escape(w) for w in shown) + "</span>")
        self.summary.setText(text)
        self.summary.setToolTip("\n".join(warnings))
        if summary.lower_bounds:
            self.curve.setData(list(range(1, len(summary.lower_bounds) + 1)),
                               list(summary.lower_bounds))
            self._fit_y_range(list(summary.lower_bounds))


#: Line styles and markers that, with the colour, tell many curves apart.
_DASHES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine,
           Qt.PenStyle.DashDotLine)
_SYMBOLS = ("o", "s", "t", "d", "t1", "p", "h", "t2", "x", "+")


def distinct_colours(n: int) -> list[QColor]:
    """``n`` different colours: the colour-blind-safe palette first, then hues spread by
    the golden angle at alternating lightness (never a repeated colour)."""
    colours = palette.categorical(min(n, len(palette.CATEGORICAL)))
    seen = {c.name() for c in colours}
    i = 0
    while len(colours) < n:
        hue = (0.11 + i * 0.618033988749895) % 1.0
        value = (0.55, 0.8, 0.4)[i % 3]
        c = QColor.fromHsvF(hue, 0.75, value)
        i += 1
        if c.name() not in seen:
            seen.add(c.name())
            colours.append(c)
    return colours


def curve_styles(n: int) -> list[tuple[QColor, str, Qt.PenStyle]]:
    """Colour, marker and line style of ``n`` curves: all colours differ, and past the
    palette's length the marker and the dash differ too."""
    colours = distinct_colours(n)
    size = len(palette.CATEGORICAL)
    return [(colours[i], _SYMBOLS[i % len(_SYMBOLS)] if n > size else "o",
             _DASHES[(i // size) % len(_DASHES)]) for i in range(n)]


def legend_icon(colour: QColor, symbol: str, dash: Qt.PenStyle) -> QIcon:
    """A small line-and-marker sample for a legend entry."""
    pix = QPixmap(22, 12)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(colour, 2)
    pen.setStyle(dash)
    painter.setPen(pen)
    painter.drawLine(0, 6, 22, 6)
    painter.translate(11, 6)
    draw_symbol(painter, symbol, 9, pg.mkPen(colour), pg.mkBrush(colour))
    painter.end()
    return QIcon(pix)


class SweepPanel(QWidget):
    """BIC/AIC over a range of K and covariance types; click a point to use that model."""

    def __init__(self, controller: AppController, model_panel: ModelPanel,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.model_panel = model_panel
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.k_min = QSpinBox()
        self.k_min.setRange(1, 100)
        self.k_min.setValue(1)
        self.k_max = QSpinBox()
        self.k_max.setRange(1, 100)
        self.k_max.setValue(6)
        krow = QHBoxLayout()
        krow.addWidget(self.k_min)
        krow.addWidget(QLabel("to"))
        krow.addWidget(self.k_max)
        form.addRow("Components", krow)
        self.types = QListWidget()
        self.types.setMaximumHeight(100)
        defaults = set(controller.default_sweep_types())
        for name in controller.covariance_types():
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in defaults
                               else Qt.CheckState.Unchecked)
            self.types.addItem(item)
        form.addRow("Covariance types", self.types)
        self.criterion = _combo((("bic", "BIC"), ("aic", "AIC"), ("bic_mclust", "BIC (mclust)")))
        self.criterion.setToolTip("BIC and AIC: lower is better. BIC (mclust) is mclust's "
                                  "convention 2·logL − p·ln n: higher is better, same winner")
        form.addRow("Criterion", self.criterion)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run model selection")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        layout.addWidget(self.progress)
        self.plot = pg.PlotWidget(background=palette.plot_background())
        self.plot.setMinimumHeight(180)
        fg = palette.plot_foreground()
        pi = self.plot.getPlotItem()
        pi.setLabel("bottom", "components (K)", color=fg.name())
        for name in ("left", "bottom"):
            pi.getAxis(name).setPen(fg)
            pi.getAxis(name).setTextPen(fg)
        # the legend sits beside the plot (never over the curves); a click hides a curve
        self.legend = QListWidget()
        self.legend.setObjectName("sweep_legend")
        self.legend.setToolTip("Uncheck a covariance type to hide its curve")
        self.legend.setMaximumWidth(130)
        self.legend.setIconSize(QSize(22, 12))
        self.legend.setFrameShape(QListWidget.Shape.NoFrame)
        self.legend.itemChanged.connect(self._legend_toggled)
        plot_row = QHBoxLayout()
        plot_row.setSpacing(2)
        plot_row.addWidget(self.plot, 1)
        plot_row.addWidget(self.legend)
        layout.addLayout(plot_row, 1)
        self.info = QLabel("Click a point to use that model.")
        self.info.setWordWrap(True)
        layout.addWidget(self.info)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.view: SweepView | None = None

        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(lambda: controller.cancel("sweep"))
        self.criterion.currentIndexChanged.connect(
            lambda: controller.set_sweep_criterion(self.criterion.currentData()))
        controller.sweepProgress.connect(self._progress)
        controller.sweepFinished.connect(self.show_sweep)
        controller.busyChanged.connect(self._busy)

    def checked_types(self) -> list[str]:
        return [
            self.types.item(i).text()
            for i in range(self.types.count())
            if self.types.item(i).checkState() == Qt.CheckState.Checked
        ]

    def run(self) -> None:
        lo, hi = sorted((self.k_min.value(), self.k_max.value()))
        types = self.checked_types()
        if not types:
            self.info.setText("Check at least one covariance type.")
            return
        self.controller.run_sweep(list(range(lo, hi + 1)), types, self.criterion.currentData())

    def _progress(self, info: ProgressView) -> None:
        self.progress.setValue(int(1000 * info.fraction))
        self.progress.setFormat(info.message[:80])

    def _busy(self, kind: str, busy: bool) -> None:
        if kind == "sweep":
            self.run_button.setEnabled(not busy)
            self.cancel_button.setEnabled(busy)

    def show_sweep(self, view: SweepView) -> None:
        self.view = view
        self.plot.clear()
        self.legend.blockSignals(True)
        self.legend.clear()
        self.curves = {}
        styles = curve_styles(len(view.curves))
        pi = self.plot.getPlotItem()
        higher = view.criterion == "bic_mclust"
        name = "BIC (mclust)" if higher else view.criterion.upper()
        pi.setLabel("left", f"{name} ({'higher' if higher else 'lower'} is better)",
                    color=palette.plot_foreground().name())
        for (cov_type, ks, vals), (colour, symbol, dash) in zip(view.curves, styles,
                                                                 strict=True):
            pen = pg.mkPen(colour, width=2, style=dash)
            item = pg.PlotDataItem(
                list(ks), list(vals), pen=pen, symbol=symbol, symbolBrush=colour,
                symbolPen=pg.mkPen(colour), symbolSize=9, name=cov_type, connect="finite",
            )
            item.sigPointsClicked.connect(
                lambda _item, points, ev, n=cov_type: self._clicked(n, points)
            )
            self.plot.addItem(item)
            self.curves[cov_type] = item
            entry = QListWidgetItem(legend_icon(colour, symbol, dash), cov_type)
            entry.setFlags(entry.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            entry.setCheckState(Qt.CheckState.Checked)
            self.legend.addItem(entry)
        self.legend.blockSignals(False)
        k, t = view.best
        self.progress.setValue(1000)
        self.progress.setFormat("done")
        self.info.setText(f"Best by {name}: {t}, K={k} (the star). Click a point to use "
                          "that model.")
        best = [vals[ks.index(k)] for n_, ks, vals in view.curves if n_ == t and k in ks]
        self.best_marker = None
        if best:
            star = pg.ScatterPlotItem([k], best, symbol="star", size=22,
                                      brush=pg.mkBrush("#D55E00"), pen=pg.mkPen("k"))
            star.setToolTip(f"Best by {name}: {t}, K={k}. Click to use it.")
            # the star lies over the best point and takes its clicks: it adopts that model
            star.sigClicked.connect(lambda *_a, kk=k, tt=t: self.adopt(kk, tt))
            self.plot.addItem(star)
            self.best_marker = star

    def _legend_toggled(self, entry: QListWidgetItem) -> None:
        curve = self.curves.get(entry.text())
        if curve is not None:
            curve.setVisible(entry.checkState() == Qt.CheckState.Checked)

    def _clicked(self, cov_type: str, points: Any) -> None:
        if not len(points):
            return
        k = round(points[0].pos().x())
        self.adopt(k, cov_type)

    def adopt(self, k: int, cov_type: str) -> None:
        if self.controller.adopt_sweep_model(k, cov_type):
            self.info.setText(f"Using {cov_type}, K={k}.")


class ParametersView(QTableWidget):
    """Each component's weight, mean and covariance (model units)."""

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        controller.modelChanged.connect(self.show_model)

    def show_model(self, summary: ModelSummary | None) -> None:
        self.clear()
        if summary is None:
            self.setRowCount(0)
            self.setColumnCount(0)
            return
        f = summary.features or tuple(f"x{i + 1}" for i in range(len(summary.components[0].mean)))
        headers = ["weight"] + [f"mean {c}" for c in f]
        pairs = [(i, j) for i in range(len(f)) for j in range(i, len(f))]
        headers += [f"var {f[i]}" if i == j else f"cov {f[i]}, {f[j]}" for i, j in pairs]
        self.setColumnCount(len(headers))
        self.setRowCount(len(summary.components))
        self.setHorizontalHeaderLabels(headers)
        self.setVerticalHeaderLabels([f"component {c.index + 1}" for c in summary.components])
        for r, comp in enumerate(summary.components):
            values = [comp.weight, *comp.mean] + [comp.covariance[i][j] for i, j in pairs]
            for c, v in enumerate(values):
                item = QTableWidgetItem(f"{v:.6g}")
                item.setData(Qt.ItemDataRole.UserRole, float(v))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(r, c, item)
        self.resizeColumnsToContents()
        self.setToolTip(f"Parameters in {summary.units}")
