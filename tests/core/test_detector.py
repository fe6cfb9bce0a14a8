"""The application core's run: novelty detection through a saved model, export, sampling."""

import json

import numpy as np
import pandas as pd
import pytest

from gmm_desktop.core import Detector, DetectorError, Labels, RunConfig
from gmm_desktop.data import sidecar_path
from gmm_desktop.engine.anomaly import ThresholdSpec
from gmm_desktop.errors import GmmDesktopError


def _write(path, X, *, extra=None):
    frame = pd.DataFrame(X, columns=["temp", "pressure"])
    frame.insert(0, "sample", [f"s{i}" for i in range(len(frame))])
    frame["site"] = "north"
    if extra is not None:
        frame["site"] = extra
    frame.to_csv(path, index=False)
    return path


@pytest.fixture()
def clean_file(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.multivariate_normal([20.0, 1000.0], [[4.0, 3.0], [3.0, 25.0]], 400)
    return _write(tmp_path / "clean.csv", X)


def _fitted(path, **config):
    config.setdefault("n_components", 1)
    config.setdefault("method", "plain")  # these tests check plain EM's model
    det = Detector(RunConfig(columns=["temp", "pressure"], **config))
    det.load(path, id_column="sample")
    det.fit()
    det.detect()
    return det


def test_novelty_detection_round_trip(tmp_path, clean_file):
    det = _fitted(clean_file, threshold=ThresholdSpec("contamination", 0.01))
    assert det.detection.n_flagged == 4
    model_file = det.save_model(tmp_path / "model.json")
    doc = json.loads(model_file.read_text())
    saved = doc["extra"]["gmm_desktop"]
    assert saved["features"]["columns"] == ["temp", "pressure"]
    assert saved["features"]["scaler"]["method"] == "robust"  # the default scaling
    assert saved["source"]["path"].endswith("clean.csv")
    cutoff = saved["threshold"]["log_density_cutoff"]
    assert cutoff == pytest.approx(det.detection.threshold.log_density_cutoff)

    # new rows: three ordinary ones and two far away, in original units
    new = np.array([[20.0, 1000.0], [21.0, 1002.0], [19.0, 998.0], [40.0, 1000.0], [20, 900]])
    new_file = _write(tmp_path / "new.csv", new)
    loaded = Detector.from_model_file(model_file)
    loaded.load(new_file)
    res = loaded.score()
    assert np.asarray(res.flags).tolist() == [False, False, False, True, True]
    assert list(loaded.features.row_ids) == ["s0", "s1", "s2", "s3", "s4"]  # saved id column
    # the same threshold value, not one re-learned on the new rows
    assert res.threshold.log_density_cutoff == pytest.approx(cutoff)
    # scoring the training file again reproduces the original scores exactly
    again = Detector.from_model_file(model_file)
    again.load(clean_file)
    again.score()
    np.testing.assert_allclose(again.scored.scores.log_density, det.scored.scores.log_density)
    np.testing.assert_array_equal(again.detection.flags, det.detection.flags)


def test_model_in_original_units(clean_file):
    det = _fitted(clean_file)
    frame = pd.read_csv(clean_file)
    X = frame[["temp", "pressure"]].to_numpy()
    np.testing.assert_allclose(det.bundle.means_original()[0], X.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(
        det.bundle.covariances_original()[0], np.cov(X.T, bias=True), rtol=1e-5
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_export_columns_and_sidecar(tmp_path, clean_file, suffix):
    det = _fitted(clean_file, n_components=2, threshold=ThresholdSpec("contamination", 0.02))
    out = det.export(tmp_path / f"flagged{suffix}", only_flagged=True)
    if suffix == ".csv":
        table = pd.read_csv(out)
    elif suffix == ".parquet":
        table = pd.read_parquet(out)
    else:
        table = pd.read_excel(out)
    assert list(table.columns) == [
        "sample", "temp", "pressure", "site", "log_density", "component",
        "resp_1", "resp_2", "mahalanobis", "chi2_tail", "contribution_temp",
        "contribution_pressure", "top_feature", "flag",
    ]
    assert len(table) == 8 and table["flag"].all()
    assert set(table["component"]) <= {1, 2}  # numbered from 1, as in the window
    # the explanation: the features' contributions add up to the squared distance
    np.testing.assert_allclose(table["contribution_temp"] + table["contribution_pressure"],
                               table["mahalanobis"] ** 2, rtol=1e-9)
    top = np.where(table["contribution_temp"] >= table["contribution_pressure"], "temp",
                   "pressure")
    assert list(table["top_feature"]) == list(top)
    flagged = np.asarray(det.detection.flags)
    np.testing.assert_allclose(table["log_density"], det.scored.scores.log_density[flagged])
    assert list(table["sample"]) == list(det.features.row_ids[flagged])  # the ID column
    meta = json.loads(sidecar_path(out).read_text())
    assert meta["threshold"]["spec"] == {
        "kind": "contamination", "value": 0.02, "small_component_share": None,
    }
    assert meta["model"]["n_components"] == 2
    assert meta["source"]["path"].endswith("clean.csv")
    assert meta["n_flagged"] == 8
    all_rows = det.export(tmp_path / f"all{suffix}")
    assert all_rows.exists()


def test_export_is_atomic(tmp_path, clean_file, monkeypatch):
    det = _fitted(clean_file)
    target = tmp_path / "flagged.csv"
    target.write_text("precious old content\n")

    def failing_to_csv(self, handle, *args, **kwargs):
        handle.write("row_id,temp\n1,2\n")  # half a file, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", failing_to_csv)
    with pytest.raises(GmmDesktopError, match="No space left"):
        det.export(target)
    assert target.read_text() == "precious old content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.csv", "flagged.csv"]


def test_sample_in_original_units(clean_file):
    det = _fitted(clean_file, n_components=2)
    synth = det.sample(4000, seed=5)
    assert list(synth.columns) == ["temp", "pressure", "component"]
    assert set(synth["component"]) == {0, 1}
    assert synth["temp"].mean() == pytest.approx(20.0, abs=0.3)
    assert synth["pressure"].mean() == pytest.approx(1000.0, abs=0.6)
    np.testing.assert_array_equal(det.sample(10, seed=5), det.sample(10, seed=5))
    with pytest.raises(GmmDesktopError, match="positive integer"):
        det.sample(0)


def test_bic_range_and_manual_labels(tmp_path):
    rng = np.random.RandomState(2)
    X = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(7, 1, (200, 2))])
    path = _write(tmp_path / "two.csv", X)
    det = Detector(RunConfig(columns=["temp", "pressure"], n_components=[1, 2, 3, 4],
                             method="plain"))
    det.load(path)
    det.fit()
    assert det.model.n_components == 2 and det.selection is not None
    never = np.zeros(400, bool)
    exclude = np.zeros(400, bool)
    base = det.detect()
    first = int(np.flatnonzero(base.flags)[0])
    never[first] = True
    exclude[5] = True
    det.label_mask(exclude, "outlier")
    det.label_mask(never, "normal")
    res = det.detect()
    assert not res.flags[first] and res.flags[5]
    assert det.labels == Labels(outlier=[5], normal=[first])
    with pytest.raises(DetectorError, match="mask"):
        det.label_mask(np.zeros(3, bool), "outlier")


def test_export_with_an_id_column_carries_it_once(tmp_path):
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"key": [f"k{i}" for i in range(120)], "a": rng.randn(120),
                          "b": rng.randn(120)})
    frame.loc[0, ["a", "b"]] = [25.0, -25.0]
    src = tmp_path / "with_id.csv"
    frame.to_csv(src, index=False)
    det = Detector(RunConfig(n_components=1, id_column="key",
                                  threshold=ThresholdSpec("contamination", 1 / 120)))
    det.load(src)
    det.fit()
    det.detect(refit=None)
    table = pd.read_csv(det.export(tmp_path / "out.csv", only_flagged=True))
    assert "row_id" not in table.columns and list(table.columns).count("key") == 1
    assert list(table["key"]) == ["k0"]


def test_scoring_imputes_with_the_training_medians(tmp_path, clean_file):
    det = _fitted(clean_file, missing="median", threshold=ThresholdSpec("contamination", 0.01))
    train = pd.read_csv(clean_file)
    model_file = det.save_model(tmp_path / "model.json")
    # New data whose own median is far from the training one, with one missing value.
    rng = np.random.RandomState(1)
    new = pd.DataFrame({"sample": [f"n{i}" for i in range(50)],
                        "temp": rng.normal(60.0, 1.0, 50), "pressure": rng.normal(1000, 5, 50),
                        "site": "south"})
    new.loc[7, "temp"] = np.nan
    new_file = tmp_path / "new.csv"
    new.to_csv(new_file, index=False)
    scorer = Detector.from_model_file(model_file)
    scorer.load(new_file)
    feats = scorer.prepare().features
    filled = scorer.bundle.scaler.inverse_transform(feats.X)[7, 0]
    assert filled == pytest.approx(np.median(train["temp"]), rel=1e-9)
    assert abs(filled - np.nanmedian(new["temp"])) > 30
    assert feats.report.rows_imputed == 1
