"""The dependency-free schema checker (gmm_desktop.schema) on its own."""

from __future__ import annotations

import json
import sys

import pytest

from gmm_desktop.schema import SchemaError, clip, json_depth, loads, nesting_depth, validate


def test_json_depth_ignores_brackets_in_strings_and_stops_early():
    assert json_depth('{"a": "[[[[{{{{", "b": [[1]]}') == 3
    assert json_depth('["a\\"]]]]", [{}]]') == 3
    assert json_depth("[" * 10**6, limit=64) == 65
    assert json_depth('"unterminated [[[[') == 0
    assert json_depth("1") == 0


def test_loads_refuses_deep_text_before_the_parser_recurses():
    text = "[" * (sys.getrecursionlimit() * 5) + "]" * (sys.getrecursionlimit() * 5)
    with pytest.raises(SchemaError, match="nested more than 64"):
        loads(text)
    assert loads("[" * 64 + "]" * 64) is not None
    with pytest.raises(SchemaError, match="NaN"):
        loads('{"a": NaN}')
    with pytest.raises(json.JSONDecodeError):
        loads('{"a": ')


def test_nesting_depth_of_parsed_values_is_iterative():
    value: list = []
    for _ in range(100_000):
        value = [value]
    assert nesting_depth(value, limit=10) == 11
    assert nesting_depth({"a": [1, {"b": 2}]}) == 3
    assert nesting_depth(5) == 0


SCHEMA = {
    "type": "object",
    "required": ("k",),
    "fields": {
        "k": {"type": "integer", "min": 1, "max": 10, "bind": "k"},
        "name": {"type": "string", "max_length": 5, "choices": ("a", "bb")},
        "w": {"type": "numbers", "shape": ("k",), "min": 0.0},
        "m": {"type": ("numbers", "null"), "shape": ("k", 2)},
        "tags": {"type": "array", "items": {"type": "string"}, "length": "k"},
        "blob": {"type": "any", "max_depth": 2},
        "x": {"type": "number", "check": lambda v, b: "must be even" if v % 2 else None},
    },
}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "must be a JSON object, got a list of 0"),
        ({}, "k: is missing"),
        ({"k": True}, "k: must be a whole number, got true"),
        ({"k": 11}, "k: must be at most 10, got 11"),
        ({"k": 2, "name": "abcdef"}, "name: is 6 characters long, more than 5"),
        ({"k": 2, "name": "c"}, "name: is 'c'; expected one of 'a', 'bb'"),
        ({"k": 2, "w": [1.0]}, "w: has shape (1,), expected (2,) (k,)"),
        ({"k": 2, "w": [1.0, -1.0]}, "w: must not hold values below 0"),
        ({"k": 2, "w": [1.0, None]}, "w: contains null where a number is expected"),
        ({"k": 2, "w": [[1.0], [2.0, 3.0]]}, "w: must be a rectangular list"),
        ({"k": 2, "w": [1.0, 10**30]}, "w: holds a whole number too large"),
        ({"k": 2, "m": [[1, 2], [3, 4], [5, 6]]}, "m: has shape (3, 2), expected (2, 2)"),
        ({"k": 2, "tags": ["a", 1]}, "tags[1]: must be text, got 1"),
        ({"k": 2, "tags": ["a"]}, "tags: must list 2 item(s), got 1"),
        ({"k": 2, "blob": [[[1]]]}, "blob: is nested more than 2 levels deep"),
        ({"k": 2, "x": 3}, "x: must be even"),
        ({"k": 2, "x": float("inf")}, "x: must be a finite number"),
    ],
)
def test_validate_names_the_field_and_the_problem(doc, message):
    with pytest.raises(SchemaError) as info:
        validate(doc, SCHEMA)
    assert message in str(info.value)


def test_validate_accepts_a_good_document_and_returns_the_bound_sizes():
    doc = {"k": 2, "name": "bb", "w": [0.5, 0.5], "m": None, "tags": ["a", "b"],
           "blob": [[1]], "x": 4, "unknown": {"kept": True}}
    assert validate(doc, SCHEMA) == {"k": 2}


def test_clip_bounds_and_escapes_echoed_text():
    assert clip("x" * 1000) == "'" + "x" * 78 + "…"
    assert len(clip("x" * 1000)) == 80
    assert "\n" not in clip("a\nb\rc")
    assert clip(3) == "3"
