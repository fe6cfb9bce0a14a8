"""One configuration for a detection run, with one set of defaults.

:class:`RunConfig` is what decides a run: how the table is read (ID column, sheet), which
columns are features and how they are prepared, which mixtures are tried and how they are
fitted, where the threshold lies, and which refit strategy (if any) runs. The window shows
it, the command line builds it from its options, a Python user passes it, "Export as
script" writes it, and model files and sessions store it. The same file with the same
configuration gives the same model and the same flagged rows whichever face ran it.
Configurations written before the reading options existed read as "all detected".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gmm_desktop.data import DataError, ReadOptions
from gmm_desktop.data.errors import clip_text
from gmm_desktop.engine.anomaly import ThresholdSpec
from gmm_desktop.errors import GmmDesktopError

__all__ = [
    "DEFAULT_COMPONENTS",
    "DEFAULT_CONTAMINATION",
    "DEFAULT_COVARIANCE_TYPES",
    "DEFAULT_SWEEP_TYPES",
    "MAX_CANDIDATES",
    "MAX_COMPONENTS",
    "METHODS",
    "ConfigError",
    "RunConfig",
    "default_columns",
]

#: Component counts tried by default (the best by the criterion is kept).
DEFAULT_COMPONENTS: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
#: Covariance types tried by default (the best by the criterion is kept).
DEFAULT_COVARIANCE_TYPES: tuple[str, ...] = ("full", "tied", "diag", "spherical")
#: How the mixture is fitted: ``robust`` (the default route: trimmed fits over the grid, a
#: trimmed BIC, reweighting, the small-component rule; :func:`gmm_desktop.engine.robust.
#: fit_robust`) or ``plain`` (EM on every row, BIC over the grid).
METHODS = ("robust", "plain")
#: The share of rows flagged by default.
DEFAULT_CONTAMINATION = 0.05
#: The most components a model may have, and the most counts one sweep may try (a range
#: such as 1-100000000 is refused before anything is allocated).
MAX_COMPONENTS = 1_000
MAX_CANDIDATES = 100
#: Covariance types a model-selection sweep tries by default: the built-in four. Plugin
#: packs (mclust's 16 models) are offered, not run unasked.
DEFAULT_SWEEP_TYPES: tuple[str, ...] = ("full", "tied", "diag", "spherical")
MISSING_POLICIES = ("drop", "median")
SCALINGS = ("none", "standardize", "robust")
CRITERIA = ("bic", "aic")


class ConfigError(GmmDesktopError, ValueError):
    """A setting of the run is invalid; the message names it and what to give instead."""


def _components(value: Any) -> int | tuple[int, ...]:
    if isinstance(value, bool):
        raise ConfigError(
            f"n_components must be a positive integer or a list of them, got {value!r}")
    if isinstance(value, int) or (hasattr(value, "__index__") and not isinstance(value, str)):
        k = int(value)
        if not 1 <= k <= MAX_COMPONENTS:
            raise ConfigError(f"n_components must be between 1 and {MAX_COMPONENTS}, got {k}")
        return k
    if isinstance(value, str):
        raise ConfigError(
            f"n_components must be a number or a list of numbers, got the text {value!r}"
        )
    size = len(value) if hasattr(value, "__len__") else None
    if size is not None and size > MAX_CANDIDATES:
        raise ConfigError(
            f"n_components lists {size:,} counts; a sweep tries at most {MAX_CANDIDATES} "
            "(for example 1-10)")
    try:
        ks = sorted({int(v) for v in value})
    except (TypeError, ValueError):
        raise ConfigError(
            f"n_components must be a positive integer or a list of them, got {value!r}"
        ) from None
    if not ks or ks[0] < 1 or ks[-1] > MAX_COMPONENTS or len(ks) > MAX_CANDIDATES:
        raise ConfigError(
            f"n_components must be at most {MAX_CANDIDATES} counts between 1 and "
            f"{MAX_COMPONENTS}, got {clip_text(repr(value))}")
    return ks[0] if len(ks) == 1 else tuple(ks)


def default_columns(ds: Any) -> list[str]:
    """The features used when none are chosen: every numeric column but those the loader
    named as not measurements: columns that count the rows (an index or ID saved as
    numbers) and columns with only two values (a 0/1 flag or a label)."""
    not_measured = {w.column for w in ds.warnings
                    if w.code in ("index-like-column", "two-valued-column")}
    chosen = [c for c in ds.numeric_columns if c not in not_measured]
    return chosen or list(ds.numeric_columns)


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a detection run (see the module docstring).

    ``read`` is how a text file is read (:class:`~gmm_desktop.data.ReadOptions`: delimiter,
    decimal mark, header, lines to skip, comment marker, missing-value markers, encoding,
    text columns; by default everything is detected); a dict of the same is accepted.
    ``n_components`` is one count, or several to choose from by ``criterion`` together
    with every type in ``covariance_types``. ``refit_params`` is stored as sorted pairs so
    that a configuration is hashable and compares by value; :attr:`refit_options` gives
    them as a dict.
    """

    # reading the table
    id_column: str | None = None
    sheet: str | int | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    # features
    columns: tuple[str, ...] | None = None
    missing: str = "drop"
    scaling: str = "robust"
    # the mixture
    method: str = "robust"
    n_components: int | tuple[int, ...] = DEFAULT_COMPONENTS
    covariance_types: tuple[str, ...] = DEFAULT_COVARIANCE_TYPES
    criterion: str = "bic"
    trim: float | None = None
    small_component_rule: bool = True
    init_params: str = "kmeans"
    n_init: int = 1
    max_iter: int = 100
    tol: float = 1e-3
    reg_covar: float = 1e-6
    random_state: int | None = 0
    # flagging
    threshold: ThresholdSpec = field(
        default_factory=lambda: ThresholdSpec("contamination", DEFAULT_CONTAMINATION)
    )
    refit: str | None = None
    refit_params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.columns is not None:
            if isinstance(self.columns, str):
                set_(self, "columns", (self.columns,))
            else:
                set_(self, "columns", tuple(str(c) for c in self.columns))
        set_(self, "n_components", _components(self.n_components))
        types = self.covariance_types
        set_(self, "covariance_types", (types,) if isinstance(types, str) else tuple(types))
        if isinstance(self.refit_params, Mapping):
            set_(self, "refit_params", tuple(sorted(self.refit_params.items())))
        else:
            set_(self, "refit_params", tuple(sorted((str(k), v) for k, v in self.refit_params)))
        if isinstance(self.threshold, Mapping):
            set_(self, "threshold", ThresholdSpec.from_dict(dict(self.threshold)))
        if not isinstance(self.read, ReadOptions):
            set_(self, "read", ReadOptions.coerce(self.read))
        self._check()

    def _check(self) -> None:
        if self.missing not in MISSING_POLICIES:
            raise ConfigError(
                f"missing must be one of {', '.join(MISSING_POLICIES)}, got {self.missing!r}"
            )
        if self.scaling not in SCALINGS:
            raise ConfigError(f"scaling must be one of {', '.join(SCALINGS)}, got {self.scaling!r}")
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.trim is not None and (isinstance(self.trim, bool) or not isinstance(
                self.trim, int | float) or not 0.0 <= self.trim <= 0.5):
            raise ConfigError(f"trim must be a share of rows in [0, 0.5], got {self.trim!r}")
        if not isinstance(self.small_component_rule, bool):
            raise ConfigError("small_component_rule must be true or false")
        if self.criterion not in CRITERIA:
            raise ConfigError(
                f"criterion must be one of {', '.join(CRITERIA)}, got {self.criterion!r}"
            )
        if not self.covariance_types or not all(
            isinstance(t, str) and t for t in self.covariance_types
        ):
            raise ConfigError("covariance_types must name at least one covariance type")
        for name, low in (("n_init", 1), ("max_iter", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer of at least {low}, got {value!r}")
        for name in ("tol", "reg_covar"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                math.isfinite(value) and value >= 0
            ):
                raise ConfigError(f"{name} must be a non-negative number, got {value!r}")
        rs = self.random_state
        if rs is not None and (isinstance(rs, bool) or not isinstance(rs, int)):
            raise ConfigError(f"random_state must be an integer or None, got {rs!r}")
        if not isinstance(self.threshold, ThresholdSpec):
            raise ConfigError(f"threshold must be a ThresholdSpec, got {self.threshold!r}")

    # ------------------------------------------------------------------ views

    @property
    def component_candidates(self) -> tuple[int, ...]:
        """The component counts to try (one, or several chosen by the criterion)."""
        k = self.n_components
        return (k,) if isinstance(k, int) else tuple(k)

    @property
    def selects_model(self) -> bool:
        """True when the run chooses among several counts or covariance types."""
        return len(self.component_candidates) * len(self.covariance_types) > 1

    @property
    def contamination(self) -> float:
        """The share of rows the user expects to flag (the robust route trims at least
        it): the threshold's value for a contamination threshold, else the default."""
        t = self.threshold
        return t.value if t.kind == "contamination" else DEFAULT_CONTAMINATION

    @property
    def refit_options(self) -> dict[str, Any]:
        return dict(self.refit_params)

    def gmm_params(self) -> dict[str, Any]:
        """Constructor parameters of the engine's ``GaussianMixture`` (but K and the type)."""
        return {
            "init_params": self.init_params,
            "n_init": self.n_init,
            "max_iter": self.max_iter,
            "tol": self.tol,
            "reg_covar": self.reg_covar,
            "random_state": self.random_state,
        }

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes`` (validated)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (stored in model files, sessions and export sidecars)."""
        k = self.n_components
        return {
            "id_column": self.id_column,
            "sheet": self.sheet,
            "read": self.read.to_dict(),
            "columns": None if self.columns is None else list(self.columns),
            "missing": self.missing,
            "scaling": self.scaling,
            "method": self.method,
            "n_components": k if isinstance(k, int) else list(k),
            "covariance_types": list(self.covariance_types),
            "criterion": self.criterion,
            "trim": self.trim,
            "small_component_rule": self.small_component_rule,
            "init_params": self.init_params,
            "n_init": self.n_init,
            "max_iter": self.max_iter,
            "tol": self.tol,
            "reg_covar": self.reg_covar,
            "random_state": self.random_state,
            "threshold": self.threshold.to_dict(),
            "refit": self.refit,
            "refit_params": dict(self.refit_params),
        }

    @classmethod
    def from_dict(cls, data: Any, *, base: RunConfig | None = None) -> RunConfig:
        """Read :meth:`to_dict`'s output, and the older ``DetectorConfig`` and window
        ``FitParams`` dicts (keys this version does not know are ignored)."""
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"a run configuration must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key == "covariance_type" and "covariance_types" not in data:  # FitParams
                key, value = "covariance_types", (value,)
            if key not in known:
                continue
            if key == "threshold" and value is not None:
                try:
                    value = ThresholdSpec.from_dict(value)
                except (TypeError, ValueError) as exc:
                    raise ConfigError(f"the configuration's threshold is invalid: {exc}") from None
            if key == "read":
                try:
                    value = ReadOptions.from_dict(value)
                except DataError as exc:
                    raise ConfigError(f"the reading options are invalid: {exc}") from None
            if key == "refit_params" and value is not None and not isinstance(value, Mapping):
                raise ConfigError("refit_params must be an object of parameter values")
            if key in ("columns", "covariance_types") and value is not None:
                if isinstance(value, str) or not isinstance(value, Sequence):
                    raise ConfigError(f"{key} must be a list of names, got {value!r}")
            if value is None and key in ("threshold", "refit_params", "covariance_types"):
                continue
            values[key] = value
        try:
            return dataclasses.replace(base or cls(), **values)
        except ConfigError:
            raise
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"the run configuration is invalid: {exc}") from None
