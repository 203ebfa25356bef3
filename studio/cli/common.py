"""What the CLI subcommands share: device flags, the runtime, and driving an engine headless."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from pathlib import Path

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


def path_arg(text: str) -> Path:
    """A file path flag: "" is refused here (``Path("")`` would silently mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the path is empty")
    return Path(text)


def check_image_inputs(request) -> None:
    """The init image and LoRA files of an image request, checked before any model is resolved or loaded."""
    from ..engines.image import load_init_image
    from ..engines.lora_files import check_lora_files

    if request.init_image:
        load_init_image(request.init_image, request.width, request.height)
    check_lora_files(request.loras)


def positive_int(text: str) -> int:
    try:
        value = int(text) if len(text) <= 100 else None  # 10**4300 would take long and echo a page
    except ValueError:
        value = None
    if value is None:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise argparse.ArgumentTypeError(f"expected a whole number, got {shown!r}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 0, got {value}")
    return value


def quiet_libraries() -> None:
    """``-q``: no loading bars, notes or warnings from transformers, diffusers, peft or the hub client."""
    import logging
    import os
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.update(HF_HUB_DISABLE_PROGRESS_BARS="1", TRANSFORMERS_VERBOSITY="error", DIFFUSERS_VERBOSITY="error")
    for name in ("transformers", "diffusers", "peft", "huggingface_hub", "accelerate", "safetensors"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as tlog

    disable_progress_bars()
    tlog.set_verbosity_error()
    tlog.disable_progress_bar()
    try:
        from diffusers.utils import logging as dlog
    except ImportError:  # a text-only install
        return
    dlog.set_verbosity_error()
    dlog.disable_progress_bar()


def run_request(
    request,
    args: argparse.Namespace,
    on_event: Callable[[object], None] | None = None,
    runtime: Runtime | None = None,
) -> JobResult:
    """Validate, run the engine for ``request`` in this thread, save outputs; Ctrl+C cancels cleanly."""
    request.validate()
    if getattr(args, "quiet", False):
        quiet_libraries()
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
