"""Fixtures shared by the GUI tests (the QT_QPA_PLATFORM and state-folder fixtures are in
tests/conftest.py)."""

from __future__ import annotations

import pytest

from gmm_desktop.gui.main_window import MainWindow


@pytest.fixture
def window(qtbot, gmm_state_dir, gmm_settings_dir):
    """The real main window at 1500×950, shown; background work is stopped afterwards.

    (Test files that need another size or set-up define their own ``window``.)
    """
    w = MainWindow(ask_restore=lambda path: False)
    qtbot.addWidget(w)
    w.resize(1500, 950)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.controller.cancel()
    w.controller.wait(20_000)
