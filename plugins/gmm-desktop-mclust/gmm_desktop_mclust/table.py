"""The BIC table as mclust prints it: one row per component count, one column per model."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = ["bic_grid"]


def bic_grid(result: Any, *, mclust_sign: bool = True, digits: int = 2) -> str:
    """A component-count × model table of BIC from a model-selection result.

    ``result`` is what ``gmm_desktop.engine.select_models`` returns (anything with ``cells``
    whose items have ``n_components``, ``covariance_type``, ``bic`` and ``error``).
    ``mclust_sign=True`` shows mclust's ``2 logL − p ln n`` (higher is better);
    ``False`` shows scikit-learn's ``−2 logL + p ln n`` (lower is better). Failed cells
    show ``NA``, as mclust does. The best cell is marked with ``*``.
    """
    cells: Iterable[Any] = result.cells
    models: list[str] = []
    ks: list[int] = []
    values: dict[tuple[str, int], float] = {}
    for c in cells:
        if c.covariance_type not in models:
            models.append(c.covariance_type)
        if c.n_components not in ks:
            ks.append(c.n_components)
        bic = math.nan if c.error else float(c.bic)
        values[(c.covariance_type, c.n_components)] = -bic if mclust_sign else bic
    best = getattr(result, "best", None)
    width = max(10, digits + 8)
    label = "BIC (mclust: 2logL - p ln n, higher is better)" if mclust_sign else (
        "BIC (scikit-learn: -2logL + p ln n, lower is better)"
    )
    lines = [label, " " * 3 + "".join(f"{m:>{width}}" for m in models)]
    for k in sorted(ks):
        row = f"{k:>3}"
        for m in models:
            v = values.get((m, k), math.nan)
            mark = "*" if best is not None and (best.covariance_type, best.n_components) == (
                m, k) else " "
            text = "NA" if math.isnan(v) else f"{v:.{digits}f}"
            row += f"{text + mark:>{width}}"
        lines.append(row)
    return "\n".join(lines)
