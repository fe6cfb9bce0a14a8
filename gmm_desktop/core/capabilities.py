"""What each backend of a run can do, declared once.

The window greys out (with the reason as a tooltip) and the command line refuses (with
the same reason) whatever :attr:`Detector.capabilities` says is unavailable; neither keeps
a list of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["IN_MEMORY", "OUT_OF_CORE", "READ_OPTION_NAMES", "Capabilities"]

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
#: The reading options (fields of :class:`~gmm_desktop.data.ReadOptions`), by the words
#: a refusal uses.
READ_OPTION_NAMES = {
    "delimiter": "the delimiter", "decimal": "the decimal mark", "header": "the header row",
    "skip_rows": "lines to skip", "comment": "the comment marker",
    "missing_values": "missing-value markers", "encoding": "the encoding",
    "text_columns": "columns kept as text",
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
    read_options: frozenset[str] = frozenset(READ_OPTION_NAMES)
    """The reading options honoured (every CSV file read with them); a given option not
    in this set is refused (:meth:`read_refusals`)."""
    read_reason: str = ""
    """Why the reading options outside :attr:`read_options` are not honoured."""

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
        out.extend(self.read_refusals(config.read))
        return out

    def read_refusals(self, read: Any) -> list[str]:
        """The given reading options (a :class:`~gmm_desktop.data.ReadOptions`) this
        backend does not honour, one phrase each (empty when it honours them all)."""
        if read is None:
            return []
        return [f"{READ_OPTION_NAMES.get(name, name)} ({self.read_reason})"
                for name in read.changed() if name not in self.read_options]


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
    # Every reading option applies per file: each CSV file of a folder or glob is sniffed
    # and parsed with the same options as an in-memory load (gmm_desktop.outofcore.tables).
    # An option that could not be honoured out of core would be left out of this set,
    # with the reason in read_reason, and both faces would refuse it from here.
    read_options=frozenset(READ_OPTION_NAMES),
)
