"""Application state and background work between the GUI and the engine (no widgets).

The GUI imports this package only; it never imports :mod:`gmm_desktop.engine`.
"""

from gmm_desktop.controller.app_controller import AppController
from gmm_desktop.controller.session import SessionFileError, state_dir
from gmm_desktop.controller.views import (
    ComponentRow,
    DatasetView,
    FeaturesView,
    FitParams,
    LegendEntry,
    ModelSummary,
    PointInfo,
    ScatterView,
    SweepView,
    ViewSettings,
)

__all__ = [
    "AppController",
    "ComponentRow",
    "DatasetView",
    "FeaturesView",
    "FitParams",
    "LegendEntry",
    "ModelSummary",
    "PointInfo",
    "ScatterView",
    "SessionFileError",
    "SweepView",
    "ViewSettings",
    "state_dir",
]
