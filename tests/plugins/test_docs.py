"""The examples in docs/writing-plugins.md run and pass the conformance kit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gmm_desktop.plugin_api import CovarianceType, Initializer, RefitStrategy
from gmm_desktop.testing import check_plugin

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "writing-plugins.md"
BLOCKS = re.findall(r"<!-- kit-checked -->\n```python\n(.*?)```", GUIDE.read_text("utf-8"),
                    flags=re.S)


def _plugin_classes(source: str) -> list[type]:
    namespace: dict = {"__name__": "writing_plugins_example"}
    exec(compile(source, str(GUIDE), "exec"), namespace)
    bases = (CovarianceType, Initializer, RefitStrategy)
    return [v for v in namespace.values()
            if isinstance(v, type) and issubclass(v, bases) and v not in bases]


def test_the_guide_has_one_checked_example_of_each_kind():
    kinds = [_plugin_classes(block)[0].__mro__[1] for block in BLOCKS]
    assert kinds == [CovarianceType, Initializer, RefitStrategy]


@pytest.mark.parametrize("block", BLOCKS, ids=["covariance", "initializer", "refit"])
def test_each_example_passes_the_kit(block):
    (cls,) = _plugin_classes(block)
    check_plugin(cls)


def test_the_guide_eei_is_the_example_package_eei():
    package = (GUIDE.parents[1] / "plugins" / "examples" / "gmm-desktop-eei" / "gmm_desktop_eei"
               / "__init__.py").read_text("utf-8")
    assert 'eei = "gmm_desktop_eei:EEICovariance"' in GUIDE.read_text("utf-8")
    assert "return stats.scatter.sum(axis=0) / stats.nk.sum() + reg_covar" in package
    assert "return stats.scatter.sum(axis=0) / stats.nk.sum() + reg_covar" in BLOCKS[0]
