"""The main window: menus, docks, the scatter plot and its view controls."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTabBar,
    QTabWidget,
    QToolBar,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from gmm_desktop.controller import (
    AppController,
    ProgressView,
    ScatterView,
    needs_import_dialog,
)
from gmm_desktop.gui.analysis_panels import AnomalyPanel, PluginsDialog, SelectionPanel
from gmm_desktop.gui.bigdata import OpenBigDialog, SchedulerDialog
from gmm_desktop.gui.desktop import AboutDialog, ShortcutsDialog, app_icon, shortcut_rows
from gmm_desktop.gui.import_dialog import ImportDialog
from gmm_desktop.gui.numbers import NumberBox
from gmm_desktop.gui.panels import DatasetPanel, ModelPanel, ParametersView, SweepPanel
from gmm_desktop.gui.scatter import ScatterPlot
from gmm_desktop.gui.views import MixtureViews

DATA_FILTER = (
    "Data (*.csv *.tsv *.txt *.parquet *.xlsx *.xlsm *.xlsb *.xls *.ods *.npy *.npz);;All files (*)"
)
TABLE_FILTER = "CSV (*.csv);;Parquet (*.parquet);;Excel (*.xlsx);;All files (*)"
PLOT_FILTER = "PNG image (*.png);;SVG drawing (*.svg)"
SCRIPT_FILTER = "Python script (*.py)"
SESSION_FILTER = "gmm-desktop sessions (*.json);;All files (*)"
MODEL_FILTER = "gmm-desktop models (*.json);;All files (*)"
MAX_RECENT = 8
#: The version of the docks' layout in the settings (saveState/restoreState): raise it
#: when the docks change so that an old layout is ignored rather than restored broken.
LAYOUT_VERSION = 2
#: The narrowest the right-hand column of panels gets (its forms scroll below that).
SIDE_MIN_WIDTH = 300


def make_settings() -> QSettings:
    """The application's settings (``GMM_DESKTOP_SETTINGS_DIR`` redirects them, for tests)."""
    folder = os.environ.get("GMM_DESKTOP_SETTINGS_DIR")
    if folder:
        return QSettings(str(Path(folder) / "gmm-desktop.ini"), QSettings.Format.IniFormat)
    return QSettings("gmm-desktop", "gmm-desktop")


def ask_restore_dialog(parent: QWidget, path: Path) -> bool:
    answer = QMessageBox.question(
        parent,
        "Restore the previous session?",
        "gmm-desktop did not exit cleanly last time. Restore the session that was saved "
        f"automatically?\n\n{path}",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.Yes,
    )
    return answer == QMessageBox.StandardButton.Yes


class ViewControls(QToolBar):
    """Axis, colouring and ellipse choices above the plot (overflows on narrow windows)."""

    def __init__(self, controller: AppController, plot: ScatterPlot) -> None:
        super().__init__("View")
        self.setObjectName("ViewToolBar")
        self.controller = controller
        self.x_axis = QComboBox()
        self.y_axis = QComboBox()
        for box in (self.x_axis, self.y_axis):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            box.setMinimumContentsLength(8)
        self.pca = QCheckBox("Principal components")
        self.colour = QComboBox()
        self.colour.addItem("Colour by component", "component")
        self.colour.addItem("Colour by uncertainty", "uncertainty")
        self.ellipses = QComboBox()
        self.ellipses.addItem("Ellipses at 1, 2, 3 sd", "sigma")
        self.ellipses.addItem("Ellipse at probability mass", "mass")
        self.mass = NumberBox(minimum=0.01, maximum=0.999, value=0.95, step=0.01)
        self.mass.setEnabled(False)
        self.reset = QPushButton("Reset view")
        self.reset.setToolTip("Show all points (Ctrl+0)")
        self.tool = QComboBox()
        for key, text in (("pan", "Pan/zoom"), ("lasso", "Lasso select"),
                          ("rect", "Rectangle select"), ("click", "Click select")):
            self.tool.addItem(text, key)
        self.tool.setToolTip("Mouse tool: Shift adds to the selection, Ctrl removes, Esc clears")
        self.tool.currentIndexChanged.connect(lambda: plot.set_tool(self.tool.currentData()))
        for w in (QLabel(" X "), self.x_axis, QLabel(" Y "), self.y_axis, self.pca,
                  self.colour, self.ellipses, self.mass, self.reset, self.tool):
            self.addWidget(w)
        self._updating = False
        self.x_axis.currentTextChanged.connect(self._axes_changed)
        self.y_axis.currentTextChanged.connect(self._axes_changed)
        self.pca.toggled.connect(self._axes_changed)
        self.colour.currentIndexChanged.connect(
            lambda: self._apply(colour_by=self.colour.currentData())
        )
        self.ellipses.currentIndexChanged.connect(self._ellipses_changed)
        self.mass.valueChanged.connect(self._ellipses_changed)
        self.reset.clicked.connect(plot.reset_view)
        controller.featuresChanged.connect(self.sync)

    def sync(self, *_args: object) -> None:
        """Refill the axis lists from the controller's feature columns and settings."""
        self._updating = True
        try:
            cols = list(self.controller.feature_columns)
            v = self.controller.view_settings
            for box, current in ((self.x_axis, v.x_column), (self.y_axis, v.y_column)):
                box.clear()
                box.addItems(cols)
                if current in cols:
                    box.setCurrentText(current)
            self.pca.setChecked(v.axes == "pca")
            self.pca.setEnabled(len(cols) >= 2)
            self.x_axis.setEnabled(v.axes != "pca")
            self.y_axis.setEnabled(v.axes != "pca")
            self.colour.setCurrentIndex(max(0, self.colour.findData(v.colour_by)))
            self.ellipses.setCurrentIndex(max(0, self.ellipses.findData(v.ellipse_mode)))
            self.mass.setValue(v.mass)
            self.mass.setEnabled(v.ellipse_mode == "mass")
        finally:
            self._updating = False

    def _apply(self, **changes: object) -> None:
        if self._updating or not self.controller.has_data:
            return
        self.controller.set_view(**changes)

    def _axes_changed(self, *_args: object) -> None:
        pca = self.pca.isChecked()
        self.x_axis.setEnabled(not pca)
        self.y_axis.setEnabled(not pca)
        self._apply(
            axes="pca" if pca else "columns",
            x_column=self.x_axis.currentText() or None,
            y_column=self.y_axis.currentText() or None,
        )

    def _ellipses_changed(self, *_args: object) -> None:
        mode = self.ellipses.currentData()
        self.mass.setEnabled(mode == "mass")
        self._apply(ellipse_mode=mode, mass=float(self.mass.value()))


class MainWindow(QMainWindow):
    """gmm-desktop's main window."""

    def __init__(
        self,
        controller: AppController | None = None,
        *,
        ask_restore: Callable[[Path], bool] | None = None,
        settings: QSettings | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("MainWindow")
        self.setWindowTitle("gmm-desktop")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.controller = controller or AppController(self)
        self.settings = settings or make_settings()
        self._ask_restore = ask_restore or (lambda p: ask_restore_dialog(self, p))
        self.last_error: tuple[str, str] | None = None
        self.error_box: QMessageBox | None = None
        self.restore_offer: QMessageBox | None = None
        self.import_dialog: ImportDialog | None = None  # the last one shown (tests)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = ScatterPlot()
        self.view_controls = ViewControls(self.controller, self.plot)
        layout.addWidget(self.view_controls)
        layout.addWidget(self.plot, 1)
        self.setCentralWidget(central)

        # The plot is the window: every panel is a tab of one column on the right (forms
        # scroll rather than widen it), the parameters table sits under the tabs.
        self.dataset_panel = DatasetPanel(self.controller)
        self.model_panel = ModelPanel(self.controller)
        self.sweep_panel = SweepPanel(self.controller, self.model_panel)
        self.parameters = ParametersView(self.controller)
        self.anomaly_panel = AnomalyPanel(self.controller)
        self.selection_panel = SelectionPanel(self.controller)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setTabPosition(Qt.DockWidgetArea.RightDockWidgetArea, QTabWidget.TabPosition.North)
        self.dataset_dock = self._side_dock("Dataset", self.dataset_panel)
        self.parameters.setMinimumHeight(90)
        self.parameters_dock = self._dock("Parameters", self.parameters,
                                          Qt.DockWidgetArea.RightDockWidgetArea)
        # (split before the tabs exist: splitting a tabbed dock adds a tab instead)
        self.splitDockWidget(self.dataset_dock, self.parameters_dock,
                             Qt.Orientation.Vertical)
        self.model_dock = self._side_dock("Model", self.model_panel)
        self.sweep_dock = self._side_dock("Model selection", self.sweep_panel)
        self.anomaly_dock = self._side_dock("Anomalies", self.anomaly_panel)
        self.selection_dock = self._side_dock("Selection", self.selection_panel)
        self.model_dock.raise_()

        self.status_label = QLabel("")
        self.busy_bar = QProgressBar()
        self.busy_bar.setMaximumWidth(160)
        self.busy_bar.setRange(0, 1000)
        self.busy_bar.setVisible(False)
        self.statusBar().addPermanentWidget(self.busy_bar)
        self.statusBar().addPermanentWidget(self.status_label)

        self._build_mixture_dock()
        self._build_menus()
        self._connect()
        self._restore_window_state()

    # -- construction ----------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "") + "Dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_mixture_dock(self) -> None:
        """The "Mixture views" dock (scatter matrix, marginals, χ² Q–Q, uncertainty, why),
        under the plot, hidden until View ▸ Mixture views (Ctrl+M)."""
        self.mixture_views = MixtureViews(self.controller)
        self.mixture_dock = self._dock("Mixture views", self.mixture_views,
                                       Qt.DockWidgetArea.BottomDockWidgetArea)
        self.mixture_dock.hide()  # until asked for: a small window keeps its minimum size
        self.anomaly_panel.focusRequested.connect(self.mixture_views.inspect)
        self.anomaly_panel.explainRequested.connect(self.explain_row)
        self.mixture_dock.visibilityChanged.connect(self.mixture_views.shown_changed)
        self.mixture_views.window_button.clicked.connect(self.float_mixture_views)

    def float_mixture_views(self) -> None:
        """The views in a window of their own (the dock floats; double-click docks it)."""
        dock = self.mixture_dock
        dock.show()
        dock.setFloating(True)
        dock.resize(max(900, int(0.8 * self.width())), max(700, int(0.85 * self.height())))
        dock.raise_()

    def explain_row(self, index: int) -> None:
        """Why the plotted row ``index`` is (or is not) flagged: the "Why this row" view."""
        self.show_mixture_views("why")
        self.mixture_views.explain(index)

    def show_mixture_views(self, tab: str | None = None) -> MixtureViews:
        """Show and raise the mixture views (``tab``: matrix, marginals, qq, uncertainty,
        why)."""
        from gmm_desktop.gui.views.panel import TABS

        self.mixture_dock.show()
        self.mixture_dock.raise_()
        if not self.mixture_dock.isFloating():
            # docked at the bottom: give the views what room the other docks leave
            self.resizeDocks([self.mixture_dock], [int(0.5 * self.height())],
                             Qt.Orientation.Vertical)
        if tab is not None:
            self.mixture_views.tabs.setCurrentIndex(TABS.index(tab))
        return self.mixture_views

    def _side_dock(self, title: str, panel: QWidget) -> QDockWidget:
        """A panel as a tab of the right-hand column, in a scroll area (a long form
        scrolls instead of widening the column or squeezing its rows)."""
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(panel)
        scroll.setMinimumSize(SIDE_MIN_WIDTH, 120)
        dock = self._dock(title, scroll, Qt.DockWidgetArea.RightDockWidgetArea)
        dock.setMinimumWidth(SIDE_MIN_WIDTH)
        first = getattr(self, "_side_first", None)
        if first is None:
            self._side_first = dock
        else:
            self.tabifyDockWidget(first, dock)
        return dock

    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self.open_action = self._action(file, "&Open data…", self.open_dialog,
                                        QKeySequence.StandardKey.Open)
        self.open_big_action = self._action(
            file, "Open &big dataset…", self.open_big_dialog,
            tip="A Parquet file or folder, or CSV files, read in parts with Dask")
        self.recent_menu = file.addMenu("Open &recent")
        self.demo_menu = file.addMenu("&Demo datasets")
        try:
            demos = self.controller.demo_datasets()
        except Exception:
            demos = {}
        for name in sorted(demos):
            self._action(self.demo_menu, name, lambda _=False, n=name: self.controller.open_demo(n))
        self.demo_menu.setEnabled(bool(demos))
        file.addSeparator()
        self.open_session_action = self._action(file, "Open &session…", self.open_session_dialog,
                                                "Ctrl+Shift+O")
        self.save_session_action = self._action(file, "&Save session", self.save_session,
                                                QKeySequence.StandardKey.Save)
        self._action(file, "Save session &as…", self.save_session_as,
                     QKeySequence.StandardKey.SaveAs)
        file.addSeparator()
        self._action(file, "&Load model…", self.load_model_dialog)
        self._action(file, "Save &model…", self.save_model_dialog)
        file.addSeparator()
        self._action(file, "Export &flagged rows…", lambda: self.export_table_dialog(True))
        self._action(file, "Export all rows with their &flag…",
                     lambda: self.export_table_dialog(False))
        self._action(file, "Export &plot (PNG, SVG)…", self.export_plot_dialog)
        self.export_report_action = self._action(
            file, "Export &report (HTML)…", self.export_report_dialog,
            tip="One self-contained HTML file: data, model, plots, flagged rows and why, "
            "provenance")
        self.export_script_action = self._action(file, "Export as &script…",
                                                 self.export_script_dialog)
        self._action(file, "Save synthetic sa&mple…", self.sample_dialog)
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        model = bar.addMenu("&Model")
        self.fit_action = self._action(model, "&Fit", self.model_panel.fit, "Ctrl+R",
                                       "Fit the model in the background")
        self.cancel_action = self._action(model, "&Cancel", self.escape,
                                          "Esc", "Stop the running work, or clear the selection")
        self._action(model, "Run model &selection", self._run_sweep, "Ctrl+Shift+R")
        edit = bar.addMenu("&Edit")
        self.undo_action = self.controller.selection.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo_action = self.controller.selection.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addSeparator()
        self.select_flagged_action = self._action(edit, "Select &flagged rows",
                                                  self.controller.selection.select_flagged)
        self._action(edit, "&Clear selection", self.controller.selection.clear_selection)
        tools = bar.addMenu("&Tools")
        self._action(tools, "&Plugins…", self.show_plugins)
        self._action(tools, "&Big data (Dask)…", self.show_scheduler,
                     tip="The Dask scheduler for big datasets: threads, local or an address")
        view = bar.addMenu("&View")
        self._action(view, "&Reset view", self.plot.reset_view, "Ctrl+0")
        self.mixture_action = self._action(
            view, "&Mixture views", lambda: self.show_mixture_views(), "Ctrl+M",
            "Scatter matrix, marginal histograms, chi-square Q-Q plot, uncertainty")
        view.addSeparator()
        for dock in (self.dataset_dock, self.model_dock, self.sweep_dock, self.parameters_dock,
                     self.anomaly_dock, self.selection_dock, self.mixture_dock):
            view.addAction(dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        self.shortcuts_action = self._action(help_menu, "&Keyboard shortcuts",
                                             self.show_shortcuts, "F1")
        self.about_action = self._action(help_menu, "&About gmm-desktop", self.show_about)
        self._refresh_recent()

    def _connect(self) -> None:
        c = self.controller
        c.scatterChanged.connect(self.show_scatter)
        c.errorOccurred.connect(self.show_error)
        c.statusMessage.connect(self.show_status)
        c.busyChanged.connect(self._busy)
        c.loadProgress.connect(self._load_progress)
        c.fitProgress.connect(lambda info: self.busy_bar.setValue(int(1000 * info.fraction)))
        c.datasetChanged.connect(self._dataset_opened)
        c.modelChanged.connect(lambda s: self.model_panel.set_config(c.config) if s else None)
        c.sessions.sessionSaved.connect(lambda p: self._remember_folder(p))
        self.dataset_panel.demoRequested.connect(c.open_demo)
        self.plot.pointHovered.connect(self._hover)
        self.plot.selectionDrawn.connect(lambda idx, mode: c.selection.select_indices(idx, mode))
        c.anomaly.anomalyChanged.connect(self._show_anomaly)
        c.selection.selectionChanged.connect(self._show_selection)
        c.anomaly.refitFinished.connect(self._show_refit)
        c.anomaly.refitClosed.connect(self._refit_closed)
        self.plot.legendClicked.connect(self._legend_clicked)
        c.anomaly.exportFinished.connect(lambda p: self.show_status(f"Wrote {p}"))
        c.bigdata.bigDataChanged.connect(self._big_data_mode)
        a = self.anomaly_panel
        a.focusRequested.connect(self.plot.focus_point)
        a.exportRequested.connect(self.export_table_dialog)
        a.show_flags.toggled.connect(self._toggle_flags)
        a.show_contour.toggled.connect(self._toggle_contour)
        self.selection_panel.exportRequested.connect(self.export_selection_dialog)
        self.parameters.cellClicked.connect(lambda row, _col: c.selection.select_component(row))

    # -- slots -------------------------------------------------------------------------------

    def show_scatter(self, view: ScatterView | None) -> None:
        self.plot.set_view(view)
        if view is not None:
            self.view_controls.sync()

    def _show_anomaly(self, view) -> None:
        self.plot.set_flags(None if view is None else view.flags)
        if view is None:
            self.plot.set_contour([], [])
        else:
            self.plot.set_contour(view.contour_x, view.contour_y)

    def _show_selection(self, view) -> None:
        self.plot.set_selected(view.indices)
        self.plot.set_labels(dict(view.labelled))
        self.plot.highlight_component(view.component)

    def _show_refit(self, v) -> None:
        """Before/after: old ellipses dashed grey, new solid blue; the rows whose flag
        changes are marked (flagged only before: hollow grey; only after: solid blue)."""
        self.plot.set_comparison((v.old_ellipse_x, v.old_ellipse_y),
                                 (v.new_ellipse_x, v.new_ellipse_y))
        self.plot.set_flag_change(v.old_flags, v.new_flags)
        self.plot.reset_view()  # the comparison concerns every row: never panned away

    def _refit_closed(self, accepted: bool) -> None:
        self.plot.set_comparison(None, None)
        self.plot.set_flag_change(None, None)
        if accepted:
            self.plot.reset_view()

    def _legend_clicked(self, k: int) -> None:
        """A component's legend entry: select its rows and highlight its ellipses."""
        if not self.controller.capabilities.selection:  # no row selection: highlight only
            self.plot.highlight_component(k)
            return
        self.controller.selection.select_component(k)
        self.selection_dock.raise_()

    def _toggle_flags(self, on: bool) -> None:
        self.plot.show_flags = on
        self.plot._draw_flags()

    def _toggle_contour(self, on: bool) -> None:
        self.plot.show_contour = on
        self.plot.contour_item.setVisible(on)

    def escape(self) -> None:
        """Esc: stop running work; when nothing runs, clear the selection."""
        if self.controller.is_busy():
            self.controller.cancel()
        else:
            self.controller.selection.clear_selection()

    def show_scheduler(self) -> SchedulerDialog:
        dialog = SchedulerDialog(self.controller, self)
        dialog.open()
        self.scheduler_dialog = dialog
        return dialog

    def open_big_dialog(self) -> OpenBigDialog:
        dialog = OpenBigDialog(self.controller, self._last_folder(), self)
        dialog.open()
        self.open_big = dialog
        return dialog

    def _big_data_mode(self, on: bool) -> None:
        """Turn off what the run's backend cannot do, saying why (tooltips): the list is the
        core's declaration of capabilities, not the window's."""
        caps = self.controller.capabilities
        reason = f"Not available {caps.name}: {caps.reason}" if caps.reason else ""
        if not caps.selection:
            self.view_controls.tool.setCurrentIndex(self.view_controls.tool.findData("pan"))
        if not caps.component_range:
            self.model_panel.auto_k.setChecked(False)
        widgets = ((self.view_controls.tool, caps.selection),
                   (self.selection_panel, caps.selection and caps.labels),
                   (self.anomaly_panel.refit_box, caps.refit),
                   (self.model_panel.auto_k, caps.component_range),
                   (self.sweep_panel.run_button, caps.sweep))
        for w, allowed in widgets:
            w.setEnabled(allowed)
            w.setToolTip("" if allowed else reason)
        for action, allowed in ((self.select_flagged_action, caps.selection),
                                (self.export_script_action, not on)):
            action.setEnabled(allowed)
            action.setToolTip(action.text().replace("&", "") if allowed else reason)
        self.selection_dock.setToolTip("" if caps.selection else reason)
        if on:
            self.show_status(f"Big-data mode: the selection, labels, refits and model "
                             f"selection are off ({caps.reason})")

    def show_about(self) -> AboutDialog:
        """Help ▸ About: version, licence, data credits."""
        dialog = AboutDialog(self)
        dialog.open()
        self.about_dialog = dialog
        return dialog

    def show_shortcuts(self) -> ShortcutsDialog:
        """Help ▸ Keyboard shortcuts: the list is read from the actions themselves."""
        extra = [a for a in self.actions() if a.menu() is None]
        dialog = ShortcutsDialog(shortcut_rows(self.menuBar(), extra), self)
        dialog.open()
        self.shortcuts_dialog = dialog
        return dialog

    def show_plugins(self) -> PluginsDialog:
        dialog = PluginsDialog(self.controller, self)
        dialog.open()
        self.plugins_dialog = dialog
        return dialog

    # -- exports -------------------------------------------------------------------------------

    def _save_name(self, title: str, name: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path(self._last_folder()) / name),
                                              filters)
        if path:
            self._remember_folder(path)
        return path

    def export_table_dialog(self, only_flagged: bool = True) -> None:
        if self.controller.bigdata.active:  # every row, as a Parquet dataset folder
            path = self._save_name(
                "Export flagged rows (Parquet folder)" if only_flagged
                else "Export all rows (Parquet folder)",
                "flagged" if only_flagged else "scored", "Parquet dataset folder (*)")
            if path:
                self.controller.anomaly.export_flagged(path, only_flagged=only_flagged)
            return
        path = self._save_name("Export flagged rows" if only_flagged else "Export all rows",
                               "flagged.csv" if only_flagged else "scored.csv", TABLE_FILTER)
        if path:
            self.controller.anomaly.export_flagged(path, only_flagged=only_flagged)

    def export_selection_dialog(self) -> None:
        path = self._save_name("Export selection", "selection.csv", TABLE_FILTER)
        if path:
            self.controller.anomaly.export_selection(path)

    def export_plot(self, path: str | Path, width: int | None = None) -> Path:
        """Write the scatter plot as PNG or SVG (by extension), atomically.

        ``width`` in pixels (PNG; the height follows the on-screen aspect), else the size
        on screen.
        """
        import pyqtgraph.exporters as exporters

        from gmm_desktop.fileio import atomic_write

        path = Path(path)
        item = self.plot.getPlotItem()
        svg = path.suffix.lower() == ".svg"
        if svg:  # Qt's SVG generator (pyqtgraph's SVG writer trips over some paths)
            from PySide6.QtGui import QPainter
            from PySide6.QtSvg import QSvgGenerator

            with atomic_write(path) as tmp:
                gen = QSvgGenerator()
                gen.setFileName(str(tmp))
                gen.setSize(self.plot.size())
                gen.setViewBox(self.plot.rect())
                gen.setTitle("gmm-desktop scatter plot")
                painter = QPainter(gen)
                try:
                    self.plot.render(painter)
                finally:
                    painter.end()
            return path
        exporter = exporters.ImageExporter(item)
        if width:
            exporter.parameters()["width"] = int(width)
        # pyqtgraph's SVG writer cannot parse empty paths: hide the empty overlays meanwhile
        hidden = []
        for it in (self.plot.old_ellipses, self.plot.new_ellipses, self.plot.contour_item,
                   self.plot.path_item):
            x, _ = it.getData()
            if it.isVisible() and (x is None or len(x) == 0):
                it.setVisible(False)
                hidden.append(it)
        try:
            with atomic_write(path) as tmp:
                target = Path(tmp).with_suffix(path.suffix)
                exporter.export(str(target))
                if target != Path(tmp):
                    os.replace(target, tmp)
        finally:
            for it in hidden:
                it.setVisible(True)
        return path

    def export_report_dialog(self) -> None:
        path = self._save_name("Export report", "report.html", "HTML report (*.html)")
        if path:
            self.controller.anomaly.export_report(path)

    def export_plot_dialog(self) -> None:
        path = self._save_name("Export plot", "scatter.png", PLOT_FILTER)
        if not path:
            return
        try:
            self.export_plot(path)
        except (OSError, ValueError) as exc:
            self.show_error("Cannot export the plot", f"{path}: {exc}")
            return
        self.show_status(f"Wrote {path}")

    def export_script(self, path: str | Path) -> str:
        """Write the reproduction script; show and return the equivalent command line."""
        cli = self.controller.anomaly.export_script(path,
                                                    output=str(Path(path).with_suffix(".csv")))
        self.last_command_line = cli
        return cli

    def export_script_dialog(self) -> None:
        path = self._save_name("Export as script", "reproduce.py", SCRIPT_FILTER)
        if not path:
            return
        try:
            cli = self.export_script(path)
        except (OSError, ValueError) as exc:
            self.show_error("Cannot export the script", str(exc))
            return
        box = QMessageBox(self)
        box.setWindowTitle("Script written")
        box.setText(f"Wrote {path}. The same detection on the command line:")
        box.setDetailedText(cli)
        box.setInformativeText(cli)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()

    def sample_dialog(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        n, ok = QInputDialog.getInt(self, "Synthetic sample", "Rows to draw from the model:",
                                    1000, 1, 100_000_000)
        if not ok:
            return
        path = self._save_name("Save synthetic sample", "synthetic.csv", TABLE_FILTER)
        if path:
            self.controller.anomaly.save_sample(path, n, seed=0)

    def show_error(self, title: str, message: str) -> None:
        """Errors from the data layer or the engine: a dialog and the status bar."""
        self.last_error = (title, message)
        self.statusBar().showMessage(f"{title}: {message}", 15000)
        if self.error_box is None:
            self.error_box = QMessageBox(self)
            self.error_box.setIcon(QMessageBox.Icon.Warning)
        self.error_box.setWindowTitle(title)
        self.error_box.setText(message)
        self.error_box.open()  # window-modal, never blocks the event loop

    def show_status(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)

    def _busy(self, kind: str, busy: bool) -> None:
        # (a view being built for new axes or colours is not work to report: it takes
        # a fraction of a second and the plot follows)
        running = sorted(k for k in ("load", "fit", "sweep", "derive", "refit", "export",
                                     "threshold", "score", "prepare", "restore")
                         if self.controller.is_busy(k))
        self.busy_bar.setVisible(bool(running))
        if busy:
            self.busy_bar.setValue(0)
        self.status_label.setText(", ".join(running) + " running" if running else "")

    def _load_progress(self, info: ProgressView) -> None:
        self.busy_bar.setValue(int(1000 * info.fraction))
        self.statusBar().showMessage(info.message, 2000)

    def _dataset_opened(self, view) -> None:
        if view is None:
            return
        self.setWindowTitle(f"{view.name} — gmm-desktop")
        self.add_recent(view.path)

    def _hover(self, index: int) -> None:
        if index < 0:
            self.plot.hover_text = ""
            QToolTip.hideText()
            return
        info = self.controller.point_info(index)
        if info is None:
            return
        text = info.to_text()
        self.plot.hover_text = text
        self.statusBar().showMessage(text.replace("\n", "; "), 5000)
        from PySide6.QtGui import QCursor

        QToolTip.showText(QCursor.pos(), text, self.plot)

    def _run_sweep(self) -> None:
        self.sweep_dock.raise_()
        self.sweep_panel.run()

    # -- files -------------------------------------------------------------------------------

    def _last_folder(self) -> str:
        return str(self.settings.value("lastFolder", str(Path.home())))

    def _remember_folder(self, path: str) -> None:
        try:
            folder = Path(path).expanduser().resolve().parent
        except (RuntimeError, OSError):  # a loop of symbolic links: the loader will say so
            folder = Path(path).expanduser().absolute().parent
        self.settings.setValue("lastFolder", str(folder))

    def open_path(self, path: str | Path) -> None:
        """Open a data file, or a session if it is a session JSON file."""
        path = Path(path)
        self._remember_folder(str(path))
        if path.suffix.lower() == ".json":
            self.controller.sessions.open(path)
        else:
            self.controller.open_file(path)

    def import_path(self, path: str | Path) -> None:
        """Open a file the user picked in the window (File ▸ Open, the recent files, drag
        and drop): a CSV/TSV/TXT file, a spreadsheet or an .npz archive of several arrays
        through the import dialog (how it is read, which sheet, with a preview), started
        from the options remembered for that file; a session as a session; anything else
        at once. (``open_path`` opens without the dialog: the command line's FILE.)"""
        path = Path(path)
        if path.suffix.lower() == ".json" or not needs_import_dialog(path):
            self.open_path(path)
            return
        self._remember_folder(str(path))
        start = self.controller.import_start(path)
        dialog = ImportDialog(path, self, read=start.read if start else None,
                              id_column=start.id_column if start else None,
                              sheet=start.sheet if start else None,
                              remembered=start.when if start else "")
        self.import_dialog = dialog

        def accepted() -> None:
            self.controller.open_imported(path, read=dialog.options(),
                                          id_column=dialog.chosen_id_column(),
                                          sheet=dialog.chosen_sheet())

        dialog.accepted.connect(accepted)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open data", self._last_folder(), DATA_FILTER)
        if path:
            self.import_path(path)

    def open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", self._last_folder(),
                                              SESSION_FILTER)
        if path:
            self._remember_folder(path)
            self.controller.sessions.open(path)

    def save_session(self) -> None:
        path = self.controller.sessions.path
        if path:
            self.controller.sessions.save(path)
        else:
            self.save_session_as()

    def save_session_as(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save session", str(Path(self._last_folder()) / "session.json"), SESSION_FILTER
        )
        if path:
            self.controller.sessions.save(path)

    def load_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load model", self._last_folder(), MODEL_FILTER)
        if path:
            self._remember_folder(path)
            self.controller.load_model(path)

    def save_model_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save model", str(Path(self._last_folder()) / "model.json"), MODEL_FILTER
        )
        if path:
            self._remember_folder(path)
            self.controller.save_model(path)

    def recent_files(self) -> list[str]:
        value = self.settings.value("recentFiles", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: str) -> None:
        path = str(Path(path).resolve())
        files = [p for p in self.recent_files() if p != path]
        files.insert(0, path)
        self.settings.setValue("recentFiles", files[:MAX_RECENT])
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for p in files:
            self._action(self.recent_menu, p, lambda _=False, f=p: self.import_path(f))
        self.recent_menu.setEnabled(bool(files))

    # -- drag and drop ----------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.import_path(files[0])

    # -- window state -------------------------------------------------------------------------

    def _dock_set(self) -> str:
        """The docks this window has (a saved layout of another set is not restored)."""
        return ",".join(sorted(d.objectName() for d in self.findChildren(QDockWidget)))

    def _restore_window_state(self) -> None:
        """The remembered size and docks; a layout saved by a version of the window with
        other docks (or none) is ignored, and the default layout is used."""
        geometry = self.settings.value("geometry")
        state = self.settings.value("windowState")
        if isinstance(geometry, QByteArray | bytes) and geometry:
            self.restoreGeometry(QByteArray(geometry))
        else:
            self.resize(1280, 820)
        for bar in self.findChildren(QTabBar):  # whole tab titles (they scroll if need be)
            bar.setElideMode(Qt.TextElideMode.ElideNone)
            bar.setUsesScrollButtons(True)
        restored = False
        if (isinstance(state, QByteArray | bytes) and state
                and str(self.settings.value("windowStateDocks", "")) == self._dock_set()):
            restored = self.restoreState(QByteArray(state), LAYOUT_VERSION)
        if not restored:
            self.default_layout()

    def default_layout(self) -> None:
        """The right-hand column as wide as its tab titles (at most 36 % of the window and
        480 px, at least SIDE_MIN_WIDTH), the parameters table a few rows high: the plot
        gets the rest."""
        tabs = max((bar.sizeHint().width() for bar in self.findChildren(QTabBar)), default=0)
        want = max(tabs + 12, 0.28 * self.width())
        width = int(min(want, 480, max(SIDE_MIN_WIDTH + 20, 0.36 * self.width())))
        self.resizeDocks([self.model_dock], [width], Qt.Orientation.Horizontal)
        # (on a small screen the parameters table gets a header and two rows: the
        # panels above, the flagged rows first, need the height more)
        params = 150 if self.height() >= 900 else 105
        self.resizeDocks([self.model_dock, self.parameters_dock],
                         [max(300, self.height() - 80 - params), params],
                         Qt.Orientation.Vertical)

    def save_window_state(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("windowState", self.saveState(LAYOUT_VERSION))
        self.settings.setValue("windowStateDocks", self._dock_set())
        self.settings.sync()

    def offer_restore(self, *, asked: bool = False) -> bool:
        """At start: arm the crash guard; offer the autosave of an unclean exit, if any.

        ``asked``: a file or a demo was asked for on the command line. It is opened, and the
        old autosave is set aside and offered afterwards, as a non-modal choice
        (:attr:`restore_offer`) that never replaces what was asked for unless the analyst
        says so. Without ``asked``: the question is put at once (``ask_restore``).
        """
        sessions = self.controller.sessions
        found = sessions.start_crash_guard()
        if found is None or sessions.guard is None:
            return False
        if asked:
            try:
                kept = sessions.guard.set_aside(found)
            except OSError as exc:
                self.show_status(f"The autosave of the last session could not be kept: {exc}")
                return False
            self.restore_offer = self._restore_offer(kept)
            return False
        guard = sessions.guard
        guard.asking = True  # an exit while asking (Ctrl+C) keeps it for the next start
        try:
            answer = self._ask_restore(found)
        finally:
            guard.asking = False
        if getattr(self, "interrupted_by", None) is not None:  # Ctrl+C while asking
            if found.exists():
                guard.set_aside(found)
            return False
        if answer:
            restored = sessions.restore_autosave(found)
            if restored and found == guard.recovered:
                guard.discard_recovered()
            return restored
        if found == guard.recovered:
            guard.discard_recovered()
        else:
            guard.discard_autosave()
        return False

    def _restore_offer(self, path: Path) -> QMessageBox:
        """The non-modal offer of a set-aside autosave (see :meth:`offer_restore`)."""
        sessions = self.controller.sessions
        box = QMessageBox(self)
        box.setObjectName("restore_offer")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Restore the previous session?")
        box.setText("gmm-desktop did not exit cleanly last time. What you asked for is being "
                    "opened; the session saved automatically before is kept.")
        box.setInformativeText("Restore it instead (it replaces what is open now), or "
                               f"discard it?\n\n{path}")
        restore = box.addButton("Restore the previous session",
                                QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Discard it", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Decide later", QMessageBox.ButtonRole.RejectRole)  # kept till then
        box.setWindowModality(Qt.WindowModality.NonModal)

        def decided(button) -> None:
            role = box.buttonRole(button)
            if button is restore:
                if sessions.restore_autosave(path) and sessions.guard is not None:
                    sessions.guard.discard_recovered()
            elif role == QMessageBox.ButtonRole.DestructiveRole and sessions.guard is not None:
                sessions.guard.discard_recovered()
            # "Decide later": kept, and offered again at the next start

        box.buttonClicked.connect(decided)
        box.show()
        return box

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_window_state()
        self.controller.shutdown()
        super().closeEvent(event)


def schedule(fn: Callable[[], object], msecs: int = 0) -> None:
    QTimer.singleShot(msecs, fn)
