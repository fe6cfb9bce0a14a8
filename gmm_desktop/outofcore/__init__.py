"""Out-of-core and distributed EM on Dask, for tables bigger than one machine's memory.

``GaussianMixture.fit`` accepts a Dask array or DataFrame directly (the engine finds this
package by name; the engine itself never imports Dask)::

    import dask.dataframe as dd
    from gmm_desktop.engine import GaussianMixture

    X = dd.read_parquet("transactions/")[["amount", "latency"]]
    gm = GaussianMixture(8, covariance_type="full").fit(X)   # threads, or the active Client

Every EM iteration computes per-partition sufficient statistics on the active scheduler
(threads on a laptop; ``dask.distributed`` when a ``Client`` exists) and reduces them on
the driver, where every covariance plugin's M-step runs unchanged. Initialization runs on
a bounded uniform random sample (:data:`~gmm_desktop.outofcore.fitting.INIT_SAMPLE_SIZE`).
See :mod:`.fitting`, :mod:`.scoring`, :mod:`.tables` and :mod:`.pipeline`.

The application core's big-data backend (:mod:`gmm_desktop.core.bigdata`) uses
:func:`connect` (scheduler setting), :func:`open_table` and :func:`prepare` (lazy data),
:func:`fit` (progress per partition and per iteration, cancel), :func:`plot_sample`
(uniform sample for the scatter, with its size), :func:`log_density_histogram`,
:func:`fit_threshold` and :func:`write_scores` (every row). This package never imports the
application layer.
"""

from gmm_desktop.outofcore._compute import (
    active_client,
    compute_parts,
    connect,
    persist_parts,
)
from gmm_desktop.outofcore.fitting import (
    INIT_SAMPLE_SIZE,
    RowBlocks,
    fit_data,
    keep_in_memory,
    memory_budget,
    options,
    row_blocks,
    uniform_sample,
)
from gmm_desktop.outofcore.pipeline import PlotSample, fit, plot_sample
from gmm_desktop.outofcore.scoring import (
    contamination_cutoff,
    fit_threshold,
    log_density_histogram,
    predict,
    score_samples,
    write_scores,
)
from gmm_desktop.outofcore.tables import (
    LazyFeatures,
    LazyTable,
    ParquetPiece,
    is_lazy_source,
    open_table,
    prepare,
)

__all__ = [
    "INIT_SAMPLE_SIZE",
    "LazyFeatures",
    "LazyTable",
    "ParquetPiece",
    "PlotSample",
    "RowBlocks",
    "active_client",
    "compute_parts",
    "connect",
    "contamination_cutoff",
    "fit",
    "fit_data",
    "fit_threshold",
    "is_lazy_source",
    "keep_in_memory",
    "log_density_histogram",
    "memory_budget",
    "open_table",
    "options",
    "persist_parts",
    "plot_sample",
    "predict",
    "prepare",
    "row_blocks",
    "score_samples",
    "uniform_sample",
    "write_scores",
]
