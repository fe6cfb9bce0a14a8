"""Shared test set-up: headless Qt, and per-test state/settings folders for the GUI."""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never read the developer's own gmm-desktop settings (disabled plugins, plugin files) or
# GMM_DESKTOP_PLUGIN_PATH: the process-wide plugin registry must see only what is installed.
os.environ.setdefault(
    "GMM_DESKTOP_CONFIG_DIR",
    os.path.join(tempfile.gettempdir(), f"gmm-desktop-test-config-{os.getpid()}"),
)
os.environ.pop("GMM_DESKTOP_PLUGIN_PATH", None)

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def gmm_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private autosave/log folder (``GMM_DESKTOP_STATE_DIR``)."""
    path = tmp_path / "state"
    path.mkdir()
    monkeypatch.setenv("GMM_DESKTOP_STATE_DIR", str(path))
    return path


@pytest.fixture
def gmm_settings_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """QSettings redirected to an INI file in a temporary folder."""
    from PySide6.QtCore import QSettings

    path = tmp_path / "settings"
    path.mkdir()
    monkeypatch.setenv("GMM_DESKTOP_SETTINGS_DIR", str(path))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(path))
    return path


def make_blobs_frame(n_per: int = 200, seed: int = 0):
    """Three well separated 3-D Gaussian blobs plus an ID and a text column."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0, 0.0], [8.0, 1.0, -3.0], [2.0, 9.0, 4.0]])
    scales = np.array([[1.0, 0.5, 1.0], [0.7, 1.5, 0.5], [1.2, 0.8, 0.9]])
    parts = [c + s * rng.standard_normal((n_per, 3)) for c, s in zip(centers, scales, strict=True)]
    X = np.vstack(parts)
    truth = np.repeat(np.arange(3), n_per)
    order = rng.permutation(X.shape[0])
    X, truth = X[order], truth[order]
    return pd.DataFrame(
        {
            "id": [f"r{i:04d}" for i in range(X.shape[0])],
            "alpha": X[:, 0],
            "beta": X[:, 1],
            "gamma": X[:, 2],
            "group": [f"g{t}" for t in truth],
        }
    ), truth


@pytest.fixture
def blobs_csv(tmp_path: Path) -> Path:
    frame, _ = make_blobs_frame()
    path = tmp_path / "blobs.csv"
    frame.to_csv(path, index=False)
    return path
