"""Thresholds, labels with undo, refit and export on the controller alone (no widgets),
checked against direct counts on the core's numbers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gmm_desktop.controller import AppController
from gmm_desktop.data import sidecar_path

TIMEOUT = 60_000


@pytest.fixture
def c(qtbot, gmm_state_dir):
    controller = AppController(autosave=False)
    with qtbot.waitSignal(controller.featuresChanged, timeout=TIMEOUT):
        assert controller.open_demo("synthetic")
    qtbot.waitUntil(lambda: not controller.is_busy(), timeout=TIMEOUT)
    with qtbot.waitSignal(controller.fitFinished, timeout=TIMEOUT):
        assert controller.fit(n_components=4, covariance_types=("full",), random_state=0)
    qtbot.waitUntil(lambda: not controller.is_busy(), timeout=TIMEOUT)
    yield controller
    controller.shutdown()


def test_threshold_kinds_and_drag(c):
    ld = c.run.scored.scores.log_density
    n = ld.size
    assert c.anomaly.set_threshold("contamination", 0.02)
    v = c.anomaly.view
    assert v.n_flagged == round(0.02 * n) and v.share_at_cutoff == pytest.approx(v.share)
    assert int((ld < v.cutoff).sum()) == v.n_flagged
    cut = float(np.quantile(ld, 0.1))
    v = c.anomaly.drag_threshold(cut)
    assert v.kind == "log_density" and v.n_flagged == int((ld < cut).sum())
    assert c.anomaly.set_threshold("chi2", 0.999, 0.2)
    v = c.anomaly.view
    d = c.run.scored.scores.mahalanobis_all
    from scipy.stats import chi2

    gate = np.all(d**2 > chi2.ppf(0.999, 2), axis=1)
    small = np.isin(c.run.scored.scores.component,
                    np.flatnonzero(c.run.model.weights_ < 0.2))
    assert v.n_flagged == int((gate | small).sum())
    assert c.anomaly.view.cutoff is None and "Mahalanobis" in v.contour_note
    errors = []
    c.errorOccurred.connect(lambda t, m: errors.append(m))
    assert not c.anomaly.set_threshold("contamination", 1.5)
    assert "fraction" in errors[-1]


def test_labels_flags_undo_and_the_next_fit(c, qtbot):
    c.anomaly.set_threshold("contamination", 0.01)
    flags = np.asarray(c.anomaly.view.flags)
    normal_pos = int(np.flatnonzero(flags)[0])  # a flagged row, to be marked normal
    outlier_pos = int(np.flatnonzero(~flags)[0])  # an unflagged one, marked outlier
    c.selection.select_indices([outlier_pos])
    c.selection.mark_selection("outlier")
    c.selection.select_indices([normal_pos])
    c.selection.mark_selection("normal")
    v = c.anomaly.view
    assert v.flags[outlier_pos] and not v.flags[normal_pos]
    ids = c.run.prepared.row_ids
    assert c.selection.label_ids("outlier").tolist() == [ids[outlier_pos]]
    stack = c.selection.undo_stack
    stack.undo()  # the "normal" label goes
    assert c.anomaly.view.flags[normal_pos]
    stack.undo()  # the selection of that row
    stack.undo()  # the "outlier" label
    assert not c.anomaly.view.flags[outlier_pos]
    assert c.selection.label_ids("outlier").size == 0
    stack.redo()
    assert c.anomaly.view.flags[outlier_pos]
    # a fit leaves the rows marked outlier out, and remembers which
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT):
        c.fit()
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    assert c.run.bundle.fit_excluded == (ids[outlier_pos],)


def test_refit_accept_pins_the_rule_and_a_new_threshold_releases_it(c, qtbot, tmp_path):
    c.anomaly.set_threshold("contamination", 0.015)
    before = np.asarray(c.anomaly.view.flags).copy()
    with qtbot.waitSignal(c.anomaly.refitFinished, timeout=TIMEOUT) as blocker:
        assert c.anomaly.run_refit("iterative-trimming", {"alpha": 0.1, "gate": "chi2"})
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    view = blocker.args[0]
    np.testing.assert_array_equal(view.old_flags, before)
    assert c.anomaly.refit_pending
    assert c.anomaly.accept_refit()
    v = c.anomaly.view
    assert v.pinned and v.from_refit == "iterative-trimming"
    np.testing.assert_array_equal(v.flags, view.new_flags)
    # the rule is the refit's own chi-square gate: recount it from the distances
    from scipy.stats import chi2

    d = c.run.scored.scores.mahalanobis_all
    gate = float(dict(view.params)["chi2_probability"])
    assert v.n_flagged == int(np.all(d**2 > chi2.ppf(gate, 2), axis=1).sum())
    # export: the file holds exactly the flagged rows, with the one sidecar schema
    out = tmp_path / "flags.csv"
    with qtbot.waitSignal(c.anomaly.exportFinished, timeout=TIMEOUT):
        assert c.anomaly.export_flagged(out)
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    table = pd.read_csv(out)
    assert sorted(table["id"]) == sorted(c.run.prepared.row_ids[v.flags].tolist())
    meta = json.loads(sidecar_path(out).read_text())
    assert meta["format"] == "gmm-desktop/export" and meta["refit"]["strategy"] == \
        "iterative-trimming"
    assert meta["n_flagged"] == v.n_flagged
    # the analyst sets a threshold again: the pin is released, the spec is learned
    c.anomaly.set_threshold("contamination", 0.05)
    assert not c.anomaly.view.pinned and c.anomaly.view.n_flagged == round(0.05 * 2640)


def test_refit_reject_keeps_the_model_and_export_refuses_an_input(c, qtbot, tmp_path):
    model = c.run.model
    with qtbot.waitSignal(c.anomaly.refitFinished, timeout=TIMEOUT):
        assert c.anomaly.run_refit("trim-and-refit", {})
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    c.anomaly.reject_refit()
    assert c.run.model is model and not c.anomaly.refit_pending
    errors = []
    c.errorOccurred.connect(lambda t, m: errors.append(m))
    source = c.run.loaded.source.path
    assert not c.anomaly.export_flagged(source)
    assert "destroy the data" in errors[-1]


def test_the_window_writes_the_report(c, qtbot, tmp_path):
    out = tmp_path / "report.html"
    with qtbot.waitSignal(c.anomaly.exportFinished, timeout=TIMEOUT):
        assert c.anomaly.export_report(out)
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    html = out.read_text()
    assert f"{c.anomaly.view.n_flagged:,} of 2,640 rows flagged" in html
    assert "gmm-desktop detect" in html
    why = c.anomaly.why(int(np.flatnonzero(c.anomaly.view.flags)[0]))
    assert why.flagged and sum(r.contribution for r in why.rows) == pytest.approx(
        why.distance_squared)
    assert why.top.contribution == max(r.contribution for r in why.rows)


def test_rows_named_by_a_column_chosen_in_the_window(qtbot, gmm_state_dir):
    import pandas as pd

    from gmm_desktop.data import demo_path

    c = AppController(autosave=False)
    try:
        views = []
        c.datasetChanged.connect(views.append)
        with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
            assert c.open_file(demo_path("synthetic"), columns=["x", "y"])
        qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
        assert views[-1].id_column is None and views[-1].preview_ids[:3] == ("0", "1", "2")
        assert "id" in views[-1].id_candidates and "cluster" not in views[-1].id_candidates
        with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
            assert c.set_id_column("id")
        qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
        raw = pd.read_csv(demo_path("synthetic"))
        assert views[-1].id_column == "id"
        assert views[-1].preview_ids[:3] == tuple(str(v) for v in raw["id"][:3])
        assert c.feature_columns == ("x", "y")
        np.testing.assert_array_equal(c.run.prepared.row_ids, raw["id"].to_numpy())
    finally:
        c.shutdown()


def test_an_export_started_when_the_last_one_finished_is_not_refused(c, qtbot, tmp_path):
    """A task is over before its result is adopted: reacting to exportFinished with the
    next export (as a user clicking at once, or a script) is not 'already running'."""
    refused = []
    c.statusMessage.connect(lambda m: refused.append(m) if "already" in m else None)
    report = tmp_path / "report.html"
    c.anomaly.exportFinished.connect(
        lambda path: c.anomaly.export_report(report) if path.endswith(".csv") else None)
    with qtbot.waitSignal(c.anomaly.exportFinished, timeout=TIMEOUT,
                          check_params_cb=lambda p: p.endswith(".html")):
        assert c.anomaly.export_flagged(tmp_path / "flagged.csv")
    assert refused == []
    assert report.exists() and (tmp_path / "flagged.csv").exists()
    assert not c.is_busy()
