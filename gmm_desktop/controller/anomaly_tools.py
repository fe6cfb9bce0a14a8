"""Qt-free helpers of the anomaly and selection panels: fast threshold counts, the
log-density histogram, point-in-polygon selection, the decision contour on a grid, and the
reproduction script / command line. numpy (and the engine's public model API) only.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

HIST_BINS = 120


# --------------------------------------------------------------------------- threshold


@dataclass(frozen=True)
class DensityIndex:
    """Log-densities of the scored rows, sorted once, for O(log n) threshold counts."""

    sorted_ld: np.ndarray  # ascending, finite and -inf values
    counts: np.ndarray  # histogram of the finite log-densities
    edges: np.ndarray

    @classmethod
    def build(cls, log_density: np.ndarray, bins: int = HIST_BINS) -> DensityIndex:
        ld = np.asarray(log_density, dtype=float)
        finite = ld[np.isfinite(ld)]
        if finite.size == 0:
            counts, edges = np.zeros(1, dtype=np.int64), np.array([0.0, 1.0])
        else:
            # clip the far tail to the 0.1% quantile so that a few extreme rows do not
            # squash the histogram; they are still counted in the first bin
            lo = float(np.quantile(finite, 0.001)) if finite.size > 1000 else float(finite.min())
            hi = float(finite.max())
            if hi <= lo:
                hi = lo + 1.0
            counts, edges = np.histogram(np.clip(finite, lo, hi), bins=bins, range=(lo, hi))
        out = np.sort(ld)
        for a in (out, counts, edges):
            a.flags.writeable = False
        return cls(out, counts, edges)

    @property
    def n(self) -> int:
        return int(self.sorted_ld.shape[0])

    def count_below(self, cutoff: float) -> int:
        """Rows with log-density strictly below ``cutoff`` (binary search)."""
        return int(np.searchsorted(self.sorted_ld, cutoff, side="left"))

    def cutoff_for_share(self, q: float) -> float:
        """The cut-off flagging ``round(q·n)`` rows, halfway between neighbours (as the
        engine's contamination threshold learns it)."""
        n = self.n
        m = round(q * n)
        if m <= 0:
            return -math.inf
        if m >= n:
            return math.inf
        return float(0.5 * (self.sorted_ld[m - 1] + self.sorted_ld[m]))


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


# --------------------------------------------------------------------------- reproduction


@dataclass(frozen=True)
class Recipe:
    """What the analyst did, enough to repeat it without the GUI."""

    data_path: str
    columns: tuple[str, ...]
    scaling: str
    missing: str
    n_components: int
    covariance_type: str
    init_params: str
    n_init: int
    max_iter: int
    tol: float
    reg_covar: float
    random_state: int | None
    threshold: dict[str, Any]  # ThresholdSpec.to_dict()
    refit: str | None = None
    refit_params: tuple[tuple[str, Any], ...] = ()
    refit_threshold: dict[str, Any] | None = None  # the spec the refit ran with
    outliers: tuple[Any, ...] = ()  # row ids marked outlier (always flagged)
    normal: tuple[Any, ...] = ()  # row ids marked normal (never flagged)
    fit_excluded: tuple[Any, ...] = ()  # row ids the model's fit left out
    id_column: str | None = None
    sheet: str | None = None

    @property
    def uses_labels(self) -> bool:
        return bool(self.outliers or self.normal or self.fit_excluded)

    @property
    def plain_fit(self) -> bool:
        """The Detector's own fit reproduces the model (default initializer/tolerance)."""
        return self.init_params == "kmeans" and self.tol == 1e-3

    @property
    def threshold_after_refit(self) -> bool:
        return self.refit is not None and self.refit_threshold != self.threshold


def cli_command(recipe: Recipe, output: str = "flagged.csv") -> tuple[str, list[str]]:
    """The equivalent ``gmm-desktop detect`` command line, and what it cannot express."""
    r = recipe
    args = ["gmm-desktop", "detect", r.data_path]
    if r.sheet:
        args += ["--sheet", r.sheet]
    if r.id_column:
        args += ["--id-column", r.id_column]
    args += ["--columns", *r.columns]
    args += ["--components", str(r.n_components), "--covariance-type", r.covariance_type]
    spec = r.refit_threshold if r.refit is not None else r.threshold
    kind, value = spec["kind"], spec["value"]
    flag = {"contamination": "--contamination", "log_density": "--threshold",
            "sigma": "--sigma", "chi2": "--chi2"}[kind]
    args.append(f"{flag}={value!r}")
    if spec.get("small_component_share") is not None:
        args.append(f"--small-component={spec['small_component_share']!r}")
    if r.refit is not None:
        args += ["--refit", r.refit]
        for k, v in r.refit_params:
            args += ["--refit-param", f"{k}={v!r}" if isinstance(v, float) else f"{k}={v}"]
    args += ["--scaling", r.scaling, "--missing", r.missing, "--n-init", str(r.n_init)]
    if r.random_state is not None:
        args += ["--seed", str(r.random_state)]
    args += ["--output", output]
    gaps = []
    if r.uses_labels:
        gaps.append("manual labels (marked outliers / normal / excluded rows)")
    if not r.plain_fit:
        gaps.append(f"initializer {r.init_params!r} / tolerance {r.tol:g}")
    if r.max_iter != 100 or r.reg_covar != 1e-6:
        gaps.append("max iterations / covariance regularisation")
    if r.random_state is None:
        gaps.append("a random seed (the fit was not seeded)")
    if r.threshold_after_refit:
        gaps.append("a threshold changed after the refit")
    return shlex.join(args), gaps


def script_text(recipe: Recipe, output: str = "flagged.csv") -> str:
    """A short Python script that repeats the model and the flags with the public APIs."""
    r = recipe
    spec = r.refit_threshold if r.refit is not None else r.threshold
    lines = [
        '"""Reproduce a gmm-desktop detection (written by File > Export as script)."""',
        "",
        "import numpy as np",
        "",
        "from gmm_desktop.detector import Detector, DetectorConfig",
        "from gmm_desktop.engine.anomaly import ThresholdSpec",
        "",
        f"DATA = {r.data_path!r}",
        f"OUTPUT = {output!r}",
        "",
        "config = DetectorConfig(",
        f"    columns={list(r.columns)!r},",
        f"    n_components={r.n_components!r},",
        f"    covariance_types=({r.covariance_type!r},),",
        f"    scaling={r.scaling!r},",
        f"    missing={r.missing!r},",
        f"    threshold=ThresholdSpec({spec['kind']!r}, {spec['value']!r}, "
        f"{spec.get('small_component_share')!r}),",
        f"    refit={r.refit!r},",
        f"    refit_params={dict(r.refit_params)!r},",
        f"    n_init={r.n_init!r},",
        f"    max_iter={r.max_iter!r},",
        f"    reg_covar={r.reg_covar!r},",
        f"    random_state={r.random_state!r},",
        f"    id_column={r.id_column!r},",
        ")",
        "det = Detector(config)",
        "ds = det.load(DATA" + (f", sheet={r.sheet!r}" if r.sheet else "") + ")",
    ]
    if r.uses_labels:
        lines += [
            "# manual labels, by row identity",
            f"outliers = np.isin(ds.row_ids, np.array({list(r.outliers)!r}))",
            f"normal = np.isin(ds.row_ids, np.array({list(r.normal)!r}))",
            f"fit_exclude = np.isin(ds.row_ids, np.array({list(r.fit_excluded)!r}))",
        ]
        ex, nf, fit_ex = "outliers", "normal", "fit_exclude"
    else:
        ex = nf = fit_ex = "None"
    if r.plain_fit:
        lines.append(f"det.fit(exclude={fit_ex})")
    else:
        lines += [
            "from gmm_desktop.engine import GaussianMixture",
            "",
            "feats = det.prepare()",
            "keep = np.ones(feats.X.shape[0], bool)" if fit_ex == "None"
            else f"keep = ~{fit_ex}[feats.row_index]",
            f"model = GaussianMixture(n_components={r.n_components!r}, "
            f"covariance_type={r.covariance_type!r}, init_params={r.init_params!r}, "
            f"n_init={r.n_init!r}, max_iter={r.max_iter!r}, tol={r.tol!r}, "
            f"reg_covar={r.reg_covar!r}, random_state={r.random_state!r})",
            "model.fit(feats.X[keep])",
            "det.model, det.scaler, det.columns = model, feats.scaler, list(feats.columns)",
        ]
    lines.append(f"result = det.detect(exclude={ex}, never_flag={nf})")
    if r.threshold_after_refit:
        t = r.threshold
        lines += [
            "# the threshold the analyst set after accepting the refit",
            f"det.config.threshold = ThresholdSpec({t['kind']!r}, {t['value']!r}, "
            f"{t.get('small_component_share')!r})",
            f"result = det.detect(exclude={ex}, never_flag={nf}, refit=False)",
        ]
    lines += [
        "det.export(OUTPUT, only_flagged=True)",
        'print(f"flagged {result.n_flagged} of {result.flags.size} rows; wrote {OUTPUT}")',
        "",
    ]
    return "\n".join(lines)
