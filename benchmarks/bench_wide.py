"""Wide tables and scoring memory: time and peak RSS, this version against a baseline.

Three workloads, each in a fresh subprocess (so that peak RSS belongs to it alone):

``wide-diag``
    a 100 × 10,000 CSV (about 6.5 MB) loaded, prepared (standardised), fitted with one
    ``diag`` component and scored (``detect`` at 5 % contamination), as the command line
    does;
``wide-full``
    the same table with a ``full`` covariance: 10,000 × 10,000 matrices from 100 rows are
    singular. It should be refused up front with a clear message, not minutes of work;
``score-5m``
    ``score_rows`` of 5,000,000 × 10 rows under a 3-component full model (fitted on a
    50,000-row sample): the peak RSS beyond the data and the returned scores, and the
    peak of what scoring allocates (``tracemalloc``, which sees numpy's buffers).

The baseline is another git revision of this repository (``--baseline REV``, default the
commit before issue 14's work), extracted with ``git archive`` and run in the same
session, on the same files, with a time limit (``--timeout``).

Run by hand (not a test)::

    .venv/bin/python benchmarks/bench_wide.py                 # every workload, both sides
    .venv/bin/python benchmarks/bench_wide.py --only score-5m --rows 2000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BASELINE = "86c29d7"

WORKER = r'''
import json, os, resource, sys, time, warnings
import numpy as np

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3

def wide(path, covariance_type):
    from gmm_desktop.data import load_table, prepare_features
    from gmm_desktop.engine import GaussianMixture
    from gmm_desktop.engine.anomaly import ThresholdSpec, detect
    out, t0 = {}, time.perf_counter()
    ds = load_table(path)
    out["load_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    prep = prepare_features(ds, scaling="standardize")
    out["prepare_s"] = time.perf_counter() - t
    t = time.perf_counter()
    try:
        model = GaussianMixture(1, covariance_type=covariance_type, random_state=0).fit(prep.X)
    except Exception as exc:
        out["fit_s"] = time.perf_counter() - t
        out["refused"] = f"{type(exc).__name__}: {exc}"[:300]
        out["total_s"] = time.perf_counter() - t0
        out["peak_rss_mb"] = peak_mb()
        return out
    out["fit_s"] = time.perf_counter() - t
    t = time.perf_counter()
    result = detect(model, prep.X, ThresholdSpec("contamination", 0.05))
    out["score_s"] = time.perf_counter() - t
    out["flagged"] = int(result.n_flagged)
    out["total_s"] = time.perf_counter() - t0
    out["peak_rss_mb"] = peak_mb()
    return out

def score(n_rows):
    from gmm_desktop.engine import GaussianMixture
    from gmm_desktop.engine.anomaly import score_rows
    rng = np.random.default_rng(0)
    X = np.empty((n_rows, 10))
    centres = np.array([[0.0] * 10, [4.0] * 10, [-4.0, 4.0] * 5])
    for start in range(0, n_rows, 100_000):
        block = X[start:start + 100_000]
        block[:] = rng.standard_normal(block.shape)
        block += centres[np.arange(start, start + len(block)) % 3]
    sample = X[:: max(1, n_rows // 50_000)]
    model = GaussianMixture(3, covariance_type="full", random_state=0).fit(sample)
    data_mb = X.nbytes / 1e6
    import tracemalloc
    before = rss_mb()
    tracemalloc.start()  # numpy reports its buffers: the exact peak of what scoring allocates
    t = time.perf_counter()
    scores = score_rows(model, X)
    elapsed = time.perf_counter() - t
    traced_peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    k = model.n_components
    outputs_mb = n_rows * (8 * 3 + 8 + 2 * k * 8) / 1e6  # 3 float vectors, ints, 2 (n, K)
    peak = peak_mb()
    return {
        "rows": n_rows, "data_mb": data_mb, "outputs_mb": outputs_mb, "score_s": elapsed,
        "rss_before_mb": before, "peak_rss_mb": peak,
        "beyond_data_and_outputs_mb": peak - before - outputs_mb,
        "allocated_peak_mb": traced_peak,
        "allocated_beyond_outputs_mb": traced_peak - outputs_mb,
        "peak_over_table": peak / data_mb,
        "checksum": float(np.sum(scores.log_density)),
    }

kind, arg = sys.argv[1], sys.argv[2]
warnings.simplefilter("ignore")
result = score(int(arg)) if kind == "score" else wide(arg, kind)
print("RESULT " + json.dumps(result))
'''


def _baseline_tree(revision: str, folder: Path) -> Path:
    """``git archive`` of ``revision``'s package and built-in plugins into ``folder``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "gmm_desktop", "plugins/gmm_desktop_plugins"],
        check=True, capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def _run(kind: str, arg: str, source: Path | None, timeout: float, cwd: Path) -> dict:
    env = dict(os.environ)
    # This version: the installed (editable) package; the baseline: its extracted tree
    # first on the path. The worker runs in a scratch folder, never in a source tree.
    env["PYTHONPATH"] = "" if source is None else f"{source}{os.pathsep}{source / 'plugins'}"
    code = "import gmm_desktop, sys; print('FROM', gmm_desktop.__file__, file=sys.stderr)\n"
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", code + WORKER, kind, arg], capture_output=True, text=True,
            timeout=timeout, env=env, cwd=cwd,
        )
    except subprocess.TimeoutExpired:
        return {"timeout_s": timeout, "wall_s": time.perf_counter() - start}
    origin = next((ln[5:] for ln in done.stderr.splitlines() if ln.startswith("FROM ")), "?")
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return {**json.loads(line[7:]), "package": str(Path(origin).parent.parent)}
    return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}


def _wide_csv(folder: Path) -> Path:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = np.round(rng.standard_normal((100, 10_000)), 2)
    path = folder / "wide_100x10000.csv"
    pd.DataFrame(X, columns=[f"c{j}" for j in range(10_000)]).to_csv(path, index=False)
    return path


def _show(name: str, ours: dict, base: dict) -> None:
    print(f"\n{name}")
    keys = [k for k in dict.fromkeys([*ours, *base]) if k != "checksum"]
    for key in keys:
        a, b = ours.get(key, "-"), base.get(key, "-")
        fa = f"{a:.2f}" if isinstance(a, float) else str(a)
        fb = f"{b:.2f}" if isinstance(b, float) else str(b)
        ratio = ""
        if isinstance(a, float) and isinstance(b, float) and a > 0 and key.endswith(("_s", "_mb")):
            ratio = f"  (baseline / this = {b / a:.1f}×)"
        print(f"  {key:28s} this: {fa:>12s}   baseline: {fb:>12s}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision to compare")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--only", choices=("wide-diag", "wide-full", "score-5m"), action="append")
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows for score-5m")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    args = parser.parse_args()
    which = args.only or ["wide-diag", "wide-full", "score-5m"]
    print(f"load average {os.getloadavg()}; OPENBLAS_CORETYPE="
          f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, OPENBLAS_L2_SIZE="
          f"{os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base_src = None
        if not args.no_baseline:
            (folder / "baseline").mkdir()
            base_src = _baseline_tree(args.baseline, folder / "baseline")
        csv = _wide_csv(folder) if any(w.startswith("wide") for w in which) else None
        for name in which:
            kind, arg = {
                "wide-diag": ("diag", str(csv)),
                "wide-full": ("full", str(csv)),
                "score-5m": ("score", str(args.rows)),
            }[name]
            ours = _run(kind, arg, None, args.timeout, folder)
            base = _run(kind, arg, base_src, args.timeout, folder) if base_src else {}
            _show(f"{name} (baseline {args.baseline})", ours, base)
    print(f"\nload average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
