"""gmm-desktop: anomaly detection with Gaussian mixture models."""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("gmm-desktop")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["GaussianMixtureOutlierDetector", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the detector needs scikit-learn and pandas, and importing
    # gmm_desktop (the GUI, the command line, a plugin) must stay light.
    if name == "GaussianMixtureOutlierDetector":
        from gmm_desktop.outlier import GaussianMixtureOutlierDetector

        return GaussianMixtureOutlierDetector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
