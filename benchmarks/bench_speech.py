"""Speech benchmarks, printed as ratios against the raw library call measured in the same run.

    .venv/bin/python benchmarks/bench_speech.py [--pairs N] [--conditions idle,busy] [--repeat N]
        [--coqui-model PATH] [--skip-coqui] [--skip-first-audio] [--no-pin]

1. Speed through Studio's SpeechEngine vs the raw library call, same text and voice, pauses set to 0
   so both make the same audio: Piper: ``PiperVoice.synthesize`` on the bundled en_US-joe-medium;
   coqui: ``TTS.tts()`` on ``--coqui-model`` (default: a tiny random VITS built here, as the tests do,
   since nothing is downloaded). Measured as ``--pairs`` short interleaved pairs (benchmarks/pairs.py):
   the median and interquartile range of the per-pair ratio raw ÷ Studio, in wall seconds and in CPU
   seconds, idle and while a child process keeps one core busy. Goal: Studio's speed ≥ 0.97 × raw.
   Piper's pairs call onnxruntime from the same core on both sides (``pairs.pin_both_sides``).
2. Time to first audio (the first Preview) for a 60-sentence text vs the first sentence alone.
   Goal: within 50 ms.
It prints; it does not assert.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pairs import conditions, pin_both_sides, report, run_pairs  # noqa: E402

SENTENCES = [
    "The lighthouse keeper climbed the stairs every evening at dusk.",
    "He counted one hundred and twelve steps, as his father had before him.",
    "Ships passed far out at sea, their lights blinking like slow stars.",
    "On stormy nights the wind shook the windows until morning.",
    "Nobody remembered when the lamp had last gone dark.",
    "In spring, the gulls returned and the keeper fed them bread.",
]


def studio_run(request, runtime, on_preview=None) -> tuple[float, float, object]:
    """(seconds, first-audio seconds, audio) of one SpeechEngine run."""
    from studio.engines.base import CancelToken, drive
    from studio.engines.speech import SpeechEngine
    from studio.events import Output, Preview

    first = [None]
    out = [None]
    t0 = time.perf_counter()

    def handle(ev):
        if isinstance(ev, Preview) and first[0] is None:
            first[0] = time.perf_counter() - t0
        elif isinstance(ev, Output):
            out[0] = ev.data[0]

    drive(SpeechEngine().run(request, runtime, CancelToken()), handle)
    return time.perf_counter() - t0, first[0], out[0]


def bench_piper(args, runtime) -> None:
    import numpy as np
    from piper import PiperVoice

    from studio.requests import SpeechRequest

    text = " ".join(SENTENCES[:2])  # short: many pairs, each within the machine's drift
    model = runtime.resolve("", "speech")
    voice = PiperVoice.load(model.path)
    request = SpeechRequest(text=text, sentence_pause_s=0.0, paragraph_pause_s=0.0)
    studio_audio = studio_run(request, runtime)[2]  # load and warm up
    raw_audio = np.concatenate([c.audio_float_array for c in voice.synthesize(text)])
    print(f"Piper (en_US-joe-medium): {len(raw_audio) / voice.config.sample_rate:.2f} s of speech per run "
          f"(Studio: {len(studio_audio) / voice.config.sample_rate:.2f} s); "
          f"{'both sides call onnxruntime from the first core' if args.pin else 'not pinned'}")

    def raw() -> None:
        np.concatenate([c.audio_float_array for c in voice.synthesize(text)])

    def studio() -> None:
        studio_run(request, runtime)

    # onnxruntime's default pool (the raw voice's, and Studio's spinning session's) pins its workers to
    # the cores after the first, leaving the first to the thread that calls it: both sides call from there
    first_core = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    for name, condition in conditions(args.conditions):
        pin = pin_both_sides(runtime.compute, core=first_core) if args.pin else contextlib.nullcontext()
        with condition, pin as place:
            report("Piper", name, run_pairs(raw, studio, args.pairs, place=place))


def bench_coqui(args, runtime) -> None:
    from TTS.api import TTS

    from studio.requests import SpeechRequest

    path = Path(args.coqui_model) if args.coqui_model else None
    if path is None:
        from studio.testing.tiny_tts import build_tiny_vits

        path = build_tiny_vits(Path(tempfile.mkdtemp(prefix="bench-vits-")))
        print("coqui: a tiny random VITS (no model downloaded); pass --coqui-model for a real one")
    folder = path if path.is_dir() else path.parent
    checkpoint = path if path.is_file() else folder / "model.pth"
    tts = TTS(model_path=str(checkpoint), config_path=str(folder / "config.json"), progress_bar=False)
    text = " ".join(SENTENCES[:2])
    request = SpeechRequest(text=text, model=str(path), sentence_pause_s=0.0, paragraph_pause_s=0.0, seed=1)
    studio_run(request, runtime)
    tts.tts(text)

    def raw() -> None:
        tts.tts(text)  # its own sentence split, and a 10,000-sample pause after each

    def studio() -> None:
        studio_run(request, runtime)

    for name, condition in conditions(args.conditions):
        with condition:
            report("coqui TTS.tts()", name, run_pairs(raw, studio, args.pairs))


def bench_first_audio(args, runtime) -> None:
    from studio.requests import SpeechRequest

    long_text = " ".join(SENTENCES[i % len(SENTENCES)] for i in range(60))
    studio_run(SpeechRequest(text=SENTENCES[0]), runtime)  # warm
    long_first, short_first = [], []
    for _ in range(args.repeat):
        cancelled = _first_audio_only(SpeechRequest(text=long_text), runtime)
        long_first.append(cancelled)
        short_first.append(studio_run(SpeechRequest(text=SENTENCES[0]), runtime)[1])
    a, b = statistics.median(long_first), statistics.median(short_first)
    print(
        f"time to first audio: 60 sentences {a * 1000:.0f} ms, first sentence alone {b * 1000:.0f} ms "
        f"→ difference {(a - b) * 1000:+.0f} ms (goal within 50 ms)"
    )


def _first_audio_only(request, runtime) -> float:
    """Seconds to the first Preview of ``request``; the job is cancelled right after it."""
    from studio.engines.base import CancelToken, drive
    from studio.engines.speech import SpeechEngine
    from studio.errors import Cancelled
    from studio.events import Preview

    cancel = CancelToken()
    first = [0.0]
    t0 = time.perf_counter()

    def handle(ev):
        if isinstance(ev, Preview) and not cancel.cancelled:
            first[0] = time.perf_counter() - t0
            cancel.cancel()

    try:
        drive(SpeechEngine().run(request, runtime, cancel), handle)
    except Cancelled:
        pass
    return first[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=30, help="interleaved raw/Studio pairs per condition")
    parser.add_argument("--conditions", default="idle,busy",
                        help="idle, busy (a child process keeps one core busy) or both (default)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the time-to-first-audio check")
    parser.add_argument("--coqui-model", default="", help="a coqui model.pth (config.json beside it) or folder")
    parser.add_argument("--skip-coqui", action="store_true")
    parser.add_argument("--skip-first-audio", action="store_true")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="Piper: do not run both sides' calling threads on the first core (pairs.pin_both_sides)")
    args = parser.parse_args()
    from studio.engines.base import Runtime

    runtime = Runtime(device="cpu")
    bench_piper(args, runtime)
    if not args.skip_first_audio:
        bench_first_audio(args, runtime)
    if not args.skip_coqui:
        bench_coqui(args, runtime)


if __name__ == "__main__":
    main()
