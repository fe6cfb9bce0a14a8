"""Session documents: the whole state of a run as versioned JSON (never a pickle).

A session holds the data source, the run configuration, the current model (a model
document, :mod:`gmm_desktop.core.modelfile`), whether its threshold is pinned (a saved or
refitted model's own rule), the manual labels, the row selection, and a ``view`` section
that belongs to the window. The window, the command line (``--session``,
``--session-out``) and Python read and write the same document.

Reading is lenient where it can be: a malformed section is reported and skipped, and
everything else is restored (:class:`SessionContents` lists the problems).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gmm_desktop import __version__
from gmm_desktop.core.config import ConfigError, RunConfig
from gmm_desktop.core.modelfile import ModelBundle, bundle_from_document
from gmm_desktop.core.records import Labels
from gmm_desktop.errors import GmmDesktopError, ModelFileError
from gmm_desktop.fileio import atomic_write_text, read_json

__all__ = [
    "SESSION_FORMAT",
    "SESSION_FORMAT_VERSION",
    "DataRef",
    "SessionContents",
    "SessionFileError",
    "new_document",
    "parse_session",
    "read_session",
    "write_session",
]

SESSION_FORMAT = "gmm-desktop/session"
SESSION_FORMAT_VERSION = 3
"""3: the run configuration records how the data file is read (``config.read``); an older
gmm-desktop would ignore it and read the file differently, hence the new version. Sessions
of versions 1 and 2 read as "everything detected"."""


class SessionFileError(GmmDesktopError, ValueError):
    """A session document is missing, corrupt or from a newer version."""


def new_document() -> dict[str, Any]:
    return {
        "format": SESSION_FORMAT,
        "format_version": SESSION_FORMAT_VERSION,
        "library": "gmm-desktop",
        "library_version": __version__,
    }


def write_session(path: str | os.PathLike[str], doc: Mapping[str, Any]) -> None:
    """Write a session document atomically."""
    text = json.dumps(doc, indent=1, allow_nan=False)
    atomic_write_text(path, text + "\n")


def read_session(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a session document's header; raises :class:`SessionFileError`."""
    source = str(path)
    doc = read_json(path, what="session", error=SessionFileError)
    check_header(doc, source)
    return doc


def check_header(doc: Any, source: str) -> None:
    if not isinstance(doc, dict) or doc.get("format") != SESSION_FORMAT:
        raise SessionFileError(
            f"{source}: not a gmm-desktop session file (expected format {SESSION_FORMAT!r})."
        )
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SessionFileError(f"{source}: format_version {version!r} is not valid.")
    if version > SESSION_FORMAT_VERSION:
        raise SessionFileError(
            f"{source}: written by a newer gmm-desktop ({doc.get('library_version')}); "
            "upgrade gmm-desktop to open it."
        )


@dataclass(frozen=True)
class DataRef:
    """Where the session's data is: a file, a bundled demo, or a big (lazy) table."""

    path: str | None
    demo: str | None = None
    big: bool = False
    sample_size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "demo": self.demo, "big_data": self.big,
                "sample_size": self.sample_size}


@dataclass
class SessionContents:
    """What could be read from a session, and what could not (``problems``)."""

    data: DataRef | None = None
    config: RunConfig = field(default_factory=RunConfig)
    bundle: ModelBundle | None = None
    pinned: bool = False
    applied: bool = False
    labels: Labels = field(default_factory=Labels)
    selection: list[Any] = field(default_factory=list)
    view: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _section(doc: Mapping[str, Any], key: str, kind: type, problems: list[str]) -> Any:
    value = doc.get(key)
    if value is None or isinstance(value, kind):
        return value
    problems.append(f"the {key!r} section is not a {kind.__name__}; it was skipped")
    return None


def parse_session(doc: Any, source: str = "session") -> SessionContents:
    """Read every section of a session document (versions 1 to 3) it can.

    The header must be right (else :class:`SessionFileError`); a malformed section is
    skipped and named in ``problems``, and the rest is restored.
    """
    check_header(doc, source)
    out = SessionContents()
    problems = out.problems
    version = doc["format_version"]

    data = _section(doc, "dataset", dict, problems)
    if data is not None:
        path = data.get("path")
        big = data.get("big_data")
        sample = None
        if isinstance(big, dict):  # version 1 kept the big-data options here
            sample = big.get("sample_size")
            big = True
        sample = data.get("sample_size", sample)
        out.data = DataRef(
            path=str(path) if isinstance(path, str) else None,
            demo=str(data["demo"]) if isinstance(data.get("demo"), str) else None,
            big=bool(big),
            sample_size=int(sample) if isinstance(sample, int) and sample > 0 else None,
        )
        if out.data.path is None and out.data.demo is None:
            problems.append("the dataset section names no file; no data was opened")
            out.data = None

    config = _section(doc, "config", dict, problems)
    try:
        if config is not None:
            out.config = RunConfig.from_dict(config)
        elif version < 2:  # version 1: features + fit_params + analysis.threshold
            out.config = _config_v1(doc, problems)
    except ConfigError as exc:
        problems.append(f"the run configuration was not restored: {exc}")

    model = _section(doc, "model", dict, problems)
    if model is not None:
        try:
            out.bundle = bundle_from_document(model, f"{source} (model)")
        except (ModelFileError, GmmDesktopError, ValueError) as exc:
            problems.append(f"the model was not restored: {exc}")
    detection = _section(doc, "detection", dict, problems) or {}
    out.pinned = bool(detection.get("pinned")) and out.bundle is not None \
        and out.bundle.threshold is not None
    out.applied = bool(detection.get("applied")) and out.bundle is not None

    analysis = _section(doc, "analysis", dict, problems) or {}
    labels = analysis.get("labels", doc.get("labels"))
    try:
        out.labels = Labels.from_dict(labels)
    except (TypeError, ValueError) as exc:
        problems.append(f"the labels were not restored: {exc}")
    selection = analysis.get("selection", doc.get("selection")) or []
    if isinstance(selection, list):
        out.selection = selection
    else:
        problems.append("the selection is not a list; it was skipped")
    view = _section(doc, "view", dict, problems)
    out.view = dict(view or {})
    return out


def _config_v1(doc: Mapping[str, Any], problems: list[str]) -> RunConfig:
    """Version 1 (gmm-desktop 0.1's window): features, fit_params and the threshold apart."""
    merged: dict[str, Any] = {}
    feats = doc.get("features")
    if isinstance(feats, dict):
        merged.update({k: feats[k] for k in ("columns", "missing", "scaling") if k in feats})
    elif feats is not None:
        problems.append("the features section is not an object; it was skipped")
    params = doc.get("fit_params")
    if isinstance(params, dict):
        merged.update(params)
    analysis = doc.get("analysis")
    if isinstance(analysis, dict) and analysis.get("threshold") is not None:
        merged["threshold"] = analysis["threshold"]
    return RunConfig.from_dict(merged)


def session_document(
    *,
    data: DataRef | None,
    config: RunConfig,
    bundle: ModelBundle | None,
    pinned: bool,
    applied: bool,
    labels: Labels,
    selection: list[Any],
    view: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document of a session (see the module docstring)."""
    doc = new_document()
    doc["dataset"] = None if data is None else data.to_dict()
    doc["config"] = config.to_dict()
    doc["model"] = None if bundle is None else bundle.to_document()
    doc["detection"] = {"pinned": bool(pinned), "applied": bool(applied)}
    doc["analysis"] = {"labels": labels.to_dict(), "selection": list(selection)}
    doc["view"] = dict(view or {})
    return doc


__all__ += ["check_header", "session_document"]
