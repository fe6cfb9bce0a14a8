"""A 0/1 label or flag column is named by the loader and left out of the default features
(every face and big-data mode read the one rule in ``core.config.default_columns``)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from gmm_desktop.core.run import Detector
from gmm_desktop.core.steps import default_columns
from gmm_desktop.data import demo_path, load_table


def test_the_synthetic_label_column_is_named_and_not_a_default_feature():
    ds = load_table(demo_path("synthetic"))
    notes = {w.column: w for w in ds.warnings if w.code == "two-valued-column"}
    assert set(notes) == {"is_injected_outlier"}
    assert "0 and 1" in notes["is_injected_outlier"].message
    assert default_columns(ds) == ["x", "y"]  # id counts the rows, the label is a flag
    det = Detector()
    det.load(demo_path("synthetic"))
    assert det.prepare().columns == ("x", "y")


def test_only_columns_with_exactly_two_values_in_enough_rows(tmp_path):
    rng = np.random.default_rng(1)
    n = 200
    frame = pd.DataFrame({
        "measure": rng.normal(size=n),
        "flag": rng.integers(0, 2, n),
        "levels": rng.integers(0, 3, n),  # three values: a count, kept
        "halves": rng.choice([0.5, 2.5], n),
        "flag_with_gaps": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 2, n)),
    })
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    ds = load_table(path)
    named = sorted(w.column for w in ds.warnings if w.code == "two-valued-column")
    assert named == ["flag", "flag_with_gaps", "halves"]
    assert default_columns(ds) == ["measure", "levels"]
    # a short table is not judged (19 rows of 0/1 can be a measurement by chance)
    frame.head(19).to_csv(path, index=False)
    assert not [w for w in load_table(path).warnings if w.code == "two-valued-column"]


def test_the_command_line_says_so_and_uses_the_same_features(tmp_path):
    out = tmp_path / "flagged.csv"
    done = subprocess.run(
        [sys.executable, "-m", "gmm_desktop", "detect", str(demo_path("synthetic")),
         "--id-column", "id", "--method", "plain", "--components", "2",
         "--covariance-type", "full", "--output", str(out), "--model-out",
         str(tmp_path / "m.json")],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "is_injected_outlier" in done.stderr and "two values" in done.stderr
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["extra"]["gmm_desktop"]["features"]["columns"] == ["x", "y"]


def test_the_preview_names_the_two_valued_column():
    from gmm_desktop.data import preview_table

    preview = preview_table(demo_path("synthetic"), n_rows=50)
    assert preview.ok
    assert preview.kinds["is_injected_outlier"] == "flag"
    assert preview.kinds["x"] == preview.kinds["y"] == "numeric"
    assert preview.kinds["id"] == "id"


def test_big_data_mode_takes_the_same_default_features(tmp_path):
    """Out of core the rule is judged on the first rows (the rest is never in memory)."""
    pytest.importorskip("dask")
    path = tmp_path / "synthetic.parquet"
    pd.read_csv(demo_path("synthetic")).to_parquet(path)
    big = Detector()
    big.load(str(path), big=True)
    try:
        assert big.prepared.big and big.prepared.columns == ("x", "y")
    finally:
        big.close()
    small = Detector()
    small.load(str(path))
    assert small.prepared.columns == ("x", "y")
