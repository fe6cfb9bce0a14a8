"""Defects found by benchmarks/bad_inputs.py (571 bad inputs to the command line and the
Python API), each fixed and kept fixed here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from gmm_desktop.core.config import MAX_CANDIDATES, ConfigError, RunConfig
from gmm_desktop.engine import GaussianMixture
from gmm_desktop.engine.anomaly import detect
from gmm_desktop.engine.robust import fit_robust


def cli(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "gmm_desktop", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def error_lines(done) -> list[str]:
    return [ln for ln in done.stderr.splitlines() if ln.startswith("gmm-desktop: error")]


@pytest.fixture
def small_csv(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "small.csv"
    pd.DataFrame(rng.normal(size=(120, 2)), columns=["a", "b"]).to_csv(path, index=False)
    return path


def test_a_loop_of_symbolic_links_is_a_clear_error(tmp_path):
    (tmp_path / "a.csv").symlink_to(tmp_path / "b.csv")
    (tmp_path / "b.csv").symlink_to(tmp_path / "a.csv")
    done = cli("detect", tmp_path / "a.csv", "--output", tmp_path / "out.csv")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(error_lines(done)) == 1 and "loop of symbolic links" in done.stderr


def test_a_huge_range_of_components_is_refused_before_any_work(small_csv):
    done = cli("detect", small_csv, "--components", "1-100000000", timeout=60)
    assert done.returncode == 2
    assert f"at most {MAX_CANDIDATES} counts" in done.stderr
    with pytest.raises(ConfigError, match="at most"):
        RunConfig(n_components=range(1, 100_000_000))
    with pytest.raises(ConfigError, match="between 1 and"):
        RunConfig(n_components=10**9)
    assert RunConfig(n_components=range(1, 11)).component_candidates == tuple(range(1, 11))


def test_an_unknown_covariance_type_is_not_echoed_in_full(small_csv):
    done = cli("detect", small_csv, "--covariance-type", "x" * 20_000)
    assert done.returncode == 2
    assert max(len(ln) for ln in done.stderr.splitlines()) < 400


def test_an_unknown_demo_or_file_is_said_before_any_window(tmp_path):
    env = {**os.environ}
    env.pop("QT_QPA_PLATFORM", None)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    for args, words in ((["--demo", "nope"], "no bundled dataset called 'nope'"),
                        ([tmp_path / "missing.csv"], None),
                        ([], "no display")):
        done = cli(*args, env=env, timeout=60)
        assert done.returncode == 2, (args, done.stderr)
        assert len(error_lines(done)) == 1 and "Traceback" not in done.stderr
        if words:
            assert words in done.stderr


def test_detect_with_no_threshold_is_a_type_error():
    X = np.random.default_rng(0).normal(size=(50, 2))
    model = GaussianMixture(n_components=1, random_state=0).fit(X)
    with pytest.raises(TypeError, match="ThresholdSpec"):
        detect(model, X, None)


def test_the_robust_route_on_wide_data_names_the_plain_diag_route(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 300))
    with pytest.raises(ValueError, match="plain method with the 'diag'"):
        fit_robust(X, n_components=1)
    path = tmp_path / "wide.csv"
    pd.DataFrame(X, columns=[f"f{j}" for j in range(300)]).to_csv(path, index=False)
    out = tmp_path / "flagged.csv"
    done = cli("detect", path, "--method", "plain", "--covariance-type", "diag",
               "--components", "1", "--output", out)
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(out)) == round(0.05 * 60)


def test_refit_parameters_without_a_strategy_are_refused(small_csv):
    done = cli("detect", small_csv, "--refit-param", "a=1")
    assert done.returncode == 2 and "--refit NAME" in done.stderr


def test_a_model_with_a_column_named_twice_is_refused(small_csv, tmp_path):
    model = tmp_path / "m.json"
    assert cli("detect", small_csv, "--method", "plain", "--components", "1",
               "--model-out", model).returncode == 0
    doc = json.loads(model.read_text())
    doc["extra"]["gmm_desktop"]["features"]["columns"] = ["a", "a"]
    model.write_text(json.dumps(doc))
    done = cli("sample", "--model", model, "-n", "5", "--output", tmp_path / "s.csv")
    assert done.returncode == 2 and "named twice" in done.stderr
    assert not (tmp_path / "s.csv").exists()


def test_medians_must_map_columns_to_numbers(small_csv):
    from gmm_desktop.data import DataError, load_table, prepare_features

    ds = load_table(small_csv)
    for bad in ("abc", {"a": "x"}, {"a": float("nan")}, {"a": True}):
        with pytest.raises(DataError, match="median"):
            prepare_features(ds, missing="median", medians=bad)
    prepared = prepare_features(ds, missing="median", medians={"a": 1.5})
    assert prepared.X.shape == (120, 2)
