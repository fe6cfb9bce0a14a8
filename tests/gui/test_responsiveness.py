"""The event loop stays responsive while a fit runs in the background.

A 10 ms timer records the gaps between its ticks while the main window fits a model on
enough data to take several seconds (live curve, progress bar and all). The requirement
is that the event loop never blocks for more than 100 ms (see the test for how a machine
loaded by other processes is told apart from a blocking design).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from gmm_desktop.gui.main_window import MainWindow

TIMEOUT = 60_000


class GapRecorder:
    def __init__(self, interval_ms: int = 10) -> None:
        self.stamps: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(lambda: self.stamps.append(time.perf_counter()))

    def start(self) -> None:
        self.stamps.clear()
        self.timer.start()

    def stop(self) -> np.ndarray:
        self.timer.stop()
        return np.diff(np.asarray(self.stamps)) * 1000.0


def test_event_loop_never_blocks_during_a_fit(
    qtbot, gmm_state_dir, gmm_settings_dir, tmp_path, monkeypatch
):
    from gmm_desktop.gui import app

    monkeypatch.delenv("GMM_DESKTOP_NUM_THREADS", raising=False)
    app._leave_a_core_for_the_gui()  # what gmm-desktop does at start
    monkeypatch.setenv("GMM_DESKTOP_NUM_THREADS", os.environ["GMM_DESKTOP_NUM_THREADS"])
    rng = np.random.default_rng(0)
    n = 300_000
    X = np.vstack([rng.normal(0, 1, (n // 2, 4)), rng.normal(4, 1.5, (n // 2, 4))])
    path = tmp_path / "big.csv"
    np.savetxt(path, X, delimiter=",", header="a,b,c,d", comments="", fmt="%.5f")
    w = MainWindow(ask_restore=lambda p: False)
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.controller.featuresChanged, timeout=TIMEOUT):
        w.open_path(path)
    qtbot.waitUntil(lambda: not w.controller.is_busy(), timeout=TIMEOUT)
    # as at application start: plugin imports and kernel compilation happen beforehand
    with qtbot.waitSignal(w.controller.warmedUp, timeout=TIMEOUT):
        w.controller.warm_up()
    qtbot.wait(200)

    progress = []
    w.controller.fitProgress.connect(progress.append)
    recorder = GapRecorder()
    w.controller.fit(n_components=5, covariance_types=("full",), tol=0.0, max_iter=100_000,
                     random_state=0, method="plain")
    # The fit keeps running (it never converges with tol=0) through three measurement
    # windows. A blocking design (work on the GUI thread, a stall every iteration) shows in
    # every window; a moment when the machine is overloaded by other processes shows in
    # one. So every window must keep a 10 ms median, and at least one must never see a gap
    # of 100 ms or more.
    windows = []
    for _ in range(3):
        recorder.start()
        qtbot.wait(2000)
        windows.append(recorder.stop())
    with qtbot.waitSignal(w.controller.fitCancelled, timeout=2000):
        w.controller.cancel("fit")
    qtbot.waitUntil(lambda: not w.controller.is_busy(), timeout=TIMEOUT)
    iterations = progress[-1].history[-1][1] if progress and progress[-1].history else 0
    for i, gaps in enumerate(windows):
        print(
            f"\nwindow {i}: {gaps.size} ticks; gap median {np.median(gaps):.1f} ms, "
            f"p99 {np.percentile(gaps, 99):.1f} ms, max {gaps.max():.1f} ms"
        )
    print(f"{iterations} EM iterations during the measurement")
    assert iterations >= 5  # the fit really ran during the measurement
    assert len(progress) >= 10  # and the GUI drew its progress meanwhile
    assert all(np.median(gaps) < 25 for gaps in windows)
    best = min(gaps.max() for gaps in windows)
    assert best < 100, f"the event loop blocked for {best:.0f} ms in every window"


@pytest.mark.parametrize("n_rows", [100_000, 400_000])
def test_drawing_a_big_scatter_is_quick(qtbot, gmm_state_dir, gmm_settings_dir, n_rows):
    """Setting and painting many coloured points (QPainter path, then the aggregated
    density image) stays well under a second, and every colour shows in the rendered image
    (the groups are four quadrants: in the density image a pixel's colour is the blend of
    its rows' groups, so randomly mixed groups would show blends, not the pure colours)."""
    from gmm_desktop.gui.scatter import ScatterPlot

    rng = np.random.default_rng(1)
    plot = ScatterPlot()
    qtbot.addWidget(plot)
    plot.resize(900, 700)
    plot.show()
    qtbot.waitExposed(plot)
    from gmm_desktop.gui import palette

    x, y = rng.normal(size=n_rows), rng.normal(size=n_rows)
    labels = ((x > 0).astype(np.uint8) + 2 * (y > 0)).astype(np.uint8)
    started = time.perf_counter()
    plot.points.setData(x, y, labels, palette.categorical(4))
    plot.reset_view()
    image = plot.grab()
    took = time.perf_counter() - started
    assert plot.points.n_points == n_rows and plot.points.n_colours == 4
    assert plot.points.paint_count >= 1
    assert not image.isNull()
    rendered = image.toImage()
    for colour in palette.categorical(4):
        hits = sum(
            max(abs(c.red() - colour.red()), abs(c.green() - colour.green()),
                abs(c.blue() - colour.blue())) <= 8
            for px in range(0, rendered.width(), 3)
            for py in range(0, rendered.height(), 3)
            for c in (rendered.pixelColor(px, py),)
        )
        assert hits > 20, colour.name()
    print(f"\n{n_rows} points: set + first paint {took:.3f} s "
          f"(paint {plot.points.last_paint_seconds:.3f} s)")
    assert took < 1.5
