"""Entry point of ``studio`` and ``python -m studio``: the GUI (``studio`` alone or ``studio gui``),
else the CLI, whose parser answers everything else (a mistyped command gets argparse's "invalid
choice" and exit 2, never a window)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] == "gui":
        from .app import run_gui

        return run_gui(argv[1:])  # what follows `gui` is for Qt (e.g. -platform offscreen)
    from .cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
