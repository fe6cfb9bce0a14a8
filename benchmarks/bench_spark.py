"""This engine (in memory and out of core on Dask) against Spark's GaussianMixture: same
rows, K, full covariances, iterations, in one run (run by hand).

    python benchmarks/gen_big_parquet.py /tmp/gmm_big --rows 50000000
    python benchmarks/bench_spark.py /tmp/gmm_big --files 10 --iterations 5        # 10M rows
    python benchmarks/bench_spark.py /tmp/gmm_big --iterations 3 --skip memory     # 50M rows

Uses the first ``--files`` files of the dataset (all by default; 1,000,000 rows each as
generated). Contenders, each running ``--iterations`` EM iterations (tol 0):

* ``memory``: the rows read into one array (pyarrow), ``GaussianMixture.fit`` (two threads);
* ``dask``: ``gmm_desktop.outofcore`` on a LocalCluster of ``--cores`` single-threaded
  worker processes (``--memory-limit`` each): blocks kept in the workers' memory when they
  fit, otherwise the Parquet files read again every iteration; peak RSS of the process
  tree (driver + workers) sampled every 0.1 s;
* ``spark``: ``pyspark.ml.clustering.GaussianMixture`` on local[``--cores``] (the machine's
  Java) on a cached DataFrame. It takes no initial parameters and reports no
  per-iteration times: its time per iteration is ``(T(iterations) − T(1)) /
  (iterations − 1)``.

Ours start from k-means on a 100,000-row uniform sample (seed 0), the same for both. Every
final model is scored the same way: the mean log-likelihood per row over all rows, by our
engine (out of core when ``memory`` is skipped). Prints one JSON line per contender.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_outofcore import PeakRSS, _folder_of, read_in_memory


def per_iteration(stamps: list[float]) -> float:
    its = [b - a for a, b in itertools.pairwise(stamps)]
    steady = its[1:] or its
    return sum(steady) / len(steady)


def fit_ours(X, k: int, iterations: int, init: dict) -> tuple[float, object]:
    from gmm_desktop.engine import GaussianMixture

    gm = GaussianMixture(k, max_iter=iterations, tol=0.0, **init)
    stamps = [time.perf_counter()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X, callback=lambda info: stamps.append(time.perf_counter()))
    return per_iteration(stamps), gm


def spark(files: list[str], k: int, iterations: int, cores: int, memory: str) -> dict:
    from pyspark.ml.clustering import GaussianMixture as SparkGMM
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .config("spark.driver.memory", memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    df = session.read.parquet(*files)
    cols = [c for c in df.columns if c.startswith("x")]
    data = VectorAssembler(inputCols=cols, outputCol="features").transform(df).select(
        "features").cache()
    t0 = time.perf_counter()
    n = data.count()
    cache_s = time.perf_counter() - t0
    times, models = {}, {}
    for its in (1, iterations):
        t0 = time.perf_counter()
        models[its] = SparkGMM(k=k, maxIter=its, tol=0.0, seed=0).fit(data)
        times[its] = time.perf_counter() - t0
    model = models[iterations]
    weights = np.asarray(model.weights)
    rows = model.gaussiansDF.collect()
    means = np.array([r["mean"].toArray() for r in rows])
    covs = np.array([r["cov"].toArray() for r in rows])
    ll = float(model.summary.logLikelihood)
    session.stop()
    return {"contender": f"Spark {__import__('pyspark').__version__} local[{cores}]",
            "s_per_iteration": (times[iterations] - times[1]) / max(1, iterations - 1),
            "fit_s": times[iterations], "fit_1_iteration_s": times[1], "rows": n,
            "read_and_cache_s": cache_s, "weights": weights, "means": means,
            "covariances": covs, "spark_summary_log_likelihood_per_row": ll / n}


def spark_model(res: dict, d: int):
    from gmm_desktop.engine import GaussianMixture
    from gmm_desktop.plugin_api import cholesky_precision_from_covariances

    sm = GaussianMixture(len(res["weights"]), covariance_type="full")
    sm.weights_, sm.means_, sm.covariances_ = res["weights"], res["means"], res["covariances"]
    sm.precisions_cholesky_ = cholesky_precision_from_covariances(res["covariances"])
    sm.n_features_in_ = d
    return sm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data", nargs="?", default="/tmp/gmm_big")
    ap.add_argument("--files", type=int, default=0, help="use the first N files (0: all)")
    ap.add_argument("--components", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--memory-limit", default="2GB", help="per Dask worker")
    ap.add_argument("--spark-memory", default="8g")
    ap.add_argument("--skip", nargs="*", default=[], choices=["memory", "dask", "spark"])
    args = ap.parse_args()
    from gmm_desktop import outofcore
    from gmm_desktop.engine import GaussianMixture

    files = sorted(str(p) for p in Path(args.data).glob("*.parquet"))
    if args.files:
        files = files[: args.files]
    k, its = args.components, args.iterations
    env = {v: os.environ.get(v) for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    print(json.dumps({"files": len(files), "components": k, "iterations": its, "env": env,
                      "load_average": os.getloadavg()}), flush=True)

    with outofcore.connect("local", n_workers=args.cores, memory_limit=args.memory_limit):
        table = outofcore.open_table(_folder_of(files, args.data))
        feats = outofcore.prepare(table, scaling="none")
        sample = np.asarray(outofcore.plot_sample(feats.X, 100_000, seed=0).rows)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = GaussianMixture(k, random_state=0, max_iter=0).fit(sample)
        init = {"weights_init": start.weights_, "means_init": start.means_,
                "precisions_init": start.precisions_}

        def mean_loglik(model) -> float:
            return float(outofcore.score_samples(model, feats.X).mean().compute())

        results = []
        if "dask" not in args.skip:
            stages: list[str] = []

            def progress(stage: str, fraction: float) -> bool:
                if not stages or stages[-1] != stage:
                    stages.append(stage)
                return False

            with PeakRSS() as rss, outofcore.options(progress=progress):
                s, gm = fit_ours(feats.X, k, its, init)
            kept = "reading the data into memory" in stages
            results.append({
                "contender": f"gmm-desktop out of core (LocalCluster, {args.cores} worker "
                f"processes, {args.memory_limit} each; blocks "
                f"{'kept in memory' if kept else 'read from Parquet every iteration'})",
                "s_per_iteration": s, "rows": feats.n_used,
                "peak_rss_tree_GB": round(rss.peak / 1e9, 3),
                "final_mean_log_likelihood": mean_loglik(gm), "model": gm,
            })
            print(json.dumps({a: v for a, v in results[-1].items() if a != "model"}),
                  flush=True)
        d = len(feats.columns)
        spark_res = None
        if "spark" not in args.skip:
            try:
                spark_res = spark(files, k, its, args.cores, args.spark_memory)
            except Exception as exc:  # Spark could not run (memory, Java): say so
                print(json.dumps({"contender": "Spark", "error": f"{type(exc).__name__}: "
                                  f"{str(exc)[:300]}"}), flush=True)
            else:
                sm = spark_model(spark_res, d)
                out = {a: v for a, v in spark_res.items() if isinstance(v, str | float | int)}
                out["final_mean_log_likelihood"] = mean_loglik(sm)
                print(json.dumps(out), flush=True)
    if "memory" not in args.skip:
        X = read_in_memory(files, feats.columns)
        s, gm = fit_ours(X, k, its, init)
        out = {"contender": "gmm-desktop in memory (GaussianMixture.fit, 2 threads)",
               "s_per_iteration": s, "rows": X.shape[0],
               "final_mean_log_likelihood": float(gm.score(X))}
        if results:
            out["dask_over_memory"] = results[0]["s_per_iteration"] / s
            np.testing.assert_allclose(results[0]["model"].means_, gm.means_, rtol=1e-8)
        print(json.dumps(out), flush=True)
    print(json.dumps({"load_average_at_end": os.getloadavg()}), flush=True)


if __name__ == "__main__":
    main()
