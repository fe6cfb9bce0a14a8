"""The window's face of benchmarks/bad_inputs.py: a bad file opened after a good fit gives
an error dialog, and the window keeps the dataset and the model it had."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

TIMEOUT = 60_000


def idle(qtbot, w):
    qtbot.waitUntil(lambda: not w.controller.is_busy(), timeout=TIMEOUT)
    qtbot.wait(30)


def test_bad_files_after_a_fit_keep_what_the_window_had(qtbot, window, tmp_path):
    w = window
    c = w.controller
    rng = np.random.default_rng(0)
    good = tmp_path / "good.csv"
    pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"]).to_csv(good, index=False)
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        w.open_path(good)
    idle(qtbot, w)
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
        c.fit(method="plain", n_components=1, covariance_types=("full",))
    idle(qtbot, w)
    loaded, bundle = c.run.loaded, c.run.bundle
    flagged = int(c.run.detection.flags.sum())

    (tmp_path / "loop_a.csv").symlink_to(tmp_path / "loop_b.csv")
    (tmp_path / "loop_b.csv").symlink_to(tmp_path / "loop_a.csv")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "text.csv").write_text("a,b\nx,y\nz,w\n")
    (tmp_path / "model.json").write_text('{"a": ' + "[" * 5000 + "]" * 5000 + "}")
    hooked = []
    previous_hook = sys.excepthook
    try:
        sys.excepthook = lambda *a: hooked.append(a)
        for name in ("loop_a.csv", "empty.csv", "text.csv", "missing.csv"):
            w.last_error = None
            w.open_path(tmp_path / name)
            idle(qtbot, w)
            assert w.last_error is not None, name
            assert len(w.last_error[1]) < 2_000 and "Traceback" not in w.last_error[1]
        w.last_error = None
        c.load_model(tmp_path / "model.json")
        idle(qtbot, w)
        assert w.last_error is not None and "nest" in w.last_error[1].lower()
    finally:
        sys.excepthook = previous_hook
    assert hooked == []
    assert c.run.loaded is loaded and c.run.bundle is bundle
    assert int(c.run.detection.flags.sum()) == flagged
