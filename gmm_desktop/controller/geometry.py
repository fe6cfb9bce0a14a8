"""Ready-to-draw geometry computed for the GUI: ellipse outlines, PCA projections.

Pure numpy/scipy; no Qt. Every function returns new arrays the caller may keep.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

#: Points per ellipse outline (the last repeats the first to close it).
ELLIPSE_POINTS = 97


def radius_for_mass(q: float) -> float:
    """Mahalanobis radius of the 2-D ellipse holding probability mass ``q`` (0 < q < 1)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"probability mass must be between 0 and 1 (exclusive), got {q!r}")
    return float(np.sqrt(chi2.ppf(q, 2)))


def ellipse_outlines(
    means: np.ndarray, covariances: np.ndarray, radii: list[float] | tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Outlines ``μ + r·L·[cos t, sin t]`` of every component at every radius.

    ``means`` is ``(K, 2)``, ``covariances`` ``(K, 2, 2)`` (the marginal covariances of the
    plotted pair), ``L`` the Cholesky factor of each. Returns ``(x, y)``: all outlines in one
    pair of arrays, each outline closed and followed by one NaN separator (draw with
    ``connect='finite'``). Exact under any axis scaling.
    """
    means = np.asarray(means, dtype=float)
    covs = np.asarray(covariances, dtype=float)
    t = np.linspace(0.0, 2.0 * np.pi, ELLIPSE_POINTS)
    circle = np.stack([np.cos(t), np.sin(t)])  # (2, P)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    sep = np.array([np.nan])
    for mu, cov in zip(means, covs, strict=True):
        sym = 0.5 * (cov + cov.T)
        try:
            chol = np.linalg.cholesky(sym)
        except np.linalg.LinAlgError:  # numerically singular marginal: use eigen factor
            vals, vecs = np.linalg.eigh(sym)
            chol = vecs * np.sqrt(np.clip(vals, 0.0, None))
        unit = chol @ circle
        for r in radii:
            xs += [mu[0] + r * unit[0], sep]
            ys += [mu[1] + r * unit[1], sep]
    if not xs:
        return np.empty(0), np.empty(0)
    return np.concatenate(xs), np.concatenate(ys)


@dataclass(frozen=True)
class Pca:
    """Principal axes of the model's feature space (``components`` is ``(2, d)``)."""

    center: np.ndarray
    components: np.ndarray
    explained_ratio: np.ndarray

    def project(self, X: np.ndarray) -> np.ndarray:
        """``(X − center) Wᵀ`` as ``(n, 2)``.

        With numpy's own loops, not BLAS: the window calls this in the GUI thread, and a
        multi-threaded BLAS on a busy 2-core machine took 0.4–0.6 s for a million rows
        (its threads wait for a core) where one thread takes 0.04 s."""
        X = np.asarray(X, dtype=float)
        return np.einsum("nd,kd->nk", X, self.components) - self.components @ self.center

    def project_axis(self, X: np.ndarray, k: int) -> np.ndarray:
        """Principal coordinate ``k`` (0 or 1) of every row of ``X``, as one contiguous
        ``(n,)`` array (numpy's loops, not BLAS: see :meth:`project`)."""
        w = self.components[k]
        return np.einsum("nd,d->n", np.asarray(X, dtype=float), w) - float(w @ self.center)

    def project_covariances(self, covs: np.ndarray) -> np.ndarray:
        """``Wᵀ Σ W`` of each ``(d, d)`` covariance: the ``(K, 2, 2)`` projected covariances."""
        W = self.components.T  # (d, 2)
        return np.einsum("di,kde,ej->kij", W, np.asarray(covs, dtype=float), W)


def fit_pca(X: np.ndarray) -> Pca:
    """The first two principal axes of ``X`` (numpy eigen-decomposition of the covariance).

    Works in ``O(n d²)`` without copying the data (safe for a million rows). With a single
    feature, the second axis is zero.
    """
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    center = X.mean(axis=0)
    cov = np.zeros((d, d))
    step = 65536
    for start in range(0, n, step):
        block = X[start : start + step] - center
        cov += block.T @ block
    cov /= max(n - 1, 1)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    # A deterministic sign: the largest loading of each axis is positive.
    signs = np.sign(vecs[np.abs(vecs).argmax(axis=0), np.arange(d)])
    signs[signs == 0] = 1.0
    vecs = vecs * signs
    comps = np.zeros((2, d))
    m = min(2, d)
    comps[:m] = vecs[:, :m].T
    total = float(vals.sum())
    ratio = np.zeros(2)
    if total > 0:
        ratio[:m] = np.clip(vals[:m], 0, None) / total
    return Pca(center=center, components=comps, explained_ratio=ratio)
