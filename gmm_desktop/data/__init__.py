"""The data layer: loading tables, preparing features, scaling, safe writing.

No Qt, and nothing from the engine, the controller or the GUI: the controller, the
command line and the GUI all build on this package.

Typical use::

    from gmm_desktop.data import load_table, prepare_features

    ds = load_table("measurements.csv", id_column="sample")
    prep = prepare_features(ds, ["x", "y"], missing="median", scaling="standardize")
    prep.X            # float64, finite, scaled
    prep.row_ids      # which source rows the rows of X are
    prep.report       # what happened to missing / infinite values
    prep.scaler.to_dict()  # stored with the fitted model
"""

from .dataset import Dataset
from .demo import DEMO_FILES, DEMO_OPTIONS, demo_datasets, demo_options, demo_path
from .errors import DataError, DataWarning, OptionHint, ScalerFormatError, python_hint
from .loading import (
    COLUMN_KINDS,
    MISSING_MARKERS,
    MOSTLY_NUMERIC,
    SHEET_SUFFIXES,
    SUPPORTED_SUFFIXES,
    TEXT_SUFFIXES,
    CsvReading,
    TablePreview,
    column_kinds,
    csv_reading,
    load_frame,
    load_table,
    preview_table,
    sheet_names,
    source_files,
)
from .options import ReadOptions
from .prepare import (
    MISSING_POLICIES,
    PreparationReport,
    PreparedFeatures,
    prepare_features,
    safe_magnitude,
)
from .scaling import SCALING_METHODS, Scaler
from .writing import (
    WRITABLE_SUFFIXES,
    sidecar_path,
    write_table_atomic,
    write_table_chunks_atomic,
)

__all__ = [
    "COLUMN_KINDS",
    "DEMO_FILES",
    "DEMO_OPTIONS",
    "MISSING_MARKERS",
    "MISSING_POLICIES",
    "MOSTLY_NUMERIC",
    "SCALING_METHODS",
    "SHEET_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "TEXT_SUFFIXES",
    "WRITABLE_SUFFIXES",
    "CsvReading",
    "DataError",
    "DataWarning",
    "Dataset",
    "OptionHint",
    "PreparationReport",
    "PreparedFeatures",
    "ReadOptions",
    "Scaler",
    "ScalerFormatError",
    "TablePreview",
    "column_kinds",
    "csv_reading",
    "demo_datasets",
    "demo_options",
    "demo_path",
    "load_frame",
    "load_table",
    "prepare_features",
    "preview_table",
    "python_hint",
    "safe_magnitude",
    "sheet_names",
    "sidecar_path",
    "source_files",
    "write_table_atomic",
    "write_table_chunks_atomic",
]
