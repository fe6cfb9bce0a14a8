"""Big-data mode of the controller (Dask, out of core) on a small Parquet folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gmm_desktop.controller import AppController
from gmm_desktop.controller.bigdata import check_scheduler

TIMEOUT = 120_000


def make_parquet_folder(folder: Path, n_files: int = 3, rows: int = 20_000, seed: int = 0):
    """Two Gaussian blobs plus 1 % uniform background, split over Parquet files."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    frames = []
    for f in range(n_files):
        n_bg = rows // 100
        a = rng.normal([0.0, 0.0], [1.0, 0.5], size=((rows - n_bg) // 2, 2))
        b = rng.normal([6.0, 3.0], [0.7, 1.2], size=(rows - n_bg - a.shape[0], 2))
        bg = rng.uniform([-15, -15], [20, 20], size=(n_bg, 2))
        X = np.vstack([a, b, bg])
        frame = pd.DataFrame({"key": np.arange(f * rows, (f + 1) * rows) + 1_000_000,
                              "u": X[:, 0], "v": X[:, 1],
                              "is_bg": np.r_[np.zeros(rows - n_bg), np.ones(n_bg)]})
        frame.to_parquet(folder / f"part-{f}.parquet", index=False)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def controller(qtbot, gmm_state_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("GMM_DESKTOP_CONFIG_DIR", str(tmp_path / "config"))
    c = AppController(autosave=False)
    yield c
    c.shutdown()


def idle(qtbot, c):
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)


def test_scheduler_setting_is_checked_and_persisted(controller, qtbot):
    c = controller
    assert c.bigdata.scheduler() == "threads"
    assert check_scheduler(" tcp://10.0.0.2:8786 ") == "tcp://10.0.0.2:8786"
    with pytest.raises(ValueError, match="tcp://host:8786"):
        check_scheduler("my cluster")
    errors = []
    c.errorOccurred.connect(lambda t, m: errors.append(m))
    assert not c.bigdata.set_scheduler("nonsense")
    assert errors and "threads" in errors[0]
    assert c.bigdata.set_scheduler("local")
    from gmm_desktop.settings import Settings, get_settings

    assert Settings(get_settings().path).get("bigdata.scheduler") == "local"  # on disk
    assert c.bigdata.scheduler() == "local"


def test_big_data_fit_histogram_threshold_export(controller, qtbot, tmp_path):
    c = controller
    truth = make_parquet_folder(tmp_path / "big")
    n = len(truth)
    changed = []
    c.bigdata.bigDataChanged.connect(changed.append)
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        assert c.bigdata.open(str(tmp_path / "big"), columns=["u", "v"], id_column="key",
                              sample_size=5_000)
    idle(qtbot, c)
    assert changed == [True] and c.bigdata.active
    assert c.bigdata.sample == (5_000, n)
    assert c.scatter.n_points == 5_000
    assert c.scatter.note == f"uniform sample: 5,000 of {n:,} rows"
    # the sample's rows are real rows of the table, named by their key
    info = c.point_info(7)
    row = truth.loc[truth["key"] == int(info.row_id)].iloc[0]
    assert dict(info.values) == pytest.approx({"u": row["u"], "v": row["v"]})

    progress = []
    c.fitProgress.connect(progress.append)
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT) as blocker:
        assert c.fit(n_components=2, covariance_types=("full",), random_state=0,
                     method="plain")  # EM on every row
    idle(qtbot, c)
    summary = blocker.args[0]
    assert progress and progress[-1].fraction <= 1.0
    assert any(p.history for p in progress)  # the log-likelihood curve, typed end to end
    means = np.array([r.mean for r in summary.components])  # shown in data units
    means = means[np.argsort(means[:, 0])]
    np.testing.assert_allclose(means, [[0.0, 0.0], [6.0, 3.0]], atol=0.15)
    a = c.anomaly.view
    assert a.n_rows == n
    assert int(np.sum(a.hist_counts)) == n  # the histogram is over every row
    assert a.sample_rows == 5_000 and a.flags.shape == (5_000,)

    assert c.anomaly.set_threshold("contamination", 0.01)
    qtbot.waitUntil(lambda: not c.anomaly.view.approximate, timeout=TIMEOUT)
    idle(qtbot, c)
    assert c.anomaly.view.n_flagged == round(0.01 * n)  # exact over every row

    out = tmp_path / "scores"
    with qtbot.waitSignal(c.anomaly.exportFinished, timeout=TIMEOUT):
        assert c.anomaly.export_flagged(out, only_flagged=False)
    idle(qtbot, c)
    back = pd.read_parquet(out)
    assert len(back) == n and int(back["flag"].sum()) == round(0.01 * n)
    assert set(back["row_id"]) == set(truth["key"])
    # the flags are the lowest-density rows: mostly the uniform background
    flagged = truth.set_index("key").loc[back.loc[back["flag"], "row_id"], "is_bg"]
    assert flagged.mean() > 0.8
    # features that need every row in memory are refused, with the reason
    errors = []
    c.errorOccurred.connect(lambda t, m: errors.append(m))
    c.selection.select_indices([1, 2, 3])
    assert errors and "big-data mode" in errors[-1]
    assert not c.anomaly.run_refit("trim-and-refit", {})
    assert "big-data mode" in errors[-1]


def open_big_and_fit(qtbot, c, folder, **fit):
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        assert c.bigdata.open(str(folder), columns=["u", "v"], id_column="key",
                              sample_size=4_000)
    idle(qtbot, c)
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
        assert c.fit(**{"n_components": 2, "covariance_types": ("full",), "random_state": 0,
                        "method": "plain", **fit})
    idle(qtbot, c)


def test_cancel_keeps_the_previous_model_and_session_reopens_big(controller, qtbot, tmp_path):
    c = controller
    make_parquet_folder(tmp_path / "big", rows=10_000)
    open_big_and_fit(qtbot, c, tmp_path / "big")
    before = c.run.model
    n_before = c.anomaly.view.n_rows
    cancelled = []
    c.fitCancelled.connect(cancelled.append)
    with qtbot.waitSignal(c.fitProgress, timeout=TIMEOUT):
        assert c.fit(n_components=7, covariance_types=("full",), tol=0.0, max_iter=500,
                     n_init=3, random_state=1, method="plain")
    c.cancel("fit")
    assert cancelled and not c.is_busy("fit")
    c.wait(TIMEOUT)
    qtbot.wait(100)
    assert c.run.model is before and c.model_summary().n_components == 2
    assert c.anomaly.view.n_rows == n_before

    # a session of big-data mode reopens the table lazily, with its model
    path = tmp_path / "session.json"
    assert c.sessions.save(path)
    other = AppController(autosave=False)
    try:
        with qtbot.waitSignal(other.modelChanged, timeout=TIMEOUT,
                              check_params_cb=lambda s: s is not None):
            assert other.sessions.open(path)
        qtbot.waitUntil(lambda: not other.is_busy() and other.anomaly.view is not None,
                        timeout=TIMEOUT)
        assert other.bigdata.active and other.bigdata.sample == c.bigdata.sample
        np.testing.assert_allclose(other.run.model.means_, before.means_)
        assert other.anomaly.view.n_rows == n_before
        assert int(np.sum(other.anomaly.view.hist_counts)) == n_before
    finally:
        other.shutdown()


def test_the_robust_default_route_in_big_data_mode(controller, qtbot, tmp_path):
    """The default (robust) fit runs on the uniform sample; every row is still counted."""
    c = controller
    truth = make_parquet_folder(tmp_path / "big", rows=10_000)
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        assert c.bigdata.open(str(tmp_path / "big"), columns=["u", "v"], id_column="key",
                              sample_size=3_000)
    idle(qtbot, c)
    notes = []
    c.statusMessage.connect(notes.append)
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT) as blocker:
        assert c.fit(random_state=0)
    idle(qtbot, c)
    assert c.config.method == "robust"
    assert any("uniform sample of 3,000 of 30,000 rows" in n for n in notes)
    assert blocker.args[0] is not None
    qtbot.waitUntil(lambda: not c.anomaly.view.approximate, timeout=TIMEOUT)
    assert c.anomaly.view.n_rows == 30_000
    assert c.anomaly.view.n_flagged == round(0.05 * 30_000)  # counted over every row
    out = tmp_path / "scores"
    with qtbot.waitSignal(c.anomaly.exportFinished, timeout=TIMEOUT):
        assert c.anomaly.export_flagged(out, only_flagged=True)
    idle(qtbot, c)
    flagged = set(pd.read_parquet(out)["row_id"])
    background = set(truth.loc[truth["is_bg"] == 1, "key"])
    assert len(flagged & background) / len(background) > 0.9  # the uniform background
