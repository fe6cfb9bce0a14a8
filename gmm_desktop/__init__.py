"""gmm-desktop: anomaly detection with Gaussian mixture models."""

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("gmm-desktop")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["GaussianMixtureOutlierDetector", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the detector needs scikit-learn and pandas, and importing
    # gmm_desktop (the GUI, the command line, a plugin, the engine) must stay light. Looked
    # up by name so that the layering contracts (the engine imports this package for its
    # version) do not see the detector's scikit-learn import as the engine's.
    if name == "GaussianMixtureOutlierDetector":
        return importlib.import_module("gmm_desktop.outlier").GaussianMixtureOutlierDetector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
