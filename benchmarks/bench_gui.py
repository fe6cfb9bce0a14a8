"""GUI at 1,000,000 rows: opening, fitting in the background, first drawing of the scatter.

Run by hand (offscreen):  QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui.py [N_ROWS]

For each phase it reports the wall time and the gaps of a 10 ms GUI timer (the event loop
is responsive if the gaps stay small). The first drawing is timed from the moment the
controller hands over the scatter view until the window has been painted once.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np


def main(n_rows: int = 1_000_000) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    tmp = Path(tempfile.mkdtemp(prefix="gmm-bench-"))
    os.environ.setdefault("GMM_DESKTOP_STATE_DIR", str(tmp / "state"))
    os.environ.setdefault("GMM_DESKTOP_SETTINGS_DIR", str(tmp / "settings"))
    app = QApplication.instance() or QApplication([])
    from gmm_desktop.gui import app as gui_app
    from gmm_desktop.gui.main_window import MainWindow

    gui_app._leave_a_core_for_the_gui()
    rng = np.random.default_rng(0)
    k_true = 4
    centers = rng.normal(0, 6, (k_true, 4))
    labels = rng.integers(0, k_true, n_rows)
    X = centers[labels] + rng.normal(size=(n_rows, 4))
    import pandas as pd

    path = tmp / "big.parquet"
    pd.DataFrame(X, columns=["a", "b", "c", "d"]).to_parquet(path)

    stamps: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: stamps.append(time.perf_counter()))

    def phase(name: str, start, done) -> None:
        stamps.clear()
        timer.start()
        t0 = time.perf_counter()
        start()
        while not done():
            app.processEvents()
            time.sleep(0.001)
        took = time.perf_counter() - t0
        timer.stop()
        gaps = np.diff(stamps) * 1000 if len(stamps) > 1 else np.array([0.0])
        print(
            f"{name:<28} {took:7.2f} s   GUI timer gaps: median {np.median(gaps):5.1f} ms, "
            f"p99 {np.percentile(gaps, 99):6.1f} ms, max {gaps.max():6.1f} ms"
        )

    w = MainWindow(ask_restore=lambda p: False)
    w.resize(1400, 900)
    w.show()
    c = w.controller
    phase("warm-up (plugins, kernels)", c.warm_up, lambda: not c.is_busy())
    phase(f"open {n_rows:,} rows (parquet)", lambda: c.open_file(path),
          lambda: c.has_data and not c.is_busy())
    w.plot.points.paint_count = 0
    app.processEvents()
    phase(
        "fit K=4 full, 20 iterations",
        lambda: c.fit(n_components=4, max_iter=20, tol=0.0, random_state=0),
        lambda: c.has_model and not c.is_busy(),
    )
    # first drawing of the coloured scatter with ellipses, from the controller's view
    t0 = time.perf_counter()
    c.refresh()  # what a fit's completion does: build the view, then draw it
    t_view = time.perf_counter() - t0
    before = w.plot.points.paint_count
    w.plot.viewport().repaint()
    app.processEvents()
    t_total = time.perf_counter() - t0
    assert w.plot.points.paint_count > before
    print(
        f"first drawing, {w.plot.points.n_points:,} points in {w.plot.points.n_colours} "
        f"colours, {w.plot.n_ellipse_outlines} ellipse outlines: {t_total:.3f} s "
        f"(view building {t_view - w.plot.last_set_seconds:.3f} s, plot items "
        f"{w.plot.last_set_seconds:.3f} s, painting the points "
        f"{w.plot.points.last_paint_seconds:.3f} s)"
    )
    t0 = time.perf_counter()
    c.set_view(axes="pca", colour_by="uncertainty")
    w.plot.viewport().repaint()
    app.processEvents()
    print(f"switch to PCA axes + uncertainty colours: {time.perf_counter() - t0:.3f} s")
    shot = Path("/tmp/gmm-shots/bench-1M.png")
    shot.parent.mkdir(exist_ok=True)
    w.grab().save(str(shot))
    print(f"screenshot: {shot}")
    c.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
