"""Generate ``synthetic.csv``: overlapping, stretched 2-D clusters with injected outliers.

Run from anywhere::

    python resources/make_synthetic.py            # rewrites resources/synthetic.csv
    python resources/make_synthetic.py OUT.csv    # writes elsewhere

The output is fully determined by :data:`SEED` (NumPy's PCG64 generator) and is written
with fixed formatting, so running the script again reproduces the committed file byte
for byte (a test checks this).  Only element-wise arithmetic is used (no BLAS, no
trigonometric functions), so the numbers do not depend on the machine.

Columns:

* ``id``: 1..N, a unique row identifier (use it as the ID column);
* ``x``, ``y``: the two features;
* ``site``: a text label with no relation to the clusters (a non-feature column);
* ``cluster``: the generating component, ``"A"``..``"D"``, or ``"outlier"``;
* ``is_injected_outlier``: 1 for the injected outliers, else 0 (the ground truth).

Inliers come from four anisotropic Gaussians.  The outliers are drawn uniformly from a
box around the data and kept only if their squared Mahalanobis distance to *every*
component is at least :data:`MIN_OUTLIER_D2` (chi-square with 2 degrees of freedom:
a tail probability of about 1e-7), so each one is genuinely anomalous.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SEED = 20240611
N_OUTLIERS = 40
MIN_OUTLIER_D2 = 32.0
SITES = ("north", "south", "east", "west")

# Each component: (name, rows, centre, axis lengths (std along the two axes), axis
# direction given as a unit vector (cos, sin) written out, so no trig is needed).
COMPONENTS = (
    ("A", 900, (0.0, 0.0), (3.0, 0.6), (0.8, 0.6)),
    ("B", 700, (4.0, 5.0), (2.5, 0.5), (0.6, -0.8)),
    ("C", 600, (-5.0, 4.0), (1.8, 0.7), (1.0, 0.0)),
    ("D", 400, (3.5, -1.5), (1.5, 0.4), (0.0, 1.0)),
)


def _covariance(stds: tuple[float, float], direction: tuple[float, float]) -> np.ndarray:
    c, s = direction
    a, b = stds
    # R diag(a², b²) Rᵀ with R = [[c, -s], [s, c]], written out element by element.
    return np.array(
        [
            [c * c * a * a + s * s * b * b, c * s * (a * a - b * b)],
            [c * s * (a * a - b * b), s * s * a * a + c * c * b * b],
        ]
    )


def _mahalanobis2(points: np.ndarray, centre: tuple[float, float], cov: np.ndarray) -> np.ndarray:
    dx = points[:, 0] - centre[0]
    dy = points[:, 1] - centre[1]
    det = cov[0, 0] * cov[1, 1] - cov[0, 1] * cov[1, 0]
    return (cov[1, 1] * dx * dx - 2.0 * cov[0, 1] * dx * dy + cov[0, 0] * dy * dy) / det


def generate(seed: int = SEED) -> str:
    """Return the CSV text of the synthetic dataset."""
    rng = np.random.default_rng(seed)
    xs, ys, labels = [], [], []
    for name, rows, centre, stds, (c, s) in COMPONENTS:
        z = rng.standard_normal((rows, 2))
        u = z[:, 0] * stds[0]
        v = z[:, 1] * stds[1]
        xs.append(centre[0] + c * u - s * v)
        ys.append(centre[1] + s * u + c * v)
        labels += [name] * rows
    inliers = np.column_stack([np.concatenate(xs), np.concatenate(ys)])

    low = inliers.min(axis=0) - 4.0
    high = inliers.max(axis=0) + 4.0
    covs = [(centre, _covariance(stds, d)) for _, _, centre, stds, d in COMPONENTS]
    outliers: list[np.ndarray] = []
    while len(outliers) < N_OUTLIERS:
        candidate = low + (high - low) * rng.random((1, 2))
        d2 = min(float(_mahalanobis2(candidate, c, cov)[0]) for c, cov in covs)
        if d2 >= MIN_OUTLIER_D2:
            outliers.append(candidate[0])
    points = np.vstack([inliers, np.array(outliers)])
    labels += ["outlier"] * N_OUTLIERS
    flags = np.r_[np.zeros(len(inliers), dtype=int), np.ones(N_OUTLIERS, dtype=int)]

    order = rng.permutation(len(points))
    sites = rng.integers(0, len(SITES), size=len(points))
    lines = ["id,x,y,site,cluster,is_injected_outlier"]
    for row, k in enumerate(order, start=1):
        x, y = points[k]
        lines.append(f"{row},{x:.4f},{y:.4f},{SITES[sites[row - 1]]},{labels[k]},{flags[k]}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).with_name("synthetic.csv")
    out.write_text(generate(), encoding="utf-8", newline="\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
