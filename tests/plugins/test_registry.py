"""Discovery through entry points: built-ins, packages, failures, clashes and disabling."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gmm_desktop.errors import PluginError
from gmm_desktop.registry import (
    Registry,
    format_plugin_table,
    get_registry,
    plugin_table,
    use_registry,
)
from gmm_desktop.settings import Settings

COV = "gmm_desktop.covariance_types"
INIT = "gmm_desktop.initializers"
REFIT = "gmm_desktop.refit_strategies"

# A diag covariance under another name, written the way a third party would.
GOOD_COV = """
    from pathlib import Path
    from gmm_desktop.plugin_api import CovarianceType

    IMPORTED = Path(__file__).with_suffix(".imported")
    IMPORTED.write_text("yes")

    class MyDiag(CovarianceType):
        name = "mydiag"
        description = "a third-party diagonal type"
        structure = "diag"

        def n_parameters(self, n_components, n_features):
            return n_components * n_features

        def covariance_shape(self, n_components, n_features):
            return (n_components, n_features)

        def m_step(self, stats, reg_covar):
            return stats.scatter / stats.nk[:, None] + reg_covar
"""


def _record(reg, kind, name, origin_prefix):
    found = [r for r in reg.records(kind) if r.name == name and r.origin.startswith(origin_prefix)]
    assert len(found) == 1, [(r.name, r.origin) for r in reg.records(kind)]
    return found[0]


def test_builtins_are_discovered_through_entry_points_without_importing_them(config_dir):
    code = textwrap.dedent(
        """
        import json, sys
        from importlib import metadata
        from gmm_desktop.registry import GROUPS, get_registry
        reg = get_registry()
        names = {k: reg.names(k) for k in GROUPS}
        builtin = {k: sorted(r.name for r in reg.records(k) if r.origin == "built-in")
                   for k in GROUPS}
        modules = {ep.value.split(":")[0]
                   for group in GROUPS.values() for ep in metadata.entry_points(group=group)}
        print(json.dumps({"names": names, "builtin": builtin,
                          "imported": sorted(m for m in modules if m in sys.modules)}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    out = json.loads(proc.stdout)
    assert out["builtin"]["covariance"] == ["diag", "full", "spherical", "tied"]
    assert out["builtin"]["initializer"] == ["k-means++", "kmeans", "random", "random_from_data"]
    assert out["builtin"]["refit"] == ["iterative-trimming", "noise-component", "trim-and-refit"]
    # built-ins come first in names(), whatever else is installed
    assert out["names"]["covariance"][:4] == ["diag", "full", "spherical", "tied"]
    assert out["imported"] == []  # discovery imported no plugin module


def test_a_package_plugin_is_discovered_lazily_and_used_in_a_fit(make_dist, settings, tmp_path):
    from gmm_desktop.engine import GaussianMixture

    module = make_dist("acme-gmm", {COV: {"mydiag": "MOD:MyDiag"}}, {"MOD": GOOD_COV},
                       version="2.3")
    reg = Registry(settings=settings)
    rec = _record(reg, "covariance", "mydiag", "package")
    assert rec.origin == "package acme-gmm 2.3"
    assert rec.status == "not loaded"
    assert "mydiag" in reg.names("covariance")
    assert module not in sys.modules  # discovery read metadata only

    X = np.random.RandomState(0).normal(size=(200, 3)) * [1, 2, 3]
    with use_registry(reg):
        ours = GaussianMixture(2, covariance_type="mydiag", random_state=0).fit(X)
        builtin = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    assert rec.status == "loaded" and rec.description == "a third-party diagonal type"
    np.testing.assert_allclose(ours.covariances_, builtin.covariances_, rtol=1e-12)
    assert get_registry() is not reg  # use_registry lasts for the with block only


BROKEN = {
    "import-error": ("MOD_a:Thing", {"MOD_a": "raise RuntimeError('boom at import')\n"},
                     "import failed: RuntimeError: boom at import"),
    "missing-attr": ("MOD_b:Nope", {"MOD_b": "X = 1\n"}, "import failed: AttributeError"),
    "not-a-class": ("MOD_c:thing", {"MOD_c": "thing = 42\n"}, "expected a class, got int"),
    "wrong-base": ("MOD_d:Foo", {"MOD_d": "class Foo:\n    structure = 'full'\n"},
                   "does not subclass gmm_desktop.plugin_api.CovarianceType"),
    "abstract": ("MOD_e:Half", {"MOD_e": (
        "from gmm_desktop.plugin_api import CovarianceType\n"
        "class Half(CovarianceType):\n    name = 'abstract'\n"
        "    def n_parameters(self, k, d):\n        return 1\n")},
        "Half does not implement covariance_shape, m_step"),
    "bad-structure": ("MOD_f:Odd", {"MOD_f": (
        "from gmm_desktop.plugin_api import CovarianceType\n"
        "class Odd(CovarianceType):\n    structure = 'banded'\n"
        "    def n_parameters(self, k, d): return 1\n"
        "    def covariance_shape(self, k, d): return (k,)\n"
        "    def m_step(self, stats, reg): return None\n")},
        "Odd.structure must be 'full' or 'diag'"),
}


def test_broken_packages_are_listed_as_failed_and_never_stop_the_others(make_dist, settings):
    entry_points = {COV: {name: target for name, (target, _, _) in BROKEN.items()}}
    entry_points[COV]["mydiag"] = "MOD:MyDiag"
    modules = {"MOD": GOOD_COV}
    for _, files, _ in BROKEN.values():
        modules.update(files)
    make_dist("broken-gmm", entry_points, modules)
    reg = Registry(settings=settings)
    records = {r.name: r for r in reg.load_all() if r.kind == "covariance"}
    for name, (_, _, message) in BROKEN.items():
        assert records[name].status == "failed", name
        assert message in records[name].error, (name, records[name].error)
        with pytest.raises(PluginError) as info:
            reg.get_class("covariance", name)
        assert info.value.plugin == name
        assert f"'{name}' (package broken-gmm 1.0)" in str(info.value)
    assert records["mydiag"].status == "loaded"
    assert records["full"].status == "loaded"
    names = reg.names("covariance")
    assert names[:4] == ["diag", "full", "spherical", "tied"] and "mydiag" in names
    assert not set(BROKEN) & set(names)


def test_a_refit_strategy_with_a_bad_parameter_schema_fails_at_discovery(make_dist, settings):
    source = """
        from gmm_desktop.plugin_api import ParamSpec, RefitStrategy

        class Dup(RefitStrategy):
            name = "dup"
            parameters = (ParamSpec("alpha", "float", 0.1), ParamSpec("alpha", "int", 1))
            def run(self, X, model, **kw):
                raise NotImplementedError

        class NotSpecs(RefitStrategy):
            name = "not-specs"
            parameters = ({"name": "alpha"},)
            def run(self, X, model, **kw):
                raise NotImplementedError
    """
    bad_default = """
        from gmm_desktop.plugin_api import ParamSpec, RefitStrategy

        class BadDefault(RefitStrategy):
            name = "bad-default"
            parameters = (ParamSpec("alpha", "float", 2.0, maximum=1.0),)
            def run(self, X, model, **kw):
                raise NotImplementedError
    """
    make_dist("refits", {REFIT: {"dup": "MOD:Dup", "not-specs": "MOD:NotSpecs",
                                 "bad-default": "MOD_b:BadDefault"}},
              {"MOD": source, "MOD_b": bad_default})
    reg = Registry(settings=settings)
    recs = {r.name: r for r in reg.load_all() if r.kind == "refit"}
    assert "declares 'alpha' twice" in recs["dup"].error
    assert "is not a ParamSpec" in recs["not-specs"].error
    assert "alpha must be at most 1.0" in recs["bad-default"].error
    assert recs["trim-and-refit"].status == "loaded"
    assert not {"dup", "not-specs", "bad-default"} & set(reg.names("refit"))


def test_name_clashes_are_resolved_deterministically_and_reported(make_dist, settings):
    clash = GOOD_COV.replace('name = "mydiag"', 'name = "clash"')
    # installed in the reverse of the winning order, to show sys.path order does not matter
    make_dist("zzz-gmm", {COV: {"clash": "MOD:MyDiag", "full": "MOD:MyDiag"}}, {"MOD": clash})
    make_dist("aaa-gmm", {COV: {"clash": "MOD:MyDiag"}}, {"MOD": clash})
    reg = Registry(settings=settings)
    winner = reg.record("covariance", "clash")
    assert winner.origin == "package aaa-gmm 1.0"
    loser = _record(reg, "covariance", "clash", "package zzz")
    assert loser.status == "shadowed"
    assert loser.error == (
        "the name 'clash' is already taken by the covariance type from package aaa-gmm 1.0"
    )
    assert winner.notes == ["also offered by package zzz-gmm 1.0, which is ignored"]
    full = _record(reg, "covariance", "full", "package zzz")
    assert full.status == "shadowed" and "built-in" in full.error
    assert reg.record("covariance", "full").origin == "built-in"
    clashes = reg.clashes()
    assert len(clashes) == 2 and all("already taken" in c for c in clashes)
    rows = plugin_table(reg.load_all())
    assert {"kind", "name", "origin", "status", "error", "description", "notes"} <= set(rows[0])
    text = format_plugin_table(rows)
    assert "shadowed" in text and "package aaa-gmm 1.0" in text
    json.dumps(rows)  # JSON-ready for a GUI or --json listing


def test_a_disabled_plugin_is_not_offered_not_imported_and_persisted(make_dist, settings):
    module = make_dist("acme-gmm", {COV: {"mydiag": "MOD:MyDiag"}}, {"MOD": GOOD_COV})
    reg = Registry(settings=settings)
    reg.set_enabled("covariance", "mydiag", False)
    assert settings.get("plugins.disabled") == ["covariance:mydiag"]
    assert "mydiag" not in reg.names("covariance")
    reg.load_all()
    assert reg.record("covariance", "mydiag").status == "disabled"
    assert module not in sys.modules
    with pytest.raises(PluginError, match=r"'mydiag' .*is disabled in the settings") as info:
        reg.get_class("covariance", "mydiag")
    assert info.value.plugin == "mydiag"

    again = Registry(settings=Settings(settings.path))  # as the next start of the app
    assert again.record("covariance", "mydiag").status == "disabled"
    again.set_enabled("covariance", "mydiag", True)
    assert "mydiag" in again.names("covariance")
    assert settings.get("plugins.disabled") == []
    assert again.get_class("covariance", "mydiag").__name__ == "MyDiag"


def test_builtins_cannot_be_disabled(settings):
    reg = Registry(settings=settings)
    with pytest.raises(ValueError, match="built in and cannot be disabled"):
        reg.set_enabled("covariance", "full", False)
    settings.set("plugins.disabled", ["covariance:full"])  # a hand-edited file
    reg = Registry(settings=settings)
    assert "full" in reg.names("covariance")
    assert any("cannot be disabled" in n for n in reg.record("covariance", "full").notes)


def test_runtime_registration_wins_and_unregister_restores_the_builtin(settings):
    from gmm_desktop_plugins.covariance import DiagCovariance

    reg = Registry(settings=settings)
    with reg.registered("covariance", DiagCovariance, "full"):
        assert reg.get_class("covariance", "full") is DiagCovariance
        assert reg.record("covariance", "full").origin == "runtime"
        builtin = _record(reg, "covariance", "full", "built-in")
        assert builtin.status == "shadowed"
    assert reg.record("covariance", "full").origin == "built-in"
    assert reg.get_class("covariance", "full").__name__ == "FullCovariance"
    assert "diag" in reg.names("covariance")


def test_an_alias_answers_to_its_registered_name(make_dist, settings):
    make_dist("alias-gmm", {COV: {"other-name": "MOD:MyDiag"}}, {"MOD": GOOD_COV})
    reg = Registry(settings=settings)
    assert reg.create("covariance", "other-name").name == "other-name"


def test_wrong_shapes_are_refused_at_runtime_registration():
    reg = Registry(discover_entry_points=False)

    class NotAPlugin:
        name = "x"

    with pytest.raises(PluginError, match="does not subclass"):
        reg.register("covariance", NotAPlugin)
    assert reg.names("covariance") == []
    with pytest.raises(ValueError, match="unknown plugin kind"):
        reg.names("colour")
