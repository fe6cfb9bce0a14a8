"""The same run through every face: a model or a session made by the window is used by the
command line and the other way round, with equal scores (to 1e-9) and the same flagged
rows; the same file with the same (default) settings gives the same model everywhere."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from gmm_desktop.controller import AppController
from gmm_desktop.core import Detector, RunConfig, ThresholdSpec
from gmm_desktop.data import demo_path

TIMEOUT = 60_000


def cli(*args, cwd=None):
    out = subprocess.run([sys.executable, "-m", "gmm_desktop", *map(str, args)],
                         capture_output=True, text=True, cwd=cwd, timeout=300)
    assert out.returncode == 0, out.stderr + out.stdout
    return out


@pytest.fixture
def window(qtbot, gmm_state_dir):
    c = AppController(autosave=False)
    yield c
    c.shutdown()


def idle(qtbot, c):
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)


def open_synthetic(qtbot, c):
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        assert c.open_demo("synthetic")
    idle(qtbot, c)


def fit(qtbot, c, **changes):
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
        assert c.fit(**changes)
    idle(qtbot, c)


def scored_table(path) -> pd.DataFrame:
    return pd.read_csv(path).sort_values("id").reset_index(drop=True)


def window_flags(c) -> list:
    run = c.run
    return sorted(run.prepared.row_ids[np.asarray(run.detection.flags)].tolist())


def test_the_same_defaults_give_the_same_model_everywhere(qtbot, window, tmp_path):
    """Window (defaults), command line (defaults) and Python (defaults): one model."""
    c = window
    open_synthetic(qtbot, c)
    fit(qtbot, c)
    assert c.config == RunConfig(id_column="id", columns=("x", "y"))
    w_flags = window_flags(c)
    w_ld = np.sort(c.run.scored.scores.log_density)

    data = demo_path("synthetic")
    out = tmp_path / "flagged.csv"
    cli("detect", data, "--id-column", "id", "--columns", "x", "y", "--output", out)
    assert sorted(pd.read_csv(out)["id"]) == w_flags

    det = Detector(RunConfig(id_column="id", columns=("x", "y")))
    det.load(data)
    det.fit()
    det.detect()
    assert det.model.n_components == c.run.model.n_components
    np.testing.assert_allclose(np.sort(det.scored.scores.log_density), w_ld, rtol=1e-12)
    assert sorted(det.prepared.row_ids[det.detection.flags].tolist()) == w_flags


def test_a_window_model_is_scored_by_the_command_line(qtbot, window, tmp_path):
    c = window
    open_synthetic(qtbot, c)
    fit(qtbot, c, n_components=4, covariance_types=("full",), random_state=3)
    assert c.anomaly.set_threshold("contamination", 0.02)
    model = tmp_path / "window-model.json"
    assert c.save_model(model)
    out = tmp_path / "scored.csv"
    cli("score", demo_path("synthetic"), "--model", model, "--output", out, "--all-rows")
    table = scored_table(out)
    ids = c.run.prepared.row_ids
    order = np.argsort(ids)
    np.testing.assert_allclose(table["log_density"].to_numpy(),
                               c.run.scored.scores.log_density[order], rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(table["flag"].to_numpy(),
                                  np.asarray(c.run.detection.flags)[order])
    assert int(table["flag"].sum()) == round(0.02 * 2640)


def test_a_command_line_model_is_applied_by_the_window_with_its_scaler(
        qtbot, window, tmp_path):
    """0.1 loaded a standardised model onto raw columns (132 rows flagged by the wrong
    model); the window now prepares the data with the model's own scaler and threshold."""
    model = tmp_path / "cli-model.json"
    flagged = tmp_path / "cli.csv"
    cli("detect", demo_path("synthetic"), "--id-column", "id", "--columns", "x", "y",
        "--components", "5", "--scaling", "standardize", "--contamination", "0.015",
        "--refit", "noise-component", "--model-out", model, "--output", flagged,
        "--all-rows")
    c = window
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        assert c.open_file(demo_path("synthetic"), id_column="id", scaling="none")
    idle(qtbot, c)
    with qtbot.waitSignal(c.modelChanged, timeout=TIMEOUT,
                          check_params_cb=lambda s: s is not None):
        assert c.load_model(model)
    idle(qtbot, c)
    assert c.run.prepared.scaling == "standardize"  # the model's scaler, not the window's
    table = scored_table(flagged)
    order = np.argsort(c.run.prepared.row_ids)
    np.testing.assert_allclose(c.run.scored.scores.log_density[order], table["log_density"],
                               rtol=1e-9, atol=1e-9)
    assert window_flags(c) == sorted(table.loc[table["flag"], "id"])
    assert c.anomaly.view.pinned  # the refit's own rule, as saved


def test_sessions_cross_faces(qtbot, window, tmp_path):
    """A window session re-run by ``detect --session``; a command-line session opened in
    the window; with labels, and the accepted refit remembered."""
    c = window
    open_synthetic(qtbot, c)
    fit(qtbot, c, n_components=4, covariance_types=("full",), random_state=0)
    # two manual labels, then a refit, accepted
    c.selection.select_indices([0, 1])
    c.selection.mark_selection("normal")
    with qtbot.waitSignal(c.anomaly.refitFinished, timeout=TIMEOUT):
        assert c.anomaly.run_refit("noise-component", {})
    idle(qtbot, c)
    assert c.anomaly.accept_refit()
    w_flags = window_flags(c)
    session = tmp_path / "window-session.json"
    assert c.sessions.save(session)

    # the command line re-runs it: same data, settings, labels, refit → same flags
    out = tmp_path / "from-session.csv"
    cli("detect", "--session", session, "--output", out)
    assert sorted(pd.read_csv(out)["id"]) == w_flags

    # and a command-line session opens in the window with its model and flags
    cli_session = tmp_path / "cli-session.json"
    cli("detect", demo_path("synthetic"), "--id-column", "id", "--columns", "x", "y",
        "--components", "3", "--contamination", "0.03", "--session-out", cli_session,
        "--output", tmp_path / "cli.csv")
    other = AppController(autosave=False)
    try:
        with qtbot.waitSignal(other.modelChanged, timeout=TIMEOUT,
                              check_params_cb=lambda s: s is not None):
            assert other.sessions.open(cli_session)
        idle(qtbot, other)
        assert other.model_summary().n_components == 3
        assert window_flags(other) == sorted(pd.read_csv(tmp_path / "cli.csv")["id"])
    finally:
        other.shutdown()


def test_a_reopened_session_keeps_the_accepted_refit(qtbot, window, tmp_path):
    """0.1 reopened a session with the contamination rule instead of the refit's gate
    (42 flagged became 132)."""
    c = window
    open_synthetic(qtbot, c)
    fit(qtbot, c, n_components=5, covariance_types=("full",), random_state=0)
    with qtbot.waitSignal(c.anomaly.refitFinished, timeout=TIMEOUT):
        assert c.anomaly.run_refit("noise-component", {})
    idle(qtbot, c)
    c.anomaly.accept_refit()
    n = c.anomaly.view.n_flagged
    export = tmp_path / "flagged.csv"
    with qtbot.waitSignal(c.anomaly.exportFinished, timeout=TIMEOUT):
        c.anomaly.export_flagged(export)
    idle(qtbot, c)
    session = tmp_path / "s.json"
    c.sessions.save(session)
    again = AppController(autosave=False)
    try:
        with qtbot.waitSignal(again.modelChanged, timeout=TIMEOUT,
                              check_params_cb=lambda s: s is not None):
            again.sessions.open(session)
        idle(qtbot, again)
        assert again.anomaly.view.n_flagged == n == len(pd.read_csv(export))
        assert again.anomaly.view.from_refit == "noise-component"
        assert window_flags(again) == window_flags(c)
    finally:
        again.shutdown()


# --------------------------------------------------------------------------- 0.1 dialects


def _v01_documents(tmp_path):
    """A model as each face of gmm-desktop 0.1 saved it (the three dialects)."""
    det = Detector(RunConfig(columns=("x", "y"), id_column="id", n_components=3,
                             threshold=ThresholdSpec("contamination", 0.02)))
    det.load(demo_path("synthetic"))
    det.fit()
    det.detect()
    doc = det.bundle.to_document()
    app = doc["extra"].pop("gmm_desktop")
    feats = app["features"]
    old_config = {"columns": ["x", "y"], "n_components": 3, "covariance_types": ["full"],
                  "scaling": "standardize", "missing": "drop",
                  "threshold": app["config"]["threshold"], "refit": None, "refit_params": {},
                  "n_init": 1, "max_iter": 100, "reg_covar": 1e-6, "random_state": 0,
                  "id_column": "id"}
    threshold = det.detection.threshold.to_dict()
    cli_doc = json.loads(json.dumps(doc))
    cli_doc["extra"] = {"anomaly": {
        "columns": ["x", "y"], "scaler": feats["scaler"], "medians": feats["medians"],
        "threshold": threshold, "source": {"path": str(demo_path("synthetic")),
                                           "name": "synthetic.csv", "n_rows": 2640},
        "config": old_config, "refit": None}}
    ooc_doc = json.loads(json.dumps(cli_doc))
    del ooc_doc["extra"]["anomaly"]["medians"]
    ooc_doc["extra"]["anomaly"]["source"]["out_of_core"] = True
    window_doc = json.loads(json.dumps(doc))
    window_doc["extra"] = {"features": {"columns": ["x", "y"], "missing": "drop",
                                        "scaling": "standardize"},
                           "source": str(demo_path("synthetic")), "scaler": feats["scaler"]}
    return det, {"cli-0.1": cli_doc, "out-of-core-0.1": ooc_doc, "window-0.1": window_doc}


@pytest.mark.parametrize("dialect", ["cli-0.1", "out-of-core-0.1", "window-0.1"])
def test_model_files_of_version_0_1_still_load_everywhere(tmp_path, dialect):
    det, docs = _v01_documents(tmp_path)
    path = tmp_path / f"{dialect}.json"
    path.write_text(json.dumps(docs[dialect]))
    scorer = Detector.from_model_file(path)
    assert scorer.bundle.dialect == dialect
    assert scorer.bundle.columns == ("x", "y")
    assert scorer.bundle.scaler == det.bundle.scaler
    scorer.load(demo_path("synthetic"), id_column="id")
    scorer.score()
    np.testing.assert_allclose(scorer.scored.scores.log_density,
                               det.scored.scores.log_density, rtol=1e-12)
    if dialect == "window-0.1":  # the window saved no threshold: the run's is learned
        assert not scorer.detection.pinned
    else:  # the saved threshold, unchanged
        assert scorer.detection.pinned
        np.testing.assert_array_equal(scorer.detection.flags, det.detection.flags)
    # and the command line reads it too
    out = tmp_path / "out.csv"
    cli("score", demo_path("synthetic"), "--id-column", "id", "--model", path,
        "--output", out)
    assert len(pd.read_csv(out)) == (scorer.detection.n_flagged)


def test_a_scaled_window_model_without_its_scaler_is_refused(tmp_path):
    _det, docs = _v01_documents(tmp_path)
    doc = docs["window-0.1"]
    del doc["extra"]["scaler"]
    path = tmp_path / "noscaler.json"
    path.write_text(json.dumps(doc))
    from gmm_desktop.errors import ModelFileError

    with pytest.raises(ModelFileError, match="does not record the scaling"):
        Detector.from_model_file(path)
