"""Text benchmarks, printed as ratios against the raw library call measured in the same run.

    .venv/bin/python benchmarks/bench_text.py [--model M] [--tokens N] [--device cpu|cuda] [--skip-convert]

1. tokens/s: raw ``model.generate`` vs the studio's TextEngine vs the engine through the Qt worker
   (same model, same greedy parameters).
2. UI event-loop gap (a 10 ms QTimer) p50/p99 while a generation runs on the worker.
3. Time from launch to window visible (subprocess), and whether torch was imported by then.
4. Bundled model load: first-ever (GGUF dequantize + convert), cold from the converted cache
   (new process), warm (already in the model cache).
It prints; it does not assert.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def drive(gen) -> dict:
    from studio.engines.base import drive as drive_engine

    return drive_engine(gen, lambda ev: None)


def bench_tokens(args) -> None:
    """Raw generate, the engine and the engine through the Qt worker, interleaved ``--repeat`` times.

    This machine's CPU speed drifts by ±30 % from second to second (shared host), so the three are
    run in turn and medians compared, both per wall second and per CPU second of this process.
    """
    import torch
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QTimer, Slot
    from PySide6.QtWidgets import QApplication

    from studio.engines.base import CancelToken, Runtime
    from studio.engines.text import TextEngine, build_messages, encode_chat
    from studio.jobs import JobQueue
    from studio.library.store import Library
    from studio.requests import ChatMessage, TextRequest

    runtime = Runtime(device=args.device)
    req = TextRequest(
        messages=(ChatMessage("user", "Tell me a long story about a lighthouse keeper."),),
        model=args.model,
        max_new_tokens=args.tokens,
        temperature=0,
        repetition_penalty=1.0,
    )
    drive(TextEngine().run(req.replace(max_new_tokens=4), runtime, CancelToken()))  # load + warm up
    (lm, tok) = runtime.cache.get(runtime.cache.keys()[-1], lambda: None)
    ids = encode_chat(tok, build_messages(req)).to(lm.device)

    def timed(fn):
        w, c = time.perf_counter(), time.process_time()
        n = fn()
        return n / (time.perf_counter() - w), n / (time.process_time() - c)

    def raw() -> int:
        return runtime.compute.call(raw_generate)  # on the thread the engine generates on (one OpenMP team)

    def raw_generate() -> int:
        with torch.inference_mode():
            out = lm.generate(
                input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.tokens,
                do_sample=False, temperature=None, top_p=None, top_k=None, pad_token_id=tok.eos_token_id,
            )
        return out.shape[-1] - ids.shape[-1]

    def engine() -> int:
        return drive(TextEngine().run(req, runtime, CancelToken()))["tokens"]

    _app = QApplication.instance() or QApplication([])  # signals need a Qt application
    jobs = JobQueue(Library(tempfile.mkdtemp()), lambda: runtime)

    class Probe(QObject):
        def __init__(self):
            super().__init__()
            self.gaps: list[float] = []
            self.clock = QElapsedTimer()
            self.clock.start()
            self.last = 0
            self.tokens = 0
            self.loop: QEventLoop | None = None

        @Slot()
        def tick(self):
            now = self.clock.nsecsElapsed()
            if self.last:
                self.gaps.append((now - self.last) / 1e6)
            self.last = now

        @Slot(str, object)
        def done(self, job_id, result):
            self.tokens = result.stats["tokens"]
            self.loop.quit()

    probe = Probe()
    jobs.job_finished.connect(probe.done)
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(probe.tick)

    def worker() -> int:
        probe.loop = QEventLoop()
        probe.last = 0
        timer.start()
        jobs.submit(req)
        probe.loop.exec()
        timer.stop()
        return probe.tokens

    runs: dict[str, list[tuple[float, float]]] = {"raw": [], "engine": [], "worker": []}
    for _ in range(args.repeat):
        runs["raw"].append(timed(raw))
        runs["engine"].append(timed(engine))
        runs["worker"].append(timed(worker))
    jobs.shutdown()
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in runs.items()}
    r_wall, r_cpu = med["raw"]
    for name in ("raw", "engine", "worker"):
        wall, cpu = med[name]
        print(
            f"tokens/s  {name:<7} {wall:7.1f} wall ({wall / r_wall:.3f}x)   {cpu:7.1f} per CPU-s ({cpu / r_cpu:.3f}x)"
        )
    gaps = sorted(probe.gaps)
    p = lambda q: gaps[min(len(gaps) - 1, int(q * len(gaps)))]  # noqa: E731
    print(f"UI loop gap during generation (10 ms timer): p50 {p(0.5):.1f} ms  p99 {p(0.99):.1f} ms  max {gaps[-1]:.1f} ms")


def bench_launch() -> None:
    code = (
        "import time,sys,os; t=time.perf_counter();"
        "from PySide6.QtWidgets import QApplication; app=QApplication([]);"
        "from studio.ui.main_window import MainWindow; from studio.ui.settings import Settings;"
        "from studio.library.store import Library; from PySide6.QtCore import QSettings;"
        "s=Settings(QSettings(os.path.join(os.environ['STUDIO_HOME'],'s.ini'), QSettings.IniFormat));"
        "w=MainWindow(s, Library(os.environ['STUDIO_HOME'])); w.show(); app.processEvents();"
        "print(time.perf_counter()-t, 'torch' in sys.modules)"
    )
    env = {**os.environ, "STUDIO_HOME": tempfile.mkdtemp()}  # fresh settings and library
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    total = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env)
    bare = time.perf_counter() - t
    shown, torch_loaded = out.stdout.split()[-2:]
    print(
        f"launch to window visible: {float(shown):.2f} s in-process, {total:.2f} s with interpreter start "
        f"(bare python {bare:.2f} s); torch imported before show: {torch_loaded}"
    )


def bench_load(args) -> None:
    env = dict(os.environ)
    code = (
        "import time; t=time.perf_counter();"
        "import torch, transformers;"
        "from studio.engines.base import Runtime; from studio.engines.text import load_text_model;"
        "u=time.perf_counter(); rt=Runtime(device='cpu'); m=rt.resolve('', 'text'); load_text_model(m, rt.choice());"
        "print(u-t, time.perf_counter()-u)"
    )

    def load_once(label: str) -> None:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
        imports, load = (float(x) for x in out.stdout.split()[-2:])
        print(f"bundled model {label}: load {load:.2f} s (+ {imports:.2f} s importing torch/transformers, once per run)")

    if not args.skip_convert:
        load_once("first load (dequantize GGUF + cache)")
    load_once("cold load (new process, converted cache)")
    from studio.engines.base import CancelToken, Runtime
    from studio.engines.text import TextEngine
    from studio.requests import ChatMessage, TextRequest

    runtime = Runtime(device="cpu")
    req = TextRequest(messages=(ChatMessage("user", "hi"),), max_new_tokens=1)
    drive(TextEngine().run(req, runtime, CancelToken()))
    stats = drive(TextEngine().run(req, runtime, CancelToken()))
    print(f"bundled model warm load (already resident): {stats['load_s'] * 1000:.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-convert", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-bench-"))
    bench_launch()
    bench_load(args)
    bench_tokens(args)


if __name__ == "__main__":
    main()
