"""Story export benchmark: how fast a finished story becomes an MP4, and in how much memory.

    .venv/bin/python benchmarks/bench_story.py [--scenes 20] [--seconds 4] [--resolution 720] [--fps 25]
        [--ken-burns] [--subtitles]

A story of ``--scenes`` scenes, each with its own picture (1024×576, random) and a narration clip of
about ``--seconds`` seconds (a tone), over a music bed, is exported by Studio's ``export`` (timeline,
mix, fitted frames, cross-fades, H.264 + AAC). Printed:

1. export speed: seconds of film per wall-clock second, beside the raw PyAV call on the same machine
   in the same run (the same pictures, fitted beforehand and cut at the same times, same encoder and
   settings, no cross-fade, no sound): the ratio is Studio's cost of drawing, blending and sound.
2. peak memory (RSS above the starting point, sampled every 20 ms) beside what holding every frame
   would take: frames are streamed to the encoder, never all held.

Models are not involved (their speed has its own benchmarks). It prints; it does not assert.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


class PeakRss:
    """The highest RSS seen while the block runs (sampled in a thread)."""

    def __enter__(self):
        self.start = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def build_story(folder: Path, scenes: int, seconds: float, resolution: int, fps: int, ken_burns: bool,
                subtitles: bool, crossfade: float = 0.5):
    import numpy as np
    import soundfile
    from PIL import Image

    from studio.story import document
    from studio.story.assets import Assets

    rng = np.random.default_rng(0)
    pictures, clips = [], []
    for i in range(scenes):
        pic = folder / f"scene{i}.png"
        Image.fromarray(rng.integers(0, 255, (576 // 8, 1024 // 8, 3), dtype=np.uint8)).resize((1024, 576)).save(pic)
        pictures.append(pic)
        t = np.arange(int(seconds * 22050)) / 22050
        clip = folder / f"voice{i}.wav"
        soundfile.write(str(clip), (0.3 * np.sin(2 * np.pi * (300 + 20 * i) * t)).astype(np.float32), 22050)
        clips.append(clip)
    t = np.arange(30 * 32000) / 32000
    bed = folder / "bed.flac"
    soundfile.write(str(bed), np.stack([np.sin(2 * np.pi * 110 * t), np.sin(2 * np.pi * 165 * t)], 1) * 0.5, 32000)
    story = document.parse({
        "title": "Benchmark", "music": {"file": str(bed), "volume": 0.3},
        "film": {"resolution": resolution, "fps": fps, "ken_burns": ken_burns, "subtitles": subtitles,
                 "crossfade": crossfade},
        "scenes": [{"picture_file": str(p), "narration": f"Scene {i} narration, a sentence or two long."}
                   for i, p in enumerate(pictures)]})
    return story, Assets(pictures, clips, [seconds] * scenes, bed)


def raw_pyav(path: Path, timeline, pictures, size: tuple[int, int], fps: int) -> float:
    """Seconds to encode the same scenes' pictures (fitted beforehand, switched at the scene cuts, no
    cross-fade, no sound) with PyAV alone: libx264, same settings."""
    import av
    from PIL import Image

    from studio.story.film import fit

    fitted = [fit(Image.open(p).convert("RGB"), size) for p in pictures]
    frames = timeline.frame_count(fps)
    t0 = time.perf_counter()
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        s.options = {"preset": "veryfast", "crf": "20"}
        for n in range(frames):
            frame = av.VideoFrame.from_ndarray(fitted[timeline.at(n / fps)[0]], format="rgb24")
            frame.pts, frame.time_base = n, Fraction(1, fps)
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenes", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=4.0, help="narration per scene")
    ap.add_argument("--resolution", type=int, default=720, choices=(720, 1080))
    ap.add_argument("--fps", type=int, default=25, choices=(24, 25, 30))
    ap.add_argument("--ken-burns", action="store_true")
    ap.add_argument("--subtitles", action="store_true")
    ap.add_argument("--crossfade", type=float, default=0.5,
                    help="seconds (0: hard cuts, as the raw call; every blended frame is a new picture to encode)")
    args = ap.parse_args()

    from studio.story.render import export, preflight

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        story, made = build_story(folder, args.scenes, args.seconds, args.resolution, args.fps, args.ken_burns,
                                  args.subtitles, args.crossfade)
        targets = preflight(story, folder / "film.mp4")
        with PeakRss() as mem:
            stats, timeline = export(story, made, targets)
        raw_s = raw_pyav(folder / "raw.mp4", timeline, made.pictures, story.film.size, args.fps)
        w, h = story.film.size
        all_frames = stats.frames * w * h * 3
        print(f"story: {args.scenes} scenes, {timeline.length:.1f} s of film, {w}×{h} at {args.fps} fps, "
              f"{stats.frames} frames, encoder {stats.encoder}, cross-fade {args.crossfade:g} s, "
              f"Ken Burns {'on' if args.ken_burns else 'off'}")
        print(f"export speed: Studio {stats.speed:.2f} s of film per wall s ({stats.wall_seconds:.1f} s); "
              f"raw PyAV (same pictures, video only) {stats.seconds / raw_s:.2f} s/s ({raw_s:.1f} s); "
              f"ratio {raw_s / stats.wall_seconds:.2f}× raw")
        print(f"peak memory: +{(mem.peak - mem.start) / 2**20:.0f} MiB RSS during the export "
              f"(all frames held would be {all_frames / 2**20:,.0f} MiB); film {targets.film.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
