""""Why this row" (issue 13): a double click on a flagged row shows the row against its
component, feature by feature, on wine's 13 features; the numbers are checked against a
direct computation from the fitted model and the file, and the view exports to SVG."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea
from sklearn.datasets import load_wine

from tests.gui.test_views import idle, open_and_fit, shot

TIMEOUT = 60_000


def double_click_flagged(qtbot, w, row: int):
    """Double-click row ``row`` of the flagged table as a user does (the panel scrolls it
    into view first); returns the mixture views once "Why this row" is drawn."""
    table = w.anomaly_panel.flagged
    scroll = table.parentWidget()
    while not isinstance(scroll, QScrollArea):  # the panel scrolls: bring the table in view
        scroll = scroll.parentWidget()
    scroll.ensureWidgetVisible(table, 0, 200)
    qtbot.wait(50)
    rect = table.visualItemRect(table.item(row, 1))
    # a real double click is press, release, press-double-click, release (QTest's mouseDClick
    # alone sends no first press, and an item view then ignores it)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    views = w.mixture_views
    qtbot.waitUntil(lambda: views.current() == "why" and views.is_ready("why"),
                    timeout=TIMEOUT)
    return views


def test_double_click_on_a_flagged_row_explains_it(qtbot, window, tmp_path):
    w = window
    frame = load_wine(as_frame=True).frame.drop(columns=["target"])
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    open_and_fit(qtbot, w, path, k=2)
    c = w.controller
    w.anomaly_dock.raise_()
    table = w.anomaly_panel.flagged
    assert table.rowCount() == c.anomaly.view.n_flagged > 0
    index = int(table.item(0, 0).data(Qt.ItemDataRole.UserRole))
    views = double_click_flagged(qtbot, w, 0)
    idle(qtbot, w)
    why = views.why.view
    assert why is not None and why.index == index and why.flagged
    assert why.row_id == table.item(0, 0).text()
    assert why.row_id in views.why.headline.text()

    # the decomposition adds up to D² computed directly from the model (scaled space)
    model = c.run.scored.bundle.model
    x = c.run.prepared.X[index]
    k = why.component
    diff = x - model.means_[k]
    d2 = float(diff @ np.linalg.solve(model.covariances_[k], diff))
    assert abs(why.distance_squared - d2) <= 1e-8 * max(1.0, d2)
    assert abs(sum(r.contribution for r in why.rows) - d2) <= 1e-8 * max(1.0, d2)
    # the component is the row's most responsible one
    resp = model.predict_proba(x[None, :])[0]
    assert k == int(resp.argmax())

    # values are the file's, in data units; the mean ± sd are the component's in data units
    row = frame.iloc[int(c.run.prepared.row_ids[index])]
    scaler = c.run.scored.bundle.scaler
    mean = scaler.inverse_transform(model.means_[k][None, :])[0]
    for j, r in enumerate(why.rows):
        assert r.feature == frame.columns[j]
        assert abs(r.value - float(row[r.feature])) <= 1e-9 * max(1.0, abs(r.value))
        assert abs(r.mean - mean[j]) <= 1e-9 * max(1.0, abs(mean[j]))
        assert r.sd > 0 and np.isfinite(r.z)

    # the table lists the features by contribution, the top one first, with their shares
    t = views.why.table
    assert t.rowCount() == len(frame.columns)
    listed = [t.item(i, 0).text() for i in range(t.rowCount())]
    contributions = {r.feature: r.contribution for r in why.rows}
    assert listed[0] == why.top.feature
    assert [contributions[f] for f in listed] == sorted(contributions.values(), reverse=True)
    shares = [float(t.item(i, 5).text().rstrip("%")) for i in range(t.rowCount())]
    assert abs(sum(shares) - 100.0) < 0.1 * t.rowCount()
    # the flagged table's top feature is the same one
    assert table.item(0, 3).text() == why.top.feature

    w.mixture_dock.setFloating(True)
    w.mixture_dock.resize(1100, 800)
    qtbot.wait(100)
    shot(w.mixture_dock, "why-this-row")
    svg = views.export(tmp_path / "why.svg")
    text = svg.read_text(encoding="utf-8")
    assert "<svg" in text and why.top.feature in text
