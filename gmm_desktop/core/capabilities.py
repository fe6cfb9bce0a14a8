"""What each backend of a run can do, declared once.

The window greys out (with the reason as a tooltip) and the command line refuses (with
the same reason) whatever :attr:`Detector.capabilities` says is unavailable; neither keeps
a list of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["IN_MEMORY", "OUT_OF_CORE", "Capabilities"]

_FEATURES = {
    "labels": "marking rows as outliers, normal or excluded",
    "selection": "selecting rows",
    "refit": "refit strategies",
    "sweep": "model selection over a grid of counts and covariance types",
    "component_range": "plain EM choosing the number of components or the covariance type "
                       "by BIC over every row (give one count and one type, or use the robust "
                       "route, which chooses on a sample)",
    "missing": "imputing missing values by the median (rows with a missing value are "
               "left out)",
    "sheet": "choosing a worksheet",
}


@dataclass(frozen=True)
class Capabilities:
    """The features a backend offers; :attr:`reason` says why the others are missing."""

    name: str
    labels: bool = True
    selection: bool = True
    refit: bool = True
    sweep: bool = True
    component_range: bool = True
    missing: bool = True
    sheet: bool = True
    reason: str = ""

    def allows(self, feature: str) -> bool:
        if feature not in _FEATURES:
            raise ValueError(f"unknown feature {feature!r}")
        return bool(getattr(self, feature))

    def refusal(self, feature: str) -> str:
        """One sentence: this feature is not available here, and why."""
        return f"{_FEATURES[feature][0].upper()}{_FEATURES[feature][1:]} is not available " \
               f"{self.name}: {self.reason}"

    def refusals(self, config: Any) -> list[str]:
        """What of a :class:`~gmm_desktop.core.config.RunConfig` this backend cannot run."""
        out = []
        if not self.component_range and config.selects_model and config.method == "plain":
            out.append(_FEATURES["component_range"])
        if not self.refit and config.refit:
            out.append(_FEATURES["refit"])
        if not self.missing and config.missing != "drop":
            out.append(_FEATURES["missing"])
        if not self.sheet and config.sheet is not None:
            out.append(_FEATURES["sheet"])
        return out


IN_MEMORY = Capabilities(name="in memory")
OUT_OF_CORE = Capabilities(
    name="in big-data mode",
    labels=False,
    selection=False,
    refit=False,
    sweep=False,
    component_range=False,
    missing=False,
    sheet=False,
    reason="it needs every row in memory; the fit, the histogram, the threshold and the "
    "export use every row, read in parts, and the plot shows a uniform sample of the rows.",
)
