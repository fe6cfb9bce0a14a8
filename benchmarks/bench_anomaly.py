"""Benchmark: outlier detection on synthetic data with known injected outliers.

Inliers come from a 3-component Gaussian mixture in 4 dimensions (n = 2000); outliers are
drawn uniformly from the data's bounding box enlarged by half its width on each side,
keeping only points farther than the 0.999 chi-square radius from every inlier component
(so that they are genuine outliers). For each contamination level every method scores all
rows; we report ROC-AUC and precision at n (n = the number of true outliers) of:

* a plain 3-component mixture (score: −log-density);
* the three refit strategies (score: −log-density under the refitted model), with the
  threshold at the true contamination for trim-and-refit;
* scikit-learn's EllipticEnvelope and IsolationForest, measured in the same run.

Run: ``python benchmarks/bench_anomaly.py [--seeds 3]``. Times are wall-clock seconds on
whatever machine runs it (a shared one gives noisy times).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy import stats
from sklearn.covariance import EllipticEnvelope
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from gmm_desktop.engine import GaussianMixture
from gmm_desktop.engine.anomaly import ThresholdSpec, run_refit
from gmm_desktop.registry import get_registry

D, N, K = 4, 2000, 3


def make_data(contamination: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    n_out = round(contamination * N)
    n_in = N - n_out
    means = rng.uniform(-6, 6, (K, D))
    covs = []
    for _ in range(K):
        a = rng.normal(size=(D, D))
        covs.append(a @ a.T / D + 0.3 * np.eye(D))
    weights = np.array([0.5, 0.3, 0.2])
    counts = rng.multinomial(n_in, weights)
    inliers = np.vstack(
        [rng.multivariate_normal(means[k], covs[k], counts[k]) for k in range(K)]
    )
    low, high = inliers.min(axis=0), inliers.max(axis=0)
    span = high - low
    radius2 = stats.chi2.ppf(0.999, D)
    precisions = [np.linalg.inv(c) for c in covs]
    outliers: list[np.ndarray] = []
    while len(outliers) < n_out:
        x = rng.uniform(low - 0.5 * span, high + 0.5 * span)
        if all((x - means[k]) @ precisions[k] @ (x - means[k]) > radius2 for k in range(K)):
            outliers.append(x)
    X = np.vstack([inliers, *([np.array(outliers)] if outliers else [])])
    y = np.r_[np.zeros(n_in, bool), np.ones(n_out, bool)]
    order = rng.permutation(N)
    return X[order], y[order]


def precision_at_n(score: np.ndarray, y: np.ndarray) -> float:
    n = int(y.sum())
    top = np.argsort(-score, kind="stable")[:n]
    return float(y[top].mean())


def methods(X: np.ndarray, contamination: float, seed: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        plain = GaussianMixture(K, n_init=3, random_state=seed).fit(X)
        base_time = time.perf_counter() - t
        yield "plain mixture", -plain.score_samples(X), base_time
        spec = ThresholdSpec("contamination", contamination)
        for name, params in (
            ("trim-and-refit", {}),
            ("iterative-trimming", {"alpha": 0.25}),
            ("noise-component", {}),
        ):
            t = time.perf_counter()
            strategy = get_registry().create("refit", name).set_params(**params)
            res = run_refit(strategy, plain, X, spec)
            took = time.perf_counter() - t + base_time
            yield name, -res.scores.log_density, took
        t = time.perf_counter()
        ee = EllipticEnvelope(contamination=max(contamination, 0.01), random_state=seed).fit(X)
        yield "EllipticEnvelope", -ee.score_samples(X), time.perf_counter() - t
        t = time.perf_counter()
        iso = IsolationForest(random_state=seed).fit(X)
        yield "IsolationForest", -iso.score_samples(X), time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="datasets per level (default 3)")
    parser.add_argument(
        "--levels", default="0.01,0.05,0.1,0.2", help="contamination levels (comma list)"
    )
    args = parser.parse_args()
    levels = [float(v) for v in args.levels.split(",")]
    print(f"n={N}, d={D}, inlier components={K}, seeds per level={args.seeds}")
    print(f"{'contamination':>13} {'method':<20} {'ROC-AUC':>8} {'prec@n':>7} {'seconds':>8}")
    for level in levels:
        results: dict[str, list[tuple[float, float, float]]] = {}
        for seed in range(args.seeds):
            X, y = make_data(level, seed)
            for name, score, took in methods(X, level, seed):
                results.setdefault(name, []).append(
                    (roc_auc_score(y, score), precision_at_n(score, y), took)
                )
        for name, rows in results.items():
            auc, prec, took = np.mean(rows, axis=0)
            print(f"{level:>13.2f} {name:<20} {auc:>8.4f} {prec:>7.3f} {took:>8.2f}")


if __name__ == "__main__":
    main()
