"""Why a row is flagged: each feature's contribution to its squared Mahalanobis distance."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

from gmm_desktop.core import Detector, RunConfig
from gmm_desktop.engine import GaussianMixture
from gmm_desktop.engine.anomaly import feature_contributions, score_rows


def _shapley(z: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Shapley values of v(S) = z_Sᵀ Λ_SS z_S by enumerating every coalition."""
    d = z.size
    phi = np.zeros(d)

    def v(s: tuple[int, ...]) -> float:
        idx = list(s)
        return float(z[idx] @ precision[np.ix_(idx, idx)] @ z[idx]) if idx else 0.0

    for j in range(d):
        others = [i for i in range(d) if i != j]
        for size in range(d):
            w = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            for s in itertools.combinations(others, size):
                phi[j] += w * (v(tuple(sorted((*s, j)))) - v(s))
    return phi


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_contributions_sum_to_the_distance_and_are_the_shapley_values(cov):
    X = load_wine().data[:, :5]
    model = GaussianMixture(3, covariance_type=cov, random_state=0).fit(X)
    contrib, comp = feature_contributions(model, X)
    scores = score_rows(model, X)
    np.testing.assert_array_equal(comp, scores.component)
    np.testing.assert_allclose(contrib.sum(axis=1), scores.mahalanobis**2, rtol=1e-9)
    precisions = np.linalg.inv(model.full_covariances())
    for row in (0, 17, 59, 130):
        k = comp[row]
        expected = _shapley(X[row] - model.means_[k], precisions[k])
        np.testing.assert_allclose(contrib[row], expected, rtol=1e-9, atol=1e-9)


def test_contributions_do_not_depend_on_the_units_or_the_order_of_features():
    """One component without regularisation is the sample mean and covariance: the same
    model in other units or another feature order, so the same contributions."""
    X = load_wine().data[:, :4]
    m1 = GaussianMixture(1, reg_covar=0.0).fit(X)
    c1, _ = feature_contributions(m1, X)
    scale = np.array([1000.0, 0.01, 1.0, 7.0])
    m2 = GaussianMixture(1, reg_covar=0.0).fit(X * scale)
    c2, _ = feature_contributions(m2, X * scale)
    np.testing.assert_allclose(c2, c1, rtol=1e-7, atol=1e-9)
    order = [2, 0, 3, 1]
    m3 = GaussianMixture(1, reg_covar=0.0).fit(X[:, order])
    c3, _ = feature_contributions(m3, X[:, order])
    np.testing.assert_allclose(c3, c1[:, order], rtol=1e-7, atol=1e-9)


def test_a_row_flagged_for_one_feature_names_it(tmp_path):
    """Wine, 13 features: a row made odd in one feature only is flagged for that feature,
    although it sits inside the ellipses of most pairs of features."""
    wine = load_wine(as_frame=True).frame.drop(columns="target")
    odd = wine.iloc[[0]].copy()
    odd["magnesium"] = wine["magnesium"].max() * 1.6
    frame = pd.concat([wine, odd], ignore_index=True)
    det = Detector(RunConfig(n_components=1))
    det.load(frame)
    det.fit()
    det.detect()
    table = det.result_frame(only_flagged=True)
    last = len(frame) - 1
    assert last in set(table["row_id"])
    assert table.set_index("row_id").loc[last, "top_feature"] == "magnesium"


def test_every_row_export_keeps_the_rows_left_out_and_says_why(tmp_path):
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.randn(30), "b": rng.randn(30)})
    frame.loc[[3, 7], "a"] = np.nan
    frame.loc[7, "b"] = np.inf
    det = Detector(RunConfig(n_components=1, threshold={"kind": "contamination",
                                                        "value": 0.1}))
    det.load(frame)
    det.fit()
    det.detect()
    out = pd.read_csv(det.export(tmp_path / "all.csv", only_flagged=False))
    assert len(out) == 30 and list(out["row_id"]) == list(range(30))
    assert out.loc[3, "status"] == "not scored: a missing or infinite value in a"
    assert out.loc[7, "status"] == "not scored: a missing or infinite value in a, b"
    assert (out.drop(index=[3, 7])["status"] == "scored").all()
    assert not out.loc[[3, 7], "flag"].any() and out["flag"].sum() == round(0.1 * 28)
