"""mclust's hierarchical initializer: transform, agglomeration against brute force, subsets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

hc = pytest.importorskip(
    "gmm_desktop_mclust.hc",
    reason="the gmm-desktop-mclust plugin pack is not installed "
    "(pip install -e plugins/gmm-desktop-mclust)",
)

from gmm_desktop.testing import check_initializer  # noqa: E402


def _data(seed: int, n: int, d: int) -> np.ndarray:
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=4.0, size=(3, d))
    return centers[rng.randint(3, size=n)] + rng.normal(size=(n, d)) @ rng.normal(size=(d, d))


def test_scaled_svd_is_mclusts_transform():
    X = _data(0, 80, 3) * [1.0, 10.0, 100.0] + 5.0
    Z = hc.scaled_svd(X)
    S = (X - X.mean(0)) / X.std(0, ddof=1)
    s = np.linalg.svd(S, compute_uv=False)
    np.testing.assert_allclose(Z.T @ Z, np.diag(s), atol=1e-9)  # (X V S^-1/2)ᵀ(...) = S
    # distances in Z are those of the standardized data weighted by 1/sqrt(s)
    assert Z.shape == (80, 3)
    const = np.column_stack([X, np.full(80, 7.0)])
    assert hc.scaled_svd(const).shape == (80, 3)  # a constant column is dropped


def _brute_force(Z: np.ndarray) -> list[frozenset]:
    """The agglomeration recomputed from scratch at every step (no updates, no shortcuts)."""
    n, d = Z.shape
    centred = Z - Z.mean(0)
    alpha = float(np.sum(centred**2)) / (n * d)

    def cost(rows):
        pts = Z[list(rows)]
        l = len(pts)
        diff = pts - pts.mean(0)
        W = diff.T @ diff
        inner = (np.trace(W) + alpha) / l
        if l > d:
            inner += np.linalg.det(W / l)
        return l * np.log(inner)

    clusters = [frozenset([i]) for i in range(n)]
    merged = []
    while len(clusters) > 1:
        best = None
        for a, b in itertools.combinations(range(len(clusters)), 2):
            delta = cost(clusters[a] | clusters[b]) - cost(clusters[a]) - cost(clusters[b])
            if best is None or delta < best[0]:
                best = (delta, a, b)
        _, a, b = best
        new = clusters[a] | clusters[b]
        merged.append(new)
        clusters = [c for i, c in enumerate(clusters) if i not in (a, b)] + [new]
    return merged


@pytest.mark.parametrize(("seed", "d"), [(1, 2), (2, 3)])
def test_agglomeration_matches_a_brute_force_computation(seed, d):
    Z = hc.scaled_svd(_data(seed, 36, d))
    merges, groups = hc.hierarchical_tree(Z)
    assert np.array_equal(groups, np.arange(36))  # no duplicates
    members = {g: frozenset([g]) for g in range(36)}
    fast = []
    for a, b in merges:
        members[a] = members[a] | members.pop(b)
        fast.append(members[a])
    assert fast == _brute_force(Z)


def test_identical_rows_start_together_and_cut_gives_k_groups():
    X = _data(3, 60, 2)
    X = np.vstack([X, X[:5], X[:5]])  # rows 0-4 appear three times
    merges, groups = hc.hierarchical_tree(hc.scaled_svd(X))
    assert groups.max() + 1 == 60
    for k in (1, 2, 3, 7):
        labels = hc.cut_tree(merges, groups, k)
        assert set(labels) == set(range(k))
        for i in range(5):
            assert labels[i] == labels[60 + i] == labels[65 + i]
    with pytest.raises(ValueError, match="only 60 distinct"):
        hc.cut_tree(merges, groups, 61)


def test_separated_groups_are_recovered():
    rng = np.random.RandomState(4)
    offsets = np.repeat(np.array([[0.0, 0.0], [12.0, 0.0], [0.0, 12.0]]), 50, axis=0)
    X = rng.normal(size=(150, 2)) + offsets
    resp = hc.MclustHierarchical().initialize(X, 3, np.random.RandomState(0)).resp
    labels = resp.argmax(1)
    assert np.all(resp.max(1) == 1.0)
    for block in range(3):
        assert len(set(labels[block * 50:(block + 1) * 50])) == 1
    assert len(set(labels)) == 3


def test_subset_of_rows_and_the_e_step_for_the_others():
    class Small(hc.MclustHierarchical):
        max_rows = 60

    X = _data(5, 150, 3)
    init = Small()
    a = init.initialize(X, 3, np.random.RandomState(7)).resp
    b = init.initialize(X, 3, np.random.RandomState(7)).resp
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a.sum(1), 1.0)
    one_hot = np.all((a == 0) | (a == 1), axis=1)
    assert one_hot.sum() >= 60  # the subset rows (others may be certain too)
    w = np.ones(150)
    w[:100] = 0.0  # rows of zero weight are never in the subset
    c = init.initialize(X, 3, np.random.RandomState(7), w).resp
    exact = np.flatnonzero(np.all((c == 0) | (c == 1), axis=1) & (np.arange(150) >= 100))
    assert exact.size == 50


def test_the_tree_is_computed_once_per_data_set(monkeypatch):
    calls = []
    real = hc.hierarchical_tree

    def counting(Z, **kw):
        calls.append(Z.shape)
        return real(Z, **kw)

    monkeypatch.setattr(hc, "hierarchical_tree", counting)
    X = _data(8, 90, 2) + 0.123  # data no other test uses
    for k in (1, 2, 3, 4, 5):
        hc.MclustHierarchical().initialize(X, k, np.random.RandomState(k))
    assert len(calls) == 1


def test_conformance_kit():
    check_initializer(hc.MclustHierarchical)
