"""EM on Dask collections: per-partition sufficient statistics, reduced on the driver.

Each EM iteration sends one task per partition: :func:`gmm_desktop.engine._em.em_pass` on
that partition's rows with the current parameters, returning ``Σ w·log p`` and the raw
moments about the current means (:class:`~gmm_desktop.engine._em.RawStats`). The driver
adds them in partition order (so the result does not depend on which worker finished
first), finalizes them into :class:`~gmm_desktop.plugin_api.SufficientStatistics` and runs
the covariance plugin's M-step, exactly as the in-memory engine does. Moments are
accumulated about each component's previous mean and re-centred on the driver, so nothing
is lost on sums over hundreds of millions of rows far from the origin.

Initialization runs the initializer (k-means, ...) in memory on a uniform random sample of
at most :data:`INIT_SAMPLE_SIZE` rows (100,000 by default; change it with
:func:`options`). The sample is exact (without replacement, every subset equally likely):
the number of rows taken from each partition is drawn from the multivariate
hypergeometric distribution, then each partition draws its rows with its own seeded
generator, so a seed reproduces the sample on any scheduler and any number of workers.
With ``weights_init``, ``means_init`` and ``precisions_init`` all given, no sample is drawn.

Where the feature blocks are kept (:func:`options` ``persist``): when they fit in a share
of the memory the cluster has (:func:`memory_budget`: :data:`MEMORY_SHARE` of each
worker's memory limit, less what it holds; on a local scheduler, of this machine's
available memory), the first pass decodes them once into the workers' memory (cut into
at least :data:`BLOCKS_PER_THREAD` blocks per worker thread, so the load balances) and
every iteration runs on them there; they are released when the fit ends, and a block
lost with a worker is recomputed from the graph. Otherwise each iteration reads the
partitions again from their source (for Parquet: only the feature columns, by pyarrow,
see :mod:`.tables`), each partition's read and E+M pass being one task, so that with
two or more workers one reads while another computes.

Every partition's E+M pass is :func:`gmm_desktop.engine._em.em_pass`, the same fused
kernel as in memory, one thread per task (the workers are the parallelism).
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from dask import delayed

from gmm_desktop.engine import _em
from gmm_desktop.engine.mixture import FitData
from gmm_desktop.outofcore._compute import (
    PassProgress,
    active_client,
    compute_parts,
    persist_parts,
)

__all__ = [
    "BLOCKS_PER_THREAD",
    "INIT_SAMPLE_SIZE",
    "MEMORY_SHARE",
    "RowBlocks",
    "fit_data",
    "memory_budget",
    "options",
    "row_blocks",
    "uniform_sample",
]

#: Default bound on the rows the initializer sees (a uniform random sample).
INIT_SAMPLE_SIZE = 100_000

#: Share of the memory (each worker's limit, or this machine's available memory) the
#: feature blocks of a fit may take when they are kept in memory.
MEMORY_SHARE = 0.5

#: Blocks kept in memory are cut so that every worker thread gets at least this many.
BLOCKS_PER_THREAD = 4

#: ... but no block is cut below this many rows (per-task overhead).
MIN_BLOCK_ROWS = 1 << 16

_PERSIST_CHOICES = ("auto", True, False)


@dataclass(frozen=True)
class _Options:
    init_sample_size: int = INIT_SAMPLE_SIZE
    progress: PassProgress | None = None
    persist: bool | str = "auto"


_DEFAULT_OPTIONS = _Options()  # frozen: safe to share
_OPTIONS: contextvars.ContextVar[_Options] = contextvars.ContextVar(
    "gmm_desktop_outofcore_options", default=_DEFAULT_OPTIONS
)


@contextlib.contextmanager
def options(
    *,
    init_sample_size: int | None = None,
    progress: PassProgress | None = None,
    persist: bool | str | None = None,
) -> Iterator[None]:
    """Settings for out-of-core fits started inside the ``with`` block.

    ``init_sample_size`` bounds the initializer's random sample; ``progress(stage,
    fraction)`` is called as partitions finish within each pass over the data (a true
    return value cancels the fit, which raises ``FitCancelled`` and leaves the estimator
    unchanged). ``persist``: ``"auto"`` (the default) keeps the decoded feature blocks in
    the workers' memory when they fit (:func:`memory_budget`), ``True`` always, ``False``
    never (every iteration reads the data again); ``None`` leaves the setting as it is.
    """
    current = _OPTIONS.get()
    changes: dict[str, Any] = {}
    if init_sample_size is not None:
        if isinstance(init_sample_size, bool) or int(init_sample_size) < 1:
            raise ValueError(f"init_sample_size must be a positive integer, got {init_sample_size}")
        changes["init_sample_size"] = int(init_sample_size)
    if progress is not None:
        changes["progress"] = progress
    if persist is not None:
        if persist not in _PERSIST_CHOICES:
            raise ValueError(f"persist must be 'auto', True or False, got {persist!r}")
        changes["persist"] = persist
    token = _OPTIONS.set(replace(current, **changes))
    try:
        yield
    finally:
        _OPTIONS.reset(token)


# --------------------------------------------------------------------------- row blocks


@dataclass
class RowBlocks:
    """A Dask collection seen as a sequence of row blocks (one delayed numpy array each).

    ``x[b]`` is block ``b`` (``counts[b]`` rows × ``n_features``); ``w[b]`` its sample
    weights or ``None``; ``array`` the Dask array the blocks come from.
    """

    x: list[Any]
    w: list[Any] | None
    counts: np.ndarray
    n_features: int
    feature_names: np.ndarray | None
    array: Any

    @property
    def n_samples(self) -> int:
        return int(self.counts.sum())

    @property
    def offsets(self) -> np.ndarray:
        """Global position of each block's first row."""
        return np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)


def _is_dask_dataframe(X: Any) -> bool:
    try:
        import dask.dataframe as dd
    except ImportError:  # pragma: no cover
        return False
    return isinstance(X, dd.DataFrame | dd.Series)


def as_dask_array(X: Any) -> tuple[Any, np.ndarray | None]:
    """A 2-D float Dask array (rows in blocks, all columns in one block) and column names."""
    import dask.array as da

    names = None
    if _is_dask_dataframe(X):
        if X.ndim != 2:
            raise ValueError(
                "Expected a 2D Dask DataFrame, got a Series; select one or more columns as a "
                "DataFrame (X[['col']])."
            )
        bad = [str(c) for c, t in X.dtypes.items() if getattr(t, "kind", "O") not in "fiub"]
        if bad:
            raise ValueError(
                f"the Dask DataFrame has non-numeric columns ({', '.join(bad[:5])}); select "
                "the numeric feature columns first, e.g. X[['a', 'b']]"
            )
        columns = list(X.columns)
        if columns and all(isinstance(c, str) for c in columns):
            names = np.asarray(columns, dtype=object)
        X = X.to_dask_array(lengths=True)
    if not isinstance(X, da.Array):
        raise TypeError(f"expected a Dask array or DataFrame, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {X.ndim}D array instead: reshape your data with "
            "X.reshape(-1, 1) if it has a single feature."
        )
    if X.dtype.kind not in "fiub" or X.dtype.kind == "c":
        raise ValueError(f"Dask array of dtype {X.dtype} cannot be fitted; it must be numeric")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X, names


def row_blocks(X: Any, sample_weight: Any = None) -> RowBlocks:
    """Split a Dask array or DataFrame (and its weights) into row blocks; validates shapes."""
    import dask.array as da

    arr, names = as_dask_array(X)
    counts = np.asarray(arr.chunks[0], dtype=np.int64)
    blocks = list(arr.to_delayed().ravel())
    w_blocks = None
    if sample_weight is not None:
        n = int(counts.sum())
        if _is_dask_dataframe(sample_weight):
            sample_weight = sample_weight.to_dask_array(lengths=True)
        if isinstance(sample_weight, da.Array):
            w = sample_weight
            if any(np.isnan(c) for c in w.chunks[0]):
                w = w.compute_chunk_sizes()
        else:
            w_np = np.asarray(sample_weight, dtype=np.float64)
            if w_np.ndim == 0:
                w_np = np.full(n, float(w_np))
            w = da.from_array(w_np, chunks=(tuple(int(c) for c in counts),))
        if w.ndim != 1 or w.shape[0] != n:
            raise ValueError(f"sample_weight has shape {w.shape}, expected ({n},)")
        w = w.astype(np.float64).rechunk((tuple(int(c) for c in counts),))
        w_blocks = list(w.to_delayed().ravel())
    return RowBlocks(blocks, w_blocks, counts, int(arr.shape[1]), names, arr)


def _check_weights(blocks: RowBlocks) -> float:
    """Validate the weights in one pass; returns their sum."""
    assert blocks.w is not None
    parts = [delayed(_weight_summary, pure=True)(wb) for wb in blocks.w]
    total, finite, negative, positive = 0.0, True, False, False
    for s, f, neg, pos in compute_parts(parts, stage="checking the sample weights"):
        total += s
        finite &= f
        negative |= neg
        positive |= pos
    if not finite:
        raise ValueError("sample_weight contains NaN or infinite values")
    if negative:
        raise ValueError("sample_weight must be non-negative")
    if not positive:
        raise ValueError(
            "sample_weight is zero for every row; give at least one row a positive weight"
        )
    return total


def _weight_summary(w: np.ndarray) -> tuple[float, bool, bool, bool]:
    w = np.asarray(w, dtype=np.float64)
    return float(w.sum()), bool(np.isfinite(w).all()), bool((w < 0).any()), bool((w > 0).any())


# --------------------------------------------------------------------------- sampling


def _take_rows(
    x: np.ndarray, w: np.ndarray | None, m: int, seed: int, block: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    rng = np.random.default_rng([seed, block])
    idx = np.sort(rng.choice(x.shape[0], size=m, replace=False))
    return (
        np.asarray(x[idx], dtype=np.float64),
        None if w is None else np.asarray(w)[idx],
        idx,
    )


def uniform_sample(
    blocks: RowBlocks,
    size: int,
    seed: int,
    *,
    progress: PassProgress | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """A uniform random sample without replacement of ``min(size, n)`` rows.

    Returns ``(rows, weights or None, global row positions)``, in the data's row order.
    The per-partition counts come from a multivariate hypergeometric draw on the driver;
    each partition then draws its rows with ``default_rng([seed, partition])``.
    """
    n = blocks.n_samples
    m = int(min(max(0, size), n))
    rng = np.random.default_rng(seed)
    takes = rng.multivariate_hypergeometric(blocks.counts, m) if m else np.zeros_like(
        blocks.counts
    )
    parts, which = [], []
    for b, take in enumerate(takes):
        if take > 0:
            wb = None if blocks.w is None else blocks.w[b]
            parts.append(delayed(_take_rows, pure=True)(blocks.x[b], wb, int(take), seed, b))
            which.append(b)
    results = compute_parts(parts, stage="drawing a random sample", progress=progress)
    offsets = blocks.offsets
    d = blocks.n_features
    xs = [r[0] for r in results] or [np.empty((0, d))]
    pos = [offsets[b] + r[2] for b, r in zip(which, results, strict=True)] or [
        np.empty(0, dtype=np.int64)
    ]
    ws = None if blocks.w is None else np.concatenate([r[1] for r in results] or [np.empty(0)])
    return np.concatenate(xs), ws, np.concatenate(pos)


def seed_from(random_state: Any) -> int:
    """An integer seed for the sample from an estimator's ``random_state``."""
    if isinstance(random_state, int | np.integer) and not isinstance(random_state, bool):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    return int(np.random.SeedSequence().entropy % (2**63))


# --------------------------------------------------------------------------- memory


def _local_host(host: str) -> bool:
    import socket

    return host in ("127.0.0.1", "localhost", "::1") or host in {
        socket.gethostname(), socket.getfqdn()
    }


def memory_budget() -> float:
    """Bytes of feature blocks a fit may keep in memory on the active scheduler.

    With a ``distributed`` client: the sum over workers of :data:`MEMORY_SHARE` of each
    one's memory limit less what it already holds (a worker without a limit counts the
    machine's available memory); when every worker runs on this machine, also at most
    that share of this machine's available memory. On a local scheduler: that share of
    this machine's available memory.
    """
    import psutil

    local = MEMORY_SHARE * psutil.virtual_memory().available
    client = active_client()
    if client is None:
        return float(local)
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    if not workers:
        return 0.0
    total = 0.0
    hosts_local = True
    for address, w in workers.items():
        limit = float(w.get("memory_limit") or 0)
        held = float(w.get("metrics", {}).get("managed_bytes", 0) or 0)
        if limit <= 0:
            limit = float(psutil.virtual_memory().available)
        total += max(0.0, MEMORY_SHARE * limit - held)
        host = str(w.get("host") or address.split("://")[-1].rsplit(":", 1)[0])
        hosts_local &= _local_host(host)
    return float(min(total, local)) if hosts_local else float(total)


def _threads() -> int:
    """Worker threads of the active scheduler (the local pool's size without a client)."""
    client = active_client()
    if client is None:
        import os

        return max(1, os.cpu_count() or 1)
    return max(1, sum(int(n) for n in client.nthreads().values()))


def _rows_of(x: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a block as their own array (F-ordered, as the readers give)."""
    return np.asfortranarray(x[start:stop])


def _balanced_cuts(counts: np.ndarray, n_slots: int) -> list[list[int]]:
    """For each block, the cut points (0 … count) of its pieces.

    Blocks bigger than ``n / (BLOCKS_PER_THREAD · n_slots)`` rows (and at least
    :data:`MIN_BLOCK_ROWS`) are cut into equal pieces, so the work balances over the
    threads.
    """
    n = int(counts.sum())
    target = max(MIN_BLOCK_ROWS, -(-n // (BLOCKS_PER_THREAD * max(1, n_slots))))
    cuts = []
    for c in counts.tolist():
        pieces = max(1, round(c / target))
        cuts.append([c * i // pieces for i in range(pieces + 1)])
    return cuts


def keep_in_memory(
    blocks: RowBlocks, *, progress: PassProgress | None = None
) -> RowBlocks:
    """The blocks decoded once and kept in the workers' memory (see the module docstring).

    Returns a :class:`RowBlocks` whose ``x`` (and ``w``) are futures (``distributed``) or
    in-memory arrays (local scheduler); ``array`` is unchanged (the lazy source).
    """
    cuts = _balanced_cuts(blocks.counts, _threads())
    xs: list[Any] = []
    ws: list[Any] = []
    counts: list[int] = []
    for b, points in enumerate(cuts):
        wb = None if blocks.w is None else blocks.w[b]
        if len(points) == 2:
            xs.append(blocks.x[b])
            ws.append(wb)
            counts.append(points[1])
            continue
        for start, stop in itertools.pairwise(points):
            xs.append(delayed(_rows_of, pure=True)(blocks.x[b], start, stop))
            ws.append(None if wb is None else wb[start:stop])
            counts.append(stop - start)
    kept = persist_parts(
        xs + ([] if blocks.w is None else ws), stage="reading the data into memory",
        progress=progress,
    )
    x_kept, w_kept = kept[: len(xs)], kept[len(xs) :]
    if active_client() is None:  # arrays in this process: wrap them once, never hashed
        tag = uuid.uuid4().hex
        x_kept = [delayed(v, name=f"gmm-x-{tag}-{i}") for i, v in enumerate(x_kept)]
        w_kept = [delayed(v, name=f"gmm-w-{tag}-{i}") for i, v in enumerate(w_kept)]
    return RowBlocks(
        x_kept, None if blocks.w is None else w_kept, np.asarray(counts, dtype=np.int64),
        blocks.n_features, blocks.feature_names, blocks.array,
    )


def _should_keep(blocks: RowBlocks, persist: bool | str) -> bool:
    if persist is True or persist is False:
        return persist
    itemsize = np.dtype(blocks.array.dtype).itemsize
    nbytes = blocks.n_samples * blocks.n_features * itemsize
    nbytes += 0 if blocks.w is None else blocks.n_samples * 8
    return nbytes <= memory_budget()


# --------------------------------------------------------------------------- EM pass


def _partition_pass(
    x: np.ndarray,
    w: np.ndarray | None,
    weights: np.ndarray,
    means: np.ndarray,
    expanded: np.ndarray,
    structure: str,
    chunk_size: int | None,
    check: bool,
    block: int,
) -> tuple[float, _em.RawStats]:
    """One partition's share of an EM iteration (runs on a worker)."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    k, d = means.shape
    if check and not np.isfinite(x).all():
        raise ValueError(
            f"Input X contains NaN or infinity (in partition {block}); drop or fill in the "
            "missing values before fitting"
        )
    if x.shape[0] == 0:
        s_shape = (k, d, d) if structure == "full" else (k, d)
        return 0.0, _em.RawStats(
            nk=np.zeros(k), centres=np.array(means, dtype=float), s=np.zeros((k, d)),
            S=np.zeros(s_shape),
        )
    chunk = _em.chunk_rows(x.shape[0], d, k, chunk_size)
    with _em.blas_single_threaded():
        return _em.em_pass(x, w, weights, means, expanded, structure, chunk, threads=1)


def fit_data(model: Any, X: Any, sample_weight: Any = None) -> FitData:
    """The :class:`~gmm_desktop.engine.mixture.FitData` of a Dask collection.

    Called by ``GaussianMixture.fit`` for Dask input; the EM loop itself (restarts,
    callback, cancellation, convergence) is the engine's own.
    """
    settings = _OPTIONS.get()
    blocks = row_blocks(X, sample_weight)
    n = blocks.n_samples
    if n < 2:
        raise ValueError(
            f"Found array with {n} sample(s) (shape=({n}, {blocks.n_features})) while a "
            "minimum of 2 is required by GaussianMixture."
        )
    total_weight = float(n) if blocks.w is None else _check_weights(blocks)
    state: dict[str, Any] = {"passes": 0, "blocks": None}

    def pass_blocks() -> RowBlocks:
        """The blocks the passes run on: kept in memory on the first call if they fit."""
        if state["blocks"] is None:
            keep = _should_keep(blocks, settings.persist)
            state["blocks"] = (
                keep_in_memory(blocks, progress=settings.progress) if keep else blocks
            )
            state["kept"] = keep
        return state["blocks"]

    def em_pass(
        weights: np.ndarray, means: np.ndarray, expanded: np.ndarray, structure: str
    ) -> tuple[float, _em.RawStats]:
        state["passes"] += 1
        check = state["passes"] == 1  # the first pass checks every value is finite
        weights = np.asarray(weights, dtype=np.float64)
        means = np.ascontiguousarray(means, dtype=np.float64)
        expanded = np.ascontiguousarray(expanded, dtype=np.float64)
        data = pass_blocks()
        parts = [
            delayed(_partition_pass, pure=True)(
                xb, None if data.w is None else data.w[b], weights, means, expanded,
                structure, model.chunk_size, check, b,
            )
            for b, xb in enumerate(data.x)
        ]
        results = compute_parts(
            parts, stage=f"EM pass {state['passes']}", progress=settings.progress
        )
        ll = 0.0
        raw: _em.RawStats | None = None
        for part_ll, part_raw in results:  # partition order: the sum is reproducible
            ll += float(part_ll)
            if raw is None:
                raw = part_raw
            else:
                raw += part_raw
        assert raw is not None
        return ll, raw

    sample_cache: dict[str, Any] = {}

    def init_rows() -> tuple[np.ndarray, np.ndarray | None, float, int]:
        if "rows" not in sample_cache:
            xs, ws, _ = uniform_sample(
                blocks, settings.init_sample_size, seed_from(model.random_state),
                progress=settings.progress,
            )
            total = float(xs.shape[0] if ws is None else ws.sum())
            if total <= 0:
                raise ValueError(
                    "the random sample for initialization has zero total weight; raise "
                    "init_sample_size or give the initial parameters"
                )
            chunk = _em.chunk_rows(xs.shape[0], blocks.n_features, model.n_components,
                                   model.chunk_size)
            sample_cache["rows"] = (xs, ws, total, chunk)
        return sample_cache["rows"]

    return FitData(
        n_samples=n,
        n_features=blocks.n_features,
        total_weight=total_weight,
        em_pass=em_pass,
        init_rows=init_rows,
        feature_names=blocks.feature_names,
        dtype=np.dtype(blocks.array.dtype),
    )
