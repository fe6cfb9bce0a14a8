"""Persisted user settings: a small, Qt-free key/value store kept as versioned JSON.

The file is ``settings.json`` in the user's configuration folder (platformdirs'
``user_config_dir("gmm-desktop")``, or the folder named by the environment variable
``GMM_DESKTOP_CONFIG_DIR``, which tests use). Every layer may keep its own keys here; use
dotted names that start with the layer (``"plugins.disabled"``, ``"gui.recent_files"``).

Design choices:

* JSON, never pickle, with a ``format`` and ``format_version``: a newer file is read
  without losing its unknown keys, and an unreadable file never stops the application.
* Every change re-reads the file, applies the change and writes the whole file atomically
  (:func:`gmm_desktop.fileio.atomic_write`), so two processes (the GUI and the command
  line) lose at most a simultaneous write, never the file.
* A corrupt file is moved aside (``settings.json.corrupt``) before the first new write and
  reported in :attr:`Settings.problems`; it is never silently overwritten.

Example::

    settings = get_settings()
    settings.get("plugins.load_files", False)
    settings.set("plugins.load_files", True)
"""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from gmm_desktop.fileio import atomic_write

__all__ = [
    "CONFIG_DIR_ENV",
    "SETTINGS_FORMAT",
    "SETTINGS_FORMAT_VERSION",
    "Settings",
    "config_dir",
    "get_settings",
]

#: Environment variable naming the configuration folder (overrides platformdirs).
CONFIG_DIR_ENV = "GMM_DESKTOP_CONFIG_DIR"
SETTINGS_FORMAT = "gmm-desktop/settings"
SETTINGS_FORMAT_VERSION = 1
_FILE_NAME = "settings.json"


def config_dir() -> Path:
    """The user's gmm-desktop configuration folder (it may not exist yet)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("gmm-desktop", appauthor=False))


def _check_json(key: str, value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"setting {key!r} must be JSON data (numbers, text, true/false, null, lists and "
            f"objects of those), got {value!r} ({exc})"
        ) from None


class Settings:
    """A persisted key/value store (one JSON file). Thread-safe.

    Values are plain JSON data; :meth:`get` returns a deep copy, so changing a returned list
    does not change the setting until :meth:`set` is called.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else config_dir() / _FILE_NAME
        self._lock = threading.RLock()
        self._values: dict[str, Any] = {}
        #: Messages about an unreadable or newer settings file (for a status line or log).
        self.problems: list[str] = []
        self._corrupt = False
        self._mtime: tuple[int, int] | None = None
        self._reload()

    # -- reading ------------------------------------------------------------------------------

    def _reload(self) -> None:
        """Read the file again if it changed on disk."""
        with self._lock:
            try:
                stat = self.path.stat()
            except OSError:
                self._values, self._mtime, self._corrupt = {}, None, False
                return
            stamp = (stat.st_mtime_ns, stat.st_size)
            if self._mtime == stamp:
                return
            self._mtime = stamp
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                values = self._values_from(doc)
            except (OSError, ValueError) as exc:
                message = (
                    f"The settings file {self.path} could not be read ({exc}); default "
                    "settings are used, and the file will be kept as "
                    f"{self.path.name}.corrupt when settings are next saved."
                )
                if message not in self.problems:
                    self.problems.append(message)
                self._values, self._corrupt = {}, True
                return
            self._values, self._corrupt = values, False

    def _values_from(self, doc: Any) -> dict[str, Any]:
        if not isinstance(doc, dict) or doc.get("format") != SETTINGS_FORMAT:
            raise ValueError(f"not a gmm-desktop settings file (format {SETTINGS_FORMAT!r})")
        version = doc.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise ValueError(f"format_version {version!r} is not valid")
        values = doc.get("values")
        if not isinstance(values, dict):
            raise ValueError("the 'values' object is missing")
        if version > SETTINGS_FORMAT_VERSION:
            message = (
                f"The settings file {self.path} was written by a newer gmm-desktop (format "
                f"{version}); keys this version does not know are kept unchanged."
            )
            if message not in self.problems:
                self.problems.append(message)
        return values

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` if it is not set."""
        with self._lock:
            self._reload()
            if key not in self._values:
                return default
            return copy.deepcopy(self._values[key])

    def __contains__(self, key: object) -> bool:
        with self._lock:
            self._reload()
            return key in self._values

    def keys(self) -> list[str]:
        with self._lock:
            self._reload()
            return sorted(self._values)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def as_dict(self) -> dict[str, Any]:
        """A deep copy of every setting."""
        with self._lock:
            self._reload()
            return copy.deepcopy(self._values)

    # -- writing ------------------------------------------------------------------------------

    def set(self, key: str, value: Any) -> None:
        """Set ``key`` to ``value`` (JSON data) and save at once."""
        self.update({key: value})

    def update(self, values: Mapping[str, Any]) -> None:
        """Set several keys in one atomic write."""
        for key, value in values.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"setting names must be non-empty text, got {key!r}")
            _check_json(key, value)
        with self._lock:
            self._mtime = None  # always re-read: another process may have written
            self._reload()
            new = dict(self._values)
            new.update(copy.deepcopy(dict(values)))
            self._write(new)

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error if it is not set)."""
        with self._lock:
            self._mtime = None
            self._reload()
            if key not in self._values:
                return
            new = dict(self._values)
            del new[key]
            self._write(new)

    def _write(self, values: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._corrupt and self.path.exists():
            os.replace(self.path, self.path.with_name(self.path.name + ".corrupt"))
        doc = {
            "format": SETTINGS_FORMAT,
            "format_version": SETTINGS_FORMAT_VERSION,
            "values": values,
        }
        text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
        with atomic_write(self.path) as temp:
            Path(temp).write_text(text, encoding="utf-8")
        self._values, self._corrupt = values, False
        try:
            stat = self.path.stat()
            self._mtime = (stat.st_mtime_ns, stat.st_size)
        except OSError:  # pragma: no cover
            self._mtime = None

    def __repr__(self) -> str:
        return f"Settings({str(self.path)!r})"


_cache: dict[Path, Settings] = {}
_cache_lock = threading.Lock()


def get_settings() -> Settings:
    """The settings of the current configuration folder (one shared object per folder)."""
    path = config_dir() / _FILE_NAME
    with _cache_lock:
        settings = _cache.get(path)
        if settings is None:
            settings = _cache[path] = Settings(path)
        return settings
