"""The colours gmm-desktop draws with, Qt-free (the window and the HTML report share them).

Okabe & Ito (2008), then Paul Tol's "muted" set: distinguishable with colour-vision
deficiencies. Black is left out (it is the mean marker and the light theme's text).
"""

from __future__ import annotations

__all__ = ["CATEGORICAL", "NEUTRAL", "categorical_hex"]

CATEGORICAL = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#332288",
    "#DDCC77",
    "#117733",
    "#88CCEE",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
)

#: Points with no model yet.
NEUTRAL = "#7F7F7F"


def categorical_hex(n: int) -> list[str]:
    """``n`` component colours (the palette repeats past its length)."""
    return [CATEGORICAL[i % len(CATEGORICAL)] for i in range(n)]
