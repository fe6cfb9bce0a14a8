"""The window's big-data path takes the reading options (issue 13), driven through the
controller (``BigDataController.open(..., read=...)``, what File ▸ Open big dataset…
calls): a folder of ';'/decimal-comma CSV files with comment lines and missing markers flags
the rows the in-memory run flags on the concatenated file, and the options are recorded in
the run's configuration (so in its session)."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("dask")

from gmm_desktop.controller import AppController
from gmm_desktop.data import ReadOptions
from tests.outofcore.test_read_options_out_of_core import (  # noqa: F401
    FEATURES,
    READ,
    flagged_in_memory,
    penguins,  # (the fixture)
)

TIMEOUT = 120_000


def fit_and_export_flagged(qtbot, c: AppController, out) -> set[str]:
    """Fit K = 3 full (plain EM, seed 0), flag 3 % exactly, export the flagged rows: their
    IDs."""
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
        assert c.fit(n_components=3, covariance_types=("full",), random_state=0,
                     method="plain")
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    assert c.anomaly.set_threshold("contamination", 0.03)
    qtbot.waitUntil(lambda: not c.is_busy() and not c.anomaly.view.approximate,
                    timeout=TIMEOUT)
    with qtbot.waitSignal(c.anomaly.exportFinished, timeout=TIMEOUT):
        assert c.anomaly.export_flagged(out, only_flagged=True)
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    return set(pd.read_parquet(out)["row_id"].astype(str))


@pytest.fixture
def controller(qtbot, gmm_state_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("GMM_DESKTOP_CONFIG_DIR", str(tmp_path / "config"))
    c = AppController(autosave=False)
    yield c
    c.shutdown()


def test_big_data_open_honours_the_reading_options(controller, qtbot, penguins,  # noqa: F811
                                                   tmp_path):
    _frame, folder, whole = penguins
    c = controller
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        assert c.bigdata.open(str(folder), columns=FEATURES, id_column="id", read=READ)
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    assert c.bigdata.active and c.config.read == READ
    window_ids = fit_and_export_flagged(qtbot, c, tmp_path / "scores.parquet")
    memory_ids = flagged_in_memory(whole)
    assert len(memory_ids) == 10 and window_ids == memory_ids

    # the session records the options: it reopens the folder lazily, read the same way
    session = tmp_path / "session.json"
    assert c.sessions.save(session)
    other = AppController(autosave=False)
    try:
        with qtbot.waitSignal(other.modelChanged, timeout=TIMEOUT,
                              check_params_cb=lambda s: s is not None):
            assert other.sessions.open(session)
        qtbot.waitUntil(lambda: not other.is_busy() and other.anomaly.view is not None,
                        timeout=TIMEOUT)
        assert other.bigdata.active and other.config.read == READ
        assert other.anomaly.view.n_rows == 342
    finally:
        other.shutdown()

    # a bad option is a message in the window's words, nothing is opened
    errors: list[str] = []
    c.errorOccurred.connect(lambda title, message: errors.append(message))
    assert not c.bigdata.open(str(folder), read={"delimiter": "::"})
    assert errors and "the delimiter '::' cannot be used" in errors[-1]
    assert c.config.read == READ  # the open table's reading is kept
    assert ReadOptions.coerce(None) == ReadOptions()
