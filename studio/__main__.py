"""Entry point of ``studio`` and ``python -m studio``: the GUI, or the CLI when given a command."""

from __future__ import annotations

import sys

CLI_COMMANDS = ("generate", "models")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and (argv[0] in CLI_COMMANDS or argv[0] in ("-h", "--help")):
        from .cli import main as cli_main

        return cli_main(argv)
    from .app import run_gui

    return run_gui(argv)


if __name__ == "__main__":
    sys.exit(main())
