"""The four initializers of scikit-learn: kmeans, k-means++, random and random_from_data.

They consume the random state exactly as scikit-learn's GaussianMixture does, so a fit
with the same ``random_state`` starts from the same responsibilities.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus

from gmm_desktop.plugin_api import Initializer


def _one_hot(n_samples: int, n_components: int, rows: np.ndarray, cols: np.ndarray, dtype):
    resp = np.zeros((n_samples, n_components), dtype=dtype)
    resp[rows, cols] = 1.0
    return resp


class KMeansInitializer(Initializer):
    """Hard responsibilities from one run of k-means (scikit-learn's KMeans, n_init=1)."""

    name = "kmeans"
    description = "hard assignments from one k-means run"

    def initialize(self, X, n_components, random_state, sample_weight=None):
        labels = (
            KMeans(n_clusters=n_components, n_init=1, random_state=random_state)
            .fit(X, sample_weight=sample_weight)
            .labels_
        )
        return _one_hot(X.shape[0], n_components, np.arange(X.shape[0]), labels, X.dtype)


class KMeansPlusPlusInitializer(Initializer):
    """The K rows chosen by k-means++ seeding, one per component."""

    name = "k-means++"
    description = "one seed row per component, chosen by k-means++"

    def initialize(self, X, n_components, random_state, sample_weight=None):
        _, indices = kmeans_plusplus(
            X, n_components, random_state=random_state, sample_weight=sample_weight
        )
        return _one_hot(X.shape[0], n_components, indices, np.arange(n_components), X.dtype)


class RandomInitializer(Initializer):
    """Uniform random soft responsibilities, normalised per row."""

    name = "random"
    description = "random soft responsibilities"

    def initialize(self, X, n_components, random_state, sample_weight=None):
        resp = np.asarray(random_state.uniform(size=(X.shape[0], n_components)), dtype=X.dtype)
        resp /= resp.sum(axis=1)[:, np.newaxis]
        return resp


class RandomFromDataInitializer(Initializer):
    """K distinct random rows, one per component (rows of zero weight are never chosen)."""

    name = "random_from_data"
    description = "one random data row per component"

    def initialize(self, X, n_components, random_state, sample_weight=None):
        n = X.shape[0]
        if sample_weight is None:
            indices = random_state.choice(n, size=n_components, replace=False)
        else:
            p = sample_weight / sample_weight.sum()
            if np.count_nonzero(p) < n_components:
                raise ValueError(
                    "random_from_data needs at least n_components rows of positive weight"
                )
            indices = random_state.choice(n, size=n_components, replace=False, p=p)
        return _one_hot(n, n_components, indices, np.arange(n_components), X.dtype)
