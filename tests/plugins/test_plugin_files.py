"""Drop-in plugin files: explicit opt-in, manifests read without importing, failures listed."""

from __future__ import annotations

import os
import textwrap

import numpy as np
import pytest

from gmm_desktop.registry import Registry, use_registry, user_plugin_dir

EEI_FILE = '''
from pathlib import Path

import numpy as np

from gmm_desktop.plugin_api import CovarianceType

Path(__file__).with_suffix(".imported").write_text("yes")

GMM_DESKTOP_PLUGINS = {"covariance": {"file-eei": "FileEEI"}}


class FileEEI(CovarianceType):
    name = "file-eei"
    description = "EEI from a file"
    structure = "diag"

    def n_parameters(self, n_components, n_features):
        return n_features

    def covariance_shape(self, n_components, n_features):
        return (n_components, n_features)

    def m_step(self, stats, reg_covar):
        shared = stats.scatter.sum(axis=0) / stats.nk.sum() + reg_covar
        return np.repeat(shared[None], stats.n_components, axis=0)
'''


def write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_files_named_in_the_environment_are_read_without_importing(tmp_path, monkeypatch,
                                                                    settings):
    from gmm_desktop.engine import GaussianMixture

    folder = tmp_path / "drop-in"
    path = write(folder, "eei_plugin.py", EEI_FILE)
    monkeypatch.setenv("GMM_DESKTOP_PLUGIN_PATH", str(folder))
    reg = Registry(settings=settings)
    rec = reg.record("covariance", "file-eei")
    assert rec.origin == f"file {path.resolve()}"
    assert rec.status == "not loaded"
    assert "file-eei" in reg.names("covariance")
    assert not path.with_suffix(".imported").exists()  # the manifest was read, not run

    rng = np.random.RandomState(1)
    X = np.vstack([rng.normal(0, [1, 2], (150, 2)), rng.normal(8, [1, 2], (150, 2))])
    with use_registry(reg):
        gm = GaussianMixture(2, covariance_type="file-eei", random_state=0, tol=1e-10).fit(X)
    assert path.with_suffix(".imported").exists()
    assert rec.status == "loaded"
    # both components share one diagonal: the pooled within-component variance
    np.testing.assert_allclose(gm.covariances_[0], gm.covariances_[1])
    resp = gm.predict_proba(X)
    nk = resp.sum(0)
    means = resp.T @ X / nk[:, None]
    pooled = sum((resp[:, [k]] * (X - means[k]) ** 2).sum(0) for k in range(2)) / len(X)
    np.testing.assert_allclose(gm.covariances_[0], pooled + gm.reg_covar, rtol=1e-6)


def test_the_user_folder_is_read_only_when_opted_in(config_dir, settings):
    path = write(user_plugin_dir(), "eei_plugin.py", EEI_FILE)
    assert user_plugin_dir() == config_dir / "plugins"
    reg = Registry(settings=settings)
    assert "file-eei" not in reg.names("covariance")
    assert [(f.reason, f.active) for f in reg.plugin_folders()] == [("user plugin folder", False)]
    reg.set_load_files(True)
    assert settings.get("plugins.load_files") is True
    assert "file-eei" in reg.names("covariance")
    assert not path.with_suffix(".imported").exists()
    reg.set_load_files(False)
    assert "file-eei" not in reg.names("covariance")


BAD_FILES = {
    "syntax.py": ("def broken(:\n", "syntax error on line 1"),
    "no_manifest.py": ("X = 1\n", "declares no GMM_DESKTOP_PLUGINS dictionary"),
    "computed.py": ("GMM_DESKTOP_PLUGINS = dict(covariance={'a': 'A'})\n",
                    "must be a literal dictionary"),
    "bad_kind.py": ("GMM_DESKTOP_PLUGINS = {'colour': {'a': 'A'}}\n", "unknown kind 'colour'"),
    "bad_target.py": ("GMM_DESKTOP_PLUGINS = {'covariance': {'a': 'not a name'}}\n",
                      "must be the name of a class"),
}


def test_unreadable_manifests_and_broken_files_are_listed_as_failed(tmp_path, monkeypatch,
                                                                     settings):
    folder = tmp_path / "drop-in"
    for name, (text, _) in BAD_FILES.items():
        write(folder, name, text)
    write(folder, "raises.py", "GMM_DESKTOP_PLUGINS = {'initializer': {'boom': 'Boom'}}\n"
                               "raise ImportError('needs a package that is not installed')\n")
    write(folder, "missing.py", "GMM_DESKTOP_PLUGINS = {'initializer': {'ghost': 'Ghost'}}\n")
    write(folder, "_helper.py", "raise SystemExit('helpers are never read')\n")
    good = write(folder, "eei_plugin.py", EEI_FILE)
    monkeypatch.setenv("GMM_DESKTOP_PLUGIN_PATH", str(folder))
    reg = Registry(settings=settings)
    records = reg.load_all()
    unknown = {r.name: r for r in records if r.kind == "unknown"}
    assert set(unknown) == set(BAD_FILES)
    for name, (_, message) in BAD_FILES.items():
        assert unknown[name].status == "failed"
        assert message in unknown[name].error, (name, unknown[name].error)
        assert unknown[name].origin == f"file {(folder / name).resolve()}"
    boom = reg.record("initializer", "boom")
    assert boom.status == "failed"
    assert "ImportError: needs a package that is not installed" in boom.error
    assert "missing.py defines no 'Ghost'" in reg.record("initializer", "ghost").error
    assert reg.record("covariance", "file-eei").status == "loaded"
    assert good.with_suffix(".imported").exists()
    assert "boom" not in reg.names("initializer") and "kmeans" in reg.names("initializer")


def test_files_lose_name_clashes_to_packages_and_builtins(tmp_path, monkeypatch, settings):
    a = tmp_path / "a"
    b = tmp_path / "b"
    write(a, "p.py", EEI_FILE.replace('"file-eei": "FileEEI"', '"full": "FileEEI", '
                                      '"twice": "FileEEI"'))
    write(b, "q.py", EEI_FILE.replace('"file-eei": "FileEEI"', '"twice": "FileEEI"'))
    monkeypatch.setenv("GMM_DESKTOP_PLUGIN_PATH", os.pathsep.join([str(b), str(a)]))
    reg = Registry(settings=settings)
    assert reg.record("covariance", "full").origin == "built-in"
    twice = reg.record("covariance", "twice")
    assert twice.origin == f"file {(a / 'p.py').resolve()}"  # sorted by path, not by order
    shadowed = [r for r in reg.records("covariance") if r.status == "shadowed"]
    assert sorted(r.name for r in shadowed) == ["full", "twice"]


def test_reload_picks_up_an_edited_file(tmp_path, monkeypatch, settings):
    folder = tmp_path / "drop-in"
    path = write(folder, "p.py", EEI_FILE)
    monkeypatch.setenv("GMM_DESKTOP_PLUGIN_PATH", str(folder))
    reg = Registry(settings=settings)
    first = reg.get_class("covariance", "file-eei")
    path.write_text(EEI_FILE.replace('"EEI from a file"', '"edited"'), encoding="utf-8")
    reg.reload()
    second = reg.get_class("covariance", "file-eei")
    assert first.description == "EEI from a file" and second.description == "edited"


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_plugin_path_reads_nothing(monkeypatch, settings, value):
    monkeypatch.setenv("GMM_DESKTOP_PLUGIN_PATH", value)
    reg = Registry(settings=settings)
    assert [f.reason for f in reg.plugin_folders()] == ["user plugin folder"]
