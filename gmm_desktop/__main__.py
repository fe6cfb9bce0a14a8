"""The two installed commands and ``python -m gmm_desktop``.

* ``gmm-desktop`` (a console script, :func:`main`): the command line. Without a
  subcommand (``gmm-desktop``, ``gmm-desktop FILE``, ``gmm-desktop --demo NAME``) it opens
  the window, so one command serves both; see :mod:`gmm_desktop.cli`.
* ``gmm-desktop-gui`` (a GUI script, :func:`gui_main`): the window only, with the same
  arguments (``[FILE]``, ``--demo NAME``). On Windows a GUI script starts without a
  console window (for a Start-menu or desktop shortcut); elsewhere it behaves as
  ``gmm-desktop`` without a subcommand.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the GUI without arguments, a headless subcommand otherwise."""
    from gmm_desktop.cli import main as cli_main

    return cli_main(argv)


def gui_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``gmm-desktop-gui``: open the window (``[FILE]``, ``--demo NAME``)."""
    from gmm_desktop.gui.app import main as app_main

    return int(app_main(list(sys.argv[1:] if argv is None else argv)) or 0)


if __name__ == "__main__":
    sys.exit(main())
