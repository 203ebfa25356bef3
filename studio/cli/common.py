"""What the CLI subcommands share: device flags, the runtime, and driving an engine headless."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable

from ..engines import engine_for
from ..engines.base import CancelToken, Runtime, drive
from ..errors import Cancelled
from ..events import JobResult, Notice, Output, Status


def add_runtime_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=("auto", "cuda", "mps", "cpu"), help="where to run (default: auto)")
    p.add_argument(
        "--dtype", default="auto", choices=("auto", "float16", "bfloat16", "float32"), help="precision (default: auto)"
    )
    p.add_argument("--no-library", action="store_true", help="do not also save the result to the Studio library")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")


def make_runtime(args: argparse.Namespace) -> Runtime:
    from ..models.download import cli_download

    return Runtime(device=args.device, dtype=args.dtype, download=cli_download)


def open_library(args: argparse.Namespace):
    if getattr(args, "no_library", False):
        return None
    from .. import paths
    from ..library.store import Library

    return Library(paths.library_dir())


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 0, got {value}")
    return value


def run_request(
    request,
    args: argparse.Namespace,
    on_event: Callable[[object], None] | None = None,
    runtime: Runtime | None = None,
) -> JobResult:
    """Validate, run the engine for ``request`` in this thread, save outputs; Ctrl+C cancels cleanly."""
    request.validate()
    runtime = runtime or make_runtime(args)
    library = open_library(args)
    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    result = JobResult()

    def handle(ev) -> None:
        if isinstance(ev, Output):
            if library is not None:
                result.items.append(library.save(ev))
        elif isinstance(ev, (Status, Notice)) and not getattr(args, "quiet", False):
            print(ev.message, file=sys.stderr)
        if on_event is not None:
            on_event(ev)

    try:
        result.stats = drive(engine_for(request.kind).run(request, runtime, cancel), handle)
    except Cancelled:
        raise KeyboardInterrupt from None
    finally:
        signal.signal(signal.SIGINT, previous)
    return result
