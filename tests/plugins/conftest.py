"""Plugin tests: a private configuration folder, no plugin path, and fake installed packages."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """GMM_DESKTOP_CONFIG_DIR points at an empty folder; GMM_DESKTOP_PLUGIN_PATH is unset."""
    path = tmp_path / "config"
    path.mkdir()
    monkeypatch.setenv("GMM_DESKTOP_CONFIG_DIR", str(path))
    monkeypatch.delenv("GMM_DESKTOP_PLUGIN_PATH", raising=False)
    return path


@pytest.fixture
def settings(config_dir: Path):
    from gmm_desktop.settings import Settings

    return Settings(config_dir / "settings.json")


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Install a fake distribution (a real ``.dist-info`` with entry points) on ``sys.path``.

    ``make_dist("acme-plugins", {"gmm_desktop.covariance_types": {"x": "MOD:Cls"}},
    {"MOD": source})`` -- ``MOD`` in entry points and module names is replaced by a unique
    module name (returned), so tests never share imported modules.
    """
    created: list[str] = []

    def make(dist: str, entry_points: dict, modules: dict, version: str = "1.0") -> str:
        module = f"fake_plugin_{uuid.uuid4().hex[:10]}"
        site = tmp_path / f"site-{module}"
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
        )
        lines = []
        for group, entries in entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{k} = {v.replace('MOD', module)}" for k, v in entries.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        for name, source in modules.items():
            (site / f"{name.replace('MOD', module)}.py").write_text(
                textwrap.dedent(source), encoding="utf-8"
            )
        monkeypatch.syspath_prepend(str(site))
        created.append(module)
        return module

    yield make
    for module in created:
        sys.modules.pop(module, None)
