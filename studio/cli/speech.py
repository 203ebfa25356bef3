"""``studio generate speech``: text to a WAV / FLAC / OGG file with the parameters in its tags.

Stable flags::

    studio generate speech (--text T | --text-file F) [--model M] [--speaker S] [--language L]
        [--speaker-wav FILE] [--speed F] [--seed X] [--sentence-pause S] [--paragraph-pause S]
        [--allow-pickle] --out FILE.wav|.flac|.ogg

``--model``: a catalog id, a coqui model name (``tts_models/…``), a coqui model file (``model.pth``
with ``config.json`` beside it) or folder, or a Piper ``.onnx`` (default: the bundled Piper voice).
The file is written at the model's own sample rate; its path is printed on stdout (with ``--json``:
one JSON object with the path and the statistics), progress ("sentence 3 of 12") on stderr. Ctrl+C stops between sentences and writes what was said so far.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..events import Output, Progress, SpeechStats
from ..library import audio as audio_files
from ..library.inputs import read_text_file
from ..library.targets import AUDIO_FORMATS, check_output
from ..requests import SpeechRequest
from .common import add_request_arguments, add_runtime_flags, finish, path_arg, request_kwargs_from_args, run_request


#: The request fields offered as flags (spelled, typed and described by the request's declarations).
FIELDS = ("model", "speaker", "language", "speaker_wav", "speed", "seed", "sentence_pause_s", "paragraph_pause_s")


def add_parser(gen_sub) -> None:
    p = gen_sub.add_parser("speech", help="text to speech with a Piper voice or a coqui-tts model")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", metavar="T", help="what to say")
    source.add_argument("--text-file", metavar="F", help="a UTF-8 text file to read aloud")
    add_request_arguments(p, SpeechRequest, FIELDS)
    p.add_argument("--allow-pickle", action="store_true",
                   help="load a model whose files coqui unpickles in full (Bark): only one you trust")
    p.add_argument("--out", metavar="FILE", type=path_arg, required=True,
                   help="the .wav, .flac or .ogg file to write (a device or pipe is written through, as WAV "
                   "without one of these suffixes)")
    add_runtime_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    target = check_output(args.out, AUDIO_FORMATS)  # the suffix, folders, read-only disks: before any model loads
    text = args.text if args.text is not None else read_text_file(args.text_file, "text file")
    request = SpeechRequest(
        text=text, allow_pickle=args.allow_pickle, **request_kwargs_from_args(SpeechRequest, args, FIELDS)
    )
    written: list[Path] = []
    progress_shown = False

    def on_event(ev) -> Path | None:
        nonlocal progress_shown
        if isinstance(ev, Progress) and not args.quiet:
            print(f"\rsentence {ev.step} of {ev.total}   ", end="", file=sys.stderr, flush=True)
            progress_shown = True
        elif isinstance(ev, Output) and ev.media.startswith("audio"):
            samples, rate = ev.data
            path = audio_files.export(target.path, samples, rate, ev.params, suffix=target.suffix)
            if not target.stream:  # a pipe or /dev/stdout gets the audio only, no file name after it
                written.append(path)
            return path
        return None

    try:
        result = run_request(request, args, on_event=on_event)
    except KeyboardInterrupt:
        if written:
            print(f"\nstudio: cancelled; the sentences said so far are in {written[-1]}", file=sys.stderr)
        raise
    finally:
        if progress_shown:
            print(file=sys.stderr)
    stats = result.stats
    summary = ""
    if isinstance(stats, SpeechStats):
        rtf = f"{stats.real_time_factor:.3f}" if stats.real_time_factor is not None else "–"
        summary = (f"{stats.audio_seconds:.1f} s of audio at {stats.sample_rate} Hz in {stats.seconds:.1f} s "
                   f"({stats.chunks} sentence(s)), real-time factor {rtf}")
    return finish(args, request, result, written, summary)
