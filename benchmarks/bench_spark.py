"""This engine (in memory and on Dask) against Spark's GaussianMixture, same data, K, iterations.

    python benchmarks/gen_big_parquet.py /tmp/gmm_big --rows 50000000   # or --rows 10000000
    python benchmarks/bench_spark.py /tmp/gmm_big --files 10 --components 8 --iterations 5

Uses the first ``--files`` files of the dataset (1,000,000 rows each by default, so 10 files
are 10 M rows × 10). Each contender runs ``--iterations`` EM iterations (tol 0) with full
covariances. Spark (``pyspark.ml.clustering.GaussianMixture``, local[``--cores``], the
machine's Java) cannot take initial parameters and reports no per-iteration times, so its
time per iteration is ``(T(iterations) − T(1)) / (iterations − 1)`` on a cached DataFrame,
and its final model is scored by our engine on the same rows: every contender's mean
log-likelihood per row is computed the same way (``GaussianMixture.score``). Ours start
from k-means on a 100,000-row sample (seed 0). Prints one JSON line per contender.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def per_iteration(stamps: list[float]) -> float:
    its = [b - a for a, b in itertools.pairwise(stamps)]
    steady = its[1:] or its
    return sum(steady) / len(steady)


def ours_in_memory(X: np.ndarray, k: int, iterations: int) -> dict:
    from gmm_desktop.engine import GaussianMixture

    sample = X[np.random.default_rng(0).choice(X.shape[0], 100_000, replace=False)]
    init = GaussianMixture(k, random_state=0, max_iter=0).fit(sample)
    gm = GaussianMixture(k, max_iter=iterations, tol=0.0, weights_init=init.weights_,
                         means_init=init.means_, precisions_init=init.precisions_)
    stamps = [time.perf_counter()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X, callback=lambda info: stamps.append(time.perf_counter()))
    return {"contender": "gmm-desktop in memory", "s_per_iteration": per_iteration(stamps),
            "model": gm, "init": init}


def ours_dask(files: list[str], X_in_order: np.ndarray, init, k: int, iterations: int,
              workers: int) -> dict:
    from gmm_desktop import outofcore
    from gmm_desktop.engine import GaussianMixture

    with outofcore.connect("local", n_workers=workers):
        table = outofcore.open_table(files[0] if len(files) == 1 else
                                     str(Path(files[0]).parent / "part.0000[0-9].parquet"))
        feats = outofcore.prepare(table, scaling="none")
        assert feats.n_used == X_in_order.shape[0]
        gm = GaussianMixture(k, max_iter=iterations, tol=0.0, weights_init=init.weights_,
                             means_init=init.means_, precisions_init=init.precisions_)
        stamps = [time.perf_counter()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm.fit(feats.X, callback=lambda info: stamps.append(time.perf_counter()))
    return {"contender": f"gmm-desktop on Dask (LocalCluster {workers} workers, Parquet "
            "re-read every iteration)", "s_per_iteration": per_iteration(stamps), "model": gm}


def spark(files: list[str], k: int, iterations: int, cores: int, memory: str) -> dict:
    from pyspark.ml.clustering import GaussianMixture as SparkGMM
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .config("spark.driver.memory", memory)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    df = session.read.parquet(*files)
    cols = [c for c in df.columns if c.startswith("x")]
    data = VectorAssembler(inputCols=cols, outputCol="features").transform(df).select(
        "features").cache()
    n = data.count()
    times = {}
    models = {}
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
            "weights": weights, "means": means, "covariances": covs,
            "spark_summary_log_likelihood_per_row": ll / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data", nargs="?", default="/tmp/gmm_big")
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--components", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--spark-memory", default="8g")
    ap.add_argument("--skip", nargs="*", default=[], choices=["memory", "dask", "spark"])
    args = ap.parse_args()
    from gmm_desktop.engine import GaussianMixture

    files = sorted(str(p) for p in Path(args.data).glob("part.*.parquet"))[: args.files]
    X = pd.concat([pd.read_parquet(f) for f in files]).to_numpy(dtype=np.float64)
    k, its = args.components, args.iterations
    env = {v: os.environ.get(v) for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    print(json.dumps({"rows": X.shape[0], "features": X.shape[1], "components": k,
                      "iterations": its, "env": env}), flush=True)

    def show(res: dict, model) -> None:
        out = {key: v for key, v in res.items() if isinstance(v, str | float | int)}
        out["final_mean_log_likelihood"] = float(model.score(X))
        print(json.dumps(out), flush=True)

    mem = ours_in_memory(X, k, its)
    if "memory" not in args.skip:
        show(mem, mem["model"])
    if "dask" not in args.skip:
        res = ours_dask(files, X, mem["init"], k, its, args.cores)
        show(res, res["model"])
        np.testing.assert_allclose(res["model"].means_, mem["model"].means_, rtol=1e-8)
    if "spark" not in args.skip:
        res = spark(files, k, its, args.cores, args.spark_memory)
        sm = GaussianMixture(k, covariance_type="full")
        from gmm_desktop.plugin_api import cholesky_precision_from_covariances

        sm.weights_, sm.means_, sm.covariances_ = res["weights"], res["means"], res["covariances"]
        sm.precisions_cholesky_ = cholesky_precision_from_covariances(res["covariances"])
        sm.n_features_in_ = X.shape[1]
        show(res, sm)


if __name__ == "__main__":
    main()
