"""Identities that must not shift: components after a refit, degenerate models."""

from __future__ import annotations

import numpy as np
import pytest

from gmm_desktop.core import Detector, RunConfig
from gmm_desktop.data import demo_path
from gmm_desktop.engine import GaussianMixture, select_models


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_reordered_models_are_the_same_mixture(cov):
    X = np.random.RandomState(0).randn(400, 3)
    X[200:] += 5
    X[300:, 0] -= 9
    m = GaussianMixture(3, covariance_type=cov, random_state=0).fit(X)
    order = [2, 0, 1]
    r = m.reordered(order)
    np.testing.assert_allclose(r.score_samples(X), m.score_samples(X), rtol=1e-12)
    np.testing.assert_allclose(r.predict_proba(X), m.predict_proba(X)[:, order], rtol=1e-12)
    with pytest.raises(ValueError, match="permutation"):
        m.reordered([0, 0, 1])


def test_a_refit_keeps_the_numbers_of_the_components():
    det = Detector(RunConfig(id_column="id", columns=("x", "y"), n_components=4,
                             refit="noise-component"))
    det.load(demo_path("synthetic"))
    det.fit()
    before = det.model.means_.copy()
    det.detect()  # runs and accepts the refit
    after = det.model.means_
    # each component is closest to the one it was before: nothing renumbered
    dist = ((before[:, None, :] - after[None, :, :]) ** 2).sum(axis=2)
    assert list(dist.argmin(axis=1)) == [0, 1, 2, 3]


def test_degenerate_models_are_not_chosen_silently():
    X = np.random.RandomState(0).randn(5, 2)
    sel = select_models(X, [1, 2, 3, 4, 5], ["full"])
    assert all(c.degenerate for c in sel.cells)
    assert sel.best.n_components == 1  # the simplest, and it says why it is unsound
    det = Detector(RunConfig(n_components=(1, 2, 3, 4, 5), covariance_types=("full",),
                             method="plain"))
    det.load(X)
    det.fit()
    assert any("degenerate" in w for w in det.fit_warnings)
    # the robust route refuses every cell with as many parameters as kept rows, says why,
    # and keeps the one sound cell (one spherical Gaussian: 3 parameters, 4 kept rows)
    robust = Detector(RunConfig(n_components=(1, 2, 3, 4, 5)))
    robust.load(X)
    robust.fit()
    best = robust.robust.best
    assert (best.n_components, best.covariance_type, best.refused) == (1, "spherical", None)
    refused = [c for c in robust.robust.cells if c is not best]
    assert all(c.refused and "parameters for 4 kept rows" in c.refused for c in refused)
    # one component of 3 far rows in 2-D is sound; of 2 rows it is not
    Y = np.random.RandomState(1).randn(60, 2)
    Y[:2] += 40
    sel = select_models(Y, [1, 2, 3], ["full"], random_state=0)
    two = next(c for c in sel.cells if c.n_components == 2)
    assert two.degenerate and "fewer than d + 1" in two.degenerate
    assert sel.best.n_components != 2
