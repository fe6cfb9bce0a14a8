"""Import preview vs full load on a big CSV (run by hand).

    .venv/bin/python benchmarks/bench_preview.py [--rows 9000000]
        [--path /tmp/big_preview.csv] [--engine pyarrow]

Writes (once) a CSV of 10 float columns and an ID, then times, in the same run:
preview_table(path, n_rows=50) (median of 5) and load_table(path) (once), with the
same (detected) options, and checks that the preview's rows equal the full load's first
50 rows.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gmm_desktop.data import load_table, preview_table, readers


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=9_000_000)
    ap.add_argument("--path", default="/tmp/big_preview.csv")
    ap.add_argument("--engine", choices=("auto", "c", "pyarrow"), default="auto")
    args = ap.parse_args()
    readers.ENGINE = args.engine
    path = Path(args.path)
    if not path.exists():
        rng = np.random.default_rng(0)
        step = 500_000
        with open(path, "w") as fh:
            for start in range(0, args.rows, step):
                n = min(step, args.rows - start)
                frame = pd.DataFrame(rng.normal(size=(n, 10)).round(6),
                                     columns=[f"x{j}" for j in range(10)])
                frame.insert(0, "id", np.arange(start, start + n))
                frame.to_csv(fh, index=False, header=start == 0)
    size = path.stat().st_size / 1e9
    print(f"file: {path} {size:.2f} GB; engine: "
          f"{'pyarrow' if readers.use_arrow_engine() else 'pandas C'}; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE')}; load {os.getloadavg()}")
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        preview = preview_table(path, n_rows=50)
        times.append(time.perf_counter() - t0)
    assert preview.ok, preview.error
    t0 = time.perf_counter()
    full = load_table(path)
    t_full = time.perf_counter() - t0
    pd.testing.assert_frame_equal(preview.rows, full.frame.iloc[:50], check_dtype=False)
    med = statistics.median(times)
    print(f"preview (50 rows): median {1e3 * med:.1f} ms (min {1e3 * min(times):.1f}, "
          f"max {1e3 * max(times):.1f}); full load {t_full:.1f} s ({full.n_rows:,} rows); "
          f"ratio {t_full / med:,.0f}x; preview rows equal the full load's first 50: yes")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
