"""Crash-safe file writing shared by every layer (no Qt here).

:func:`atomic_write` writes to a temporary file in the destination's own directory and
moves it over the destination with :func:`os.replace` only once everything has been
written and flushed to disk.  A reader therefore sees either the old file or the new
one, never a half-written mixture, and a failure (an exception, a full disk) leaves the
old file exactly as it was and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import IO, Any

from gmm_desktop.schema import DEFAULT_MAX_DEPTH, SchemaError, loads

__all__ = [
    "StagedFile",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "read_json",
    "staged_write",
]


def _temp_path_for(target: Path) -> Path:
    # Same directory (so os.replace is a rename on one file system), hidden, unique, and
    # keeping the destination's suffix for libraries that choose a format by extension.
    token = secrets.token_hex(6)
    return target.with_name(f".{target.stem}-{token}.tmp{target.suffix}")


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_path(path: Path) -> None:
    with contextlib.suppress(OSError), open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass
class StagedFile:
    """A finished, flushed temporary file waiting to replace its destination.

    :func:`staged_write` produces it; :meth:`commit` moves it over the destination in one
    step (:func:`os.replace`), :meth:`discard` removes it. Used to replace several files
    as a set (a table and its sidecar) with the renames as the last, shortest step.
    """

    target: Path
    temp: Path
    permissions: int

    def commit(self) -> None:
        """Rename the temporary file over the destination (atomic on one file system)."""
        with contextlib.suppress(OSError):
            os.chmod(self.temp, self.permissions)
        os.replace(self.temp, self.target)
        _fsync_dir(self.target.parent)

    def discard(self) -> None:
        """Remove the temporary file (never the destination)."""
        with contextlib.suppress(OSError):
            self.temp.unlink()


@contextlib.contextmanager
def staged_write(
    path: str | PathLike[str],
    mode: str | None = None,
    *,
    encoding: str | None = "utf-8",
    newline: str | None = None,
) -> Iterator[tuple[StagedFile, Any]]:
    """Write the content of ``path`` to a temporary file, without replacing ``path`` yet.

    Yields ``(staged, target)`` where ``target`` is what :func:`atomic_write` yields (the
    temporary path, or an open file). When the body ends normally the file is flushed,
    ``fsync``-ed and closed, and the caller must :meth:`StagedFile.commit` or
    :meth:`StagedFile.discard` it; when the body raises, the temporary file is removed.
    """
    target = Path(path)
    if mode is not None and not mode.startswith("w"):
        raise ValueError(f"atomic_write needs a write mode ('w', 'wb', ...), not {mode!r}")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"The folder '{target.parent}' does not exist.")
    try:
        permissions = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        permissions = _default_mode()
    staged = StagedFile(target, _temp_path_for(target), permissions)
    handle: IO[Any] | None = None
    try:
        if mode is None:
            yield staged, staged.temp
            if not staged.temp.exists():
                raise FileNotFoundError(
                    f"Nothing was written to the temporary file '{staged.temp}'."
                )
            _fsync_path(staged.temp)
        else:
            kwargs: dict[str, Any] = {}
            if "b" not in mode:
                kwargs = {"encoding": encoding, "newline": newline}
            handle = open(staged.temp, mode, **kwargs)  # closed below, on every path
            yield staged, handle
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
    except BaseException:
        if handle is not None and not handle.closed:
            with contextlib.suppress(Exception):
                handle.close()
        staged.discard()
        raise


@contextlib.contextmanager
def atomic_write(
    path: str | PathLike[str],
    mode: str | None = None,
    *,
    encoding: str | None = "utf-8",
    newline: str | None = None,
) -> Iterator[Any]:
    """Write ``path`` atomically.

    Args:
        path: the destination.  Its directory must exist.
        mode: ``None`` to receive the temporary file's :class:`~pathlib.Path` (for
            libraries that want to open the file themselves, such as pandas or pyarrow),
            or an ``open`` mode starting with ``"w"`` (``"w"``, ``"wb"``, ``"w+"``...)
            to receive an open file object.
        encoding: text encoding when ``mode`` is a text mode.
        newline: passed to :func:`open` for text modes.

    Yields:
        The temporary path, or the open temporary file.

    On success the temporary file is flushed, ``fsync``-ed and renamed over ``path``
    (keeping an existing destination's permission bits).  If the body raises, the
    temporary file is removed, the destination is left untouched and the exception
    propagates.

    Example::

        with atomic_write("model.json", "w") as handle:
            json.dump(document, handle)
    """
    with staged_write(path, mode, encoding=encoding, newline=newline) as (staged, target):
        yield target
    try:
        staged.commit()
    except BaseException:
        staged.discard()
        raise


def atomic_write_text(path: str | PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_write(path, "w", encoding=encoding) as handle:
        handle.write(text)


def atomic_write_bytes(path: str | PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def read_json(
    path: str | PathLike[str],
    *,
    what: str,
    error: type[Exception],
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Any:
    """The JSON document in ``path``, or ``error`` with a message a user can act on.

    ``what`` names the kind of file in messages ("model", "session"). A missing file, an
    unreadable one, invalid (e.g. truncated) JSON, ``NaN``/``Infinity`` literals and
    nesting deeper than ``max_depth`` levels each get their own one-line message; the
    depth is checked by a linear scan before parsing, so no document can exhaust the
    interpreter's stack (a ``RecursionError``) while being read or used.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{source}: no such {what} file") from None
    except IsADirectoryError:
        raise error(f"{source}: this is a folder, not a {what} file") from None
    except UnicodeDecodeError:
        raise error(
            f"{source}: not a gmm-desktop {what} (the file is not UTF-8 text: it is binary "
            "or in another encoding)"
        ) from None
    except MemoryError:
        raise error(f"{source}: the file is too large to be a {what} file") from None
    except OSError as exc:
        raise error(f"{source}: cannot be read as a {what} file ({exc.strerror or exc})") from None
    try:
        return loads(text, max_depth=max_depth)
    except json.JSONDecodeError as exc:
        raise error(
            f"{source}: not a gmm-desktop {what} (invalid JSON at line {exc.lineno}: "
            f"{exc.msg}); the file may be truncated or corrupt"
        ) from None
    except SchemaError as exc:
        raise error(f"{source}: not a usable {what} file: {exc.problem}") from None
    except MemoryError:
        raise error(f"{source}: the file is too large to be a {what} file") from None
