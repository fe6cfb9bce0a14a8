"""Aggregated drawing of many points: rows per screen pixel, shaded by density.

Painting a million points one by one, opaque and in a fixed order, makes dense and sparse
regions look the same and hides every colour group under the last one drawn. This module
draws big data the way datashader does, with numpy only (no Qt):

1. **aggregate**: every point falls into one pixel of a :class:`Frame` (the visible data
   rectangle at the widget's device-pixel size); the rows per pixel are counted, and the
   colour groups are blended by their share of the pixel's rows: a pixel with 3 rows of
   group A and 1 of group B gets ``(3·colour_A + 1·colour_B) / 4``;
2. **shade**: the count sets the pixel's opacity (histogram equalisation of the counts, or
   their logarithm), so that dense regions are solid and sparse ones translucent; a pixel
   of one group at the highest density is exactly that group's colour (what the legend
   shows);
3. **spread**: empty pixels next to drawn ones take their neighbour's value, so a lone row
   is at least 3 × 3 pixels, never a single faint pixel.

The blend is a function of the count of each group in each pixel (datashader keeps
those counts: here that would be one ``np.bincount`` over ``group · W · H + pixel``). The
same blend comes from one bincount of the pixel indices and one weighted bincount per
colour channel (``Σ colour`` over the pixel's rows): memory for 4 pixel planes whatever
the number of groups (15 components at full HD would otherwise allocate 15 planes of
int64, 250 MB), and faster at 5 groups (76 against 120 ms for a million points, measured
in the same run); ``tests/gui/test_render_raster.py`` checks both give the same colours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Opacity of the sparsest drawn pixel (the densest are opaque).
MIN_ALPHA = 0.4
#: Histogram equalisation: this share of the drawn pixels, the densest, is fully opaque,
#: so that the core of every dense group is drawn in exactly its legend colour.
SATURATED = 0.1

SHADINGS = ("eq_hist", "log", "linear")


@dataclass(frozen=True)
class Frame:
    """A raster over the data rectangle ``[x0, x1] × [y0, y1]`` of ``width × height``
    pixels. Column 0 starts at ``x0``; row 0 is the top (``y1``: the y axis grows upwards
    on screen, image rows downwards)."""

    x0: float
    x1: float
    y0: float
    y1: float
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(f"a frame needs at least one pixel, not {self.width}×{self.height}")
        if not (np.isfinite([self.x0, self.x1, self.y0, self.y1]).all()
                and self.x1 > self.x0 and self.y1 > self.y0):
            raise ValueError(f"bad frame rectangle x [{self.x0}, {self.x1}], "
                             f"y [{self.y0}, {self.y1}]")

    @property
    def n_pixels(self) -> int:
        return self.width * self.height

    def padded_index(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The flat index of every point in the ``(height + 2) × (width + 2)`` grid whose
        one-pixel border collects the points outside the frame (infinite ones too; NaN
        must have been replaced, e.g. by ``inf``). Pixel ``(row, col)`` of the frame is
        ``(row + 1) · (width + 2) + col + 1``. Pixels are half-open like a histogram's
        bins: column ``c`` holds ``x0 + c·dx ≤ x < x0 + (c + 1)·dx``, the bottom row
        ``y0 ≤ y < y0 + dy``.

        Clipping into the border instead of masking the outside points saves passes over
        the data (this runs on every pan and zoom)."""
        w, h = self.width, self.height
        sx = w / (self.x1 - self.x0)
        sy = h / (self.y1 - self.y0)
        # shifted by one so that truncation toward zero is the floor on [0, w + 1]
        fx = np.multiply(x, sx, dtype=np.float64)
        fx += 1.0 - self.x0 * sx
        np.clip(fx, 0.0, w + 1.0, out=fx)
        fy = np.multiply(y, sy, dtype=np.float64)
        fy += 1.0 - self.y0 * sy
        np.clip(fy, 0.0, h + 1.0, out=fy)
        index = fy.astype(np.intp)  # 1 + rows from the bottom (0: below, h + 1: above)
        np.subtract(h + 1, index, out=index)  # padded rows from the top
        index *= w + 2
        index += fx.astype(np.intp)
        return index

    def inner(self, padded: np.ndarray) -> np.ndarray:
        """The frame's pixels of a flat array over the padded grid, as ``(height, width)``."""
        return padded.reshape(self.height + 2, self.width + 2)[1:-1, 1:-1]


@dataclass(frozen=True, eq=False)
class Aggregate:
    """Rows per pixel and the sum of their colours."""

    frame: Frame
    counts: np.ndarray  # (height, width) int64: rows in the pixel
    sums: np.ndarray | None  # (3, height, width) float64: Σ RGB of those rows (None: 1 colour)
    single: tuple[float, float, float] = (127.0, 127.0, 127.0)  # the colour if sums is None

    @property
    def n_rows(self) -> int:
        return int(self.counts.sum())

    def colour_at(self, drawn: np.ndarray) -> np.ndarray:
        """``(m, 3)`` mean colour (0..255) of the pixels at flat indices ``drawn``."""
        if self.sums is None:
            return np.tile(np.asarray(self.single, dtype=np.float64), (drawn.shape[0], 1))
        n = self.counts.ravel()[drawn].astype(np.float64)
        return np.stack([self.sums[c].ravel()[drawn] / n for c in range(3)], axis=1)

    @property
    def colour(self) -> np.ndarray:
        """``(height, width, 3)`` mean colour of every pixel (0 where empty)."""
        out = np.zeros((self.counts.size, 3))
        drawn = np.flatnonzero(self.counts)
        out[drawn] = self.colour_at(drawn)
        return out.reshape((*self.counts.shape, 3))


def point_colours(group: np.ndarray | None, colours: np.ndarray) -> np.ndarray | None:
    """``(3, n)`` float64: every point's RGB (its group's colour); ``None`` for one group.

    It depends on the colouring only, not on the view, so a plot computes it once per
    colouring and passes it to every :func:`aggregate` of a pan or zoom."""
    colours = np.asarray(colours, dtype=np.float64).reshape(-1, 3)
    if colours.shape[0] == 0:
        raise ValueError("at least one colour is needed")
    if group is None or colours.shape[0] == 1:
        return None
    group = np.asarray(group)
    if group.size and (int(group.min()) < 0 or int(group.max()) >= colours.shape[0]):
        raise ValueError(f"group values must be in 0..{colours.shape[0] - 1}")
    return np.stack([np.take(np.ascontiguousarray(colours[:, c]), group) for c in range(3)])


def finite_or_outside(v: np.ndarray) -> np.ndarray:
    """``v`` with NaN replaced by ``inf`` (drawn nowhere); ``v`` itself if all finite."""
    v = np.asarray(v, dtype=np.float64)
    bad = np.isnan(v)
    if not bad.any():
        return v
    out = v.copy()
    out[bad] = np.inf
    return out


def aggregate(x: np.ndarray, y: np.ndarray, group: np.ndarray | None, colours: np.ndarray,
              frame: Frame, *, weights: np.ndarray | None = None,
              checked: bool = False, index: np.ndarray | None = None) -> Aggregate:
    """Count the points ``(x, y)`` per pixel of ``frame`` and sum their groups' colours.

    Parameters
    ----------
    x, y
        Point coordinates in data units (NaN points are left out).
    group
        Colour group of every point (integers indexing ``colours``), or ``None`` for one
        group.
    colours
        ``(n_groups, 3)`` RGB, 0..255.
    frame
        The visible data rectangle and its size in pixels.
    weights
        :func:`point_colours` of ``group`` and ``colours``, if already computed.
    checked
        ``x`` and ``y`` have no NaN (:func:`finite_or_outside` was applied already).
    index
        ``frame.padded_index(x, y)``, if already computed (it depends on the points and
        the frame, not on the colours: a new colouring of the same view reuses it).
    """
    colours = np.asarray(colours, dtype=np.float64).reshape(-1, 3)
    if weights is None:
        weights = point_colours(group, colours)
    if index is None:
        if not checked:
            x, y = finite_or_outside(x), finite_or_outside(y)
        if np.shape(x) != np.shape(y):
            raise ValueError("x and y must have the same length")
        index = frame.padded_index(x, y)
    if weights is not None and weights.shape != (3, index.shape[0]):
        raise ValueError("group must have one entry per point")
    n_padded = (frame.width + 2) * (frame.height + 2)
    counts = frame.inner(np.bincount(index, minlength=n_padded))
    if weights is None:
        return Aggregate(frame, np.ascontiguousarray(counts), None,
                         tuple(float(v) for v in colours[0]))
    sums = np.empty((3, frame.height, frame.width))
    for channel in range(3):
        sums[channel] = frame.inner(np.bincount(index, weights=weights[channel],
                                                minlength=n_padded))
    return Aggregate(frame, np.ascontiguousarray(counts), sums)


def density_level(counts: np.ndarray, how: str = "eq_hist") -> np.ndarray:
    """A level in [0, 1] for every count ≥ 1 (0: the sparsest drawn pixel, 1: the densest).

    ``eq_hist``: the share of occupied pixels with a lower count (histogram
    equalisation: every level is used by as many pixels, the structure of both sparse and
    dense regions shows), reaching 1 for the densest :data:`SATURATED` share;
    ``log``: ``log(count / min) / log(max / min)``; ``linear``: the same without logs.
    Equal counts everywhere give 1 (nothing to tell apart: draw them solid).
    """
    if how not in SHADINGS:
        raise ValueError(f"unknown shading {how!r}; use one of {', '.join(SHADINGS)}")
    c = np.asarray(counts)
    out = np.zeros(c.shape)
    drawn = c > 0
    if not drawn.any():
        return out
    v = c[drawn]
    lo, hi = int(v.min()), int(v.max())
    if hi == lo:
        out[drawn] = 1.0
        return out
    if how == "log":
        out[drawn] = np.log(v / lo) / np.log(hi / lo)
    elif how == "linear":
        out[drawn] = (v - lo) / (hi - lo)
    else:
        cdf = np.cumsum(np.bincount(v - lo)).astype(np.float64)
        below = np.concatenate([[0.0], cdf[:-1]])  # pixels with a strictly lower count
        share = below[v - lo] / v.size  # share of drawn pixels with fewer rows
        top = min(1.0 - SATURATED, below[-1] / v.size)  # the densest pixel reaches 1
        out[drawn] = np.minimum(1.0, share / top)
    return out


def spread(image: np.ndarray) -> np.ndarray:
    """Empty pixels (0) next to a drawn one take its value (the 4 side neighbours first,
    then the diagonals): a lone pixel becomes a 3 × 3 square, dense regions do not change."""
    h, w = image.shape
    out = image.ravel().copy()
    drawn = image != 0
    padded = np.zeros((h + 2, w + 2), dtype=bool)
    padded[1:-1, 1:-1] = drawn
    filled = drawn.copy()
    for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)):
        source = padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]  # the neighbour is drawn
        take = source & ~filled
        target = np.flatnonzero(take)
        out[target] = out[target + (dy * w + dx)]
        filled |= take
    return out.reshape(h, w)


def shade(agg: Aggregate, *, how: str = "eq_hist", min_alpha: float = MIN_ALPHA,
          spread_points: bool = True,
          highlight: tuple[np.ndarray, tuple[float, float, float]] | None = None
          ) -> np.ndarray:
    """The aggregate as a premultiplied ARGB32 image ``(height, width)`` of ``uint32``
    (Qt's ``Format_ARGB32_Premultiplied``): the blended colour at an opacity from
    ``min_alpha`` (sparsest) to 1 (densest); empty pixels are transparent.

    ``highlight``: ``(pixels, rgb)``, flat pixel indices (e.g. :func:`pixels_of` the
    selected rows) drawn opaque in ``rgb`` whatever else they hold (before spreading)."""
    if not 0.0 <= min_alpha <= 1.0:
        raise ValueError("min_alpha must be in [0, 1]")
    counts = agg.counts.ravel()
    drawn = np.flatnonzero(counts)
    image = np.zeros(counts.shape[0], dtype=np.uint32)
    if drawn.size:
        level = density_level(counts[drawn], how)
        alpha = min_alpha + (1.0 - min_alpha) * level
        rgb = agg.colour_at(drawn) * alpha[:, None]
        a8 = np.rint(alpha * 255.0).astype(np.uint32)
        c8 = np.clip(np.rint(rgb), 0, 255).astype(np.uint32)
        # premultiplied: a channel never exceeds alpha (rounding could make it)
        c8 = np.minimum(c8, a8[:, None])
        image[drawn] = (a8 << 24) | (c8[:, 0] << 16) | (c8[:, 1] << 8) | c8[:, 2]
    if highlight is not None and highlight[0].size:
        r, g, b = (int(np.clip(round(v), 0, 255)) for v in highlight[1])
        image[highlight[0]] = np.uint32((0xFF << 24) | (r << 16) | (g << 8) | b)
    image = image.reshape(agg.frame.height, agg.frame.width)
    return spread(image) if spread_points and image.any() else image


def pixels_of(index: np.ndarray, frame: Frame) -> np.ndarray:
    """Flat pixel indices (row · width + column) of the points whose
    :meth:`Frame.padded_index` is ``index``, those outside the frame left out."""
    row, col = np.divmod(np.asarray(index), frame.width + 2)
    inside = (row >= 1) & (row <= frame.height) & (col >= 1) & (col <= frame.width)
    return (row[inside] - 1) * frame.width + (col[inside] - 1)


def render(x: np.ndarray, y: np.ndarray, group: np.ndarray | None, colours: np.ndarray,
           frame: Frame, *, how: str = "eq_hist", min_alpha: float = MIN_ALPHA,
           spread_points: bool = True) -> np.ndarray:
    """:func:`aggregate` then :func:`shade`: the image of the points in ``frame``."""
    return shade(aggregate(x, y, group, colours, frame), how=how, min_alpha=min_alpha,
                 spread_points=spread_points)


def unpack(image: np.ndarray) -> np.ndarray:
    """``(h, w, 4)`` uint8 RGBA, un-premultiplied, of a :func:`shade` image (for tests and
    for reading colours back)."""
    a = (image >> 24) & 0xFF
    out = np.zeros((*image.shape, 4), dtype=np.uint8)
    nz = a > 0
    for i, shift in enumerate((16, 8, 0)):
        ch = (image >> shift) & 0xFF
        val = np.zeros(image.shape)
        val[nz] = np.minimum(255.0, np.rint(ch[nz] * 255.0 / a[nz]))
        out[..., i] = val.astype(np.uint8)
    out[..., 3] = a.astype(np.uint8)
    return out


def one_per_cell(px: np.ndarray, py: np.ndarray, width: int, height: int,
                 cell: int = 1, most: int | None = None) -> np.ndarray:
    """Indices of the points at device positions ``(px, py)`` inside ``width × height``
    keeping one point per ``cell × cell`` block of pixels (a marker layer draws one
    sprite per block: thousands of overlapping markers in one spot cost as much as one);
    with ``most``, only of the blocks holding at most that many points."""
    if cell < 1:
        raise ValueError("cell must be at least 1 pixel")
    with np.errstate(invalid="ignore"):
        cx = np.floor(np.asarray(px) / cell)
        cy = np.floor(np.asarray(py) / cell)
        cols, rows = -(-width // cell), -(-height // cell)
        inside = np.flatnonzero((cx >= 0) & (cx < cols) & (cy >= 0) & (cy < rows))
    if inside.size == 0:
        return inside
    flat = (cy[inside] * cols + cx[inside]).astype(np.intp)
    keeper = np.full(cols * rows, -1, dtype=np.intp)
    keeper[flat] = inside  # the last point of each block wins
    if most is not None:
        keeper[np.bincount(flat, minlength=cols * rows) > most] = -1
    return np.sort(keeper[keeper >= 0])


def isolated(px: np.ndarray, py: np.ndarray, width: int, height: int,
             cell: int) -> np.ndarray:
    """Indices of the points at device positions ``(px, py)`` (all inside
    ``width × height``) that have no other point in their ``cell × cell`` block nor in
    the 8 blocks around it: the ones whose mark would not overlap another."""
    cols, rows = -(-width // cell), -(-height // cell)
    cx = np.clip(np.floor(np.asarray(px) / cell), 0, cols - 1).astype(np.intp)
    cy = np.clip(np.floor(np.asarray(py) / cell), 0, rows - 1).astype(np.intp)
    counts = np.bincount(cy * cols + cx, minlength=cols * rows).reshape(rows, cols)
    padded = np.zeros((rows + 2, cols + 2), dtype=counts.dtype)
    padded[1:-1, 1:-1] = counts
    around = sum(padded[1 + dy:1 + dy + rows, 1 + dx:1 + dx + cols]
                 for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    return np.flatnonzero(around[cy, cx] == 1)
