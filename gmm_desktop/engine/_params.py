"""Constructor-parameter constraints checked the way scikit-learn checks them.

scikit-learn validates an estimator's parameters when ``fit`` starts, against a table of
constraints, and raises ``InvalidParameterError`` (a ``ValueError`` and ``TypeError``)
with one message shape: ``The 'n_components' parameter of GaussianMixture must be an int
in the range [1, inf). Got '3' instead.``  A drop-in must fail the same way, so this
module states :class:`~gmm_desktop.engine.GaussianMixture`'s constraints with the same
semantics (``bool`` counts as an int, NaN is never in a range, the ``inf`` bound is
open) and renders the same text. The exception class itself is scikit-learn's, imported
by :mod:`gmm_desktop.engine.mixture` only when a parameter is invalid; nothing here
imports scikit-learn.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["Constraint", "first_violation", "violation_message"]


class Constraint:
    """One accepted kind of value: a test and the words scikit-learn uses for it."""

    def __init__(self, test: Callable[[Any], bool], text: str) -> None:
        self.test = test
        self.text = text

    def __str__(self) -> str:
        return self.text

    @classmethod
    def interval(
        cls, kind: type, low: float | None, high: float | None = None, *, closed: str = "left"
    ) -> Constraint:
        """Numbers of ``kind`` (``numbers.Integral`` or ``numbers.Real``) between bounds.

        ``closed`` is ``"left"``, ``"right"``, ``"both"`` or ``"neither"``; a missing bound
        is infinite and never reached (so ``inf`` is outside ``[0.0, inf)``).
        """
        integral = kind is numbers.Integral

        def test(value: Any) -> bool:
            if not isinstance(value, kind):
                return False
            if not isinstance(value, numbers.Integral) and math.isnan(value):
                return False
            lo = -math.inf if low is None else low
            hi = math.inf if high is None else high
            above = value >= lo if closed in ("left", "both") else value > lo
            below = value <= hi if closed in ("right", "both") else value < hi
            return bool(above and below)

        def bound(value: float | None, infinite: str) -> str:
            if value is None:
                return infinite
            return str(value) if integral else str(float(value))

        left = "[" if closed in ("left", "both") else "("
        right = "]" if closed in ("right", "both") else ")"
        what = "an int" if integral else "a float"
        text = f"{what} in the range {left}{bound(low, '-inf')}, {bound(high, 'inf')}{right}"
        return cls(test, text)

    @classmethod
    def instance_of(cls, kind: type) -> Constraint:
        """Instances of ``kind``, named by its module-qualified name (``'numpy.bool'``)."""
        module = kind.__module__
        name = kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
        return cls(lambda value: isinstance(value, kind), f"an instance of {name!r}")

    @classmethod
    def str_among(cls, options: Iterable[str]) -> Constraint:
        """One of the strings ``options`` (listed in the message in sorted order)."""
        allowed = sorted(set(options))
        listing = ", ".join(repr(o) for o in allowed)
        return cls(
            lambda value: isinstance(value, str) and value in allowed,
            f"a str among {{{listing}}}",
        )

    @classmethod
    def none(cls) -> Constraint:
        return cls(lambda value: value is None, "None")

    @classmethod
    def array_like(cls) -> Constraint:
        """Anything with a length, a shape or ``__array__`` that is not a scalar."""

        def test(value: Any) -> bool:
            arraylike = (
                hasattr(value, "__len__") or hasattr(value, "shape") or hasattr(value, "__array__")
            )
            return arraylike and not np.isscalar(value)

        return cls(test, "an array-like")


def boolean() -> list[Constraint]:
    """scikit-learn's ``"boolean"``: a Python or NumPy bool."""
    return [Constraint.instance_of(bool), Constraint.instance_of(np.bool_)]


def verbose() -> list[Constraint]:
    """scikit-learn's ``"verbose"``: a non-negative int or a bool."""
    return [Constraint.interval(numbers.Integral, 0), *boolean()]


def random_state() -> list[Constraint]:
    """scikit-learn's ``"random_state"``: a seed, a ``RandomState`` or ``None``."""
    return [
        Constraint.interval(numbers.Integral, 0, 2**32 - 1, closed="both"),
        Constraint.instance_of(np.random.RandomState),
        Constraint.none(),
    ]


def _listing(constraints: Sequence[Constraint]) -> str:
    if len(constraints) == 1:
        return str(constraints[0])
    return f"{', '.join(str(c) for c in constraints[:-1])} or {constraints[-1]}"


def violation_message(name: str, value: Any, accepted: Sequence[Constraint], owner: str) -> str:
    """scikit-learn's message for parameter ``name`` of ``owner`` whose ``value``
    satisfies none of the ``accepted`` constraints."""
    return f"The {name!r} parameter of {owner} must be {_listing(accepted)}. Got {value!r} instead."


def first_violation(
    params: Mapping[str, Any], constraints: Mapping[str, Sequence[Constraint]], owner: str
) -> str | None:
    """The message for the first parameter (in ``params``' order) that satisfies none of
    its constraints, or ``None`` when every parameter is valid.

    Parameters without constraints are not checked.
    """
    for name, value in params.items():
        accepted = constraints.get(name)
        if accepted is None or any(c.test(value) for c in accepted):
            continue
        return violation_message(name, value, accepted, owner)
    return None
