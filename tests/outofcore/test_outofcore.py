"""Out-of-core EM on Dask: parity with the in-memory engine, scheduler faults, sampling,
thresholds and the Parquet export, the command line on a Parquet dataset."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
from gmm_desktop import outofcore  # noqa: E402
from gmm_desktop.engine import GaussianMixture  # noqa: E402
from gmm_desktop.engine.anomaly import ThresholdSpec, detect  # noqa: E402
from gmm_desktop.errors import FitCancelled  # noqa: E402

TYPES = ("full", "tied", "diag", "spherical")


def _data(seed: int = 0, n: int = 6000, offset: float = 1e5) -> np.ndarray:
    rng = np.random.RandomState(seed)
    a = rng.randn(n // 2, 3) @ np.array([[1.0, 0.3, 0.0], [0.0, 1.0, 0.5], [0.0, 0.0, 0.7]])
    b = rng.randn(n // 3, 3) * 0.5 + [4.0, -2.0, 1.0]
    c = rng.randn(n - n // 2 - n // 3, 3) * [2.0, 0.3, 1.0] + [-3.0, 3.0, 0.0]
    return np.vstack([a, b, c])[rng.permutation(n)] + offset


def _start(X: np.ndarray, cov: str, k: int = 3) -> dict:
    """Initial parameters away from the optimum (so every run makes real iterations)."""
    ref = GaussianMixture(k, covariance_type=cov, random_state=1, max_iter=3).fit(X[:500])
    return {
        "weights_init": ref.weights_,
        "means_init": ref.means_,
        "precisions_init": ref.precisions_,
    }


def _pair(X, Xd, cov, **kw):
    init = _start(X, cov)
    params = {"covariance_type": cov, "max_iter": 12, "tol": 0.0, **init, **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mem = GaussianMixture(3, **params).fit(X)
        ooc = GaussianMixture(3, **params).fit(Xd)
    return mem, ooc


def _assert_same(a, b, rtol=1e-8):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=rtol, atol=0,
                                   err_msg=name)
    np.testing.assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=rtol, atol=0)
    assert b.n_iter_ == a.n_iter_


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        env={"GMM_DESKTOP_NUM_THREADS": "1"},
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


# --------------------------------------------------------------------------- parity


@pytest.mark.parametrize("cov", TYPES)
def test_cluster_matches_in_memory(client, cov):
    X = _data()
    Xd = da.from_array(X, chunks=(1100, 3))  # 6 uneven partitions
    assert outofcore.active_client() is client
    mem, ooc = _pair(X, Xd, cov)
    _assert_same(mem, ooc)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_threads_scheduler_matches_in_memory_weighted(cov):
    X = _data(seed=3)
    w = np.random.RandomState(4).gamma(2.0, size=X.shape[0])
    Xd = da.from_array(X, chunks=(1500, 3))
    with dask.config.set(scheduler="threads"):
        assert outofcore.active_client() is None
        init = _start(X, cov)
        params = {"covariance_type": cov, "max_iter": 8, "tol": 0.0, **init}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mem = GaussianMixture(3, **params).fit(X, sample_weight=w)
            ooc = GaussianMixture(3, **params).fit(Xd, sample_weight=da.from_array(w, 700))
    _assert_same(mem, ooc)


def test_dask_dataframe_input_keeps_feature_names():
    X = _data(seed=5, n=3000)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    ddf = dd.from_pandas(frame, npartitions=4)
    with dask.config.set(scheduler="threads"):
        mem, ooc = _pair(frame, ddf, "full")
        _assert_same(mem, ooc)
        assert list(ooc.feature_names_in_) == ["a", "b", "c"]
        labels = ooc.predict(frame)
        lazy = outofcore.predict(ooc, ddf).compute()
        np.testing.assert_array_equal(lazy, labels)
        bad = ddf.assign(s=ddf.a.astype(str))
        with pytest.raises(ValueError, match="non-numeric columns"):
            GaussianMixture(2).fit(bad)


def test_nan_in_a_partition_is_a_clear_error():
    X = _data(n=2000)
    X[1500, 1] = np.nan
    with dask.config.set(scheduler="threads"), pytest.raises(ValueError, match="NaN"):
        GaussianMixture(2, max_iter=3, **_start(np.nan_to_num(X), "full", 2)).fit(
            da.from_array(X, chunks=500)
        )


# --------------------------------------------------------------------------- faults


def _die_once_factory():
    # A closure: distributed then ships it by value (this module is not importable on the
    # workers under pytest's importlib mode).
    import os as _os

    def die_once(block, trigger, done):
        """Kill this worker process the first time a block is read after ``trigger``."""
        if _os.path.exists(trigger) and not _os.path.exists(done):
            with open(done, "w") as fh:
                fh.write(str(_os.getpid()))
            _os._exit(1)
        return block

    return die_once


def test_a_worker_killed_mid_fit_changes_nothing(client, tmp_path):
    """Blocks read again every pass (persist off): the dead worker's blocks are re-read."""
    X = _data(seed=7, n=8000)
    trigger, done = str(tmp_path / "trigger"), str(tmp_path / "done")
    Xd = da.from_array(X, chunks=(1000, 3)).map_blocks(
        _die_once_factory(), trigger, done, dtype=float
    )
    init = _start(X, "full")
    params = {"covariance_type": "full", "max_iter": 8, "tol": 0.0, **init}
    pids_before = set(client.run(os.getpid).values())

    def callback(info):
        if info.iteration == 2:  # the worker dies while iteration 3 runs
            open(trigger, "w").close()

    with warnings.catch_warnings(), outofcore.options(persist=False):
        warnings.simplefilter("ignore")
        mem = GaussianMixture(3, **params).fit(X)
        ooc = GaussianMixture(3, **params).fit(Xd, callback=callback)
    assert os.path.exists(done), "no worker was killed"
    killed = int(open(done).read())
    assert killed in pids_before
    client.wait_for_workers(2, timeout=60)
    assert killed not in set(client.run(os.getpid).values())
    _assert_same(mem, ooc)


def test_a_worker_killed_with_blocks_in_memory_changes_nothing(client):
    """Blocks kept in the workers' memory: a worker killed (SIGKILL) during iteration 3
    takes its blocks with it; they are recomputed from the graph and the fit is exact."""
    import signal

    X = _data(seed=8, n=8000)
    Xd = da.from_array(X, chunks=(1000, 3))
    init = _start(X, "full")
    params = {"covariance_type": "full", "max_iter": 8, "tol": 0.0, **init}
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    state = {"killed": False, "stages": []}

    def progress(stage, fraction):
        state["stages"].append(stage)
        if stage == "EM pass 3" and not state["killed"]:
            os.kill(victim, signal.SIGKILL)
            state["killed"] = True
        return False

    with warnings.catch_warnings(), outofcore.options(persist=True, progress=progress):
        warnings.simplefilter("ignore")
        mem = GaussianMixture(3, **params).fit(X)
        ooc = GaussianMixture(3, **params).fit(Xd)
    assert state["killed"]
    assert "reading the data into memory" in state["stages"]
    client.wait_for_workers(2, timeout=60)
    assert victim not in set(client.run(os.getpid).values())
    _assert_same(mem, ooc)


# --------------------------------------------------------------------------- init, cancel


def test_uniform_sample_is_exact_bounded_and_reproducible():
    X = np.arange(20_000, dtype=float).reshape(-1, 1) * np.ones((1, 2))
    blocks = outofcore.row_blocks(da.from_array(X, chunks=(3000, 2)))
    with dask.config.set(scheduler="threads"):
        rows, w, pos = outofcore.uniform_sample(blocks, 2000, seed=11)
        again = outofcore.uniform_sample(blocks, 2000, seed=11)[2]
        other = outofcore.uniform_sample(blocks, 2000, seed=12)[2]
        everything = outofcore.uniform_sample(blocks, 10**6, seed=1)[2]
    assert w is None and rows.shape == (2000, 2)
    assert np.unique(pos).size == 2000 and np.all(np.diff(pos) > 0)
    np.testing.assert_array_equal(rows[:, 0], pos)  # each sampled row is the row at pos
    np.testing.assert_array_equal(pos, again)
    assert not np.array_equal(pos, other)
    np.testing.assert_array_equal(everything, np.arange(20_000))
    # uniform: the mean position of 2000 uniform draws is n/2 within 4 standard errors
    assert abs(pos.mean() - 9999.5) < 4 * 5773.5 / np.sqrt(2000)


def test_initializer_runs_on_the_bounded_sample():
    from gmm_desktop.registry import get_registry

    seen = []
    cls = get_registry().get_class("initializer", "kmeans")
    original = cls.initialize

    def spy(self, X, *args, **kwargs):
        seen.append(X.shape[0])
        return original(self, X, *args, **kwargs)

    X = _data(n=5000)
    with dask.config.set(scheduler="threads"), outofcore.options(init_sample_size=700):
        cls.initialize = spy
        try:
            a = GaussianMixture(3, random_state=3, max_iter=5).fit(da.from_array(X, 1200))
            b = GaussianMixture(3, random_state=3, max_iter=5).fit(da.from_array(X, 1200))
        finally:
            cls.initialize = original
    assert seen == [700, 700]
    np.testing.assert_array_equal(a.means_, b.means_)


def test_cancel_from_partition_progress_leaves_the_model_unchanged():
    X = _data(n=3000)
    Xd = da.from_array(X, chunks=500)
    gm = GaussianMixture(2, max_iter=50, random_state=0)
    calls = []

    def progress(stage, fraction):
        calls.append((stage, fraction))
        return len(calls) > 8

    with dask.config.set(scheduler="threads"), pytest.raises(FitCancelled):
        outofcore.fit(gm, Xd, progress=progress)
    assert not hasattr(gm, "means_")
    assert all(0.0 <= f <= 1.0 for _, f in calls)


# --------------------------------------------------------------------------- scoring


def test_threshold_histogram_and_export_match_in_memory(client, tmp_path):
    X = _data(seed=9, n=7000)
    Xd = da.from_array(X, chunks=(900, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(3, random_state=0).fit(X)
    for spec in (ThresholdSpec("contamination", 0.03), ThresholdSpec("chi2", 0.99, 0.2),
                 ThresholdSpec("contamination", 0.0)):
        ref = detect(gm, X, spec)
        thr = outofcore.fit_threshold(spec, gm, Xd)
        if ref.threshold.log_density_cutoff is not None:
            assert thr.log_density_cutoff == pytest.approx(
                ref.threshold.log_density_cutoff, rel=1e-12)
        assert thr.radius == ref.threshold.radius
        out, n, flagged = outofcore.write_scores(gm, Xd, thr, tmp_path / "scores.parquet")
        back = pd.read_parquet(out).sort_values("row_id")
        assert n == 7000 and flagged == ref.n_flagged == int(back.flag.sum())
        np.testing.assert_array_equal(back.row_id, np.arange(7000))
        np.testing.assert_allclose(back.log_density, ref.scores.log_density, rtol=1e-12)
        np.testing.assert_array_equal(back.component, ref.scores.component)
        np.testing.assert_array_equal(back.flag, ref.flags)
    counts, edges = outofcore.log_density_histogram(gm, Xd, bins=40)
    ld = gm.score_samples(X)
    expected, _ = np.histogram(ld, bins=edges)
    assert counts.sum() == 7000
    assert np.abs(counts - expected).sum() <= 2  # only rows on a bin edge may move
    sample = outofcore.plot_sample(Xd, 500, seed=1, model=gm)
    assert sample.size == 500 and sample.n_total == 7000
    np.testing.assert_allclose(sample.log_density, ld[sample.positions], rtol=1e-12)


# --------------------------------------------------------------------------- command line


def _parquet_dataset(folder, seed=0):
    X = _data(seed=seed, n=6000, offset=0.0)
    X[[10, 20], :] = [[40.0, -40.0, 40.0], [-50.0, 50.0, 30.0]]
    frame = pd.DataFrame(X, columns=["u", "v", "w"])
    frame["label"] = "x"
    frame.loc[5, "v"] = np.nan  # dropped: row ids keep counting source rows
    folder.mkdir()
    for i in range(3):
        frame.iloc[i * 2000:(i + 1) * 2000].to_parquet(folder / f"part{i}.parquet")
    return frame


def test_cli_detect_on_a_parquet_dataset_through_the_cluster(client, tmp_path, capsys):
    from gmm_desktop.cli import main

    frame = _parquet_dataset(tmp_path / "data")
    out, model = tmp_path / "flagged.parquet", tmp_path / "model.json"
    status = main([
        "detect", str(tmp_path / "data"), "--scheduler", client.scheduler.address,
        "--components", "3", "--contamination", "0.01", "--output", str(out),
        "--model-out", str(model), "--all-rows",
    ])
    text = capsys.readouterr()
    assert status == 0, text.err
    back = pd.read_parquet(out)
    assert len(back) == 5999 and 5 not in set(back.row_id)
    assert int(back.flag.sum()) == 60
    flagged = set(back.row_id[back.flag])
    assert {10, 20} <= flagged
    assert "flagged: 60 of 5999 rows" in text.out
    assert (tmp_path / "flagged.parquet.json").exists()
    # the saved model scores the same rows in memory (novelty detection)
    from gmm_desktop.core import Detector

    det = Detector.from_model_file(model)
    kept = frame.drop(index=5).reset_index(drop=True)
    X = det.bundle.scaler.transform(kept[["u", "v", "w"]].to_numpy())
    np.testing.assert_allclose(det.model.score_samples(X), back.sort_values("row_id")
                               .log_density, rtol=1e-9)


def test_cli_detect_on_csv_glob_with_threads_and_bad_options(tmp_path, capsys):
    from gmm_desktop.cli import main

    frame = _parquet_dataset(tmp_path / "pq")
    (tmp_path / "csv").mkdir()
    for i in range(2):
        frame.iloc[i * 3000:(i + 1) * 3000].to_csv(tmp_path / "csv" / f"p{i}.csv", index=False)
    out = tmp_path / "flags.parquet"
    status = main(["detect", str(tmp_path / "csv" / "*.csv"), "--components", "2",
                   "--contamination", "0.02", "--output", str(out)])
    text = capsys.readouterr()
    assert status == 0, text.err
    assert len(pd.read_parquet(out)) == 120  # only the flagged rows
    status = main(["detect", str(tmp_path / "pq"), "--components", "1-3", "--method", "plain"])
    assert status == 2
    assert "out of core" in capsys.readouterr().err
