"""Out of core: Parquet read by pyarrow (feature columns only, whole row groups), blocks
kept in memory when they fit or read every iteration, balanced blocks, float32."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
from gmm_desktop import outofcore  # noqa: E402
from gmm_desktop.engine import GaussianMixture  # noqa: E402
from gmm_desktop.outofcore import fitting, tables  # noqa: E402


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "key": [f"r{seed}-{i}" for i in range(n)],
        "a": rng.normal(size=n) * 3.0 + 1e4,
        "b": rng.integers(-50, 50, size=n).astype(np.int32),
        "c": rng.normal(size=n).astype(np.float32),
        "note": ["x"] * n,
    })
    return frame


def _dataset(folder) -> pd.DataFrame:
    """Two files: one of three row groups (with a null, an inf and a NaN), one of one."""
    folder.mkdir()
    f1, f2 = _frame(2500, 1), _frame(700, 2)
    t1 = pa.Table.from_pandas(f1, preserve_index=False)
    a = t1.column("a").to_pylist()
    a[10] = None  # a null: dropped
    a[1200] = float("inf")  # dropped
    t1 = t1.set_column(t1.schema.get_field_index("a"), "a", pa.array(a, pa.float64()))
    pq.write_table(t1, folder / "p1.parquet", row_group_size=1000)
    pq.write_table(pa.Table.from_pandas(f2, preserve_index=False), folder / "p2.parquet")
    f1.loc[10, "a"] = np.nan
    f1.loc[1200, "a"] = np.inf
    return pd.concat([f1, f2], ignore_index=True)


def test_parquet_pieces_join_whole_row_groups(tmp_path):
    _dataset(tmp_path / "d")
    files = sorted(str(p) for p in (tmp_path / "d").glob("*.parquet"))
    pieces = tables._parquet_pieces(files, target_rows=1500)
    assert [(p.path[-10:], p.row_groups, p.n_rows) for p in pieces] == [
        ("p1.parquet", (0, 1), 2000), ("p1.parquet", (2,), 500), ("p2.parquet", (0,), 700)
    ]
    one_each = tables._parquet_pieces(files, target_rows=1)
    assert [p.n_rows for p in one_each] == [1000, 1000, 500, 700]
    table = outofcore.open_table(tmp_path / "d", id_column="key")
    assert sum(p.n_rows for p in table.pieces) == 3200


@pytest.mark.parametrize("id_column", ["key", None])
def test_prepared_parquet_features_and_ids_match_pandas(tmp_path, monkeypatch, id_column):
    frame = _dataset(tmp_path / "d")
    monkeypatch.setattr(tables, "PIECE_ROWS", 1500)  # three pieces over two files
    table = outofcore.open_table(tmp_path / "d", id_column=id_column)
    assert len(table.pieces) == 3
    with dask.config.set(scheduler="threads"):
        feats = outofcore.prepare(table, ["a", "b", "c"], scaling="standardize")
        X = feats.X.compute()
        ids = feats.row_ids.compute()
    raw = frame[["a", "b", "c"]].to_numpy(dtype=np.float64)
    keep = np.isfinite(raw).all(axis=1)
    assert feats.n_rows == 3200 and feats.n_used == 3198 == keep.sum()
    expected = (raw[keep] - raw[keep].mean(axis=0)) / raw[keep].std(axis=0)
    # the column about 1e4 is known to its ulp (2e-12) before scaling
    np.testing.assert_allclose(X, expected, rtol=1e-10, atol=1e-11)
    assert X.dtype == np.float64
    want_ids = frame["key"].to_numpy()[keep] if id_column else np.flatnonzero(keep)
    np.testing.assert_array_equal(ids, want_ids)
    # a task gets its block F-ordered (rows × features, column by column), as read
    with dask.config.set(scheduler="sync"):
        block = fitting.row_blocks(feats.X).x[0].compute()
    assert block.flags.f_contiguous and block.shape == (1998, 3)


def test_balanced_cuts_split_big_blocks_evenly():
    cuts = fitting._balanced_cuts(np.array([1_000_000, 1_000_000, 1_000_000]), 2)
    sizes = [b - a for c in cuts for a, b in itertools.pairwise(c)]
    assert sum(sizes) == 3_000_000 and len(sizes) == 9  # ≥ 4 blocks per thread
    assert max(sizes) - min(sizes) <= 1
    small = fitting._balanced_cuts(np.array([5000, 7000]), 2)  # below MIN_BLOCK_ROWS
    assert small == [[0, 5000], [0, 7000]]


def _data(n: int = 9000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, -2.0, 1.0], [-3.0, 3.0, 4.0]])
    return centres[rng.integers(0, 3, n)] + rng.normal(size=(n, 3))


def _fit(X, start, progress=None, **options):
    init = GaussianMixture(3, random_state=1, max_iter=2).fit(start[:600])
    params = dict(max_iter=6, tol=0.0, weights_init=init.weights_, means_init=init.means_,
                  precisions_init=init.precisions_)
    with warnings.catch_warnings(), outofcore.options(progress=progress, **options):
        warnings.simplefilter("ignore")
        return GaussianMixture(3, **params).fit(X)


@pytest.mark.parametrize("share", [0.5, 0.0])
def test_blocks_kept_in_memory_only_when_they_fit(monkeypatch, share):
    """With the budget at zero every pass reads the data; both give the in-memory fit."""
    monkeypatch.setattr(fitting, "MEMORY_SHARE", share)
    monkeypatch.setattr(fitting, "MIN_BLOCK_ROWS", 1000)  # so the blocks are cut
    X = _data()
    reads = []

    def count_reads(block):
        reads.append(block.shape[0])
        return block

    Xd = da.from_array(X, chunks=(3000, 3)).map_blocks(count_reads, dtype=float)
    stages = []
    with dask.config.set(scheduler="threads"):
        assert (fitting.memory_budget() > 0) == (share > 0)
        ooc = _fit(Xd, X, progress=lambda stage, f: stages.append(stage))
    mem = _fit(X, X)
    kept = "reading the data into memory" in stages
    assert kept == (share > 0)
    # kept: every block read once (no sample: every initial parameter is given);
    # streamed: every block read again by each of the six passes (0: dask's dtype probe)
    assert sum(reads) == (1 if kept else 6) * 9000
    np.testing.assert_allclose(ooc.means_, mem.means_, rtol=1e-10)
    np.testing.assert_allclose(ooc.covariances_, mem.covariances_, rtol=1e-10)
    assert ooc.lower_bound_ == pytest.approx(mem.lower_bound_, rel=1e-12)


def test_persist_option_is_checked():
    with pytest.raises(ValueError, match="persist must be"):
        with outofcore.options(persist="sometimes"):
            pass


def test_float32_dask_array_gives_float32_attributes_like_in_memory():
    X = _data(seed=3).astype(np.float32)
    with dask.config.set(scheduler="threads"):
        ooc = _fit(da.from_array(X, chunks=(2000, 3)), X)
    mem = _fit(X, X)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(ooc, name).dtype == getattr(mem, name).dtype == np.float32, name
        np.testing.assert_allclose(getattr(ooc, name), getattr(mem, name), rtol=1e-6)
