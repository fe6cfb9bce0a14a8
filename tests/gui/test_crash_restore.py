"""Kill -9 the running application after its autosave; the next start restores the session."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gmm_desktop.controller import AppController

pytestmark = pytest.mark.skipif(os.name != "posix", reason="uses SIGKILL")


def test_killed_app_is_restored_from_its_autosave(qtbot, tmp_path, blobs_csv, monkeypatch):
    state = tmp_path / "state"
    state.mkdir()
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        GMM_DESKTOP_STATE_DIR=str(state),
        GMM_DESKTOP_SETTINGS_DIR=str(tmp_path / "settings"),
        GMM_DESKTOP_TEST_HOOK="fit",
        PYTHONUNBUFFERED="1",
    )
    code = "import sys; from gmm_desktop.gui.app import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(blobs_csv)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    fitted = autosaved = None
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and not (fitted and autosaved):
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("FITTED "):
                fitted = json.loads(line[len("FITTED "):])
            elif line.startswith("AUTOSAVED "):
                autosaved = line[len("AUTOSAVED "):].strip()
        assert fitted and autosaved, "the application did not fit and autosave in time"
        assert (state / "running.pid").read_text().strip() == str(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert (state / "running.pid").exists()  # no clean exit happened

    monkeypatch.setenv("GMM_DESKTOP_STATE_DIR", str(state))
    c = AppController()
    found = c.sessions.start_crash_guard()
    assert found == state / "autosave-session.json"
    with qtbot.waitSignal(c.modelChanged, timeout=60_000,
                          check_params_cb=lambda s: s is not None):
        assert c.sessions.restore_autosave(found)
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=60_000)
    summary = c.model_summary()
    np.testing.assert_allclose([r.weight for r in summary.components], fitted["weights"])
    np.testing.assert_allclose([list(r.mean) for r in summary.components], fitted["means"])
    assert c.feature_columns == ("alpha", "beta", "gamma")
    assert c.scatter.n_ellipses == 9
    c.shutdown()
    assert not (state / "running.pid").exists()
