"""What the CLI subcommands share: the configuration, device flags, request flags built from the
request's field declarations, the runtime, and driving an engine headless.

The CLI builds its :class:`~studio.config.Config` once, when it starts (:func:`cli_config`, called by
:func:`studio.cli.main`: the flags, and the environment's HF_HUB_OFFLINE read by
:meth:`Config.with_environment <studio.config.Config.with_environment>`), and passes it down as
``args.config``; the runtime and the downloads get its ``offline`` explicitly."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sqlite3
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from ..config import Config
from ..engines import engine_for
from ..engines.preflight import preflight
from ..engines.base import CancelToken, Runtime, drive
from ..errors import Cancelled, StudioError, describe, user_error
from ..events import JobResult, Notice, Output, Status
from ..models.device import DEVICE_CHOICES, DTYPE_CHOICES
from ..requests import FieldSpec, field_spec


def add_runtime_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="where to run (default: auto)")
    p.add_argument(
        "--dtype", default="auto", choices=DTYPE_CHOICES, help="precision (default: auto)"
    )
    p.add_argument("--no-library", action="store_true", help="do not also save the result to the Studio library")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object on stdout (kind, model, device, seed, seconds, outputs and the "
                   "statistics of the kind) and nothing else; progress and notes stay on stderr")


def cli_config(args: argparse.Namespace) -> Config:
    """The CLI's one configuration: its ``--device`` / ``--dtype`` flags (where the command has them)
    and offline when the environment it was started in says so. Built once, at start."""
    return Config(device=getattr(args, "device", "auto"), dtype=getattr(args, "dtype", "auto")).with_environment()


def config_of(args: argparse.Namespace) -> Config:
    """``args.config`` (set by :func:`studio.cli.main`), else built now for a caller that parsed its own args."""
    config = getattr(args, "config", None)
    return config if isinstance(config, Config) else cli_config(args)
DEFAULT_KEY_VARIABLE = "STUDIO_API_KEY"


def add_api_key_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--api-key-env", metavar="VAR", default=None,
        help=f"the environment variable that holds the server's API key (default: {DEFAULT_KEY_VARIABLE}, "
        "if set); keys are never passed as flags, which other users could read",
    )


def api_key_from_env(args: argparse.Namespace) -> Callable[[str], str | None]:
    """The key lookup for a server: the variable --api-key-env names (which must be set), else
    $STUDIO_API_KEY when set, else no key."""
    import os

    name = getattr(args, "api_key_env", None)
    if name is not None:
        if not name.strip() or name not in os.environ:
            raise StudioError(f"--api-key-env names {name!r}, which is not set: export it with the server's API key.")
        key = os.environ[name]
    else:
        key = os.environ.get(DEFAULT_KEY_VARIABLE) or None

    def lookup(_url: str) -> str | None:
        return key

    return lookup


def make_runtime(args: argparse.Namespace) -> Runtime:
    """The engines' runtime for the CLI's configuration, offline passed explicitly."""
    from functools import partial

    from ..models.download import cli_download

    config = config_of(args)
    return Runtime(device=config.device, dtype=config.dtype, offline=config.offline,
                   download=partial(cli_download, offline=config.offline))


def open_library(args: argparse.Namespace):
    if getattr(args, "no_library", False):
        return None
    from .. import paths
    from ..library.store import Library

    try:
        return Library(paths.library_dir())
    except (OSError, sqlite3.Error) as exc:  # STUDIO_HOME under a file, read-only, a broken index …
        raise StudioError(
            f"The library folder '{paths.library_dir()}' cannot be used ({describe(exc)}); "
            "fix it or STUDIO_HOME, or pass --no-library."
        ) from None


def path_arg(text: str) -> Path:
    """An output or input file flag: "" is refused here (``Path("")`` would mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the path is empty")
    return Path(text)


def quiet_libraries() -> None:
    """``-q``: no loading bars, notes or warnings from transformers, diffusers, peft or the hub client,
    through each library's own switches (no environment variable is written)."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
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


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")  # a pasted page is not echoed back


def whole_number(text: str) -> int:
    """A whole number as typed (the range is the request's to check, with the field's name)."""
    try:
        if len(text) <= 100:  # int("9" * 5000) is slow and refused by Python anyway
            return int(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected a whole number, got {_shown(text)}")


def number(text: str) -> float:
    try:
        if len(text) <= 100:
            return float(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected a number, got {_shown(text)}")


def positive_int(text: str) -> int:
    """A whole number ≥ 1."""
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {value}")
    return value


def match_choice(text: str, choices: tuple[str, ...]) -> str:
    """The choice ``text`` names, without regard to case; else ``text`` (validation names the choices)."""
    for choice in choices:
        if choice.lower() == text.strip().lower():
            return choice
    return text


def _argument_type(spec: FieldSpec):
    if spec.type is int:
        return whole_number
    if spec.type is float:
        return number
    if spec.choices is not None:
        choices = spec.choices

        def choice(text: str) -> str:
            return match_choice(text, choices)

        return choice
    return str


def add_request_arguments(
    parser: argparse.ArgumentParser, cls: type, names, *, required: tuple[str, ...] = ()
) -> None:
    """Add one flag per field of ``cls`` named in ``names``, spelled, typed and described by its spec.

    The destination is the field's name, so :func:`request_kwargs_from_args` can read them back.
    Fields without a default are required flags, as are those listed in ``required``.
    """
    for name in names:
        spec = field_spec(cls, name)
        if spec.flag is None:
            raise ValueError(f"{cls.__name__}.{name} has no CLI flag")
        if spec.type is bool:
            parser.add_argument(spec.flag, dest=name, action="store_true", help=spec.cli_help())
            continue
        parser.add_argument(
            spec.flag,
            dest=name,
            metavar=spec.metavar,
            type=_argument_type(spec),
            default=spec.default,
            required=spec.required or name in required,
            help=spec.cli_help(),
        )


def request_kwargs_from_args(cls: type, args: argparse.Namespace, names) -> dict:
    """The values of the flags :func:`add_request_arguments` added, as keyword arguments of ``cls``."""
    return {name: getattr(args, field_spec(cls, name).dest) for name in names}


#: the signals that stop a CLI job the way Ctrl+C does (SIGHUP: the terminal closed)
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """The CLI was stopped by ``signum`` (SIGINT, SIGTERM or SIGHUP); exit status 128 + signum."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = int(signum)


class InterruptHandler:
    """Ctrl+C, SIGTERM or SIGHUP while a job runs: the first asks the engine to stop at its next step
    (what is finished is still written, a temp file never stays); a second quits at once, even from a
    call that never checks (a write waiting for a pipe's reader)."""

    def __init__(self, cancel: CancelToken) -> None:
        self.cancel = cancel
        self.signum = int(signal.SIGINT)

    def __call__(self, signum: int = signal.SIGINT, _frame=None) -> None:
        if self.cancel.cancelled:
            raise Interrupted(signum)
        self.signum = int(signum)
        self.cancel.cancel()


def raise_interrupted(signum: int, _frame=None) -> None:
    """SIGTERM / SIGHUP outside a job: stop now, as Ctrl+C does (unwinding removes temp files)."""
    raise Interrupted(signum)


class stop_signals:  # noqa: N801 - used as a context manager
    """Route SIGINT, SIGTERM and SIGHUP to ``handler`` inside the block (main thread only)."""

    def __init__(self, handler) -> None:
        self.handler, self.previous = handler, {}

    def __enter__(self):
        for signum in STOP_SIGNALS:
            try:
                self.previous[signum] = signal.signal(signum, self.handler)
            except ValueError:  # not the main thread (an embedding program): leave signals alone
                break
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self.previous.items():
            signal.signal(signum, previous)


def _warn(message: str) -> None:
    print(f"studio: warning: {' '.join(message.split())}", file=sys.stderr)


def run_request(
    request,
    args: argparse.Namespace,
    on_event: Callable[[object], object] | None = None,
    runtime: Runtime | None = None,
    *,
    checked: bool = False,
) -> JobResult:
    """Preflight (unless the caller just did: ``checked``), run the engine for ``request`` in this
    thread, save outputs; Ctrl+C, SIGTERM and SIGHUP cancel cleanly.

    Each :class:`Output` goes to ``on_event`` first, which writes ``--out`` and returns the path it
    wrote (or a sentence saying where the result is, or None), and to the library after: a result is
    never lost to a library failure, which becomes a warning saying where the result is. When writing
    ``--out`` fails (a full or read-only disk), the result still goes to the library and the error
    says where it is kept.
    """
    if not checked:
        preflight(request, clips=False)  # values and input files; the engine reads clips before its model loads
    if getattr(args, "quiet", False):
        quiet_libraries()
    runtime = runtime or make_runtime(args)
    library = open_library(args)
    cancel = CancelToken()
    interrupt = InterruptHandler(cancel)
    result = JobResult()

    def keep(ev: Output, where) -> None:
        """The library's copy of ``ev``; on failure a warning that says where the result is."""
        if library is None:
            return
        try:
            result.items.append(library.save(ev))
        except Exception as exc:  # a locked index, a full disk, a name that is not UTF-8 …
            if isinstance(where, str):
                there = where  # a sentence of the caller's ("The reply is printed above.")
            else:
                there = f"The result is in {where}." if where else "The result was not saved anywhere else."
            _warn(f"{describe(exc)} {there}")

    def handle(ev) -> None:
        if isinstance(ev, (Status, Notice)) and not getattr(args, "quiet", False):
            print(ev.message, file=sys.stderr)
        if not isinstance(ev, Output):
            if on_event is not None:
                on_event(ev)
            return
        try:
            where = on_event(ev) if on_event is not None else None
        except OSError as exc:  # --out could not be written: the library keeps the result
            before = len(result.items)
            keep(ev, None)
            error = user_error(exc)
            kept = f" The result is kept in the library: {result.items[-1].path}." if len(result.items) > before else ""
            raise StudioError(f"{error}{kept}") from exc
        keep(ev, where)

    # --json: stdout carries the JSON object only; whatever a library prints goes to stderr
    redirect = contextlib.redirect_stdout(sys.stderr) if getattr(args, "json", False) else contextlib.nullcontext()
    try:
        with stop_signals(interrupt), redirect:
            result.stats = drive(engine_for(request.kind).run(request, runtime, cancel), handle)
    except Cancelled:
        raise Interrupted(interrupt.signum) from None
    return result


def json_report(request, result: JobResult, outputs: Iterable[Path | str], **extra) -> dict:
    """What ``--json`` prints: the request's kind, the outputs' paths and the job's statistics
    (:meth:`studio.events.Stats.to_dict`: model, device, seed, seconds and those of the kind)."""
    report: dict = {"kind": request.kind, "outputs": [str(p) for p in outputs]}
    if result.stats is not None:
        report.update(result.stats.to_dict())
    report.update(extra)
    return report


def finish(args: argparse.Namespace, request, result: JobResult, outputs: Iterable[Path | str],
           summary: str = "", **extra) -> int:
    """The end of a ``generate`` command: with ``--json`` one JSON object on stdout; else the written
    paths on stdout, one a line, and ``summary`` on stderr (unless ``--quiet``)."""
    outputs = list(outputs)
    if getattr(args, "json", False):
        print(json.dumps(json_report(request, result, outputs, **extra), ensure_ascii=False))
        return 0
    for path in outputs:
        print(path)
    if summary and not getattr(args, "quiet", False):
        print(summary, file=sys.stderr)
    return 0


class ProgressLine:
    """Progress on one stderr line, rewritten in place (``unit 12/50 · 3 s left``); :meth:`close` ends it."""

    def __init__(self, unit: str, quiet: bool = False) -> None:
        self.unit, self.quiet, self.open = unit, quiet, False

    def show(self, progress) -> None:
        if self.quiet:
            return
        left = f" · {progress.eta_s:.0f} s left" if progress.eta_s is not None else ""
        print(f"\r{self.unit} {progress.step}/{progress.total}{left}   ", end="", file=sys.stderr, flush=True)
        self.open = True

    def close(self) -> None:
        if self.open:
            print(file=sys.stderr)
            self.open = False
