"""The histogram's shown range: a few extreme rows do not stretch it (a core rule)."""

import numpy as np

from gmm_desktop.core import DensityIndex


def test_view_range_counts_the_rows_left_out():
    rng = np.random.default_rng(3)
    ld = np.r_[rng.normal(-3, 1, 10_000), rng.uniform(-400, -60, 25)]
    counts, edges = np.histogram(ld, bins=200)
    index = DensityIndex(np.sort(ld), counts, edges, ld.size)
    lo, hi, below = index.view_range()
    assert hi == edges[-1]
    assert -12 < lo < -5  # about the 1st percentile (≈ -5.3) minus a margin
    assert below == int((ld < lo).sum()) == 25  # exactly the extreme rows
    # the threshold line is never hidden
    lo2, _, below2 = index.view_range(cutoff=-100.0)
    assert lo2 <= -100.0 and below2 == int((ld < lo2).sum())
    # nothing extreme: the whole histogram, nothing left out
    x = rng.normal(size=5000)
    c3, e3 = np.histogram(x, bins=50)
    assert DensityIndex(np.sort(x), c3, e3, x.size).view_range()[2] == 0
