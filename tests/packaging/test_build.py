"""``python -m build`` of the three packages: no warning, the licence inside, the metadata.

Each project is copied to a temporary folder (so the build leaves nothing in the source
tree) and built without isolation, with the test environment's setuptools (>= 77, from
the dev dependency group) - the same backend an isolated build would download.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = {
    "gmm-desktop": ROOT,
    "gmm-desktop-mclust": ROOT / "plugins" / "gmm-desktop-mclust",
    "gmm-desktop-eei": ROOT / "plugins" / "examples" / "gmm-desktop-eei",
}
IGNORE = shutil.ignore_patterns(
    ".venv", ".git", ".hypothesis", ".pytest_cache", ".ruff_cache", ".mypy_cache",
    "build", "dist", "*.egg-info", "__pycache__", "out",
)


def _build(name: str, tmp_path: Path) -> tuple[str, Path, Path]:
    source = tmp_path / "src"
    shutil.copytree(PROJECTS[name], source, ignore=IGNORE)
    env = dict(os.environ)
    # With PYTHONDONTWRITEBYTECODE set (as on the project's machines) setuptools says
    # "warning: build_py: byte-compiling is disabled"; that is the environment, not the
    # package, and a user's build does not see it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel",
         "--outdir", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=600, env=env,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    (sdist,) = (tmp_path / "dist").glob("*.tar.gz")
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    return output, sdist, wheel


class _Builds(dict):
    """Each project built once, on first use: name -> (build output, sdist, wheel)."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        super().__init__()
        self.tmp_path_factory = tmp_path_factory

    def __missing__(self, name: str) -> tuple[str, Path, Path]:
        self[name] = _build(name, self.tmp_path_factory.mktemp(name))
        return self[name]


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> _Builds:
    return _Builds(tmp_path_factory)


@pytest.fixture(params=list(PROJECTS))
def built(request, builds):
    return (request.param, *builds[request.param])


def _metadata(wheel: Path) -> tuple[object, list[str]]:
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(z.read(meta).decode()), names


def test_the_build_prints_no_warning(built):
    name, output, _, _ = built
    warnings = [line for line in output.splitlines() if re.search(r"warn", line, re.I)]
    assert not warnings, f"{name}: " + "\n".join(warnings)


def test_the_licence_is_declared_the_pep_639_way_and_shipped(built):
    _name, _, sdist, wheel = built
    meta, names = _metadata(wheel)
    assert meta["Metadata-Version"] in ("2.4", "2.5")
    assert meta["License-Expression"] == "BSD-3-Clause"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert not [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    (licence,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    with zipfile.ZipFile(wheel) as z:
        text = z.read(licence).decode()
    assert text.startswith("BSD 3-Clause License")
    assert "Copyright (c) 2026, gmm-desktop developers" in text
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        member = tar.extractfile(f"{top}/LICENSE")
        assert member is not None and member.read().decode() == text


def test_the_application_metadata(builds):
    _, _, wheel = builds["gmm-desktop"]
    meta, names = _metadata(wheel)
    requires = meta.get_all("Requires-Dist")
    assert not [r for r in requires if r.startswith("superqt")]
    assert any(r.startswith("python-calamine") for r in requires)
    assert sorted(meta.get_all("Provides-Extra")) == ["dask", "fast"]  # no dev tools
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert urls["Homepage"].startswith("https://") and "Changelog" in urls
    classifiers = meta.get_all("Classifier")
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.10" in classifiers
    assert "gmm_desktop/py.typed" in names
    assert "gmm_desktop/resources/faithful.csv" in names
    with zipfile.ZipFile(wheel) as z:
        (entry_points,) = [n for n in names if n.endswith("entry_points.txt")]
        text = z.read(entry_points).decode()
    scripts = text.split("[console_scripts]")[1].split("[")[0]
    gui_scripts = text.split("[gui_scripts]")[1].split("[")[0]
    assert "gmm-desktop = gmm_desktop.__main__:main" in scripts
    assert "gmm-desktop-gui = gmm_desktop.__main__:gui_main" in gui_scripts
