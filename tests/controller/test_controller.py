"""The controller without widgets: real data files, real fits, signals only."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

from gmm_desktop.controller import AppController
from gmm_desktop.controller.session import CrashGuard
from gmm_desktop.data import load_table, prepare_features
from gmm_desktop.engine import GaussianMixture

TIMEOUT = 30_000


@pytest.fixture
def controller(qtbot, gmm_state_dir):
    c = AppController()
    yield c
    c.cancel()
    c.wait(10_000)


def open_and_wait(qtbot, c: AppController, path, **kw):
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT):
        assert c.open_file(path, **kw)
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)


def fit_and_wait(qtbot, c: AppController, **changes):
    changes.setdefault("method", "plain")  # compared with the engine's EM below
    changes.setdefault("covariance_types", ("full",))
    with qtbot.waitSignal(c.fitFinished, timeout=TIMEOUT) as blocker:
        assert c.fit(**changes)
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    return blocker.args[0]


def truth_of(path: Path) -> np.ndarray:
    import pandas as pd

    return pd.read_csv(path)["group"].str[1].astype(int).to_numpy()


def test_fit_in_background_matches_the_engine_and_finds_the_blobs(qtbot, controller, blobs_csv):
    c = controller
    with qtbot.waitSignal(c.datasetChanged, timeout=TIMEOUT) as ds_blocker:
        c.open_file(blobs_csv, scaling="none")
    qtbot.waitUntil(lambda: c.has_data and not c.is_busy(), timeout=TIMEOUT)
    view = ds_blocker.args[0]
    assert view.n_rows == 600
    assert set(view.numeric_columns) == {"alpha", "beta", "gamma"}
    assert c.feature_columns == ("alpha", "beta", "gamma")

    progress = []
    c.fitProgress.connect(progress.append)
    summary = fit_and_wait(qtbot, c, n_components=3, covariance_types=("full",),
                           random_state=0, tol=1e-6)

    # the same fit done directly with the engine
    X = prepare_features(load_table(blobs_csv), columns=["alpha", "beta", "gamma"]).X
    ref = GaussianMixture(3, covariance_type="full", random_state=0, tol=1e-6).fit(X)
    np.testing.assert_allclose([r.weight for r in summary.components], ref.weights_, rtol=1e-10)
    np.testing.assert_allclose([r.mean for r in summary.components], ref.means_, rtol=1e-10)
    np.testing.assert_allclose(
        [r.covariance for r in summary.components], ref.covariances_, rtol=1e-9
    )
    assert summary.lower_bound == pytest.approx(ref.lower_bound_)
    assert summary.bic == pytest.approx(ref.bic(X))
    # progress arrived with the log-likelihood history, throttled
    assert progress and progress[-1].history
    assert len(progress) <= summary.n_iter + 1
    # the colours of the points are the most likely components: they find the 3 blobs
    scatter = c.scatter
    assert scatter.colour_kind == "component"
    assert adjusted_rand_score(truth_of(blobs_csv), scatter.colour_index) == pytest.approx(1.0)
    np.testing.assert_array_equal(scatter.colour_index, ref.predict(X))
    assert not scatter.x.flags.writeable


def _mahalanobis_sq(points: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    d = points - mean
    return np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d)


def _outlines(scatter):
    """Split the NaN-separated outlines into a list of (P, 2) arrays."""
    x, y = scatter.ellipse_x, scatter.ellipse_y
    cuts = np.flatnonzero(np.isnan(x))
    out, start = [], 0
    for cut in cuts:
        out.append(np.column_stack([x[start:cut], y[start:cut]]))
        start = cut + 1
    return out


def test_ellipses_are_the_marginal_covariances_in_data_units(qtbot, controller, blobs_csv):
    c = controller
    open_and_wait(qtbot, c, blobs_csv, scaling="standardize")
    fit_and_wait(qtbot, c, n_components=3, random_state=1)
    c.set_view(x_column="gamma", y_column="alpha")
    s = c.scatter
    frame = load_table(blobs_csv).frame
    # the points are plotted in the file's units even though the model is standardized
    np.testing.assert_allclose(s.x, frame["gamma"].to_numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.y, frame["alpha"].to_numpy(), rtol=1e-12, atol=1e-12)
    assert s.n_ellipses == 9 and int(np.isnan(s.ellipse_x).sum()) == 9
    # reference: the covariance in original units from the data layer's own scaler
    prep = prepare_features(load_table(blobs_csv), scaling="standardize")
    ref = GaussianMixture(3, random_state=1).fit(prep.X)
    cov_orig = prep.scaler.covariance_to_original(ref.covariances_, "full")
    mean_orig = prep.scaler.inverse_transform(ref.means_)
    outlines = _outlines(s)
    for k in range(3):
        sub = np.ix_([2, 0], [2, 0])
        for level, r in enumerate((1.0, 2.0, 3.0)):
            pts = outlines[3 * k + level]
            m2 = _mahalanobis_sq(pts, mean_orig[k, [2, 0]], cov_orig[k][sub])
            np.testing.assert_allclose(m2, r * r, rtol=1e-8)
        np.testing.assert_allclose(s.means[k], mean_orig[k, [2, 0]], rtol=1e-10)
    # probability mass: one outline per component at sqrt(chi2_2(0.9))
    c.set_view(ellipse_mode="mass", mass=0.9)
    s = c.scatter
    assert s.n_ellipses == 3
    pts = _outlines(s)[0]
    m2 = _mahalanobis_sq(pts, mean_orig[0, [2, 0]], cov_orig[0][np.ix_([2, 0], [2, 0])])
    np.testing.assert_allclose(m2, -2 * np.log(1 - 0.9), rtol=1e-8)  # chi2(2) quantile
    with pytest.raises(ValueError):
        c.set_view(mass=1.5)


def test_principal_component_axes(qtbot, controller, blobs_csv):
    c = controller
    open_and_wait(qtbot, c, blobs_csv, scaling="none")
    fit_and_wait(qtbot, c, n_components=3, random_state=0)
    c.set_view(axes="pca")
    s = c.scatter
    assert s.x_label.startswith("PC1") and s.y_label.startswith("PC2")
    X = prepare_features(load_table(blobs_csv)).X
    ref = PCA(2).fit(X)
    proj = ref.transform(X)
    for axis, values in ((0, s.x), (1, s.y)):
        sign = np.sign(np.dot(proj[:, axis], values))
        np.testing.assert_allclose(values, sign * proj[:, axis], atol=1e-8)
    ratio = float(s.x_label.split("(")[1].split("%")[0])
    assert ratio == pytest.approx(100 * ref.explained_variance_ratio_[0], abs=0.05)
    # ellipses: W^T Sigma W around the projected means
    model = GaussianMixture(3, random_state=0).fit(X)
    W = np.column_stack([np.sign(np.dot(proj[:, a], v)) * ref.components_[a]
                         for a, v in ((0, s.x), (1, s.y))])
    outlines = _outlines(s)
    for k in range(3):
        cov2 = W.T @ model.covariances_[k] @ W
        mean2 = (model.means_[k] - X.mean(axis=0)) @ W
        np.testing.assert_allclose(s.means[k], mean2, atol=1e-8)
        m2 = _mahalanobis_sq(outlines[3 * k + 1], mean2, cov2)
        np.testing.assert_allclose(m2, 4.0, rtol=1e-6)


def test_uncertainty_colouring(qtbot, controller, blobs_csv):
    c = controller
    open_and_wait(qtbot, c, blobs_csv, scaling="none")
    fit_and_wait(qtbot, c, n_components=3, random_state=0)
    c.set_view(colour_by="uncertainty")
    s = c.scatter
    X = prepare_features(load_table(blobs_csv)).X
    unc = 1 - GaussianMixture(3, random_state=0).fit(X).predict_proba(X).max(axis=1)
    expected = np.minimum((unc / (2 / 3) * 8).astype(int), 7)
    np.testing.assert_array_equal(s.colour_index, expected)
    assert s.colour_kind == "uncertainty" and s.n_colours == 8
    assert [e.colour_index for e in s.legend] == list(range(8))  # every colour drawn


def test_point_info_gives_row_identity_values_and_responsibilities(qtbot, controller, blobs_csv):
    c = controller
    open_and_wait(qtbot, c, blobs_csv, scaling="none")
    fit_and_wait(qtbot, c, n_components=3, random_state=0)
    info = c.point_info(5)
    frame = load_table(blobs_csv).frame
    assert info.row_id == "5"
    assert dict(info.values)["beta"] == pytest.approx(frame["beta"][5])
    assert sum(info.responsibilities) == pytest.approx(1.0)
    assert info.component == int(np.argmax(info.responsibilities))
    assert "row 5" in info.to_text()
    assert c.point_info(10_000) is None


def _big_csv(tmp_path: Path, n: int = 120_000) -> Path:
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(0, 1, (n // 2, 4)), rng.normal(3, 2, (n - n // 2, 4))])
    path = tmp_path / "big.csv"
    np.savetxt(path, X, delimiter=",", header="a,b,c,d", comments="", fmt="%.6f")
    return path


def test_cancel_stops_within_a_second_and_keeps_the_previous_model(
    qtbot, controller, tmp_path
):
    c = controller
    open_and_wait(qtbot, c, _big_csv(tmp_path))
    first = fit_and_wait(qtbot, c, n_components=2, max_iter=5, random_state=0)
    seen = []
    c.fitProgress.connect(seen.append)
    assert c.fit(n_components=6, max_iter=100_000, tol=0.0, random_state=0)
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=TIMEOUT)
    with qtbot.waitSignal(c.fitCancelled, timeout=1000):
        started = time.perf_counter()
        c.cancel("fit")
    took = time.perf_counter() - started
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    assert took < 1.0
    after = c.model_summary()
    assert after.n_components == 2
    assert after.components == first.components
    assert c.scatter.n_ellipses == 6  # the previous model is still drawn


def test_sweep_and_adopt_a_point(qtbot, controller, blobs_csv):
    c = controller
    open_and_wait(qtbot, c, blobs_csv, scaling="none")
    with qtbot.waitSignal(c.sweepFinished, timeout=60_000) as blocker:
        c.run.config = c.config.replace(random_state=0, n_init=2)
        assert c.run_sweep([1, 2, 3, 4], ["full", "diag"], "bic")
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    view = blocker.args[0]
    assert [name for name, _, _ in view.curves] == ["full", "diag"]
    for _, ks, vals in view.curves:
        assert ks == (1, 2, 3, 4)
        assert np.argmin(vals) == 2  # three blobs
    # the BIC values match the engine's own
    X = prepare_features(load_table(blobs_csv)).X
    ref = GaussianMixture(2, covariance_type="diag", n_init=2, random_state=0).fit(X)
    assert view.curves[1][2][1] == pytest.approx(ref.bic(X), rel=1e-9)
    with qtbot.waitSignal(c.modelChanged, timeout=TIMEOUT) as changed:
        assert c.adopt_sweep_model(2, "diag")
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    summary = changed.args[0]
    assert (summary.n_components, summary.covariance_type) == (2, "diag")
    np.testing.assert_allclose([r.weight for r in summary.components], ref.weights_)


def test_session_round_trip(qtbot, controller, blobs_csv, tmp_path):
    c = controller
    open_and_wait(qtbot, c, blobs_csv, columns=["alpha", "gamma"], scaling="robust")
    summary = fit_and_wait(qtbot, c, n_components=3, covariance_types=("tied",),)
    c.set_view(colour_by="uncertainty", ellipse_mode="mass", mass=0.8)
    path = tmp_path / "s.json"
    assert c.sessions.save(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "gmm-desktop/session" and doc["format_version"] == 3
    assert (doc["config"]["columns"], doc["config"]["missing"], doc["config"]["scaling"]) == (
        ["alpha", "gamma"], "drop", "robust")

    other = AppController()
    with qtbot.waitSignal(other.modelChanged, timeout=TIMEOUT,
                          check_params_cb=lambda s: s is not None):
        assert other.sessions.open(path)
    qtbot.waitUntil(lambda: not other.is_busy(), timeout=TIMEOUT)
    assert other.feature_columns == ("alpha", "gamma")
    restored = other.model_summary()
    assert restored.components == summary.components
    assert restored.covariance_type == "tied"
    assert other.view_settings == c.view_settings
    assert other.config == c.config
    np.testing.assert_array_equal(other.scatter.colour_index, c.scatter.colour_index)
    np.testing.assert_allclose(other.scatter.ellipse_x, c.scatter.ellipse_x, equal_nan=True)


def test_model_save_and_load(qtbot, controller, blobs_csv, tmp_path):
    c = controller
    open_and_wait(qtbot, c, blobs_csv, scaling="none")
    summary = fit_and_wait(qtbot, c, n_components=3, random_state=0)
    path = tmp_path / "m.json"
    assert c.save_model(path)
    fresh = AppController()
    open_and_wait(qtbot, fresh, blobs_csv)
    with qtbot.waitSignal(fresh.modelChanged, timeout=TIMEOUT):
        assert fresh.load_model(path)
    assert fresh.model_summary().components == summary.components
    # applied with its own columns, scaler and threshold: the same flags as where it was made
    np.testing.assert_array_equal(fresh.anomaly.view.flags, c.anomaly.view.flags)
    # a table without one of the model's columns is refused, and the current model is kept
    import pandas as pd

    narrow = tmp_path / "narrow.csv"
    pd.read_csv(blobs_csv).drop(columns=["gamma"]).to_csv(narrow, index=False)
    open_and_wait(qtbot, fresh, narrow)
    errors = []
    fresh.errorOccurred.connect(lambda t, m: errors.append(m))
    assert not fresh.load_model(path)
    assert "no column 'gamma'" in errors[0] and "alpha, beta, gamma" in errors[0]
    assert fresh.model_summary().components == summary.components


def test_errors_are_messages_never_tracebacks(qtbot, controller, tmp_path):
    c = controller
    errors = []
    c.errorOccurred.connect(lambda title, message: errors.append((title, message)))
    assert not c.fit()
    assert "Open a dataset" in errors[-1][1]
    missing = tmp_path / "nope.csv"
    with qtbot.waitSignal(c.errorOccurred, timeout=TIMEOUT):
        c.open_file(missing)
    assert "nope.csv" in errors[-1][1] and "Traceback" not in errors[-1][1]
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "gmm-desktop/session", "format_version": 1, "model": {"x": 1}}')
    with qtbot.waitSignal(c.errorOccurred, timeout=TIMEOUT):
        c.sessions.open(bad)  # what can be restored is; the bad model is named
    assert "bad.json" in errors[-1][1] and "model" in errors[-1][1]
    bad.write_text("{not json")
    assert not c.sessions.open(bad)
    assert "invalid JSON" in errors[-1][1]


def test_fit_failure_is_reported_and_keeps_the_model(qtbot, controller, tmp_path):
    c = controller
    path = tmp_path / "dup.csv"
    rows = ["a,b"] + ["1.0,2.0"] * 30 + ["5.0,1.0"] * 30
    path.write_text("\n".join(rows) + "\n")
    open_and_wait(qtbot, c, path)
    first = fit_and_wait(qtbot, c, n_components=2, random_state=0)
    with qtbot.waitSignal(c.errorOccurred, timeout=TIMEOUT) as blocker:
        c.fit(n_components=2, reg_covar=0.0, random_state=0, method="plain")
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    title, message = blocker.args
    assert title == "Fit failed" and "reg_covar" in message
    assert c.model_summary().components == first.components


def test_autosave_after_fit_and_crash_guard(qtbot, controller, blobs_csv, gmm_state_dir):
    c = controller
    assert c.sessions.start_crash_guard() is None
    marker = gmm_state_dir / "running.pid"
    assert marker.read_text().strip() == str(os.getpid())
    open_and_wait(qtbot, c, blobs_csv)
    with qtbot.waitSignal(c.sessions.autosaved, timeout=TIMEOUT):
        fit_and_wait(qtbot, c, n_components=3, random_state=0)
    autosave = gmm_state_dir / "autosave-session.json"
    assert json.loads(autosave.read_text())["model"]["params"]["n_components"] == 3
    # a marker from a process that no longer exists means an unclean exit
    marker.write_text("999999999\n")
    assert CrashGuard(gmm_state_dir).crashed_session() == autosave
    # a marker of a live process (another instance) is not a crash
    marker.write_text(f"{os.getppid()}\n")
    assert CrashGuard(gmm_state_dir).crashed_session() is None
    c.shutdown()
    assert not marker.exists() and not autosave.exists()


def test_choices_come_from_the_plugin_registry(qtbot, controller):
    from gmm_desktop.registry import get_registry

    assert AppController.covariance_types() == get_registry().names("covariance")
    assert "spherical" in AppController.covariance_types()
    assert "k-means++" in AppController.initializers()


def test_open_demo_uses_its_id_column_and_intended_features(qtbot, controller):
    import pandas as pd

    from gmm_desktop.data import demo_path

    c = controller
    with qtbot.waitSignal(c.featuresChanged, timeout=TIMEOUT) as blocker:
        assert c.open_demo("synthetic")
    qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
    assert c.feature_columns == ("x", "y")
    assert blocker.args[0].columns == ("x", "y")
    raw = pd.read_csv(demo_path("synthetic"))
    # the ground truth and the ID are never features; rows are named by the `id` column
    assert c.point_info(0).row_id == str(raw["id"].iloc[0])
    last = len(raw) - 1
    assert c.point_info(last).row_id == str(raw["id"].iloc[last])
    assert dict(c.point_info(3).values) == pytest.approx(
        {"x": raw["x"].iloc[3], "y": raw["y"].iloc[3]}
    )


def test_parameters_view_is_in_data_units_when_the_model_is_scaled(qtbot, controller, blobs_csv):
    c = controller
    open_and_wait(qtbot, c, blobs_csv, scaling="standardize")
    fit_and_wait(qtbot, c, n_components=1, random_state=0)
    summary = c.model_summary()
    assert summary.units == "data units"
    X = prepare_features(load_table(blobs_csv)).X  # the numeric columns, unscaled
    # With one component the fitted mean and covariance are the sample's (+ reg_covar,
    # which is 1e-6 in standardized units, times each column's variance here).
    np.testing.assert_allclose(summary.components[0].mean, X.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(
        summary.components[0].covariance, np.cov(X.T, bias=True), rtol=1e-5, atol=1e-8
    )
