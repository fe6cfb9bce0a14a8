"""Anomaly, selection and plugins panels. They show controller views and call controller
methods; parameter editors are built from the plugins' declared schemas (no engine here)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gmm_desktop.controller import AppController
from gmm_desktop.controller.views import (
    AnomalyView,
    ParamField,
    ProgressView,
    RefitView,
    SelectionView,
)
from gmm_desktop.gui import palette
from gmm_desktop.gui.numbers import NumberBox
from gmm_desktop.gui.panels import PreviewModel
from gmm_desktop.gui.views.common import WrapLabel


def param_editor(field: ParamField) -> QWidget:
    """An editor for one declared plugin parameter, with its help as tooltip.

    Floats get a :class:`NumberBox`: locale-aware, scientific notation, every digit kept
    (a tolerance of 1e-8 stays 1e-8), committed on Enter; a small positive default
    (a tolerance) steps by factors of ten.
    """
    if field.type == "bool":
        w: Any = QCheckBox()
        w.setChecked(bool(field.default))
    elif field.type == "int":
        w = QSpinBox()
        w.setRange(int(field.minimum if field.minimum is not None else -(2**31) + 1),
                   int(field.maximum if field.maximum is not None else 2**31 - 1))
        w.setValue(int(field.default))
    elif field.type == "float":
        low = field.minimum if field.minimum is not None else -1e12
        high = field.maximum if field.maximum is not None else 1e12
        default = float(field.default)
        span = (field.maximum or 1.0) - (field.minimum or 0.0)
        tiny = 0 < default < 1e-3 * max(span, 1e-300)
        w = NumberBox(minimum=low, maximum=high, value=default, log_step=tiny,
                      step=10 ** math.floor(math.log10(max(span, 1e-9))) / 100)
    elif field.type == "choice":
        w = QComboBox()
        w.addItems(list(field.choices))
        w.setCurrentText(str(field.default))
    else:
        w = QLineEdit(str(field.default))
    w.setToolTip(field.help)
    w.setObjectName(field.name)
    return w


def editor_value(field: ParamField, w: Any) -> Any:
    if field.type == "bool":
        return bool(w.isChecked())
    if field.type == "int":
        return int(w.value())
    if field.type == "float":
        if isinstance(w, NumberBox):
            w.interpretText()  # text typed but not yet committed counts
        return float(w.value())
    if field.type == "choice":
        return w.currentText()
    return w.text()


def percent(share: float) -> str:
    """A share as a percentage that never reads 0 for a non-zero share."""
    p = 100.0 * share
    if p == 0:
        return "0 %"
    if p >= 1 or p == 100:
        return f"{p:.2f} %"
    return f"{p:.2g} %"


def _table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.verticalHeader().setVisible(False)
    t.horizontalHeader().setStretchLastSection(True)
    return t


#: Flagged rows the anomaly panel's table shows at least (the panel scrolls if need be).
FLAGGED_ROWS_SHOWN = 8


class AnomalyPanel(QWidget):
    """Histogram with a draggable threshold, gate choice, flagged table, refit, export."""

    focusRequested = Signal(int)  # plotted point index
    explainRequested = Signal(int)  # plotted point index: "why is it flagged?"
    exportRequested = Signal(bool)  # only flagged?

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.view: AnomalyView | None = None
        self._updating = False
        layout = QVBoxLayout(self)
        fg = palette.plot_foreground()
        self.hist = pg.PlotWidget(background=palette.plot_background())
        self.hist.setMinimumHeight(110)
        self.hist.setMaximumHeight(140)  # (the flagged rows below need the height more)
        pi = self.hist.getPlotItem()
        pi.setLabel("bottom", "log-density", color=fg.name())
        pi.setLabel("left", "rows", color=fg.name())
        pi.setMouseEnabled(x=False, y=False)
        for name in ("left", "bottom"):
            pi.getAxis(name).setPen(fg)
            pi.getAxis(name).setTextPen(fg)
            pi.getAxis(name).enableAutoSIPrefix(False)
        self.bars = pg.PlotCurveItem(x=[0.0, 1.0], y=[0.0], stepMode="center", fillLevel=0,
                                     brush=pg.mkBrush(palette.CATEGORICAL[1]),
                                     pen=pg.mkPen(palette.CATEGORICAL[4]))
        self.hist.addItem(self.bars)
        self.line = pg.InfiniteLine(angle=90, movable=True,
                                    pen=pg.mkPen("#D55E00", width=3),
                                    hoverPen=pg.mkPen("#D55E00", width=5))
        self.line.setZValue(10)
        self.line.setToolTip("Drag the threshold: rows left of the line are flagged")
        self.hist.addItem(self.line)
        # a few extreme rows must not stretch the axis: the view is clipped, with a note
        bg = palette.plot_background()
        self.range_note = pg.TextItem("", color=fg, anchor=(0, 0),
                                      fill=pg.mkBrush(bg.red(), bg.green(), bg.blue(), 210))
        self.range_note.setZValue(20)
        self.range_note.setParentItem(pi.getViewBox())
        self.range_note.setPos(4, 2)
        self.n_below_range = 0
        layout.addWidget(self.hist, 1)
        self.count = WrapLabel("No model yet.")
        layout.addWidget(self.count)

        gate = QGroupBox("Gate")
        gate_layout = QVBoxLayout(gate)
        form = QFormLayout()
        gate_layout.addLayout(form)
        self.kind = QComboBox()
        for key, text in (("line", "Log-density threshold (contamination)"),
                          ("sigma", "Per-component k-sigma"),
                          ("chi2", "Per-component chi-square gate")):
            self.kind.addItem(text, key)
        form.addRow("Rule", self.kind)
        # typed values are committed on Enter or when leaving the field (never per key)
        self.contamination = NumberBox(minimum=0.0, maximum=0.9999, value=0.05, step=0.005)
        self.contamination.setToolTip(
            "The density rule's share: the lowest-density share of the rows is flagged. "
            "Manual labels (and the small-component rule) can add or remove rows on top.")
        self.threshold = NumberBox(minimum=-1e9, maximum=1e9, value=0.0, step=0.1)
        self.threshold.setToolTip("Absolute log-density cut-off: rows below it are flagged")
        self.sigma = NumberBox(minimum=0.1, maximum=100.0, value=3.0, step=0.5)
        self.chi2 = NumberBox(minimum=0.5, maximum=0.9999, value=0.975, step=0.005)
        self.small = QCheckBox("Small components are anomalous, below share")
        self.small_share = NumberBox(minimum=0.001, maximum=0.5, value=0.02, step=0.005)
        self.share_note = WrapLabel("")
        self.share_note.setObjectName("share_note")
        self.gate_form = form
        form.addRow("Contamination", self.contamination)
        form.addRow("Threshold (log-density)", self.threshold)
        form.addRow("k (sigma)", self.sigma)
        form.addRow("Chi-square probability", self.chi2)
        row = QHBoxLayout()
        row.addWidget(self.small)
        row.addWidget(self.small_share)
        form.addRow(row)
        layout.addWidget(self.share_note)
        layout.addWidget(gate)

        show = QHBoxLayout()
        self.show_flags = QCheckBox("Show flagged points")
        self.show_flags.setChecked(True)
        self.show_contour = QCheckBox("Show decision boundary")
        self.show_contour.setChecked(True)
        show.addWidget(self.show_flags)
        show.addWidget(self.show_contour)
        layout.addLayout(show)
        self.contour_note = QLabel("")
        self.contour_note.setWordWrap(True)
        layout.addWidget(self.contour_note)

        self.flagged = _table(["row", "log-density", "component", "top feature"])
        self.flagged.setToolTip("Flagged rows, lowest density first; click to show one, "
                                "double-click to see why it is flagged")
        # compact rows, and at least FLAGGED_ROWS_SHOWN of them on screen whatever the
        # window's height: the panel scrolls rather than squeezing the table to two rows
        rows = self.flagged.verticalHeader()
        rows.setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.flagged.setMinimumHeight(self.flagged.horizontalHeader().sizeHint().height()
                                      + FLAGGED_ROWS_SHOWN * rows.defaultSectionSize() + 4)
        layout.addWidget(self.flagged, 3)
        exports = QHBoxLayout()
        self.export_flagged = QPushButton("Export flagged…")
        self.export_all = QPushButton("Export all rows…")
        exports.addWidget(self.export_flagged)
        exports.addWidget(self.export_all)
        layout.addLayout(exports)

        # refit ---------------------------------------------------------------------------
        refit = QGroupBox("Refit")
        self.refit_box = refit
        rl = QVBoxLayout(refit)
        self.strategy = QComboBox()
        self.strategy.addItems(controller.anomaly.refit_strategies())
        rl.addWidget(self.strategy)
        self.strategy_help = QLabel("")
        self.strategy_help.setWordWrap(True)
        rl.addWidget(self.strategy_help)
        self.params_box = QWidget()
        self.params_form = QFormLayout(self.params_box)
        rl.addWidget(self.params_box)
        self.editors: dict[str, tuple[ParamField, QWidget]] = {}
        buttons = QHBoxLayout()
        self.refit_button = QPushButton("Run refit")
        self.refit_cancel = QPushButton("Cancel")
        self.refit_cancel.setEnabled(False)
        buttons.addWidget(self.refit_button)
        buttons.addWidget(self.refit_cancel)
        rl.addLayout(buttons)
        self.refit_progress = QProgressBar()
        self.refit_progress.setRange(0, 1000)
        rl.addWidget(self.refit_progress)
        self.refit_result = QLabel("")
        self.refit_result.setWordWrap(True)
        rl.addWidget(self.refit_result)
        self.history = _table(["round", "flagged", "changed", "mean logL", "note"])
        self.history.setMaximumHeight(140)
        rl.addWidget(self.history)
        decide = QHBoxLayout()
        self.accept = QPushButton("Accept new model")
        self.keep = QPushButton("Keep old model")
        self.accept.setEnabled(False)
        self.keep.setEnabled(False)
        decide.addWidget(self.accept)
        decide.addWidget(self.keep)
        rl.addLayout(decide)
        layout.addWidget(refit)

        self._drag_value: float | None = None
        self._drag_timer = QTimer(self)
        self._drag_timer.setSingleShot(True)
        self._drag_timer.setInterval(0)
        self._drag_timer.timeout.connect(self._apply_drag)
        self.line.sigPositionChanged.connect(self._line_moved)
        self.contamination.valueChanged.connect(self._contamination_changed)
        self.threshold.valueChanged.connect(self._threshold_changed)
        for w in (self.sigma, self.chi2, self.small_share):
            w.valueChanged.connect(self._gate_changed)
        for w in (self.contamination, self.threshold, self.sigma, self.chi2, self.small_share):
            w.invalidEntry.connect(controller.statusMessage.emit)
        self.small.toggled.connect(self._gate_changed)
        self.kind.currentIndexChanged.connect(self._gate_changed)
        self.flagged.cellClicked.connect(self._flagged_clicked)
        self.flagged.cellDoubleClicked.connect(self._flagged_explained)
        self.export_flagged.clicked.connect(lambda: self.exportRequested.emit(True))
        self.export_all.clicked.connect(lambda: self.exportRequested.emit(False))
        self.strategy.currentTextChanged.connect(self._build_editor)
        self.refit_button.clicked.connect(self.run_refit)
        self.refit_cancel.clicked.connect(lambda: controller.cancel("refit"))
        self.accept.clicked.connect(controller.anomaly.accept_refit)
        self.keep.clicked.connect(controller.anomaly.reject_refit)
        controller.anomaly.anomalyChanged.connect(self.show_anomaly)
        controller.anomaly.refitStarted.connect(self._refit_started)
        controller.anomaly.refitProgress.connect(self._refit_progress)
        controller.anomaly.refitFinished.connect(self.show_refit)
        controller.anomaly.refitClosed.connect(self._refit_closed)
        controller.busyChanged.connect(self._busy)
        self._build_editor(self.strategy.currentText())
        self._enable_gate()

    # -- gate -----------------------------------------------------------------------------

    def _share(self) -> float | None:
        return float(self.small_share.value()) if self.small.isChecked() else None

    def _enable_gate(self) -> None:
        kind = self.kind.currentData()
        self.contamination.setEnabled(kind == "line")
        self.threshold.setEnabled(kind == "line")
        self.line.setMovable(kind == "line")
        self.sigma.setEnabled(kind == "sigma")
        self.chi2.setEnabled(kind == "chi2")
        # only the chosen rule's fields take room: the flagged rows come up the panel
        self.gate_form.setRowVisible(self.contamination, kind == "line")
        self.gate_form.setRowVisible(self.threshold, kind == "line")
        self.gate_form.setRowVisible(self.sigma, kind == "sigma")
        self.gate_form.setRowVisible(self.chi2, kind == "chi2")

    def _gate_changed(self, *_a: Any) -> None:
        self._enable_gate()
        if self._updating:
            return
        kind = self.kind.currentData()
        if kind == "sigma":
            self.controller.anomaly.set_threshold("sigma", self.sigma.value(), self._share())
        elif kind == "chi2":
            self.controller.anomaly.set_threshold("chi2", self.chi2.value(), self._share())
        elif self.view is not None and self.view.kind == "log_density":
            # a dragged or typed cut-off stays a cut-off (it is not turned into a share)
            self.controller.anomaly.set_threshold("log_density", self.threshold.value(),
                                                  self._share())
        else:
            self.controller.anomaly.set_threshold("contamination", self.contamination.value(),
                                                  self._share())

    def _contamination_changed(self, value: float) -> None:
        if not self._updating:
            self.controller.anomaly.set_threshold("contamination", value, self._share())

    def _threshold_changed(self, value: float) -> None:
        if not self._updating:
            self.controller.anomaly.set_threshold("log_density", value, self._share())

    def _line_moved(self, *_a: Any) -> None:
        if self._updating:
            return
        self._drag_value = float(self.line.value())
        if not self._drag_timer.isActive():
            self._drag_timer.start()

    def _apply_drag(self) -> None:
        if self._drag_value is not None:
            value, self._drag_value = self._drag_value, None
            self.controller.anomaly.drag_threshold(value)

    def drag_to(self, value: float) -> None:
        """Move the line as a drag does (tests and keyboard)."""
        self.line.setValue(value)
        self._apply_drag()

    def show_anomaly(self, view: AnomalyView | None) -> None:
        self.view = view
        self._updating = True
        try:
            if view is None:
                self.bars.setData([0, 1], [0])
                self.count.setText("No model yet: fit one to score the rows.")
                self.share_note.setText("")
                self.flagged.setRowCount(0)
                return
            self.bars.setData(np.asarray(view.hist_edges), np.asarray(view.hist_counts))
            self._clip_range(view)
            if view.cutoff is not None and math.isfinite(view.cutoff):
                self.line.setVisible(True)
                self.line.setValue(view.cutoff)
                self.threshold.set_value_unless_editing(view.cutoff)
            else:
                self.line.setVisible(False)
            # the box holds the density rule's share (what it reads as input)
            rule_share = view.rule_share if view.cutoff is not None else view.share
            if view.kind == "contamination":
                rule_share = view.value
            self.contamination.set_value_unless_editing(rule_share)
            key = {"sigma": "sigma", "chi2": "chi2"}.get(view.kind, "line")
            self.kind.setCurrentIndex(self.kind.findData(key))
            if view.kind == "sigma":
                self.sigma.set_value_unless_editing(view.value)
            elif view.kind == "chi2":
                self.chi2.set_value_unless_editing(view.value)
            self._enable_gate()
            src = f" (flags of the accepted {view.from_refit} refit)" if view.from_refit else ""
            about = "≈ " if view.approximate else ""
            sample = ""
            if view.sample_rows is not None:
                sample = (f"<br>On the plot and in the table below: the flagged rows of the "
                          f"uniform sample of {view.sample_rows:,} rows.")
            self.count.setText(
                f"<b>Flagged: {about}{view.n_flagged:,} of {view.n_rows:,} rows "
                f"({percent(view.share)})</b>{src}<br>{self._describe(view)}{sample}"
            )
            self.share_note.setText(self._share_note(view))
            self.contour_note.setText(
                f"Dashed line on the plot: {view.contour_note}." if view.contour_note else "")
            self._fill_flagged(view)
        finally:
            self._updating = False

    @staticmethod
    def _describe(view: AnomalyView) -> str:
        """The rule in words; an infinite cut-off is said plainly."""
        if view.cutoff is not None and not math.isfinite(view.cutoff):
            text = ("the density rule flags no row (contamination 0)" if view.cutoff < 0
                    else "the density rule flags every row")
            if view.small_component_share is not None:
                text += (f"; components under {view.small_component_share:.4g} of the "
                         "weight are anomalous")
            return text
        return view.description

    @staticmethod
    def _share_note(view: AnomalyView) -> str:
        """What the contamination box means when it is not the total flagged share: the
        density rule's share of the rows not marked outlier; manual labels (and the
        small-component rule) add or remove rows on top."""
        if view.cutoff is None or view.n_rule is None:
            return ""
        labelled = view.n_marked_outlier or view.n_marked_normal
        extra = view.n_flagged - view.n_rule
        if not labelled and extra == 0:
            return ""
        base = view.n_rows - view.n_marked_outlier
        parts = []
        if view.n_marked_outlier:
            parts.append(f"{view.n_marked_outlier:,} marked outlier")
        if view.n_marked_normal:
            parts.append(f"{view.n_marked_normal:,} marked normal")
        if view.small_component_share is not None:
            parts.append("the small-component rule")
        return (f"Contamination is the density rule's share of the {base:,} rows not marked "
                f"outlier: {view.n_rule:,} rows ({percent(view.rule_share)}). Flagged in "
                f"total: {view.n_flagged:,} ({percent(view.share)}), {extra:+,} with "
                + " and ".join(["the manual labels"] * bool(labelled) + parts[2:])
                + (f" ({', '.join(parts[:2])})" if labelled else "") + ".")

    def _clip_range(self, view: AnomalyView) -> None:
        """Show the histogram from a robust low end (the 1st percentile minus a margin of a
        quarter of the range above it); say how many rows are below the shown range."""
        lo = view.view_low if view.view_low is not None else float(view.hist_edges[0])
        hi = view.view_high if view.view_high is not None else float(view.hist_edges[-1])
        below = view.n_below_view
        self.n_below_range = below
        self.hist.getPlotItem().setXRange(lo, hi, padding=0.02)
        self.range_note.setText(f"{below:,} rows below the shown range" if below else "")

    def _fill_flagged(self, view: AnomalyView) -> None:
        rows = view.flagged_rows[:300]
        shown = (rows, view.flagged_top[:300])
        if shown == getattr(self, "_flagged_shown", None):
            return  # the same rows (new axes or colours): 1,200 cells not made again
        self._flagged_shown = shown
        t = self.flagged
        t.setUpdatesEnabled(False)
        t.setRowCount(len(rows))
        tops = view.flagged_top or ("",) * len(rows)
        for r, ((index, row_id, ld, comp), top) in enumerate(zip(rows, tops, strict=False)):
            for c, text in enumerate((row_id, f"{ld:.5g}", str(comp + 1), top)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, index)
                t.setItem(r, c, item)
        t.setUpdatesEnabled(True)

    def _flagged_clicked(self, row: int, _col: int) -> None:
        item = self.flagged.item(row, 0)
        if item is not None:
            self.focusRequested.emit(int(item.data(Qt.ItemDataRole.UserRole)))

    def _flagged_explained(self, row: int, _col: int) -> None:
        item = self.flagged.item(row, 0)
        if item is not None:
            self.explainRequested.emit(int(item.data(Qt.ItemDataRole.UserRole)))

    # -- refit -----------------------------------------------------------------------------

    def _build_editor(self, name: str) -> None:
        while self.params_form.rowCount():
            self.params_form.removeRow(0)
        self.editors = {}
        if not name:
            return
        try:
            fields = self.controller.anomaly.refit_parameters(name)
            self.strategy_help.setText(self.controller.anomaly.refit_description(name))
        except Exception as exc:  # a broken plugin: say so, keep the panel usable
            self.strategy_help.setText(f"This strategy cannot be used: {exc}")
            return
        for field in fields:
            w = param_editor(field)
            self.params_form.addRow(field.label, w)
            self.editors[field.name] = (field, w)

    def params(self) -> dict[str, Any]:
        return {name: editor_value(f, w) for name, (f, w) in self.editors.items()}

    def run_refit(self) -> None:
        self.controller.anomaly.run_refit(self.strategy.currentText(), self.params())

    def _refit_started(self, name: str) -> None:
        self.refit_progress.setValue(0)
        self.refit_progress.setFormat(f"{name}: starting…")
        self.refit_result.setText("")

    def _refit_progress(self, info: ProgressView) -> None:
        self.refit_progress.setValue(int(1000 * info.fraction))
        self.refit_progress.setFormat(info.message[:80])

    def show_refit(self, view: RefitView) -> None:
        self.refit_progress.setValue(1000)
        self.refit_progress.setFormat("done: accept or keep the old model")
        info = ", ".join(f"{k} {v}" for k, v in view.info)
        self.refit_result.setText(
            f"<b>{view.strategy}</b>: flagged before {view.n_old:,}, after {view.n_new:,} "
            f"({view.n_both:,} in both). Old ellipses dashed grey, new solid blue.<br>"
            f"{view.description}" + (f"<br>{info}" if info else "")
        )
        h = self.history
        h.setRowCount(len(view.history))
        for r, (rnd, nflag, nchg, ll, note) in enumerate(view.history):
            for c, text in enumerate((str(rnd), str(nflag), str(nchg), f"{ll:.5g}", note)):
                h.setItem(r, c, QTableWidgetItem(text))
        h.resizeColumnsToContents()
        self.accept.setEnabled(True)
        self.keep.setEnabled(True)

    def _refit_closed(self, accepted: bool) -> None:
        self.accept.setEnabled(False)
        self.keep.setEnabled(False)
        self.refit_progress.setFormat("new model accepted" if accepted else "old model kept")

    def _busy(self, kind: str, busy: bool) -> None:
        if kind == "refit":
            self.refit_button.setEnabled(not busy)
            self.refit_cancel.setEnabled(busy)
            if not busy and self.refit_progress.format().endswith("starting…"):
                self.refit_progress.setFormat("cancelled: previous model kept")


class SelectionPanel(QWidget):
    """The selected rows: count, table, copy, export, manual labels."""

    exportRequested = Signal()

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QVBoxLayout(self)
        self.count = QLabel("Nothing selected. Use the lasso, rectangle or click tools; "
                            "Shift adds, Ctrl removes, Esc clears.")
        self.count.setWordWrap(True)
        layout.addWidget(self.count)
        self.model = PreviewModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        layout.addWidget(self.table, 1)
        row1 = QHBoxLayout()
        self.copy = QPushButton("Copy")
        self.export = QPushButton("Export selection…")
        self.clear = QPushButton("Clear selection")
        for b in (self.copy, self.export, self.clear):
            row1.addWidget(b)
        layout.addLayout(row1)
        row2 = QHBoxLayout()
        self.mark_outlier = QPushButton("Mark as outliers")
        self.mark_outlier.setToolTip("Left out of the next fit and refit; always flagged")
        self.mark_normal = QPushButton("Mark as normal")
        self.mark_normal.setToolTip("Never flagged")
        self.exclude = QPushButton("Exclude from fit")
        self.exclude.setToolTip("Left out of the next fit and refit; flagged by the threshold")
        self.unlabel = QPushButton("Clear labels")
        for b in (self.mark_outlier, self.mark_normal, self.exclude, self.unlabel):
            row2.addWidget(b)
        layout.addLayout(row2)
        self.labels = QLabel("")
        layout.addWidget(self.labels)
        self.copy.clicked.connect(self.copy_to_clipboard)
        self.export.clicked.connect(self.exportRequested.emit)
        sel = controller.selection
        self.clear.clicked.connect(sel.clear_selection)
        self.mark_outlier.clicked.connect(lambda: sel.mark_selection("outlier"))
        self.mark_normal.clicked.connect(lambda: sel.mark_selection("normal"))
        self.exclude.clicked.connect(lambda: sel.mark_selection("excluded"))
        self.unlabel.clicked.connect(lambda: sel.mark_selection(None))
        sel.selectionChanged.connect(self.show_selection)

    def show_selection(self, view: SelectionView) -> None:
        more = "" if view.n_selected <= len(view.rows) else \
            f" (the table shows the first {len(view.rows):,})"
        comp = "" if view.component is None else f" — component {view.component + 1}"
        self.count.setText(f"<b>{view.n_selected:,} rows selected</b>{comp}{more}")
        self.model.set_content(view.header, view.rows)
        self.table.resizeColumnsToContents()
        self.labels.setText(
            f"Manual labels: {view.n_outliers:,} outliers, {view.n_normal:,} normal, "
            f"{view.n_excluded:,} excluded from the fit (Ctrl+Z undoes)"
        )

    def copy_to_clipboard(self) -> None:
        QApplication.clipboard().setText(self.controller.selection.text())


class PluginsDialog(QDialog):
    """Every plugin: name, kind, origin, status, error, description; enable/disable."""

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Plugins")
        self.resize(900, 420)
        self.controller = controller
        layout = QVBoxLayout(self)
        self.table = _table(["name", "kind", "origin", "status", "error", "description"])
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.toggle = QPushButton("Disable")
        self.toggle.setEnabled(False)
        self.note = QLabel("Built-in plugins cannot be disabled.")
        self.note.setWordWrap(True)
        row.addWidget(self.toggle)
        row.addWidget(self.note, 1)
        layout.addLayout(row)
        self.rows: list[dict[str, Any]] = []
        self.table.itemSelectionChanged.connect(self._selected)
        self.toggle.clicked.connect(self._toggle)
        self.refresh()

    def refresh(self) -> None:
        self.rows = self.controller.plugin_rows()
        t = self.table
        t.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            for c, key in enumerate(("name", "kind", "origin", "status", "error",
                                     "description")):
                t.setItem(r, c, QTableWidgetItem(str(row.get(key) or "")))
        t.resizeColumnsToContents()

    def _current(self) -> dict[str, Any] | None:
        r = self.table.currentRow()
        return self.rows[r] if 0 <= r < len(self.rows) else None

    def _selected(self) -> None:
        row = self._current()
        builtin = row is None or row.get("origin") == "built-in"
        self.toggle.setEnabled(not builtin)
        if row is not None:
            self.toggle.setText("Enable" if row.get("status") == "disabled" else "Disable")

    def _toggle(self) -> None:
        row = self._current()
        if row is None:
            return
        try:
            msg = self.controller.set_plugin_enabled(row["kind"], row["name"],
                                                     row.get("status") == "disabled")
        except ValueError as exc:
            msg = str(exc)
        self.note.setText(msg)
        self.refresh()
