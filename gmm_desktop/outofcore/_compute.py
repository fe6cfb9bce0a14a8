"""Running per-partition tasks on whatever Dask scheduler is active, with progress and cancel.

Every out-of-core operation is "one small task per partition, then add the partial results
on the driver in partition order". The order is fixed, so the result does not depend on
which worker finished first, nor on a worker dying and its partitions being recomputed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dask
from dask.callbacks import Callback

from gmm_desktop.errors import FitCancelled

__all__ = ["PassProgress", "active_client", "compute_parts", "connect", "persist_parts"]

#: ``progress(stage, fraction)`` during one pass over the partitions; a true return cancels.
PassProgress = Callable[[str, float], Any]


def active_client() -> Any:
    """The ``distributed.Client`` Dask would use now, or ``None`` (a local scheduler)."""
    try:
        from dask.base import get_scheduler
    except ImportError:  # pragma: no cover
        return None
    scheduler = get_scheduler()
    owner = getattr(scheduler, "__self__", None)
    if owner is not None and type(owner).__name__ == "Client":
        return owner
    return None


class _LocalProgress(Callback):
    def __init__(self, stage: str, progress: PassProgress) -> None:
        super().__init__()
        self.stage, self.progress = stage, progress

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        total = max(1, len(dsk))
        if self.progress(self.stage, len(state["finished"]) / total):
            raise FitCancelled(f"cancelled during {self.stage}; the previous model is unchanged")


def compute_parts(
    parts: Sequence[Any], *, stage: str = "pass", progress: PassProgress | None = None
) -> list[Any]:
    """Compute delayed ``parts`` on the active scheduler; results in the order given.

    With a ``distributed`` client the parts run as futures (progress counts finished
    partitions; a worker that dies has its partitions recomputed from the graph by the
    scheduler); otherwise on the local scheduler (threads unless configured otherwise).
    ``progress(stage, fraction)`` returning true cancels: :class:`FitCancelled`.
    """
    parts = list(parts)
    if not parts:
        return []
    client = active_client()
    if client is None:
        if progress is None:
            return list(dask.compute(*parts))
        with _LocalProgress(stage, progress):
            return list(dask.compute(*parts))
    from distributed import as_completed

    futures = client.compute(parts)
    try:
        if progress is not None:
            done = 0
            for _ in as_completed(futures):
                done += 1
                if progress(stage, done / len(futures)):
                    raise FitCancelled(
                        f"cancelled during {stage}; the previous model is unchanged"
                    )
        return list(client.gather(futures))
    except BaseException:
        client.cancel(futures)
        raise


def persist_parts(
    parts: Sequence[Any], *, stage: str = "persist", progress: PassProgress | None = None
) -> list[Any]:
    """Compute delayed ``parts`` and keep the results where they are, in the order given.

    With a ``distributed`` client the results stay in the workers' memory and come back
    as futures (a later task on one runs where its data are; a future lost with its worker
    is recomputed from the graph). On a local scheduler the results are returned (they are
    in this process's memory). ``progress`` and cancel as in :func:`compute_parts`.
    """
    parts = list(parts)
    client = active_client()
    if client is None or not parts:
        return compute_parts(parts, stage=stage, progress=progress)
    from distributed import as_completed, wait

    futures = client.compute(parts)
    try:
        if progress is not None:
            done = 0
            for _ in as_completed(futures):
                done += 1
                if progress(stage, done / len(futures)):
                    raise FitCancelled(
                        f"cancelled during {stage}; the previous model is unchanged"
                    )
        wait(futures)
        bad = [f for f in futures if f.status == "error"]
        if bad:
            bad[0].result()  # raises the task's exception
        return list(futures)
    except BaseException:
        client.cancel(futures)
        raise


@contextlib.contextmanager
def connect(
    scheduler: str | None, *, n_workers: int | None = None, memory_limit: str | None = None
) -> Iterator[Any]:
    """Make ``scheduler`` the active one for the ``with`` block; yields the client or None.

    ``None`` keeps Dask's default (threads); ``"threads"``, ``"processes"`` or
    ``"synchronous"`` select a local scheduler; ``"local"`` starts a ``LocalCluster`` of
    single-threaded worker processes on this machine (``n_workers``, default: the usable
    cores, at most 4) and stops it afterwards; anything else is a scheduler address
    (``tcp://host:8786``) to connect a ``distributed.Client`` to.
    """
    if scheduler is None:
        yield None
        return
    if scheduler in ("threads", "processes", "synchronous", "sync"):
        with dask.config.set(scheduler=scheduler):
            yield None
        return
    from distributed import Client, LocalCluster

    if scheduler == "local":
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # not Linux
            cores = os.cpu_count() or 1
        workers = n_workers or max(1, min(4, cores))
        kwargs: dict[str, Any] = {}
        if memory_limit is not None:
            kwargs["memory_limit"] = memory_limit
        with LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # one EM thread per worker process: the workers already use every core
            env={"GMM_DESKTOP_NUM_THREADS": "1"},
            **kwargs,
        ) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout="20s")
    except OSError as exc:
        raise OSError(
            f"cannot connect to the Dask scheduler at {scheduler!r} ({exc}); check the address "
            "(tcp://host:8786) and that the scheduler is running, or use --scheduler local"
        ) from None
    try:
        yield client
    finally:
        client.close()
