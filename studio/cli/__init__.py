"""The headless CLI: ``studio generate text|image|speech|music …``, ``studio models list|download|delete|add``,
``studio info FILE.png``, ``studio story render STORY.json --out FILM.mp4``,
``studio library search TEXT``, ``studio desktop install|uninstall``, ``studio serve`` (an OpenAI-compatible API);
``studio`` alone (or ``studio gui``) opens the window.

A modality adds its ``generate`` subcommand in its own module (``add_parser``, flags built from its
request's fields with :func:`studio.cli.common.add_request_arguments`) and one line in
:func:`build_parser`.

Same engines as the GUI, no Qt imported on this path. User errors print one line on stderr
(``studio: error: …``) and exit 2 (bad flags, invalid values) or 1 (model/runtime problems, a full
or read-only disk: OS errors are worded by :func:`studio.errors.user_error`); no traceback unless
``STUDIO_DEBUG=1``. Ctrl+C, SIGTERM and SIGHUP stop a job the same way (exit 130, 143, 129).
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import StudioError, describe, user_error

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse's own convention)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {_one_line(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from . import desktop, image, info, library, models, music, serve, speech, story, text, upscale

    parser = _Parser(prog="studio", description="Studio: offline creative studio. `studio` alone opens the window.")
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    gui = sub.add_parser("gui", help="open the window (the same as `studio` alone)")
    gui.set_defaults(func=_run_gui)
    gen = sub.add_parser("generate", help="generate text, images, speech or music")
    gen_sub = gen.add_subparsers(dest="modality", required=True, parser_class=_Parser)
    text.add_parser(gen_sub)
    image.add_parser(gen_sub)
    music.add_parser(gen_sub)
    speech.add_parser(gen_sub)
    upscale.add_parsers(sub)
    models.add_parser(sub)
    info.add_parser(sub)
    library.add_parser(sub)
    desktop.add_parser(sub)
    story.add_parser(sub)
    serve.add_parser(sub)
    return parser


def _run_gui(args: argparse.Namespace) -> int:  # `studio gui` reached through the parser (`main([...])`)
    from ..app import run_gui

    return run_gui([])


def _stdout_for_file_names() -> None:
    """File names that are not UTF-8 are printed as their bytes, as Unix tools do, not a crash."""
    encoding = (getattr(sys.stdout, "encoding", "") or "").lower().replace("-", "")
    try:
        sys.stdout.reconfigure(errors="surrogateescape" if encoding == "utf8" else "backslashreplace")
    except (AttributeError, ValueError, OSError):
        pass  # not a text stream we can reconfigure (tests capture it)


def _one_line(message: str, limit: int = 500) -> str:
    """Messages echo values the person typed; a pasted page must still read as one line."""
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _with_advice(exc: StudioError) -> str:
    """The message, and after an out-of-memory error the flags to change (from the request's fields)."""
    from ..errors import OutOfMemory

    if not isinstance(exc, OutOfMemory):
        return str(exc)
    from ..requests import advice_text

    advice = advice_text(exc.request_kind, exc.changes, "flag")
    on_cpu = "" if exc.device == "cpu" else "--device cpu runs it in main memory."
    return " ".join(p for p in (str(exc), advice, on_cpu) if p)


def main(argv: list[str] | None = None) -> int:
    from .common import Interrupted, cli_config, raise_interrupted, stop_signals

    parser = build_parser()
    args = parser.parse_args(argv)
    args.config = cli_config(args)  # the one configuration, built once (the environment is read here only)
    _stdout_for_file_names()
    try:
        with stop_signals(raise_interrupted):  # SIGTERM / SIGHUP unwind like Ctrl+C (temp files removed)
            return int(args.func(args) or EXIT_OK)
    except BrokenPipeError:  # `studio models list | head`: the reader left; not an error
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep Python from failing at exit flush
        except OSError:
            pass
        return EXIT_OK
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else 2
        print("studio: cancelled", file=sys.stderr)
        return 128 + signum
    except Exception as exc:
        if os.environ.get("STUDIO_DEBUG"):
            raise
        error = user_error(exc)  # an OSError becomes a sentence naming the path
        if isinstance(error, StudioError):
            print(f"studio: error: {_one_line(_with_advice(error))}", file=sys.stderr)
            return EXIT_USAGE if isinstance(error, ValueError) else EXIT_FAILED
        # an unexpected failure: still one line, details with STUDIO_DEBUG=1
        print(f"studio: error: {_one_line(describe(exc))} (set STUDIO_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_FAILED
