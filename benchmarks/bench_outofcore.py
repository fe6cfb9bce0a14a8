"""Out-of-core EM on a Parquet dataset, against the same fit in memory (run by hand).

    python benchmarks/gen_big_parquet.py /tmp/gmm_big --rows 50000000
    python benchmarks/bench_outofcore.py /tmp/gmm_big --files 3 --iterations 5   # 3M rows
    python benchmarks/bench_outofcore.py /tmp/gmm_big --files 10 --iterations 5  # 10M rows
    python benchmarks/bench_outofcore.py /tmp/gmm_big --iterations 3 --no-memory # 50M rows

Uses the first ``--files`` files of the dataset (all by default), opens them lazily and
prepares the features (``--scaling``, default none: the same rows as the in-memory fit),
on a LocalCluster of ``--workers`` single-threaded worker processes with
``--memory-limit`` each (or ``--scheduler ADDRESS``, or ``threads``). Measured, in one run:

* **I/O floor**: one pass over every partition that reads and decodes the features (the
  task a streaming iteration runs, without the E+M kernel), in seconds and GB/s;
* **out of core**: ``--iterations`` EM iterations (tol 0) from given initial parameters;
  per-iteration times from the fit's callback. The first iteration also decodes the
  blocks into the workers' memory when they are kept there (``--persist auto``: when they
  fit in half the workers' memory limits; ``true``/``false`` to force);
* **in memory** (unless ``--no-memory``): the same rows read into one array in this
  process, the same initial parameters, the same iterations, by
  ``GaussianMixture.fit`` (two threads), after the out-of-core fit so the peak memory
  of the out-of-core run is measured first.

The initial parameters come from k-means on a 100,000-row sample (seed 0). A thread
samples the resident memory of this process and all its children (the workers) every
0.1 s. Prints JSON lines: the setting, the I/O floor, each fit (s per iteration after the
first, the ratio out of core / in memory, lower bounds), peak RSS of the process tree.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import psutil


class PeakRSS:
    """Peak summed RSS of this process tree, sampled in a thread."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval, self.peak, self.peak_driver = interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process(os.getpid())
        while not self._stop.is_set():
            total = driver = 0
            try:
                driver = me.memory_info().rss
                total = driver
                for child in me.children(recursive=True):
                    try:
                        total += child.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            self.peak = max(self.peak, total)
            self.peak_driver = max(self.peak_driver, driver)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def per_iteration(stamps: list[float]) -> tuple[list[float], float]:
    its = [b - a for a, b in itertools.pairwise(stamps)]
    steady = its[1:] or its
    return [round(t, 3) for t in its], sum(steady) / len(steady)


def _read_count(block) -> int:
    return int(np.asarray(block).shape[0])


def io_floor(feats) -> dict:
    """Read and decode every partition's features once (the streaming task minus EM)."""
    from dask import delayed

    from gmm_desktop.outofcore import compute_parts

    parts = [delayed(_read_count, pure=False)(b) for b in feats.X.to_delayed().ravel()]
    t0 = time.perf_counter()
    rows = sum(compute_parts(parts, stage="I/O floor"))
    took = time.perf_counter() - t0
    nbytes = rows * len(feats.columns) * 8
    return {"io_floor_s": round(took, 3), "io_GB_per_s": round(nbytes / took / 1e9, 3),
            "rows_read": rows}


def initial_parameters(X: np.ndarray, k: int, cov: str) -> dict:
    from gmm_desktop.engine import GaussianMixture

    rng = np.random.default_rng(0)
    sample = X[np.sort(rng.choice(X.shape[0], min(100_000, X.shape[0]), replace=False))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        init = GaussianMixture(k, covariance_type=cov, random_state=0, max_iter=0).fit(sample)
    return {"weights_init": init.weights_, "means_init": init.means_,
            "precisions_init": init.precisions_}


def fit_timed(X, k: int, cov: str, iterations: int, init: dict, progress=None) -> dict:
    from gmm_desktop import outofcore
    from gmm_desktop.engine import GaussianMixture

    gm = GaussianMixture(k, covariance_type=cov, max_iter=iterations, tol=0.0, **init)
    stamps = [time.perf_counter()]
    with warnings.catch_warnings(), outofcore.options(progress=progress):
        warnings.simplefilter("ignore")
        gm.fit(X, callback=lambda info: stamps.append(time.perf_counter()))
    its, per_it = per_iteration(stamps)
    return {"iteration_s": its, "s_per_iteration": round(per_it, 4),
            "lower_bound": gm.lower_bound_, "model": gm}


def read_in_memory(files: list[str], columns: list[str]) -> np.ndarray:
    import pyarrow.parquet as pq

    parts = []
    for f in files:
        table = pq.read_table(f, columns=columns)
        parts.append(np.column_stack([table.column(c).to_numpy() for c in columns]))
    return np.concatenate(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data", nargs="?", default="/tmp/gmm_big")
    ap.add_argument("--files", type=int, default=0, help="use the first N files (0: all)")
    ap.add_argument("--components", type=int, default=8)
    ap.add_argument("--covariance-type", default="full")
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scheduler", default="local")
    ap.add_argument("--memory-limit", default="2GB", help="per worker (LocalCluster)")
    ap.add_argument("--persist", default="auto", choices=["auto", "true", "false"])
    ap.add_argument("--scaling", default="none", choices=["none", "standardize"])
    ap.add_argument("--no-memory", action="store_true", help="skip the in-memory fit")
    args = ap.parse_args()

    from gmm_desktop import outofcore
    from gmm_desktop.engine import _em

    files = sorted(str(p) for p in Path(args.data).glob("*.parquet"))
    if args.files:
        files = files[: args.files]
    persist = {"auto": "auto", "true": True, "false": False}[args.persist]
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                          "GMM_DESKTOP_NUM_THREADS")}
    print(json.dumps({"data": args.data, "files": len(files), "components": args.components,
                      "covariance_type": args.covariance_type, "workers": args.workers,
                      "scheduler": args.scheduler, "memory_limit": args.memory_limit,
                      "persist": args.persist, "backend": _em.backend(), "env": env,
                      "cores": os.cpu_count(), "load_average": os.getloadavg()}), flush=True)
    k, cov = args.components, args.covariance_type
    with PeakRSS() as rss:
        with outofcore.connect(args.scheduler, n_workers=args.workers,
                               memory_limit=args.memory_limit), outofcore.options(
                                   persist=persist):
            t0 = time.perf_counter()
            table = outofcore.open_table(_folder_of(files, args.data))
            feats = outofcore.prepare(table, scaling=args.scaling)
            prep = {"rows": feats.n_used, "features": len(feats.columns),
                    "partitions": len(feats.X.chunks[0]),
                    "prepare_s": round(time.perf_counter() - t0, 2),
                    "memory_budget_GB": round(outofcore.memory_budget() / 1e9, 2),
                    "feature_GB": round(feats.n_used * len(feats.columns) * 8 / 1e9, 2)}
            print(json.dumps(prep), flush=True)
            print(json.dumps(io_floor(feats)), flush=True)
            sample = np.asarray(outofcore.plot_sample(feats.X, 100_000, seed=0).rows)
            init = initial_parameters(sample, k, cov)
            stages: list[str] = []

            def progress(stage: str, fraction: float) -> bool:
                if not stages or stages[-1] != stage:
                    stages.append(stage)
                return False

            ooc = fit_timed(feats.X, k, cov, args.iterations, init, progress)
            kept = "reading the data into memory" in stages
        peak_ooc = rss.peak
        out = {key: v for key, v in ooc.items() if key != "model"}
        out.update({"contender": f"out of core ({args.workers} worker processes, blocks "
                    f"{'kept in memory' if kept else 'read every iteration'})",
                    "load_average": os.getloadavg(),
                    "peak_rss_tree_GB": round(peak_ooc / 1e9, 3),
                    "peak_rss_driver_GB": round(rss.peak_driver / 1e9, 3)})
        print(json.dumps(out), flush=True)
        if not args.no_memory:
            X = read_in_memory(files, feats.columns)
            mem = fit_timed(X, k, cov, args.iterations, init)
            res = {key: v for key, v in mem.items() if key != "model"}
            res.update({"contender": "in memory (one process, GaussianMixture.fit)",
                        "threads": _em.n_threads(),
                        "out_of_core_over_in_memory": round(
                            ooc["s_per_iteration"] / mem["s_per_iteration"], 2),
                        "lower_bound_rel_diff": abs(ooc["lower_bound"] - mem["lower_bound"])
                        / abs(mem["lower_bound"]),
                        "load_average": os.getloadavg()})
            print(json.dumps(res), flush=True)


def _folder_of(files: list[str], data: str) -> str:
    """A folder holding exactly ``files``: ``data`` itself, or one of symbolic links."""
    import atexit
    import shutil
    import tempfile

    if len(files) == len(list(Path(data).glob("*.parquet"))):
        return data
    folder = tempfile.mkdtemp(prefix="gmm_bench_")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for f in files:
        os.symlink(os.path.abspath(f), os.path.join(folder, os.path.basename(f)))
    return folder


if __name__ == "__main__":
    main()
