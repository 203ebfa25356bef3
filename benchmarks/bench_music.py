"""Music benchmarks, printed as ratios against the raw library call measured in the same run.

    .venv/bin/python benchmarks/bench_music.py [--model M] [--seconds S] [--device cpu|cuda] [--pairs N]
        [--conditions idle,busy] [--repeat N] [--threads N] [--no-pin]

1. Speed: raw ``model.generate`` (processor → generate → audio) vs Studio's MusicEngine on the same
   model, settings and seed (one window; the model already loaded), as ``--pairs`` short interleaved
   pairs (benchmarks/pairs.py): the median and interquartile range of the per-pair ratio raw ÷
   Studio, in wall seconds and CPU seconds, idle and while a child process keeps one core busy.
   Goal: Studio ≥ 0.97× raw. The two must give the same samples. Both runs of a pair do their
   heavy work on the same core (``pairs.pin_both_sides``: the cores of a VM differ by several per cent).
2. Windowing overhead: a piece longer than the model's window, made AudioCraft's way (windows
   that keep the last ``--keep`` seconds as the next prompt), vs the same length in one window
   (the same weights with a longer ``generation_config.max_length``).

Default model: the tiny random MusicGen of ``studio/testing/tiny_music.py`` (50 frames/s, 2.04 s window),
built on the spot. It prints; it does not assert.
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


def run_engine(request, runtime):
    """(audio, seconds) of one MusicEngine run, the model already in the runtime's cache."""
    from studio.engines.base import CancelToken, drive
    from studio.engines.music import MusicEngine
    from studio.events import Output

    outputs = []
    t0 = time.perf_counter()
    stats = drive(MusicEngine().run(request, runtime, CancelToken()),
                  lambda ev: outputs.append(ev) if isinstance(ev, Output) else None)
    return outputs[0].data[0], time.perf_counter() - t0, stats


def run_raw(model_dir, request, cache):
    """(audio, seconds) of processor + ``model.generate`` with the request's settings, as a script would."""
    import torch
    from transformers import AutoProcessor, MusicgenForConditionalGeneration

    if "raw" not in cache:
        model = MusicgenForConditionalGeneration.from_pretrained(model_dir).eval()
        cache["raw"] = (model, AutoProcessor.from_pretrained(model_dir))
    model, processor = cache["raw"]
    rate = model.config.audio_encoder.sampling_rate
    hop = int(torch.tensor(model.config.audio_encoder.upsampling_ratios).prod())
    frames = -(-round(request.duration_s * rate) // hop)
    delay = model.decoder.num_codebooks // model.decoder.config.audio_channels - 1
    t0 = time.perf_counter()
    inputs = processor(text=[request.prompt], padding=True, return_tensors="pt")
    torch.manual_seed(request.seed)
    with torch.inference_mode():
        values = model.generate(**inputs, do_sample=True, guidance_scale=request.guidance_scale,
                                temperature=request.temperature, top_k=request.top_k,
                                max_new_tokens=frames + delay)
    audio = values[0].T.float().numpy()[: round(request.duration_s * rate)]
    return audio, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="", help="a MusicGen folder; default: the tiny random model")
    parser.add_argument("--seconds", type=float, default=0.0, help="one-window length (default: 2 s tiny, 5 s real)")
    parser.add_argument("--keep", type=float, default=1.0, help="window keep for the windowing test (default 1 s)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pairs", type=int, default=20, help="interleaved raw/Studio pairs per condition")
    parser.add_argument("--conditions", default="idle,busy",
                        help="idle, busy (a child process keeps one core busy) or both (default)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the windowing check")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: steady on a busy box)")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not pin both runs of a pair to the same core (pairs.pin_both_sides says why)")
    args = parser.parse_args()

    import numpy as np
    import torch

    from studio.engines.base import Runtime
    from studio.requests import MusicRequest

    torch.set_num_threads(args.threads)
    tmp = tempfile.TemporaryDirectory(prefix="bench-music-")
    if args.model:
        model_dir, long_dir = args.model, ""
    else:
        from studio.testing.tiny_music import WINDOW_LENGTH, build_tiny_musicgen

        model_dir = build_tiny_musicgen(Path(tmp.name) / "tiny")
        # the same weights (same seed), a window three times as long: the one-window reference
        long_dir = build_tiny_musicgen(Path(tmp.name) / "tiny-long", window_length=3 * WINDOW_LENGTH)
    seconds = args.seconds or (2.0 if not args.model else 5.0)  # one tiny window; short runs: many pairs

    # 1. Studio vs raw generate, one window
    request = MusicRequest(prompt="lo-fi hip hop with warm piano, 80 bpm", model=model_dir, duration_s=seconds,
                           seed=1234)
    runtime = Runtime(device=args.device)
    # OpenMP's thread count is per calling thread: give Studio's compute thread the same as this one
    runtime.compute.call(torch.set_num_threads, args.threads)
    run_engine(request.replace(duration_s=1.0), runtime)  # load + warm up, not timed
    cache: dict = {}
    run_raw(model_dir, request.replace(duration_s=1.0), cache)
    raw_audio, _ = run_raw(model_dir, request, cache)
    ours_audio, _, _ = run_engine(request, runtime)
    same = raw_audio.shape == ours_audio.reshape(raw_audio.shape).shape and np.allclose(
        raw_audio.reshape(-1), ours_audio.reshape(-1), atol=1e-6)
    print(f"model         {args.model or 'tiny random MusicGen (studio/testing/tiny_music.py)'} on {args.device}, "
          f"{args.threads} thread(s), {seconds:g} s of audio per run; same samples as raw: {same}; "
          f"{'both runs of a pair on the same core' if args.pin else 'not pinned'}")

    def raw() -> None:
        run_raw(model_dir, request, cache)

    def studio() -> None:
        run_engine(request, runtime)

    for name, condition in conditions(args.conditions):
        with condition, (pin_both_sides(runtime.compute) if args.pin else contextlib.nullcontext()) as place:
            report("MusicGen", name, run_pairs(raw, studio, args.pairs, place=place))

    # 2. windowing overhead: a piece past the window vs the same length in one window
    if long_dir:
        long_request = request.replace(duration_s=round(2.8 * seconds, 2), window_keep_s=args.keep)
        long_runtime = Runtime(device=args.device)
        long_runtime.compute.call(torch.set_num_threads, args.threads)
        run_engine(long_request.replace(model=long_dir, duration_s=1.0), long_runtime)  # load
        windowed_t, single_t = [], []
        for _ in range(args.repeat):
            _, t, w_stats = run_engine(long_request, runtime)
            windowed_t.append(t)
            _, t, s_stats = run_engine(long_request.replace(model=long_dir), long_runtime)
            single_t.append(t)
        w, s = statistics.median(windowed_t), statistics.median(single_t)
        print(f"windowing     {long_request.duration_s:g} s in {w_stats.windows} windows of "
              f"{w_stats.window_seconds:.2f} s (keep {args.keep:g} s): {w:.2f} s; in one window: {s:.2f} s "
              f"({s_stats.windows} window) → overhead {w / s - 1:+.1%}")


if __name__ == "__main__":
    main()
