"""Launching on a desktop without Qt's xcb libraries: one apt-get line and exit 1, not Qt's abort."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from studio.app import XCB_LIBRARIES, check_desktop_libraries, missing_xcb_packages, uses_xcb

X11 = {"DISPLAY": ":0"}


def finder_without(*absent: str):
    return lambda library: library not in absent


def test_missing_libraries_name_their_packages_in_one_apt_line():
    message = check_desktop_libraries(X11, finder_without("libxcb-cursor.so.0", "libxcb-keysyms.so.1"))
    lines = message.splitlines()
    assert len(lines) == 2 and "xcb" in lines[0]
    assert lines[1].strip() == "sudo apt-get install libxcb-cursor0 libxcb-keysyms1"


def test_nothing_to_say_when_everything_is_there_or_xcb_is_not_used():
    assert missing_xcb_packages(finder_without()) == []
    assert check_desktop_libraries(X11, finder_without()) == ""
    none_found = finder_without(*(lib for lib, _ in XCB_LIBRARIES))
    assert len(missing_xcb_packages(none_found)) == len(XCB_LIBRARIES)
    for env in ({}, {"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}):
        assert check_desktop_libraries(env, none_found) == ""


def test_when_qt_will_use_xcb():
    assert uses_xcb({"DISPLAY": ":1"}, "linux")
    assert uses_xcb({"DISPLAY": ":1", "QT_QPA_PLATFORM": "xcb"}, "linux")
    assert uses_xcb({"DISPLAY": ":1", "QT_QPA_PLATFORM": "xcb;wayland", "WAYLAND_DISPLAY": "w"}, "linux")
    assert not uses_xcb({"DISPLAY": ":1", "QT_QPA_PLATFORM": "wayland"}, "linux")
    assert not uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")  # no display: Qt says so itself
    assert not uses_xcb({"DISPLAY": ":1"}, "darwin")


def test_system_deps_script_installs_every_package_the_check_names():
    script = (Path(__file__).parent.parent / "packaging" / "system-deps.sh").read_text()
    listed = set(re.search(r"PKGS=\(([^)]*)\)", script).group(1).split())
    assert {package for _, package in XCB_LIBRARIES} <= listed


def test_a_real_launch_without_the_libraries_prints_the_line(tmp_path):
    """The whole path through ``studio``'s entry point, with the finder answering "missing": exit 1
    before any Qt is loaded."""
    code = (
        "import sys, studio.app as app\n"
        "app.loadable = lambda lib: lib != 'libxcb-cursor.so.0'\n"
        "from studio.__main__ import main\n"
        "code = main([])\n"
        "print('Qt loaded' if 'PySide6.QtWidgets' in sys.modules else 'no Qt')\n"
        "sys.exit(code)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "DISPLAY": ":99", "QT_QPA_PLATFORM": "xcb", "STUDIO_HOME": str(tmp_path),
           "PYTHONPATH": str(Path(__file__).parent.parent)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout.strip() == "no Qt"
    assert done.stderr.strip().splitlines()[-1].strip() == "sudo apt-get install libxcb-cursor0"
    assert "platform plugin" not in done.stderr
