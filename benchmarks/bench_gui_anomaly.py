"""Threshold drag at 1,000,000 rows: controller update (count, share, flag mask, contour,
flagged table) plus the scatter's flagged-overlay refresh. Run by hand:

    QT_QPA_PLATFORM=offscreen /work/venv/bin/python benchmarks/bench_gui_anomaly.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GMM_DESKTOP_CONFIG_DIR", tempfile.mkdtemp())

import numpy as np
from PySide6.QtWidgets import QApplication


def main(n: int = 1_000_000) -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    from gmm_desktop.gui.main_window import MainWindow

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (n // 2, 2)), rng.normal(4, 1.5, (n - n // 2, 2))])
    path = os.path.join(tempfile.mkdtemp(), "big.npy")
    np.save(path, X)
    w = MainWindow(ask_restore=lambda p: False)
    w.resize(1400, 900)
    w.show()
    c = w.controller

    def wait() -> None:
        while c.is_busy():
            app.processEvents()
            time.sleep(0.01)
        app.processEvents()

    c.open_file(path)
    wait()
    c.fit(n_components=2, max_iter=20)
    wait()
    ld = np.sort(c.run.scored.scores.log_density)
    cuts = np.quantile(ld, np.linspace(0.005, 0.10, 30))
    times = []
    for cut in cuts:
        t = time.perf_counter()
        w.anomaly_panel.drag_to(float(cut))  # controller update + overlay + table + contour
        times.append(time.perf_counter() - t)
    ctl = []
    for cut in cuts:
        t = time.perf_counter()
        c.run.scored.density.count_below(float(cut))
        ctl.append(time.perf_counter() - t)
    times_ms = np.array(times) * 1000
    print(f"{n:,} rows, {len(cuts)} drag steps (flagging 0.5%..10%):")
    print(f"  full drag update (controller + panel + scatter overlay): median "
          f"{np.median(times_ms):.1f} ms, max {times_ms.max():.1f} ms")
    print(f"  count by binary search alone: median {np.median(ctl) * 1e6:.1f} µs")
    w.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
