"""The four covariance types of scikit-learn: full, tied, diag and spherical."""

from __future__ import annotations

import numpy as np

from gmm_desktop.plugin_api import (
    CovarianceType,
    NotPositiveDefiniteError,
    SufficientStatistics,
    cholesky_precision_from_covariances,
    cholesky_precision_from_precisions,
    precisions_from_cholesky,
)


def _add_to_diagonal(matrices: np.ndarray, value: float) -> np.ndarray:
    d = matrices.shape[-1]
    idx = np.arange(d)
    matrices[..., idx, idx] += value
    return matrices


class FullCovariance(CovarianceType):
    """Each component has its own general covariance matrix (mclust's VVV)."""

    name = "full"
    description = "each component has its own general covariance matrix"
    structure = "full"

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * n_features * (n_features + 1) // 2

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features, n_features)

    def m_step(self, stats: SufficientStatistics, reg_covar: float) -> np.ndarray:
        cov = stats.scatter / stats.nk[:, None, None]
        return _add_to_diagonal(cov, reg_covar)


class TiedCovariance(CovarianceType):
    """All components share one general covariance matrix (mclust's EEE)."""

    name = "tied"
    description = "all components share one general covariance matrix"
    structure = "full"

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_features * (n_features + 1) // 2

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_features, n_features)

    def m_step(self, stats: SufficientStatistics, reg_covar: float) -> np.ndarray:
        cov = stats.scatter.sum(axis=0) / stats.nk.sum()
        return _add_to_diagonal(cov, reg_covar)

    def to_full(self, covariances, n_components, n_features):
        return np.broadcast_to(covariances, (n_components, n_features, n_features)).copy()

    def precision_cholesky(self, covariances):
        return cholesky_precision_from_covariances(np.asarray(covariances)[None])[0]

    def precision_cholesky_from_precisions(self, precisions):
        return cholesky_precision_from_precisions(np.asarray(precisions)[None])[0]

    def precisions(self, prec_chol):
        return precisions_from_cholesky(np.asarray(prec_chol)[None])[0]

    def marginal_2d(self, covariances, n_components, n_features, i, j):
        idx = np.array([i, j])
        block = np.asarray(covariances, dtype=float)[idx[:, None], idx[None, :]]
        return np.broadcast_to(block, (n_components, 2, 2)).copy()


class DiagCovariance(CovarianceType):
    """Each component has its own diagonal covariance (axis-aligned; mclust's VVI)."""

    name = "diag"
    description = "each component has its own diagonal (axis-aligned) covariance"
    structure = "diag"

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * n_features

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features)

    def m_step(self, stats: SufficientStatistics, reg_covar: float) -> np.ndarray:
        return stats.scatter / stats.nk[:, None] + reg_covar

    def sample(self, rng, means, covariances, counts):
        parts = [
            means[k] + rng.standard_normal(size=(int(counts[k]), means.shape[1]))
            * np.sqrt(covariances[k])
            for k in range(means.shape[0])
        ]
        return np.vstack(parts)


class SphericalCovariance(CovarianceType):
    """Each component has its own single variance (mclust's VII)."""

    name = "spherical"
    description = "each component has its own single variance"
    structure = "diag"

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components,)

    def m_step(self, stats: SufficientStatistics, reg_covar: float) -> np.ndarray:
        return (stats.scatter / stats.nk[:, None] + reg_covar).mean(axis=1)

    def to_full(self, covariances, n_components, n_features):
        return np.asarray(covariances, dtype=float)[:, None, None] * np.eye(n_features)

    def precision_cholesky(self, covariances):
        covariances = np.asarray(covariances, dtype=float)
        if np.any(~np.isfinite(covariances)) or np.any(covariances <= 0.0):
            raise NotPositiveDefiniteError("a spherical variance is not positive")
        return 1.0 / np.sqrt(covariances)

    def expand_precision_cholesky(self, prec_chol, n_components, n_features):
        return np.repeat(np.asarray(prec_chol, dtype=float)[:, None], n_features, axis=1)

    def marginal_2d(self, covariances, n_components, n_features, i, j):
        return np.asarray(covariances, dtype=float)[:, None, None] * np.eye(2)

    def sample(self, rng, means, covariances, counts):
        parts = [
            means[k] + rng.standard_normal(size=(int(counts[k]), means.shape[1]))
            * np.sqrt(covariances[k])
            for k in range(means.shape[0])
        ]
        return np.vstack(parts)
