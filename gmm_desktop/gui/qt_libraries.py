"""Check, before Qt is imported, that the system libraries Qt needs on Linux are there.

Why: PySide6's wheels bring Qt itself but not the X11/OpenGL/font libraries of the system.
Without them Qt either fails to import (``libEGL.so.1: cannot open shared object file``)
or, for its xcb platform (X11), aborts the process with a message that names only one
of the missing libraries (measured on Debian 12 with PySide6 6.11: Qt named
``xcb-cursor0`` while ``libxcb-icccm4`` and ``libxcb-keysyms1`` were missing too).
:func:`missing_libraries_message` finds every missing library and returns one line that
names the packages and the install command of the user's distribution, so the
application can print it and exit instead of aborting.

The library lists were read from Qt 6.11's ``libqxcb.so`` and ``libQt6Gui.so.6``
(``readelf -d``: their ``NEEDED`` entries that are not part of Qt or the C runtime);
``tests/packaging/test_qt_libraries.py`` re-reads them from the installed PySide6, so a
Qt upgrade that needs a new library fails a test instead of a user's start-up.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = [
    "GUI_LIBRARIES",
    "PACKAGES",
    "XCB_LIBRARIES",
    "install_command",
    "library_loads",
    "missing_libraries_message",
    "package_manager",
    "platform_is_xcb",
]

#: Libraries that Qt's Gui and Widgets modules load on Linux whatever the platform plugin.
GUI_LIBRARIES: tuple[str, ...] = (
    "libglib-2.0.so.0",
    "libgthread-2.0.so.0",
    "libEGL.so.1",
    "libGL.so.1",
    "libfontconfig.so.1",
    "libfreetype.so.6",
    "libdbus-1.so.3",
    "libX11.so.6",
    "libxkbcommon.so.0",
)

#: Libraries that Qt's xcb platform plugin (``libqxcb.so`` / ``libQt6XcbQpa``) loads.
XCB_LIBRARIES: tuple[str, ...] = (
    "libxcb.so.1",
    "libX11-xcb.so.1",
    "libxkbcommon-x11.so.0",
    "libxcb-cursor.so.0",
    "libxcb-icccm.so.4",
    "libxcb-keysyms.so.1",
    "libxcb-image.so.0",
    "libxcb-render-util.so.0",
    "libxcb-util.so.1",
    "libxcb-randr.so.0",
    "libxcb-render.so.0",
    "libxcb-shape.so.0",
    "libxcb-shm.so.0",
    "libxcb-sync.so.1",
    "libxcb-xfixes.so.0",
    "libxcb-xkb.so.1",
)

# The package that provides each library, per package manager. Debian 12's names were
# checked with `dpkg -S` and by installing them into a minimal Debian 12 (debootstrap
# --variant=minbase); Ubuntu uses the same names. The others follow each distribution's
# package naming (xcb-util-* upstream names on Fedora and Arch, soname-based on openSUSE).
PACKAGES: dict[str, dict[str, str]] = {
    "apt": {
        "libglib-2.0.so.0": "libglib2.0-0",
        "libgthread-2.0.so.0": "libglib2.0-0",
        "libEGL.so.1": "libegl1",
        "libGL.so.1": "libgl1",
        "libfontconfig.so.1": "libfontconfig1",
        "libfreetype.so.6": "libfreetype6",
        "libdbus-1.so.3": "libdbus-1-3",
        "libX11.so.6": "libx11-6",
        "libxkbcommon.so.0": "libxkbcommon0",
        "libxcb.so.1": "libxcb1",
        "libX11-xcb.so.1": "libx11-xcb1",
        "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
        "libxcb-cursor.so.0": "libxcb-cursor0",
        "libxcb-icccm.so.4": "libxcb-icccm4",
        "libxcb-keysyms.so.1": "libxcb-keysyms1",
        "libxcb-image.so.0": "libxcb-image0",
        "libxcb-render-util.so.0": "libxcb-render-util0",
        "libxcb-util.so.1": "libxcb-util1",
        "libxcb-randr.so.0": "libxcb-randr0",
        "libxcb-render.so.0": "libxcb-render0",
        "libxcb-shape.so.0": "libxcb-shape0",
        "libxcb-shm.so.0": "libxcb-shm0",
        "libxcb-sync.so.1": "libxcb-sync1",
        "libxcb-xfixes.so.0": "libxcb-xfixes0",
        "libxcb-xkb.so.1": "libxcb-xkb1",
    },
    "dnf": {
        "libglib-2.0.so.0": "glib2",
        "libgthread-2.0.so.0": "glib2",
        "libEGL.so.1": "libglvnd-egl",
        "libGL.so.1": "libglvnd-glx",
        "libfontconfig.so.1": "fontconfig",
        "libfreetype.so.6": "freetype",
        "libdbus-1.so.3": "dbus-libs",
        "libX11.so.6": "libX11",
        "libxkbcommon.so.0": "libxkbcommon",
        "libxcb.so.1": "libxcb",
        "libX11-xcb.so.1": "libX11-xcb",
        "libxkbcommon-x11.so.0": "libxkbcommon-x11",
        "libxcb-cursor.so.0": "xcb-util-cursor",
        "libxcb-icccm.so.4": "xcb-util-wm",
        "libxcb-keysyms.so.1": "xcb-util-keysyms",
        "libxcb-image.so.0": "xcb-util-image",
        "libxcb-render-util.so.0": "xcb-util-renderutil",
        "libxcb-util.so.1": "xcb-util",
        **{name: "libxcb" for name in (
            "libxcb-randr.so.0", "libxcb-render.so.0", "libxcb-shape.so.0",
            "libxcb-shm.so.0", "libxcb-sync.so.1", "libxcb-xfixes.so.0", "libxcb-xkb.so.1",
        )},
    },
    "pacman": {
        "libglib-2.0.so.0": "glib2",
        "libgthread-2.0.so.0": "glib2",
        "libEGL.so.1": "libglvnd",
        "libGL.so.1": "libglvnd",
        "libfontconfig.so.1": "fontconfig",
        "libfreetype.so.6": "freetype2",
        "libdbus-1.so.3": "dbus",
        "libX11.so.6": "libx11",
        "libxkbcommon.so.0": "libxkbcommon",
        "libxcb.so.1": "libxcb",
        "libX11-xcb.so.1": "libx11",
        "libxkbcommon-x11.so.0": "libxkbcommon-x11",
        "libxcb-cursor.so.0": "xcb-util-cursor",
        "libxcb-icccm.so.4": "xcb-util-wm",
        "libxcb-keysyms.so.1": "xcb-util-keysyms",
        "libxcb-image.so.0": "xcb-util-image",
        "libxcb-render-util.so.0": "xcb-util-renderutil",
        "libxcb-util.so.1": "xcb-util",
        **{name: "libxcb" for name in (
            "libxcb-randr.so.0", "libxcb-render.so.0", "libxcb-shape.so.0",
            "libxcb-shm.so.0", "libxcb-sync.so.1", "libxcb-xfixes.so.0", "libxcb-xkb.so.1",
        )},
    },
    "zypper": {
        "libglib-2.0.so.0": "libglib-2_0-0",
        "libgthread-2.0.so.0": "libgthread-2_0-0",
        "libEGL.so.1": "libEGL1",
        "libGL.so.1": "libGL1",
        "libfontconfig.so.1": "libfontconfig1",
        "libfreetype.so.6": "libfreetype6",
        "libdbus-1.so.3": "libdbus-1-3",
        "libX11.so.6": "libX11-6",
        "libxkbcommon.so.0": "libxkbcommon0",
        "libxcb.so.1": "libxcb1",
        "libX11-xcb.so.1": "libX11-xcb1",
        "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
        "libxcb-cursor.so.0": "libxcb-cursor0",
        "libxcb-icccm.so.4": "libxcb-icccm4",
        "libxcb-keysyms.so.1": "libxcb-keysyms1",
        "libxcb-image.so.0": "libxcb-image0",
        "libxcb-render-util.so.0": "libxcb-render-util0",
        "libxcb-util.so.1": "libxcb-util1",
        "libxcb-randr.so.0": "libxcb-randr0",
        "libxcb-render.so.0": "libxcb-render0",
        "libxcb-shape.so.0": "libxcb-shape0",
        "libxcb-shm.so.0": "libxcb-shm0",
        "libxcb-sync.so.1": "libxcb-sync1",
        "libxcb-xfixes.so.0": "libxcb-xfixes0",
        "libxcb-xkb.so.1": "libxcb-xkb1",
    },
}

_INSTALL = {
    "apt": "apt install",
    "dnf": "dnf install",
    "pacman": "pacman -S",
    "zypper": "zypper install",
}

# os-release ID / ID_LIKE words that identify each package manager's family.
_FAMILIES = (
    ("apt", {"debian", "ubuntu", "linuxmint", "pop", "raspbian", "elementary", "neon"}),
    ("dnf", {"fedora", "rhel", "centos", "rocky", "almalinux", "ol", "amzn"}),
    ("pacman", {"arch", "manjaro", "endeavouros"}),
    ("zypper", {"suse", "opensuse", "opensuse-leap", "opensuse-tumbleweed", "sles", "sled"}),
)


def library_loads(soname: str) -> bool:
    """Whether the dynamic loader finds ``soname`` (it is loaded, as Qt would load it).

    A library that exists but fails to load because one of *its* dependencies is missing
    counts as present here: the dependency is reported under its own name.
    """
    try:
        ctypes.CDLL(soname, mode=os.RTLD_LAZY | getattr(os, "RTLD_LOCAL", 0))
    except OSError as exc:
        return not str(exc).startswith(soname + ":")
    return True


def platform_is_xcb(environ: Mapping[str, str]) -> bool:
    """Whether Qt will use its xcb (X11) platform plugin with this environment.

    That is: ``QT_QPA_PLATFORM`` unset or naming xcb first, and an X display (``DISPLAY``).
    In a Wayland session without ``QT_QPA_PLATFORM`` Qt 6 prefers its Wayland plugin, so
    the xcb libraries are not required there.
    """
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return chosen.split(";")[0].split(":")[0].strip() == "xcb" and bool(
            environ.get("DISPLAY")
        )
    if environ.get("WAYLAND_DISPLAY") and environ.get("XDG_SESSION_TYPE") == "wayland":
        return False
    return bool(environ.get("DISPLAY"))


def read_os_release(path: str | os.PathLike[str] = "/etc/os-release") -> dict[str, str]:
    """``/etc/os-release`` as a dict (empty when the file is missing or unreadable)."""
    fields: dict[str, str] = {}
    for candidate in (Path(path), Path("/usr/lib/os-release")):
        try:
            text = candidate.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() and not key.startswith("#"):
                fields[key.strip()] = value.strip().strip("'\"")
        break
    return fields


def package_manager(os_release: Mapping[str, str]) -> str | None:
    """``"apt"``, ``"dnf"``, ``"pacman"`` or ``"zypper"`` from os-release's ID and
    ID_LIKE, or ``None`` for a distribution this module does not know."""
    words = [os_release.get("ID", "").lower(), *os_release.get("ID_LIKE", "").lower().split()]
    for word in words:  # ID first: it decides when ID_LIKE names several families
        for manager, ids in _FAMILIES:
            if word in ids:
                return manager
        if word.startswith("opensuse"):
            return "zypper"
    return None


def install_command(manager: str, packages: list[str], *, root: bool = False) -> str:
    """The shell command that installs ``packages`` with ``manager``."""
    prefix = "" if root else "sudo "
    return f"{prefix}{_INSTALL[manager]} {' '.join(packages)}"


def missing_libraries_message(
    environ: Mapping[str, str] | None = None,
    *,
    lookup: Callable[[str], bool] = library_loads,
    os_release: Mapping[str, str] | None = None,
    platform: str | None = None,
    root: bool | None = None,
) -> str | None:
    """One line naming the missing libraries, their packages and the install command;
    ``None`` when nothing is missing (or the system is not Linux).

    Parameters
    ----------
    environ
        The environment Qt will see (default ``os.environ``): decides whether the xcb
        platform's libraries are needed (:func:`platform_is_xcb`).
    lookup
        ``lookup(soname) -> bool``, whether a library can be loaded (default
        :func:`library_loads`); tests inject one that hides libraries.
    os_release
        The parsed ``/etc/os-release`` (default: read it) that picks the package manager.
    platform
        ``sys.platform`` by default; only ``linux*`` is checked.
    root
        Whether the command runs as root (default: the effective user id is 0), which
        drops the ``sudo`` from the command.
    """
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return None
    environ = os.environ if environ is None else environ
    wanted = list(GUI_LIBRARIES)
    if platform_is_xcb(environ):
        wanted += XCB_LIBRARIES
    missing = [name for name in wanted if not lookup(name)]
    if not missing:
        return None
    release = read_os_release() if os_release is None else os_release
    manager = package_manager(release)
    if root is None:
        root = hasattr(os, "geteuid") and os.geteuid() == 0
    what = "Qt's xcb (X11) platform" if platform_is_xcb(environ) else "Qt"
    libraries = ", ".join(missing)
    if manager is None:
        names = list(dict.fromkeys(PACKAGES["apt"][name] for name in missing))
        return (
            f"gmm-desktop cannot start: {what} needs system libraries that are missing "
            f"({libraries}); install the packages that provide them (on Debian/Ubuntu: "
            f"{' '.join(names)}), or use the command line: gmm-desktop --help"
        )
    packages = list(dict.fromkeys(PACKAGES[manager][name] for name in missing))
    return (
        f"gmm-desktop cannot start: {what} needs system libraries that are missing "
        f"({libraries}); install them with: {install_command(manager, packages, root=root)}"
    )
