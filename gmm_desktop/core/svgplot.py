"""Small self-contained SVG charts for the HTML report (no plotting library, no Qt).

Each function returns one ``<svg>`` element as text: a scatter plot with ellipses, a
histogram with a threshold line, a chi-square Q–Q plot. Axes get "nice" ticks; every number
is written with a fixed precision so the report is reproducible byte for byte.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from html import escape

import numpy as np

__all__ = ["histogram_svg", "nice_ticks", "qq_svg", "scatter_svg"]

W, H = 560, 400
MARGIN = (62, 18, 22, 48)  # left, right, top, bottom


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    ticks = []
    v = start
    while v <= hi + 1e-9 * step:
        ticks.append(round(v, 12))
        v += step
    return ticks


class _Frame:
    """Maps data coordinates to the SVG's pixels and draws the axes."""

    def __init__(self, xlim: tuple[float, float], ylim: tuple[float, float],
                 xlabel: str, ylabel: str, title: str) -> None:
        self.x0, self.x1 = xlim
        self.y0, self.y1 = ylim
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1.0
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1.0
        self.xlabel, self.ylabel, self.title = xlabel, ylabel, title
        # a clip path id unique within a page that holds several charts
        self.clip = "clip-" + (re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-") or "plot")
        left, right, top, bottom = MARGIN
        self.px0, self.px1 = left, W - right
        self.py0, self.py1 = H - bottom, top

    def sx(self, x: np.ndarray | float) -> np.ndarray:
        return self.px0 + (np.asarray(x, float) - self.x0) / (self.x1 - self.x0) * (
            self.px1 - self.px0)

    def sy(self, y: np.ndarray | float) -> np.ndarray:
        return self.py0 + (np.asarray(y, float) - self.y0) / (self.y1 - self.y0) * (
            self.py1 - self.py0)

    def open(self) -> list[str]:
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" '
            f'height="{H}" font-family="sans-serif" font-size="11">',
            f"<title>{escape(self.title)}</title>",
            f'<rect x="{self.px0}" y="{self.py1}" width="{self.px1 - self.px0}" '
            f'height="{self.py0 - self.py1}" fill="white" stroke="#444"/>',
        ]
        for t in nice_ticks(self.x0, self.x1):
            x = float(self.sx(t))
            parts.append(f'<line x1="{x:.1f}" y1="{self.py0}" x2="{x:.1f}" '
                         f'y2="{self.py0 + 4}" stroke="#444"/>')
            parts.append(f'<text x="{x:.1f}" y="{self.py0 + 16}" text-anchor="middle">'
                         f"{t:g}</text>")
        for t in nice_ticks(self.y0, self.y1):
            y = float(self.sy(t))
            parts.append(f'<line x1="{self.px0 - 4}" y1="{y:.1f}" x2="{self.px0}" '
                         f'y2="{y:.1f}" stroke="#444"/>')
            parts.append(f'<text x="{self.px0 - 6}" y="{y + 4:.1f}" text-anchor="end">'
                         f"{t:g}</text>")
        parts.append(f'<text x="{(self.px0 + self.px1) / 2:.1f}" y="{H - 10}" '
                     f'text-anchor="middle">{escape(self.xlabel)}</text>')
        parts.append(f'<text x="14" y="{(self.py0 + self.py1) / 2:.1f}" text-anchor="middle" '
                     f'transform="rotate(-90 14 {(self.py0 + self.py1) / 2:.1f})">'
                     f"{escape(self.ylabel)}</text>")
        parts.append(f'<defs><clipPath id="{self.clip}"><rect x="{self.px0}" y="{self.py1}" '
                     f'width="{self.px1 - self.px0}" height="{self.py0 - self.py1}"/>'
                     "</clipPath></defs>")
        return parts


def _limits(values: Sequence[np.ndarray], pad: float = 0.04) -> tuple[float, float]:
    finite = np.concatenate([np.asarray(v, float)[np.isfinite(v)] for v in values
                             if np.size(v)] or [np.zeros(1)])
    lo, hi = float(finite.min()), float(finite.max())
    span = hi - lo or 1.0
    return lo - pad * span, hi + pad * span


def _path(xs: np.ndarray, ys: np.ndarray) -> str:
    """An SVG path through the points; NaN starts a new sub-path."""
    out = []
    move = True
    for x, y in zip(xs, ys, strict=True):
        if not (math.isfinite(x) and math.isfinite(y)):
            move = True
            continue
        out.append(f"{'M' if move else 'L'}{x:.1f},{y:.1f}")
        move = False
    return " ".join(out)


def scatter_svg(
    x: np.ndarray,
    y: np.ndarray,
    colour_index: np.ndarray | None,
    colours: Sequence[str],
    flagged: np.ndarray,
    *,
    ellipses: Sequence[tuple[np.ndarray, np.ndarray, str]] = (),
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    max_points: int = 4000,
    seed: int = 0,
) -> tuple[str, str]:
    """Points coloured by component (flagged rows as black crosses) with ellipse outlines.

    Above ``max_points`` unflagged rows a uniform sample of them is drawn (every flagged row
    is drawn); the returned note says so.
    """
    n = len(x)
    flagged = np.asarray(flagged, dtype=bool)
    normal = np.flatnonzero(~flagged)
    note = ""
    if normal.size > max_points:
        rng = np.random.default_rng(seed)
        normal = np.sort(rng.choice(normal, max_points, replace=False))
        note = (f"the plot shows every flagged row and a uniform sample of {max_points:,} "
                f"of the {int((~flagged).sum()):,} other rows")
    flag_idx = np.flatnonzero(flagged)
    xs = [np.asarray(x)[np.r_[normal, flag_idx]]] + [e[0] for e in ellipses]
    ys = [np.asarray(y)[np.r_[normal, flag_idx]]] + [e[1] for e in ellipses]
    f = _Frame(_limits(xs), _limits(ys), xlabel, ylabel, title or "scatter")
    parts = f.open()
    parts.append(f'<g clip-path="url(#{f.clip})">')
    px, py = f.sx(np.asarray(x)[normal]), f.sy(np.asarray(y)[normal])
    cidx = np.zeros(n, dtype=int) if colour_index is None else np.asarray(colour_index)
    for c in np.unique(cidx[normal]) if normal.size else []:
        sel = cidx[normal] == c
        colour = colours[int(c) % len(colours)] if colours else "#7F7F7F"
        dots = "".join(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="1.8"/>'
                       for a, b in zip(px[sel], py[sel], strict=True))
        parts.append(f'<g fill="{colour}" fill-opacity="0.55">{dots}</g>')
    for ex, ey, colour in ellipses:
        parts.append(f'<path d="{_path(f.sx(ex), f.sy(ey))}" fill="none" stroke="{colour}" '
                     'stroke-width="1.4"/>')
    fx, fy = f.sx(np.asarray(x)[flag_idx]), f.sy(np.asarray(y)[flag_idx])
    crosses = "".join(f"M{a - 3:.1f},{b - 3:.1f}L{a + 3:.1f},{b + 3:.1f}"
                      f"M{a - 3:.1f},{b + 3:.1f}L{a + 3:.1f},{b - 3:.1f}"
                      for a, b in zip(fx, fy, strict=True))
    if crosses:
        parts.append(f'<path d="{crosses}" stroke="black" stroke-width="1.3" fill="none"/>')
    parts.append("</g></svg>")
    return "".join(parts), note


def histogram_svg(counts: np.ndarray, edges: np.ndarray, cutoff: float | None, *,
                  xlabel: str = "log-density", title: str = "",
                  xlim: tuple[float, float] | None = None) -> str:
    """Bars of ``counts`` over ``edges`` (within ``xlim``) and the threshold as a line."""
    counts = np.asarray(counts, dtype=float)
    edges = np.asarray(edges, dtype=float)
    xlim = xlim or (float(edges[0]), float(edges[-1]))
    inside = edges[1:] > xlim[0]
    top = float(counts[inside].max()) if inside.any() else 1.0
    f = _Frame(xlim, (0.0, top * 1.05), xlabel, "rows", title or "histogram")
    parts = f.open()
    parts.append(f'<g clip-path="url(#{f.clip})" fill="#56B4E9" stroke="#0072B2" '
                 'stroke-width="0.5">')
    base = float(f.sy(0.0))
    for c, a, b in zip(counts, edges[:-1], edges[1:], strict=True):
        if b <= xlim[0]:
            continue
        x0, x1 = float(f.sx(max(a, xlim[0]))), float(f.sx(b))
        y = float(f.sy(c))
        parts.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 0.5):.1f}" '
                     f'height="{base - y:.1f}"/>')
    parts.append("</g>")
    if cutoff is not None and math.isfinite(cutoff) and xlim[0] <= cutoff <= xlim[1]:
        x = float(f.sx(cutoff))
        parts.append(f'<line x1="{x:.1f}" y1="{f.py0}" x2="{x:.1f}" y2="{f.py1}" '
                     'stroke="#D55E00" stroke-width="2.5"/>')
        anchor = "end" if x > (f.px0 + f.px1) / 2 else "start"
        tx = x - 4 if anchor == "end" else x + 4
        parts.append(f'<text x="{tx:.1f}" y="{f.py1 + 12}" fill="#D55E00" '
                     f'text-anchor="{anchor}">threshold {cutoff:.4g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def qq_svg(theoretical: Sequence[np.ndarray], observed: Sequence[np.ndarray],
           colours: Sequence[str], labels: Sequence[str], *, title: str = "") -> str:
    """Observed against theoretical quantiles (one series per component) and the diagonal.

    The axes span the theoretical quantiles (× 1.6): points further out are drawn as
    triangles on the top edge, so one extreme row does not flatten the rest.
    """
    top = max(float(np.max(t)) for t in theoretical) * 1.6
    lim = (0.0, top)
    f = _Frame(lim, lim, "χ² quantile", "squared Mahalanobis distance", title or "Q-Q")
    parts = f.open()
    parts.append(f'<g clip-path="url(#{f.clip})">')
    parts.append(f'<line x1="{float(f.sx(0)):.1f}" y1="{float(f.sy(0)):.1f}" '
                 f'x2="{float(f.sx(top)):.1f}" y2="{float(f.sy(top)):.1f}" '
                 'stroke="#999" stroke-dasharray="4 3"/>')
    for t, o, colour in zip(theoretical, observed, colours, strict=True):
        t, o = np.asarray(t, float), np.asarray(o, float)
        inside = o <= top
        dots = "".join(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2"/>'
                       for a, b in zip(f.sx(t[inside]), f.sy(o[inside]), strict=True))
        edge = float(f.sy(top)) + 5
        tris = "".join(f"M{a:.1f},{edge - 5:.1f}L{a - 4:.1f},{edge + 2:.1f}"
                       f"L{a + 4:.1f},{edge + 2:.1f}Z" for a in f.sx(t[~inside]))
        parts.append(f'<g fill="{colour}">{dots}</g>')
        if tris:
            parts.append(f'<path d="{tris}" fill="white" stroke="{colour}"/>')
    parts.append("</g>")
    for i, (label, colour) in enumerate(zip(labels, colours, strict=True)):
        y = f.py1 + 14 + 14 * i
        parts.append(f'<circle cx="{f.px0 + 12}" cy="{y - 4}" r="4" fill="{colour}"/>'
                     f'<text x="{f.px0 + 20}" y="{y}">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
