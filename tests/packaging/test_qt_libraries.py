"""The start-up check of Qt's system libraries (gmm_desktop.gui.qt_libraries).

Missing libraries are simulated by injecting the lookup function; the library lists are
checked against the ELF ``NEEDED`` entries of the PySide6 actually installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gmm_desktop.gui import app
from gmm_desktop.gui.qt_libraries import (
    GUI_LIBRARIES,
    PACKAGES,
    XCB_LIBRARIES,
    library_loads,
    missing_libraries_message,
    package_manager,
    platform_is_xcb,
)

DEBIAN = {"ID": "debian", "VERSION_ID": "12"}
X11 = {"DISPLAY": ":0"}


def hiding(*names: str):
    """A lookup that finds every library except ``names``."""
    return lambda soname: soname not in names


def message(environ=X11, hidden=("libxcb-icccm.so.4", "libxcb-keysyms.so.1"),
            os_release=DEBIAN, root=False):
    return missing_libraries_message(
        environ, lookup=hiding(*hidden), os_release=os_release, platform="linux", root=root
    )


def test_the_issue_case_names_both_packages_and_the_apt_command():
    text = message()
    assert text is not None and "\n" not in text
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in text
    assert text.endswith("install them with: sudo apt install libxcb-icccm4 libxcb-keysyms1")


@pytest.mark.parametrize(
    ("os_release", "command"),
    [
        ({"ID": "ubuntu", "ID_LIKE": "debian"}, "sudo apt install libgl1 libxcb-cursor0"),
        ({"ID": "linuxmint", "ID_LIKE": "ubuntu debian"}, "sudo apt install libgl1 libxcb-cursor0"),
        ({"ID": "fedora"}, "sudo dnf install libglvnd-glx xcb-util-cursor"),
        ({"ID": "rocky", "ID_LIKE": "rhel centos fedora"}, "sudo dnf install libglvnd-glx xcb"),
        ({"ID": "arch"}, "sudo pacman -S libglvnd xcb-util-cursor"),
        ({"ID": "endeavouros", "ID_LIKE": "arch"}, "sudo pacman -S libglvnd xcb-util"),
        ({"ID": "opensuse-tumbleweed", "ID_LIKE": "opensuse suse"},
         "sudo zypper install libGL1 libxcb-cursor0"),
        ({"ID": "sles", "ID_LIKE": "suse"}, "sudo zypper install libGL1 libxcb"),
    ],
)
def test_the_install_command_follows_the_distribution(os_release, command):
    text = message(hidden=("libGL.so.1", "libxcb-cursor.so.0"), os_release=os_release)
    assert command in text
    # libraries in the order Qt needs them: the Gui ones first
    assert "(libGL.so.1, libxcb-cursor.so.0)" in text


def test_root_gets_the_command_without_sudo():
    assert message(root=True).endswith("apt install libxcb-icccm4 libxcb-keysyms1")


def test_an_unknown_distribution_gets_the_library_names_and_the_debian_packages():
    text = message(os_release={"ID": "gentoo"})
    assert "libxcb-icccm.so.4" in text and "libxcb-icccm4" in text
    assert "install the packages that provide them" in text and "sudo" not in text


def test_one_package_for_two_libraries_is_named_once():
    text = message(hidden=("libglib-2.0.so.0", "libgthread-2.0.so.0"))
    assert text.endswith("sudo apt install libglib2.0-0")


def test_nothing_missing_means_no_message():
    assert message(hidden=()) is None


@pytest.mark.parametrize(
    ("environ", "xcb"),
    [
        ({"DISPLAY": ":0"}, True),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, True),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb:nograb"}, True),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland;xcb"}, False),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, False),
        ({"QT_QPA_PLATFORM": "xcb"}, False),  # no display: Qt fails anyway, differently
        ({}, False),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"},
         False),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "x11"}, True),
    ],
)
def test_when_the_platform_will_be_xcb(environ, xcb):
    assert platform_is_xcb(environ) is xcb
    hidden_xcb = message(environ=environ, hidden=("libxcb-icccm.so.4",))
    assert (hidden_xcb is not None) is xcb


def test_other_platforms_still_need_the_gui_libraries():
    text = message(environ={"QT_QPA_PLATFORM": "offscreen"}, hidden=("libEGL.so.1",))
    assert text.startswith("gmm-desktop cannot start: Qt needs") and "libegl1" in text


def test_only_linux_is_checked():
    everything = hiding(*GUI_LIBRARIES, *XCB_LIBRARIES)
    for platform in ("win32", "darwin"):
        assert missing_libraries_message(X11, lookup=everything, platform=platform) is None
    assert missing_libraries_message(X11, lookup=everything, platform="linux") is not None


@pytest.mark.parametrize(
    ("os_release", "manager"),
    [({"ID": "debian"}, "apt"), ({"ID": "pop", "ID_LIKE": "ubuntu debian"}, "apt"),
     ({"ID": "almalinux", "ID_LIKE": "rhel centos fedora"}, "dnf"),
     ({"ID": "manjaro", "ID_LIKE": "arch"}, "pacman"),
     ({"ID": "opensuse-leap", "ID_LIKE": "suse opensuse"}, "zypper"),
     ({"ID": "nixos"}, None), ({}, None)],
)
def test_package_manager_from_os_release(os_release, manager):
    assert package_manager(os_release) == manager


def test_every_library_has_a_package_for_every_manager():
    for manager, table in PACKAGES.items():
        assert set(table) == set(GUI_LIBRARIES) | set(XCB_LIBRARIES), manager


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the dynamic loader of Linux")
def test_the_real_lookup_loads_what_exists_and_not_what_does_not():
    assert library_loads("libc.so.6")
    assert not library_loads("libgmm-desktop-no-such-library.so.7")


def test_the_application_prints_one_line_and_exits_instead_of_aborting(monkeypatch, capsys):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    if not sys.platform.startswith("linux"):
        pytest.skip("the check runs on Linux only")
    status = app.main(["--demo", "synthetic"],
                      library_lookup=hiding("libxcb-icccm.so.4", "libxcb-keysyms.so.1"))
    assert status == app.EXIT_MISSING_LIBRARIES != 0
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "libxcb-icccm.so.4" in lines[0] and "libxcb-keysyms.so.1" in lines[0]
    assert "install" in lines[0]


# ------------------------------------------------------------------ the lists match Qt

_RUNTIME = ("libc.so", "libm.so", "libstdc++.so", "libgcc_s.so", "ld-linux", "libpthread.so",
            "libdl.so", "librt.so")
# Needed by QtCore, present on every Debian/Ubuntu/Fedora/Arch/openSUSE system (apt, dpkg,
# rpm and systemd need them), so never the reason for a failed start.
_BASE_SYSTEM = {"libz.so.1", "libzstd.so.1"}


def _needed(path: str) -> set[str]:
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True)
    return {line.split("[", 1)[1].split("]", 1)[0]
            for line in out.stdout.splitlines() if "(NEEDED)" in line}


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("readelf") is None,
    reason="needs Linux and readelf (binutils)",
)
def test_the_library_lists_are_what_the_installed_qt_needs(tmp_path):
    import PySide6

    qt = Path(PySide6.__file__).parent / "Qt"
    # The Qt libraries the application maps (offscreen, so that no display is needed) ...
    probe = (
        "import PySide6.QtWidgets as w; app = w.QApplication([]); "
        "import pyqtgraph, gmm_desktop.gui.main_window; "
        "print('\\n'.join(sorted({l.split()[-1] for l in open('/proc/self/maps') "
        "if '.so' in l})))"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    mapped = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=env, timeout=300, check=True).stdout.split()
    qt_libraries = {p for p in mapped if p.startswith(str(qt))}
    # ... and the xcb platform plugin with its support library.
    qt_libraries |= {str(qt / "plugins" / "platforms" / "libqxcb.so"),
                     str(qt / "lib" / "libQt6XcbQpa.so.6")}
    import shiboken6

    # libraries that come with the wheels themselves (Qt, ICU, libpyside6, libshiboken6)
    wheels = (Path(PySide6.__file__).parent, Path(shiboken6.__file__).parent)
    shipped = {p.name for folder in wheels for p in folder.rglob("*.so*")}
    needed: set[str] = set()
    for library in qt_libraries:
        needed |= _needed(library)
    system = {n for n in needed
              if n not in shipped and not n.startswith(_RUNTIME) and n not in _BASE_SYSTEM}
    assert system == set(GUI_LIBRARIES) | set(XCB_LIBRARIES)
    xcb_only = _needed(str(qt / "plugins" / "platforms" / "libqxcb.so")) | _needed(
        str(qt / "lib" / "libQt6XcbQpa.so.6"))
    assert set(XCB_LIBRARIES) <= xcb_only


def test_the_gui_script_runs_the_same_check(monkeypatch, capsys):
    if not sys.platform.startswith("linux"):
        pytest.skip("the check runs on Linux only")
    import gmm_desktop.gui.qt_libraries as qt_libraries
    from gmm_desktop.__main__ import gui_main

    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(qt_libraries, "library_loads", hiding("libxcb-cursor.so.0"))
    assert gui_main(["--demo", "faithful"]) == app.EXIT_MISSING_LIBRARIES
    assert "libxcb-cursor.so.0" in capsys.readouterr().err
