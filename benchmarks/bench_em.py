"""EM speed and memory: gmm-desktop's engine against scikit-learn, side by side.

Both engines fit the same data from the same initial parameters (``weights_init``,
``means_init``, ``precisions_init``) for a fixed number of iterations (``tol=0``). Each
(configuration, engine) runs in its own subprocess so that peak memory is measured
cleanly: the peak resident set is reset (``/proc/self/clear_refs``) after the data is made
and the warm-up fit is done, and the timed fit's high-water mark minus the resident set at
that moment is the memory *beyond the data*. ``tracemalloc`` peaks (numpy allocations
only) are measured in a separate one-iteration fit.

``numba-direct`` is our numba engine held to the per-component full-covariance kernel
(``GMM_DESKTOP_FULL_KERNEL=direct``; the one this project used before the all-component
GEMM kernel), for the full and tied types.

**The floor.** The arithmetic floor of a full-covariance iteration is two d × d products
per row and component (the E-step's ``(x − μ) U`` and the M-step's ``r (x − μ)(x − μ)ᵀ``),
``4 N K d²`` flops, at the machine's DGEMM speed, measured in the same run (a 2000 × 2000
product on every core, best of several, before and after the configurations). The table
gives each configuration's floor and our time over it.

``sklearn1`` is scikit-learn run under ``threadpoolctl.threadpool_limits(1, "blas")``: on a
busy 2-core machine OpenBLAS's thread hand-offs in its many tiny d × d solves can dominate
scikit-learn's time, so this is the fairer baseline (our engine limits BLAS the same way
while it fits).

Time per iteration is ``(t(fit with 1 + n iterations) − t(fit with 1 iteration)) / n``,
which cancels validation, initialisation and scikit-learn's final E-step; the best of
``--repeat`` runs is kept. The first fit in each of our processes is a warm-up (numba
loads its compiled kernels from the on-disk cache, or compiles them).

Usage::

    python benchmarks/bench_em.py                 # the issue's configurations, full and diag
    python benchmarks/bench_em.py --quick         # small and fast
    python benchmarks/bench_em.py --configs 1000000x10x8 --cov full --iters 5
    python benchmarks/bench_em.py --compile-check # numba compile and cached-load times
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

DEFAULT_CONFIGS = ["100000x2x3", "1000000x2x5", "1000000x10x8", "200000x50x10"]
QUICK_CONFIGS = ["20000x2x3", "50000x5x4", "20000x20x5"]
ENGINES = ("sklearn", "sklearn1", "numba", "numba-direct", "numpy")


# --------------------------------------------------------------------------- the worker


def make_problem(n: int, d: int, k: int, cov: str, seed: int, dtype: str):
    """Data from a random mixture, and initial parameters every engine starts from."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 4.0, size=(k, d))
    scales = rng.uniform(0.5, 1.5, size=(k, d))
    X = np.empty((n, d), dtype=dtype)
    step = 65536  # made in chunks so the generation's temporaries stay small
    for start in range(0, n, step):
        m = min(step, n - start)
        label = rng.integers(0, k, size=m)
        X[start : start + m] = centres[label] + rng.normal(size=(m, d)) * scales[label]
    init_rng = np.random.default_rng(seed + 1)
    means = X[init_rng.choice(n, size=k, replace=False)].astype(np.float64)
    weights = np.full(k, 1.0 / k)
    var = X[: min(n, 100_000)].astype(np.float64).var(axis=0)
    if cov == "full":
        precisions = np.repeat(np.diag(1.0 / var)[None], k, axis=0)
    elif cov == "diag":
        precisions = np.repeat((1.0 / var)[None], k, axis=0)
    elif cov == "spherical":
        precisions = np.full(k, 1.0 / var.mean())
    else:  # tied
        precisions = np.diag(1.0 / var)
    return X, weights, means, precisions


def _rss_now() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_rss() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(args: argparse.Namespace) -> dict:
    """Fit one engine on one configuration; return the measurements as a dict."""
    if args.engine == "numpy":
        os.environ["GMM_DESKTOP_DISABLE_NUMBA"] = "1"
    if args.engine == "numba-direct":
        os.environ["GMM_DESKTOP_FULL_KERNEL"] = "direct"
    import tracemalloc

    import numpy as np

    warnings.filterwarnings("ignore")  # both engines warn that max_iter was reached
    n, d, k = args.n, args.d, args.k
    X, weights, means, precisions = make_problem(n, d, k, args.cov, args.seed, args.dtype)
    limit = None
    if args.engine.startswith("sklearn"):
        from sklearn.mixture import GaussianMixture

        if args.engine == "sklearn1":  # scikit-learn with BLAS held to one thread
            from threadpoolctl import threadpool_limits

            limit = threadpool_limits(1, user_api="blas")
    else:
        from gmm_desktop.engine import GaussianMixture, _em

        if _em.backend() != args.engine.split("-")[0]:
            return {"error": f"backend is {_em.backend()} ({_em.backend_problem()})"}

    def fit(max_iter: int):
        model = GaussianMixture(
            k,
            covariance_type=args.cov,
            max_iter=max_iter,
            tol=0.0,
            weights_init=weights,
            means_init=means,
            precisions_init=precisions,
        )
        t0 = time.perf_counter()
        model.fit(X)
        return time.perf_counter() - t0, model

    warm, _ = fit(1)  # numba: load (or compile) the kernels
    rss_data = _rss_now()
    reset = _reset_peak()
    best = np.inf
    lower_bound = None
    for _ in range(args.repeat):
        t_long, model = fit(1 + args.iters)
        t_short, _ = fit(1)
        best = min(best, (t_long - t_short) / args.iters)
        lower_bound = float(model.lower_bound_)
    peak_extra = _peak_rss() - rss_data if reset else None
    tracemalloc.start()
    fit(1)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if limit is not None:
        limit.restore_original_limits()
    return {
        "ms_per_iter": best * 1e3,
        "lower_bound": lower_bound,
        "n_iter": int(model.n_iter_),
        "peak_extra_mb": None if peak_extra is None else peak_extra / 2**20,
        "traced_peak_mb": traced / 2**20,
        "warmup_s": warm,
    }


# --------------------------------------------------------------------------- the driver


def environment_report() -> list[str]:
    lines = []
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                "OMP_NUM_THREADS", "NUMBA_CACHE_DIR", "GMM_DESKTOP_NUM_THREADS"):
        lines.append(f"{var}={os.environ.get(var, '(not set)')}")
    try:
        import numpy  # noqa: F401
        import sklearn.mixture  # noqa: F401
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            lines.append(
                f"threadpool: {info.get('internal_api')} {info.get('version')} "
                f"{info.get('architecture', '')} threads={info.get('num_threads')} "
                f"({os.path.basename(info.get('filepath', ''))})"
            )
    except ImportError as exc:
        lines.append(f"threadpoolctl unavailable: {exc}")
    try:
        import numba

        lines.append(f"numba {numba.__version__}")
    except ImportError:
        lines.append("numba not installed")
    from gmm_desktop.engine import _em

    lines.append(f"engine backend: {_em.backend()}; threads per pass: {_em.n_threads()}")
    lines.append(f"cores: {os.cpu_count()}; load average: {os.getloadavg()}")
    return lines


def run_worker(config: tuple[int, int, int], cov: str, engine: str, args) -> dict:
    n, d, k = config
    cmd = [
        sys.executable, os.path.abspath(__file__), "--worker", "--engine", engine,
        "--n", str(n), "--d", str(d), "--k", str(k), "--cov", cov,
        "--iters", str(args.iters), "--repeat", str(args.repeat),
        "--seed", str(args.seed), "--dtype", args.dtype,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def compile_check() -> None:
    """Compile time with an empty cache, then the cached load, in fresh processes."""
    code = (
        "import time, numpy as np\n"
        "t0 = time.perf_counter()\n"
        "from gmm_desktop.engine import GaussianMixture\n"
        "t1 = time.perf_counter()\n"
        "X = np.random.default_rng(0).normal(size=(500, 3))\n"
        "for cov in ('full', 'diag'):\n"
        "    for dt in (np.float64, np.float32):\n"
        "        GaussianMixture(2, covariance_type=cov, max_iter=2, random_state=0)"
        ".fit(X.astype(dt))\n"
        "t2 = time.perf_counter()\n"
        "print(f'import {t1 - t0:.2f} s, first fits (4 kernels) {t2 - t1:.2f} s')\n"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        env.pop("GMM_DESKTOP_DISABLE_NUMBA", None)
        for label in ("empty cache (compile)", "warm cache (load)"):
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                 text=True, check=False)
            print(f"{label:22s}: {out.stdout.strip() or out.stderr.strip()[-300:]}")
    print("(NUMBA_CACHE_DIR was a fresh temporary directory; installed packages cache in "
          "their __pycache__ when writable, else in numba's user cache directory.)")


def dgemm_gflops(repeat: int = 5, n: int = 2000) -> float:
    """The machine's DGEMM speed (GFLOP/s) on every core: best of ``repeat`` products."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a, b = rng.random((n, n)), rng.random((n, n))
    c = np.empty((n, n))
    best = np.inf
    with threadpool_limits(os.cpu_count() or 1, user_api="blas"):
        np.dot(a, b, out=c)
        for _ in range(repeat):
            t0 = time.perf_counter()
            np.dot(a, b, out=c)
            best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def floor_ms(config: tuple[int, int, int], cov: str, gflops: float) -> float | None:
    """``4 N K d²`` flops at ``gflops`` (full and tied; ``None`` for the other types)."""
    if cov not in ("full", "tied"):
        return None
    n, d, k = config
    return 4.0 * n * k * d * d / (gflops * 1e9) * 1e3


def format_row(
    config: tuple[int, int, int], cov: str, res: dict[str, dict], floor: float | None = None
) -> str:
    """One table row: times, speed-ups, memory and lower-bound agreement."""
    ok = {e: r for e, r in res.items() if "error" not in r}

    def get(e: str, key: str):
        return ok[e][key] if e in ok else None

    def mem(e: str) -> str:
        if e not in ok:
            return "-"
        return f"{_fmt(ok[e]['peak_extra_mb'], '.0f')} ({ok[e]['traced_peak_mb']:.0f})"

    def rel(a: str, b: str):
        la, lb = get(a, "lower_bound"), get(b, "lower_bound")
        if la is None or lb is None:
            return None
        return abs(la - lb) / abs(la)

    sk, sk1, nb, nbd, npy = (get(e, "ms_per_iter") for e in ENGINES)

    def ratio(a, b) -> str:
        return _fmt(a / b if a and b else None, "6.1f")

    n, d, k = config
    return (
        f"{n:>8} {d:>3} {k:>3} {cov:>5} | {_fmt(sk, '8.1f')} {_fmt(sk1, '8.1f')} "
        f"{_fmt(nb, '8.1f')} {_fmt(nbd, '8.1f')} {_fmt(npy, '8.1f')} | "
        f"{_fmt(floor, '7.1f')} {ratio(nb, floor)} {ratio(nbd, floor)} | "
        f"{ratio(sk, nb)} {ratio(sk1, nb)} {ratio(nbd, nb)} {ratio(sk1, npy)} | "
        f"{mem('sklearn'):>10} {mem('numba'):>9} {mem('numpy'):>9} | "
        f"{_fmt(rel('sklearn', 'numba'), '8.1e')} {_fmt(rel('numba-direct', 'numba'), '8.1e')}"
        f" {_fmt(rel('sklearn', 'numpy'), '8.1e')}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small configurations")
    parser.add_argument("--configs", nargs="+", help="NxDxK, e.g. 1000000x10x8")
    parser.add_argument("--cov", nargs="+", default=["full", "diag"],
                        help="covariance types (full diag tied spherical)")
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--iters", type=int, default=None,
                        help="timed iterations (default 5; 10 with --quick)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs, best kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--compile-check", action="store_true",
                        help="only measure numba compile and cached-load times")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--d", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iters is None:
        args.iters = 10 if args.quick else 5

    if args.worker:
        args.cov = args.cov[0]
        print(json.dumps(worker(args)))
        return
    if args.compile_check:
        compile_check()
        return

    names = args.configs or (QUICK_CONFIGS if args.quick else DEFAULT_CONFIGS)
    configs = [tuple(int(v) for v in name.lower().split("x")) for name in names]
    print("\n".join(environment_report()))
    gflops = [dgemm_gflops()]
    print(f"DGEMM at the start: {gflops[0]:.1f} GFLOP/s on {os.cpu_count()} cores")
    print(f"dtype {args.dtype}; {args.iters} timed iterations after a warm-up fit; "
          f"best of {args.repeat}. Memory: peak RSS beyond the data (tracemalloc peak).")
    header = (
        f"{'N':>8} {'D':>3} {'K':>3} {'cov':>5} | {'sklearn':>8} {'sk 1thr':>8} "
        f"{'numba':>8} {'nb-dir':>8} {'numpy':>8} | {'floor':>7} {'nb/fl':>6} {'nbd/fl':>6} | "
        f"{'sk/nb':>6} {'sk1/nb':>6} {'nbd/nb':>6} {'sk1/np':>6} | "
        f"{'sk MB':>10} {'numba MB':>9} {'numpy MB':>9} | {'Δlb nb':>8} {'Δlb nbd':>8} "
        f"{'Δlb np':>8}"
    )
    print("times in ms per iteration; floor = 4 N K d² flops at the DGEMM speed (the best "
          "of this run's measurements); nb/fl = numba time over the floor; other ratios are "
          "speed-ups (their time / numba's); Δlb = |lower bound − scikit-learn's| / "
          "|scikit-learn's| (Δlb nbd: numba-direct's against numba's)")
    print(header)
    print("-" * len(header))
    rows = []
    for config in configs:
        for cov in args.cov:
            res = {e: run_worker(config, cov, e, args) for e in args.engines}
            for e, r in res.items():
                if "error" in r:
                    print(f"  {e} failed: {r['error']}")
            gflops.append(dgemm_gflops())
            rows.append((config, cov, res))
            print(format_row(config, cov, res, floor_ms(config, cov, max(gflops))), flush=True)
    best = max(gflops)
    print(f"DGEMM: best {best:.1f} GFLOP/s, worst {min(gflops):.1f} over this run's "
          f"{len(gflops)} measurements; the rows again with the floor at the best:")
    for config, cov, res in rows:
        print(format_row(config, cov, res, floor_ms(config, cov, best)))
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
