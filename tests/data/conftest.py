"""Fixtures for the data-layer tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, bytes | str], Path]:
    """``write(name, content)`` creates ``tmp_path / name`` (str content is UTF-8)."""

    def _write(name: str, content: bytes | str) -> Path:
        path = tmp_path / name
        data = content.encode("utf-8") if isinstance(content, str) else content
        path.write_bytes(data)
        return path

    return _write
