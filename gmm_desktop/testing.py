"""The conformance kit for plugin authors, in the spirit of scikit-learn's ``check_estimator``.

Call it from your own test suite::

    from gmm_desktop.testing import check_plugin
    from my_package import MyCovariance

    def test_conformance():
        check_plugin(MyCovariance)

Each check runs real fits on random data and raises :class:`AssertionError` with a message
that names the plugin and the broken part of the contract. The plugin under test does not
need to be installed or registered: the kit registers it in a private registry (see
:func:`gmm_desktop.registry.use_registry`) for the duration of the check only.

What is checked
---------------
Covariance types (:func:`check_covariance_type`)
    shape and attributes; ``covariance_shape``; the M-step through the engine against the
    plugin's own M-step on directly computed statistics (and against ``reference`` if you
    give one); that ``reg_covar`` is added to the diagonal; that the overall scale is the
    maximum-likelihood one (``Σₖ tr(Σₖ⁻¹ Sₖ) = n·d``); that the M-step does not modify its
    input; ``n_parameters`` against the numerically measured dimension of the family (the
    rank of the M-step's Jacobian) and against BIC's use; the precision factors; the E-step
    log-likelihood against a direct computation; a real fit whose lower bound never
    decreases; JSON round trips (the covariances and a whole saved model); 2-D marginals
    against ``to_full``; and sampling (shapes, moments, determinism under a seed).
Initializers (:func:`check_initializer`)
    output shapes and values, determinism under a seed, no use of numpy's global random
    state, sample weights, and a real fit.
Refit strategies (:func:`check_refit_strategy`)
    the parameter schema, construction and validation; a run on data with planted outliers:
    the result's model, flags and history; the input model left untouched; ``exclude`` and
    ``never_flag`` honoured; determinism; progress reporting and cancellation.
"""

from __future__ import annotations

import itertools
import json
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import logsumexp

from gmm_desktop.errors import FitCancelled
from gmm_desktop.plugin_api import (
    CovarianceType,
    Initialization,
    Initializer,
    ParamSpec,
    SufficientStatistics,
)
from gmm_desktop.registry import Registry, _shape_problem, use_registry

__all__ = [
    "check_covariance_type",
    "check_initializer",
    "check_plugin",
    "check_refit_strategy",
    "direct_statistics",
]

_EPS10 = 10 * np.finfo(float).eps


# --------------------------------------------------------------------------- helpers


class _Checker:
    """Prefixes every failure with the plugin's kind and name."""

    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, message: str) -> AssertionError:
        return AssertionError(f"[{self.label}] {message}")

    def check(self, condition: Any, message: str) -> None:
        if not bool(condition):
            raise self.fail(message)

    def close(self, actual: Any, expected: Any, what: str, rtol=1e-7, atol=1e-10) -> None:
        a = np.asarray(actual, dtype=float)
        e = np.asarray(expected, dtype=float)
        if a.shape != e.shape:
            raise self.fail(f"{what}: shape {a.shape}, expected {e.shape}")
        if not np.allclose(a, e, rtol=rtol, atol=atol):
            err = np.max(np.abs(a - e))
            raise self.fail(
                f"{what}: differs from the expected value by up to {err:.3g} "
                f"(rtol {rtol:g}, atol {atol:g})"
            )

    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AssertionError:
            raise
        except Exception as exc:
            raise self.fail(f"{what} raised {type(exc).__name__}: {exc}") from exc


def _mixture_data(rng: np.random.RandomState, n: int, d: int, k: int, offset: float = 0.0):
    """Well-separated Gaussian blobs (with correlated, unequal shapes) and their labels."""
    centers = rng.normal(scale=6.0, size=(k, d)) + offset
    labels = rng.randint(k, size=n)
    labels[:k] = np.arange(k)
    X = np.empty((n, d))
    for j in range(k):
        A = rng.normal(size=(d, d)) * 0.5 + np.eye(d) * (0.5 + j * 0.3)
        rows = labels == j
        X[rows] = centers[j] + rng.normal(size=(int(rows.sum()), d)) @ A.T
    return X, labels


def direct_statistics(
    X: np.ndarray, resp: np.ndarray, structure: str, weight: np.ndarray | None = None
) -> SufficientStatistics:
    """The M-step's statistics computed directly (no chunking), for authors' own tests."""
    w = np.ones(X.shape[0]) if weight is None else np.asarray(weight, dtype=float)
    wr = resp * w[:, None]
    nk = wr.sum(axis=0) + _EPS10
    means = wr.T @ X / nk[:, None]
    k, d = means.shape
    if structure == "full":
        scatter = np.empty((k, d, d))
        for j in range(k):
            diff = X - means[j]
            scatter[j] = (wr[:, j][:, None] * diff).T @ diff
    else:
        scatter = np.stack([(wr[:, j][:, None] * (X - means[j]) ** 2).sum(axis=0)
                            for j in range(k)])
    return SufficientStatistics(nk=nk, means=means, scatter=scatter, n_samples=float(w.sum()))


def _stats_copy(stats: SufficientStatistics) -> SufficientStatistics:
    return SufficientStatistics(
        nk=stats.nk.copy(), means=stats.means.copy(), scatter=stats.scatter.copy(),
        n_samples=stats.n_samples,
    )


def _fixed_initializer(resp: np.ndarray) -> type[Initializer]:
    class FixedResponsibilities(Initializer):
        name = "conformance-fixed-responsibilities"
        description = "the conformance kit's fixed responsibilities"

        def initialize(self, X, n_components, random_state, sample_weight=None):
            return resp.copy()

    return FixedResponsibilities


class _ReferenceFull(CovarianceType):
    """The kit's own full covariance type, so that initializer checks need no plugin."""

    name = "full"
    description = "the conformance kit's reference full covariance"
    structure = "full"

    def n_parameters(self, n_components, n_features):
        return n_components * n_features * (n_features + 1) // 2

    def covariance_shape(self, n_components, n_features):
        return (n_components, n_features, n_features)

    def m_step(self, stats, reg_covar):
        cov = stats.scatter / stats.nk[:, None, None]
        idx = np.arange(stats.n_features)
        cov[:, idx, idx] += reg_covar
        return cov


def _mixture_log_density(X, weights, means, full_covs) -> np.ndarray:
    """log p(x) of a Gaussian mixture, computed directly from the (K, d, d) covariances."""
    n, d = X.shape
    out = np.empty((n, len(weights)))
    for j in range(len(weights)):
        chol = np.linalg.cholesky(full_covs[j])
        z = np.linalg.solve(chol, (X - means[j]).T)
        logdet = 2 * np.log(np.diag(chol)).sum()
        out[:, j] = np.log(weights[j]) - 0.5 * (d * np.log(2 * np.pi) + logdet + (z**2).sum(0))
    return logsumexp(out, axis=1)


def _label(kind: str, cls: type, name: str | None) -> tuple[str, str]:
    plugin_name = name or getattr(cls, "name", "") or ""
    return plugin_name, f"{kind} {plugin_name or cls.__name__!r} ({cls.__module__}.{cls.__name__})"


def _check_shape(c: _Checker, kind: str, cls: Any, name: str) -> None:
    problem = _shape_problem(kind, cls)
    c.check(problem is None, f"wrong shape: {problem}")
    c.check(
        isinstance(name, str) and name.strip() != "",
        "the class sets no name (a class attribute `name = \"...\"` is the registered name)",
    )
    desc = getattr(cls, "description", "")
    c.check(isinstance(desc, str), f"description must be text, got {desc!r}")


def _same_random_state(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two ``RandomState.get_state(legacy=False)`` snapshots are the same state."""
    return (
        a["bit_generator"] == b["bit_generator"]
        and np.array_equal(a["state"]["key"], b["state"]["key"])
        and a["state"]["pos"] == b["state"]["pos"]
        and a["has_gauss"] == b["has_gauss"]
        and a["gauss"] == b["gauss"]
    )


def _n_parameters_measured(cov: CovarianceType, stats: SufficientStatistics) -> int:
    """The dimension of the covariance family: rank of the M-step's Jacobian in the scatter."""
    k, d = stats.n_components, stats.n_features
    base = cov.to_full(np.asarray(cov.m_step(_stats_copy(stats), 0.0)), k, d)
    if cov.structure == "full":
        iu = np.triu_indices(d)
        directions = []
        for j in range(k):
            for a, b in zip(*iu, strict=True):
                e = np.zeros_like(stats.scatter)
                e[j, a, b] = e[j, b, a] = 1.0
                directions.append(e)
    else:
        directions = []
        for j in range(k):
            for col in range(d):
                e = np.zeros_like(stats.scatter)
                e[j, col] = 1.0
                directions.append(e)
    scale = float(np.abs(stats.scatter).max())
    h = 1e-5 * scale
    columns = []
    for e in directions:
        up = SufficientStatistics(stats.nk.copy(), stats.means.copy(),
                                  stats.scatter + h * e, stats.n_samples)
        down = SufficientStatistics(stats.nk.copy(), stats.means.copy(),
                                    stats.scatter - h * e, stats.n_samples)
        diff = cov.to_full(np.asarray(cov.m_step(up, 0.0)), k, d) - cov.to_full(
            np.asarray(cov.m_step(down, 0.0)), k, d
        )
        columns.append((diff / (2 * h)).ravel())
    jac = np.array(columns).T * scale / max(float(np.abs(base).max()), 1e-300)
    sv = np.linalg.svd(jac, compute_uv=False)
    if sv.size == 0 or sv[0] == 0:
        return 0
    return int(np.sum(sv > sv[0] * 1e-6))


# --------------------------------------------------------------------------- covariance types


def check_covariance_type(
    cls: type,
    *,
    name: str | None = None,
    reference: Callable[[SufficientStatistics, float], np.ndarray] | None = None,
    random_state: int = 0,
) -> None:
    """Check a :class:`~gmm_desktop.plugin_api.CovarianceType` subclass against the contract.

    ``reference(stats, reg_covar)``, if given, is an independent implementation of the
    M-step the plugin should match (for example a formula from the literature).
    Raises :class:`AssertionError` naming the plugin and the failed check.
    """
    from gmm_desktop.engine import GaussianMixture, model_from_dict, model_to_dict

    name, label = _label("covariance type", cls, name)
    c = _Checker(label)
    _check_shape(c, "covariance", cls, name)
    cov = c.call("the constructor (with no arguments)", cls)
    c.check(cov.structure in ("full", "diag"), f"structure {cov.structure!r} is not full/diag")
    rng = np.random.RandomState(random_state)

    # covariance_shape and n_parameters are integers
    for k, d in ((1, 1), (3, 2), (2, 5)):
        shape = c.call("covariance_shape", cov.covariance_shape, k, d)
        c.check(
            isinstance(shape, tuple) and all(isinstance(s, int | np.integer) for s in shape),
            f"covariance_shape({k}, {d}) must be a tuple of ints, got {shape!r}",
        )
        p = c.call("n_parameters", cov.n_parameters, k, d)
        c.check(
            isinstance(p, int | np.integer) and not isinstance(p, bool),
            f"n_parameters({k}, {d}) must be an int, got {p!r}",
        )
        c.check(
            0 <= p <= k * d * (d + 1) // 2,
            f"n_parameters({k}, {d}) = {p} is outside [0, K·d(d+1)/2 = {k * d * (d + 1) // 2}]",
        )

    # A univariate type (``univariate = True``, e.g. mclust's E and V) is checked on one
    # feature; every other type on three.
    k, d, n = 3, (1 if getattr(cov, "univariate", False) else 3), 240
    X, _ = _mixture_data(rng, n, d, k, offset=5.0)
    resp = rng.dirichlet(np.ones(k), size=n)
    stats = direct_statistics(X, resp, cov.structure)
    expected_shape = tuple(cov.covariance_shape(k, d))

    # the M-step on direct statistics
    reg = 1e-3
    frozen = _stats_copy(stats)
    covs = np.asarray(c.call("m_step", cov.m_step, stats, reg), dtype=float)
    c.check(covs.shape == expected_shape,
            f"m_step returned shape {covs.shape}, covariance_shape says {expected_shape}")
    c.check(np.all(np.isfinite(covs)), "m_step returned non-finite values on ordinary data")
    for attr in ("nk", "means", "scatter"):
        c.check(np.array_equal(getattr(stats, attr), getattr(frozen, attr)),
                f"m_step modified its input (stats.{attr}); it must not write into it")
    full = np.asarray(c.call("to_full", cov.to_full, covs, k, d), dtype=float)
    c.check(full.shape == (k, d, d), f"to_full returned shape {full.shape}, expected {(k, d, d)}")
    c.check(np.allclose(full, np.swapaxes(full, 1, 2)), "to_full returned non-symmetric matrices")
    c.check(np.all(np.linalg.eigvalsh(full) > 0),
            "m_step returned a covariance that is not positive definite on ordinary data")
    if reference is not None:
        c.close(covs, reference(_stats_copy(stats), reg), "m_step against the reference",
                rtol=1e-9)

    # reg_covar is added to the diagonal
    covs0 = np.asarray(cov.m_step(_stats_copy(stats), 0.0), dtype=float)
    diff = full - cov.to_full(covs0, k, d)
    c.close(diff, np.broadcast_to(reg * np.eye(d), (k, d, d)),
            "m_step(stats, reg_covar) − m_step(stats, 0) (reg_covar must be added to the "
            "diagonal of every covariance)", rtol=1e-6, atol=1e-9)

    # maximum-likelihood scale: d/dc Q(c Σ) = 0 at c = 1  ⇔  Σₖ tr(Σₖ⁻¹ Sₖ) = n·d
    full0 = cov.to_full(covs0, k, d)
    if cov.structure == "full":
        traces = sum(np.trace(np.linalg.solve(full0[j], stats.scatter[j])) for j in range(k))
    else:
        traces = sum(np.sum(stats.scatter[j] / np.diag(full0[j])) for j in range(k))
    total = stats.nk.sum() * d
    c.check(
        abs(traces - total) <= 1e-6 * total,
        f"the M-step's overall scale is not the maximum-likelihood one: Σₖ tr(Σₖ⁻¹ Sₖ) = "
        f"{traces:.6g}, expected n·d = {total:.6g} (are the scatters divided by the right "
        "masses?)",
    )

    # the parameter count is the dimension of the family
    p = int(cov.n_parameters(k, d))
    measured = c.call("m_step (for the Jacobian)", _n_parameters_measured, cov, stats)
    c.check(
        p == measured,
        f"n_parameters({k}, {d}) = {p}, but the M-step's covariances vary in {measured} "
        "independent directions (the rank of its Jacobian); BIC would be wrong",
    )

    # precision factors
    prec_chol = c.call("precision_cholesky", cov.precision_cholesky, covs)
    expanded = np.asarray(cov.expand_precision_cholesky(prec_chol, k, d), dtype=float)
    inv = np.linalg.inv(full)
    if cov.structure == "full":
        c.check(expanded.shape == (k, d, d), f"expanded factors have shape {expanded.shape}")
        c.close(np.einsum("kij,klj->kil", expanded, expanded), inv,
                "U Uᵀ from precision_cholesky against the inverse covariance", rtol=1e-6)
        c.check(np.allclose(np.tril(expanded, -1), 0), "precision_cholesky is not upper triangular")
    else:
        c.check(expanded.shape == (k, d), f"expanded factors have shape {expanded.shape}")
        c.close(expanded**2, np.diagonal(inv, axis1=1, axis2=2),
                "precision_cholesky² against the inverse variances", rtol=1e-6)
    precs = c.call("precisions", cov.precisions, prec_chol)
    again = c.call("precision_cholesky_from_precisions",
                   cov.precision_cholesky_from_precisions, precs)
    c.close(again, prec_chol, "precision_cholesky_from_precisions(precisions(U)) against U",
            rtol=1e-6)

    # serialization of the covariances
    doc = json.loads(json.dumps(c.call("to_json", cov.to_json, covs)))
    back = np.asarray(c.call("from_json", cov.from_json, doc, k, d), dtype=float)
    c.check(back.shape == covs.shape and np.array_equal(back, covs),
            "from_json(to_json(covariances)) is not the same array")
    bad = np.zeros((k + 1, d + 1))
    try:
        cov.from_json(bad.tolist(), k, d)
    except ValueError:
        pass
    except Exception as exc:
        raise c.fail(f"from_json of a wrong shape raised {type(exc).__name__}, "
                     "expected ValueError") from exc
    else:
        raise c.fail("from_json accepted covariances of the wrong shape (raise ValueError)")

    # 2-D marginals equal to_full's submatrices
    for i in range(d):
        for j in range(d):
            if i == j:
                continue
            marg = c.call("marginal_2d", cov.marginal_2d, covs, k, d, i, j)
            marg = np.asarray(marg, dtype=float)
            sub = full[:, [i, j]][:, :, [i, j]]
            c.close(marg, sub, f"marginal_2d(covariances, {k}, {d}, {i}, {j}) against "
                    "to_full's submatrix")

    # sampling: shapes, determinism, moments
    means = stats.means + 20.0 * np.arange(k)[:, None]  # well apart, to see the order
    counts = np.array([4000, 3000, 5000])
    draw = c.call("sample", cov.sample, np.random.RandomState(7), means, covs, counts)
    draw = np.asarray(draw, dtype=float)
    c.check(draw.shape == (counts.sum(), d), f"sample returned shape {draw.shape}, expected "
            f"{(int(counts.sum()), d)}")
    again = np.asarray(cov.sample(np.random.RandomState(7), means, covs, counts))
    c.check(np.array_equal(draw, again), "sample is not reproducible with the same random state")
    start = 0
    for j, m in enumerate(counts):
        part = draw[start:start + m]
        start += m
        se = np.sqrt(np.diag(full[j]) / m)
        c.check(np.all(np.abs(part.mean(0) - means[j]) < 6 * se),
                f"sampled rows of component {j} do not have its mean (rows must be stacked in "
                "component order)")
        emp = np.cov(part.T)
        c.check(np.allclose(emp, full[j], rtol=0.15, atol=0.15 * np.abs(full[j]).max()),
                f"sampled rows of component {j} do not have its covariance")

    # the engine: its first M-step (fixed responsibilities) matches the plugin on direct stats
    fixed = _fixed_initializer(resp)
    registry = Registry(discover_entry_points=False)
    registry.register("covariance", cls, name)
    registry.register("initializer", fixed)
    with use_registry(registry), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(k, covariance_type=name, init_params=fixed.name, max_iter=0,
                             reg_covar=reg)
        c.call("a fit with max_iter=0", gm.fit, X)
        c.close(gm.covariances_, covs, "the engine's first M-step against m_step on directly "
                "computed statistics", rtol=1e-8)
        c.close(gm.means_, stats.means, "the engine's first means", rtol=1e-10)

        # a real fit: the lower bound never decreases
        gm = GaussianMixture(k, covariance_type=name, init_params=fixed.name, max_iter=300,
                             tol=1e-9, reg_covar=1e-6)
        c.call("a full fit", gm.fit, X)
        lbs = np.asarray(gm.lower_bounds_)
        c.check(len(lbs) >= 2 and np.all(np.isfinite(lbs)), "the fit's lower bounds are not finite")
        drops = np.diff(lbs)
        c.check(
            np.all(drops >= -1e-9 * np.maximum(1.0, np.abs(lbs[1:]))),
            f"the lower bound decreased during EM (by up to {-drops.min():.3g}); an M-step must "
            "maximise the expected log-likelihood over the family",
        )

        # the E-step (through the plugin's precision factors) against a direct density
        fk = gm.full_covariances()
        c.close(gm.score_samples(X), _mixture_log_density(X, gm.weights_, gm.means_, fk),
                "log-densities from the plugin's precision factors against a direct "
                "computation from to_full", rtol=1e-7, atol=1e-8)

        # BIC uses n_parameters
        p_total = int(cov.n_parameters(k, d)) + k * d + k - 1
        c.check(gm.n_parameters() == p_total,
                f"the model counts {gm.n_parameters()} parameters, expected {p_total}")
        bic = -2 * gm.score(X) * n + p_total * np.log(n)
        c.close(gm.bic(X), bic, "BIC against −2·logL + p·ln n", rtol=1e-10)

        # marginal_covariances through the engine
        j = min(2, d - 1)
        c.close(gm.marginal_covariances(0, j), fk[:, [0, j]][:, :, [0, j]],
                f"the model's marginal_covariances(0, {j}) against full_covariances()")

        # a whole model through JSON
        text = json.dumps(c.call("saving the model (model_to_dict)", model_to_dict, gm))
        loaded = c.call("loading the model (model_from_dict)", model_from_dict, json.loads(text))
        c.close(loaded.score_samples(X), gm.score_samples(X),
                "log-densities after a save/load round trip", rtol=1e-12)

        # a weighted fit: integer weights equal repeated rows (first M-step)
        w = rng.randint(1, 4, size=n).astype(float)
        rep = np.repeat(np.arange(n), w.astype(int))
        gw = GaussianMixture(k, covariance_type=name, init_params=fixed.name, max_iter=0)
        c.call("a weighted fit", gw.fit, X, sample_weight=w)
        expected = cov.m_step(direct_statistics(X[rep], resp[rep], cov.structure), gw.reg_covar)
        c.close(gw.covariances_, expected, "a weighted first M-step against repeated rows",
                rtol=1e-8)


# --------------------------------------------------------------------------- initializers


def _as_resp(c: _Checker, out: Any, X: np.ndarray, k: int, what: str) -> np.ndarray:
    n, d = X.shape
    if isinstance(out, Initialization):
        if out.resp is not None:
            out = out.resp
        elif out.means is not None:
            means = np.asarray(out.means, dtype=float)
            c.check(means.shape == (k, d), f"{what}: means of shape {means.shape}, expected "
                    f"{(k, d)}")
            c.check(np.all(np.isfinite(means)), f"{what}: non-finite means")
            return means
        else:
            raise c.fail(f"{what}: an Initialization with neither resp nor means")
    resp = np.asarray(out, dtype=float)
    c.check(resp.shape == (n, k), f"{what}: responsibilities of shape {resp.shape}, expected "
            f"{(n, k)}")
    c.check(np.all(np.isfinite(resp)), f"{what}: non-finite responsibilities")
    c.check(np.all(resp >= 0), f"{what}: negative responsibilities")
    rows = resp.sum(axis=1)
    c.check(np.all((np.abs(rows - 1) < 1e-6) | (np.abs(rows) < 1e-12)),
            f"{what}: rows of the responsibilities must sum to 1 (or 0 for seed-style "
            f"initializers); sums range over [{rows.min():.6g}, {rows.max():.6g}]")
    c.check(np.all(resp.sum(axis=0) > 0), f"{what}: a component receives no responsibility")
    return resp


def check_initializer(cls: type, *, name: str | None = None, random_state: int = 0) -> None:
    """Check an :class:`~gmm_desktop.plugin_api.Initializer` subclass against the contract."""
    from gmm_desktop.engine import GaussianMixture

    name, label = _label("initializer", cls, name)
    c = _Checker(label)
    _check_shape(c, "initializer", cls, name)
    init = c.call("the constructor (with no arguments)", cls)
    rng = np.random.RandomState(random_state)
    for n, d, k in ((300, 2, 3), (120, 5, 1), (200, 4, 6)):
        X, _ = _mixture_data(rng, n, d, max(k, 2), offset=3.0)
        what = f"initialize(X of shape {(n, d)}, {k} components)"
        before = np.random.get_state(legacy=False)  # noqa: NPY002 - the legacy global state
        out = c.call(what, init.initialize, X.copy(), k, np.random.RandomState(42), None)
        after = np.random.get_state(legacy=False)  # noqa: NPY002
        c.check(_same_random_state(before, after),
                f"{what} used numpy's global random state; use the random_state argument "
                "so that a seed reproduces the fit")
        first = _as_resp(c, out, X, k, what)
        out2 = c.call(what, init.initialize, X.copy(), k, np.random.RandomState(42), None)
        second = _as_resp(c, out2, X, k, what)
        c.check(np.array_equal(first, second),
                f"{what} is not deterministic under the same random_state")
        w = rng.uniform(0.5, 2.0, size=n)
        outw = c.call(what + " with sample weights", init.initialize, X.copy(), k,
                      np.random.RandomState(1), w)
        _as_resp(c, outw, X, k, what + " with sample weights")

    # a real fit, reproducible under a seed
    X, _ = _mixture_data(rng, 300, 2, 3)
    registry = Registry(discover_entry_points=False)
    registry.register("initializer", cls, name)
    registry.register("covariance", _ReferenceFull)
    with use_registry(registry), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = []
        for _ in range(2):
            gm = GaussianMixture(3, init_params=name, random_state=3, max_iter=50)
            c.call("a fit with this initializer", gm.fit, X)
            c.check(np.isfinite(gm.lower_bound_), "the fit's lower bound is not finite")
            fits.append(gm)
        c.check(np.array_equal(fits[0].means_, fits[1].means_),
                "two fits with the same random_state gave different models")


# --------------------------------------------------------------------------- refit strategies


def check_refit_strategy(
    cls: type[Any], *, name: str | None = None, random_state: int = 0
) -> None:
    """Check a :class:`~gmm_desktop.plugin_api.RefitStrategy` subclass against the contract."""
    from gmm_desktop import plugin_api
    from gmm_desktop.engine import GaussianMixture

    name, label = _label("refit strategy", cls, name)
    c = _Checker(label)
    _check_shape(c, "refit", cls, name)
    params = cls.parameters
    c.check(isinstance(params, tuple), f"parameters must be a tuple, got {type(params).__name__}")
    for spec in params:
        c.check(isinstance(spec, ParamSpec), f"parameters holds {spec!r}, not a ParamSpec")
    schema = c.call("schema()", cls.schema)
    try:
        json.dumps(schema)
    except (TypeError, ValueError) as exc:
        raise c.fail(f"schema() is not JSON data: {exc}") from None
    c.check([s["name"] for s in schema] == [p.name for p in params],
            "schema() does not list the declared parameters in order")
    strategy = c.call("the constructor (with no arguments)", cls)
    c.check(strategy.values == {p.name: p.default for p in params},
            "values of a new instance are not the declared defaults")
    try:
        cls(no_such_parameter_xyz=1)
    except ValueError:
        pass
    except Exception as exc:
        raise c.fail(f"an unknown parameter raised {type(exc).__name__}, expected "
                     "ValueError") from exc
    else:
        raise c.fail("an unknown parameter was accepted (raise ValueError)")
    for spec in params:
        c.call(f"set_params({spec.name}=its default)", strategy.set_params,
               **{spec.name: spec.default})

    # data with planted outliers
    rng = np.random.RandomState(random_state)
    X, _ = _mixture_data(rng, 400, 2, 2)
    lo, hi = X.min(0), X.max(0)
    outliers = lo - 10 + rng.uniform(size=(12, 2)) * (hi - lo + 20)
    outliers[:, 0] = np.where(rng.uniform(size=12) < 0.5, lo[0] - 15, hi[0] + 15)
    X = np.vstack([X, outliers])
    n = X.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GaussianMixture(2, random_state=0).fit(X)
    before = {a: np.array(getattr(model, a), copy=True)
              for a in ("weights_", "means_", "covariances_")}
    params_before = model.get_params()

    def flagger(m: Any, data: np.ndarray) -> np.ndarray:
        dens = m.score_samples(data)
        return dens < np.quantile(model.score_samples(X), 0.03)

    calls: list[Any] = []

    def callback(info: Any) -> bool:
        calls.append(info)
        return False

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = c.call("run", strategy.run, X, model, threshold=flagger, callback=callback)
        for attr in ("model", "flags", "history"):
            c.check(hasattr(result, attr), f"run returned no .{attr}")
        c.check(isinstance(result, plugin_api.RefitResult),
                f"run returned {type(result).__name__}, expected RefitResult")
        flags = np.asarray(result.flags)
        c.check(flags.dtype == bool and flags.shape == (n,),
                f"flags must be a bool array of shape {(n,)}, got {flags.dtype} {flags.shape}")
        c.check(0 < flags.sum() < n // 2,
                f"{int(flags.sum())} of {n} rows flagged on data with 12 planted outliers")
        c.check(flags[-12:].mean() >= 0.5,
                f"only {int(flags[-12:].sum())} of 12 far outliers were flagged")
        c.check(result.model is not model, "run returned the input model; build a new one")
        c.check(type(result.model) is type(model), "the refitted model has another class")
        proba = c.call("the refitted model's predict_proba", result.model.predict_proba, X)
        c.check(np.allclose(proba.sum(axis=1), 1.0), "the refitted model's responsibilities "
                "do not sum to one")
        c.check(np.all(np.isfinite(result.model.score_samples(X))),
                "the refitted model gives non-finite log-densities")
        for attr, value in before.items():
            c.check(np.array_equal(getattr(model, attr), value),
                    f"run modified the input model's {attr}")
        c.check(model.get_params() == params_before, "run changed the input model's parameters")
        history = list(result.history)
        c.check(len(history) >= 1, "the history is empty (one RefitRound per round)")
        rounds = [h.round for h in history]
        c.check(rounds[0] >= 1 and all(b > a for a, b in itertools.pairwise(rounds)),
                f"history rounds must increase from 1, got {rounds}")
        for h in history:
            c.check(isinstance(h, plugin_api.RefitRound), f"history holds {h!r}, not RefitRound")
            c.check(0 <= h.n_flagged <= n and 0 <= h.n_changed <= n,
                    f"round {h.round}: counts outside [0, {n}]")
            c.check(np.isfinite(h.log_likelihood), f"round {h.round}: non-finite log-likelihood")
        if result.threshold is not None:
            c.check(isinstance(result.threshold, dict)
                    and result.threshold.get("kind") in ("contamination", "log_density",
                                                         "sigma", "chi2"),
                    f"threshold must be None or a dict with kind contamination, log_density, "
                    f"sigma or chi2; got {result.threshold!r}")
        try:
            json.dumps(result.info)
        except (TypeError, ValueError) as exc:
            raise c.fail(f"info is not JSON data: {exc}") from None
        c.check(len(calls) >= 1, "run never called its progress callback")

        # determinism
        again = c.call("a second run", cls().run, X, model, threshold=flagger)
        c.check(np.array_equal(np.asarray(again.flags), flags),
                "two runs on the same data and model flagged different rows")

        # user labels
        exclude = np.zeros(n, bool)
        exclude[:5] = True
        never = np.zeros(n, bool)
        never[-3:] = True
        labelled = c.call("run with exclude and never_flag", cls().run, X, model,
                          threshold=flagger, exclude=exclude, never_flag=never)
        lf = np.asarray(labelled.flags)
        c.check(np.all(lf[:5]), "rows in exclude were not flagged")
        c.check(not np.any(lf[-3:]), "rows in never_flag were flagged")

        # cancellation
        try:
            cls().run(X, model, threshold=flagger, callback=lambda info: True)
        except FitCancelled:
            pass
        except Exception as exc:
            raise c.fail(f"a cancelling callback raised {type(exc).__name__}: {exc}; "
                         "expected FitCancelled") from exc
        else:
            raise c.fail("a callback returning True did not cancel the run (raise FitCancelled)")


# --------------------------------------------------------------------------- dispatch


def check_plugin(cls: type, **kwargs: Any) -> None:
    """Run the checks of the plugin kind ``cls`` subclasses."""
    from gmm_desktop import plugin_api

    if not isinstance(cls, type):
        raise AssertionError(f"a plugin is a class, got {type(cls).__name__}")
    if issubclass(cls, CovarianceType):
        check_covariance_type(cls, **kwargs)
    elif issubclass(cls, Initializer):
        check_initializer(cls, **kwargs)
    elif issubclass(cls, getattr(plugin_api, "RefitStrategy", ())):
        check_refit_strategy(cls, **kwargs)
    else:
        raise AssertionError(
            f"{cls.__module__}.{cls.__name__} subclasses none of CovarianceType, Initializer "
            "and RefitStrategy (gmm_desktop.plugin_api)"
        )

