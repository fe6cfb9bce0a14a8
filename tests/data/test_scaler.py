"""Scaler: transforms, covariance back to original units, JSON round trip and validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gmm_desktop.data import DataError, Scaler, ScalerFormatError
from gmm_desktop.errors import ModelFileError


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    A = np.array([[3.0, 0.0, 0.0], [1.0, 0.2, 0.0], [0.5, -0.3, 40.0]])
    return rng.normal(size=(2000, 3)) @ A.T + np.array([10.0, -5.0, 1000.0])


@pytest.mark.parametrize("method", ["none", "standardize", "robust"])
def test_transform_inverse_round_trip(data, method):
    scaler = Scaler.fit(data, method, ["a", "b", "c"])
    Z = scaler.transform(data)
    np.testing.assert_allclose(scaler.inverse_transform(Z), data, rtol=1e-12, atol=1e-9)
    assert scaler.n_features == 3


def test_covariance_to_original_matches_the_data(data):
    scaler = Scaler.fit(data, "standardize")
    Z = scaler.transform(data)
    cov_scaled = np.cov(Z, rowvar=False)
    s = scaler.scale_
    expected = np.diag(s) @ cov_scaled @ np.diag(s)
    mapped = scaler.covariance_to_original(cov_scaled)
    np.testing.assert_allclose(mapped, expected, rtol=1e-12)
    np.testing.assert_allclose(mapped, np.cov(data, rowvar=False), rtol=1e-9)
    # stacks of matrices, diagonal and spherical forms
    stack = np.stack([cov_scaled, 2 * cov_scaled])
    np.testing.assert_allclose(scaler.covariance_to_original(stack)[1], 2 * expected)
    diag = np.diag(cov_scaled)
    np.testing.assert_allclose(scaler.covariance_to_original(diag, "diag"), np.diag(expected))
    np.testing.assert_allclose(
        scaler.covariance_to_original(np.array([1.0, 4.0]), "spherical"),
        [s**2, 4 * s**2],
    )
    with pytest.raises(DataError, match="shape"):
        scaler.covariance_to_original(np.eye(2))
    with pytest.raises(DataError, match="unknown covariance type"):
        scaler.covariance_to_original(cov_scaled, "banana")


def test_json_round_trip_is_exact(data):
    scaler = Scaler.fit(data, "robust", ["a", "b", "c"])
    text = json.dumps(scaler.to_dict(), allow_nan=False)
    again = Scaler.from_dict(json.loads(text))
    assert again == scaler
    np.testing.assert_array_equal(again.transform(data), scaler.transform(data))
    assert Scaler.from_dict(Scaler.identity(2).to_dict()) == Scaler.identity(2)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(method="minmax"), "'method'"),
        (lambda d: d.update(center=[1.0, "x", 2.0]), "'center' must be a list of numbers"),
        (lambda d: d.update(scale=[1.0, 0.0, 1.0]), "positive"),
        (lambda d: d.update(scale=[1.0, 2.0]), "different lengths"),
        (lambda d: d.update(center=[1.0, float("nan"), 2.0]), "non-finite"),
        (lambda d: d.update(columns=["a"]), "one name per feature"),
        (lambda d: d.update(columns="abc"), "'columns'"),
        (lambda d: d.update(version=99), "version"),
        (lambda d: d.update(format="something-else"), "'format'"),
        (lambda d: d.update(scale=[True, 1.0, 1.0]), "list of numbers"),
        (lambda d: d.pop("center"), "'center'"),
    ],
)
def test_from_dict_rejects_malformed_documents(data, mutate, message):
    doc = Scaler.fit(data, "standardize", ["a", "b", "c"]).to_dict()
    mutate(doc)
    with pytest.raises(ScalerFormatError, match=message) as info:
        Scaler.from_dict(doc)
    assert isinstance(info.value, ModelFileError) and isinstance(info.value, DataError)
    assert "saved scaler is invalid" in str(info.value)


def test_from_dict_rejects_non_mapping():
    with pytest.raises(ScalerFormatError, match="JSON object"):
        Scaler.from_dict([1, 2, 3])  # type: ignore[arg-type]


def test_fit_is_overflow_safe_near_the_float_limit():
    X = np.array([[1e308], [-1e308], [5e307], [-5e307]])
    scaler = Scaler.fit(X, "standardize")
    assert np.isfinite(scaler.scale_).all()
    Z = scaler.transform(X)
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(Z.std(), 1.0, rtol=1e-12)
    robust = Scaler.fit(X, "robust")
    assert np.isfinite(robust.transform(X)).all()


def test_constant_column_gets_unit_scale_and_robust_falls_back_to_std():
    X = np.column_stack([np.full(10, 3.0), np.r_[np.zeros(8), 10.0, -10.0]])
    s = Scaler.fit(X, "robust")
    assert s.scale_[0] == 1.0
    # IQR of the second column is 0, so its standard deviation is used.
    np.testing.assert_allclose(s.scale_[1], X[:, 1].std())


def test_transform_checks_shape_and_ignores_nan():
    s = Scaler("standardize", [1.0, 2.0], [2.0, 4.0], ["a", "b"])
    out = s.transform([[3.0, np.nan]])
    assert out[0, 0] == 1.0 and np.isnan(out[0, 1])
    with pytest.raises(DataError, match=r"shape \(rows, 2\)"):
        s.transform(np.ones((3, 3)))


def test_transform_reports_overflow_by_column():
    s = Scaler("standardize", [0.0, 0.0], [1.0, 1e-300], ["a", "b"])
    with pytest.raises(DataError, match="infinity") as info:
        s.transform([[1.0, 1e10]])
    assert info.value.column == "b"


def test_constructor_validation():
    with pytest.raises(DataError, match="unknown scaling"):
        Scaler("minmax", [0.0], [1.0])
    with pytest.raises(DataError, match="positive"):
        Scaler("standardize", [0.0], [-1.0])
    with pytest.raises(DataError, match="non-finite"):
        Scaler("standardize", [np.inf], [1.0])
