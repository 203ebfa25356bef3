"""Image power tools benchmark: prints, does not assert.

1. ControlNet: steps/s through ImageEngine vs the raw ``StableDiffusionControlNetPipeline`` call on the same
   modules, prompt, seed, control map and steps (interleaved runs, medians; goal ≥ 0.97×).
2. Tiled upscale: a SIZE² picture ×4 (1024² → 4096² by default), with tiles and without, each in its own
   process: seconds and peak memory (RSS; on CUDA also the peak allocated GPU memory).
3. Prompt weights: the conditioning for an A1111-weighted prompt (compel) vs the plain prompt encoded by
   the pipeline, per generation, and whole generations with and without weights.

    python benchmarks/bench_image_tools.py                                  # tiny models built on the fly, CPU
    python benchmarks/bench_image_tools.py --only upscale --size 1024 --upscaler 4x-UltraSharp.safetensors --device cuda
    python benchmarks/bench_image_tools.py --only controlnet --model sd-1.5 --controlnet controlnet-canny-sd15 --device cuda --size 512
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _tiny(workdir: Path) -> dict:
    from studio.testing.tiny_sd import build_tiny_sd
    from studio.testing.tiny_tools import build_tiny_controlnet, build_tiny_rrdbnet

    sd = build_tiny_sd(workdir / "sd")
    return {
        "model": str(sd),
        "controlnet": str(build_tiny_controlnet(sd, workdir / "cn")),
        "upscaler": str(build_tiny_rrdbnet(workdir / "x4.safetensors")),
    }


def bench_controlnet(args, models: dict) -> None:
    import numpy as np
    import torch
    from PIL import Image, ImageDraw

    from studio.engines.base import CancelToken, Runtime
    from studio.engines.image import ImageEngine
    from studio.requests import ControlUnit, ImageRequest
    from studio.testing.events import collect

    size = args.size or 64
    control = Path(tempfile.mkdtemp()) / "control.png"
    im = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(im).rectangle((size // 6, size // 5, size // 2, size * 4 // 5), fill="black")
    im.save(control)
    runtime = Runtime(device=args.device)
    request = ImageRequest(model=models["model"], prompt="a house", width=size, height=size,
                           num_inference_steps=args.steps, seed=1, scheduler="Euler",
                           controlnets=(ControlUnit(model=models["controlnet"], image=str(control)),))
    engine = ImageEngine()
    collect(engine.run(request, runtime, CancelToken()))  # load and warm up
    pset = runtime.cache.get(runtime.cache.keys()[-1], lambda: None)
    net = next(iter(pset._controlnets.values()))
    from diffusers import EulerDiscreteScheduler, StableDiffusionControlNetPipeline

    raw = StableDiffusionControlNetPipeline(**{**pset.txt2img.components, "controlnet": net})
    raw.scheduler = EulerDiscreteScheduler.from_config(pset.scheduler.config)
    raw.set_progress_bar_config(disable=True)

    def run_raw() -> float:
        t = time.perf_counter()
        with torch.inference_mode():
            raw(prompt="a house", image=im, num_inference_steps=args.steps, guidance_scale=7.0, width=size,
                height=size, generator=torch.Generator("cpu").manual_seed(1))
        return args.steps / (time.perf_counter() - t)

    def run_engine() -> float:
        _, stats = collect(engine.run(request, runtime, CancelToken()))
        return stats.steps_per_s

    run_raw()
    raws, ours = [], []
    for _ in range(args.runs):
        raws.append(run_raw())
        ours.append(run_engine())
    r, o = statistics.median(raws), statistics.median(ours)
    ratios = sorted(a / b for a, b in zip(ours, raws))
    q1, q3 = np.percentile(ratios, [25, 75])
    print(f"ControlNet {size}² × {args.steps} steps on {args.device}: raw {r:.2f} steps/s, Studio {o:.2f} steps/s "
          f"→ {o / r:.3f}× (per-pair IQR {q1:.3f}–{q3:.3f}, {args.runs} interleaved pairs)")


def upscale_child(args) -> None:
    """One upscale in this process (``--child tiles|whole``): prints JSON with seconds and peak memory."""
    import torch
    from PIL import Image

    from studio.engines import upscale
    from studio.models.device import choose

    choice = choose(args.device, "auto")
    desc = upscale.load_upscaler(Path(args.upscaler_file), choice)
    rng = __import__("numpy").random.default_rng(0)
    small = Image.fromarray(rng.integers(0, 255, (args.size // 16, args.size // 16, 3), dtype="uint8"))
    picture = small.resize((args.size, args.size), Image.Resampling.BICUBIC)
    base = peak_rss_mb()
    if choice.is_gpu:
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    out = upscale.upscale_image(desc, picture, tile=args.tile if args.child == "tiles" else 0)
    seconds = time.perf_counter() - t
    gpu = torch.cuda.max_memory_allocated() / 2**20 if choice.is_gpu else None
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "before_mb": base, "gpu_peak_mb": gpu,
                      "size": list(out.size)}))


def bench_upscale(args, models: dict) -> None:
    size = args.size or 1024
    for mode in ("tiles", "whole"):
        cmd = [sys.executable, __file__, "--child", mode, "--upscaler-file", models["upscaler"], "--size", str(size),
               "--tile", str(args.tile), "--device", args.device]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"upscale {size}² ({mode}): over {args.timeout} s, stopped")
            continue
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["?"])[-1]
            print(f"upscale {size}² ({mode}): failed ({tail[:200]})")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        gpu = f", GPU peak {r['gpu_peak_mb']:.0f} MB" if r["gpu_peak_mb"] is not None else ""
        label = f"tiles of {args.tile}" if mode == "tiles" else "no tiles"
        print(f"upscale {size}² → {r['size'][0]}×{r['size'][1]} ({label}): {r['seconds']:.1f} s, peak RSS "
              f"{r['peak_rss_mb']:.0f} MB (model loaded: {r['before_mb']:.0f} MB){gpu}")


def bench_prompt_weights(args, models: dict) -> None:
    import torch

    from studio.engines import prompt_weights
    from studio.engines.base import CancelToken, Runtime
    from studio.engines.image import ImageEngine
    from studio.requests import ImageRequest
    from studio.testing.events import collect

    runtime = Runtime(device=args.device)
    size = args.size or 64
    plain_prompt = "a red house by the sea, detailed, golden hour"
    weighted = "a (red:1.3) house by the sea, [detailed], (golden hour:1.2)"
    common = dict(model=models["model"], width=size, height=size, num_inference_steps=args.steps, seed=1)
    collect(ImageEngine().run(ImageRequest(prompt=plain_prompt, **common), runtime, CancelToken()))
    pset = runtime.cache.get(runtime.cache.keys()[-1], lambda: None)
    pipe, family = pset.txt2img, pset.family

    def encode_plain() -> float:
        t = time.perf_counter()
        with torch.inference_mode():
            pipe.encode_prompt(plain_prompt, pipe._execution_device, 1, True, "")
        return time.perf_counter() - t

    def encode_weighted() -> float:
        t = time.perf_counter()
        with torch.inference_mode():
            prompt_weights.conditioning(pipe, family, weighted, "")
        return time.perf_counter() - t

    plain_s = statistics.median(encode_plain() for _ in range(args.runs * 3))
    weighted_s = statistics.median(encode_weighted() for _ in range(args.runs * 3))
    print(f"prompt encoding: plain (pipeline) {plain_s * 1000:.1f} ms, A1111-weighted (compel) {weighted_s * 1000:.1f} ms "
          f"→ +{(weighted_s - plain_s) * 1000:.1f} ms per generation")
    whole = {}
    for name, prompt in (("plain", plain_prompt), ("weighted", weighted)):
        times = []
        for _ in range(args.runs):
            _, stats = collect(ImageEngine().run(ImageRequest(prompt=prompt, **common), runtime, CancelToken()))
            times.append(stats.seconds)
        whole[name] = statistics.median(times)
    print(f"whole generation ({size}², {args.steps} steps): plain {whole['plain']:.2f} s, weighted "
          f"{whole['weighted']:.2f} s → {whole['weighted'] / whole['plain']:.3f}×")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("controlnet", "upscale", "weights"), default=None)
    parser.add_argument("--model", default="", help="base model (default: tiny, built now)")
    parser.add_argument("--controlnet", default="", help="ControlNet (default: tiny, from the tiny UNet)")
    parser.add_argument("--upscaler", default="", help="upscaler file (default: a tiny RRDBNet)")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda", "mps"))
    parser.add_argument("--size", type=int, default=0, help="picture side (ControlNet/weights: 64; upscale: 1024)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per upscale run")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--child", choices=("tiles", "whole"), help=argparse.SUPPRESS)
    parser.add_argument("--upscaler-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.child:
        upscale_child(args)
        return 0
    models = _tiny(Path(tempfile.mkdtemp(prefix="bench-tools-")))
    models.update({k: v for k, v in (("model", args.model), ("controlnet", args.controlnet),
                                      ("upscaler", args.upscaler)) if v})
    if args.upscaler and not Path(args.upscaler).is_file():
        from studio.engines.base import Runtime

        models["upscaler"] = str(Runtime().resolve(args.upscaler, "", allow_pickle=True).path)
    if args.only in (None, "controlnet"):
        bench_controlnet(args, models)
    if args.only in (None, "weights"):
        bench_prompt_weights(args, models)
    if args.only in (None, "upscale"):
        bench_upscale(args, models)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
