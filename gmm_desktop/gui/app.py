"""Start the desktop application: ``main(argv)`` is what ``gmm-desktop`` (no arguments)
and ``python -m gmm_desktop`` call."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

#: Set to ``fit`` to fit the opened file as soon as it is loaded and print the fitted
#: model's weights and means as one JSON line on stdout (used by the crash-restore test).
TEST_HOOK_ENV = "GMM_DESKTOP_TEST_HOOK"

log = logging.getLogger("gmm_desktop.gui")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gmm-desktop",
        description="Anomaly detection with Gaussian mixture models (desktop application).",
    )
    parser.add_argument("file", nargs="?", help="a data file (CSV, Parquet, Excel...) or a "
                        "saved session (.json) to open")
    parser.add_argument("--demo", metavar="NAME", help="open a bundled demo dataset "
                        "('faithful' or 'synthetic') instead of a file")
    return parser


def _install_excepthook(window) -> None:
    """Unexpected exceptions in the GUI thread: logged with traceback, one line shown."""

    def hook(exc_type, exc, tb) -> None:
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unexpected error in the GUI:\n%s", details)
        try:
            window.show_status(f"Unexpected error: {exc_type.__name__}: {exc} (see the log file)")
        except Exception:  # pragma: no cover - the window is gone
            sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = hook


def _leave_a_core_for_the_gui() -> None:
    """Fits run on all cores but one, so that the event loop always finds a free core.

    Measured on 2 cores: with the EM kernels on both cores the GUI's 10 ms timer saw gaps
    of 100–200 ms; with one EM thread, under 65 ms. ``GMM_DESKTOP_NUM_THREADS`` (read by
    the engine) still overrides this.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    os.environ.setdefault("GMM_DESKTOP_NUM_THREADS", str(max(1, cores - 1)))


def _freeze_startup_objects() -> None:
    """Exempt every object alive now (the imported libraries, the window) from Python's
    full garbage collections, which otherwise walk all of them in the GUI thread.

    Measured with the window open: 209,000 objects and 230–290 ms per full collection (a
    pause of the event loop whenever allocations trigger one, e.g. while the anomaly table
    fills after a fit); after ``gc.freeze()``, 1–5 ms. Called once the plugins and
    kernels are loaded (``warmedUp``)."""
    gc.freeze()


#: Exit status when Qt cannot start because system libraries are missing.
EXIT_MISSING_LIBRARIES = 1


def main(
    argv: list[str] | None = None,
    *,
    library_lookup: Callable[[str], bool] | None = None,
) -> int:
    """Parse ``argv`` (the arguments after the program name: ``[FILE]``), show the main
    window, and run the Qt event loop; returns the exit code.

    Before Qt is imported, the system libraries it needs on Linux are checked
    (:mod:`gmm_desktop.gui.qt_libraries`): when one is missing, one line on stderr names
    the packages and the install command, and the exit code is
    :data:`EXIT_MISSING_LIBRARIES` (Qt itself would abort the process).
    ``library_lookup(soname) -> bool`` replaces the loader check (for tests).
    """
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    from gmm_desktop.gui.qt_libraries import library_loads, missing_libraries_message

    problem = missing_libraries_message(lookup=library_lookup or library_loads)
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_MISSING_LIBRARIES
    _leave_a_core_for_the_gui()

    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    QCoreApplication.setOrganizationName("gmm-desktop")
    QCoreApplication.setApplicationName("gmm-desktop")
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "gmm-desktop"])

    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True)

    from gmm_desktop.controller.session import setup_file_logging
    from gmm_desktop.gui.main_window import MainWindow

    try:
        log_path = setup_file_logging()
    except OSError:  # pragma: no cover - no writable state folder
        log_path = None
    window = MainWindow()
    _install_excepthook(window)
    window.show()
    window.controller.warmedUp.connect(_freeze_startup_objects)
    window.controller.warm_up()
    if log_path is not None:
        log.info("gmm-desktop started (log file %s)", log_path)
    restored = window.offer_restore()
    if args.demo and not restored:
        window.controller.open_demo(args.demo)
    elif args.file and not restored:
        path = Path(args.file)
        if not path.exists():
            window.show_error("Cannot open", f"{path}: no such file.")
        else:
            window.open_path(path)
    if os.environ.get(TEST_HOOK_ENV) == "fit":
        _fit_on_load(window)
    return int(app.exec())


def _fit_on_load(window) -> None:
    controller = window.controller

    def fit_when_ready(*_args) -> None:
        controller.featuresChanged.disconnect(fit_when_ready)
        controller.fit()

    def report(summary) -> None:
        doc = {
            "weights": [c.weight for c in summary.components],
            "means": [list(c.mean) for c in summary.components],
        }
        print("FITTED " + json.dumps(doc), flush=True)

    controller.featuresChanged.connect(fit_when_ready)
    controller.fitFinished.connect(report)
    controller.sessions.autosaved.connect(lambda p: print("AUTOSAVED " + p, flush=True))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
