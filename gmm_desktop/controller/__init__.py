"""A thin Qt adapter between the GUI and the application core (no widgets).

The GUI imports this package only; it never imports the engine. The controller drives the
core's run (:mod:`gmm_desktop.core`) and hands the GUI immutable, ready-to-draw views.
"""

from gmm_desktop.controller.app_controller import AppController
from gmm_desktop.controller.session import SessionFileError, state_dir
from gmm_desktop.controller.views import (
    AnomalyView,
    ComponentRow,
    DatasetView,
    FeaturesView,
    LegendEntry,
    ModelSummary,
    ParamField,
    PointInfo,
    ProgressView,
    RefitView,
    ScatterView,
    SelectionView,
    SweepView,
    ViewSettings,
    WhyRow,
    WhyView,
)

__all__ = [
    "AnomalyView",
    "AppController",
    "ComponentRow",
    "DatasetView",
    "FeaturesView",
    "LegendEntry",
    "ModelSummary",
    "ParamField",
    "PointInfo",
    "ProgressView",
    "RefitView",
    "ScatterView",
    "SelectionView",
    "SessionFileError",
    "SweepView",
    "ViewSettings",
    "WhyRow",
    "WhyView",
    "state_dir",
]
