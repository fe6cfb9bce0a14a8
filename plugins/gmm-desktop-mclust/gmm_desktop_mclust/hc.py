"""mclust's default initializer: model-based agglomerative hierarchical clustering.

What mclust does by default (``hc(modelName = "VVV", use = "SVD")``, Fraley 1998), written
anew in numpy:

1. **Subset.** At most 2,000 rows (``max_rows``) take part; with more rows, a random subset
   drawn from the ``random_state`` given to :meth:`MclustHierarchical.initialize` (rows of
   zero sample weight are never drawn).
2. **Scaled SVD transform.** The subset is centred and scaled to unit standard deviation
   (constant columns dropped), then ``Z = X V S^{-1/2}`` with ``X = U S Vᵀ`` its SVD.
3. **Initial partition.** Identical rows start in one group (mclust's ``dupPartition``).
4. **Agglomeration.** Repeatedly merge the two groups whose merge increases the VVV
   criterion least. A group of ``l`` rows with scatter ``W`` costs
   ``l · log(det(W/l) + β (tr W + α)/l)`` (the determinant only when ``l > d``),
   with ``β = 1`` and ``α = tr(W_all)/(n d)`` computed on ``Z`` (mclust's ``alpha = 1`` times
   ``traceW(Z / sqrt(n p))``): the trace term regularises small groups whose covariance is
   singular. The cost of a merge is the merged group's cost minus the two groups' costs;
   merged scatters are updated in closed form, ``W = Wᵢ + Wⱼ + nᵢnⱼ/(nᵢ+nⱼ) δδᵀ``, and
   the nearest merge of every group is kept, so each merge costs O(groups) work
   (vectorised). For one feature the determinant term is left out, as mclust's univariate
   ``V`` criterion has none.
5. **Cut.** For ``K`` components the tree is cut at ``K`` groups. Subset rows get one-hot
   responsibilities for their group. Rows outside the subset (only when there are more than
   ``max_rows``) get the responsibilities of one E-step under a Gaussian per group fitted
   to the subset (group covariances, pooled when a group has ``d`` rows or fewer, with a
   ridge of 1e-6 of the average variance), in the spirit of mclust, which follows the hc
   partition of the subset with an E-step on all the data.

The tree depends only on the data (and the subset), so it is cached (a few data sets,
keyed by a hash of the rows): a sweep over component counts and models builds it once.

Sample weights other than zero are not used by the clustering (mclust has none); rows of
zero weight are left out of the subset.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import ClassVar

import numpy as np
from scipy.special import logsumexp

from gmm_desktop.plugin_api import Initialization, Initializer

__all__ = ["MclustHierarchical", "cut_tree", "hierarchical_tree", "scaled_svd"]

_CACHE: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
_CACHE_SIZE = 8
_LOCK = threading.Lock()


def scaled_svd(X: np.ndarray) -> np.ndarray:
    """mclust's ``hcUse = "SVD"`` transform: standardise, then ``X V S^{-1/2}``."""
    X = np.asarray(X, dtype=float)
    sd = X.std(axis=0, ddof=1) if X.shape[0] > 1 else np.zeros(X.shape[1])
    keep = sd > 0
    if not np.any(keep):
        return np.zeros((X.shape[0], 1))
    Z = (X[:, keep] - X[:, keep].mean(axis=0)) / sd[keep]
    _, s, vt = np.linalg.svd(Z, full_matrices=False)
    rank = s > s[0] * max(Z.shape) * np.finfo(float).eps
    return Z @ vt[rank].T / np.sqrt(s[rank])


def _group_duplicates(Z: np.ndarray) -> np.ndarray:
    """Group index of each row, identical rows in one group, groups in order of appearance."""
    _, first, inverse = np.unique(Z, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(first, kind="stable")  # unique rows ordered by first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse]


class _Agglomeration:
    """State of the VVV agglomeration over the initial groups."""

    def __init__(self, Z: np.ndarray, groups: np.ndarray, alpha: float, beta: float) -> None:
        _n, d = Z.shape
        m = int(groups.max()) + 1
        self.d = d
        self.alpha = alpha
        self.beta = beta
        self.cnt = np.bincount(groups, minlength=m).astype(float)
        self.mean = np.zeros((m, d))
        np.add.at(self.mean, groups, Z)
        self.mean /= self.cnt[:, None]
        diff = Z - self.mean[groups]
        self.W = np.zeros((m, d, d))
        np.add.at(self.W, groups, diff[:, :, None] * diff[:, None, :])
        self.tr = np.einsum("kii->k", self.W)
        self.term = self._terms(self.cnt, self.tr, self.W)

    def _terms(self, l: np.ndarray, tr: np.ndarray, W: np.ndarray | None) -> np.ndarray:
        inner = self.beta * (tr + self.alpha) / l
        if self.d > 1 and W is not None:
            big = l > self.d
            if np.any(big):
                det = np.linalg.det(W[big] / l[big, None, None])
                inner[big] += np.maximum(det, 0.0)
        return l * np.log(inner)

    def merge_costs(self, i: int, js: np.ndarray) -> np.ndarray:
        """Increase of the criterion when group ``i`` merges with each group of ``js``."""
        ni, nj = self.cnt[i], self.cnt[js]
        l = ni + nj
        delta = self.mean[js] - self.mean[i]
        c = ni * nj / l
        tr = self.tr[i] + self.tr[js] + c * np.einsum("kj,kj->k", delta, delta)
        inner = self.beta * (tr + self.alpha) / l
        if self.d > 1:
            big = np.flatnonzero(l > self.d)
            if big.size:
                db = delta[big]
                Wm = self.W[i] + self.W[js[big]] + c[big, None, None] * (
                    db[:, :, None] * db[:, None, :]
                )
                det = np.linalg.det(Wm / l[big, None, None])
                inner[big] += np.maximum(det, 0.0)
        return l * np.log(inner) - self.term[i] - self.term[js]

    def merge(self, a: int, b: int) -> None:
        """Merge group ``b`` into group ``a``."""
        na, nb = self.cnt[a], self.cnt[b]
        l = na + nb
        delta = self.mean[b] - self.mean[a]
        self.W[a] = self.W[a] + self.W[b] + (na * nb / l) * np.outer(delta, delta)
        self.mean[a] = (na * self.mean[a] + nb * self.mean[b]) / l
        self.cnt[a] = l
        self.tr[a] = np.trace(self.W[a])
        self.term[a] = self._terms(np.array([l]), np.array([self.tr[a]]), self.W[a][None])[0]


def hierarchical_tree(Z: np.ndarray, *, alpha: float = 1.0, beta: float = 1.0):
    """Merge list of the VVV agglomeration of the (already transformed) rows ``Z``.

    Returns ``(merges, groups)``: ``groups[i]`` is the initial group (identical rows share
    one) of row ``i`` and ``merges`` an ``(m − 1, 2)`` int array of group pairs ``(a, b)``,
    ``b`` merged into ``a``, in merge order (``m`` initial groups). ``alpha`` multiplies
    mclust's default regularisation ``tr(W_all)/(n d)``.
    """
    Z = np.asarray(Z, dtype=float)
    n, d = Z.shape
    groups = _group_duplicates(Z)
    m = int(groups.max()) + 1
    total = Z - Z.mean(axis=0)
    a_reg = max(alpha * float(np.sum(total * total)) / (n * d), np.finfo(float).eps)
    state = _Agglomeration(Z, groups, a_reg, beta)
    if m == 1:
        return np.empty((0, 2), dtype=np.intp), groups
    D = np.full((m, m), np.inf)
    for i in range(m - 1):
        js = np.arange(i + 1, m)
        costs = state.merge_costs(i, js)
        D[i, js] = costs
        D[js, i] = costs
    nn_idx = np.argmin(D, axis=1)
    nn_val = D[np.arange(m), nn_idx]
    active = np.ones(m, dtype=bool)
    merges = np.empty((m - 1, 2), dtype=np.intp)
    for step in range(m - 1):
        i = int(np.argmin(nn_val))
        j = int(nn_idx[i])
        a, b = (i, j) if i < j else (j, i)
        merges[step] = (a, b)
        state.merge(a, b)
        active[b] = False
        D[b, :] = np.inf
        D[:, b] = np.inf
        nn_val[b] = np.inf
        js = np.flatnonzero(active)
        js = js[js != a]
        D[a, :] = np.inf
        if js.size == 0:
            break
        costs = state.merge_costs(a, js)
        D[a, js] = costs
        D[js, a] = costs
        stale = js[(nn_idx[js] == a) | (nn_idx[js] == b)]
        fresh = js[(nn_idx[js] != a) & (nn_idx[js] != b)]
        if stale.size:
            idx = np.argmin(D[stale], axis=1)
            nn_idx[stale] = idx
            nn_val[stale] = D[stale, idx]
        if fresh.size:
            better = D[fresh, a] < nn_val[fresh]
            nn_idx[fresh[better]] = a
            nn_val[fresh[better]] = D[fresh[better], a]
        best = int(np.argmin(costs))
        nn_idx[a] = js[best]
        nn_val[a] = costs[best]
    return merges, groups


def cut_tree(merges: np.ndarray, groups: np.ndarray, n_clusters: int) -> np.ndarray:
    """Cluster label (0..n_clusters−1, in order of appearance) of each row at ``n_clusters``."""
    m = int(groups.max()) + 1
    if n_clusters > m:
        raise ValueError(
            f"the hierarchical clustering cannot make {n_clusters} groups: the rows it used "
            f"hold only {m} distinct values; use fewer components or another initializer"
        )
    parent = np.arange(m)
    for a, b in merges[: m - n_clusters]:
        parent[b] = a
    # resolve chains: a merged-into group may itself have been merged later
    for _ in range(m):
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            break
        parent = nxt
    root = parent[groups]
    _, first, inverse = np.unique(root, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse.ravel()]


def _cached_tree(X_sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    data = np.ascontiguousarray(X_sub, dtype=float)
    key = (data.shape, hashlib.sha256(data.tobytes()).hexdigest())
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    tree = hierarchical_tree(scaled_svd(data))
    with _LOCK:
        _CACHE[key] = tree
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return tree


def _extend_to_all_rows(
    X: np.ndarray, subset: np.ndarray, labels: np.ndarray, k: int
) -> np.ndarray:
    """Responsibilities of every row: one-hot on the subset, one E-step elsewhere."""
    n, d = X.shape
    resp = np.zeros((n, k))
    resp[subset, labels] = 1.0
    rest = np.setdiff1d(np.arange(n), subset, assume_unique=True)
    if rest.size == 0:
        return resp
    Xs = X[subset]
    counts = np.bincount(labels, minlength=k).astype(float)
    means = np.stack([Xs[labels == j].mean(axis=0) for j in range(k)])
    covs = np.empty((k, d, d))
    pooled = np.zeros((d, d))
    for j in range(k):
        diff = Xs[labels == j] - means[j]
        covs[j] = diff.T @ diff
        pooled += covs[j]
    pooled /= max(len(subset) - k, 1)
    ridge = 1e-6 * max(float(np.mean(np.diag(np.atleast_2d(np.cov(Xs.T))))), 1e-300)
    logp = np.empty((rest.size, k))
    for j in range(k):
        cov = covs[j] / counts[j] if counts[j] > d else pooled.copy()
        cov[np.diag_indices(d)] += ridge
        chol = np.linalg.cholesky(cov)
        z = np.linalg.solve(chol, (X[rest] - means[j]).T)
        logdet = 2.0 * np.log(np.diag(chol)).sum()
        logp[:, j] = np.log(counts[j] / counts.sum()) - 0.5 * (logdet + np.sum(z * z, axis=0))
    resp[rest] = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))
    return resp


class MclustHierarchical(Initializer):
    """mclust's default initialization: VVV hierarchical clustering on scaled-SVD data."""

    name = "mclust-hc"
    description = (
        "mclust's default: model-based hierarchical clustering (VVV) of the scaled-SVD data, "
        "on at most 2,000 rows"
    )
    #: Largest number of rows the hierarchical clustering uses (mclust's ``subset``).
    max_rows: ClassVar[int] = 2000

    def initialize(
        self,
        X: np.ndarray,
        n_components: int,
        random_state: np.random.RandomState,
        sample_weight: np.ndarray | None = None,
    ) -> Initialization:
        X = np.asarray(X, dtype=float)
        n = X.shape[0]
        candidates = np.arange(n)
        if sample_weight is not None:
            candidates = np.flatnonzero(np.asarray(sample_weight) > 0)
        if candidates.size > self.max_rows:
            subset = np.sort(random_state.choice(candidates, self.max_rows, replace=False))
        else:
            subset = candidates
        if subset.size < n_components:
            raise ValueError(
                f"the hierarchical initializer needs at least {n_components} rows of positive "
                f"weight, got {subset.size}"
            )
        merges, groups = _cached_tree(X[subset])
        labels = cut_tree(merges, groups, n_components)
        return Initialization(resp=_extend_to_all_rows(X, subset, labels, n_components))
