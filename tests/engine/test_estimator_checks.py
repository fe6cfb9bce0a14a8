"""scikit-learn's own estimator checks, run on our GaussianMixture.

Every check passes; none is listed as an expected failure. (check_array_api_input is
skipped by scikit-learn itself unless SCIPY_ARRAY_API is set.)
"""

from __future__ import annotations

import warnings

from sklearn.utils.estimator_checks import parametrize_with_checks

from gmm_desktop.engine import GaussianMixture

with warnings.catch_warnings():
    # "does not inherit from BaseEstimator": deliberate, the engine is numpy/scipy only.
    warnings.simplefilter("ignore", UserWarning)
    _checks = parametrize_with_checks([GaussianMixture(random_state=0)])


@_checks
def test_scikit_learn_estimator_check(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)
