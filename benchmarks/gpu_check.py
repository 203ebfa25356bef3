"""One prepared GPU check for a lent NVIDIA machine (the device tool), using tiny models built on the spot.

    python3 benchmarks/gpu_check.py            # prints PASS/FAIL lines and timings, exit 1 on a FAIL
    python3 benchmarks/gpu_check.py --dry-cpu  # the same code paths on the CPU (to catch API slips first)

What it checks, on CUDA, through the same engines the app uses:
  1. device choice: auto → cuda with bf16 (fp16 where bf16 is unsupported); both half types load.
  2. text engine on cuda (bf16 and fp16): tokens stream, greedy output equals a raw ``generate`` on the
     same model, the model really lives on the GPU in the asked dtype.
  3. image engine on cuda (fp16): equals a raw diffusers call with a CPU generator; the same seed on CPU
     and GPU gives nearly the same picture (noise comes from a CPU generator).
  4. model CPU offload (accelerate) runs and gives the same picture as no offload.
  5. out of memory: with the per-process memory fraction squeezed, a big image job fails with
     OutOfMemory naming the setting to change, memory is released, and the next job succeeds.
  6. unload: after ``cache.unload()`` the allocated CUDA memory returns to the baseline.
The machine has no network: packages missing there (diffusers, gguf) travel as wheels (see the device
README); tiny models come from studio/testing (the builders the tests use), built from configs.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-gpu-"))

RESULTS: list[tuple[str, bool, str]] = []


def check(name):
    def wrap(fn):
        def run():
            t = time.perf_counter()
            try:
                detail = fn() or ""
                RESULTS.append((name, True, f"{detail} ({time.perf_counter() - t:.1f} s)"))
            except Exception as exc:  # report and go on with the next check
                traceback.print_exc()
                RESULTS.append((name, False, f"{type(exc).__name__}: {exc}"))

        return run

    return wrap


def main() -> int:
    import torch

    dry = "--dry-cpu" in sys.argv
    dev = "cpu" if dry else "cuda"
    half = ("float32",) if dry else ("bfloat16", "float16")
    assert dry or torch.cuda.is_available(), "no CUDA device"
    from studio.engines.base import CancelToken, Runtime
    from studio.events import Output
    from studio.models import device as device_mod
    from studio.requests import ChatMessage, ImageRequest, TextRequest
    from studio.testing.tiny_llm import build_tiny_llm
    from studio.testing.events import collect
    from studio.testing.tiny_sd import build_tiny_sd

    tmp = Path(tempfile.mkdtemp())
    llm = build_tiny_llm(tmp / "llm")
    sd = str(build_tiny_sd(tmp / "sd"))
    print(torch.cuda.get_device_name() if not dry else "CPU dry run", "torch", torch.__version__)

    @check("device choice")
    def _device():
        choice = device_mod.choose()
        assert choice.device == "cuda", choice
        assert choice.dtype == ("bfloat16" if torch.cuda.is_bf16_supported() else "float16"), choice
        return choice.label()

    @check("text engine on cuda (bf16, fp16) equals raw generate")
    def _text():
        from studio.engines.text import TextEngine, build_messages, encode_chat

        out = []
        for dtype in half:
            runtime = Runtime(device=dev, dtype=dtype)
            req = TextRequest(messages=(ChatMessage("user", "hello world"),), model=llm, max_new_tokens=24,
                              temperature=0, repetition_penalty=1.0)
            events, stats = collect(TextEngine().run(req, runtime, CancelToken()))
            reply = next(e for e in events if isinstance(e, Output)).data
            lm, tok = runtime.cache.get(runtime.cache.keys()[-1], lambda: None)
            assert lm.device.type == dev and str(lm.dtype) == f"torch.{dtype}", (lm.device, lm.dtype)
            ids = encode_chat(tok, build_messages(req)).to(dev)
            with torch.inference_mode():
                raw = lm.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=24,
                                  do_sample=False, temperature=None, top_p=None, top_k=None,
                                  pad_token_id=tok.pad_token_id)
            assert reply == tok.decode(raw[0][ids.shape[1]:], skip_special_tokens=True)
            out.append(f"{dtype}: {stats['tokens_per_s']:.0f} tok/s")
            runtime.cache.unload()
        return ", ".join(out)

    def image(runtime, **kw):
        from studio.engines.image import ImageEngine

        req = ImageRequest(prompt="a red fox", model=sd, width=64, height=64, num_inference_steps=4, seed=7,
                           scheduler="Euler", **kw)
        events, stats = collect(ImageEngine().run(req, runtime, CancelToken()))
        return [e.data for e in events if isinstance(e, Output)], stats

    @check("image engine on cuda fp16 equals raw diffusers; CPU and GPU agree")
    def _image():
        import numpy as np
        from diffusers import EulerDiscreteScheduler

        runtime = Runtime(device=dev, dtype=half[-1])
        (ours,), stats = image(runtime, offload="none")
        pipe = runtime.cache.get(runtime.cache.keys()[-1], lambda: None)
        pipe = getattr(pipe, "txt2img", pipe)
        pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
        raw = pipe("a red fox", width=64, height=64, num_inference_steps=4, guidance_scale=7.0,
                   generator=torch.Generator("cpu").manual_seed(7)).images[0]
        assert np.array_equal(np.asarray(ours), np.asarray(raw)), "studio image differs from raw diffusers"
        (cpu_img,), _ = image(Runtime(device="cpu"))
        diff = np.abs(np.asarray(ours, dtype=float) - np.asarray(cpu_img, dtype=float)).mean()
        assert diff < 8, f"CPU and GPU pictures differ by {diff:.1f}/255 on average"
        return f"mean |gpu-cpu| {diff:.2f}/255, {stats.get('steps_per_s', 0):.1f} steps/s"

    @check("model CPU offload gives the same picture")
    def _offload():
        import numpy as np

        (plain,), _ = image(Runtime(device=dev, dtype=half[-1]), offload="none")
        (off,), _ = image(Runtime(device=dev, dtype=half[-1]), offload="model")
        diff = np.abs(np.asarray(plain, dtype=float) - np.asarray(off, dtype=float)).max()
        assert diff <= 2, f"offload changed the picture (max diff {diff})"
        return "ok"

    @check("out of memory: clear message, memory released, next job runs")
    def _oom():
        from studio.errors import OutOfMemory

        runtime = Runtime(device="cuda", dtype="float16")
        image(runtime)  # load once
        used = torch.cuda.memory_allocated()
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, (used + 64 * 2**20) / total))
        try:
            image(runtime, batch_size=16, width=2048, height=2048, offload="none",
                  attention_slicing="off", vae_tiling="off")
            raise AssertionError("expected an out-of-memory error")
        except OutOfMemory as exc:
            message = str(exc)
            assert "Lower the size" in message or "offload" in message, message
        finally:
            torch.cuda.set_per_process_memory_fraction(1.0)
        (img,), _ = image(runtime)
        return message[:80] + "…"

    @check("unload returns CUDA memory")
    def _unload():
        base = torch.cuda.memory_allocated()
        runtime = Runtime(device="cuda", dtype="float16")
        image(runtime)
        loaded = torch.cuda.memory_allocated()
        runtime.cache.unload()
        after = torch.cuda.memory_allocated()
        assert after <= base + 1 * 2**20, f"{(after - base) / 2**20:.1f} MiB still allocated"
        return f"loaded +{(loaded - base) / 2**20:.1f} MiB, after unload +{(after - base) / 2**20:.2f} MiB"

    for fn in (_text, _image) if dry else (_device, _text, _image, _offload, _oom, _unload):
        fn()
    failed = 0
    for name, ok, detail in RESULTS:
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    print(f"{len(RESULTS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
