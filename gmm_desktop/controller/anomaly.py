"""The anomaly part of the controller: threshold and flags, refit, exports, the script.

The rules (the contamination cut-off, the gates, the small-component rule, the refit's
own rule after it is accepted) are the core's; this part turns the run's detection into
the panel's and the plot's views, and runs the slow steps in workers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from gmm_desktop.controller import messages as msg
from gmm_desktop.controller import plotting
from gmm_desktop.controller.views import AnomalyView, ParamField, RefitView, WhyView
from gmm_desktop.core import RefitProposal, ThresholdSpec
from gmm_desktop.errors import GmmDesktopError
from gmm_desktop.registry import get_registry

if TYPE_CHECKING:
    from gmm_desktop.controller.app_controller import AppController


class AnomalyController(QObject):
    """Threshold, flags, refit strategies and exports (see the module docstring)."""

    anomalyChanged = Signal(object)  # AnomalyView | None
    refitStarted = Signal(str)
    refitProgress = Signal(object)  # ProgressView
    refitFinished = Signal(object)  # RefitView (pending: accept or keep the old model)
    refitClosed = Signal(bool)  # accepted?
    exportFinished = Signal(str)  # path written

    def __init__(self, app: AppController) -> None:
        super().__init__(app)
        self.app = app
        self._view: AnomalyView | None = None
        self._grid: plotting.DensityGrid | None = None
        self._refit_view: RefitView | None = None
        self._table: tuple[tuple[Any, ...], Any] | None = None  # flagged rows of a detection

    @property
    def run(self) -> Any:
        return self.app.run

    @property
    def view(self) -> AnomalyView | None:
        return self._view

    @property
    def threshold_spec(self) -> ThresholdSpec:
        return self.run.spec

    # ------------------------------------------------------------------ hooks

    def reset(self) -> None:
        """New data or a new model: the pending refit and the contour grid go."""
        if self.run.pending is not None:
            self.run.reject_refit()
        if self._refit_view is not None:
            self._refit_view = None
            self.refitClosed.emit(False)
        self._grid = None

    def model_changed(self) -> None:
        self._grid = None
        if self._refit_view is not None and self.run.pending is None:
            self._refit_view = None
            self.refitClosed.emit(False)

    # ------------------------------------------------------------------ threshold

    def set_threshold(self, kind: str, value: float,
                      small_component_share: float | None = None) -> bool:
        """Set the analyst's threshold; flags and counts follow at once (out of core the
        exact count over every row follows when the line rests)."""
        try:
            spec = ThresholdSpec(kind, float(value), small_component_share)
        except ValueError as exc:
            self.app.errorOccurred.emit("Bad threshold", str(exc))
            return False
        if spec == self.run.spec and not self.run.pinned:
            return True
        self.run.set_threshold(spec)
        self.app.sessions.mark_dirty()
        self.refresh()
        self.app.bigdata.threshold_changed()
        return True

    def drag_threshold(self, cutoff: float) -> AnomalyView | None:
        """The threshold line moved to log-density ``cutoff`` (a fast update)."""
        ok = self.set_threshold("log_density", cutoff, self.run.spec.small_component_share)
        return self._view if ok else None

    def refresh(self, grid: plotting.DensityGrid | None = None) -> None:
        """Rebuild the anomaly view from the run's detection (and the contour; ``grid``: a
        density grid a worker made for the current model and plot, if any)."""
        run, app = self.run, self.app
        scored, det, prepared = app.shown_scored(), run.detection, run.prepared
        if scored is None or det is None or prepared is None:
            self._view = None
            self.anomalyChanged.emit(None)
            return
        scatter, geom = app.scatter, app.geometry
        if grid is not None:
            self._grid = grid
        grid = None
        if scatter is not None and geom is not None and scatter.n_points:
            key = plotting.grid_key(scored.model, scatter)
            if self._grid is None or self._grid.key != key:
                self._grid = plotting.density_grid(prepared, geom, scatter.settings,
                                                   scored.model, scatter)
            grid = self._grid
        key = (det, scored, prepared)  # (the objects themselves: a new one is new)
        if self._table is None or any(a is not b for a, b in zip(self._table[0], key,
                                                                  strict=True)):
            self._table = (key, plotting.flagged_table(prepared, scored, det))
        self._view = plotting.anomaly_view(prepared, scored, det, grid,
                                           busy_counting=app.is_busy("threshold"),
                                           labels=run.labels, table=self._table[1])
        self.anomalyChanged.emit(self._view)
        if self._refit_view is not None and run.pending is not None and geom is not None:
            self._refit_view = plotting.refit_view(prepared, geom, app.view_settings,
                                                   run.pending, run.bundle.model)
            self.refitFinished.emit(self._refit_view)

    def why(self, index: int) -> WhyView | None:
        """Why the plotted row ``index`` is (or is not) flagged, feature by feature."""
        scored, prepared = self.app.shown_scored(), self.run.prepared
        if scored is None or prepared is None:
            return None
        return plotting.why_view(prepared, scored, self.run.detection, index)

    # ------------------------------------------------------------------ refit

    @staticmethod
    def refit_strategies() -> list[str]:
        return get_registry().names("refit")

    @staticmethod
    def refit_parameters(name: str) -> tuple[ParamField, ...]:
        """The strategy's declared parameters (its ParamSpec), for a generic editor."""
        cls: Any = get_registry().get_class("refit", name)
        return tuple(
            ParamField(name=p.name, type=p.type, default=p.default, help=p.help,
                       minimum=p.minimum, maximum=p.maximum, choices=tuple(p.choices or ()),
                       label=p.label or p.name.replace("_", " "))
            for p in cls.parameters
        )

    @staticmethod
    def refit_description(name: str) -> str:
        return str(getattr(get_registry().get_class("refit", name), "description", ""))

    def run_refit(self, name: str, params: dict[str, Any]) -> bool:
        """Run a refit strategy on the current model in the background (labels honoured)."""
        if self.app.shown_scored() is None:
            self.app.errorOccurred.emit("Cannot refit", "Fit a model on the current data first.")
            return False
        job = self.app._job(lambda: self.run.refit_job(name, params), "Cannot refit")
        if job is None:
            return False

        def success(proposal: RefitProposal) -> None:
            if not self.run.adopt_refit(proposal):
                self.app.statusMessage.emit(msg.STALE_MODEL)
                return
            geom = self.app.geometry
            prepared = self.run.prepared
            if geom is None or prepared is None:
                return
            self._refit_view = plotting.refit_view(prepared, geom, self.app.view_settings,
                                                   proposal, self.run.bundle.model)
            self.refitFinished.emit(self._refit_view)

        started = self.app.start_job(job, success, on_progress=self.refitProgress.emit)
        if started:
            self.refitStarted.emit(name)
        return started

    @property
    def refit_pending(self) -> bool:
        return self.run.pending is not None

    def accept_refit(self) -> bool:
        """Make the pending refit's model current: its own rule gives the flags."""
        if self.run.pending is None:
            return False
        strategy = self.run.pending.record.strategy
        detection = self.run.accept_refit()
        self._refit_view = None
        self._grid = None
        self.refitClosed.emit(True)
        self.app.modelChanged.emit(self.app.model_summary())
        self.app.refresh()
        self.app.statusMessage.emit(
            f"Refit {strategy} accepted: {detection.n_flagged} rows flagged.")
        self.app.sessions.autosave()
        return True

    def reject_refit(self) -> None:
        if self.run.pending is not None:
            self.run.reject_refit()
            self._refit_view = None
            self.refitClosed.emit(False)
            self.app.statusMessage.emit(msg.REFIT_KEPT)

    # ------------------------------------------------------------------ exports

    def _export(self, make: Any) -> bool:
        job = self.app._job(make, msg.TASK_FAILED["export"])
        if job is None:
            return False

        def success(path: Path) -> None:
            self.app.statusMessage.emit(f"Wrote {path}")
            self.exportFinished.emit(str(path))

        return self.app.start_job(job, success, on_progress=self.app.loadProgress.emit)

    def export_flagged(self, path: str | os.PathLike[str], *, only_flagged: bool = True) -> bool:
        """Write the flagged rows (or every row with its flag) in the background, atomically,
        with the JSON provenance sidecar (out of core: a Parquet folder of every row)."""
        if self.run.detection is None:
            self.app.errorOccurred.emit("Cannot export", msg.NO_MODEL)
            return False
        return self._export(lambda: self.run.export_job(path, only_flagged=only_flagged))

    def export_selection(self, path: str | os.PathLike[str]) -> bool:
        """Write the selected rows (original columns and their scores) atomically."""
        return self._export(lambda: self.run.export_selection_job(path))

    def export_report(self, path: str | os.PathLike[str]) -> bool:
        """Write the run's self-contained HTML report in the background (atomically)."""
        if self.run.detection is None:
            self.app.errorOccurred.emit("Cannot write the report", msg.NO_MODEL)
            return False
        return self._export(lambda: self.run.report_job(path))

    def save_sample(self, path: str | os.PathLike[str], n: int, seed: int | None = 0) -> bool:
        """Draw ``n`` synthetic rows from the current model (data units) and save them."""
        bundle = self.run.bundle
        if bundle is None:
            self.app.errorOccurred.emit("Cannot draw a sample", "Fit a model first.")
            return False
        from gmm_desktop.core import Job
        from gmm_desktop.core.steps import check_output, write_sample

        try:
            if self.run.loaded is not None:
                check_output(path, [self.run.loaded.source.path])
        except (GmmDesktopError, ValueError) as exc:
            self.app.errorOccurred.emit("Cannot draw a sample", str(exc))
            return False
        return self._export(lambda: Job("export", lambda _p: write_sample(
            bundle, int(n), path, seed=seed)))

    # ------------------------------------------------------------------ reproduction

    def reproduction(self, output: str = "flagged.csv") -> tuple[str, str, list[str]]:
        """``(script, command line, what the command line cannot express)``; raises
        ``ValueError`` with the reason when one detect run cannot repeat the analysis."""
        if self.run.bundle is None:
            raise ValueError(msg.NOT_REPRODUCIBLE)
        cli, gaps = self.run.cli_command(output)
        return self.run.script_text(output), cli, gaps

    def export_script(self, path: str | os.PathLike[str], output: str = "flagged.csv") -> str:
        """Write the reproduction script atomically; returns the equivalent command line."""
        from gmm_desktop.fileio import atomic_write_text

        script, cli, gaps = self.reproduction(output)
        atomic_write_text(path, script)
        return cli + ("" if not gaps else "\n# not expressible on the command line: "
                      + "; ".join(gaps))
