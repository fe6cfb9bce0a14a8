"""A new model's scatter view and density grid are made in the worker that fitted it.

At a million rows building them in the GUI thread blocked the event loop for tens of
milliseconds when a fit finished (benchmarks/bench_fit_gap.py). These tests check that the
worker made them, that they are what the GUI thread would have made, and that views made
for settings that changed while the fit ran are not used.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from gmm_desktop.controller import AppController, plotting
from tests.controller.test_controller import TIMEOUT, _big_csv, fit_and_wait, open_and_wait


@pytest.fixture
def controller(qtbot, gmm_state_dir):
    c = AppController()
    yield c
    c.cancel()
    c.wait(10_000)


@pytest.fixture
def made_in(monkeypatch):
    """The threads that made scatter views and density grids, in order."""
    where: list[tuple[str, bool]] = []
    scatter_view, density_grid = plotting.scatter_view, plotting.density_grid

    def record(name, fn):
        def wrapped(*args, **kwargs):
            where.append((name, threading.current_thread() is threading.main_thread()))
            return fn(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(plotting, "scatter_view", record("scatter", scatter_view))
    monkeypatch.setattr(plotting, "density_grid", record("grid", density_grid))
    return where


def _fresh(c):
    """The scatter view and the contour the GUI thread would build now."""
    run = c.run
    scatter = plotting.scatter_view(run.prepared, c.geometry, c.view_settings,
                                    c.shown_scored())
    grid = plotting.density_grid(run.prepared, c.geometry, c.view_settings,
                                 c.shown_scored().model, scatter)
    return scatter, grid


def _assert_same_scatter(a, b):
    for name in ("x", "y", "colour_index", "ellipse_x", "ellipse_y", "means"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.colour_kind, a.legend, a.x_label, a.y_label) == (
        b.colour_kind, b.legend, b.x_label, b.y_label)


def test_fit_views_are_made_in_the_worker_and_equal_the_gui_threads(
        qtbot, controller, blobs_csv, made_in):
    c = controller
    open_and_wait(qtbot, c, blobs_csv, scaling="none")
    made_in.clear()
    fit_and_wait(qtbot, c, n_components=3, random_state=0)
    # one scatter view and one grid, both in the worker; the GUI thread built neither
    assert made_in == [("scatter", False), ("grid", False)]
    scatter, grid = _fresh(c)
    _assert_same_scatter(c.scatter, scatter)
    view = c.anomaly.view
    expect_x, expect_y = plotting.tools.contour_lines(grid.values, grid.xs, grid.ys,
                                                      view.cutoff)
    assert view.contour_x.size > 0
    np.testing.assert_allclose(view.contour_x, expect_x, equal_nan=True)
    np.testing.assert_allclose(view.contour_y, expect_y, equal_nan=True)
    # the colour groups were kept: going to PCA axes and back rebuilds no colours
    made_in.clear()
    c.set_view(axes="pca")
    c.set_view(axes="columns")
    assert [name for name, _ in made_in] == ["scatter", "grid", "scatter", "grid"]
    _assert_same_scatter(c.scatter, scatter)


def test_adopting_a_sweep_cell_draws_from_the_worker_too(qtbot, controller, blobs_csv,
                                                          made_in):
    c = controller
    open_and_wait(qtbot, c, blobs_csv, scaling="none")
    with qtbot.waitSignal(c.sweepFinished, timeout=TIMEOUT):
        assert c.run_sweep([2, 3], ["full"])
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    made_in.clear()
    with qtbot.waitSignal(c.modelChanged, timeout=TIMEOUT):
        assert c.adopt_sweep_model(2, "full")
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    assert made_in == [("scatter", False), ("grid", False)]
    assert c.scatter.n_ellipses == 2 * len(c.view_settings.sigma_levels)
    _assert_same_scatter(c.scatter, _fresh(c)[0])


def test_views_made_for_settings_that_changed_during_the_fit_are_not_used(
        qtbot, controller, tmp_path, made_in):
    c = controller
    open_and_wait(qtbot, c, _big_csv(tmp_path, 60_000))
    seen = []
    c.fitProgress.connect(seen.append)
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
        assert c.fit(n_components=3, max_iter=60, tol=0.0, random_state=0, method="plain",
                     covariance_types=("full",))
        qtbot.waitUntil(lambda: len(seen) >= 2, timeout=TIMEOUT)
        c.set_view(colour_by="uncertainty", x_column="c", y_column="d")  # while it fits
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    # the worker's views (component colours, axes a/b) were dropped and rebuilt here
    assert ("scatter", True) in made_in[-2:] and ("grid", True) in made_in[-2:]
    assert c.scatter.colour_kind == "uncertainty"
    assert (c.scatter.x_label, c.scatter.y_label) == ("c", "d")
    _assert_same_scatter(c.scatter, _fresh(c)[0])


def test_many_rows_new_axes_and_colours_are_built_in_a_worker_newest_wins(
        qtbot, controller, blobs_csv, made_in, monkeypatch):
    """From ASYNC_VIEW_ROWS plotted rows (lowered here to the test's 600 rows) a change of
    view returns at once; the views are built in a worker, and of several changes made
    in a row the last one is what the plot ends with."""
    monkeypatch.setattr(plotting, "ASYNC_VIEW_ROWS", 100)
    c = controller
    open_and_wait(qtbot, c, blobs_csv, scaling="none")
    fit_and_wait(qtbot, c, n_components=3, random_state=0)
    before = c.scatter
    made_in.clear()
    c.set_view(colour_by="uncertainty")
    assert c.scatter is before  # nothing built yet in this thread
    c.set_view(axes="pca")
    c.set_view(x_column="gamma", y_column="alpha", axes="columns", colour_by="component")
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    assert made_in and not any(gui for _name, gui in made_in)  # every build in a worker
    assert len(made_in) <= 4  # the first build, then one for the newest settings
    assert c.scatter.colour_kind == "component"
    assert (c.scatter.x_label, c.scatter.y_label) == ("gamma", "alpha")
    _assert_same_scatter(c.scatter, _fresh(c)[0])
    grid = c.anomaly._grid
    assert grid is not None and grid.key == plotting.grid_key(c.shown_scored().model,
                                                              c.scatter)


def test_many_rows_a_new_model_is_shown_in_two_turns_of_the_event_loop(
        qtbot, controller, blobs_csv, monkeypatch):
    """From ASYNC_VIEW_ROWS plotted rows (lowered here) a fit's views are adopted in two
    turns, each painted before the next: flags, contour and table first, then the
    scatter. The fit stays busy until the second, and fitFinished follows it."""
    from PySide6.QtCore import QTimer

    monkeypatch.setattr(plotting, "ASYNC_VIEW_ROWS", 100)
    c = controller
    open_and_wait(qtbot, c, blobs_csv, scaling="none")
    ticks = [0]
    timer = QTimer()
    timer.setInterval(0)
    timer.timeout.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    seen: list[tuple[str, int, bool]] = []
    c.anomaly.anomalyChanged.connect(lambda v: seen.append(("anomaly", ticks[0],
                                                            c.is_busy("fit"))))
    c.scatterChanged.connect(lambda v: seen.append(("scatter", ticks[0], c.is_busy("fit"))))
    c.fitFinished.connect(lambda s: seen.append(("finished", ticks[0], c.is_busy("fit"))))
    timer.start()
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
        assert c.fit(n_components=3, random_state=0, method="plain",
                     covariance_types=("full",))
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    timer.stop()
    names = [name for name, _tick, _busy in seen]
    assert names == ["anomaly", "scatter", "finished"]
    (_a, tick_a, _busy_a), (_s, tick_s, busy_s), _f = seen
    assert tick_s > tick_a  # the event loop turned in between
    assert busy_s  # the fit stays busy between the two parts, until its views are shown
    _assert_same_scatter(c.scatter, _fresh(c)[0])
    assert c.scatter.n_ellipses == 3 * len(c.view_settings.sigma_levels)
    assert c.anomaly.view.n_flagged == int(c.run.detection.flags.sum())
