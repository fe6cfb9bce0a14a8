"""Session files from anywhere: every malformed section gives a clear message and the rest is
restored; nothing else ever escapes (property-based, bounded)."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gmm_desktop.core import Detector, RunConfig, SessionFileError, parse_session
from gmm_desktop.data import demo_path


@pytest.fixture(scope="module")
def valid_doc():
    det = Detector(RunConfig(id_column="id", columns=("x", "y"), n_components=2))
    det.load(demo_path("synthetic"))
    det.fit()
    det.detect()
    det.label([1, 2], "outlier")
    return det.session_document(view={"axes": "columns"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)
SECTIONS = ["dataset", "config", "model", "detection", "analysis", "view"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(section=st.sampled_from(SECTIONS), value=json_values)
def test_a_malformed_section_is_named_and_the_rest_is_restored(valid_doc, section, value):
    doc = copy.deepcopy(valid_doc)
    doc[section] = value
    contents = parse_session(json.loads(json.dumps(doc)), "fuzz.json")
    # the other sections came through
    if section != "config":
        assert contents.config == RunConfig.from_dict(valid_doc["config"])
    if section not in ("model",):
        assert contents.bundle is not None
    if section not in ("analysis",):
        assert contents.labels.outlier.tolist() == [1, 2]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.lists(st.sampled_from([*SECTIONS, "features", "params", "extra", "gmm_desktop",
                                      "threshold", "labels", "n_components", "weights",
                                      "means", "covariances"]),
                     min_size=1, max_size=4),
       value=json_values)
def test_deep_mutations_give_a_session_or_a_clear_error(valid_doc, path, value):
    doc = copy.deepcopy(valid_doc)
    node = doc
    for key in path[:-1]:
        nxt = node.get(key) if isinstance(node, dict) else None
        if not isinstance(nxt, dict):
            break
        node = nxt
    if isinstance(node, dict):
        node[path[-1]] = value
    try:
        contents = parse_session(json.loads(json.dumps(doc)), "fuzz.json")
    except SessionFileError as exc:
        assert "fuzz.json" in str(exc)
        return
    for problem in contents.problems:
        assert isinstance(problem, str) and problem


@given(header=st.dictionaries(st.sampled_from(["format", "format_version", "library"]),
                              json_values, max_size=3))
@settings(max_examples=60, deadline=None)
def test_a_bad_header_is_refused_with_the_file_named(header):
    try:
        parse_session(header, "head.json")
    except SessionFileError as exc:
        assert "head.json" in str(exc)
