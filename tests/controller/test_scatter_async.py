"""The scatter view of big data is built in a worker; stale views are dropped."""

from __future__ import annotations

import numpy as np
import pytest

from gmm_desktop.controller import AppController, FitParams
from gmm_desktop.controller import app_controller as app_module
from gmm_desktop.controller.views import point_groups

TIMEOUT = 30_000


@pytest.fixture
def controller(qtbot, gmm_state_dir):
    c = AppController()
    yield c
    c.cancel()
    c.wait(10_000)


def _open_and_fit(qtbot, c: AppController, path) -> None:
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        assert c.open_file(path)
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
        assert c.fit(FitParams(n_components=3, random_state=0))
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)


def test_point_groups_are_the_finite_points_of_each_colour_in_row_order():
    rng = np.random.default_rng(3)
    n = 5_000
    x, y = rng.normal(size=n), rng.normal(size=n)
    x[rng.choice(n, 40, replace=False)] = np.nan
    y[rng.choice(n, 40, replace=False)] = np.inf
    labels = rng.integers(0, 5, n)
    g = point_groups(x, y, labels, 5)
    finite = np.isfinite(x) & np.isfinite(y)
    assert g.starts[-1] == finite.sum()
    for c in range(5):
        keep = finite & (labels == c)
        a, b = g.starts[c], g.starts[c + 1]
        np.testing.assert_array_equal(g.x[a:b], x[keep])  # same rows, same order
        np.testing.assert_array_equal(g.y[a:b], y[keep])
    assert g.x_range == (x[finite].min(), x[finite].max())
    assert g.y_range == (y[finite].min(), y[finite].max())
    assert not g.x.flags.writeable
    one = point_groups(x, y, None, 0)
    np.testing.assert_array_equal(one.starts, [0, finite.sum()])
    np.testing.assert_array_equal(one.x, x[finite])


def test_big_data_scatter_is_built_in_the_background_and_stale_views_are_dropped(
    qtbot, controller, blobs_csv, monkeypatch
):
    c = controller
    _open_and_fit(qtbot, c, blobs_csv)  # 600 rows: built at once
    reference = c.scatter
    assert reference.groups is not None
    monkeypatch.setattr(app_module, "ASYNC_SCATTER_ROWS", 100)  # treat 600 rows as big
    received = []
    c.scatterChanged.connect(received.append)
    c.set_view(x_column="gamma", y_column="alpha")
    assert c.is_busy("scatter") and c.is_busy()
    assert c.scatter is reference  # the previous view stays until the new one is ready
    c.set_view(colour_by="uncertainty")  # supersedes the request above
    qtbot.waitUntil(lambda: not c.is_busy("scatter"), timeout=TIMEOUT)
    qtbot.wait(50)  # a dropped result would have arrived by now
    assert len(received) == 1  # only the newest request reached the GUI
    view = received[0]
    assert c.scatter is view
    assert (view.x_label, view.y_label, view.colour_kind) == ("gamma", "alpha", "uncertainty")
    # the same view as the synchronous path builds
    monkeypatch.setattr(app_module, "ASYNC_SCATTER_ROWS", 10**9)
    c.set_view()
    sync = c.scatter
    assert sync is not view
    for name in ("x", "y", "colour_index", "ellipse_x", "ellipse_y", "means"):
        np.testing.assert_array_equal(getattr(view, name), getattr(sync, name))
    np.testing.assert_array_equal(view.groups.x, sync.groups.x)
    np.testing.assert_array_equal(view.groups.starts, sync.groups.starts)
