"""Scoring follows the covariance type's structure and works a chunk at a time: same
numbers as the model's own methods, no d × d matrix for diagonal models (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from gmm_desktop.engine import GaussianMixture
from gmm_desktop.engine.anomaly import score_rows
from gmm_desktop.plugin_api import CovarianceType, squared_mahalanobis

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def _data(seed=0, n=600, d=4):
    rng = np.random.RandomState(seed)
    return np.vstack([rng.randn(n // 2, d), rng.randn(n // 2, d) * 0.5 + 3])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_scores_match_the_model_and_scipy_whatever_the_chunk(covariance_type):
    X = _data()
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    whole = score_rows(model, X)
    np.testing.assert_allclose(whole.log_density, model.score_samples(X), rtol=1e-12)
    np.testing.assert_allclose(whole.responsibilities, model.predict_proba(X), atol=1e-12)
    full = model.full_covariances()
    expected = np.column_stack([
        cdist(X, model.means_[k : k + 1], "mahalanobis", VI=np.linalg.inv(full[k]))[:, 0]
        for k in range(3)
    ])
    np.testing.assert_allclose(whole.mahalanobis_all, expected, rtol=1e-9)
    for chunk in (1, 7, 64, 599, 10_000):
        part = score_rows(model, X, chunk_size=chunk)
        for name in ("log_density", "component", "responsibilities", "mahalanobis",
                     "tail_probability", "mahalanobis_all"):
            np.testing.assert_allclose(getattr(part, name), getattr(whole, name), rtol=1e-12,
                                       atol=1e-300, err_msg=f"{name}, chunk {chunk}")


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_diagonal_models_never_build_full_matrices(covariance_type, monkeypatch):
    X = np.random.RandomState(1).randn(60, 3000)
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)

    def forbidden(*args, **kwargs):
        raise AssertionError("a d × d covariance was built")

    monkeypatch.setattr(CovarianceType, "to_full", forbidden)
    monkeypatch.setattr(type(model._plugin()), "to_full", forbidden, raising=False)
    scores = score_rows(model, X)
    assert scores.mahalanobis_all.shape == (60, 2)
    assert np.all(np.isfinite(scores.log_density))


def test_bad_rows_are_named_by_their_place_in_the_whole_table():
    X = _data()
    model = GaussianMixture(2, random_state=0).fit(X)
    bad = X.copy()
    bad[437, 2] = np.nan
    with pytest.raises(ValueError, match="row 437, column 2"):
        score_rows(model, bad, chunk_size=50)


def test_float32_and_integer_tables_are_scored_like_float64():
    X = np.round(_data() * 10)
    model = GaussianMixture(2, random_state=0).fit(X)
    reference = score_rows(model, X)
    for variant in (X.astype(np.float32), X.astype(np.int64)):
        np.testing.assert_allclose(score_rows(model, variant).log_density,
                                   reference.log_density, rtol=1e-6)


@pytest.mark.parametrize("form", ["full", "diag", "spherical"])
def test_squared_mahalanobis_accepts_each_storage(form):
    rng = np.random.RandomState(2)
    X, means = rng.randn(50, 3), rng.randn(2, 3)
    variances = rng.uniform(0.5, 2.0, size=(2, 3))
    if form == "spherical":
        variances = np.repeat(variances[:, :1], 3, axis=1)
    full = np.stack([np.diag(v) for v in variances])
    given = {"full": full, "diag": variances, "spherical": variances[:, 0]}[form]
    expected = np.stack([((X - means[k]) ** 2 / variances[k]).sum(axis=1) for k in range(2)], 1)
    for chunk in (None, 3):
        np.testing.assert_allclose(
            squared_mahalanobis(X, means, given, chunk_size=chunk), expected, rtol=1e-12
        )


def test_squared_mahalanobis_refuses_unknown_shapes():
    with pytest.raises(ValueError, match="expected"):
        squared_mahalanobis(np.zeros((4, 3)), np.zeros((2, 3)), np.ones((3, 3)))
