"""Models saved as versioned JSON, validated on load, never pickled."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gmm_desktop import __version__
from gmm_desktop.engine import (
    MODEL_FORMAT_VERSION,
    GaussianMixture,
    ModelFileError,
    load_model,
    save_model,
)

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def fitted(covariance_type="full", seed=0):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(100, 3), rng.randn(100, 3) * 0.5 + 4])
    return GaussianMixture(2, covariance_type=covariance_type, random_state=seed).fit(X), X


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_round_trip_gives_the_same_model(tmp_path, covariance_type):
    model, X = fitted(covariance_type)
    path = tmp_path / "model.json"
    save_model(model, path, extra={"threshold": -3.5})
    loaded, extra = load_model(path, with_extra=True)
    assert extra == {"threshold": -3.5}
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.get_params() == model.get_params()
    assert loaded.lower_bound_ == model.lower_bound_
    assert loaded.lower_bounds_ == model.lower_bounds_
    doc = json.loads(path.read_text())
    assert doc["library_version"] == __version__
    assert doc["format_version"] == MODEL_FORMAT_VERSION
    assert b"\x80" not in path.read_bytes()  # text, not a pickle


def _corrupt(tmp_path, edit):
    model, _ = fitted()
    path = tmp_path / "m.json"
    save_model(model, path)
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d.update(format="something-else"), "not a gmm-desktop model"),
        (lambda d: d.update(format_version=MODEL_FORMAT_VERSION + 1), "newer gmm-desktop"),
        (lambda d: d.update(weights=[0.7, 0.7]), "sum to 1"),
        (lambda d: d.update(weights=[1.0]), r"weights: .*\(n_components,\)"),
        (lambda d: d.update(means=[[0.0, 0.0, 0.0]]), r"means: has shape \(1, 3\)"),
        (lambda d: d["means"][0].__setitem__(0, None), "null where a number"),
        (lambda d: d.update(covariances=[[[1, 0, 0], [0, 1, 0], [0, 0, 1]]]), "covariances"),
        (lambda d: d["covariances"][0][0].__setitem__(0, -5.0), "not positive definite"),
        (lambda d: d["params"].update(covariance_type="mystery"), "not available"),
        (lambda d: d.pop("weights"), "missing"),
    ],
)
def test_corrupt_documents_are_refused_clearly(tmp_path, edit, match):
    path = _corrupt(tmp_path, edit)
    with pytest.raises(ModelFileError, match=match) as err:
        load_model(path)
    assert str(path) in str(err.value)


def test_truncated_missing_and_binary_files(tmp_path):
    model, _ = fitted()
    path = tmp_path / "m.json"
    save_model(model, path)
    path.write_text(path.read_text()[:200])
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        load_model(path)
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "absent.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "bin.json")


def test_a_failed_save_leaves_the_existing_file_intact(tmp_path):
    model, _ = fitted()
    path = tmp_path / "m.json"
    save_model(model, path)
    before = path.read_bytes()
    with pytest.raises(ValueError):
        save_model(GaussianMixture(2), path)  # not fitted: nothing may be written
    broken, _ = fitted()
    broken.means_ = broken.means_ * np.nan  # not JSON-representable (allow_nan=False)
    with pytest.raises(ValueError):
        save_model(broken, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]  # no temp files left
