"""Benchmark: loading an .xlsx workbook, python-calamine (now) against openpyxl (before).

Target (issue 15): ``load_table`` on a 50,000 × 10 workbook is 4.6× faster than
with the openpyxl read-only loop it replaced, and reads every row.

    python benchmarks/bench_excel.py [--rows 50000] [--cols 10] [--repeats 3]

The workbook (random normal floats rounded to 6 decimals, a header row) is written once
with openpyxl into a temporary folder. Then, alternately in the same process and
``--repeats`` times each after one untimed warm-up:

* ``before``: ``load_table`` with the reader it had before this change
  (:func:`read_excel_openpyxl` below, kept verbatim apart from error handling:
  ``openpyxl.load_workbook(read_only=True, data_only=True)``, ``iter_rows`` into a list,
  blank trimming in Python, a DataFrame) - the baseline;
* ``pandas+calamine``: ``pandas.read_excel(engine="calamine")`` alone;
* ``load_table``: the loader as it is now (pandas + calamine, then trimming, header
  detection, numeric checks), what the application runs.

The medians and the ratio ``before`` / ``load_table`` are printed; exit status 1 if the
ratio misses the target or a reader did not return every row.
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

TARGET = 4.6


def make_workbook(path: Path, rows: int, cols: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"f{j}": rng.standard_normal(rows).round(6) for j in range(cols)})
    frame.to_excel(path, index=False, sheet_name="Data", engine="openpyxl")


def read_excel_openpyxl(path: Path, sheet, progress):
    """The previous ``gmm_desktop.data.readers.read_excel`` (openpyxl, read-only mode)."""
    import openpyxl

    from gmm_desktop.data.readers import (
        READ_SHARE,
        RawTable,
        _cell_text,
        _choose,
        default_names,
        looks_like_header,
    )

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        names = [ws.title for ws in book.worksheets]
        title = _choose(names, sheet, path, whole="the workbook has", noun="sheet")
        worksheet = book[title]
        expected = worksheet.max_row or 0
        rows: list[tuple] = []
        for values in worksheet.iter_rows(values_only=True):
            rows.append(values)
            if len(rows) % 1024 == 0:
                fraction = READ_SHARE * len(rows) / expected if expected else 0.0
                progress(fraction, f"Reading {path.name} [{title}]: {len(rows):,} rows")
    finally:
        book.close()

    def blank(row: tuple) -> bool:
        return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)

    first = 0
    while first < len(rows) and blank(rows[first]):
        first += 1
    last = len(rows)
    while last > first and blank(rows[last - 1]):
        last -= 1
    rows = rows[first:last]
    width = max(len(r) for r in rows)
    grid = [tuple(r) + (None,) * (width - len(r)) for r in rows]
    used = [j for j in range(width) if any(r[j] is not None for r in grid)]
    grid = [tuple(r[j] for j in used) for r in grid]
    text_rows = [[_cell_text(v) for v in r] for r in grid[:200]]
    has_header = looks_like_header(text_rows[0], text_rows[1:], ".")
    if has_header:
        names_ = [_cell_text(v).strip() for v in grid[0]]
        body = grid[1:]
    else:
        names_ = default_names(len(used))
        body = grid
    frame = pd.DataFrame(body, columns=pd.RangeIndex(len(used)), dtype=object)
    frame = frame.infer_objects()
    frame.columns = names_
    first_data_row = first + 1 + (1 if has_header else 0)
    return RawTable(frame=frame, fmt="excel", text_cells=True, sheet=title,
                    locate=lambda p: f"row {first_data_row + p} of sheet '{title}'")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--cols", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import gmm_desktop.data.loading as loading
    from gmm_desktop.data import load_table

    def before(path: Path) -> int:
        current = loading.read_excel
        loading.read_excel = read_excel_openpyxl
        try:
            return load_table(path).n_rows
        finally:
            loading.read_excel = current

    readers = {
        "before": before,
        "pandas+calamine": lambda p: len(pd.read_excel(p, engine="calamine")),
        "load_table": lambda p: load_table(p).n_rows,
    }
    print(f"python {platform.python_version()}, pandas {pd.__version__}, "
          f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '<unset>')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '<unset>')}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.xlsx"
        start = time.perf_counter()
        make_workbook(path, args.rows, args.cols)
        print(f"wrote {args.rows:,} x {args.cols} workbook "
              f"({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s")
        ok = True
        for name, read in readers.items():  # warm-up, and every row must come back
            n = read(path)
            if n != args.rows:
                print(f"{name}: read {n} rows, expected {args.rows}")
                ok = False
        times: dict[str, list[float]] = {name: [] for name in readers}
        for _ in range(args.repeats):
            for name, read in readers.items():
                start = time.perf_counter()
                read(path)
                times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:16s} median {medians[name]:6.2f} s  "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    ratio = medians["before"] / medians["load_table"]
    raw = medians["before"] / medians["pandas+calamine"]
    print(f"before / load_table = {ratio:.2f}x (target >= {TARGET}x); "
          f"before / pandas+calamine = {raw:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0 if ok and ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
