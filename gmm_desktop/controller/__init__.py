"""A thin Qt adapter between the GUI and the application core (no widgets).

The GUI imports this package only; it never imports the engine. The controller drives the
core's run (:mod:`gmm_desktop.core`) and hands the GUI immutable, ready-to-draw views.
"""

from gmm_desktop.controller.app_controller import AppController
from gmm_desktop.controller.importing import (
    PREVIEW_ROWS,
    ImportPreview,
    ImportPreviewer,
    needs_import_dialog,
)
from gmm_desktop.controller.messages import READ_CONTROLS, window_hint, window_message
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
from gmm_desktop.data import ReadOptions

__all__ = [
    "PREVIEW_ROWS",
    "READ_CONTROLS",
    "AnomalyView",
    "AppController",
    "ComponentRow",
    "DatasetView",
    "FeaturesView",
    "ImportPreview",
    "ImportPreviewer",
    "LegendEntry",
    "ModelSummary",
    "ParamField",
    "PointInfo",
    "ProgressView",
    "ReadOptions",
    "RefitView",
    "ScatterView",
    "SelectionView",
    "SessionFileError",
    "SweepView",
    "ViewSettings",
    "WhyRow",
    "WhyView",
    "needs_import_dialog",
    "state_dir",
    "window_hint",
    "window_message",
]
