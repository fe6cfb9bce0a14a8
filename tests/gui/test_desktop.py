"""gmm-desktop as a desktop application (issue 13): the icon and the .desktop file ship in
the package, Help ▸ About and Help ▸ Keyboard shortcuts (generated from the actions),
Ctrl+C in the terminal quits cleanly, and after a killed run what was asked for on the
command line is opened (the old autosave is offered without replacing it)."""

from __future__ import annotations

import configparser
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QImage, QKeySequence

import gmm_desktop
from gmm_desktop.gui import desktop

ROOT = Path(__file__).resolve().parents[2]


def pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())
SHOTS = Path("/tmp/gmm-shots")
TIMEOUT = 60_000


def shot(widget, name):
    SHOTS.mkdir(exist_ok=True)
    assert widget.grab().save(str(SHOTS / f"issue-13-desktop-{name}.png"))


# ----------------------------------------------------------------------------- icon, .desktop


def test_icon_files_ship_and_match_the_svg(qtbot):
    folder = Path(gmm_desktop.__file__).parent / "resources" / "icons"
    assert desktop.icon_path() == folder / "gmm-desktop.svg"
    # package data: the wheel carries the icons and the desktop file
    patterns = pyproject()["tool"]["setuptools"]["package-data"]["gmm_desktop"]
    assert "resources/icons/*" in patterns and "resources/*" in patterns
    for size in desktop.ICON_SIZES:
        image = QImage(str(desktop.icon_path(size)))
        assert (image.width(), image.height()) == (size, size)
        # each PNG is the SVG rendered at its size (write_icon_pngs makes them again)
        fresh = desktop.render_icon(size).convertToFormat(QImage.Format.Format_ARGB32)
        a = np.frombuffer(image.convertToFormat(QImage.Format.Format_ARGB32).constBits(),
                          np.uint8).astype(int)
        b = np.frombuffer(fresh.constBits(), np.uint8).astype(int)
        assert np.abs(a - b).max() <= 2, size
    icon = desktop.app_icon()
    assert not icon.isNull()
    assert {s.width() for s in icon.availableSizes()} >= set(desktop.ICON_SIZES)


def test_desktop_file_names_the_program_and_the_icon():
    path = Path(gmm_desktop.__file__).parent / "resources" / "gmm-desktop.desktop"
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "gmm-desktop"
    project = pyproject()["project"]
    # the installed window-only command (a GUI script: no console window on Windows)
    assert entry["Exec"].split() == ["gmm-desktop-gui", "%f"]
    assert "gmm-desktop-gui" in project["gui-scripts"]
    assert entry["TryExec"] == "gmm-desktop-gui"
    assert entry["Icon"] == "gmm-desktop" == desktop.icon_path().stem
    assert entry["StartupWMClass"] == "gmm-desktop"
    assert entry["Terminal"] == "false"
    assert "text/csv" in entry["MimeType"].split(";")


def test_window_has_the_icon(qtbot, window):
    assert not window.windowIcon().isNull()


# ----------------------------------------------------------------------------- Help menu


def test_about_names_version_licence_and_data(qtbot, window):
    dialog = window.show_about()
    qtbot.waitExposed(dialog)
    text = dialog.text.text()
    assert f"gmm-desktop {gmm_desktop.__version__}" in text
    assert "BSD-3-Clause" in text
    for credit in ("Old Faithful", "Azzalini", "Bowman", "datasets", "synthetic.csv",
                   "make_synthetic.py"):
        assert credit in text, credit
    assert not dialog.isModal() or dialog.windowModality() != Qt.WindowModality.ApplicationModal
    shot(dialog, "01-about")
    dialog.close()


def test_keyboard_shortcuts_are_generated_from_the_actions(qtbot, window):
    w = window
    dialog = w.show_shortcuts()
    qtbot.waitExposed(dialog)
    rows = {(cmd, keys) for _menu, cmd, keys in dialog.rows}
    # every action reachable from the menus with a shortcut is listed, with its keys
    expected = set()
    for action in w.findChildren(QAction):
        keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText)
                         for s in action.shortcuts() if not s.isEmpty())
        if keys and action.associatedObjects() and any(
                type(o).__name__ == "QMenu" for o in action.associatedObjects()):
            expected.add((action.text().replace("&", "").rstrip(".…"), keys))
    assert expected and expected <= rows
    native = QKeySequence("Ctrl+R").toString(QKeySequence.SequenceFormat.NativeText)
    assert ("Fit", native) in rows
    assert ("Mixture views",
            QKeySequence("Ctrl+M").toString(QKeySequence.SequenceFormat.NativeText)) in rows
    assert ("Keyboard shortcuts", "F1") in rows
    menus = {menu for menu, _c, _k in dialog.rows}
    assert {"File", "Model", "Edit", "View", "Help"} <= menus
    assert dialog.table.rowCount() == len(dialog.rows) + len(desktop.MOUSE_ROWS)
    shot(dialog, "02-shortcuts")
    dialog.close()
    # a new action with a shortcut shows up: the list is not written twice
    extra = w._action(w.menuBar().actions()[0].menu(), "Frobnicate", lambda: None, "Ctrl+Alt+F")
    again = w.show_shortcuts()
    assert ("Frobnicate", extra.shortcut().toString(QKeySequence.SequenceFormat.NativeText)) in {
        (c, k) for _m, c, k in again.rows}
    again.close()


# ----------------------------------------------------------------------------- start and stop


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", GMM_DESKTOP_STATE_DIR=str(tmp_path / "state"),
               GMM_DESKTOP_SETTINGS_DIR=str(tmp_path / "settings"), PYTHONUNBUFFERED="1",
               GMM_DESKTOP_TEST_HOOK="ready", **extra)
    return env


def _start(tmp_path: Path, *args: str) -> subprocess.Popen:
    (tmp_path / "state").mkdir(exist_ok=True)
    code = "import sys; from gmm_desktop.gui.app import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _read_until(proc: subprocess.Popen, prefix: str, seconds: float = 120) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(prefix):
            return line.strip()
    raise AssertionError(f"the application did not print {prefix!r} in time")


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_in_the_terminal_quits_cleanly(tmp_path):
    proc = _start(tmp_path, "--demo", "faithful")
    try:
        _read_until(proc, "READY")
        assert _read_until(proc, "OPENED") == "OPENED faithful.csv"
        marker = tmp_path / "state" / "running.pid"
        assert marker.read_text().strip() == str(proc.pid)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)  # what Ctrl+C in the terminal sends
        assert proc.wait(30) == 128 + signal.SIGINT
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    # a clean exit: no crash marker, so the next start offers nothing
    assert not marker.exists()
    assert (tmp_path / "settings" / "gmm-desktop.ini").exists()  # the window saved its state


def _crashed_state(tmp_path: Path, blobs_csv: Path) -> Path:
    """A state folder as a killed run leaves it: a marker of a dead process and an
    autosave (a real session of the blobs table with a fitted model)."""
    from gmm_desktop.core import Detector, RunConfig

    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    det = Detector(RunConfig(n_components=(3,), random_state=0))
    det.load(str(blobs_csv))
    det.fit()
    det.save_session(state / "autosave-session.json")
    (state / "running.pid").write_text("999999999\n")
    return state


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_after_a_killed_run_the_demo_asked_for_is_opened(tmp_path, blobs_csv):
    state = _crashed_state(tmp_path, blobs_csv)
    proc = _start(tmp_path, "--demo", "synthetic")
    try:
        assert _read_until(proc, "OPENED") == "OPENED synthetic.csv"
        # the old autosave is kept aside (this run's autosaves cannot overwrite it)
        assert (state / "autosave-recovered-session.json").exists()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def test_the_restore_offer_is_non_modal_and_does_not_replace_what_was_asked(
        qtbot, tmp_path, blobs_csv, monkeypatch, gmm_settings_dir):
    from gmm_desktop.gui import app as app_module

    state = _crashed_state(tmp_path, blobs_csv)
    monkeypatch.setenv("GMM_DESKTOP_STATE_DIR", str(state))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # launch() installs its own
    args = app_module._parser().parse_args(["--demo", "synthetic"])
    _app, w = app_module.launch(args)
    qtbot.addWidget(w)
    c = w.controller
    try:
        qtbot.waitUntil(lambda: c.has_data and not c.is_busy(), timeout=TIMEOUT)
        assert c.run.loaded.name == "synthetic.csv"  # what was asked for
        box = w.restore_offer
        assert box is not None and box.isVisible()
        assert box.windowModality() == Qt.WindowModality.NonModal
        kept = state / "autosave-recovered-session.json"
        assert kept.exists() and not (state / "autosave-session.json").exists()
        shot(w, "03-restore-offer-window")
        shot(box, "03-restore-offer")
        # the analyst chooses to restore: the previous session replaces the demo
        restore = next(b for b in box.buttons() if b.text().startswith("Restore"))
        with qtbot.waitSignal(c.modelChanged, timeout=TIMEOUT,
                              check_params_cb=lambda s: s is not None):
            restore.click()
        qtbot.waitUntil(lambda: not c.is_busy(), timeout=TIMEOUT)
        assert c.run.loaded.name == "blobs.csv"
        assert c.model_summary().n_components == 3
        assert not kept.exists()
    finally:
        w.close()
    assert not (state / "running.pid").exists()


def test_nothing_asked_the_restore_question_comes_at_once(qtbot, tmp_path, blobs_csv,
                                                          monkeypatch, gmm_settings_dir):
    from gmm_desktop.gui.main_window import MainWindow

    state = _crashed_state(tmp_path, blobs_csv)
    monkeypatch.setenv("GMM_DESKTOP_STATE_DIR", str(state))
    asked = []
    w = MainWindow(ask_restore=lambda p: asked.append(p) or False)
    qtbot.addWidget(w)
    assert not w.offer_restore(asked=False)
    assert asked == [state / "autosave-session.json"]
    assert w.restore_offer is None
    assert not (state / "autosave-session.json").exists()  # declined: discarded
    w.close()


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_during_the_restore_question_keeps_the_autosave(qtbot, tmp_path, blobs_csv,
                                                               monkeypatch, gmm_settings_dir):
    """Nothing asked: the question comes at once. Ctrl+C then quits cleanly and keeps the
    old autosave, which the next start offers again."""
    from gmm_desktop.gui.main_window import MainWindow

    state = _crashed_state(tmp_path, blobs_csv)
    proc = _start(tmp_path)
    try:
        _read_until(proc, "READY")  # the event loop runs (the question is open)
        qtbot.wait(300)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    kept = state / "autosave-recovered-session.json"
    assert kept.exists() and not (state / "running.pid").exists()
    # the next start offers it again, and it restores
    monkeypatch.setenv("GMM_DESKTOP_STATE_DIR", str(state))
    asked = []
    w = MainWindow(ask_restore=lambda p: asked.append(p) or True)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.controller.modelChanged, timeout=TIMEOUT,
                          check_params_cb=lambda s: s is not None):
        assert w.offer_restore()
    qtbot.waitUntil(lambda: not w.controller.is_busy(), timeout=TIMEOUT)
    assert asked == [kept]
    assert w.controller.run.loaded.name == "blobs.csv"
    assert not kept.exists()
    w.close()
