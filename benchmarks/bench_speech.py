"""Speech benchmarks, printed as ratios against the raw library call measured in the same run.

    .venv/bin/python benchmarks/bench_speech.py [--repeat N] [--coqui-model PATH] [--skip-coqui]

1. Real-time factor (synthesis seconds per second of speech) through Studio's SpeechEngine vs the raw
   library call, same text and voice, pauses set to 0 so both make the same audio:
   Piper: ``PiperVoice.synthesize`` on the bundled en_US-joe-medium; coqui: ``TTS.tts()`` on
   ``--coqui-model`` (default: a tiny random VITS built here, as the tests do, since nothing is
   downloaded). Goal: Studio's speed ≥ 0.97 × the raw call's.
2. Time to first audio (the first Preview) for a 60-sentence text vs the first sentence alone.
   Goal: within 50 ms.
Runs are interleaved ``--repeat`` times and medians compared (this machine's CPU speed drifts).
It prints; it does not assert.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

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


def report(name: str, raw_times, raw_audio_s, studio_times, studio_audio_s) -> None:
    raw_rtf = statistics.median(raw_times) / raw_audio_s
    studio_rtf = statistics.median(studio_times) / studio_audio_s
    print(
        f"{name}: raw RTF {raw_rtf:.4f} ({statistics.median(raw_times):.3f} s for {raw_audio_s:.2f} s of speech), "
        f"Studio RTF {studio_rtf:.4f} ({statistics.median(studio_times):.3f} s for {studio_audio_s:.2f} s) "
        f"→ Studio speed = {raw_rtf / studio_rtf:.3f} × raw (goal ≥ 0.97)"
    )


def bench_piper(args, runtime) -> None:
    import numpy as np
    from piper import PiperVoice

    from studio.requests import SpeechRequest

    text = " ".join(SENTENCES)
    model = runtime.resolve("", "speech")
    voice = PiperVoice.load(model.path)
    request = SpeechRequest(text=text, sentence_pause_s=0.0, paragraph_pause_s=0.0)
    studio_run(request, runtime)  # load and warm up
    list(voice.synthesize(text))
    raw_times, studio_times = [], []
    raw_audio = studio_audio = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        raw_audio = np.concatenate([c.audio_float_array for c in voice.synthesize(text)])
        raw_times.append(time.perf_counter() - t0)
        seconds, _, studio_audio = studio_run(request, runtime)
        studio_times.append(seconds)
    rate = voice.config.sample_rate
    report("Piper (en_US-joe-medium)", raw_times, len(raw_audio) / rate, studio_times, len(studio_audio) / rate)


def bench_coqui(args, runtime) -> None:
    from TTS.api import TTS
    from TTS.utils.synthesizer import PAD_SILENCE_SAMPLES

    from studio.requests import SpeechRequest

    path = Path(args.coqui_model) if args.coqui_model else None
    if path is None:
        from studio.testing.tiny_tts import build_tiny_vits

        path = build_tiny_vits(Path(tempfile.mkdtemp(prefix="bench-vits-")))
        print("coqui: a tiny random VITS (no model downloaded); pass --coqui-model for a real one")
    folder = path if path.is_dir() else path.parent
    checkpoint = path if path.is_file() else folder / "model.pth"
    tts = TTS(model_path=str(checkpoint), config_path=str(folder / "config.json"), progress_bar=False)
    text = " ".join(SENTENCES)
    request = SpeechRequest(text=text, model=str(path), sentence_pause_s=0.0, paragraph_pause_s=0.0, seed=1)
    studio_run(request, runtime)
    tts.tts(text)
    raw_times, studio_times = [], []
    raw_audio = studio_audio = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        raw_audio = tts.tts(text)  # its own sentence split, and a 10,000-sample pause after each
        raw_times.append(time.perf_counter() - t0)
        seconds, _, studio_audio = studio_run(request, runtime)
        studio_times.append(seconds)
    rate = tts.synthesizer.output_sample_rate
    speech_raw = len(raw_audio) - PAD_SILENCE_SAMPLES * len(tts.synthesizer.split_into_sentences(text))
    report("coqui TTS.tts()", raw_times, speech_raw / rate, studio_times, len(studio_audio) / rate)


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
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--coqui-model", default="", help="a coqui model.pth (config.json beside it) or folder")
    parser.add_argument("--skip-coqui", action="store_true")
    args = parser.parse_args()
    from studio.engines.base import Runtime

    runtime = Runtime(device="cpu")
    bench_piper(args, runtime)
    bench_first_audio(args, runtime)
    if not args.skip_coqui:
        bench_coqui(args, runtime)


if __name__ == "__main__":
    main()
