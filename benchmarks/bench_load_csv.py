"""Benchmark: ``gmm_desktop.data.load_table`` against a plain ``pandas.read_csv``.

Target (issue "Loading"): a 1,000,000-row × 10-column CSV loads in at most 1.5 × the
time of ``pandas.read_csv`` on the same file.

    python benchmarks/bench_load_csv.py [--rows 1000000] [--cols 10] [--repeats 5]

The file is generated in a temporary folder (random normal floats written with full
precision, plus an integer ``id`` column if ``--with-id``), then the two readers are
timed alternately in the same process, ``--repeats`` times each, after one untimed
warm-up each (so both see a warm page cache).  ``load_table`` is timed both without and
with a progress callback (the GUI always passes one).  The median ratio is compared
with the target; the exit status is 1 if it is missed.  ``--engine`` forces the parser
``load_table`` uses (by default pyarrow with four or more usable cores, else pandas' C
engine, see ``gmm_desktop.data.readers.use_arrow_engine``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

TARGET = 1.5


def make_file(path: Path, rows: int, cols: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    table = pa.table({f"f{j}": rng.standard_normal(rows) for j in range(cols)})
    pacsv.write_csv(table, path)


def time_once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--engine", choices=["auto", "pyarrow", "c"], default="auto",
        help="CSV parser used by load_table (default: chosen from the usable cores)",
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from gmm_desktop.data import load_table, readers

    readers.ENGINE = args.engine
    engine = "pyarrow" if readers.use_arrow_engine() else "pandas C engine"
    print(f"load_table CSV parser: {engine} (--engine {args.engine})")

    print(f"python {platform.python_version()}, pandas {pd.__version__}, pyarrow {pa.__version__}")
    print(f"cpus: {os.cpu_count()}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS"):
        value = os.environ.get(var)
        print(f"{var}: {'set to ' + repr(value) if value is not None else 'not set'}")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.csv"
        t = time_once(lambda: make_file(path, args.rows, args.cols))
        size = path.stat().st_size
        print(f"file: {args.rows:,} rows x {args.cols} columns, {size / 1e6:.1f} MB "
              f"(generated in {t:.1f} s)")

        calls = 0

        def progress(fraction: float, message: str) -> None:
            nonlocal calls
            calls += 1

        def plain() -> None:
            pd.read_csv(path)

        def ours() -> None:
            ds = load_table(path)
            assert ds.n_rows == args.rows and len(ds.numeric_columns) == args.cols

        def ours_progress() -> None:
            load_table(path, progress=progress)

        runs = {"pandas.read_csv": plain, "load_table": ours, "load_table+progress": ours_progress}
        for fn in runs.values():  # warm-up: page cache, imports, thread pools
            fn()
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, fn in runs.items():
                times[name].append(time_once(fn))

    base = statistics.median(times["pandas.read_csv"])
    print(f"\n{'reader':<22}{'median s':>10}{'best s':>9}{'ratio':>8}   all runs (s)")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:<22}{med:>10.3f}{min(values):>9.3f}{med / base:>8.2f}   "
              + " ".join(f"{v:.3f}" for v in values))
    ratio = max(statistics.median(times[n]) for n in runs if n != "pandas.read_csv") / base
    print(f"\nprogress callback calls per load: {calls // (args.repeats + 1)}")
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(f"worst median ratio load_table / pandas.read_csv = {ratio:.2f} "
          f"(target <= {TARGET}): {verdict}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
