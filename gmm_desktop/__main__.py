"""``python -m gmm_desktop`` and the ``gmm-desktop`` script: see :mod:`gmm_desktop.cli`."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the GUI without arguments, a headless subcommand otherwise."""
    from gmm_desktop.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
