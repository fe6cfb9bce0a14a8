"""The small bundled datasets (Old Faithful, a synthetic set with known outliers).

They are shipped inside the package (``gmm_desktop/resources``) and found through
:mod:`importlib.resources`, so they work from a source tree and from an installed wheel.
The repository's top-level ``resources/`` folder holds the same files, their README
(origin and licence) and the script that generates the synthetic set.
"""

from __future__ import annotations

import atexit
import contextlib
from importlib import resources
from pathlib import Path

from .errors import DataError

__all__ = ["DEMO_FILES", "DEMO_OPTIONS", "demo_datasets", "demo_options", "demo_path"]

DEMO_FILES: dict[str, str] = {
    "faithful": "faithful.csv",
    "synthetic": "synthetic.csv",
}
"""Name of each bundled dataset → its file in ``gmm_desktop/resources``."""

DEMO_OPTIONS: dict[str, dict[str, object]] = {
    "faithful": {"id_column": None, "columns": ["eruptions", "waiting"]},
    # ``id`` identifies the rows; ``cluster`` and ``is_injected_outlier`` are the ground
    # truth, never features.
    "synthetic": {"id_column": "id", "columns": ["x", "y"]},
}
"""How each bundled dataset is meant to be opened: its ID column and feature columns."""

_stack = contextlib.ExitStack()
atexit.register(_stack.close)
_cache: dict[str, Path] = {}


def _resolve(filename: str) -> Path:
    if filename in _cache:
        return _cache[filename]
    resource = resources.files("gmm_desktop").joinpath("resources").joinpath(filename)
    if isinstance(resource, Path):
        path = resource
    else:  # e.g. a zipped install: extract once, kept until the interpreter exits
        path = _stack.enter_context(resources.as_file(resource))
    if not path.is_file():
        raise DataError(
            "the bundled dataset is missing from the installation.",
            path=path,
            remedy="Reinstall gmm-desktop.",
        )
    _cache[filename] = path
    return path


def demo_datasets() -> dict[str, Path]:
    """Every bundled dataset: ``{"faithful": Path(...), "synthetic": Path(...)}``."""
    return {name: _resolve(filename) for name, filename in DEMO_FILES.items()}


def demo_path(name: str) -> Path:
    """The file of the bundled dataset ``name`` (``"faithful"`` or ``"synthetic"``).

    The file name (``"faithful.csv"``) is accepted too.  Raises :class:`DataError`
    for an unknown name.
    """
    key = name.removesuffix(".csv") if isinstance(name, str) else name
    if key not in DEMO_FILES:
        raise DataError(
            f"there is no bundled dataset called {name!r}.",
            remedy="Choose one of: " + ", ".join(repr(n) for n in DEMO_FILES) + ".",
        )
    return _resolve(DEMO_FILES[key])


def demo_options(name: str) -> dict[str, object]:
    """``{"id_column": ..., "columns": [...]}`` for the bundled dataset ``name``."""
    key = name.removesuffix(".csv") if isinstance(name, str) else name
    if key not in DEMO_OPTIONS:
        raise DataError(
            f"there is no bundled dataset called {name!r}.",
            remedy="Choose one of: " + ", ".join(repr(n) for n in DEMO_OPTIONS) + ".",
        )
    return {k: (list(v) if isinstance(v, list) else v) for k, v in DEMO_OPTIONS[key].items()}
