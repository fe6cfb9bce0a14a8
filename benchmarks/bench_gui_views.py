"""The mixture views at 1,000,000 rows × 4 features, K = 4: time to rebuild and draw each
view (scatter matrix, marginals, χ² Q–Q, uncertainty), its paint time, and the GUI event
loop's gaps meanwhile (a 10 ms timer), against baselines measured in the same run: the
idle event loop and the main scatter's refresh. Run by hand:

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui_views.py [--rows N] [--why]

``--why`` prints where the GUI thread was during each view's largest gaps (see _gaps.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_tmp = tempfile.mkdtemp()
os.environ.setdefault("GMM_DESKTOP_CONFIG_DIR", os.path.join(_tmp, "config"))
os.environ.setdefault("GMM_DESKTOP_STATE_DIR", os.path.join(_tmp, "state"))
os.environ.setdefault("GMM_DESKTOP_SETTINGS_DIR", os.path.join(_tmp, "settings"))

import numpy as np  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def main(n: int, why: bool = False) -> None:
    os.makedirs(os.environ["GMM_DESKTOP_STATE_DIR"], exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True)  # as the application does
    from gmm_desktop.gui.main_window import MainWindow

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 1, (n // 4, 4)) for c in (0, 3, 6, 9)])
    path = os.path.join(_tmp, "big.npy")
    np.save(path, X)
    w = MainWindow(ask_restore=lambda p: False)
    w.resize(1500, 950)
    w.show()
    c = w.controller

    def wait(cond, limit: float = 600.0) -> None:
        started = time.time()
        while not cond():
            app.processEvents()
            time.sleep(0.002)
            if time.time() - started > limit:
                raise SystemExit("timed out")

    c.open_file(path)
    wait(lambda: c.has_data and not c.is_busy())
    c.fit(n_components=4, covariance_types=("full",), random_state=0, max_iter=15)
    wait(lambda: c.has_model and not c.is_busy())
    stamps: list[float] = []
    from _gaps import GapSampler

    sampler = GapSampler() if why else None
    if sampler is not None:
        sampler.watch(stamps)
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: stamps.append(time.perf_counter()))

    def gaps(fn) -> np.ndarray:
        stamps.clear()
        timer.start()
        fn()
        timer.stop()
        return np.diff(stamps) * 1000

    def idle() -> None:
        for _ in range(700):
            app.processEvents()
            time.sleep(0.002)

    g = gaps(idle)
    print(f"baseline, idle event loop: gap median {np.median(g):.1f} ms, max {g.max():.1f} ms")
    started = time.perf_counter()
    c.refresh()
    app.processEvents()
    base = time.perf_counter() - started
    print(f"baseline, main scatter refresh at {n:,} rows: {1000 * base:.0f} ms")
    views = w.show_mixture_views("matrix")
    w.float_mixture_views()
    wait(lambda: views.is_ready("matrix"))
    for tab in ("matrix", "marginals", "qq", "uncertainty"):
        w.show_mixture_views(tab)
        wait(lambda tab=tab: views.is_ready(tab))
        views.stale.add(tab)
        took = [0.0]

        def rebuild(tab=tab, took=took) -> None:
            t0 = time.perf_counter()
            views.refresh(force=True)
            wait(lambda: views.is_ready(tab))
            for _ in range(10):
                app.processEvents()
                time.sleep(0.002)
            took[0] = time.perf_counter() - t0

        g = gaps(rebuild)
        t0 = time.perf_counter()
        views.figure().grab()
        paint = time.perf_counter() - t0
        print(f"{tab:<11} rebuilt and drawn in {1000 * took[0]:5.0f} ms "
              f"({took[0] / base:.1f}× the main refresh); paint {1000 * paint:4.0f} ms; "
              f"event-loop gap median {np.median(g):.1f} ms, max {g.max():.1f} ms")
        if sampler is not None:
            sampler.report()
            sampler.watch(stamps)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--why", action="store_true", help="sample the GUI thread in gaps")
    options = parser.parse_args()
    main(options.rows, options.why)
