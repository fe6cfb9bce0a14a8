"""The headless detector of gmm-desktop 0.1, now the application core.

``Detector`` is :class:`gmm_desktop.core.Detector` and ``DetectorConfig`` is
:class:`gmm_desktop.core.RunConfig`; use :mod:`gmm_desktop.core` in new code. Kept so that
scripts written by "Export as script" of version 0.1 still import.
"""

from gmm_desktop.core import Detector, DetectorError
from gmm_desktop.core import RunConfig as DetectorConfig
from gmm_desktop.data import sidecar_path

__all__ = ["Detector", "DetectorConfig", "DetectorError", "sidecar_path"]
