"""``GaussianMixtureOutlierDetector``: the robust default route as a scikit-learn outlier detector.

>>> from gmm_desktop import GaussianMixtureOutlierDetector
>>> det = GaussianMixtureOutlierDetector(contamination=0.05, random_state=0).fit(X)
>>> det.predict(X)            # +1 inlier, −1 outlier (scikit-learn's OutlierMixin)
>>> det.decision_function(X)  # negative for outliers, the cut at 0
>>> det.labels_, det.decision_scores_, det.threshold_   # PyOD's conventions

It scales the features (robustly by default: median/IQR, with
:class:`gmm_desktop.data.Scaler`, as the application does) and calls
:func:`gmm_desktop.engine.robust.fit_robust`, the same function the application core
calls, so the command line, the window and this estimator flag the same rows. A refit
strategy plugin can be run after it (``strategy=``); the cut is then learned again on the
refitted model, so the contamination is honoured either way.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from gmm_desktop.data import Scaler
from gmm_desktop.engine.anomaly import ThresholdSpec, fit_threshold, run_refit, score_rows
from gmm_desktop.engine.robust import DEFAULT_COVARIANCE_TYPES, fit_robust
from gmm_desktop.registry import get_registry

__all__ = ["GaussianMixtureOutlierDetector"]

_SCALINGS = ("robust", "standardize", "none")


class GaussianMixtureOutlierDetector(OutlierMixin, BaseEstimator):
    """Outlier detection by a robustly fitted Gaussian mixture (the gmm-desktop default).

    Parameters
    ----------
    contamination : float in [0, 0.5), default 0.05
        Share of the training rows to flag: the cut-off (``offset_``) is learned so that
        exactly ``round(contamination · n)`` training rows fall below it (ties aside).
    n_components : int or "auto", default "auto"
        Number of Gaussian components; ``"auto"`` chooses 1 to 6 by the trimmed BIC.
    covariance_type : {"auto", "full", "tied", "diag", "spherical"}, default "auto"
        ``"auto"`` chooses among all four by the trimmed BIC.
    strategy : str or None, default None
        A refit strategy plugin (``"trim-and-refit"``, ``"iterative-trimming"``,
        ``"noise-component"`` or any installed one) run after the robust fit; ``None`` uses
        the robust fit as it is.
    scaling : {"robust", "standardize", "none"}, default "robust"
        Feature scaling learned on the training rows (median/IQR, mean/standard deviation,
        or none).
    trim : float in [0, 0.5] or None, default None
        Share of rows left out of the trimmed fits; ``None``: ``min(0.45, max(q, 0.25))``.
    small_component_rule : bool, default True
        Small, far components are outlier clusters (see :mod:`gmm_desktop.engine.robust`).
    random_state : None, int or RandomState, default None
        Seed of the trimmed fits' random starts; an int reproduces the result.

    Attributes
    ----------
    model_ : gmm_desktop.engine.GaussianMixture
        The mixture of the normal data, in scaled units.
    scaler_ : gmm_desktop.data.Scaler
        The feature scaling.
    robust_fit_ : gmm_desktop.engine.robust.RobustFit
        Everything the default route found (the K × covariance-type table, trimmed rows...).
    offset_ : float
        The cut: ``decision_function = score_samples − offset_``.
    labels_ : ndarray of int
        PyOD's training labels: 1 for an outlier, 0 for an inlier.
    decision_scores_ : ndarray
        PyOD's training scores: higher is more abnormal (``−score_samples``).
    threshold_ : float
        PyOD's cut on ``decision_scores_`` (``−offset_``).
    n_features_in_, feature_names_in_
        As every scikit-learn estimator.
    """

    def __init__(
        self,
        contamination: float = 0.05,
        *,
        n_components: int | str = "auto",
        covariance_type: str = "auto",
        strategy: str | None = None,
        scaling: str = "robust",
        trim: float | None = None,
        small_component_rule: bool = True,
        random_state: Any = None,
    ) -> None:
        self.contamination = contamination
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.strategy = strategy
        self.scaling = scaling
        self.trim = trim
        self.small_component_rule = small_component_rule
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    # ------------------------------------------------------------------ checks

    def _check_params(self) -> tuple[list[str], Any]:
        q = self.contamination
        if isinstance(q, bool) or not isinstance(q, int | float | np.number) or not (
            0.0 <= float(q) < 0.5
        ):
            raise ValueError(
                f"contamination must be a share of the rows in [0, 0.5), got {q!r} "
                "(write 5% as 0.05)"
            )
        if self.scaling not in _SCALINGS:
            raise ValueError(f"scaling must be one of {_SCALINGS}, got {self.scaling!r}")
        cov = self.covariance_type
        if cov == "auto":
            types = list(DEFAULT_COVARIANCE_TYPES)
        elif cov in DEFAULT_COVARIANCE_TYPES:
            types = [cov]
        else:
            raise ValueError(
                f"covariance_type must be 'auto' or one of {DEFAULT_COVARIANCE_TYPES}, "
                f"got {cov!r}"
            )
        k = self.n_components
        if isinstance(k, str):
            if k != "auto":
                raise ValueError(f"n_components must be a positive int or 'auto', got {k!r}")
        elif isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"n_components must be a positive int or 'auto', got {k!r}")
        return types, k

    # ------------------------------------------------------------------ fitting

    def fit(self, X: Any, y: Any = None) -> GaussianMixtureOutlierDetector:
        """Scale ``X``, fit the robust mixture, learn the cut at ``contamination``.

        ``y`` is ignored (unsupervised).
        """
        types, k = self._check_params()
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        n, d = X.shape
        if n < d + 2:
            raise ValueError(
                f"{n} samples are too few for {d} features: a Gaussian needs at least "
                f"n_samples = d + 2 = {d + 2}; add rows or select fewer features"
            )
        scaler = Scaler.fit(X, self.scaling)
        Xs = scaler.transform(X)
        q = float(self.contamination)
        seed = self.random_state
        if isinstance(seed, np.random.RandomState):
            seed = int(seed.randint(np.iinfo(np.int32).max))
        robust = fit_robust(
            Xs, contamination=q, n_components=k, covariance_types=types, trim=self.trim,
            small_component_rule=bool(self.small_component_rule), random_state=seed,
        )
        model = robust.model
        if self.strategy is not None:
            plugin = get_registry().create("refit", str(self.strategy))
            result = run_refit(plugin, model, Xs, ThresholdSpec("contamination", q))
            model = result.refit.model
        scores = score_rows(model, Xs)
        threshold = fit_threshold(ThresholdSpec("contamination", q), model, scores)
        cutoff = threshold.log_density_cutoff
        self.model_ = model
        self.scaler_ = scaler
        self.robust_fit_ = robust
        self.offset_ = float(-math.inf if cutoff is None else cutoff)
        self.decision_scores_ = -scores.log_density
        self.threshold_ = -self.offset_
        self.labels_ = (scores.log_density < self.offset_).astype(int)
        return self

    # ------------------------------------------------------------------ inference

    def _scaled(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.scaler_.transform(X)

    def score_samples(self, X: Any) -> np.ndarray:
        """Log-density of each row under the normal model (lower is more abnormal).

        In scaled units: comparable across rows, not across differently scaled fits.
        """
        Xs = self._scaled(X)
        return self.model_.score_samples(Xs)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) − offset_``: negative for outliers, the cut at 0."""
        scores = self.score_samples(X)
        return scores - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for an inlier, −1 for an outlier."""
        return np.where(self.decision_function(X) < 0.0, -1, 1)
