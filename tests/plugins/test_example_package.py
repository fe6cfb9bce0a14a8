"""The example plugin package plugins/examples/gmm-desktop-eei, installed for real.

It is installed with pip into a temporary folder (``--target``), never into the test
environment itself; that folder on ``sys.path`` (or ``PYTHONPATH``) is enough for its entry
points to be found, exactly as after ``pip install``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gmm_desktop.registry import Registry, use_registry

EXAMPLE = Path(__file__).resolve().parents[2] / "plugins" / "examples" / "gmm-desktop-eei"


@pytest.fixture(scope="module")
def eei_site(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("src") / "gmm-desktop-eei"
    # a copy, so that the build leaves nothing (build/, *.egg-info) in the source tree
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    site = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(site.glob("gmm_desktop_eei-0.1.0.dist-info"))
    return site


@pytest.fixture
def on_path(eei_site, monkeypatch):
    monkeypatch.syspath_prepend(str(eei_site))
    yield eei_site
    for name in [m for m in sys.modules if m.startswith("gmm_desktop_eei")]:
        del sys.modules[name]


def test_the_installed_package_is_discovered_and_fits(on_path, settings):
    from gmm_desktop.engine import GaussianMixture

    reg = Registry(settings=settings)
    rec = reg.record("covariance", "eei")
    assert rec.origin == "package gmm-desktop-eei 0.1.0"
    assert rec.status == "not loaded"
    assert "eei" in reg.names("covariance")

    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal([0, 0, 0], [1, 2, 0.5], (200, 3)),
                   rng.normal([6, -4, 2], [1, 2, 0.5], (150, 3))])
    with use_registry(reg):
        gm = GaussianMixture(2, covariance_type="eei", tol=1e-12, max_iter=500,
                             random_state=0).fit(X)
        assert gm.covariances_.shape == (3,)
        assert gm.n_parameters() == 3 + 2 * 3 + 1
        # at convergence the covariance is EEI's M-step of the model's own responsibilities:
        # Σ = Σₖ diag(scatterₖ) / n + reg_covar
        resp = gm.predict_proba(X)
        nk = resp.sum(0)
        means = resp.T @ X / nk[:, None]
        scatter = sum((resp[:, [k]] * (X - means[k]) ** 2).sum(0) for k in range(2))
        np.testing.assert_allclose(gm.covariances_, scatter / len(X) + gm.reg_covar, rtol=1e-6)
        # and it recovers the common per-feature variances of the two blobs
        np.testing.assert_allclose(gm.covariances_, [1, 4, 0.25], rtol=0.15)
        full = gm.full_covariances()
        np.testing.assert_array_equal(full[0], full[1])
    assert rec.status == "loaded"


def test_the_installed_package_passes_the_conformance_kit(on_path):
    from gmm_desktop_eei import EEICovariance

    from gmm_desktop.testing import check_plugin

    def reference(stats, reg_covar):
        return stats.scatter.sum(axis=0) / stats.nk.sum() + reg_covar

    check_plugin(EEICovariance, reference=reference)


def test_gmm_desktop_plugins_lists_it(eei_site, config_dir):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(eei_site)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    ))
    proc = subprocess.run([sys.executable, "-m", "gmm_desktop", "plugins"], capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = [line.split() for line in proc.stdout.splitlines()]
    eei = [line for line in lines if len(line) > 1 and line[1] == "eei"]
    assert eei == [["covariance", "eei", "package", "gmm-desktop-eei", "0.1.0", "loaded"]]
    assert ["covariance", "full", "built-in", "loaded"] in lines
