"""Issue 8 in the window: big-data (Dask) mode on a Parquet folder of 3 files × 20k rows,
with the "threads" scheduler (no cluster needed): open lazily, fit, the sample label on
the plot, the every-row histogram, the contamination threshold, the Parquet export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt

from gmm_desktop.gui.main_window import MainWindow

TIMEOUT = 120_000
SHOTS = Path("/tmp/gmm-shots")


def make_parquet_folder(folder: Path, n_files: int = 3, rows: int = 20_000, seed: int = 1):
    """Three Gaussian groups plus 1 % uniform background, one Parquet file per part."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    frames = []
    for f in range(n_files):
        n_bg = rows // 100
        n = rows - n_bg
        parts = [rng.normal([0, 0], [1.0, 0.6], (n // 3, 2)),
                 rng.normal([7, 2], [0.8, 1.4], (n // 3, 2)),
                 rng.normal([3, 8], [1.2, 0.7], (n - 2 * (n // 3), 2)),
                 rng.uniform([-12, -12], [20, 20], (n_bg, 2))]
        X = np.vstack(parts)
        frame = pd.DataFrame({"txn": np.arange(f * rows, (f + 1) * rows) + 500_000,
                              "amount": X[:, 0], "latency": X[:, 1],
                              "background": np.r_[np.zeros(n), np.ones(n_bg)]})
        frame.to_parquet(folder / f"part-{f}.parquet", index=False)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def window(qtbot, gmm_state_dir, gmm_settings_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("GMM_DESKTOP_CONFIG_DIR", str(tmp_path / "config"))
    w = MainWindow(ask_restore=lambda path: False)
    qtbot.addWidget(w)
    w.resize(1500, 950)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.controller.shutdown()


def idle(qtbot, w):
    qtbot.waitUntil(lambda: not w.controller.is_busy(), timeout=TIMEOUT)
    qtbot.wait(50)


def shot(w, name):
    SHOTS.mkdir(exist_ok=True)
    assert w.grab().save(str(SHOTS / f"issue-8-{name}.png"))


def test_big_data_mode_in_the_window(qtbot, window, tmp_path):
    w = window
    c = w.controller
    truth = make_parquet_folder(tmp_path / "transactions")
    n = len(truth)

    # Tools ▸ Big data (Dask)…: the scheduler setting, persisted
    dialog = w.show_scheduler()
    assert dialog.scheduler.currentText() == "threads"
    dialog.scheduler.setCurrentText("threads")
    SHOTS.mkdir(exist_ok=True)
    assert dialog.grab().save(str(SHOTS / "issue-8-00-scheduler-dialog.png"))
    dialog.apply()
    assert c.bigdata.scheduler() == "threads"

    # File ▸ Open big dataset…
    opener = w.open_big_dialog()
    opener.path.setText(str(tmp_path / "transactions"))
    opener.columns.setText("amount, latency")
    opener.id_column.setText("txn")
    assert opener.grab().save(str(SHOTS / "issue-8-00-open-big-dialog.png"))
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        assert opener.open_now()
    idle(qtbot, w)
    assert c.bigdata.active and c.feature_columns == ("amount", "latency")
    assert c.bigdata.sample == (n, n)  # 60k rows < the 200k plot sample: every row shown

    # what needs every row in memory is off, and says why
    for widget in (w.view_controls.tool, w.selection_panel, w.anomaly_panel.refit_box):
        assert not widget.isEnabled() and "big-data mode" in widget.toolTip()
    assert not w.export_script_action.isEnabled()

    # a smaller plot sample, to see the label say so
    c.bigdata.open(str(tmp_path / "transactions"), columns=["amount", "latency"],
               id_column="txn", sample_size=20_000)
    idle(qtbot, w)
    assert w.plot.view.n_points == 20_000
    assert w.plot.note_item.isVisible()
    assert w.plot.note_item.toPlainText() == f"uniform sample: 20,000 of {n:,} rows"

    w.model_panel.n_components.setValue(3)
    w.model_panel.seed.setValue(0)
    panel = w.model_panel
    panel.method.setCurrentIndex(panel.method.findData("plain"))  # EM on every row
    panel.covariance.setCurrentIndex(panel.covariance.findData("full"))
    shown = []
    c.fitProgress.connect(lambda p: shown.append(w.model_panel.progress.format()))
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
        qtbot.mouseClick(w.model_panel.fit_button, Qt.MouseButton.LeftButton)
    idle(qtbot, w)
    # the passes over the partitions and the EM iterations both reached the panel: the
    # iterations as its log-likelihood curve (every one is kept; their text messages are
    # throttled to one per 50 ms, so a fast fit may show none of them as text)
    xs, _ys = w.model_panel.curve.getData()
    assert xs is not None and int(np.isfinite(xs).sum()) >= 2
    assert any(t.startswith(("fit: partition", "log-density", "histogram")) for t in shown)
    assert w.model_panel.progress.format() == "done"
    a = c.anomaly.view
    assert a.n_rows == n
    counts = np.asarray(w.anomaly_panel.bars.getData()[1])
    assert int(counts.sum()) == n  # the histogram drawn is over every row
    w.anomaly_dock.raise_()
    shot(w, "01-fitted")

    w.anomaly_panel.contamination.setValue(0.01)
    qtbot.waitUntil(lambda: c.anomaly.view.kind == "contamination"
                    and not c.anomaly.view.approximate
                    and c.anomaly.view.value == pytest.approx(0.01), timeout=TIMEOUT)
    idle(qtbot, w)
    assert c.anomaly.view.n_flagged == round(0.01 * n)
    assert f"{round(0.01 * n):,} of {n:,}" in w.anomaly_panel.count.text()
    shot(w, "02-contamination")

    out = tmp_path / "flagged"
    with qtbot.waitSignal(c.anomaly.exportFinished, timeout=TIMEOUT):
        c.anomaly.export_flagged(out, only_flagged=True)
    idle(qtbot, w)
    back = pd.read_parquet(out)
    assert len(back) == round(0.01 * n) and back["flag"].all()
    assert set(back["row_id"]) <= set(truth["txn"])
    assert (tmp_path / "flagged.json").exists() or any(tmp_path.glob("flagged*.json"))
    share_bg = truth.set_index("txn").loc[back["row_id"], "background"].mean()
    assert share_bg > 0.8  # the lowest densities are the uniform background
