"""Model files are checked against a declared schema before any of their content is used:
every malformed document gives one clear ModelFileError (issue 14)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from gmm_desktop.engine import GaussianMixture, ModelFileError, load_model, save_model
from gmm_desktop.engine.serialization import MAX_COVARIANCE_VALUES

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def _fitted(covariance_type="full"):
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(80, 3), rng.randn(80, 3) * 0.5 + 4])
    return GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X), X


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    model, _ = _fitted()
    path = tmp_path_factory.mktemp("m") / "m.json"
    extra = {"anomaly": {"columns": ["a", "b", "c"], "config": {"n_init": 1}}}
    save_model(model, path, extra=extra)
    return json.loads(path.read_text())


def _refused(tmp_path, text: str) -> str:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ModelFileError) as info:
        load_model(path, with_extra=True)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message and len(message) < 600
    return message


def _edited(tmp_path, document, edit) -> str:
    doc = copy.deepcopy(document)
    edit(doc)
    return _refused(tmp_path, json.dumps(doc))


def test_the_untouched_document_loads(tmp_path, document):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(document))
    model, extra = load_model(path, with_extra=True)
    assert model.n_components == 2 and extra["anomaly"]["columns"] == ["a", "b", "c"]


@pytest.mark.parametrize("depth", [100, 5_000, 200_000])
def test_deep_nesting_is_a_clear_error_not_a_recursion_error(tmp_path, depth):
    message = _refused(tmp_path, '{"format": ' + "[" * depth + "]" * depth + "}")
    assert "nested more than 64 levels" in message


def test_deep_nesting_inside_a_valid_document(tmp_path, document):
    text = json.dumps(document)
    text = text[:-1] + ', "junk": ' + "[{" * 3000 + "}]" * 3000 + "}"
    assert "nested more than" in _refused(tmp_path, text)


@pytest.mark.parametrize("value", [{"name": "full"}, ["full"], 3, None, "x" * 5000])
def test_covariance_type_of_the_wrong_type(tmp_path, document, value):
    message = _edited(tmp_path, document, lambda d: d["params"].update(covariance_type=value))
    assert "params.covariance_type" in message
    if isinstance(value, str):
        assert "characters long" in message and "x" * 100 not in message
    else:
        assert "must be text" in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("tol", "abc", "params.tol: must be a number, got the text 'abc'"),
        ("n_components", "2", "params.n_components: must be a whole number"),
        ("n_components", 2.0, "params.n_components: must be a whole number"),
        ("max_iter", -1, "params.max_iter: must be at least 0"),
        ("warm_start", "yes", "params.warm_start: must be true or false"),
        ("reg_covar", [1e-6], "params.reg_covar: must be a number, got a list of 1"),
        ("random_state", 2**40, "params.random_state: must be at most"),
        ("means_init", [[1, 2]], "params.means_init: has shape (1, 2), expected (2, 3)"),
    ],
)
def test_params_of_the_wrong_type(tmp_path, document, key, value, expected):
    message = _edited(tmp_path, document, lambda d: d["params"].update({key: value}))
    assert expected in message


def test_params_that_is_not_an_object(tmp_path, document):
    assert "params: must be a JSON object, got a list of 0" in _edited(
        tmp_path, document, lambda d: d.update(params=[])
    )


def test_huge_declared_sizes_are_refused_before_any_allocation(tmp_path, document):
    def edit(d):
        d["params"]["n_components"] = 50_000
        d["n_features_in"] = 100_000

    message = _edited(tmp_path, document, edit)
    assert "far more than this version handles" in message
    assert f"{MAX_COVARIANCE_VALUES:,}" in message
    message = _edited(tmp_path, document, lambda d: d["params"].update(n_components=10**12))
    assert "params.n_components: must be at most 100000" in message


def test_full_covariances_too_large_for_the_type(tmp_path, document):
    def edit(d):
        d["params"]["n_components"] = 3
        d["n_features_in"] = 10_000  # 3 × 10,000² = 3e8 covariance values
        d["weights"] = [1 / 3] * 3
        d["means"] = [[0.0] * 10_000] * 3
        d["extra"] = {}

    assert "covariance values" in _edited(tmp_path, document, edit)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literals(tmp_path, document, literal):
    text = json.dumps(document).replace('"weights": [', f'"weights": [{literal}, ', 1)
    assert f"contains {literal}" in _refused(tmp_path, text)


def test_non_finite_numbers_written_as_huge_literals(tmp_path, document):
    text = json.dumps(document).replace('"means": [[', '"means": [[1e999, ', 1)
    message = _refused(tmp_path, text)
    assert "means" in message


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["extra"]["anomaly"].update(config="abc"),
         "extra.anomaly.config: must be a JSON object or null, got the text 'abc'"),
        (lambda d: d["extra"]["anomaly"].update(columns="abc"),
         "extra.anomaly.columns: must be a list"),
        (lambda d: d["extra"]["anomaly"].update(columns=["a"]),
         "extra.anomaly.columns: must list 3 item(s), got 1"),
        (lambda d: d["extra"]["anomaly"]["config"].update(n_init="many"),
         "extra.anomaly.config.n_init: must be a whole number"),
        (lambda d: d["extra"]["anomaly"].update(threshold={"spec": "q"}),
         "extra.anomaly.threshold.spec: must be a JSON object"),
        (lambda d: d.update(extra=[1]), "extra: must be a JSON object"),
        (lambda d: d["extra"]["anomaly"].update(scaler={"format": "F" * 10_000}),
         "extra.anomaly.scaler.format: is 10,000 characters long"),
        (lambda d: d["extra"]["anomaly"].update(scaler={"center": ["a"]}),
         "extra.anomaly.scaler.center: holds text"),
        (lambda d: d["weights"].__setitem__(0, "0.5"), "weights: holds text ('0.5')"),
        (lambda d: d["weights"].__setitem__(0, True), "weights: holds true/false"),
        (lambda d: d["means"][0].append(1.0), "means: must be a rectangular list"),
        (lambda d: d.update(means=[[1e400]]), "contains Infinity"),
        (lambda d: d.update(weights=[-0.5, 1.5]), "weights: must not hold values below 0"),
        (lambda d: d.update(n_features_in=0), "n_features_in: must be at least 1"),
        (lambda d: d.pop("covariances"), "covariances: is missing"),
        (lambda d: d.update(covariances="abc"), "covariances: must be a list or a JSON object"),
        (lambda d: d.update(feature_names_in=["a"]), "feature_names_in: must list 3"),
        (lambda d: d.update(format_version="1"), "format_version '1' is not valid"),
        (lambda d: d.update(format={"x": 1}), "not a gmm-desktop model"),
    ],
)
def test_each_malformed_field_gives_one_clear_message(tmp_path, document, edit, expected):
    message = _edited(tmp_path, document, edit)
    assert expected in message, message


def test_long_values_are_not_echoed_in_full(tmp_path, document):
    message = _edited(tmp_path, document, lambda d: d.update(format="F" * 1_000_000))
    assert len(message) < 400 and "F" * 100 not in message and "…" in message


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_an_asymmetric_covariance_is_refused(tmp_path, covariance_type):
    model, _ = _fitted(covariance_type)
    path = tmp_path / "m.json"
    save_model(model, path)
    doc = json.loads(path.read_text())
    matrix = doc["covariances"][0] if covariance_type == "full" else doc["covariances"]
    matrix[0][1] += 0.3  # positive definite still, but one triangle differs from the other
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match=r"not symmetric: entry \(0, 1\)"):
        load_model(path)


def test_round_off_asymmetry_is_accepted(tmp_path):
    model, X = _fitted("full")
    path = tmp_path / "m.json"
    save_model(model, path)
    doc = json.loads(path.read_text())
    doc["covariances"][1][0][2] *= 1 + 1e-14
    path.write_text(json.dumps(doc))
    loaded = load_model(path)
    np.testing.assert_allclose(loaded.score_samples(X), model.score_samples(X), rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_every_type_round_trips_through_the_schema(tmp_path, covariance_type):
    model, X = _fitted(covariance_type)
    path = tmp_path / "m.json"
    save_model(model, path)
    np.testing.assert_array_equal(load_model(path).score_samples(X), model.score_samples(X))
