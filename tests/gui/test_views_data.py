"""The mixture views' data (controller/mixture_views.py, Qt-free) on real data: wine (13
features, scikit-learn), Old Faithful and the bundled synthetic set, checked against
independent computations (scipy's χ² quantiles, numpy on the raw columns, scikit-learn's
responsibilities)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from sklearn.datasets import load_wine

from gmm_desktop.controller import mixture_views as mv
from gmm_desktop.controller import plotting
from gmm_desktop.core import Detector, Labels, RunConfig
from gmm_desktop.data import demo_path


@pytest.fixture(scope="module")
def wine():
    """Wine, standardized, 3 full components (seed 0), 5 % contamination."""
    frame = load_wine(as_frame=True).frame.drop(columns=["target"])
    det = Detector(RunConfig(n_components=(3,), covariance_types=("full",), method="plain",
                             scaling="standardize", random_state=0))
    det.load(frame)
    det.fit()
    return det, frame, plotting.PlotGeometry.of(det.prepared)


def raw_values(frame: pd.DataFrame, det: Detector) -> np.ndarray:
    """The prepared rows' feature values read from the raw table (no scaler involved)."""
    rows = np.asarray(det.prepared.features.row_index)
    return frame[list(det.prepared.columns)].to_numpy(float)[rows]


def test_marginals_are_densities_in_the_data_units(wine):
    det, frame, geom = wine
    view = mv.marginals_view(det.prepared, geom, det.scored, det.detection)
    raw = raw_values(frame, det)
    assert [f.name for f in view.features] == list(frame.columns)
    w = det.model.weights_
    for i, feat in enumerate(view.features):
        x = raw[:, i]
        # the bars are the raw column's histogram as a density (area 1); a row exactly on
        # an edge may fall on the other side after the scaler's round trip (1e-16)
        edges = np.asarray(feat.edges)
        assert float(np.sum(feat.density * np.diff(edges))) == pytest.approx(1.0, abs=1e-12)
        counts = np.rint(feat.density * np.diff(edges) * len(x)).astype(int)
        ref, _ = np.histogram(x, bins=edges)
        assert np.abs(counts - ref).sum() <= 2
        # every curve is a density: the mixture integrates to 1, each component to its weight
        grid = np.asarray(feat.grid)
        assert integrate.trapezoid(feat.mixture, grid) == pytest.approx(1.0, abs=2e-4)
        for k in range(3):
            assert integrate.trapezoid(feat.components[k], grid) == pytest.approx(w[k],
                                                                                 abs=2e-4)
        # in data units: the mixture's mean and variance are the raw column's (the M-step
        # identities Σ w_k μ_k = x̄ and Σ w_k (σ_k² + μ_k²) − x̄² = var x, up to reg_covar)
        mean = float(np.sum(w * feat.means))
        second = float(np.sum(w * (feat.sds**2 + feat.means**2)))
        assert mean == pytest.approx(x.mean(), rel=1e-6)
        assert second - mean**2 == pytest.approx(x.var(), rel=1e-4)
        # the curves are scipy's normal densities at those means and sds
        np.testing.assert_allclose(
            feat.components[1], w[1] * stats.norm.pdf(grid, feat.means[1], feat.sds[1]),
            rtol=1e-12)


def test_qq_points_are_chi2_quantiles_and_mahalanobis_distances(wine):
    det, frame, geom = wine
    view = mv.qq_view(det.prepared, det.scored, det.detection)
    d = 13
    assert view.dof == d
    assert dict(view.quantiles)[0.975] == pytest.approx(stats.chi2.ppf(0.975, d))
    raw = raw_values(frame, det)
    _w, means, covs = mv.model_in_data_units(det.model, geom.offset, geom.scale)
    comp = det.scored.scores.component
    assert sum(c.n_rows for c in view.components) == len(frame)
    for c in view.components:
        rows = np.flatnonzero(comp == c.component)
        n = rows.size
        assert c.n_rows == n and len(c.observed) == n  # small: every row is drawn
        # the theoretical quantiles are scipy's at the plotting positions (i − ½)/n
        np.testing.assert_allclose(c.theoretical, stats.chi2.ppf((np.arange(n) + 0.5) / n, d))
        # the observed values: squared Mahalanobis distances computed in the data's units
        diff = raw[c.positions] - means[c.component]
        d2 = np.einsum("ij,ij->i", diff @ np.linalg.inv(covs[c.component]), diff)
        np.testing.assert_allclose(c.observed, d2, rtol=1e-7)
        assert np.all(np.diff(c.observed) >= 0)
        assert set(c.positions.tolist()) == set(rows.tolist())
        assert c.beyond_975 == pytest.approx(np.mean(d2 > stats.chi2.ppf(0.975, d)))
        flags = np.asarray(det.detection.flags)
        np.testing.assert_array_equal(c.flagged, flags[c.positions])


def test_qq_thinning_keeps_exact_points_the_tail_and_the_flagged():
    det = Detector(RunConfig(id_column="id", columns=("x", "y"), n_components=(4,),
                             random_state=0))
    det.load(demo_path("synthetic"))
    det.fit()
    view = mv.qq_view(det.prepared, det.scored, det.detection, limit=300)
    flags = np.asarray(det.detection.flags)
    d2_all = np.asarray(det.scored.scores.mahalanobis) ** 2
    comp = det.scored.scores.component
    for c in view.components:
        rows = np.flatnonzero(comp == c.component)
        assert c.n_rows == rows.size > 300 >= len(c.observed) - flags[rows].sum()
        d2 = np.sort(d2_all[rows])
        # the 100 largest distances are all drawn, at their exact quantiles
        np.testing.assert_allclose(c.observed[-100:], d2[-100:])
        n = rows.size
        np.testing.assert_allclose(c.theoretical[-100:],
                                   stats.chi2.ppf((np.arange(n - 100, n) + 0.5) / n, 2))
        # every flagged row of the component is drawn
        assert set(rows[flags[rows]]) <= set(c.positions.tolist())
        # each drawn point sits at its own rank's quantile
        ranks = np.searchsorted(d2, c.observed, side="left")
        np.testing.assert_allclose(c.theoretical, stats.chi2.ppf((ranks + 0.5) / n, 2))


def test_uncertainty_is_one_minus_the_largest_responsibility(wine):
    det, frame, _geom = wine
    view = mv.uncertainty_view(det.prepared, det.scored, det.detection, top=20)
    X = det.prepared.X
    resp = det.model.predict_proba(X)
    unc = 1.0 - resp.max(axis=1)
    assert int(view.counts.sum()) == len(frame)
    assert view.edges[-1] == pytest.approx(1 - 1 / 3)
    order = np.argsort(-unc, kind="stable")[:20]
    assert [r[0] for r in view.ranked] == order.tolist()
    for pos, _rid, comp, runner, best, second, u, _flag in view.ranked:
        srt = np.sort(resp[pos])
        assert (best, second, u) == pytest.approx((srt[-1], srt[-2], unc[pos]))
        assert comp == resp[pos].argmax() and runner == np.argsort(resp[pos])[-2]
    assert view.mean == pytest.approx(unc.mean())
    np.testing.assert_allclose(view.curve_value, np.sort(unc)[::-1][view.curve_rank - 1])


def test_matrix_ellipses_means_and_box_selection_in_data_units(wine):
    det, frame, geom = wine
    cols = ("alcohol", "flavanoids", "proline")
    view = mv.matrix_view(det.prepared, geom, det.scored, det.detection, cols,
                          radii=(1.0, 2.0))
    raw = raw_values(frame, det)
    idx = [list(frame.columns).index(c) for c in cols]
    np.testing.assert_allclose(view.values, raw[:, idx], rtol=1e-10)
    _w, means, covs = mv.model_in_data_units(det.model, geom.offset, geom.scale)
    # every component's mean in data units is its responsibility-weighted raw mean
    resp = det.model.predict_proba(det.prepared.X)
    np.testing.assert_allclose(view.means, (resp.T @ raw[:, idx]) / resp.sum(0)[:, None],
                               rtol=1e-3)
    for (a, b), (ex, ey) in view.ellipses.items():
        ij = [idx[a], idx[b]]
        pieces = np.split(np.c_[ex, ey], np.flatnonzero(np.isnan(ex)) + 1)
        pieces = [p[~np.isnan(p[:, 0])] for p in pieces if np.isfinite(p).any()]
        assert len(pieces) == 3 * 2  # K components × 2 radii
        for n, piece in enumerate(pieces):
            k, r = divmod(n, 2)
            sub = covs[k][np.ix_(ij, ij)]
            diff = piece - means[k, ij]
            dist = np.einsum("ij,ij->i", diff @ np.linalg.inv(sub), diff)
            np.testing.assert_allclose(dist, (1.0, 2.0)[r] ** 2, rtol=1e-9)
    box = mv.rows_in_box(det.prepared, geom, "alcohol", "proline", (12.5, 13.5), (500, 900))
    a, p = frame["alcohol"].to_numpy(), frame["proline"].to_numpy()
    expect = np.flatnonzero((a >= 12.5) & (a <= 13.5) & (p >= 500) & (p <= 900))
    np.testing.assert_array_equal(box, expect)


def test_matrix_thins_big_tables_but_draws_every_flagged_row():
    det = Detector(RunConfig(id_column="id", columns=("x", "y"), n_components=(4,),
                             random_state=0))
    det.load(demo_path("synthetic"))
    det.fit()
    geom = plotting.PlotGeometry.of(det.prepared)
    view = mv.matrix_view(det.prepared, geom, det.scored, det.detection, max_points=500)
    flags = np.asarray(det.detection.flags)
    assert set(np.flatnonzero(flags)) <= set(view.positions.tolist())
    assert view.n_points == len(set(view.positions.tolist())) <= 500 + flags.sum()
    assert "uniform 500 of the 2,640 rows and every flagged row" in view.note
    np.testing.assert_array_equal(view.flagged, flags[view.positions])


def test_inspection_explains_a_flagged_row_inside_every_ellipse(wine):
    """With 13 features a flagged row can lie inside every drawn 3-sd ellipse: its distance
    over all features is what flags it, and the inspection says so."""
    det, frame, geom = wine
    raw = raw_values(frame, det)
    _w, means, covs = mv.model_in_data_units(det.model, geom.offset, geom.scale)
    cols = list(frame.columns)
    flags = np.asarray(det.detection.flags)
    comp = det.scored.scores.component
    inside_all = []
    for pos in np.flatnonzero(flags):
        k = comp[pos]
        worst = 0.0
        for i, j in itertools.combinations(range(13), 2):
            diff = raw[pos, [i, j]] - means[k, [i, j]]
            sub = covs[k][np.ix_([i, j], [i, j])]
            worst = max(worst, float(np.sqrt(diff @ np.linalg.solve(sub, diff))))
        if worst < 3.0:
            inside_all.append((pos, worst))
    assert inside_all, "wine should have a flagged row inside every 3-sd ellipse"
    pos, worst = inside_all[0]
    ins = mv.inspect_row(det.prepared, det.scored, det.detection, pos, cols, radius=3.0)
    assert ins.flagged and ins.inside_all
    assert len(ins.pair_sd) == 78 and ins.max_pair_sd == pytest.approx(worst)
    diff = raw[pos] - means[comp[pos]]
    d2 = float(diff @ np.linalg.solve(covs[comp[pos]], diff))
    assert ins.d2 == pytest.approx(d2, rel=1e-7)
    assert ins.d2 > stats.chi2.ppf(0.975, 13) > 9.0  # far in 13-D, near in every pair
    assert ins.tail == pytest.approx(stats.chi2.sf(d2, 13))
    assert "inside every drawn 3-sd ellipse" in ins.text
    assert "13-dimensional ellipsoid" in ins.text
    # the core's decomposition of D²: largest first, adding up to the distance
    values = [v for _name, v in ins.contributions]
    assert values == sorted(values, reverse=True)
    assert sum(values) == pytest.approx(d2, rel=1e-9)
    top = ins.contributions[0][0]
    assert f"Largest contributions to D²: {top}" in ins.text
    # it is (x − μ)ⱼ·(Σ⁻¹(x − μ))ⱼ in the data's units too
    j = cols.index(top)
    assert ins.contributions[0][1] == pytest.approx(
        diff[j] * np.linalg.solve(covs[comp[pos]], diff)[j], rel=1e-7)


def test_labels_do_not_change_the_views_rows(wine):
    """The views show every prepared row; manual labels only change the flags."""
    det, frame, _geom = wine
    det.set_labels(Labels(outlier=[0, 1]))
    try:
        view = mv.qq_view(det.prepared, det.scored, det.detection)
        assert sum(c.n_rows for c in view.components) == len(frame)
        flagged = {p for c in view.components for p, f in zip(c.positions, c.flagged,
                                                                strict=True) if f}
        assert {0, 1} <= flagged
    finally:
        det.set_labels(Labels())
