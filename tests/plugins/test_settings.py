"""The persisted settings store: versioned JSON, atomic writes, corrupt and newer files."""

from __future__ import annotations

import json

import pytest

from gmm_desktop.settings import (
    SETTINGS_FORMAT,
    SETTINGS_FORMAT_VERSION,
    Settings,
    get_settings,
)
from gmm_desktop.settings import config_dir as current_config_dir


def test_config_dir_follows_the_environment(config_dir):
    assert current_config_dir() == config_dir
    assert get_settings().path == config_dir / "settings.json"


def test_values_round_trip_through_a_versioned_json_file(settings):
    assert settings.get("plugins.load_files", False) is False
    settings.set("plugins.load_files", True)
    settings.update({"plugins.disabled": ["covariance:eei"], "gui.zoom": 1.5})
    doc = json.loads(settings.path.read_text(encoding="utf-8"))
    assert doc["format"] == SETTINGS_FORMAT
    assert doc["format_version"] == SETTINGS_FORMAT_VERSION
    assert doc["values"] == {
        "plugins.load_files": True,
        "plugins.disabled": ["covariance:eei"],
        "gui.zoom": 1.5,
    }
    fresh = Settings(settings.path)
    assert fresh.get("plugins.disabled") == ["covariance:eei"]
    assert fresh.keys() == ["gui.zoom", "plugins.disabled", "plugins.load_files"]
    fresh.delete("gui.zoom")
    assert "gui.zoom" not in settings  # the other object sees the change on disk
    # no temporary file is left behind
    assert sorted(p.name for p in settings.path.parent.iterdir()) == ["settings.json"]


def test_returned_values_are_copies(settings):
    settings.set("plugins.disabled", ["a:b"])
    value = settings.get("plugins.disabled")
    value.append("c:d")
    assert settings.get("plugins.disabled") == ["a:b"]


@pytest.mark.parametrize("bad", [float("nan"), {1, 2}, object()])
def test_values_must_be_json(settings, bad):
    with pytest.raises(ValueError, match="must be JSON data"):
        settings.set("x", bad)
    assert not settings.path.exists()


def test_a_corrupt_file_gives_defaults_and_is_kept_aside(settings):
    settings.path.write_text("{ not json", encoding="utf-8")
    fresh = Settings(settings.path)
    assert fresh.get("plugins.load_files", "default") == "default"
    assert fresh.problems and "could not be read" in fresh.problems[0]
    fresh.set("plugins.load_files", True)
    corrupt = settings.path.with_name("settings.json.corrupt")
    assert corrupt.read_text(encoding="utf-8") == "{ not json"
    assert Settings(settings.path).get("plugins.load_files") is True


def test_a_newer_file_keeps_its_unknown_keys(settings):
    settings.path.write_text(
        json.dumps({"format": SETTINGS_FORMAT, "format_version": 99,
                    "values": {"future.key": [1, 2], "plugins.load_files": False}}),
        encoding="utf-8",
    )
    fresh = Settings(settings.path)
    assert fresh.problems and "newer" in fresh.problems[0]
    fresh.set("plugins.load_files", True)
    values = json.loads(settings.path.read_text(encoding="utf-8"))["values"]
    assert values == {"future.key": [1, 2], "plugins.load_files": True}


def test_a_failed_write_leaves_the_old_file(settings):
    settings.set("a", 1)
    before = settings.path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("pathlib.Path.write_text", boom)
        with pytest.raises(OSError, match="disk full"):
            settings.set("a", 2)
    assert settings.path.read_bytes() == before
    assert sorted(p.name for p in settings.path.parent.iterdir()) == ["settings.json"]
