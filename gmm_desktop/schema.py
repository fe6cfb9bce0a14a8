"""A small, dependency-free checker for JSON documents (model files, sessions, metadata).

Files a user opens (a model, a session) are data from outside: before any of their content
is used it is checked against a *declared* schema, so that every malformed document gives
one clear message naming the field, instead of a ``TypeError``, a ``RecursionError`` or a
``MemoryError`` from deep inside the program. The rules are plain data (dicts), so the
shape of a document is written down once and can be read, tested and reused.

Two steps:

1. :func:`loads` parses JSON text after a bounded, non-recursive scan of its nesting depth
   (Python's ``json`` module recurses and a document nested 5,000 levels deep raises
   ``RecursionError``), and refuses ``NaN``/``Infinity`` literals.
2. :func:`validate` checks a parsed value against a schema node.

A schema node is a dict; ``"type"`` is one name or a tuple of names among ``"object"``,
``"array"``, ``"string"``, ``"integer"``, ``"number"``, ``"boolean"``, ``"null"``,
``"numbers"`` (a rectangular nested list of numbers, checked with numpy) and ``"any"``.
Other keys, by type:

``object``
    ``fields`` (name → node, checked in this order), ``required`` (names that must be
    present), ``values`` (node every value must match), ``max_keys``.
``array``
    ``items`` (node every item must match), ``min_items``, ``max_items``, ``length`` (an
    int or the name of a bound size, see ``bind``).
``string``
    ``max_length``, ``choices``.
``integer`` / ``number``
    ``min``, ``max`` (numbers are always finite), ``bind`` (record the value under this
    name so that later ``length``/``shape`` rules can refer to it).
``numbers``
    ``ndim``, ``shape`` (a tuple of ints, bound names or ``None``), ``max_size``,
    ``min`` (every value at least this).
``any``
    ``max_depth`` (nesting depth of the value).
Every node may also have ``check``: a function ``(value, bound) -> str | None`` for a rule
that involves several fields (a message, or ``None`` when all is well), and ``label``, a
human name used in messages.

Example::

    SCHEMA = {"type": "object", "required": ("k",), "fields": {
        "k": {"type": "integer", "min": 1, "max": 1000, "bind": "k"},
        "weights": {"type": "numbers", "shape": ("k",), "min": 0.0},
    }}
    validate(loads(text), SCHEMA)        # raises SchemaError("weights: ...")
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "SchemaError",
    "clip",
    "json_depth",
    "loads",
    "nesting_depth",
    "validate",
]

#: Deepest nesting of arrays/objects a document may have (a model needs 5).
DEFAULT_MAX_DEPTH = 64
#: Longest user text echoed in a message.
ECHO_LIMIT = 80

# A string (possessive, so an unterminated one costs one linear scan) or a bracket.
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)


class SchemaError(ValueError):
    """A document does not match its schema.

    Attributes:
        path: where in the document (``"params.covariance_type"``, ``"means[1][0]"``; empty
            for the document itself).
        problem: what is wrong, for a person.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


def clip(value: Any, limit: int = ECHO_LIMIT) -> str:
    """``repr``-like text of ``value`` for a message, cut to ``limit`` characters with "…".

    Strings are shown quoted; anything else by ``repr``. Line breaks and control
    characters are escaped, so a message stays on one line whatever the input was.
    """
    text = repr(value) if not isinstance(value, str) else repr(str(value))
    if len(text) > limit:
        text = text[: max(limit - 1, 1)] + "…"
    return text


def json_depth(text: str, limit: int = DEFAULT_MAX_DEPTH) -> int:
    """Deepest nesting of ``[``/``{`` in JSON ``text``, scanned without recursion.

    Brackets inside strings do not count. The scan stops as soon as ``limit`` is exceeded
    and then returns ``limit + 1`` (so a 5,000-level document costs no more than a
    65-level one). Malformed text is not diagnosed here: the parser does that.
    """
    depth = deepest = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return limit + 1
        elif token in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"the JSON contains {name}, which is not a valid JSON number")


def loads(text: str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse JSON ``text`` whose nesting is at most ``max_depth`` levels.

    Raises :class:`SchemaError` for deeper nesting and for ``NaN``/``Infinity`` (not JSON,
    though Python's parser accepts them), and :class:`json.JSONDecodeError` for text that
    is not JSON at all.
    """
    depth = json_depth(text, max_depth)
    if depth > max_depth:
        raise SchemaError(
            "",
            f"the document is nested more than {max_depth} levels deep; a valid file is "
            "never that deep, so it is damaged or was not written by gmm-desktop",
        )
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:  # only if max_depth was set above the interpreter's limit
        raise SchemaError("", "the document is nested too deeply to be read") from None
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise
        raise SchemaError("", f"{exc}; the file is damaged or was edited by hand") from None


def nesting_depth(value: Any, limit: int = DEFAULT_MAX_DEPTH) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), without recursion.

    Stops and returns ``limit + 1`` once deeper than ``limit``.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return limit + 1
        stack.extend((child, depth) for child in children)
    return deepest


_TYPE_NAMES = {
    "object": "a JSON object",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
    "numbers": "a list of numbers",
    "any": "any value",
}


def _is(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, Mapping)
    if kind in ("array", "numbers"):
        return isinstance(value, list | tuple)
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    if kind == "any":
        return True
    raise ValueError(f"unknown schema type {kind!r}")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a JSON object"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}"
    if isinstance(value, str):
        return f"the text {clip(value)}"
    return clip(value)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _size(spec: Any, bound: Mapping[str, int]) -> int | None:
    if spec is None or isinstance(spec, int):
        return spec
    return bound.get(spec)


def _not_numbers(value: Any) -> str:
    """Why a nested list that numpy could not read as numbers is not numbers."""
    stack, seen = [value], 0
    while stack and seen < 10_000_000:
        item = stack.pop()
        seen += 1
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif item is None:
            return "contains null where a number is expected (NaN or a missing value)"
        elif isinstance(item, bool):
            return "holds true/false where a number is expected"
        elif isinstance(item, str):
            return f"holds text ({clip(item)}) where a number is expected"
        elif isinstance(item, Mapping):
            return "holds a JSON object where a number is expected"
        elif isinstance(item, int) and abs(item) >= 2**63:
            return f"holds a whole number too large for this program ({clip(item)})"
    return "must be a rectangular list of numbers (rows of equal length)"


def _only_numbers(value: Any) -> bool:
    """Whether every leaf of a nested list is an int or a float (not a bool, text, null).

    numpy would turn ``true`` into 1.0 and ``"0.5"`` into 0.5 silently; this looks at the
    leaves' types first, at C speed (``set(map(type, row))`` per innermost list).
    """
    stack = [value]
    while stack:
        item = stack.pop()
        types = set(map(type, item))
        if types <= _NUMBER_TYPES:
            continue
        if types <= _SEQUENCE_TYPES:
            stack.extend(item)
            continue
        return False
    return True


_NUMBER_TYPES = {int, float}
_SEQUENCE_TYPES = {list, tuple}


def _check_numbers(value: Any, node: Mapping[str, Any], path: str, bound: dict[str, int]) -> None:
    arr = None
    if _only_numbers(value):
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError, OverflowError):
            arr = None
    if arr is None or arr.dtype.kind not in "iuf":
        raise SchemaError(path, _not_numbers(value))
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise SchemaError(path, "contains NaN or infinite values")
    ndim = node.get("ndim")
    shape = node.get("shape")
    if shape is not None:
        ndim = len(shape)
    if ndim is not None and arr.ndim != ndim:
        raise SchemaError(path, f"must have {ndim} dimension(s), got shape {arr.shape}")
    if shape is not None:
        expected = tuple(_size(s, bound) for s in shape)
        if any(w is not None and g != w for g, w in zip(arr.shape, expected, strict=True)):
            names = ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "")
            shown = tuple("?" if w is None else w for w in expected)
            raise SchemaError(path, f"has shape {arr.shape}, expected {shown} ({names})")
    max_size = node.get("max_size")
    if max_size is not None and arr.size > max_size:
        raise SchemaError(path, f"holds {arr.size:,} values, more than the {max_size:,} allowed")
    low = node.get("min")
    if low is not None and arr.size and float(arr.min()) < low:
        raise SchemaError(path, f"must not hold values below {low:g} (found {float(arr.min()):g})")


def validate(
    value: Any,
    schema: Mapping[str, Any],
    *,
    path: str = "",
    bound: dict[str, int] | None = None,
) -> dict[str, int]:
    """Check ``value`` against ``schema``; return the sizes bound on the way.

    Raises :class:`SchemaError` naming the first field that does not match. The walk
    follows the schema (whose depth is fixed), not the value, so a deeply nested value
    cannot exhaust the stack; ``"any"`` nodes check their nesting without recursion.
    """
    bound = {} if bound is None else bound
    kinds = schema.get("type", "any")
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    matched = next((k for k in kinds if _is(value, k)), None)
    label = schema.get("label")
    where = path or "the document"
    if matched is None:
        wanted = " or ".join(_TYPE_NAMES[k] for k in kinds)
        name = f"{label} " if label else ""
        raise SchemaError(path, f"{name}must be {wanted}, got {_describe(value)}".strip())
    if matched == "object":
        _validate_object(value, schema, path, bound)
    elif matched == "array":
        items = len(value)
        low, high = schema.get("min_items"), schema.get("max_items")
        length = _size(schema.get("length"), bound)
        if length is not None and items != length:
            raise SchemaError(path, f"must list {length} item(s), got {items}")
        if low is not None and items < low:
            raise SchemaError(path, f"must list at least {low} item(s), got {items}")
        if high is not None and items > high:
            raise SchemaError(path, f"must list at most {high:,} item(s), got {items:,}")
        item_schema = schema.get("items")
        if item_schema is not None:
            for i, item in enumerate(value):
                validate(item, item_schema, path=_join(path, i), bound=bound)
        else:
            _check_depth(value, schema, path)
    elif matched == "numbers":
        _check_numbers(value, schema, where if not path else path, bound)
    elif matched == "string":
        high = schema.get("max_length")
        if high is not None and len(value) > high:
            raise SchemaError(path, f"is {len(value):,} characters long, more than {high:,}")
        choices = schema.get("choices")
        if choices is not None and value not in choices:
            raise SchemaError(
                path, f"is {clip(value)}; expected one of {', '.join(map(repr, choices))}"
            )
    elif matched in ("integer", "number"):
        if isinstance(value, float) and not math.isfinite(value):
            raise SchemaError(path, f"must be a finite number, got {value}")
        low, high = schema.get("min"), schema.get("max")
        if low is not None and value < low:
            raise SchemaError(path, f"must be at least {low:g}, got {clip(value)}")
        if high is not None and value > high:
            raise SchemaError(path, f"must be at most {high:g}, got {clip(value)}")
        if "bind" in schema and matched == "integer":
            bound[schema["bind"]] = int(value)
    elif matched == "any":
        _check_depth(value, schema, path)
    check: Callable[[Any, dict[str, int]], str | None] | None = schema.get("check")
    if check is not None:
        problem = check(value, bound)
        if problem:
            raise SchemaError(path, problem)
    return bound


def _check_depth(value: Any, schema: Mapping[str, Any], path: str) -> None:
    limit = schema.get("max_depth", DEFAULT_MAX_DEPTH)
    if nesting_depth(value, limit) > limit:
        raise SchemaError(path, f"is nested more than {limit} levels deep")


def _validate_object(
    value: Mapping[str, Any], schema: Mapping[str, Any], path: str, bound: dict[str, int]
) -> None:
    max_keys = schema.get("max_keys")
    if max_keys is not None and len(value) > max_keys:
        raise SchemaError(path, f"has {len(value):,} entries, more than {max_keys:,}")
    for key in schema.get("required", ()):
        if key not in value:
            raise SchemaError(_join(path, key), "is missing")
    fields: Mapping[str, Any] = schema.get("fields", {})
    for key, node in fields.items():
        if key in value:
            validate(value[key], node, path=_join(path, key), bound=bound)
    values_node = schema.get("values")
    for key, item in value.items():
        if not isinstance(key, str):  # pragma: no cover - JSON keys are always text
            raise SchemaError(path, f"has a key that is not text: {clip(key)}")
        if key in fields:
            continue
        if values_node is not None:
            validate(item, values_node, path=_join(path, key), bound=bound)
        else:
            _check_depth(item, schema, _join(path, key))


# --------------------------------------------------------------------------- shared schemas
#
# Declared here (not next to the code that writes them) so that every layer that reads
# these sections checks them the same way: the engine when it loads a model file, the
# application core and the window when they use the model's metadata.

_NAME = {"type": "string", "max_length": 10_000}
_NAMES = {"type": "array", "items": _NAME, "max_items": 1_000_000}
_JSON_LEAF = {"type": "any", "max_depth": 16}

THRESHOLD_SPEC = {
    "type": "object",
    "required": ("kind", "value"),
    "fields": {
        "kind": {"type": "string", "max_length": 100},
        "value": {"type": "number"},
        "small_component_share": {"type": ("number", "null")},
    },
    "max_depth": 4,
}
"""A threshold rule (``ThresholdSpec.to_dict``)."""

THRESHOLD = {
    "type": "object",
    "required": ("spec",),
    "fields": {
        "spec": THRESHOLD_SPEC,
        "log_density_cutoff": {"type": ("number", "null")},
        "cutoff_infinite": {"type": ("string", "null"), "choices": ("+", "-")},
        "radius": {"type": ("number", "null"), "min": 0.0},
        "anomalous_components": {
            "type": "array", "items": {"type": "integer", "min": 0}, "max_items": 100_000
        },
        "n_fit": {"type": "integer", "min": 0},
        "description": {"type": "string"},
    },
    "max_depth": 4,
}
"""A fitted threshold (``Threshold.to_dict``)."""

DETECTOR_CONFIG = {
    "type": "object",
    "fields": {
        "columns": {"type": ("array", "null"), "items": _NAME, "max_items": 1_000_000},
        "n_components": {
            "type": ("integer", "array"),
            "min": 1,
            "items": {"type": "integer", "min": 1},
            "max_items": 10_000,
        },
        "covariance_types": {"type": "array", "items": _NAME, "max_items": 1_000},
        "scaling": {"type": "string", "max_length": 100},
        "missing": {"type": "string", "max_length": 100},
        "threshold": THRESHOLD_SPEC,
        "refit": {"type": ("string", "null"), "max_length": 1_000},
        "refit_params": {"type": "object", "values": {
            "type": ("number", "string", "boolean", "null"), "max_length": 10_000}},
        "n_init": {"type": "integer", "min": 1},
        "max_iter": {"type": "integer", "min": 0},
        "reg_covar": {"type": "number", "min": 0.0},
        "random_state": {"type": ("integer", "null")},
        "id_column": {"type": ("string", "null"), "max_length": 10_000},
    },
    "max_depth": 4,
}
"""The detection settings saved with a model (``DetectorConfig.to_dict``)."""

SCALER = {
    "type": "object",
    "fields": {
        "format": {"type": "string", "max_length": 200},
        "version": {"type": "integer"},
        "method": {"type": "string", "max_length": 100},
        "columns": {"type": ("array", "null"), "items": _NAME, "max_items": 1_000_000},
        "center": {"type": "numbers", "ndim": 1, "max_size": 1_000_000},
        "scale": {"type": "numbers", "ndim": 1, "max_size": 1_000_000},
    },
    "max_depth": 4,
}
"""A feature scaler (``Scaler.to_dict``); its own ``from_dict`` checks the values."""

ANOMALY_EXTRA = {
    "type": "object",
    "fields": {
        "columns": {"type": "array", "items": _NAME, "length": "n_features"},
        "scaler": SCALER,
        "medians": {"type": ("object", "null"), "values": {"type": ("number", "null")}},
        "threshold": {"type": ("object", "null"), **{k: v for k, v in THRESHOLD.items()
                                                     if k != "type"}},
        "source": _JSON_LEAF,
        "config": {"type": ("object", "null"), **{k: v for k, v in DETECTOR_CONFIG.items()
                                                  if k != "type"}},
        "refit": {"type": ("object", "null"), "max_depth": 16},
    },
    "max_depth": 16,
}
"""``extra["anomaly"]`` of a model document: columns, scaler, threshold, source, settings.

``columns`` must list one name per feature (the size ``n_features`` bound by the model schema)."""

FEATURES_EXTRA = {
    "type": "object",
    "fields": {
        "columns": {"type": "array", "items": _NAME, "length": "n_features"},
        "missing": {"type": "string", "max_length": 100},
        "scaling": {"type": "string", "max_length": 100},
    },
    "max_depth": 4,
}
"""``extra["features"]`` of a model document saved by the window."""
