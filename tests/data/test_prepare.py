"""prepare_features: selection, missing/infinite policy and report, scaling, warnings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gmm_desktop.data import DataError, load_table, prepare_features


@pytest.fixture
def gappy(write):
    return load_table(
        write(
            "gappy.csv",
            "id,a,b,c,label\n"
            "r1,1,10,100,u\n"
            "r2,,20,200,v\n"
            "r3,3,inf,300,u\n"
            "r4,4,40,,v\n"
            "r5,5,50,500,u\n"
            "r6,,60,600,v\n",
        ),
        id_column="id",
    )


def test_default_columns_are_all_numeric(gappy):
    prep = prepare_features(gappy)
    assert prep.columns == ["a", "b", "c"]


def test_drop_policy_reports_rows_and_columns(gappy):
    prep = prepare_features(gappy, missing="drop")
    assert prep.X.dtype == np.float64
    np.testing.assert_array_equal(prep.X, [[1, 10, 100], [5, 50, 500]])
    np.testing.assert_array_equal(prep.row_index, [0, 4])
    assert list(prep.row_ids) == ["r1", "r5"]
    report = prep.report
    assert report.rows_total == 6 and report.rows_kept == 2
    assert report.rows_dropped == 4 and report.rows_imputed == 0
    assert report.columns_affected == {"a": 2, "b": 1, "c": 1}
    assert report.missing_counts == {"a": 2, "c": 1}
    assert report.infinite_counts == {"b": 1}
    assert "Dropped 4 of 6 rows" in report.summary
    assert "'a' (2 missing)" in report.summary and "'b' (1 infinite)" in report.summary
    assert str(report) == report.summary


def test_median_policy_imputes_finite_median(gappy):
    prep = prepare_features(gappy, missing="median")
    np.testing.assert_array_equal(prep.row_index, np.arange(6))
    a_median = np.median([1, 3, 4, 5])
    b_median = np.median([10, 20, 40, 50, 60])
    c_median = np.median([100, 200, 300, 500, 600])
    np.testing.assert_array_equal(prep.X[:, 0], [1, a_median, 3, 4, 5, a_median])
    assert prep.X[2, 1] == b_median
    assert prep.X[3, 2] == c_median
    assert prep.report.rows_imputed == 4 and prep.report.rows_dropped == 0
    assert prep.report.imputed_values == {"a": a_median, "b": b_median, "c": c_median}
    assert "median" in prep.report.summary and "4 of 6 rows" in prep.report.summary


def test_clean_data_report_says_nothing_was_done(write):
    ds = load_table(write("clean.csv", "x,y\n1,2\n3,5\n4,4\n"))
    report = prepare_features(ds).report
    assert report.rows_dropped == 0 and report.columns_affected == {}
    assert "all 3 rows kept" in report.summary


def test_dropping_everything_is_an_error_with_a_remedy(write):
    ds = load_table(write("holes.csv", "x,y\n1,\n,2\n3,\n"))
    with pytest.raises(DataError, match="only 0 row") as info:
        prepare_features(ds)
    assert "missing='median'" in info.value.remedy


def test_column_selection_order_and_errors(gappy):
    prep = prepare_features(gappy, ["c", "a"], missing="median")
    assert prep.columns == ["c", "a"]
    assert prep.X[0].tolist() == [100, 1]
    with pytest.raises(DataError, match=r"no column named 'aa'.*Did you mean 'a'"):
        prepare_features(gappy, ["aa"])
    with pytest.raises(DataError, match="not numeric") as info:
        prepare_features(gappy, ["a", "label"])
    assert info.value.column == "label" and "'u'" in str(info.value)
    with pytest.raises(DataError, match="ID column"):
        prepare_features(gappy, ["id"])
    with pytest.raises(DataError, match="more than once"):
        prepare_features(gappy, ["a", "a"])
    with pytest.raises(DataError, match="no feature column"):
        prepare_features(gappy, [])
    assert prepare_features(gappy, "a", missing="median").columns == ["a"]


@pytest.mark.parametrize(
    ("kw", "message"), [({"missing": "zero"}, "missing"), ({"scaling": "minmax"}, "scaling")]
)
def test_unknown_options(gappy, kw, message):
    with pytest.raises(DataError, match=message):
        prepare_features(gappy, **kw)


def test_standardize_and_robust_match_reference_formulas():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"u": rng.normal(5, 3, 400), "v": rng.exponential(2.0, 400)})
    from gmm_desktop.data import Dataset

    ds = _dataset(frame, Dataset)
    z = prepare_features(ds, scaling="standardize")
    expected = (frame.to_numpy() - frame.to_numpy().mean(0)) / frame.to_numpy().std(0)
    np.testing.assert_allclose(z.X, expected, rtol=1e-12, atol=1e-12)
    r = prepare_features(ds, scaling="robust")
    q25, med, q75 = np.percentile(frame.to_numpy(), [25, 50, 75], axis=0)
    np.testing.assert_allclose(r.X, (frame.to_numpy() - med) / (q75 - q25), rtol=1e-12)
    np.testing.assert_allclose(r.scaler.center_, med, rtol=1e-14)
    n = prepare_features(ds, scaling="none")
    np.testing.assert_array_equal(n.X, frame.to_numpy())
    np.testing.assert_allclose(z.original_values(), frame.to_numpy(), rtol=1e-12)


def _dataset(frame, Dataset):  # a Dataset made in memory, as a loader would
    from pathlib import Path

    return Dataset(
        path=Path("memory.csv"),
        frame=frame,
        row_ids=np.arange(len(frame)),
        id_column=None,
        numeric_columns=list(frame.columns),
        other_columns=[],
        warnings=[],
        format="csv",
    )


def test_warnings_constant_duplicate_few_values_and_wide(write):
    rng = np.random.default_rng(1)
    n = 60
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x": x,
            "const": np.full(n, 7.0),
            "x_copy": x,
            "flag": rng.integers(0, 2, n),
            "y": rng.normal(size=n),
        }
    )
    path = write("warn.csv", frame.to_csv(index=False))
    prep = prepare_features(load_table(path), scaling="standardize")
    codes = {(w.code, w.column) for w in prep.warnings}
    assert ("constant-column", "const") in codes
    assert ("duplicate-columns", "x_copy") in codes
    assert ("few-distinct-values", "flag") in codes
    assert not any(c == "x" or c == "y" for _, c in codes)
    assert all(w.remedy for w in prep.warnings)
    # A constant column standardizes to zeros rather than NaN.
    j = prep.columns.index("const")
    np.testing.assert_array_equal(prep.X[:, j], 0.0)
    assert np.all(np.isfinite(prep.X))


def test_more_features_than_rows_warning(write):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.normal(size=(4, 6)), columns=list("abcdef"))
    prep = prepare_features(load_table(write("wide.csv", frame.to_csv(index=False))))
    assert [w.code for w in prep.warnings] == ["more-features-than-rows"]
    assert "6 features but only 4 rows" in prep.warnings[0].message


def test_prepare_does_not_modify_the_dataset(gappy):
    before = gappy.frame.copy()
    warnings = list(gappy.warnings)
    prepare_features(gappy, missing="median", scaling="robust")
    pd.testing.assert_frame_equal(gappy.frame, before)
    assert gappy.warnings == warnings


def test_synthetic_demo_prepares_with_ground_truth_traceable(tmp_path):
    from gmm_desktop.data import demo_path

    ds = load_table(demo_path("synthetic"), id_column="id")
    prep = prepare_features(ds, ["x", "y"], scaling="standardize")
    assert prep.X.shape == (2640, 2)
    truth = ds.frame["is_injected_outlier"].to_numpy()[prep.row_index]
    assert truth.sum() == 40
    # row_ids trace back to the source ids
    np.testing.assert_array_equal(prep.row_ids, ds.frame["id"].to_numpy()[prep.row_index])
