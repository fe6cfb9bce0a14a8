"""Out-of-core EM on a Parquet dataset bigger than memory (run by hand, not a test).

    python benchmarks/gen_big_parquet.py /tmp/gmm_big --rows 50000000
    python benchmarks/bench_outofcore.py /tmp/gmm_big --components 8 --iterations 3

Starts a LocalCluster (``--workers`` single-threaded worker processes, or connects to
``--scheduler ADDRESS``), opens the folder lazily, profiles and standardises it (one pass),
initialises with k-means on a 100,000-row uniform sample, then runs ``--iterations`` EM
iterations (tol 0), each reading every partition again from disk. A thread samples the
resident memory of this process and all its children (the workers) every 0.1 s.
Prints one JSON line: rows, time of each stage and iteration, rows per second, peak RSS.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import threading
import time
import warnings

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
            total = 0
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data", nargs="?", default="/tmp/gmm_big")
    ap.add_argument("--components", type=int, default=8)
    ap.add_argument("--covariance-type", default="full")
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scheduler", default="local")
    ap.add_argument("--memory-limit", default="2GB", help="per worker (LocalCluster)")
    args = ap.parse_args()

    from gmm_desktop import outofcore
    from gmm_desktop.engine import GaussianMixture

    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                          "GMM_DESKTOP_NUM_THREADS")}
    report: dict = {"data": args.data, "components": args.components,
                    "covariance_type": args.covariance_type, "workers": args.workers,
                    "scheduler": args.scheduler, "env": env}
    with PeakRSS() as rss, outofcore.connect(
        args.scheduler, n_workers=args.workers, memory_limit=args.memory_limit
    ):
        t0 = time.perf_counter()
        table = outofcore.open_table(args.data)
        feats = outofcore.prepare(table, scaling="standardize")
        report["rows"] = feats.n_used
        report["features"] = len(feats.columns)
        report["partitions"] = len(feats.X.chunks[0])
        report["prepare_s"] = round(time.perf_counter() - t0, 2)
        stamps: list[float] = []
        gm = GaussianMixture(args.components, covariance_type=args.covariance_type,
                             max_iter=args.iterations, tol=0.0, random_state=0)
        t_fit = time.perf_counter()
        stamps.append(t_fit)

        def partial(stage: str, fraction: float) -> bool:
            if stage.startswith("drawing") and fraction >= 1.0:
                stamps[0] = time.perf_counter()  # EM starts after the sample
            return False

        def callback(info: object) -> bool:
            stamps.append(time.perf_counter())
            return False

        with warnings.catch_warnings(), outofcore.options(progress=partial):
            warnings.simplefilter("ignore")
            gm.fit(feats.X, callback=callback)
        report["init_s"] = round(stamps[0] - t_fit, 2)
        its = [b - a for a, b in itertools.pairwise(stamps)]
        # the first interval also holds k-means on the sample; report both
        report["iteration_s"] = [round(t, 2) for t in its]
        steady = its[1:] or its
        per_it = sum(steady) / len(steady)
        report["mean_iteration_s_after_first"] = round(per_it, 2)
        report["rows_per_s"] = round(feats.n_used / per_it)
        report["lower_bound"] = gm.lower_bound_
    report["peak_rss_tree_GB"] = round(rss.peak / 1e9, 3)
    report["peak_rss_driver_GB"] = round(rss.peak_driver / 1e9, 3)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
