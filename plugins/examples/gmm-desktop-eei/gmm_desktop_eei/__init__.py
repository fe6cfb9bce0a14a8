"""mclust's EEI covariance type as a gmm-desktop plugin (an example package).

EEI: all components share one diagonal covariance ``Σ = diag(σ₁², …, σ_d²)``. Its M-step
maximises the expected complete-data log-likelihood over that family::

    σⱼ² = Σₖ Sₖⱼⱼ / n  (+ reg_covar)

where ``Sₖⱼⱼ`` is the weighted scatter of component ``k`` along feature ``j`` about its mean
and ``n`` the total weight. The family has ``d`` free parameters.

The plugin imports only :mod:`gmm_desktop.plugin_api` from gmm-desktop.
"""

from __future__ import annotations

import numpy as np

from gmm_desktop.plugin_api import CovarianceType, NotPositiveDefiniteError, SufficientStatistics

__all__ = ["EEICovariance"]
__version__ = "0.1.0"


class EEICovariance(CovarianceType):
    """One diagonal covariance shared by all components (mclust's EEI)."""

    name = "eei"
    description = "one diagonal covariance shared by all components (mclust EEI)"
    # The M-step needs only the diagonal of each component's scatter, and the E-step is the
    # diagonal kernel.
    structure = "diag"

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_features

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        # Stored once, as scikit-learn stores its "tied" covariance.
        return (n_features,)

    def m_step(self, stats: SufficientStatistics, reg_covar: float) -> np.ndarray:
        # stats.scatter has shape (K, d) because structure == "diag".
        return stats.scatter.sum(axis=0) / stats.nk.sum() + reg_covar

    # The storage is not one diagonal per component, so the storage-dependent methods are
    # overridden: each maps the shared (d,) vector to what the caller expects.

    def to_full(self, covariances, n_components, n_features):
        diag = np.asarray(covariances, dtype=float)
        return np.broadcast_to(np.diag(diag), (n_components, n_features, n_features)).copy()

    def precision_cholesky(self, covariances):
        covariances = np.asarray(covariances, dtype=float)
        if np.any(~np.isfinite(covariances)) or np.any(covariances <= 0.0):
            raise NotPositiveDefiniteError("an EEI variance is not positive")
        return 1.0 / np.sqrt(covariances)

    def precision_cholesky_from_precisions(self, precisions):
        precisions = np.asarray(precisions, dtype=float)
        if np.any(~np.isfinite(precisions)) or np.any(precisions <= 0.0):
            raise NotPositiveDefiniteError("an EEI precision is not positive")
        return np.sqrt(precisions)

    def expand_precision_cholesky(self, prec_chol, n_components, n_features):
        # The E-step wants one (d,) row per component.
        return np.broadcast_to(np.asarray(prec_chol, dtype=float), (n_components, n_features))

    def marginal_2d(self, covariances, n_components, n_features, i, j):
        diag = np.asarray(covariances, dtype=float)
        block = np.diag([diag[i], diag[j]])
        return np.broadcast_to(block, (n_components, 2, 2)).copy()

    def sample(self, rng, means, covariances, counts):
        std = np.sqrt(np.asarray(covariances, dtype=float))
        parts = [
            means[k] + rng.standard_normal(size=(int(counts[k]), means.shape[1])) * std
            for k in range(means.shape[0])
        ]
        return np.vstack(parts)
