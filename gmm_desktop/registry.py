"""The plugin registry: one place where covariance types, initializers and refit strategies
are found, by name.

Where plugins come from
-----------------------
* **Entry points**, one group per kind (:data:`GROUPS`). gmm-desktop's own built-ins are
  declared the same way in its ``pyproject.toml``; a third-party package declares its own.
* **Drop-in files** (``*.py``) in plugin folders, for analysts who cannot install packages.
  A plugin is code and runs with the user's rights, so files are read only by explicit
  choice: every folder named in the environment variable ``GMM_DESKTOP_PLUGIN_PATH``
  (``os.pathsep``-separated; naming a folder there *is* the choice), and the user's plugin
  folder (:func:`user_plugin_dir`) only when the setting ``plugins.load_files`` is true.
  A file declares its plugins in a module-level literal dictionary::

      GMM_DESKTOP_PLUGINS = {"covariance": {"eei": "EEICovariance"}}

  which the registry reads from the file's syntax tree *without importing it*. Files whose
  name starts with ``_`` or ``.`` are skipped (helpers).

Discovery reads metadata only (entry-point tables, manifests); a plugin's module is imported
the first time the plugin is used, or when a listing asks for it (:meth:`Registry.load_all`).

Failing safely
--------------
A plugin that fails to import, or has the wrong shape (wrong base class, abstract methods
left, a bad parameter schema), is recorded with status ``"failed"`` and its error, and never
stops the others. Asking for it raises :class:`~gmm_desktop.errors.PluginError` naming it.

Name clashes and disabling
--------------------------
Several plugins of one kind may claim one name. The winner is chosen deterministically:
run-time registrations (latest first) > built-in > installed packages (by distribution
name) > files (by path). The others get status ``"shadowed"`` with a message naming the
winner, and the winner's :attr:`PluginRecord.notes` name them. A plugin may be disabled in
the settings (``plugins.disabled``, a list of ``"kind:name"``) without uninstalling it: it
shows status ``"disabled"``, is never imported, and :meth:`Registry.names` leaves it out.
Built-in plugins cannot be disabled (the defaults of every fit rely on them).

For a GUI
---------
``records()`` lists everything (a row per candidate), ``plugin_table(records)`` gives plain
dictionaries, ``set_enabled(kind, name, enabled)`` and ``set_load_files(enabled)`` persist a
choice and apply it at once, ``plugin_folders()`` says which folders are read and why, and
``reload()`` discovers again (after installing a package or editing a file).
"""

from __future__ import annotations

import ast
import contextlib
import contextvars
import hashlib
import importlib.util
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from gmm_desktop.errors import PluginError
from gmm_desktop.plugin_api import CovarianceType, Initializer, ParamSpec

if TYPE_CHECKING:  # pragma: no cover
    from gmm_desktop.settings import Settings

__all__ = [
    "BUILTIN_DISTRIBUTION",
    "GROUPS",
    "KIND_LABELS",
    "MANIFEST_NAME",
    "PLUGIN_PATH_ENV",
    "SETTING_DISABLED",
    "SETTING_LOAD_FILES",
    "Kind",
    "PluginFolder",
    "PluginRecord",
    "Registry",
    "format_plugin_table",
    "get_covariance_type",
    "get_initializer",
    "get_registry",
    "plugin_folders",
    "plugin_table",
    "use_registry",
    "user_plugin_dir",
]

Kind = Literal["covariance", "initializer", "refit"]

#: Entry-point group of each plugin kind.
GROUPS: dict[str, str] = {
    "covariance": "gmm_desktop.covariance_types",
    "initializer": "gmm_desktop.initializers",
    "refit": "gmm_desktop.refit_strategies",
}

KIND_LABELS = {
    "covariance": "covariance type",
    "initializer": "initializer",
    "refit": "refit strategy",
    "unknown": "plugin file",
}

BUILTIN_DISTRIBUTION = "gmm-desktop"
#: Environment variable naming plugin folders (``os.pathsep``-separated).
PLUGIN_PATH_ENV = "GMM_DESKTOP_PLUGIN_PATH"
#: The module-level dictionary a drop-in plugin file declares.
MANIFEST_NAME = "GMM_DESKTOP_PLUGINS"
#: Setting: list of ``"kind:name"`` strings of disabled plugins.
SETTING_DISABLED = "plugins.disabled"
#: Setting: read the user's plugin folder (true/false; default false).
SETTING_LOAD_FILES = "plugins.load_files"

_PRIORITY_RUNTIME, _PRIORITY_BUILTIN, _PRIORITY_PACKAGE, _PRIORITY_FILE = -1, 0, 1, 2


def _base_class(kind: str) -> type | None:
    if kind == "covariance":
        return CovarianceType
    if kind == "initializer":
        return Initializer
    try:  # refit strategies live in the anomaly part of the API
        from gmm_desktop import plugin_api

        return getattr(plugin_api, "RefitStrategy", None)
    except ImportError:  # pragma: no cover
        return None


@dataclass
class PluginRecord:
    """What the registry knows of one plugin (one candidate for a name).

    ``status`` is ``"not loaded"`` (discovered, not imported yet), ``"loaded"``,
    ``"failed"`` (``error`` says why), ``"disabled"`` (in the settings) or ``"shadowed"``
    (another plugin won the name; ``error`` names it). ``origin`` is ``"built-in"``,
    ``"package NAME VERSION"``, ``"file PATH"`` or ``"runtime"``. A drop-in file whose
    manifest cannot be read is listed with kind ``"unknown"`` and the file name as name.
    """

    kind: str
    name: str
    origin: str
    loader: Callable[[], Any]
    status: str = "not loaded"
    error: str | None = None
    obj: Any = None
    priority: int = 0  # lower wins a name clash
    notes: list[str] = field(default_factory=list)
    #: Tie-break within one priority (distribution name, path, registration order).
    sort_key: tuple = ()
    #: Outcome of loading, whatever the clash/disabled status: "not loaded", "loaded", "failed".
    load_status: str = "not loaded"
    load_error: str | None = None

    @property
    def usable(self) -> bool:
        return self.status in ("not loaded", "loaded")

    @property
    def description(self) -> str:
        """The plugin's one-line description (empty until it is loaded)."""
        text = getattr(self.obj, "description", "") if self.obj is not None else ""
        return text if isinstance(text, str) else ""

    @property
    def label(self) -> str:
        """``"covariance type 'eei' (package gmm-desktop-eei 0.1.0)"``, for messages."""
        return f"{KIND_LABELS.get(self.kind, self.kind)} {self.name!r} ({self.origin})"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a table, a JSON listing or a GUI model."""
        return {
            "kind": self.kind,
            "name": self.name,
            "origin": self.origin,
            "status": self.status,
            "error": self.error,
            "description": self.description,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class PluginFolder:
    """A folder of drop-in plugin files and whether it is read."""

    path: Path
    reason: str  # "GMM_DESKTOP_PLUGIN_PATH", "user plugin folder" or "explicit"
    active: bool


def user_plugin_dir() -> Path:
    """The user's plugin folder: ``plugins`` inside the configuration folder."""
    from gmm_desktop.settings import config_dir

    return config_dir() / "plugins"


def plugin_folders(settings: Settings | None = None) -> list[PluginFolder]:
    """The plugin folders and whether each is read (the environment's, then the user's)."""
    out: list[PluginFolder] = []
    seen: set[str] = set()
    for part in os.environ.get(PLUGIN_PATH_ENV, "").split(os.pathsep):
        if part.strip():
            path = Path(part.strip()).expanduser()
            if str(path) not in seen:
                seen.add(str(path))
                out.append(PluginFolder(path, PLUGIN_PATH_ENV, True))
    if settings is None:
        from gmm_desktop.settings import get_settings

        settings = get_settings()
    user = user_plugin_dir()
    if str(user) not in seen:
        active = settings.get(SETTING_LOAD_FILES, False) is True
        out.append(PluginFolder(user, "user plugin folder", active))
    return out


# --------------------------------------------------------------------------- manifests


def _read_manifest(path: Path) -> dict[str, dict[str, str]]:
    """The ``GMM_DESKTOP_PLUGINS`` literal of a file, read without importing it."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    node: ast.expr | None = None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == MANIFEST_NAME for t in stmt.targets
        ):
            node = stmt.value
        elif (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and stmt.target.id == MANIFEST_NAME
        ):
            node = stmt.value
    if node is None:
        raise ValueError(
            f"it declares no {MANIFEST_NAME} dictionary (a plugin file declares e.g. "
            f"{MANIFEST_NAME} = {{'covariance': {{'eei': 'EEICovariance'}}}}; name helper "
            "files with a leading underscore)"
        )
    try:
        manifest = ast.literal_eval(node)
    except ValueError:
        raise ValueError(
            f"{MANIFEST_NAME} must be a literal dictionary of text (it is read without "
            "running the file), e.g. {'covariance': {'eei': 'EEICovariance'}}"
        ) from None
    if not isinstance(manifest, dict):
        raise ValueError(f"{MANIFEST_NAME} must be a dictionary, got {type(manifest).__name__}")
    for kind, entries in manifest.items():
        if kind not in GROUPS:
            raise ValueError(
                f"{MANIFEST_NAME} has unknown kind {kind!r}; kinds: {', '.join(GROUPS)}"
            )
        if not isinstance(entries, dict):
            raise ValueError(f"{MANIFEST_NAME}[{kind!r}] must map plugin names to class names")
        for name, target in entries.items():
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"{MANIFEST_NAME}[{kind!r}] has a bad plugin name {name!r}")
            if not isinstance(target, str) or not all(
                part.isidentifier() for part in target.split(".")
            ):
                raise ValueError(
                    f"{MANIFEST_NAME}[{kind!r}][{name!r}] must be the name of a class "
                    f"defined in the file, got {target!r}"
                )
    return manifest


def _module_name_for(path: Path) -> str:
    stem = re.sub(r"\W", "_", path.stem)
    digest = hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:10]
    return f"gmm_desktop_file_plugin_{stem}_{digest}"


# --------------------------------------------------------------------------- registry


class Registry:
    """Plugins by kind and name. Thread-safe; discovery happens on first use.

    Parameters
    ----------
    discover_entry_points:
        Read the entry-point groups (and, unless ``plugin_dirs`` is given, the opted-in
        plugin folders and the disabled list of the settings). ``False`` gives an empty
        registry for :meth:`register` (the conformance kit uses one).
    plugin_dirs:
        Folders of drop-in files to read (an explicit choice); ``None`` = the folders of
        :func:`plugin_folders` when ``discover_entry_points`` is true, else none.
    settings:
        Where the disabled list and the file opt-in are kept; ``None`` = the shared
        :func:`gmm_desktop.settings.get_settings` when ``discover_entry_points`` is true.
    """

    def __init__(
        self,
        *,
        discover_entry_points: bool = True,
        plugin_dirs: Sequence[str | os.PathLike[str]] | None = None,
        settings: Settings | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._entry_points = discover_entry_points
        self._plugin_dirs = None if plugin_dirs is None else [Path(p) for p in plugin_dirs]
        self._settings = settings
        self._use_settings = settings is not None or discover_entry_points
        self._candidates: dict[str, dict[str, list[PluginRecord]]] = {k: {} for k in GROUPS}
        self._broken: list[PluginRecord] = []
        self._file_modules: dict[Path, ModuleType | BaseException] = {}
        self._runtime_seq = 0
        self._discovered = False
        self._disabled: set[str] = set()

    # -- settings -----------------------------------------------------------------------

    @property
    def settings(self) -> Settings | None:
        """The settings this registry reads (``None`` for a private registry)."""
        if self._settings is None and self._use_settings:
            from gmm_desktop.settings import get_settings

            self._settings = get_settings()
        return self._settings

    def _read_disabled(self) -> set[str]:
        settings = self.settings
        if settings is None:
            return set()
        value = settings.get(SETTING_DISABLED, [])
        if not isinstance(value, list):
            return set()
        return {v for v in value if isinstance(v, str)}

    def disabled(self) -> list[tuple[str, str]]:
        """``(kind, name)`` of every plugin disabled in the settings."""
        out = []
        for item in sorted(self._read_disabled()):
            kind, _, name = item.partition(":")
            out.append((kind, name))
        return out

    def is_disabled(self, kind: str, name: str) -> bool:
        with self._lock:
            self._ensure_discovered()
            return f"{kind}:{name}" in self._disabled

    def set_enabled(self, kind: Kind, name: str, enabled: bool) -> None:
        """Enable or disable a plugin by kind and name, persist it, and apply it at once.

        Disabling leaves the package or file installed; every candidate of that name is then
        ignored. Raises ``ValueError`` for a built-in or if this registry has no settings.
        """
        self._check_kind(kind)
        settings = self.settings
        if settings is None:
            raise ValueError("this registry keeps no settings; plugins cannot be disabled")
        with self._lock:
            self._ensure_discovered()
            cands = self._candidates[kind].get(name, [])
            if not enabled and any(r.origin == "built-in" for r in cands):
                raise ValueError(
                    f"the {KIND_LABELS[kind]} {name!r} is built in and cannot be disabled"
                )
            key = f"{kind}:{name}"
            current = self._read_disabled()
            new = (current - {key}) if enabled else (current | {key})
            if new != current:
                settings.set(SETTING_DISABLED, sorted(new))
            self._disabled = new
            self._resolve(kind, name)

    def set_load_files(self, enabled: bool) -> None:
        """Persist the choice to read the user's plugin folder, and discover again."""
        settings = self.settings
        if settings is None:
            raise ValueError("this registry keeps no settings")
        settings.set(SETTING_LOAD_FILES, bool(enabled))
        self.reload()

    def plugin_folders(self) -> list[PluginFolder]:
        """The folders of drop-in files this registry reads (or would read if opted in)."""
        if self._plugin_dirs is not None:
            return [PluginFolder(p, "explicit", True) for p in self._plugin_dirs]
        if not self._entry_points:
            return []
        return plugin_folders(self.settings)

    # -- discovery ----------------------------------------------------------------------

    def _ensure_discovered(self) -> None:
        with self._lock:
            if self._discovered:
                return
            self._discovered = True
            self._disabled = self._read_disabled()
            if self._entry_points:
                self._discover_entry_points()
            for folder in self.plugin_folders():
                if folder.active:
                    self._discover_folder(folder.path)
            for kind in GROUPS:
                for name in list(self._candidates[kind]):
                    self._resolve(kind, name)

    def reload(self) -> None:
        """Forget discovered plugins and discover again (run-time registrations are kept).

        Drop-in files are imported afresh on next use; package modules stay imported.
        """
        with self._lock:
            for kind in GROUPS:
                for name, cands in list(self._candidates[kind].items()):
                    kept = [r for r in cands if r.priority == _PRIORITY_RUNTIME]
                    if kept:
                        self._candidates[kind][name] = kept
                    else:
                        del self._candidates[kind][name]
            self._broken = []
            for path, module in self._file_modules.items():
                if isinstance(module, ModuleType):
                    sys.modules.pop(_module_name_for(path), None)
            self._file_modules = {}
            self._discovered = False
            self._ensure_discovered()

    def _discover_entry_points(self) -> None:
        for kind, group in GROUPS.items():
            try:
                eps = list(metadata.entry_points(group=group))
            except Exception as exc:  # pragma: no cover - a corrupt installation
                self._broken.append(
                    PluginRecord(
                        "unknown", group, "installed packages", lambda: None,
                        status="failed", load_status="failed",
                        error=f"the entry points could not be read: {exc}",
                        load_error=f"the entry points could not be read: {exc}",
                    )
                )
                continue
            for ep in eps:
                dist = _dist_name(ep)
                if dist == BUILTIN_DISTRIBUTION:
                    origin, priority = "built-in", _PRIORITY_BUILTIN
                else:
                    version = getattr(getattr(ep, "dist", None), "version", None) or "?"
                    origin, priority = f"package {dist or '?'} {version}", _PRIORITY_PACKAGE
                self._add(
                    PluginRecord(
                        kind, ep.name, origin, ep.load, priority=priority,
                        sort_key=(dist or "", ep.value),
                    )
                )

    def _discover_folder(self, folder: Path) -> None:
        try:
            files = sorted(p for p in folder.glob("*.py") if p.is_file())
        except OSError:
            return
        for path in files:
            if path.name.startswith(("_", ".")):
                continue
            path = path.resolve()
            origin = f"file {path}"
            try:
                manifest = _read_manifest(path)
            except (OSError, SyntaxError, ValueError, UnicodeDecodeError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if isinstance(exc, OSError) else str(exc)
                if isinstance(exc, SyntaxError):
                    reason = f"syntax error on line {exc.lineno}: {exc.msg}"
                error = f"manifest could not be read: {reason}"
                self._broken.append(
                    PluginRecord(
                        "unknown", path.name, origin, lambda: None, status="failed",
                        error=error, load_status="failed", load_error=error,
                        priority=_PRIORITY_FILE, sort_key=(str(path),),
                    )
                )
                continue
            for kind, entries in manifest.items():
                for name, target in entries.items():
                    self._add(
                        PluginRecord(
                            kind, name, origin, self._file_loader(path, target),
                            priority=_PRIORITY_FILE, sort_key=(str(path), target),
                        )
                    )

    def _file_loader(self, path: Path, target: str) -> Callable[[], Any]:
        def load() -> Any:
            module = self._import_file(path)
            obj: Any = module
            for part in target.split("."):
                try:
                    obj = getattr(obj, part)
                except AttributeError:
                    raise AttributeError(f"{path.name} defines no {target!r}") from None
            return obj

        return load

    def _import_file(self, path: Path) -> ModuleType:
        with self._lock:
            cached = self._file_modules.get(path)
            if isinstance(cached, ModuleType):
                return cached
            if cached is not None:
                raise cached
            name = _module_name_for(path)
            try:
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is None or spec.loader is None:
                    raise ImportError(f"cannot import {path}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(name, None)
                    raise
            except Exception as exc:
                self._file_modules[path] = exc
                raise
            self._file_modules[path] = module
            return module

    def _add(self, record: PluginRecord) -> PluginRecord:
        self._candidates[record.kind].setdefault(record.name, []).append(record)
        return record

    def _resolve(self, kind: str, name: str) -> None:
        """Decide the winner of ``name`` and set every candidate's status."""
        cands = self._candidates[kind].get(name, [])
        cands.sort(key=lambda r: (r.priority, r.sort_key))
        disabled = f"{kind}:{name}" in self._disabled
        winner = None
        for rec in cands:
            rec.notes = []
            if disabled and rec.origin != "built-in":
                rec.status, rec.error = "disabled", None
                rec.notes.append("disabled in the settings")
                continue
            if winner is None:
                winner = rec
                rec.status, rec.error = rec.load_status, rec.load_error
                if disabled:
                    rec.notes.append("built-in plugins cannot be disabled; the setting is ignored")
                continue
            rec.status = "shadowed"
            rec.error = (
                f"the name {name!r} is already taken by the {KIND_LABELS[kind]} from "
                f"{winner.origin}"
            )
        if winner is not None:
            for rec in cands:
                if rec.status == "shadowed":
                    winner.notes.append(f"also offered by {rec.origin}, which is ignored")

    def _active(self, kind: str, name: str) -> PluginRecord | None:
        cands = self._candidates[kind].get(name, [])
        for rec in cands:
            if rec.status != "shadowed" and rec.status != "disabled":
                return rec
        return cands[0] if cands else None

    # -- registration at run time ---------------------------------------------------------

    def register(
        self, kind: Kind, plugin: type, name: str | None = None, origin: str = "runtime"
    ) -> None:
        """Register a plugin class directly (tests, scripts); it wins its name until
        :meth:`unregister`. Raises :class:`PluginError` if the class has the wrong shape."""
        self._check_kind(kind)
        name = name or getattr(plugin, "name", "") or plugin.__name__
        with self._lock:
            self._ensure_discovered()
            self._runtime_seq += 1
            record = PluginRecord(
                kind, name, origin, lambda: plugin, priority=_PRIORITY_RUNTIME,
                sort_key=(-self._runtime_seq,),
            )
            self._validate_and_store(record, plugin)
            self._add(record)
            self._resolve(kind, name)

    def unregister(self, kind: Kind, name: str) -> None:
        """Remove the latest run-time registration of ``name`` (whatever it shadowed wins
        again). Discovered plugins are not removed; disable them instead."""
        with self._lock:
            self._ensure_discovered()
            cands = self._candidates[kind].get(name, [])
            runtime = [r for r in cands if r.priority == _PRIORITY_RUNTIME]
            if not runtime:
                return
            latest = min(runtime, key=lambda r: r.sort_key)
            cands.remove(latest)
            if not cands:
                del self._candidates[kind][name]
            else:
                self._resolve(kind, name)

    @contextlib.contextmanager
    def registered(self, kind: Kind, plugin: type, name: str | None = None) -> Iterator[str]:
        """Register ``plugin`` for the duration of a ``with`` block; yields its name."""
        name = name or getattr(plugin, "name", "") or plugin.__name__
        self.register(kind, plugin, name)
        try:
            yield name
        finally:
            self.unregister(kind, name)

    # -- lookup -----------------------------------------------------------------------------

    def names(self, kind: Kind) -> list[str]:
        """Names of the usable plugins of ``kind``, built-ins first, then alphabetical."""
        self._check_kind(kind)
        with self._lock:
            self._ensure_discovered()
            recs = [
                rec
                for name in self._candidates[kind]
                if (rec := self._active(kind, name)) is not None and rec.usable
            ]
        return [r.name for r in sorted(recs, key=lambda r: (max(r.priority, 0), r.name))]

    def record(self, kind: Kind, name: str) -> PluginRecord | None:
        """The record that answers to ``name`` (the winner of a clash), or ``None``."""
        self._check_kind(kind)
        with self._lock:
            self._ensure_discovered()
            return self._active(kind, name)

    def records(self, kind: Kind | None = None) -> list[PluginRecord]:
        """Every candidate of every name (winners, shadowed, disabled, failed), sorted by
        kind, name, then priority; unreadable plugin files come last."""
        with self._lock:
            self._ensure_discovered()
            kinds = [kind] if kind else list(GROUPS)
            out = [
                rec
                for k in kinds
                for name in sorted(self._candidates[k])
                for rec in self._candidates[k][name]
            ]
            if kind is None:
                out += sorted(self._broken, key=lambda r: r.sort_key)
        return out

    def clashes(self) -> list[str]:
        """One message per shadowed plugin, naming the winner."""
        return [
            f"{rec.label}: {rec.error}" for rec in self.records() if rec.status == "shadowed"
        ]

    def load_all(self) -> list[PluginRecord]:
        """Import every usable plugin (for listings); failures are recorded, never raised.

        Disabled and shadowed plugins are not imported."""
        for rec in self.records():
            if rec.status == "not loaded":
                with contextlib.suppress(PluginError):
                    self._load(rec)
        return self.records()

    def get_class(self, kind: Kind, name: str) -> type:
        """The plugin class of ``name``, imported on first use.

        Raises ``ValueError`` for an unknown name and :class:`PluginError` (naming the
        plugin) if it is disabled, failed to import or has the wrong shape."""
        self._check_kind(kind)
        with self._lock:
            self._ensure_discovered()
            rec = self._active(kind, name)
            if rec is None:
                available = ", ".join(repr(n) for n in self.names(kind)) or "none"
                raise ValueError(
                    f"unknown {KIND_LABELS[kind]} {name!r}; registered: {available}"
                )
            if rec.status == "disabled":
                raise PluginError(
                    f"the {KIND_LABELS[kind]} plugin {name!r} ({rec.origin}) is disabled in "
                    "the settings; enable it in the Plugins dialog or the settings file",
                    plugin=name,
                )
            if rec.status == "failed":
                raise PluginError(
                    f"the {KIND_LABELS[kind]} plugin {name!r} ({rec.origin}) failed to load: "
                    f"{rec.error}",
                    plugin=name,
                )
            return self._load(rec)

    def create(self, kind: Kind, name: str) -> Any:
        """A new instance of the named plugin (its ``name`` is the registered name)."""
        cls = self.get_class(kind, name)
        try:
            instance = cls()
        except Exception as exc:
            rec = self.record(kind, name)
            origin = f" ({rec.origin})" if rec is not None else ""
            raise PluginError(
                f"the {KIND_LABELS[kind]} plugin {name!r}{origin} could not be created: "
                f"{type(exc).__name__}: {exc}",
                plugin=name,
            ) from exc
        if getattr(instance, "name", None) != name:
            # A class registered under another name (an alias) answers to that name, so
            # that the engine's messages and model files use the name the user chose.
            with contextlib.suppress(Exception):
                instance.name = name
        return instance

    # -- internals ----------------------------------------------------------------------------

    def _load(self, rec: PluginRecord) -> type:
        with self._lock:
            if rec.load_status == "loaded":
                return rec.obj
            if rec.load_status == "failed":
                raise PluginError(
                    f"the {rec.label} failed to load: {rec.load_error}", plugin=rec.name
                )
            try:
                obj = rec.loader()
            except BaseException as exc:
                if not isinstance(exc, Exception) and not isinstance(exc, SystemExit):
                    raise  # KeyboardInterrupt and the like
                error = f"import failed: {type(exc).__name__}: {exc}"
                self._set_load(rec, "failed", error)
                raise PluginError(
                    f"the {rec.label} failed to load: {error}", plugin=rec.name
                ) from exc
            self._validate_and_store(rec, obj)
            return obj

    def _set_load(self, rec: PluginRecord, status: str, error: str | None) -> None:
        rec.load_status, rec.load_error = status, error
        if rec.status not in ("disabled", "shadowed"):
            rec.status, rec.error = status, error

    def _validate_and_store(self, rec: PluginRecord, obj: Any) -> None:
        problem = _shape_problem(rec.kind, obj)
        if problem:
            error = f"wrong shape: {problem}"
            self._set_load(rec, "failed", error)
            raise PluginError(
                f"the {rec.label} has the wrong shape: {problem}", plugin=rec.name
            )
        rec.obj = obj
        self._set_load(rec, "loaded", None)

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in GROUPS:
            raise ValueError(f"unknown plugin kind {kind!r}; kinds: {', '.join(GROUPS)}")


def _shape_problem(kind: str, obj: Any) -> str | None:
    """Why ``obj`` is not a plugin class of ``kind``, or ``None``."""
    if not isinstance(obj, type):
        return f"expected a class, got {type(obj).__name__}"
    base = _base_class(kind)
    if base is not None and not issubclass(obj, base):
        return f"{obj.__name__} does not subclass gmm_desktop.plugin_api.{base.__name__}"
    abstract = getattr(obj, "__abstractmethods__", None)
    if abstract:
        return f"{obj.__name__} does not implement {', '.join(sorted(abstract))}"
    if kind == "covariance" and getattr(obj, "structure", None) not in ("full", "diag"):
        return f"{obj.__name__}.structure must be 'full' or 'diag'"
    if kind == "refit":
        return _refit_schema_problem(obj)
    return None


def _refit_schema_problem(cls: type) -> str | None:
    if not callable(getattr(cls, "run", None)):
        return f"{cls.__name__} has no run method"
    params = getattr(cls, "parameters", ())
    if not isinstance(params, tuple | list):
        return (
            f"{cls.__name__}.parameters must be a tuple of ParamSpec, got "
            f"{type(params).__name__}"
        )
    seen: set[str] = set()
    for spec in params:
        if not isinstance(spec, ParamSpec):
            return f"{cls.__name__}.parameters holds {spec!r}, which is not a ParamSpec"
        if spec.name in seen:
            return f"{cls.__name__}.parameters declares {spec.name!r} twice"
        seen.add(spec.name)
    return None


def _dist_name(ep: metadata.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None
    try:
        name = dist.metadata["Name"] if dist.metadata else None
    except Exception:  # pragma: no cover - unreadable metadata
        return None
    return name.lower().replace("_", "-") if name else None


# --------------------------------------------------------------------------- listings


def plugin_table(records: Iterable[PluginRecord]) -> list[dict[str, Any]]:
    """Rows for ``gmm-desktop plugins`` and the Plugins dialog: kind, name, origin, status,
    error, description and notes of each record, as plain data (JSON-ready)."""
    return [rec.to_dict() for rec in records]


def format_plugin_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of :func:`plugin_table` rows (errors and notes on their own lines)."""
    columns = ("kind", "name", "origin", "status")
    widths = {c: max([len(c)] + [len(str(r[c])) for r in rows]) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip()]
    for row in rows:
        lines.append("  ".join(str(row[c]).ljust(widths[c]) for c in columns).rstrip())
        if row.get("description"):
            lines.append(f"    {row['description']}")
        if row.get("error"):
            lines.append(f"    error: {row['error']}")
        for note in row.get("notes") or ():
            lines.append(f"    note: {note}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- process-wide


_default: Registry | None = None
_default_lock = threading.Lock()
_override: contextvars.ContextVar[Registry | None] = contextvars.ContextVar(
    "gmm_desktop_registry_override", default=None
)


def get_registry() -> Registry:
    """The process-wide registry (or the one :func:`use_registry` installed here)."""
    override = _override.get()
    if override is not None:
        return override
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry()
        return _default


@contextlib.contextmanager
def use_registry(registry: Registry) -> Iterator[Registry]:
    """Make :func:`get_registry` return ``registry`` in this thread/context for a ``with``
    block (the conformance kit fits with a private registry this way)."""
    token = _override.set(registry)
    try:
        yield registry
    finally:
        _override.reset(token)


def get_covariance_type(name: str) -> CovarianceType:
    """A new instance of the registered covariance type ``name``."""
    return get_registry().create("covariance", name)


def get_initializer(name: str) -> Initializer:
    """A new instance of the registered initializer ``name``."""
    return get_registry().create("initializer", name)
