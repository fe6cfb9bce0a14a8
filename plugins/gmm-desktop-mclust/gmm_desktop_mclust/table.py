"""The BIC table as mclust prints it: one row per component count, one column per model."""

from __future__ import annotations

from typing import Any

__all__ = ["bic_grid"]


def bic_grid(result: Any, *, mclust_sign: bool = True, digits: int = 2) -> str:
    """A component-count × model table of BIC from a model-selection result.

    ``result`` is what ``gmm_desktop.engine.select_models`` returns; this is its
    ``to_grid`` with mclust's sign by default.
    ``mclust_sign=True`` shows mclust's ``2 logL − p ln n`` (higher is better);
    ``False`` shows scikit-learn's ``−2 logL + p ln n`` (lower is better). Failed cells
    show ``NA``, as mclust does. The best cell is marked with ``*``.
    """
    return result.to_grid(mclust_sign=mclust_sign, digits=digits)
