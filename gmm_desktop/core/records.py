"""Small immutable records shared by the steps of a run: where data came from, what a
refit did, and the manual labels. JSON-ready (``to_dict``/``from_dict``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gmm_desktop.engine.anomaly import ThresholdSpec

__all__ = ["LABELS", "Labels", "RefitRecord", "SourceInfo", "json_ready"]

#: The manual labels: ``outlier`` (left out of fits, always flagged), ``normal`` (never
#: flagged), ``excluded`` (left out of fits).
LABELS = ("outlier", "normal", "excluded")


def json_ready(value: Any) -> Any:
    """Plain JSON types (numpy scalars and arrays converted, non-finite floats to None)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return value.item()
    return value


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value (row identities in JSON)."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class SourceInfo:
    """Where a table came from (provenance, saved with models, sessions and exports).

    ``path`` is ``None`` for a table handed over in memory (a DataFrame or an array).
    ``sha256`` is the file's checksum when it was read from a file, ``n_rows`` the rows of
    the table and ``n_rows_used`` the rows left after the missing-value policy.
    """

    path: str | None
    name: str
    n_rows: int
    n_rows_used: int | None = None
    id_column: str | None = None
    sheet: str | int | None = None
    demo: str | None = None
    sha256: str | None = None
    out_of_core: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "name": self.name,
            "n_rows": int(self.n_rows),
            "n_rows_used": None if self.n_rows_used is None else int(self.n_rows_used),
            "id_column": self.id_column,
            "sheet": self.sheet,
            "demo": self.demo,
            "sha256": self.sha256,
            "out_of_core": bool(self.out_of_core),
        }

    @classmethod
    def from_dict(cls, data: Any) -> SourceInfo | None:
        """Read :meth:`to_dict` (and the older dialects' source records); ``None`` if absent."""
        if data is None:
            return None
        if isinstance(data, str):  # the 0.1 window wrote the bare path
            return cls(path=data, name=data.replace("\\", "/").rsplit("/", 1)[-1], n_rows=0)
        if not isinstance(data, Mapping):
            raise ValueError(f"a source record must be an object, got {type(data).__name__}")
        path = data.get("path")
        sheet = data.get("sheet")
        n_used = data.get("n_rows_used")
        return cls(
            path=None if path is None else str(path),
            name=str(data.get("name") or (path or "data")),
            n_rows=int(data.get("n_rows") or 0),
            n_rows_used=None if n_used is None else int(n_used),
            id_column=None if data.get("id_column") is None else str(data["id_column"]),
            sheet=sheet if isinstance(sheet, int | str) and not isinstance(sheet, bool) else None,
            demo=None if data.get("demo") is None else str(data["demo"]),
            sha256=None if data.get("sha256") is None else str(data["sha256"]),
            out_of_core=bool(data.get("out_of_core", False)),
        )


@dataclass(frozen=True)
class RefitRecord:
    """What an accepted refit strategy did: saved with the model it produced.

    ``spec`` is the threshold the analyst had set when the strategy ran; the model's own
    threshold (the rule that reproduces the refit's flags) is saved beside it.
    """

    strategy: str
    params: tuple[tuple[str, Any], ...] = ()
    spec: ThresholdSpec | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    history: tuple[Mapping[str, Any], ...] = ()

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.params)

    def to_dict(self) -> dict[str, Any]:
        return json_ready({
            "strategy": self.strategy,
            "params": dict(self.params),
            "spec": None if self.spec is None else self.spec.to_dict(),
            "info": dict(self.info),
            "history": [dict(h) for h in self.history],
        })

    @classmethod
    def from_dict(cls, data: Any) -> RefitRecord | None:
        if data is None:
            return None
        if not isinstance(data, Mapping) or not isinstance(data.get("strategy"), str):
            raise ValueError("a refit record needs the strategy's name")
        params = data.get("params") or {}
        if not isinstance(params, Mapping):
            raise ValueError("a refit record's params must be an object")
        spec = data.get("spec")
        history = data.get("history") or []
        info = data.get("info") or {}
        if not isinstance(history, list) or not isinstance(info, Mapping):
            raise ValueError("a refit record's history must be a list and its info an object")
        return cls(
            strategy=str(data["strategy"]),
            params=tuple(sorted((str(k), v) for k, v in params.items())),
            spec=None if spec is None else ThresholdSpec.from_dict(spec),
            info=dict(info),
            history=tuple(dict(h) for h in history if isinstance(h, Mapping)),
        )


def _ids(values: Iterable[Any]) -> np.ndarray:
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values)
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    out = np.unique(arr)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class Labels:
    """The analyst's manual labels, as sets of row identities (they survive a refit, a new
    column choice and a reopened session)."""

    outlier: np.ndarray = field(default_factory=lambda: _ids(()))
    normal: np.ndarray = field(default_factory=lambda: _ids(()))
    excluded: np.ndarray = field(default_factory=lambda: _ids(()))

    def __post_init__(self) -> None:
        for name in LABELS:
            object.__setattr__(self, name, _ids(getattr(self, name)))

    def ids(self, label: str) -> np.ndarray:
        if label not in LABELS:
            raise ValueError(f"unknown label {label!r}; use one of {', '.join(LABELS)}")
        return getattr(self, label)

    @property
    def empty(self) -> bool:
        return all(getattr(self, k).size == 0 for k in LABELS)

    @property
    def fit_excluded(self) -> np.ndarray:
        """Row identities a fit leaves out: marked outlier or excluded."""
        return _ids(np.union1d(self.outlier, self.excluded))

    def key(self) -> tuple[tuple[Any, ...], ...]:
        """A hashable value (to tell whether labels changed)."""
        return tuple(tuple(plain(v) for v in getattr(self, k)) for k in LABELS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Labels) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def with_label(self, ids: Any, label: str | None) -> Labels:
        """These rows take ``label`` (``None`` clears their labels)."""
        chosen = _ids(np.asarray(ids))
        parts = {k: np.setdiff1d(getattr(self, k), chosen) for k in LABELS}
        if label is not None:
            if label not in LABELS:
                raise ValueError(f"unknown label {label!r}; use one of {', '.join(LABELS)}")
            parts[label] = np.union1d(parts[label], chosen)
        return Labels(**parts)

    def masks(self, row_ids: np.ndarray) -> dict[str, np.ndarray]:
        """Boolean masks over rows with the given identities."""
        return {k: np.isin(row_ids, getattr(self, k)) if getattr(self, k).size else
                np.zeros(row_ids.shape[0], dtype=bool) for k in LABELS}

    def to_dict(self) -> dict[str, list[Any]]:
        return {k: [plain(v) for v in getattr(self, k)] for k in LABELS}

    @classmethod
    def from_dict(cls, data: Any, dtype: Any = None) -> Labels:
        if not data:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError("labels must be an object with outlier/normal/excluded lists")
        parts = {}
        for k in LABELS:
            values = data.get(k) or []
            if not isinstance(values, list):
                raise ValueError(f"the {k} labels must be a list of row identities")
            parts[k] = np.asarray(values, dtype=dtype) if values else np.empty(0, np.int64)
        return cls(**parts)
