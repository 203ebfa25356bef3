"""Launch Studio: ``python main.py`` (the GUI) or ``python main.py generate …`` (the CLI)."""

import sys

from studio.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
