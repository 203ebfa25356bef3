"""``studio generate music``: text-to-music with MusicGen to a WAV, FLAC or OGG file (stereo kept).

Stable flags::

    studio generate music --prompt P [--model M] [--duration S] [--guidance G] [--temperature T]
        [--top-k K] [--top-p P] [--seed X] [--melody FILE] [--continue FILE] --out FILE.wav|.flac|.ogg

The format follows the suffix of ``--out``; with ``--variations N`` above 1 the clips go to
FILE-0.wav, FILE-1.wav … (seeds X, X+1 …). Written paths go to stdout, progress to stderr. Ctrl+C
stops after the current window and still writes the finished windows (exit 130).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..events import Output, Progress
from ..library.atomic import atomic_write_bytes
from ..library.outputs import output_type
from ..requests import MusicRequest
from .common import add_runtime_flags, positive_int, run_request

AUDIO_SUFFIXES = {".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg"}


def audio_out(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        raise argparse.ArgumentTypeError(f"--out must end in .wav, .flac or .ogg (got {text!r})")
    return path


def number(text: str) -> float:
    """A finite float (argparse's ``float`` takes 'nan' and 'inf')."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def add_parser(gen_sub) -> None:
    defaults = MusicRequest(prompt="-")
    p = gen_sub.add_parser("music", help="text-to-music with MusicGen (melody, continuation, past 30 s)")
    add = p.add_argument
    add("--prompt", metavar="P", required=True, help="the music to make, e.g. 'lo-fi hip hop with warm piano, 80 bpm'")
    add("--model", metavar="M", default="", help="catalog id, hub id or MusicGen folder (default: musicgen-small)")
    add("--duration", metavar="S", type=number, default=defaults.duration_s,
        help=f"seconds of new music, 1 to 300 (default {defaults.duration_s:g})")
    add("--guidance", metavar="G", type=number, default=defaults.guidance_scale,
        help=f"classifier-free guidance, 0 to 20 (default {defaults.guidance_scale:g})")
    add("--temperature", metavar="T", type=number, default=defaults.temperature,
        help=f"sampling temperature, 0.05 to 5 (default {defaults.temperature:g})")
    add("--top-k", metavar="K", type=positive_int, default=defaults.top_k,
        help=f"top-k sampling, 0 = off (default {defaults.top_k})")
    add("--top-p", metavar="P", type=number, default=defaults.top_p,
        help="nucleus sampling, 0 = off (default 0)")
    add("--seed", metavar="X", type=positive_int, default=None, help="same seed and settings, same music")
    add("--melody", metavar="FILE", default="", help="an audio file whose melody to follow (melody models)")
    add("--continue", metavar="FILE", dest="continue_from", default="",
        help="an audio clip to continue: the result is the clip followed by the new music")
    add("--variations", metavar="N", type=positive_int, default=1, help="clips with seeds X, X+1 … (1 to 8)")
    add("--window-keep", metavar="S", type=number, default=defaults.window_keep_s,
        help=f"past the model's window: seconds kept as the next window's prompt (default {defaults.window_keep_s:g})")
    add("--out", metavar="FILE.wav", type=audio_out, required=True, help="the file to write (.wav, .flac or .ogg)")
    add_runtime_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    request = MusicRequest(
        prompt=args.prompt,
        model=args.model,
        duration_s=args.duration,
        guidance_scale=args.guidance,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        melody=args.melody,
        continue_from=args.continue_from,
        variations=args.variations,
        window_keep_s=args.window_keep,
    )
    media = AUDIO_SUFFIXES[args.out.suffix.lower()]
    written: list[Path] = []
    line_open = False

    def target(index: int) -> Path:
        if request.variations == 1:
            return args.out
        return args.out.with_name(f"{args.out.stem}-{index}{args.out.suffix}")

    def on_event(ev) -> None:
        nonlocal line_open
        if isinstance(ev, Progress) and not args.quiet:
            left = f" · {ev.eta_s:.0f} s left" if ev.eta_s is not None else ""
            print(f"\rtokens {ev.step}/{ev.total}{left}   ", end="", file=sys.stderr, flush=True)
            line_open = True
        elif isinstance(ev, Output):
            path = target(ev.index)
            atomic_write_bytes(path, output_type(media).encode(ev.data, ev.params))
            written.append(path)

    try:
        result = run_request(request, args, on_event=on_event)
    finally:
        if line_open:
            print(file=sys.stderr)
        for path in written:  # also after Ctrl+C: the finished windows were written
            print(path)
    stats = result.stats
    if not args.quiet and stats:
        print(
            f"{stats.get('audio_seconds', 0):.1f} s of audio in {stats.get('seconds', 0):.1f} s "
            f"({stats.get('windows', 1)} window(s)), seed {stats.get('seed')}",
            file=sys.stderr,
        )
    return 0
