"""The plugin registry: one place where covariance types, initializers and refit strategies
are found, by name.

Plugins are declared through entry points, one group per kind; the built-ins are declared
the same way in gmm-desktop's own ``pyproject.toml``. Discovery reads the entry-point
metadata only; a plugin's module is imported the first time the plugin is used (or listed
with ``load_all``). A plugin that fails to import or has the wrong shape is recorded as
failed with its error and never stops the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal

from gmm_desktop.errors import PluginError
from gmm_desktop.plugin_api import CovarianceType, Initializer

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
}

BUILTIN_DISTRIBUTION = "gmm-desktop"


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
    """What the registry knows of one plugin."""

    kind: str
    name: str
    origin: str  # "built-in", "package NAME VERSION", "file PATH" or "runtime"
    loader: Callable[[], Any]
    status: str = "not loaded"  # "not loaded", "loaded", "failed", "disabled", "shadowed"
    error: str | None = None
    obj: Any = None
    priority: int = 0  # lower wins a name clash
    notes: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.status in ("not loaded", "loaded")


class Registry:
    """Plugins by kind and name. Thread-safe; discovery happens on first use."""

    def __init__(self, *, discover_entry_points: bool = True) -> None:
        self._lock = threading.RLock()
        self._records: dict[str, dict[str, PluginRecord]] = {k: {} for k in GROUPS}
        self._shadowed: list[PluginRecord] = []
        self._discovered = not discover_entry_points

    # -- discovery ----------------------------------------------------------------------

    def _ensure_discovered(self) -> None:
        with self._lock:
            if self._discovered:
                return
            self._discovered = True
            for kind, group in GROUPS.items():
                eps = sorted(
                    metadata.entry_points(group=group),
                    key=lambda ep: (
                        0 if _dist_name(ep) == BUILTIN_DISTRIBUTION else 1,
                        _dist_name(ep) or "",
                        ep.name,
                        ep.value,
                    ),
                )
                for ep in eps:
                    dist = _dist_name(ep)
                    if dist == BUILTIN_DISTRIBUTION:
                        origin, priority = "built-in", 0
                    else:
                        version = getattr(getattr(ep, "dist", None), "version", "?")
                        origin, priority = f"package {dist} {version}", 1
                    self._add(PluginRecord(kind, ep.name, origin, ep.load, priority=priority))

    def _add(self, record: PluginRecord) -> PluginRecord:
        table = self._records[record.kind]
        existing = table.get(record.name)
        if existing is not None:
            if existing.priority <= record.priority:
                record.status = "shadowed"
                record.error = f"name {record.name!r} is already taken by {existing.origin}"
                self._shadowed.append(record)
                existing.notes.append(f"also offered by {record.origin}, which was ignored")
                return existing
            existing.status = "shadowed"
            existing.error = f"name {record.name!r} is taken by {record.origin}"
            self._shadowed.append(existing)
            record.notes.append(f"also offered by {existing.origin}, which was ignored")
        table[record.name] = record
        return record

    # -- registration at run time ---------------------------------------------------------

    def register(
        self, kind: Kind, plugin: type, name: str | None = None, origin: str = "runtime"
    ) -> None:
        """Register a plugin class directly (tests, scripts). Replaces a same-named one."""
        self._check_kind(kind)
        name = name or getattr(plugin, "name", "") or plugin.__name__
        with self._lock:
            self._ensure_discovered()
            record = PluginRecord(kind, name, origin, lambda: plugin, priority=-1)
            self._validate_and_store(record, plugin)
            self._records[kind][name] = record

    def unregister(self, kind: Kind, name: str) -> None:
        with self._lock:
            self._ensure_discovered()
            self._records[kind].pop(name, None)

    # -- lookup -----------------------------------------------------------------------------

    def names(self, kind: Kind) -> list[str]:
        """Names of the usable plugins of ``kind``, built-ins first, then alphabetical."""
        self._check_kind(kind)
        with self._lock:
            self._ensure_discovered()
            recs = [r for r in self._records[kind].values() if r.usable]
        return [r.name for r in sorted(recs, key=lambda r: (max(r.priority, 0), r.name))]

    def records(self, kind: Kind | None = None) -> list[PluginRecord]:
        with self._lock:
            self._ensure_discovered()
            kinds = [kind] if kind else list(GROUPS)
            out = [r for k in kinds for r in self._records[k].values()]
            out += [r for r in self._shadowed if kind is None or r.kind == kind]
        return out

    def load_all(self) -> list[PluginRecord]:
        """Import every plugin (for listings); failures are recorded, never raised."""
        for rec in self.records():
            if rec.status == "not loaded":
                try:
                    self._load(rec)
                except PluginError:
                    pass
        return self.records()

    def get_class(self, kind: Kind, name: str) -> type:
        self._check_kind(kind)
        with self._lock:
            self._ensure_discovered()
            rec = self._records[kind].get(name)
            if rec is None:
                available = ", ".join(repr(n) for n in self.names(kind)) or "none"
                raise ValueError(
                    f"unknown {KIND_LABELS[kind]} {name!r}; registered: {available}"
                )
            if rec.status == "failed":
                raise PluginError(
                    f"the {KIND_LABELS[kind]} plugin {name!r} ({rec.origin}) failed to load: "
                    f"{rec.error}",
                    plugin=name,
                )
            if rec.status == "disabled":
                raise PluginError(
                    f"the {KIND_LABELS[kind]} plugin {name!r} is disabled in the settings",
                    plugin=name,
                )
            return self._load(rec)

    def create(self, kind: Kind, name: str) -> Any:
        """A new instance of the named plugin."""
        cls = self.get_class(kind, name)
        try:
            return cls()
        except Exception as exc:
            raise PluginError(
                f"the {KIND_LABELS[kind]} plugin {name!r} could not be created: {exc}",
                plugin=name,
            ) from exc

    # -- internals ----------------------------------------------------------------------------

    def _load(self, rec: PluginRecord) -> type:
        if rec.status == "loaded":
            return rec.obj
        try:
            obj = rec.loader()
        except Exception as exc:
            rec.status, rec.error = "failed", f"import failed: {type(exc).__name__}: {exc}"
            raise PluginError(
                f"the {KIND_LABELS[rec.kind]} plugin {rec.name!r} ({rec.origin}) failed to "
                f"load: {rec.error}",
                plugin=rec.name,
            ) from exc
        self._validate_and_store(rec, obj)
        return obj

    def _validate_and_store(self, rec: PluginRecord, obj: Any) -> None:
        base = _base_class(rec.kind)
        problem = None
        if not isinstance(obj, type):
            problem = f"expected a class, got {type(obj).__name__}"
        elif base is not None and not issubclass(obj, base):
            problem = f"{obj.__name__} does not subclass gmm_desktop.plugin_api.{base.__name__}"
        elif getattr(obj, "__abstractmethods__", None):
            missing = ", ".join(sorted(obj.__abstractmethods__))
            problem = f"{obj.__name__} does not implement {missing}"
        elif rec.kind == "covariance" and getattr(obj, "structure", None) not in ("full", "diag"):
            problem = f"{obj.__name__}.structure must be 'full' or 'diag'"
        if problem:
            rec.status, rec.error = "failed", f"wrong shape: {problem}"
            raise PluginError(
                f"the {KIND_LABELS[rec.kind]} plugin {rec.name!r} ({rec.origin}) has the wrong "
                f"shape: {problem}",
                plugin=rec.name,
            )
        rec.obj, rec.status, rec.error = obj, "loaded", None

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in GROUPS:
            raise ValueError(f"unknown plugin kind {kind!r}; kinds: {', '.join(GROUPS)}")


def _dist_name(ep: metadata.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None
    name = dist.metadata["Name"] if dist.metadata else None
    return name.lower().replace("_", "-") if name else None


_default: Registry | None = None
_default_lock = threading.Lock()


def get_registry() -> Registry:
    """The process-wide registry."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry()
        return _default


def get_covariance_type(name: str) -> CovarianceType:
    """A new instance of the registered covariance type ``name``."""
    return get_registry().create("covariance", name)


def get_initializer(name: str) -> Initializer:
    """A new instance of the registered initializer ``name``."""
    return get_registry().create("initializer", name)
