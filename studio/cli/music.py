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
from pathlib import Path

from ..events import MusicStats, Output, Progress
from ..library import audio as audio_io
from ..library.targets import AUDIO_FORMATS, check_output, numbered_targets
from ..requests import MusicRequest
from .common import (
    ProgressLine,
    add_request_arguments,
    add_runtime_flags,
    finish,
    path_arg,
    request_kwargs_from_args,
    run_request,
)

#: The request fields offered as flags (spelled, typed and described by the request's declarations).
FIELDS = ("prompt", "model", "duration_s", "guidance_scale", "temperature", "top_k", "top_p", "seed", "melody",
          "continue_from", "variations", "window_keep_s")


def add_parser(gen_sub) -> None:
    p = gen_sub.add_parser("music", help="text-to-music with MusicGen (melody, continuation, past 30 s)")
    add_request_arguments(p, MusicRequest, FIELDS)
    p.add_argument("--out", metavar="FILE.wav", type=path_arg, required=True,
                   help="the file to write (.wav, .flac or .ogg); FILE-0, FILE-1 … with variations")
    add_runtime_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    request = MusicRequest(**request_kwargs_from_args(MusicRequest, args, FIELDS))
    request.validate()  # before anything is built from its values
    # every target, variations included, before any model loads (as images do)
    targets = numbered_targets(check_output(args.out, AUDIO_FORMATS), request.variations)
    written: list[Path] = []
    line = ProgressLine("tokens", quiet=args.quiet)

    def on_event(ev) -> Path | None:
        if isinstance(ev, Progress):
            line.show(ev)
        elif isinstance(ev, Output):
            target = targets[min(ev.index, len(targets) - 1)]
            audio_io.export(target.path, *ev.data, ev.params, suffix=target.suffix)
            if not target.stream:  # a pipe or /dev/stdout gets the audio only, no file name after it
                written.append(target.path)
            return target.path
        return None

    try:
        result = run_request(request, args, on_event=on_event)
    except KeyboardInterrupt:
        if not args.json:
            for path in written:  # the finished windows were written
                print(path)
        raise
    finally:
        line.close()
    stats = result.stats
    summary = ""
    if isinstance(stats, MusicStats):
        summary = (f"{stats.audio_seconds:.1f} s of audio in {stats.seconds:.1f} s "
                   f"({stats.windows} window(s)), seed {stats.seed}")
    return finish(args, request, result, written, summary)
