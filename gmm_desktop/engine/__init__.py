"""The EM engine: numpy/scipy numerics, no Qt, no GUI, no controller.

>>> from gmm_desktop.engine import GaussianMixture
"""

from typing import Any

from gmm_desktop.engine import mixture as _mixture
from gmm_desktop.engine.mixture import (
    FitProgress,
    GaussianMixture,
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


def __getattr__(name: str) -> Any:
    # NotFittedError and ConvergenceWarning subclass scikit-learn's and are built on first
    # use, so importing the engine does not import scikit-learn.
    if name in ("NotFittedError", "ConvergenceWarning"):
        return getattr(_mixture, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
