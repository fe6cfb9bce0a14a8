"""Qt-free helpers of the anomaly and selection panels: point-in-polygon selection and the
decision contour on a grid. numpy (and the engine's public model API) only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

HIST_BINS = 120


# --------------------------------------------------------------------------- threshold


# --------------------------------------------------------------------------- selection


def points_in_polygon(
    x: np.ndarray, y: np.ndarray, poly_x: Sequence[float], poly_y: Sequence[float]
) -> np.ndarray:
    """Indices of the points inside a closed polygon (even-odd rule).

    Points outside the polygon's bounding box are dropped first, then a vectorised
    crossing count runs over the polygon's edges on the rest.
    """
    px = np.asarray(poly_x, dtype=float)
    py = np.asarray(poly_y, dtype=float)
    keep = np.isfinite(px) & np.isfinite(py)
    px, py = px[keep], py[keep]
    if px.size < 3:
        return np.empty(0, dtype=np.int64)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    box = (x >= px.min()) & (x <= px.max()) & (y >= py.min()) & (y <= py.max())
    idx = np.flatnonzero(box)
    if idx.size == 0:
        return idx.astype(np.int64)
    cx, cy = x[idx], y[idx]
    inside = np.zeros(idx.size, dtype=bool)
    x1, y1 = px, py
    x2, y2 = np.roll(px, -1), np.roll(py, -1)
    for a, b, c, d in zip(x1, y1, x2, y2, strict=True):
        if b == d:
            continue
        crosses = (b > cy) != (d > cy)
        xint = a + (cy - b) * (c - a) / (d - b)
        inside ^= crosses & (cx < xint)
    return idx[inside].astype(np.int64)


def points_in_rect(
    x: np.ndarray, y: np.ndarray, x0: float, y0: float, x1: float, y1: float
) -> np.ndarray:
    xa, xb = sorted((x0, x1))
    ya, yb = sorted((y0, y1))
    return np.flatnonzero((x >= xa) & (x <= xb) & (y >= ya) & (y <= yb)).astype(np.int64)


# --------------------------------------------------------------------------- contour


def density_grid(
    model: Any,
    xs: np.ndarray,
    ys: np.ndarray,
    to_model: Any,
) -> np.ndarray:
    """The mixture's log-density on the grid ``xs × ys`` (plot coordinates).

    ``to_model(px, py)`` maps flat plot coordinates to rows of the model's feature space
    (an ``(m, d)`` array). Returns an array of shape ``(len(xs), len(ys))``.
    """
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    pts = to_model(gx.ravel(), gy.ravel())
    ld = np.asarray(model.score_samples(pts), dtype=float)
    return ld.reshape(gx.shape)


def contour_lines(
    grid: np.ndarray, xs: np.ndarray, ys: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Line segments of the ``level`` set of ``grid`` (marching squares, numpy).

    Returns ``(x, y)`` with every segment's two ends followed by a NaN (draw with
    ``connect='finite'``).
    """
    z = np.asarray(grid, dtype=float)
    if not math.isfinite(level) or z.shape[0] < 2 or z.shape[1] < 2:
        return np.empty(0), np.empty(0)
    z = np.where(np.isfinite(z), z, -1e300)
    above = z >= level
    # corners of each cell: (i,j) (i+1,j) (i+1,j+1) (i,j+1)
    z00, z10, z11, z01 = z[:-1, :-1], z[1:, :-1], z[1:, 1:], z[:-1, 1:]
    a00, a10, a11, a01 = above[:-1, :-1], above[1:, :-1], above[1:, 1:], above[:-1, 1:]
    i = np.arange(z.shape[0] - 1)[:, None] * np.ones((1, z.shape[1] - 1))
    j = np.ones((z.shape[0] - 1, 1)) * np.arange(z.shape[1] - 1)[None, :]

    def interp(za: np.ndarray, zb: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (level - za) / (zb - za)
        return np.clip(np.nan_to_num(t, nan=0.5), 0.0, 1.0)

    # crossing points on the four edges, in index space
    edges = {
        "b": (a00 != a10, i + interp(z00, z10), j),  # bottom: (i,j)-(i+1,j)
        "r": (a10 != a11, i + 1, j + interp(z10, z11)),  # right: (i+1,j)-(i+1,j+1)
        "t": (a01 != a11, i + interp(z01, z11), j + 1),  # top: (i,j+1)-(i+1,j+1)
        "l": (a00 != a01, i, j + interp(z00, z01)),  # left: (i,j)-(i,j+1)
    }
    segs_i: list[np.ndarray] = []
    segs_j: list[np.ndarray] = []
    names = ("b", "r", "t", "l")
    crossing = np.stack([edges[k][0] for k in names])  # (4, I, J)
    n_cross = crossing.sum(axis=0)
    # two crossings: one segment between them; four (saddle): pair b-r and t-l
    for first, second in (("b", "r"), ("b", "t"), ("b", "l"), ("r", "t"), ("r", "l"),
                          ("t", "l")):
        m = edges[first][0] & edges[second][0] & (n_cross == 2)
        if first == "b" and second == "r":
            m = m | (edges["b"][0] & edges["r"][0] & (n_cross == 4))
        if first == "t" and second == "l":
            m = m | (edges["t"][0] & edges["l"][0] & (n_cross == 4))
        if not m.any():
            continue
        e1, e2 = edges[first], edges[second]
        segs_i.append(np.stack([e1[1][m], e2[1][m], np.full(m.sum(), np.nan)], axis=1).ravel())
        segs_j.append(np.stack([e1[2][m], e2[2][m], np.full(m.sum(), np.nan)], axis=1).ravel())
    if not segs_i:
        return np.empty(0), np.empty(0)
    fi = np.concatenate(segs_i)
    fj = np.concatenate(segs_j)
    # index space → plot coordinates (uniform grids)
    dx = (xs[-1] - xs[0]) / (len(xs) - 1)
    dy = (ys[-1] - ys[0]) / (len(ys) - 1)
    return xs[0] + fi * dx, ys[0] + fj * dy
