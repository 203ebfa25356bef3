"""``studio desktop install [--prefix DIR]`` and ``studio desktop uninstall [--prefix DIR]``: Studio in
the application menu (XDG desktop entry + hicolor icons), see :mod:`studio.desktop`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import StudioError


def add_parser(sub) -> None:
    desktop = sub.add_parser("desktop", help="add Studio to the application menu, or remove it")
    dsub = desktop.add_subparsers(dest="desktop_command", required=True, parser_class=type(desktop))
    for name, helptext, func in (
        ("install", "install the menu entry and icon (default prefix ~/.local)", run_install),
        ("uninstall", "remove the menu entry and icon", run_uninstall),
    ):
        p = dsub.add_parser(name, help=helptext)
        p.add_argument("--prefix", type=Path, default=None, metavar="DIR",
                       help="where share/applications and share/icons are (default ~/.local; /usr/local for everyone)")
        p.set_defaults(func=func)


def run_install(args: argparse.Namespace) -> int:
    from .. import desktop

    try:
        written = desktop.install(args.prefix)
    except OSError as exc:
        raise StudioError(f"Could not install the menu entry under {args.prefix or desktop.default_prefix()}: "
                          f"{exc.strerror or exc}.") from None
    print(f"Studio is in the application menu: {written[0]}")
    print(f"Icon: {len(written) - 1} files under {written[1].parents[2]}")
    return 0


def run_uninstall(args: argparse.Namespace) -> int:
    from .. import desktop

    try:
        removed = desktop.uninstall(args.prefix)
    except OSError as exc:
        raise StudioError(f"Could not remove the menu entry: {exc.strerror or exc}.") from None
    print(f"Removed {len(removed)} file(s)." if removed else "Studio's menu entry was not installed there.")
    return 0
