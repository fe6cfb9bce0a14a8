"""``GaussianMixture``: a scikit-learn-compatible EM estimator with pluggable covariance
types and initializers, weighted fits, progress and cancellation, and robust restarts."""

from __future__ import annotations

import functools
import importlib
import inspect
import numbers
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gmm_desktop.engine import _em, _params
from gmm_desktop.engine._params import Constraint
from gmm_desktop.engine._validation import (
    check_array,
    check_feature_names,
    check_n_features,
    check_sample_weight,
)
from gmm_desktop.errors import (
    FitCancelled,
    FitError,
    NotPositiveDefiniteError,
    PluginError,
)
from gmm_desktop.plugin_api import CovarianceType, Initialization, Initializer
from gmm_desktop.registry import get_registry


@functools.cache
def _sklearn_compatible_types() -> tuple[type[Exception], type[Warning]]:
    """``(NotFittedError, ConvergenceWarning)``, subclassing scikit-learn's when installed.

    A user who swaps the import keeps catching (or filtering) the same classes. They are
    built on first use, because importing scikit-learn costs seconds and the engine's
    numerics do not need it: start-up stays fast, and scikit-learn is imported only when
    such an error or warning actually happens (or the name is looked up).
    """
    try:
        from sklearn.exceptions import ConvergenceWarning as sk_warning
        from sklearn.exceptions import NotFittedError as sk_error
    except ImportError:  # pragma: no cover - scikit-learn is a dependency, not of the numerics
        sk_error, sk_warning = ValueError, UserWarning

    class NotFittedError(sk_error, ValueError, AttributeError):  # type: ignore[misc,valid-type]
        """The estimator is used before ``fit`` (a scikit-learn ``NotFittedError``)."""

    class ConvergenceWarning(sk_warning):  # type: ignore[misc,valid-type]
        """The best restart stopped at ``max_iter`` before the lower bound settled."""

    for cls in (NotFittedError, ConvergenceWarning):
        cls.__module__ = __name__
    return NotFittedError, ConvergenceWarning


@functools.cache
def _invalid_parameter_error() -> type[Exception]:
    """scikit-learn's ``InvalidParameterError`` (a ``ValueError`` and ``TypeError``), the
    class its estimators raise for a bad constructor parameter; imported on first use."""
    try:
        from sklearn.utils._param_validation import InvalidParameterError
    except ImportError:  # pragma: no cover - scikit-learn is a dependency, not of the numerics

        class InvalidParameterError(ValueError, TypeError):  # type: ignore[no-redef]
            """A constructor parameter has a bad type or value."""

    return InvalidParameterError


def _plugin_name(registry: Any, kind: str) -> Constraint:
    """A registered plugin name of ``kind``; the message lists the usable ones. A known but
    disabled or broken plugin passes here, so that creating it says what is wrong."""
    listed = Constraint.str_among(registry.names(kind))
    return Constraint(
        lambda value: isinstance(value, str) and registry.record(kind, value) is not None,
        listed.text,
    )


def _parameter_constraints() -> dict[str, list[Constraint]]:
    """scikit-learn's ``GaussianMixture._parameter_constraints``, plus ``chunk_size``;
    ``covariance_type`` and ``init_params`` accept every registered plugin name."""
    registry = get_registry()
    integral, real = numbers.Integral, numbers.Real
    array_or_none = [Constraint.array_like(), Constraint.none()]
    return {
        "n_components": [Constraint.interval(integral, 1)],
        "covariance_type": [_plugin_name(registry, "covariance")],
        "tol": [Constraint.interval(real, 0.0)],
        "reg_covar": [Constraint.interval(real, 0.0)],
        "max_iter": [Constraint.interval(integral, 0)],
        "n_init": [Constraint.interval(integral, 1)],
        "init_params": [_plugin_name(registry, "initializer")],
        "weights_init": array_or_none,
        "means_init": array_or_none,
        "precisions_init": array_or_none,
        "random_state": _params.random_state(),
        "warm_start": _params.boolean(),
        "verbose": _params.verbose(),
        "verbose_interval": [Constraint.interval(integral, 1)],
        "chunk_size": [Constraint.interval(integral, 1), Constraint.none()],
    }


def __getattr__(name: str) -> Any:
    if name == "InvalidParameterError":
        return _invalid_parameter_error()
    if name == "NotFittedError":
        return _sklearn_compatible_types()[0]
    if name == "ConvergenceWarning":
        return _sklearn_compatible_types()[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class RestartFailedWarning(UserWarning):
    """One restart was dropped because a covariance became singular."""


@dataclass(frozen=True)
class FitProgress:
    """What a fit callback receives after every EM iteration.

    ``fraction`` is the overall share of the work done (0..1) for a progress bar;
    ``stage`` says what is running (a model selection names the cell).
    """

    restart: int
    n_restarts: int
    iteration: int
    max_iter: int
    lower_bound: float
    change: float
    elapsed: float
    fraction: float
    stage: str = "fit"


#: A callback returns a true value to ask the fit to stop.
FitCallback = Callable[[FitProgress], Any]


def check_random_state(seed: Any) -> np.random.RandomState:
    """A ``RandomState`` from ``None``, an int or a ``RandomState`` (as scikit-learn does)."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral):
        return np.random.RandomState(int(seed))
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"{seed!r} cannot be used to seed a numpy.random.RandomState instance")


@dataclass
class _Params:
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray | None
    precisions_cholesky: np.ndarray


#: ``em_pass(weights, means, expanded, structure) -> (Σ w·log p, RawStats about means)``.
EmPass = Callable[[np.ndarray, np.ndarray, np.ndarray, str], "tuple[float, _em.RawStats]"]


@dataclass
class FitData:
    """What the EM loop needs from the data, wherever the data live.

    The loop of :meth:`GaussianMixture.fit` touches the rows only through these: the
    sizes, ``em_pass`` (one fused E+M pass over every row, returning summed statistics)
    and ``init_rows`` (the rows an initializer runs on, called only when an initializer
    is needed: ``(X, sample_weight, total_weight, chunk)``). In memory they are the data
    themselves; out of core (:mod:`gmm_desktop.outofcore`) ``em_pass`` sums per-partition
    statistics on a Dask scheduler and ``init_rows`` is a bounded uniform random sample.
    ``dtype`` is the data's float type: float32 data give float32 fitted attributes (as in
    scikit-learn), although every sum is computed in float64.
    """

    n_samples: int
    n_features: int
    total_weight: float
    em_pass: EmPass
    init_rows: Callable[[], tuple[np.ndarray, np.ndarray | None, float, int]]
    feature_names: np.ndarray | None = None
    dtype: Any = np.float64


def is_dask_collection(X: Any) -> bool:
    """True for a Dask array or DataFrame (duck-typed: no Dask import here)."""
    return hasattr(X, "__dask_graph__") and callable(getattr(X, "__dask_graph__", None))


def _out_of_core() -> Any:
    """``gmm_desktop.outofcore``, imported only when a Dask collection is fitted.

    Looked up by name so that the engine stays numpy/scipy-only (no static import of
    Dask, pandas or pyarrow); a clear error says what to install when Dask is missing.
    """
    try:
        return importlib.import_module("gmm_desktop.outofcore")
    except ImportError as exc:
        raise ImportError(
            "fitting a Dask array or DataFrame needs Dask: pip install "
            f"'gmm-desktop[dask]' ({exc})"
        ) from exc


class GaussianMixture:
    """Gaussian mixture model fitted by EM; a drop-in for scikit-learn's GaussianMixture.

    The parameters, defaults, methods and fitted attributes are scikit-learn's; from the
    same initial parameters it runs the same iterations to the same lower bound. Beyond
    scikit-learn:

    * ``covariance_type`` and ``init_params`` accept any registered plugin name;
    * ``fit(X, sample_weight=...)`` fits a weighted mixture;
    * moments are centred for every covariance type (exact far from the origin);
    * a restart whose covariance turns singular is dropped with a warning;
    * ``fit(X, callback=...)`` reports every iteration and can be cancelled
      (:class:`~gmm_desktop.errors.FitCancelled`; the estimator is then left unchanged);
    * ``chunk_size`` bounds the memory beyond the data (rows per chunk; ``None`` = auto).
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init: Any = None,
        means_init: Any = None,
        precisions_init: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        chunk_size: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size

    # ------------------------------------------------------------------ estimator protocol

    @classmethod
    def _get_param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values() if p.name != "self")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters by name (scikit-learn's protocol)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> GaussianMixture:
        """Set constructor parameters; unknown names raise ``ValueError``."""
        valid = set(self._get_param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {sorted(valid)!r}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.name != "self"
        }
        shown = []
        for name in self._get_param_names():
            value = getattr(self, name)
            default = defaults[name]
            same = value is default or (
                not isinstance(value, np.ndarray)
                and not isinstance(default, np.ndarray)
                and type(value) is type(default)
                and value == default
            )
            if not same:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __sklearn_tags__(self):  # called by scikit-learn only
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(
            estimator_type="density_estimator",
            target_tags=TargetTags(required=False),
            input_tags=InputTags(),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "precisions_cholesky_")

    # ------------------------------------------------------------------ checks

    def _covariance_plugin(self) -> CovarianceType:
        name = self.covariance_type
        if not isinstance(name, str):
            raise ValueError(f"covariance_type must be a registered name, got {name!r}")
        return get_registry().create("covariance", name)

    def _initializer_plugin(self) -> Initializer:
        name = self.init_params
        if not isinstance(name, str):
            raise ValueError(f"init_params must be a registered name, got {name!r}")
        return get_registry().create("initializer", name)

    def _validate_params(self) -> None:
        """Check every constructor parameter's type and range as scikit-learn does (at the
        start of ``fit``, before the data): a bad one raises scikit-learn's
        ``InvalidParameterError`` with scikit-learn's message."""
        owner = type(self).__name__
        constraints = _parameter_constraints()
        message = _params.first_violation(self.get_params(deep=False), constraints, owner)
        if message is None and isinstance(self.n_components, (bool, np.bool_)):
            # scikit-learn's constraints let a bool through as an int, and its fit then
            # fails with a bare TypeError; this says what is wrong (still a TypeError).
            message = _params.violation_message(
                "n_components", self.n_components, constraints["n_components"], owner
            )
        if message is not None:
            raise _invalid_parameter_error()(message)

    def _check_parameters(self, n_features: int, cov: CovarianceType) -> None:
        """Check the initial parameters against the data's shape (after
        :meth:`_validate_params` has checked every parameter's type and range)."""
        k, d = self.n_components, n_features
        if self.weights_init is not None:
            w = np.asarray(self.weights_init, dtype=float)
            if w.shape != (k,):
                raise ValueError(
                    f"The parameter 'weights' should have the shape of ({k},), but got {w.shape}"
                )
            if np.any(w < 0) or np.any(w > 1) or not np.all(np.isfinite(w)):
                raise ValueError(
                    "The parameter 'weights' should be in the range [0, 1], but got "
                    f"min value {w.min():.5f}, max value {w.max():.5f}"
                )
            if not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-6):
                raise ValueError(
                    f"The parameter 'weights' should be normalized, but got sum(weights) = "
                    f"{w.sum():.5f}"
                )
        if self.means_init is not None:
            m = np.asarray(self.means_init, dtype=float)
            if m.shape != (k, d):
                raise ValueError(
                    f"The parameter 'means' should have the shape of {(k, d)}, but got {m.shape}"
                )
            if not np.all(np.isfinite(m)):
                raise ValueError("The parameter 'means' contains NaN or infinite values")
        if self.precisions_init is not None:
            p = np.asarray(self.precisions_init, dtype=float)
            expected = tuple(cov.covariance_shape(k, d))
            if p.shape != expected:
                raise ValueError(
                    f"The parameter '{self.covariance_type} precision' should have the shape "
                    f"of {expected}, but got {p.shape}"
                )
            try:
                cov.precision_cholesky_from_precisions(p)
            except NotPositiveDefiniteError as exc:
                raise ValueError(
                    f"'{self.covariance_type} precision' should be symmetric, positive-definite"
                    f" ({exc})"
                ) from None

    def _check_is_fitted(self) -> None:
        if not hasattr(self, "precisions_cholesky_"):
            raise _sklearn_compatible_types()[0](
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    def _validate_predict_input(self, X: Any) -> np.ndarray:
        self._check_is_fitted()
        check_feature_names(self, X, reset=False)
        arr = check_array(X, estimator_name=type(self).__name__)
        check_n_features(self, arr)
        return arr

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        sample_weight: Any = None,
        callback: FitCallback | None = None,
    ) -> GaussianMixture:
        """Estimate the parameters with EM (``n_init`` restarts; the best is kept).

        ``sample_weight`` (non-negative, one per row) weights each row's contribution;
        integer weights fit the same model as repeating rows. ``callback`` is called after
        every iteration with a :class:`FitProgress`; returning a true value cancels the fit
        (raises :class:`~gmm_desktop.errors.FitCancelled`, and the estimator is unchanged).

        ``X`` may also be a Dask array or DataFrame (bigger than memory): each iteration
        then sums per-partition statistics on the active Dask scheduler, and the
        initializer runs on a bounded uniform random sample (see
        :mod:`gmm_desktop.outofcore`).
        """
        self._fit(X, sample_weight, callback)
        return self

    def fit_predict(
        self,
        X: Any,
        y: Any = None,
        *,
        sample_weight: Any = None,
        callback: FitCallback | None = None,
    ) -> np.ndarray:
        """Fit, then return the most likely component of each row of ``X``.

        For a Dask collection the components come back as a lazy Dask array.
        """
        arr = self._fit(X, sample_weight, callback)
        if arr is None:
            return _out_of_core().predict(self, X)
        return self._weighted_log_prob(arr).argmax(axis=1)

    def _fit(
        self, X: Any, sample_weight: Any, callback: FitCallback | None
    ) -> np.ndarray | None:
        snapshot = dict(self.__dict__)
        try:
            with _em.blas_single_threaded():
                return self._fit_unguarded(X, sample_weight, callback)
        except BaseException:
            # Cancelled, a plugin failed, or every restart failed: leave the model as it was.
            self.__dict__.clear()
            self.__dict__.update(snapshot)
            raise

    def _fit_unguarded(
        self, X: Any, sample_weight: Any, callback: FitCallback | None
    ) -> np.ndarray | None:
        """Validate, then run the EM loop; returns the validated array (``None`` for Dask)."""
        self._validate_params()
        if is_dask_collection(X):
            data: FitData = _out_of_core().fit_data(self, X, sample_weight)
            self._run_em(data, X, callback)
            return None
        name = type(self).__name__
        arr = check_array(X, estimator_name=name, ensure_min_samples=2)
        n_samples, n_features = arr.shape
        weight = check_sample_weight(sample_weight, n_samples)
        chunk = _em.chunk_rows(n_samples, n_features, self.n_components, self.chunk_size)
        total_weight = float(n_samples if weight is None else weight.sum())

        def em_pass(
            weights: np.ndarray, means: np.ndarray, expanded: np.ndarray, structure: str
        ) -> tuple[float, _em.RawStats]:
            return _em.em_pass(arr, weight, weights, means, expanded, structure, chunk)

        data = FitData(
            n_samples, n_features, total_weight, em_pass,
            lambda: (arr, weight, total_weight, chunk), dtype=arr.dtype,
        )
        self._run_em(data, X, callback)
        return arr

    def _run_em(self, data: FitData, X: Any, callback: FitCallback | None) -> None:
        """The EM loop (restarts, callback, convergence), shared by every data source."""
        n_samples, n_features = data.n_samples, data.n_features
        if n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, n_samples = {n_samples}"
            )
        cov = self._covariance_plugin()
        if getattr(cov, "univariate", False) and n_features != 1:
            raise ValueError(
                f"the covariance type {cov.name!r} is for one feature only, but X has "
                f"{n_features}; choose a single feature or another covariance type"
            )
        self._check_parameters(n_features, cov)
        if data.feature_names is not None:
            self.feature_names_in_ = data.feature_names
        else:
            check_feature_names(self, X, reset=True)

        do_init = not (self.warm_start and hasattr(self, "converged_"))
        if not do_init:
            check_n_features(self, np.empty((0, n_features)))
        self.n_features_in_ = n_features
        n_init = self.n_init if do_init else 1
        k = self.n_components
        total_weight = data.total_weight
        random_state = check_random_state(self.random_state)
        initializer = None
        needs_resp = self.weights_init is None or self.means_init is None
        needs_resp = needs_resp or self.precisions_init is None
        if do_init and needs_resp:
            initializer = self._initializer_plugin()

        max_lower_bound = -np.inf
        best: _Params | None = None
        best_n_iter = 0
        best_lower_bounds: list[float] = []
        best_converged = False
        failures: list[str] = []
        start_time = time.perf_counter()
        for init in range(n_init):
            if self.verbose:
                print(f"Initialization {init}", file=sys.stdout)
            init_start = time.perf_counter()
            iter_start = init_start
            try:
                if do_init:
                    if initializer is not None:
                        init_X, init_w, init_total, init_chunk = data.init_rows()
                    else:  # every initial parameter is given: the rows are not needed
                        init_X, init_w = np.empty((0, n_features)), None
                        init_total, init_chunk = total_weight, 1
                    params = self._initial_params(
                        init_X, init_w, init_total, random_state, cov, initializer, init_chunk
                    )
                else:
                    params = _Params(
                        self.weights_, self.means_, self.covariances_, self.precisions_cholesky_
                    )
                lower_bound = -np.inf if do_init else self.lower_bound_
                lower_bounds: list[float] = []
                converged = False
                n_iter = 0
                if self.max_iter == 0:
                    best, best_n_iter = params, 0
                    continue
                for n_iter in range(1, self.max_iter + 1):
                    previous = lower_bound
                    params, lower_bound = self._em_iteration(
                        data.em_pass, total_weight, params, cov
                    )
                    lower_bounds.append(lower_bound)
                    change = lower_bound - previous
                    if self.verbose >= 1 and n_iter % self.verbose_interval == 0:
                        now = time.perf_counter()
                        if self.verbose == 1:
                            print(f"  Iteration {n_iter}", file=sys.stdout)
                        else:
                            print(
                                f"  Iteration {n_iter}\t time lapse {now - iter_start:.5f}s\t "
                                f"ll change {change:.5f}",
                                file=sys.stdout,
                            )
                        iter_start = now
                    if callback is not None:
                        done = (init + n_iter / self.max_iter) / n_init
                        info = FitProgress(
                            restart=init,
                            n_restarts=n_init,
                            iteration=n_iter,
                            max_iter=self.max_iter,
                            lower_bound=float(lower_bound),
                            change=float(change),
                            elapsed=time.perf_counter() - start_time,
                            fraction=min(1.0, done),
                        )
                        if callback(info):
                            raise FitCancelled(
                                f"fit cancelled at restart {init + 1} of {n_init}, "
                                f"iteration {n_iter}; the previous model is unchanged"
                            )
                    if abs(change) < self.tol:
                        converged = True
                        break
            except NotPositiveDefiniteError as exc:
                message = f"restart {init + 1} of {n_init}: {exc}"
                failures.append(message)
                warnings.warn(
                    f"Dropped {message}. The other restarts go on.",
                    RestartFailedWarning,
                    stacklevel=4,
                )
                continue
            if self.verbose:
                took = time.perf_counter() - init_start
                state = "converged" if converged else "did not converge"
                print(
                    f"Initialization {state}. time lapse {took:.5f}s\t lower bound "
                    f"{lower_bound:.5f}.",
                    file=sys.stdout,
                )
            if lower_bound > max_lower_bound or max_lower_bound == -np.inf:
                max_lower_bound = lower_bound
                best, best_n_iter = params, n_iter
                best_lower_bounds = lower_bounds
                best_converged = converged

        if best is None:
            raise FitError(
                f"Every restart ({n_init} of {n_init}) failed because a component's covariance "
                f"became singular ({failures[-1] if failures else 'unknown cause'}). "
                f"Remedies: raise reg_covar (now {self.reg_covar:g}), use fewer components "
                f"(now {k}), or remove duplicate or constant columns.{self._plugin_note()}"
            )
        self.converged_ = best_converged
        if not best_converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                _sklearn_compatible_types()[1],
                stacklevel=4,
            )
        self._set_params(best, cov, data.dtype)
        self.n_iter_ = best_n_iter
        self.lower_bound_ = max_lower_bound
        self.lower_bounds_ = best_lower_bounds

    def _initial_params(
        self,
        X: np.ndarray,
        weight: np.ndarray | None,
        total_weight: float,
        random_state: np.random.RandomState,
        cov: CovarianceType,
        initializer: Initializer | None,
        chunk: int,
    ) -> _Params:
        k, d = self.n_components, X.shape[1]
        weights = means = covariances = None
        if initializer is not None:
            resp = self._run_initializer(initializer, X, random_state, weight)
            stats = _em.stats_from_resp(X, resp, weight, cov.structure, chunk).finalize(
                total_weight
            )
            weights = stats.nk / total_weight
            means = stats.means
            covariances = self._checked_m_step(cov, stats)
        if self.weights_init is not None:
            weights = np.asarray(self.weights_init, dtype=float).copy()
        if self.means_init is not None:
            means = np.asarray(self.means_init, dtype=float).copy()
        if self.precisions_init is None:
            prec_chol = self._call_plugin(
                cov, "precision_cholesky", cov.precision_cholesky, covariances
            )
        else:
            precisions = np.asarray(self.precisions_init, dtype=float)
            prec_chol = cov.precision_cholesky_from_precisions(precisions)
            if covariances is None:
                covariances = (
                    np.linalg.inv(precisions) if cov.structure == "full" else 1.0 / precisions
                )
        assert weights is not None and means is not None
        self._check_plugin_array(cov, prec_chol, "precision Cholesky factors", k, d)
        return _Params(weights, means, covariances, prec_chol)

    def _run_initializer(
        self,
        initializer: Initializer,
        X: np.ndarray,
        random_state: np.random.RandomState,
        weight: np.ndarray | None,
    ) -> np.ndarray:
        k = self.n_components
        label = f"initializer {initializer.name or type(initializer).__name__!r}"
        try:
            out = initializer.initialize(X, k, random_state, weight)
        except (PluginError, FitCancelled):
            raise
        except Exception as exc:
            raise PluginError(
                f"the {label} failed: {type(exc).__name__}: {exc}", plugin=initializer.name
            ) from exc
        if isinstance(out, Initialization):
            if out.resp is not None:
                out = out.resp
            elif out.means is not None:
                means = np.asarray(out.means, dtype=float)
                if means.shape != (k, X.shape[1]) or not np.all(np.isfinite(means)):
                    raise PluginError(
                        f"the {label} returned means of shape {means.shape} (expected "
                        f"{(k, X.shape[1])}) or with non-finite values",
                        plugin=initializer.name,
                    )
                dist = ((X[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)
                out = np.zeros((X.shape[0], k))
                out[np.arange(X.shape[0]), dist.argmin(axis=1)] = 1.0
            else:
                raise PluginError(f"the {label} returned neither resp nor means")
        resp = np.asarray(out, dtype=float)
        problem = None
        if resp.shape != (X.shape[0], k):
            problem = f"responsibilities of shape {resp.shape}, expected {(X.shape[0], k)}"
        elif not np.all(np.isfinite(resp)):
            problem = "non-finite responsibilities"
        elif np.any(resp < 0):
            problem = "negative responsibilities"
        else:
            rows = resp.sum(axis=1)
            if not np.all((np.abs(rows - 1.0) < 1e-6) | (np.abs(rows) < 1e-12)):
                problem = "responsibilities whose rows do not sum to one"
            elif np.any(resp.sum(axis=0) <= 0):
                problem = "a component with no responsibility at all"
        if problem:
            raise PluginError(f"the {label} returned {problem}", plugin=initializer.name)
        return resp

    def _plugin_note(self) -> str:
        """A sentence naming the covariance type's plugin when it is not built in."""
        rec = get_registry().record("covariance", str(self.covariance_type))
        if rec is None or rec.origin == "built-in":
            return ""
        return (
            f" The covariance type {self.covariance_type!r} is a plugin ({rec.origin}); if a "
            "built-in type fits these data, the plugin's covariances are at fault."
        )

    @staticmethod
    def _call_plugin(cov: CovarianceType, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a covariance-type method; unexpected errors become a PluginError naming it."""
        try:
            return fn(*args)
        except (NotPositiveDefiniteError, PluginError, FitCancelled):
            raise
        except Exception as exc:
            raise PluginError(
                f"the covariance type {cov.name!r} failed in {what}: {type(exc).__name__}: {exc}",
                plugin=cov.name,
            ) from exc

    def _checked_m_step(self, cov: CovarianceType, stats) -> np.ndarray:
        k, d = stats.n_components, stats.n_features
        try:
            covariances = cov.m_step(stats, float(self.reg_covar))
        except NotPositiveDefiniteError:
            raise
        except Exception as exc:
            raise PluginError(
                f"the covariance type {cov.name!r} failed in its M-step: "
                f"{type(exc).__name__}: {exc}",
                plugin=cov.name,
            ) from exc
        self._check_plugin_array(cov, covariances, "covariances", k, d)
        return np.asarray(covariances, dtype=float)

    @staticmethod
    def _check_plugin_array(cov: CovarianceType, value: Any, what: str, k: int, d: int) -> None:
        arr = np.asarray(value)
        expected = tuple(cov.covariance_shape(k, d))
        if arr.shape != expected:
            raise PluginError(
                f"the covariance type {cov.name!r} returned {what} of shape {arr.shape}, "
                f"expected {expected}",
                plugin=cov.name,
            )
        if not np.all(np.isfinite(arr)):
            raise PluginError(
                f"the covariance type {cov.name!r} returned non-finite {what}", plugin=cov.name
            )

    def _em_iteration(
        self,
        em_pass: EmPass,
        total_weight: float,
        params: _Params,
        cov: CovarianceType,
    ) -> tuple[_Params, float]:
        k, d = params.means.shape
        expanded = self._call_plugin(
            cov, "expand_precision_cholesky", cov.expand_precision_cholesky,
            params.precisions_cholesky, k, d,
        )
        ll, raw = em_pass(params.weights, params.means, expanded, cov.structure)
        stats = raw.finalize(total_weight)
        covariances = self._checked_m_step(cov, stats)
        prec_chol = self._call_plugin(
            cov, "precision_cholesky", cov.precision_cholesky, covariances
        )
        self._check_plugin_array(cov, prec_chol, "precision Cholesky factors", k, d)
        weights = stats.nk / stats.nk.sum()
        return _Params(weights, stats.means, covariances, prec_chol), ll / total_weight

    def _set_params(
        self, params: _Params, cov: CovarianceType, dtype: Any = np.float64
    ) -> None:
        """Store the fitted parameters, in float32 for float32 data (as scikit-learn does)."""
        dtype = np.float32 if np.dtype(dtype) == np.float32 else np.float64

        def cast(value: Any) -> Any:
            return None if value is None else np.asarray(value, dtype=dtype)

        self.weights_ = cast(params.weights)
        self.means_ = cast(params.means)
        self.covariances_ = cast(params.covariances)
        self.precisions_cholesky_ = cast(params.precisions_cholesky)
        self.precisions_ = cast(cov.precisions(params.precisions_cholesky))
        self._cov = cov

    def _output_dtype(self, X: np.ndarray) -> Any:
        """float32 when both ``X`` and the fitted parameters are (numpy's promotion)."""
        return np.result_type(X.dtype, np.asarray(self.means_).dtype, np.float32)

    # ------------------------------------------------------------------ inference

    def _plugin(self) -> CovarianceType:
        cov = self.__dict__.get("_cov")
        if cov is None or cov.name != self.covariance_type:
            cov = self._covariance_plugin()  # not cached: inference never changes __dict__
        return cov

    def _weighted_log_prob(self, X: np.ndarray) -> np.ndarray:
        cov = self._plugin()
        k, d = self.means_.shape
        expanded = cov.expand_precision_cholesky(self.precisions_cholesky_, k, d)
        chunk = _em.chunk_rows(X.shape[0], d, k, self.chunk_size)
        return _em.weighted_log_prob(
            X, self.weights_, self.means_, expanded, cov.structure, chunk
        )

    def score_samples(self, X: Any) -> np.ndarray:
        """Log-density ``log p(x)`` of each row under the mixture."""
        arr = self._validate_predict_input(X)
        return _em.logsumexp_rows(self._weighted_log_prob(arr)).astype(
            self._output_dtype(arr), copy=False
        )

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-density per row."""
        return float(self.score_samples(X).mean())

    def predict(self, X: Any) -> np.ndarray:
        """Most likely component of each row."""
        arr = self._validate_predict_input(X)
        return self._weighted_log_prob(arr).argmax(axis=1)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Responsibilities: the posterior probability of each component for each row."""
        arr = self._validate_predict_input(X)
        wlp = self._weighted_log_prob(arr)
        return np.exp(wlp - _em.logsumexp_rows(wlp)[:, None]).astype(
            self._output_dtype(arr), copy=False
        )

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n_samples`` rows from the fitted mixture; returns ``(X, component)``."""
        self._check_is_fitted()
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples}. The sampling requires at least "
                "one sample."
            )
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        X = self._plugin().sample(rng, self.means_, self.covariances_, counts)
        y = np.concatenate([np.full(int(c), j, dtype=int) for j, c in enumerate(counts)])
        return X, y

    def _n_parameters(self) -> int:
        k, d = self.means_.shape
        return int(self._plugin().n_parameters(k, d) + k * d + k - 1)

    def n_parameters(self) -> int:
        """Number of free parameters (covariances, means and weights)."""
        self._check_is_fitted()
        return self._n_parameters()

    def bic(self, X: Any) -> float:
        """Bayesian information criterion on ``X`` (lower is better)."""
        n = np.asarray(X).shape[0] if not hasattr(X, "shape") else X.shape[0]
        return float(-2 * self.score(X) * n + self._n_parameters() * np.log(n))

    def aic(self, X: Any) -> float:
        """Akaike information criterion on ``X`` (lower is better)."""
        n = np.asarray(X).shape[0] if not hasattr(X, "shape") else X.shape[0]
        return float(-2 * self.score(X) * n + 2 * self._n_parameters())

    def marginal_covariances(self, i: int, j: int) -> np.ndarray:
        """``(K, 2, 2)`` marginal covariances of features ``i`` and ``j`` (for ellipses)."""
        self._check_is_fitted()
        k, d = self.means_.shape
        return np.asarray(self._plugin().marginal_2d(self.covariances_, k, d, i, j))

    def full_covariances(self) -> np.ndarray:
        """The covariances as a ``(K, d, d)`` stack whatever the covariance type."""
        self._check_is_fitted()
        k, d = self.means_.shape
        return np.asarray(self._plugin().to_full(self.covariances_, k, d))

    def reordered(self, order: Any) -> GaussianMixture:
        """A copy of this fitted model with its components in ``order`` (a permutation of
        ``range(K)``): component ``i`` of the copy is component ``order[i]`` of this one.

        The covariance arrays are permuted along the axis whose length is the number of
        components in the covariance type's declared shape (none for a shared covariance).
        """
        self._check_is_fitted()
        import copy

        k, d = self.means_.shape
        order = np.asarray(order, dtype=np.int64)
        if sorted(order.tolist()) != list(range(k)):
            raise ValueError(f"order must be a permutation of range({k}), got {order.tolist()}")
        cov = self._plugin()
        shape_k = tuple(cov.covariance_shape(k, d))
        shape_k1 = tuple(cov.covariance_shape(k + 1, d))
        axes = [i for i, (a, b) in enumerate(zip(shape_k, shape_k1, strict=True)) if a != b]
        out = copy.deepcopy(self)
        out.weights_ = np.asarray(self.weights_)[order]
        out.means_ = np.asarray(self.means_)[order]
        for name in ("covariances_", "precisions_", "precisions_cholesky_"):
            arr = np.asarray(getattr(self, name))
            for axis in axes:
                arr = np.take(arr, order, axis=axis)
            setattr(out, name, arr)
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_cov", None)  # plugins are looked up again by name
        return state
