"""The mixture-views part of the controller: the scatter matrix, the marginals, the χ² Q–Q
plot, the uncertainty view and the row inspection, built on demand from the run's state
(the builders are the pure functions of :mod:`.mixture_views`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from gmm_desktop.controller import geometry
from gmm_desktop.controller import mixture_views as mv

if TYPE_CHECKING:
    from gmm_desktop.controller.app_controller import AppController


class MixtureController(QObject):
    """Views of the current mixture (see the module docstring).

    ``changed`` fires when what they show is stale: new features, a new model, new view
    settings (``scatterChanged``); ``flagsChanged`` when only the flags moved (a threshold).
    Views are built only when the window asks (a hidden view costs nothing): at once with
    :meth:`matrix` and its siblings, or in a worker with :meth:`request` (``viewReady``
    follows in the GUI thread; a result overtaken by a newer request is dropped).
    """

    changed = Signal()
    flagsChanged = Signal()
    viewReady = Signal(str, object)  # kind, view (None: nothing to show)

    def __init__(self, app: AppController) -> None:
        super().__init__(app)
        self.app = app
        self._tickets: dict[str, int] = {}
        app.scatterChanged.connect(lambda _v: self.changed.emit())
        app.anomaly.anomalyChanged.connect(lambda _v: self.flagsChanged.emit())

    # ------------------------------------------------------------------ in a worker

    def request(self, kind: str, columns: Sequence[str] | None = None) -> int:
        """Build view ``kind`` (matrix, marginals, qq, uncertainty) in a worker from the
        run's current (immutable) state; returns the request's ticket."""
        ticket = self._tickets.get(kind, 0) + 1
        self._tickets[kind] = ticket
        build = self._builder(kind, columns)

        def success(view: Any) -> None:
            if self._tickets.get(kind) == ticket:
                self.viewReady.emit(kind, view)

        def failure(failure: Any) -> None:
            if self._tickets.get(kind) == ticket:
                self.app.statusMessage.emit(f"The {kind} view could not be drawn: "
                                            f"{failure.message}")
                self.viewReady.emit(kind, None)

        self.app.runner.start(f"{kind} view", lambda _state: build(), on_success=success,
                              on_failure=failure)
        return ticket

    def latest(self, kind: str) -> int:
        return self._tickets.get(kind, 0)

    def _builder(self, kind: str, columns: Sequence[str] | None) -> Any:
        """A function of no arguments that builds ``kind`` from a snapshot taken now."""
        state = self._state()
        if state is None:
            return lambda: None
        prepared, geom, scored, detection = state
        if kind == "matrix":
            radii, labels = self._matrix_radii(columns)
            cols = tuple(columns or self.default_matrix_columns())

            def matrix() -> Any:
                view = mv.matrix_view(prepared, geom, scored, detection, cols, radii=radii,
                                      ellipse_labels=labels)
                return view, mv.marginals_view(prepared, geom, scored, detection,
                                               view.columns)

            return matrix
        if kind == "marginals":
            return lambda: mv.marginals_view(prepared, geom, scored, detection, columns)
        if scored is None:
            return lambda: None
        if kind == "qq":
            return lambda: mv.qq_view(prepared, scored, detection)
        if kind == "uncertainty":
            return lambda: mv.uncertainty_view(prepared, scored, detection)
        raise ValueError(f"unknown view {kind!r}")

    def _matrix_radii(self, columns: Sequence[str] | None
                      ) -> tuple[tuple[float, ...], tuple[str, ...]]:
        radii, labels = self.ellipse_radii()
        n = len(tuple(columns or self.default_matrix_columns()))
        if n > 4 and len(radii) > 1:  # small panels: the outermost level only
            radii, labels = radii[-1:], labels[-1:]
        return radii, labels

    # ------------------------------------------------------------------ state

    def _state(self) -> tuple[Any, Any, Any, Any] | None:
        run = self.app.run
        prepared, geom = run.prepared, self.app.geometry
        if prepared is None or geom is None or geom.generation != prepared.generation:
            return None
        scored = self.app.shown_scored()
        detection = run.detection if scored is not None else None
        return prepared, geom, scored, detection

    @property
    def available(self) -> bool:
        return self._state() is not None

    @property
    def has_model(self) -> bool:
        state = self._state()
        return state is not None and state[2] is not None

    @property
    def columns(self) -> tuple[str, ...]:
        return self.app.feature_columns

    def default_matrix_columns(self) -> tuple[str, ...]:
        """The main plot's two features first, then the next ones in order."""
        cols = self.columns
        v = self.app.view_settings
        first = [c for c in (v.x_column, v.y_column) if c in cols]
        rest = [c for c in cols if c not in first]
        return tuple((first + rest)[: mv.MATRIX_DEFAULT_FEATURES])

    def ellipse_radii(self) -> tuple[tuple[float, ...], tuple[str, ...]]:
        """The main plot's ellipse levels (sd levels, or the radius of a probability mass)."""
        v = self.app.view_settings
        if v.ellipse_mode == "mass":
            return (geometry.radius_for_mass(v.mass),), (f"{100 * v.mass:g}% mass",)
        return tuple(v.sigma_levels), tuple(f"{r:g} sd" for r in v.sigma_levels)

    # ------------------------------------------------------------------ views

    def matrix(self, columns: Sequence[str] | None = None,
               max_points: int = mv.MATRIX_POINTS) -> mv.MatrixView | None:
        state = self._state()
        if state is None:
            return None
        prepared, geom, scored, detection = state
        radii, labels = self._matrix_radii(columns)
        columns = tuple(columns or self.default_matrix_columns())
        return mv.matrix_view(prepared, geom, scored, detection, columns, radii=radii,
                              ellipse_labels=labels, max_points=max_points)

    def marginals(self, columns: Sequence[str] | None = None) -> mv.MarginalsView | None:
        state = self._state()
        if state is None:
            return None
        prepared, geom, scored, detection = state
        return mv.marginals_view(prepared, geom, scored, detection, columns)

    def qq(self) -> mv.QQView | None:
        state = self._state()
        if state is None or state[2] is None:
            return None
        prepared, _geom, scored, detection = state
        return mv.qq_view(prepared, scored, detection)

    def uncertainty(self) -> mv.UncertaintyView | None:
        state = self._state()
        if state is None or state[2] is None:
            return None
        prepared, _geom, scored, detection = state
        return mv.uncertainty_view(prepared, scored, detection)

    def inspect(self, position: int, columns: Sequence[str]) -> mv.RowInspection | None:
        """Why the row at ``position`` is flagged or not (``None``: no model, bad row)."""
        state = self._state()
        if state is None or state[2] is None:
            return None
        prepared, _geom, scored, detection = state
        if not 0 <= position < prepared.n_view_rows:
            return None
        radii, _labels = self.ellipse_radii()
        return mv.inspect_row(prepared, scored, detection, int(position), columns,
                              radius=max(radii))

    def rows_in_box(self, x_column: str, y_column: str, x_range: tuple[float, float],
                    y_range: tuple[float, float]) -> np.ndarray:
        """Positions of every row in a box drawn on a panel (data units)."""
        state = self._state()
        if state is None:
            return np.empty(0, dtype=np.int64)
        prepared, geom, _scored, _detection = state
        return mv.rows_in_box(prepared, geom, x_column, y_column, x_range, y_range)

    def rows(self, columns: Sequence[str], positions: np.ndarray) -> np.ndarray | None:
        """Values of the rows at ``positions`` in data units (a selection's highlight)."""
        state = self._state()
        if state is None:
            return None
        prepared, geom, _scored, _detection = state
        return mv.rows_in_units(prepared, geom, columns, positions)
