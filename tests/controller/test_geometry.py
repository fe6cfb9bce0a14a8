"""Ellipse outlines and PCA helpers."""

import numpy as np
import pytest
from scipy.stats import chi2

from gmm_desktop.controller.geometry import ellipse_outlines, fit_pca, radius_for_mass


def test_radius_for_mass_is_the_chi2_quantile():
    assert radius_for_mass(0.95) == pytest.approx(2.4477, abs=1e-4)
    assert radius_for_mass(0.5) ** 2 == pytest.approx(chi2.ppf(0.5, 2))
    for bad in (0.0, 1.0, -0.1, 2.0):
        with pytest.raises(ValueError):
            radius_for_mass(bad)


def test_outlines_lie_at_the_mahalanobis_radius():
    means = np.array([[1.0, -2.0], [1e6, 3e-3]])
    covs = np.array([[[4.0, 1.9], [1.9, 1.0]], [[1e4, -0.5], [-0.5, 1e-4]]])
    x, y = ellipse_outlines(means, covs, [1.0, 2.5])
    assert int(np.isnan(x).sum()) == 4
    parts = np.split(np.column_stack([x, y]), np.flatnonzero(np.isnan(x)) + 1)
    for idx, (k, r) in enumerate([(0, 1.0), (0, 2.5), (1, 1.0), (1, 2.5)]):
        pts = parts[idx][:-1]
        d = pts - means[k]
        m2 = np.einsum("ni,ij,nj->n", d, np.linalg.inv(covs[k]), d)
        np.testing.assert_allclose(m2, r * r, rtol=1e-7)
        np.testing.assert_allclose(pts[0], pts[-1])  # closed


def test_pca_matches_svd():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4)) + 10
    p = fit_pca(X)
    _, s, vt = np.linalg.svd(X - X.mean(0), full_matrices=False)
    for a in range(2):
        assert abs(np.dot(p.components[a], vt[a])) == pytest.approx(1.0)
    np.testing.assert_allclose(p.explained_ratio, (s**2 / (s**2).sum())[:2])
    one = fit_pca(X[:, :1])
    assert one.components.shape == (2, 1) and one.explained_ratio[1] == 0
