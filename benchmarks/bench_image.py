"""Image engine benchmark: steps/s through ImageEngine vs the raw pipeline call, peak memory, time to
first preview. It prints, it does not assert (goal: engine/raw ≥ 0.97×).

    python benchmarks/bench_image.py                          # tiny random SD built on the fly, CPU
    python benchmarks/bench_image.py --device cuda --model /path/to/sd-1.5 --width 512 --height 512
    python benchmarks/bench_image.py --device cuda --model sd-turbo --steps 4 --guidance 0
    python benchmarks/bench_image.py --family flux          # tiny random FLUX.1 (or sd3), CPU
    python benchmarks/bench_image.py --device cuda --model flux.1-schnell --width 1024 --height 1024 --steps 4 \
        --guidance 0 --scheduler '' --plans                 # + each memory plan's estimate and measured peak VRAM

Both sides use the same cached pipeline object, prompt, seed, size, steps and sampler, and each makes
its sampler afresh per run. Runs come in interleaved pairs (raw then engine, engine then raw, …: see
benchmarks/pairs.py); the ratio printed is the median of the per-pair ratios with its 95 % confidence
interval (which decides the goal) and interquartile range, so drift slower than one pair cancels out. ``--conditions idle,busy`` repeats it while a child process
keeps one core busy.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pairs import conditions, median_interval, spread, verdict  # noqa: E402


def rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="", help="model (catalog id, hub id, folder, .safetensors); default: tiny")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda", "mps"))
    parser.add_argument("--dtype", default="auto", choices=("auto", "float16", "bfloat16", "float32"))
    parser.add_argument("--width", type=int, default=0, help="default: 64 for the tiny model, 512 otherwise")
    parser.add_argument("--height", type=int, default=0)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--guidance", type=float, default=7.0)
    parser.add_argument("--scheduler", default="Euler", help="A1111 name; '' = the model's own")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--runs", type=int, default=11, help="interleaved raw/engine pairs per condition")
    parser.add_argument("--conditions", default="idle",
                        help="idle, busy (a child process keeps one core busy) or idle,busy")
    parser.add_argument("--family", default="sd", choices=("sd", "sd3", "flux"),
                        help="the tiny model built when --model is not given")
    parser.add_argument("--plans", action="store_true",
                        help="also print each memory plan's estimated need (and on CUDA its measured peak VRAM)")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from studio.engines.base import CancelToken, Runtime
    from studio.engines.image import ImageEngine
    from studio.events import Output, Preview
    from studio.requests import ImageRequest

    tmp = None
    model = args.model
    if not model:
        from studio.testing.tiny_flow import build_tiny_flux, build_tiny_sd3
        from studio.testing.tiny_sd import build_tiny_sd

        tmp = tempfile.TemporaryDirectory(prefix="bench-tiny-")
        build = {"sd": build_tiny_sd, "sd3": build_tiny_sd3, "flux": build_tiny_flux}[args.family]
        model = str(build(Path(tmp.name) / f"tiny-{args.family}"))
        if args.family != "sd" and args.scheduler == "Euler":
            args.scheduler = ""  # a flow model's own sampler
    size = 64 if not args.model else 512
    width, height = args.width or size, args.height or size
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    request = ImageRequest(
        prompt="a lighthouse on a cliff at sunset, detailed oil painting",
        model=model,
        width=width,
        height=height,
        num_inference_steps=args.steps,
        guidance_scale=args.guidance,
        scheduler=args.scheduler,
        seed=1234,
    )
    request.validate()
    runtime = Runtime(device=args.device, dtype=args.dtype)
    engine = ImageEngine()

    # 1. Load + warm up through the engine (kernels, allocator, caches).
    t0 = time.perf_counter()
    for _ in engine.run(request.replace(num_inference_steps=2), runtime, CancelToken()):
        pass
    load_s = time.perf_counter() - t0
    pset = runtime.cache.get(runtime.cache.keys()[-1], lambda: None)
    pipe = pset.txt2img

    def raw() -> tuple[float, int, object]:
        # on the thread the engine runs its pipelines on: one OpenMP team (see studio/engines/compute.py)
        return runtime.compute.call(raw_call)

    def raw_call() -> tuple[float, int, object]:
        from studio.engines.samplers import make_scheduler

        sync()
        start, cpu0 = time.perf_counter(), time.process_time()
        pipe.scheduler = make_scheduler(args.scheduler, type(pset.scheduler), pset.scheduler.config)[0]
        out = pipe(
            prompt=request.prompt,
            width=width,
            height=height,
            num_inference_steps=args.steps,
            guidance_scale=args.guidance,
            generator=torch.Generator("cpu").manual_seed(request.seed),
        )
        sync()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
        steps = pipe.num_timesteps
        pipe.scheduler = pset.scheduler
        return elapsed, cpu, steps, out.images[0]

    def studio() -> tuple[float, float, int, object, float]:
        start, cpu0 = time.perf_counter(), time.process_time()
        first_preview = float("nan")
        image = None
        gen = engine.run(request, runtime, CancelToken())
        while True:
            try:
                ev = next(gen)
            except StopIteration as stop:
                stats = stop.value
                break
            if isinstance(ev, Preview) and first_preview != first_preview:
                first_preview = time.perf_counter() - start
            elif isinstance(ev, Output):
                image = ev.data
        sync()
        return time.perf_counter() - start, time.process_time() - cpu0, stats.steps, image, first_preview

    raw()  # warm the raw path too (first call on this thread)
    peaks = {}
    print(f"model        {model if args.model else f'tiny random {args.family} (studio/testing)'} · family {pset.family or 'unknown (its UNet matches no released size)'}")
    denoiser = getattr(pipe, "unet", None) or pipe.transformer
    print(f"device       {pset.device} · {next(denoiser.parameters()).dtype} · offload {pset.offload}")
    print(f"request      {width}x{height}, {args.steps} steps, sampler {args.scheduler or '(model default)'}, "
          f"CFG {args.guidance:g}, {args.runs} interleaved pairs per condition")
    print(f"load+warmup  {load_s:.2f} s")
    for condition, busy in conditions(args.conditions):
        raw_times, studio_times, previews = [], [], []
        raw_cpu, studio_cpu = [], []
        with busy:
            for i in range(args.runs):
                # each pair: the raw call and the engine back to back, the order alternating (benchmarks/pairs.py)
                for side in (("raw", "studio") if i % 2 == 0 else ("studio", "raw")):
                    if cuda:
                        torch.cuda.reset_peak_memory_stats()
                    if side == "raw":
                        t, cpu, steps, raw_image = raw()
                        raw_times.append(steps / t)
                        raw_cpu.append(steps / cpu)
                    else:
                        t, cpu, steps, studio_image, first = studio()
                        studio_times.append(steps / t)
                        studio_cpu.append(steps / cpu)
                        previews.append(first)
                    if cuda:
                        peaks[side] = max(peaks.get(side, 0), torch.cuda.max_memory_allocated())
        identical = np.array_equal(np.asarray(raw_image), np.asarray(studio_image))
        print(f"--- {condition}")
        print(f"raw pipe     {statistics.median(raw_times):8.2f} steps/s  (runs: {', '.join(f'{x:.2f}' for x in raw_times)})")
        print(f"ImageEngine  {statistics.median(studio_times):8.2f} steps/s  (runs: {', '.join(f'{x:.2f}' for x in studio_times)})")
        ratios = [s / r for s, r in zip(studio_times, raw_times)]
        m, q1, q3 = spread(ratios)
        low, high = median_interval(ratios)
        print(f"ratio        {m:.3f}x wall-clock, median of the per-pair ratios (95 % CI {low:.3f}–{high:.3f}; "
              f"IQR {q1:.3f}–{q3:.3f}; goal >= 0.97x: {verdict(ratios, 0.97)})")
        m, q1, q3 = spread([s / r for s, r in zip(studio_cpu, raw_cpu)])
        note = "robust to other load" if args.threads == 1 else "only meaningful with --threads 1: OpenMP spin-waits count"
        print(f"             {m:.3f}x per CPU-second (IQR {q1:.3f}–{q3:.3f}; steps per process CPU time; {note})")
        print(f"1st preview  {statistics.median(previews) * 1000:.1f} ms after start (median)")
        print(f"same image   {'yes' if identical else 'NO'} (raw call vs engine, same seed)")
    if cuda:
        print(f"peak VRAM    raw {peaks['raw'] / 2**20:.0f} MiB, engine {peaks['studio'] / 2**20:.0f} MiB "
              "(torch.cuda.max_memory_allocated)")
    print(f"memory       RSS now {rss_mb():.0f} MiB, process peak RSS {peak_rss_mb():.0f} MiB")
    if args.plans:
        print_plans(args, engine, runtime, request, pset, cuda)
    if tmp is not None:
        tmp.cleanup()
    return 0


def print_plans(args, engine, runtime, request, pset, cuda) -> None:
    """Each memory plan: the planner's estimate for this request, and on CUDA the peak VRAM and steps/s of a run."""
    import torch

    from studio.engines.base import CancelToken
    from studio.engines.image_memory import parts_of
    from studio.models.memory_plan import PLAN_LABELS, PLANS, need_bytes

    model = runtime.resolve(request.model, "image")
    parts = parts_of(model, pset.family)
    flow = pset.family in ("sd3", "flux")
    for plan in PLANS:
        need = need_bytes(parts, plan, request.width, request.height, request.batch_size, flow=flow)
        line = f"plan {PLAN_LABELS[plan]:<20} estimate {need / 2**30:6.2f} GiB"
        if cuda:
            runtime.cache.unload()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            stats = None
            gen = engine.run(request.replace(offload=plan), runtime, CancelToken())
            while True:
                try:
                    next(gen)
                except StopIteration as stop:
                    stats = stop.value
                    break
            torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            line += (f" · measured peak {torch.cuda.max_memory_allocated() / 2**30:6.2f} GiB · "
                     f"{stats.steps / stats.seconds:.2f} steps/s ({seconds:.1f} s with loading)")
        print(line)


if __name__ == "__main__":
    sys.exit(main())
