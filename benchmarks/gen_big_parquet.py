"""Generate a big Parquet dataset for the out-of-core benchmarks (not committed).

    python benchmarks/gen_big_parquet.py [FOLDER] --rows 50000000 --features 10

writes FOLDER (default /tmp/gmm_big) as files of ``--rows-per-file`` rows (one row group
each): float64 columns x0..x9 drawn from an 8-component Gaussian mixture (random means,
random full covariances; fixed seed), plus 0.1 % uniform outliers. About 80 bytes a row
(4 GB for 50 M rows, uncompressed so reading costs no decompression). Check
``df -h`` first.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("folder", nargs="?", default="/tmp/gmm_big")
    ap.add_argument("--rows", type=int, default=50_000_000)
    ap.add_argument("--features", type=int, default=10)
    ap.add_argument("--components", type=int, default=8)
    ap.add_argument("--rows-per-file", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.folder)
    need = args.rows * args.features * 8
    free = shutil.disk_usage(out.parent if not out.exists() else out).free
    if need > 0.8 * free:
        raise SystemExit(f"need about {need / 1e9:.1f} GB, only {free / 1e9:.1f} GB free")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    d, k = args.features, args.components
    means = rng.normal(0.0, 6.0, size=(k, d))
    chols = []
    for _ in range(k):
        a = rng.normal(size=(d, d)) * 0.4
        chols.append(np.linalg.cholesky(a @ a.T + np.diag(rng.uniform(0.3, 2.0, d))))
    weights = rng.dirichlet(np.full(k, 5.0))
    names = [f"x{i}" for i in range(d)]
    t0 = time.perf_counter()
    done, part = 0, 0
    while done < args.rows:
        n = min(args.rows_per_file, args.rows - done)
        comp = rng.choice(k, size=n, p=weights)
        z = rng.standard_normal((n, d))
        x = np.empty((n, d))
        for j in range(k):
            idx = comp == j
            x[idx] = z[idx] @ chols[j].T + means[j]
        n_out = n // 1000
        x[:n_out] = rng.uniform(-40, 40, size=(n_out, d))
        table = pa.table({names[i]: x[:, i] for i in range(d)})
        pq.write_table(table, out / f"part.{part:05d}.parquet", compression="none",
                       row_group_size=n)
        done += n
        part += 1
        print(f"\r{done:,} rows ({time.perf_counter() - t0:.0f} s)", end="", flush=True)
    print(f"\nwrote {done:,} rows × {d} in {part} files to {out} "
          f"in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
