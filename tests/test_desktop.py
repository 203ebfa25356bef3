"""``studio desktop install|uninstall``: an XDG entry that passes desktop-file-validate, the icon in the
hicolor sizes, removed again; the first-run welcome dialog."""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest
from PIL import Image

from studio import cli, desktop


def test_install_and_uninstall_under_a_prefix(tmp_path, capsys):
    prefix = tmp_path / "my prefix"  # a space: the Exec line must quote it
    assert cli.main(["desktop", "install", "--prefix", str(prefix)]) == 0
    assert "application menu" in capsys.readouterr().out
    entry = prefix / "share" / "applications" / desktop.DESKTOP_FILE
    text = entry.read_text()
    assert f"Icon={desktop.ICON_NAME}" in text and "Terminal=false" in text
    for n in desktop.ICON_SIZES:
        png = prefix / "share" / "icons" / "hicolor" / f"{n}x{n}" / "apps" / f"{desktop.ICON_NAME}.png"
        assert Image.open(png).size == (n, n)
    svg = prefix / "share" / "icons" / "hicolor" / "scalable" / "apps" / f"{desktop.ICON_NAME}.svg"
    assert svg.read_bytes().startswith(b"<svg")
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate is not installed (apt-get install desktop-file-utils)")
    result = subprocess.run([validator, str(entry)], capture_output=True, text=True)
    assert result.returncode == 0 and "error" not in result.stdout + result.stderr, result.stdout + result.stderr

    assert cli.main(["desktop", "uninstall", "--prefix", str(prefix)]) == 0
    assert "Removed 11 file(s)" in capsys.readouterr().out
    assert not entry.exists() and not svg.exists()
    assert cli.main(["desktop", "uninstall", "--prefix", str(prefix)]) == 0
    assert "was not installed" in capsys.readouterr().out


def test_exec_line_quotes_what_needs_quoting():
    line = desktop.desktop_entry(["/opt/my apps/python", "-m", "studio"]).split("Exec=")[1].splitlines()[0]
    assert line == '"/opt/my apps/python" -m studio'
    assert shlex.split(line) == ["/opt/my apps/python", "-m", "studio"]
    assert desktop.desktop_entry(["/a/b%c"]).count('Exec="/a/b%%c"') == 1


def test_the_default_prefix_is_the_persons_own(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cli.main(["desktop", "install"]) == 0
    assert (tmp_path / "home" / ".local" / "share" / "applications" / desktop.DESKTOP_FILE).is_file()
    assert cli.main(["desktop", "uninstall"]) == 0


def test_an_unwritable_prefix_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["desktop", "install", "--prefix", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("studio: error:") and "cannot be created" in err and "Traceback" not in err


def test_welcome_shows_once_with_locations_gpu_and_offline(qtbot, tmp_path, library):
    from PySide6.QtCore import QSettings

    from studio.models.catalog import Catalog
    from studio.models.system_report import gpu_status
    from studio.ui.main_window import MainWindow
    from studio.ui.settings import Settings

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"))
    qtbot.addWidget(window)
    window.show()
    dialog = window.welcome_first_run()
    assert dialog is not None and dialog.isVisible()
    assert dialog.wait(120_000)  # the GPU check imports torch off the UI thread
    qtbot.waitUntil(lambda: "Checking" not in dialog.gpu.text(), timeout=10_000)
    expected = gpu_status()
    assert expected.text.split(":")[0] in dialog.gpu.text()
    assert ("No GPU in use" in dialog.gpu.text()) != expected.found  # found, or why not
    assert str(library.root) in dialog.where.text()
    offline = dialog.offline.text()
    assert "SmolLM2" in offline  # the bundled text model and voice work offline at once
    assert "Piper" in offline or "Speech: no model" in offline
    assert "Images: no model here yet" in offline
    dialog.accept()
    assert window.welcome_first_run() is None  # shown once
    again = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert again.welcome_shown
    window.close()
