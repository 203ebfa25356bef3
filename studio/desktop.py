"""The desktop entry: ``studio desktop install [--prefix DIR]`` puts Studio in the application menu
(an XDG ``.desktop`` file and the icon in the hicolor sizes), ``studio desktop uninstall`` takes it out.

No Qt: the icon's PNG sizes are rendered once, ahead of time (packaging/make_icons.py, committed under
``assets/icons/hicolor``); the SVG goes in as the scalable size. Default prefix ``~/.local`` (the
person's own menu, no root needed); ``/usr/local`` or ``/usr`` for everyone. After installing, the
menu and icon caches are refreshed when their tools (``update-desktop-database``,
``gtk-update-icon-cache``) are there; without them desktops pick the files up at the next login.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import paths

APP_ID = "studio-creative"
ICON_NAME = APP_ID
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
DESKTOP_FILE = f"{APP_ID}.desktop"


def default_prefix() -> Path:
    return Path.home() / ".local"


def _quote_exec(arg: str) -> str:
    """One argument of the Exec key, quoted as the Desktop Entry spec says when it needs to be."""
    if arg and not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`%'):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped}"'.replace("%", "%%")


def launcher() -> list[str]:
    """How the menu starts Studio: the ``studio`` script of this installation, else this Python with ``-m studio``."""
    script = Path(sys.executable).with_name("studio")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("studio")
    if found:
        return [found]
    return [sys.executable, "-m", "studio"]


def desktop_entry(command: list[str] | None = None) -> str:
    command = command or launcher()
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        "Name=Studio",
        "GenericName=Creative Studio",
        "Comment=Write text, make images, speak and compose music with models on this computer, offline",
        f"Icon={ICON_NAME}",
        "Exec=" + " ".join(_quote_exec(a) for a in command),
        "Terminal=false",
        "Categories=Graphics;2DGraphics;RasterGraphics;",
        "Keywords=AI;text;chat;image;diffusion;speech;music;offline;",
        f"StartupWMClass={paths.APP_NAME}",
        "StartupNotify=true",
        "",
    ])


def installed_files(prefix: Path) -> list[Path]:
    share = prefix / "share"
    files = [share / "applications" / DESKTOP_FILE, share / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg"]
    files += [share / "icons" / "hicolor" / f"{n}x{n}" / "apps" / f"{ICON_NAME}.png" for n in ICON_SIZES]
    return files


def install(prefix: str | Path | None = None, command: list[str] | None = None) -> list[Path]:
    """Write the desktop entry and the icons under ``prefix``; the files written."""
    from .library.atomic import atomic_write_bytes, atomic_write_text

    prefix = Path(prefix).expanduser() if prefix is not None else default_prefix()
    share = prefix / "share"
    written = [atomic_write_text(share / "applications" / DESKTOP_FILE, desktop_entry(command))]
    icons = paths.asset("icons")
    written.append(atomic_write_bytes(share / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg",
                                      (icons / "app.svg").read_bytes()))
    for n in ICON_SIZES:
        png = icons / "hicolor" / f"{n}x{n}" / "apps" / f"{ICON_NAME}.png"
        written.append(atomic_write_bytes(share / "icons" / "hicolor" / f"{n}x{n}" / "apps" / f"{ICON_NAME}.png",
                                          png.read_bytes()))
    _refresh_caches(share)
    return written


def uninstall(prefix: str | Path | None = None) -> list[Path]:
    """Remove what :func:`install` wrote under ``prefix``; the files removed (none: nothing was there)."""
    prefix = Path(prefix).expanduser() if prefix is not None else default_prefix()
    removed = []
    for f in installed_files(prefix):
        if f.is_file() or f.is_symlink():
            f.unlink()
            removed.append(f)
    if removed:
        _refresh_caches(prefix / "share")
    return removed


def _refresh_caches(share: Path) -> None:
    for tool, args in (("update-desktop-database", [str(share / "applications")]),
                       ("gtk-update-icon-cache", ["-f", "-t", "-q", str(share / "icons" / "hicolor")])):
        exe = shutil.which(tool)
        if exe:
            try:
                subprocess.run([exe, *args], capture_output=True, timeout=30, check=False)
            except (OSError, subprocess.SubprocessError):
                pass  # the menu still finds the entry at the next login
