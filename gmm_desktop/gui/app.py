"""Start the desktop application: ``main(argv)`` is what ``gmm-desktop`` (no arguments)
and ``python -m gmm_desktop`` call."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

#: Test hooks, comma-separated: ``fit`` fits the opened file as soon as it is loaded and
#: prints the fitted model's weights and means as one JSON line on stdout (the crash-restore
#: test); ``ready`` prints ``READY`` once the event loop runs and ``OPENED <name>`` when a
#: table is open (the start-and-stop tests).
TEST_HOOK_ENV = "GMM_DESKTOP_TEST_HOOK"
#: How often Python gets the hand back from Qt's event loop, so that a Ctrl+C in the
#: terminal is seen (Python runs signal handlers only between its own bytecodes).
SIGNAL_POLL_MS = 200

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


def install_signal_handlers(app, window) -> tuple[object, dict[int, object]]:
    """Ctrl+C (SIGINT) and SIGTERM quit the window cleanly: the window closes as if the
    user closed it (state saved, work stopped, crash marker removed), then the event loop
    ends. Returns the poll timer and the previous handlers (for
    :func:`restore_signal_handlers`)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialog

    def stop() -> None:
        # a modal dialog (the restore question) runs its own event loop: end it first
        for _ in range(10):
            modal = QApplication.activeModalWidget()
            if modal is None:
                break
            if isinstance(modal, QDialog):
                modal.done(QDialog.DialogCode.Rejected)
            else:
                modal.close()
        window.close()
        app.exit(0)

    def quit_cleanly(signum: int, _frame: object) -> None:
        if getattr(window, "interrupted_by", None) is not None:
            return
        window.interrupted_by = signum
        log.info("signal %s received: quitting", signum)
        QTimer.singleShot(0, stop)

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, quit_cleanly)
        except (ValueError, OSError):  # pragma: no cover - not the main thread
            pass
    timer = QTimer(app)
    timer.setInterval(SIGNAL_POLL_MS)
    timer.timeout.connect(lambda: None)  # a Python slot: signal handlers get to run
    timer.start()
    return timer, previous


def restore_signal_handlers(previous: dict[int, object]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def launch(args: argparse.Namespace, *, signals: bool = False):
    """Create the application and the window, open what was asked for (then offer the
    autosave of an unclean exit without replacing it), and return ``(app, window)``.

    ``signals``: Ctrl+C and SIGTERM quit cleanly from here on (even while the restore
    question is open); the previous handlers are in ``window.previous_signal_handlers``.
    """
    _leave_a_core_for_the_gui()

    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    QCoreApplication.setOrganizationName("gmm-desktop")
    QCoreApplication.setApplicationName("gmm-desktop")
    QGuiApplication.setDesktopFileName("gmm-desktop")  # matches resources/gmm-desktop.desktop
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "gmm-desktop"])

    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True)

    from gmm_desktop import __version__
    from gmm_desktop.controller.session import setup_file_logging
    from gmm_desktop.gui.desktop import app_icon
    from gmm_desktop.gui.main_window import MainWindow

    QCoreApplication.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    try:
        log_path = setup_file_logging()
    except OSError:  # pragma: no cover - no writable state folder
        log_path = None
    window = MainWindow()
    _install_excepthook(window)
    window.previous_signal_handlers = {}
    if signals:
        window.signal_timer, window.previous_signal_handlers = install_signal_handlers(
            app, window)
    window.show()
    window.controller.warmedUp.connect(_freeze_startup_objects)
    window.controller.warm_up()
    if log_path is not None:
        log.info("gmm-desktop started (log file %s)", log_path)
    hooks = set(os.environ.get(TEST_HOOK_ENV, "").split(","))
    if "ready" in hooks:
        _report_when_ready(window)
    asked = bool(args.demo or args.file)
    if args.demo:
        window.controller.open_demo(args.demo)
    elif args.file:
        path = Path(args.file)
        if not path.exists():
            window.show_error("Cannot open", f"{path}: no such file.")
        else:
            window.open_path(path)
    # what was asked for is opened first; the autosave of an unclean exit is offered
    # without replacing it (non-modal), or asked about at once when nothing was asked
    window.offer_restore(asked=asked)
    if "fit" in hooks:
        _fit_on_load(window)
    return app, window


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
EXIT_USAGE = 2


def _argument_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments or the machine before a window can open: an
    unknown demo, a missing file, no display (Qt would abort the process on Linux)."""
    from gmm_desktop.data import DataError, demo_path
    from gmm_desktop.data.errors import clip_text

    if args.demo:
        try:
            demo_path(args.demo)
        except DataError as exc:
            return str(exc)
    if args.file and not Path(args.file).expanduser().exists():
        return (f"there is no file {clip_text(args.file, 200)}; give an existing data file "
                "or session, or --demo synthetic")
    if (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
        return ("there is no display to open the window on (neither DISPLAY nor "
                "WAYLAND_DISPLAY is set). Run it in a desktop session, or use the "
                "command line without a window (gmm-desktop detect FILE ...; see "
                "gmm-desktop --help).")
    return None


def main(
    argv: list[str] | None = None,
    *,
    library_lookup: Callable[[str], bool] | None = None,
) -> int:
    """Parse ``argv`` (the arguments after the program name: ``[FILE]``), show the main
    window, and run the Qt event loop; returns the exit code (128 + the signal's number
    after Ctrl+C or SIGTERM, once the window has closed cleanly).

    Before Qt is imported, the system libraries it needs on Linux are checked
    (:mod:`gmm_desktop.gui.qt_libraries`): when one is missing, one line on stderr names
    the packages and the install command, and the exit code is
    :data:`EXIT_MISSING_LIBRARIES` (Qt itself would abort the process).
    ``library_lookup(soname) -> bool`` replaces the loader check (for tests).
    """
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    problem = _argument_problem(args)
    if problem is not None:  # said before Qt starts (a window for an error helps no one)
        print(f"gmm-desktop: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from gmm_desktop.gui.qt_libraries import library_loads, missing_libraries_message

    problem = missing_libraries_message(lookup=library_lookup or library_loads)
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_MISSING_LIBRARIES
    app, window = launch(args, signals=True)
    try:
        if getattr(window, "interrupted_by", None) is None:  # not stopped while starting
            code = int(app.exec())
        else:
            app.processEvents()  # the window closes cleanly (its close is queued)
            code = 0
    finally:
        restore_signal_handlers(window.previous_signal_handlers)
    signum = getattr(window, "interrupted_by", None)
    return 128 + int(signum) if signum is not None else code


def _report_when_ready(window) -> None:
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, lambda: print("READY", flush=True))
    window.controller.datasetChanged.connect(
        lambda v: print(f"OPENED {v.name}", flush=True) if v is not None else None)


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
