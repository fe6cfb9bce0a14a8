"""The EM engine: numpy/scipy numerics, no Qt, no GUI, no controller.

>>> from gmm_desktop.engine import GaussianMixture
"""

from gmm_desktop.engine.mixture import (
    ConvergenceWarning,
    FitProgress,
    GaussianMixture,
    NotFittedError,
    RestartFailedWarning,
)
from gmm_desktop.engine.selection import SelectionCell, SelectionResult, select_models
from gmm_desktop.engine.serialization import (
    MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
    load_model,
    model_from_dict,
    model_to_dict,
    save_model,
)
from gmm_desktop.errors import FitCancelled, FitError, ModelFileError

__all__ = [
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
    "ConvergenceWarning",
    "FitCancelled",
    "FitError",
    "FitProgress",
    "GaussianMixture",
    "ModelFileError",
    "NotFittedError",
    "RestartFailedWarning",
    "SelectionCell",
    "SelectionResult",
    "load_model",
    "model_from_dict",
    "model_to_dict",
    "save_model",
    "select_models",
]
