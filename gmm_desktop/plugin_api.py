"""The public plugin API of gmm-desktop.

This is the one module a plugin imports from gmm-desktop. The built-in plugins (under
``plugins/`` in the source tree, installed as ``gmm_desktop_plugins``) use nothing else,
and an import-linter contract checks that.

Three kinds of plugin exist; each is a class, registered through a Python entry point
(see ``docs/writing-plugins.md``):

``CovarianceType`` (group ``gmm_desktop.covariance_types``)
    How the covariance matrices of the components are parametrised: the M-step from
    reduced sufficient statistics, the parameter count used by BIC/AIC, and the
    precision Cholesky factor the E-step needs. Only :attr:`CovarianceType.name`,
    :attr:`CovarianceType.structure`, :meth:`CovarianceType.n_parameters`,
    :meth:`CovarianceType.covariance_shape` and :meth:`CovarianceType.m_step` are required
    when the covariances are stored one matrix (``structure="full"``, shape ``(K, d, d)``)
    or one diagonal (``structure="diag"``, shape ``(K, d)``) per component.

``Initializer`` (group ``gmm_desktop.initializers``)
    Initial responsibilities (or initial means) from the data, the number of components
    and a seeded random state.

``RefitStrategy`` (group ``gmm_desktop.refit_strategies``)
    Outlier removal and refit (see the anomaly module); declared with :class:`ParamSpec`.

Robust estimators for plugins (re-exported from :mod:`gmm_desktop.robust`, numpy/scipy
only): :func:`fast_mcd` (FAST-MCD with the consistency correction and reweighting),
:func:`tclust` (trimmed mixture fitting with scatter constraints; the built-in trimming
strategies start from it) and :func:`nn_clean` (nearest-neighbour clutter removal, the
noise component's start). A strategy raises :class:`FitCancelled` when its callback asks.

Conventions shared with scikit-learn: ``U`` is the *precision Cholesky factor*, an upper
triangular matrix with ``Λ = U Uᵀ`` (``Λ`` the precision, the inverse covariance), so the
squared Mahalanobis distance of ``x`` is ``‖(x − μ) U‖²`` and ``log det Λ = 2 Σ log diag U``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from scipy import linalg

from gmm_desktop.errors import FitCancelled, NotPositiveDefiniteError, PluginError
from gmm_desktop.robust import (
    MCDResult,
    NNCleanResult,
    TclustResult,
    fast_mcd,
    nn_clean,
    tclust,
)

__all__ = [
    "API_VERSION",
    "CovarianceType",
    "FitCancelled",
    "Flagger",
    "Initialization",
    "Initializer",
    "MCDResult",
    "NNCleanResult",
    "NotPositiveDefiniteError",
    "ParamSpec",
    "PluginError",
    "RefitCallback",
    "RefitProgress",
    "RefitResult",
    "RefitRound",
    "RefitStrategy",
    "Structure",
    "SufficientStatistics",
    "TclustResult",
    "cholesky_precision_from_covariances",
    "cholesky_precision_from_precisions",
    "clone_model",
    "fast_mcd",
    "nn_clean",
    "precisions_from_cholesky",
    "squared_mahalanobis",
    "tclust",
]

#: Version of this API. A plugin may compare it to what it was written against.
API_VERSION = 1

Structure = Literal["full", "diag"]


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class SufficientStatistics:
    """Everything one M-step needs, already summed over all rows.

    Because EM needs only these sums, an M-step written against them works unchanged
    on chunked, out-of-core or distributed data.

    Attributes
    ----------
    nk : ndarray of shape (K,)
        Weighted responsibility mass of each component, ``Σᵢ wᵢ rᵢₖ``, plus ``10·eps``
        (as scikit-learn adds, so that no component has exactly zero mass).
    means : ndarray of shape (K, d)
        The new component means, ``Σᵢ wᵢ rᵢₖ xᵢ / nk``.
    scatter : ndarray of shape (K, d, d) or (K, d)
        The weighted scatter of each component about its *new* mean,
        ``Σᵢ wᵢ rᵢₖ (xᵢ − μₖ)(xᵢ − μₖ)ᵀ``, not divided by ``nk``; only its diagonal
        (shape ``(K, d)``) when the covariance type's structure is ``"diag"``.
    n_samples : float
        Total sample weight ``Σᵢ wᵢ`` (the number of rows when unweighted).
    """

    nk: np.ndarray
    means: np.ndarray
    scatter: np.ndarray
    n_samples: float

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.means.shape[1])


# --------------------------------------------------------------------------- helpers


def cholesky_precision_from_covariances(covariances: np.ndarray) -> np.ndarray:
    """Precision Cholesky factors ``U`` (upper triangular) of a stack of covariances.

    ``covariances`` has shape ``(K, d, d)``; raises :class:`NotPositiveDefiniteError` naming
    the first component whose matrix is not positive definite.
    """
    covariances = np.asarray(covariances, dtype=float)
    n_components, n_features, _ = covariances.shape
    out = np.empty_like(covariances)
    eye = np.eye(n_features)
    for k in range(n_components):
        try:
            cov_chol = linalg.cholesky(covariances[k], lower=True)
        except (linalg.LinAlgError, ValueError) as exc:
            raise NotPositiveDefiniteError(
                f"the covariance of component {k} is not positive definite ({exc})"
            ) from None
        out[k] = linalg.solve_triangular(cov_chol, eye, lower=True).T
    return out


def cholesky_precision_from_precisions(precisions: np.ndarray) -> np.ndarray:
    """Precision Cholesky factors ``U`` (upper, ``Λ = U Uᵀ``) from precision matrices (K, d, d)."""
    precisions = np.asarray(precisions, dtype=float)
    out = np.empty_like(precisions)
    for k in range(precisions.shape[0]):
        try:
            # U = J chol(J Λ J) J with J the exchange matrix: upper triangular, U Uᵀ = Λ.
            lower = linalg.cholesky(precisions[k][::-1, ::-1], lower=True)
        except (linalg.LinAlgError, ValueError) as exc:
            raise NotPositiveDefiniteError(
                f"the precision of component {k} is not positive definite ({exc})"
            ) from None
        out[k] = lower[::-1, ::-1]
    return out


def precisions_from_cholesky(prec_chol: np.ndarray) -> np.ndarray:
    """``Λ = U Uᵀ`` for a stack of precision Cholesky factors (K, d, d)."""
    prec_chol = np.asarray(prec_chol, dtype=float)
    return np.einsum("kij,klj->kil", prec_chol, prec_chol)


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter of a plugin, enough for a GUI to build its editor.

    ``type`` is one of ``"int"``, ``"float"``, ``"bool"``, ``"choice"``, ``"str"``.
    """

    name: str
    type: Literal["int", "float", "bool", "choice", "str"]
    default: Any
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: Sequence[str] | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise PluginError(f"parameter name {self.name!r} is not an identifier")
        if self.type not in ("int", "float", "bool", "choice", "str"):
            raise PluginError(f"parameter {self.name!r} has unknown type {self.type!r}")
        if self.type == "choice" and not self.choices:
            raise PluginError(f"choice parameter {self.name!r} declares no choices")
        self.validate(self.default)

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ``ValueError``."""
        name = self.name
        if self.type == "bool":
            if isinstance(value, bool | np.bool_):
                return bool(value)
            raise ValueError(f"{name} must be true or false, got {value!r}")
        if self.type in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if self.type == "int":
                if float(value) != int(value):
                    raise ValueError(f"{name} must be a whole number, got {value!r}")
                value = int(value)
            else:
                value = float(value)
                if not np.isfinite(value):
                    raise ValueError(f"{name} must be finite, got {value!r}")
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"{name} must be at least {self.minimum}, got {value}")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"{name} must be at most {self.maximum}, got {value}")
            return value
        if self.type == "choice":
            if value not in self.choices:  # type: ignore[operator]
                raise ValueError(f"{name} must be one of {list(self.choices or [])}, got {value!r}")
            return value
        if not isinstance(value, str):
            raise ValueError(f"{name} must be text, got {value!r}")
        return value

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "help": self.help,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "choices": list(self.choices) if self.choices else None,
            "label": self.label or self.name.replace("_", " "),
        }


# --------------------------------------------------------------------------- covariance types


class CovarianceType(abc.ABC):
    """A covariance parametrisation of the mixture's components.

    Subclass it, set :attr:`name` and :attr:`structure`, and implement the abstract methods.
    The defaults of the other methods assume the covariances are stored as one
    ``(d, d)`` matrix per component (``structure="full"``) or one length-``d`` diagonal per
    component (``structure="diag"``); override them for any other storage (as the built-in
    ``tied`` and ``spherical`` types do).

    Instances must be stateless: the engine may call one instance from several fits.
    """

    #: Registered name, e.g. ``"full"``. Set by the subclass.
    name: ClassVar[str] = ""
    #: One line for menus and ``gmm-desktop plugins``.
    description: ClassVar[str] = ""
    #: Which second moments the M-step needs and which E-step kernel applies:
    #: ``"full"`` (d×d scatter matrices) or ``"diag"`` (their diagonals only).
    structure: ClassVar[Structure] = "full"
    #: True for a type defined for one feature only (mclust's E and V); the engine then
    #: refuses data with more than one feature before fitting.
    univariate: ClassVar[bool] = False

    # -- required ----------------------------------------------------------------------

    @abc.abstractmethod
    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Number of free covariance parameters (BIC and AIC add means and weights)."""

    @abc.abstractmethod
    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        """Shape of the ``covariances_`` array this type stores."""

    @abc.abstractmethod
    def m_step(self, stats: SufficientStatistics, reg_covar: float) -> np.ndarray:
        """New covariances (shape :meth:`covariance_shape`) from reduced statistics.

        ``reg_covar`` is added to the diagonal, as scikit-learn does.
        """

    # -- defaults for one matrix / one diagonal per component ---------------------------

    def to_full(self, covariances: np.ndarray, n_components: int, n_features: int) -> np.ndarray:
        """The covariances as a ``(K, d, d)`` stack of matrices."""
        covariances = np.asarray(covariances, dtype=float)
        if self.structure == "full":
            return np.broadcast_to(covariances, (n_components, n_features, n_features)).copy()
        diag = np.broadcast_to(covariances, (n_components, n_features))
        out = np.zeros((n_components, n_features, n_features))
        idx = np.arange(n_features)
        out[:, idx, idx] = diag
        return out

    def precision_cholesky(self, covariances: np.ndarray) -> np.ndarray:
        """Precision Cholesky factors in this type's own storage.

        Raises :class:`NotPositiveDefiniteError` if a covariance is singular.
        """
        covariances = np.asarray(covariances, dtype=float)
        if self.structure == "full":
            return cholesky_precision_from_covariances(covariances)
        if np.any(~np.isfinite(covariances)) or np.any(covariances <= 0.0):
            raise NotPositiveDefiniteError("a diagonal covariance has a non-positive variance")
        return 1.0 / np.sqrt(covariances)

    def precision_cholesky_from_precisions(self, precisions: np.ndarray) -> np.ndarray:
        """Precision Cholesky factors from precisions given in this type's storage."""
        precisions = np.asarray(precisions, dtype=float)
        if self.structure == "full":
            return cholesky_precision_from_precisions(precisions)
        if np.any(~np.isfinite(precisions)) or np.any(precisions <= 0.0):
            raise NotPositiveDefiniteError("a diagonal precision has a non-positive entry")
        return np.sqrt(precisions)

    def precisions(self, prec_chol: np.ndarray) -> np.ndarray:
        """Precisions (inverse covariances) in this type's storage."""
        prec_chol = np.asarray(prec_chol, dtype=float)
        if self.structure == "full":
            return precisions_from_cholesky(prec_chol)
        return prec_chol**2

    def expand_precision_cholesky(
        self, prec_chol: np.ndarray, n_components: int, n_features: int
    ) -> np.ndarray:
        """The factors as the E-step wants them: ``(K, d, d)`` for ``"full"``, ``(K, d)`` else."""
        prec_chol = np.asarray(prec_chol, dtype=float)
        if self.structure == "full":
            return np.broadcast_to(prec_chol, (n_components, n_features, n_features))
        return np.broadcast_to(prec_chol, (n_components, n_features))

    def marginal_2d(
        self, covariances: np.ndarray, n_components: int, n_features: int, i: int, j: int
    ) -> np.ndarray:
        """The ``(K, 2, 2)`` marginal covariances of features ``i`` and ``j`` (for ellipses)."""
        full = self.to_full(np.asarray(covariances, dtype=float), n_components, n_features)
        idx = np.array([i, j])
        return full[:, idx[:, None], idx[None, :]]

    def sample(
        self,
        rng: np.random.RandomState,
        means: np.ndarray,
        covariances: np.ndarray,
        counts: np.ndarray,
    ) -> np.ndarray:
        """Draw ``counts[k]`` rows from each component, stacked in component order."""
        n_components, n_features = means.shape
        full = self.to_full(covariances, n_components, n_features)
        parts = [
            rng.multivariate_normal(means[k], full[k], int(counts[k])) for k in range(n_components)
        ]
        return np.vstack(parts) if parts else np.empty((0, n_features))

    def to_json(self, covariances: np.ndarray) -> Any:
        """A JSON-serialisable form of ``covariances`` (nested lists by default)."""
        return np.asarray(covariances, dtype=float).tolist()

    def from_json(self, data: Any, n_components: int, n_features: int) -> np.ndarray:
        """Inverse of :meth:`to_json`; raise ``ValueError`` if shape or values are wrong."""
        arr = np.asarray(data, dtype=float)
        expected = tuple(self.covariance_shape(n_components, n_features))
        if arr.shape != expected:
            raise ValueError(f"covariances have shape {arr.shape}, expected {expected}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("covariances contain NaN or infinite values")
        return arr

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


# --------------------------------------------------------------------------- initializers


@dataclass(frozen=True)
class Initialization:
    """What an initializer may return instead of a bare responsibility array.

    Give ``resp`` (n, K) soft or hard responsibilities, or ``means`` (K, d); with means
    only, each row is assigned to its nearest mean.
    """

    resp: np.ndarray | None = None
    means: np.ndarray | None = None


class Initializer(abc.ABC):
    """Initial responsibilities for EM.

    ``initialize`` receives the data (already validated, finite, 2-D, float), the number of
    components, a ``numpy.random.RandomState`` that it must use for all randomness (so a
    seed reproduces the fit), and optional non-negative sample weights. It returns either
    an ``(n, K)`` array of responsibilities or an :class:`Initialization`.

    Responsibilities are non-negative; a row may sum to 1 or, for seed-style initializers
    that pick K rows (as scikit-learn's ``k-means++`` and ``random_from_data`` do), to 0.
    Every component must receive some mass.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    @abc.abstractmethod
    def initialize(
        self,
        X: np.ndarray,
        n_components: int,
        random_state: np.random.RandomState,
        sample_weight: np.ndarray | None = None,
    ) -> np.ndarray | Initialization:
        """Return initial responsibilities (n, K) or an :class:`Initialization`."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


# --------------------------------------------------------------------------- refit strategies


@dataclass(frozen=True)
class RefitProgress:
    """What a refit strategy's ``callback`` receives; a true return value cancels.

    ``fraction`` is the overall share of the work done (0..1), for a progress bar.
    """

    strategy: str
    round: int
    max_rounds: int
    fraction: float
    message: str = ""


@dataclass(frozen=True)
class RefitRound:
    """One round of a refit strategy, for the history shown to the user.

    ``n_flagged`` rows were set aside (trimmed, or assigned to the noise component) at the
    end of the round, ``n_changed`` of them differ from the round before, and
    ``log_likelihood`` is the mean log-density of the rows kept in the fit.
    """

    round: int
    n_flagged: int
    n_changed: int
    log_likelihood: float
    note: str = ""


@dataclass
class RefitResult:
    """What :meth:`RefitStrategy.run` returns.

    Attributes
    ----------
    model
        The refitted model: a new fitted estimator of the same class as the input (the
        input model is never modified).
    flags : ndarray of bool, shape (n,)
        The final outlier flags of every row of ``X``.
    history
        One :class:`RefitRound` per round.
    threshold
        The rule that reproduces ``flags`` on new data with the refitted ``model``, as a
        dict ``{"kind": ..., "value": ...}`` with kind ``"contamination"`` (a fraction),
        ``"log_density"`` (an absolute log-density), ``"sigma"`` (a per-component gate of
        k standard deviations) or ``"chi2"`` (the same gate given as a chi-square
        probability); ``None`` means the caller's own threshold applies.
    info
        Strategy-specific figures (a consistency factor, a noise weight...), JSON-ready.
    """

    model: Any
    flags: np.ndarray
    history: list[RefitRound]
    threshold: dict[str, Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)


#: Given a fitted model and the data, return one bool flag per row (the caller's threshold).
Flagger = Callable[[Any, np.ndarray], np.ndarray]
#: Called with a :class:`RefitProgress`; a true return value cancels the run.
RefitCallback = Callable[[RefitProgress], Any]


class RefitStrategy(abc.ABC):
    """Outlier removal and refit, as a plugin (group ``gmm_desktop.refit_strategies``).

    A subclass sets :attr:`name`, :attr:`description` and :attr:`parameters` (a tuple of
    :class:`ParamSpec`, from which a GUI builds its editor) and implements :meth:`run`.
    Parameter values are given to the constructor by keyword (defaults otherwise),
    validated against :attr:`parameters`, and read back from :attr:`values`.

    ``run`` must not modify the model it receives: it builds new ones, for example with
    :func:`clone_model`, and fits them with ``fit(X, sample_weight=...)``.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    parameters: ClassVar[tuple[ParamSpec, ...]] = ()

    def __init__(self, **values: Any) -> None:
        self.values: dict[str, Any] = {spec.name: spec.default for spec in self.parameters}
        self.set_params(**values)

    @classmethod
    def schema(cls) -> list[dict[str, Any]]:
        """The declared parameters as dicts (name, type, default, range, help...)."""
        return [spec.to_dict() for spec in cls.parameters]

    def set_params(self, **values: Any) -> RefitStrategy:
        """Validate and set parameter values; a bad name or value raises ``ValueError``."""
        specs = {spec.name: spec for spec in self.parameters}
        for key, value in values.items():
            if key not in specs:
                known = ", ".join(specs) or "none"
                raise ValueError(
                    f"the refit strategy {self.name!r} has no parameter {key!r}; "
                    f"its parameters: {known}"
                )
            self.values[key] = specs[key].validate(value)
        return self

    @abc.abstractmethod
    def run(
        self,
        X: np.ndarray,
        model: Any,
        *,
        threshold: Flagger | None = None,
        exclude: np.ndarray | None = None,
        never_flag: np.ndarray | None = None,
        callback: RefitCallback | None = None,
    ) -> RefitResult:
        """Refit ``model`` on ``X`` (n, d) with outliers set aside.

        ``threshold`` is the caller's flagging rule (strategies that flag "at the
        threshold" use it); ``exclude`` marks rows the user declared outliers (never used
        in a fit, always flagged) and ``never_flag`` rows the user declared normal (always
        used, never flagged). ``callback`` is called with :class:`RefitProgress`; when it
        returns a true value the strategy raises :class:`~gmm_desktop.errors.FitCancelled`
        and returns nothing.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.values}>"


def clone_model(model: Any, **params: Any) -> Any:
    """A new, unfitted estimator of ``model``'s class with its parameters (and ``params``)."""
    out = type(model)(**model.get_params())
    if params:
        out.set_params(**params)
    return out


def squared_mahalanobis(X: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of each row to each component, shape (n, K).

    ``covariances`` is the ``(K, d, d)`` stack (``model.full_covariances()``).
    """
    X = np.asarray(X, dtype=float)
    prec_chol = cholesky_precision_from_covariances(covariances)
    out = np.empty((X.shape[0], means.shape[0]))
    for k in range(means.shape[0]):
        out[:, k] = np.sum(((X - means[k]) @ prec_chol[k]) ** 2, axis=1)
    return out
