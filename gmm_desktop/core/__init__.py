"""The application core: one detection run, Qt-free, driven by every face.

The command line, the Python API and the window all drive a :class:`Detector` (one run's
state and steps) configured by one :class:`RunConfig`; models are saved and read through
one schema (:mod:`.modelfile`); big data is a backend of the same run with its
capabilities declared once (:mod:`.capabilities`)::

    from gmm_desktop.core import Detector, RunConfig
    from gmm_desktop.engine.anomaly import ThresholdSpec

    det = Detector(RunConfig(columns=("x", "y"),
                             threshold=ThresholdSpec("contamination", 0.02)))
    det.load("measurements.csv")     # a path, a pandas DataFrame or a 2-D array
    det.fit()
    det.detect()
    det.export("flagged.csv")
"""

from gmm_desktop.core.capabilities import IN_MEMORY, OUT_OF_CORE, Capabilities
from gmm_desktop.core.config import (
    DEFAULT_COMPONENTS,
    DEFAULT_CONTAMINATION,
    DEFAULT_COVARIANCE_TYPES,
    DEFAULT_SWEEP_TYPES,
    ConfigError,
    RunConfig,
)
from gmm_desktop.core.modelfile import (
    ModelBundle,
    ModelMismatchError,
    bundle_from_document,
    read_model_file,
    write_model_file,
)
from gmm_desktop.core.progress import ProgressCallback, ProgressEvent, Reporter
from gmm_desktop.core.records import LABELS, Labels, RefitRecord, SourceInfo
from gmm_desktop.core.run import Detector, DetectorError, Job, Opened
from gmm_desktop.core.session import SessionContents, SessionFileError, parse_session
from gmm_desktop.core.state import (
    DensityIndex,
    Detection,
    Fitted,
    Loaded,
    Prepared,
    RefitProposal,
    Scored,
)
from gmm_desktop.core.steps import OutputError
from gmm_desktop.engine.anomaly import Threshold, ThresholdSpec

__all__ = [
    "DEFAULT_COMPONENTS",
    "DEFAULT_CONTAMINATION",
    "DEFAULT_COVARIANCE_TYPES",
    "DEFAULT_SWEEP_TYPES",
    "IN_MEMORY",
    "LABELS",
    "OUT_OF_CORE",
    "Capabilities",
    "ConfigError",
    "DensityIndex",
    "Detection",
    "Detector",
    "DetectorError",
    "Fitted",
    "Job",
    "Labels",
    "Loaded",
    "ModelBundle",
    "ModelMismatchError",
    "Opened",
    "OutputError",
    "Prepared",
    "ProgressCallback",
    "ProgressEvent",
    "RefitProposal",
    "RefitRecord",
    "Reporter",
    "RunConfig",
    "Scored",
    "SessionContents",
    "SessionFileError",
    "SourceInfo",
    "Threshold",
    "ThresholdSpec",
    "bundle_from_document",
    "parse_session",
    "read_model_file",
    "write_model_file",
]
