"""Text benchmarks, printed against the raw library call measured in the same run. Short by default.

    .venv/bin/python benchmarks/bench_text.py [--model FILE.gguf] [--tokens N] [--repeat R] [--threads T]
                                              [--skip-transformers] [--skip-busy] [--skip-launch]

1. llama.cpp: tokens/s of a raw ``llama_cpp.Llama`` generate loop vs Studio's TextEngine vs the engine
   through the Qt worker (same file, greedy settings, threads, context), interleaved; the UI event-loop gap
   (a 10 ms QTimer) p50/p99 while the worker generates; first-token latency, cold (load included) and warm.
2. Threads: Studio's tokens/s with 1 and 2 threads, idle and with one core kept busy by another process
   (``python -c 'while 1: pass'``), and what "automatic" picks.
3. transformers: the same GGUF dequantized by transformers (what Studio did before) through the same
   engine: tokens/s, and the llama.cpp / transformers ratio.
4. Peak memory (max RSS of a fresh process that loads the model and generates) on both runtimes.
5. Launch: time from start to window visible.
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
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROMPT = "Tell me a long story about a lighthouse keeper."


def drive(gen) -> dict:
    from studio.engines.base import drive as drive_engine

    return drive_engine(gen, lambda ev: None)


def make_request(args, **changes):
    from studio.requests import ChatMessage, TextRequest

    req = TextRequest(
        messages=(ChatMessage("user", PROMPT),),
        model=args.model,
        max_new_tokens=args.tokens,
        temperature=0,
        repetition_penalty=1.0,
        threads=args.threads,
        seed=1,
    )
    return req.replace(**changes) if changes else req


@contextmanager
def busy_core(on: bool = True):
    """Another program keeping one core busy (a desktop is never idle)."""
    proc = subprocess.Popen([sys.executable, "-c", "while 1: pass"]) if on else None
    try:
        time.sleep(0.3 if on else 0)
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def engine_tps(req, runtime) -> tuple[float, dict]:
    from studio.engines.base import CancelToken
    from studio.engines.text import TextEngine

    stats = drive(TextEngine().run(req, runtime, CancelToken()))
    return stats["tokens"] / stats["seconds"], stats


def bench_llama(args) -> float:
    import llama_cpp
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QTimer, Slot
    from PySide6.QtWidgets import QApplication

    from studio.engines.base import Runtime
    from studio.engines.text_llama import auto_threads
    from studio.jobs import JobQueue
    from studio.library.store import Library

    threads = args.threads or auto_threads()
    req = make_request(args, threads=threads)
    runtime = Runtime(device="cpu")
    t = time.perf_counter()
    _tps, cold = engine_tps(req.replace(max_new_tokens=1), runtime)
    print(f"first token, cold (parse + load + prompt): {cold['first_token_s'] * 1000:.0f} ms "
          f"(load {cold['load_s'] * 1000:.0f} ms, whole call {(time.perf_counter() - t) * 1000:.0f} ms)")
    _tps, warm = engine_tps(req.replace(max_new_tokens=1), runtime)
    print(f"first token, warm (model loaded, same prompt): {warm['first_token_s'] * 1000:.0f} ms")
    chat = runtime.cache.get(runtime.cache.keys()[-1], lambda: None)
    model_path, n_ctx = str(chat.info.path), chat.context_max
    prompt_ids = chat.encode([{"role": "user", "content": PROMPT}])

    raw = llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_batch=512, n_threads=threads,
                          n_threads_batch=threads, verbose=False)

    def raw_run() -> float:
        t0 = time.perf_counter()
        n = 0
        for token in raw.generate(prompt_ids, temp=0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0):
            if llama_cpp.llama_vocab_is_eog(llama_cpp.llama_model_get_vocab(raw.model), token):
                break
            n += 1
            if n >= args.tokens:
                break
        return n / (time.perf_counter() - t0)

    _app = QApplication.instance() or QApplication([])
    jobs = JobQueue(Library(tempfile.mkdtemp()), lambda: runtime)

    class Probe(QObject):
        def __init__(self):
            super().__init__()
            self.gaps: list[float] = []
            self.clock = QElapsedTimer()
            self.clock.start()
            self.last = 0
            self.tps = 0.0
            self.loop: QEventLoop | None = None

        @Slot()
        def tick(self):
            now = self.clock.nsecsElapsed()
            if self.last:
                self.gaps.append((now - self.last) / 1e6)
            self.last = now

        @Slot(str, object)
        def done(self, job_id, result):
            self.tps = result.stats["tokens"] / result.stats["seconds"]
            self.loop.quit()

    probe = Probe()
    jobs.job_finished.connect(probe.done)
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(probe.tick)

    def worker_run() -> float:
        probe.loop = QEventLoop()
        probe.last = 0
        timer.start()
        jobs.submit(req)
        probe.loop.exec()
        timer.stop()
        return probe.tps

    runs: dict[str, list[float]] = {"raw": [], "engine": [], "worker": []}
    for _ in range(args.repeat):
        runs["raw"].append(raw_run())
        runs["engine"].append(engine_tps(req, runtime)[0])
        runs["worker"].append(worker_run())
    jobs.shutdown()
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"llama.cpp, {threads} thread(s), {args.tokens} tokens, median of {args.repeat} interleaved runs:")
    for name in ("raw", "engine", "worker"):
        print(f"  tokens/s {name:<7} {med[name]:7.1f}  ({med[name] / med['raw']:.3f}x raw)   runs: "
              + " ".join(f"{x:.1f}" for x in runs[name]))
    gaps = sorted(probe.gaps)
    p = lambda q: gaps[min(len(gaps) - 1, int(q * len(gaps)))]  # noqa: E731
    print(f"  UI loop gap while the worker generates (10 ms timer): p50 {p(0.5):.1f} ms  p99 {p(0.99):.1f} ms  "
          f"max {gaps[-1]:.1f} ms")
    del raw
    bench_threads(args, runtime)
    return med["engine"]


def bench_threads(args, runtime) -> None:
    from studio.engines.text_llama import auto_threads

    print(f"threads (automatic picks {auto_threads()} here; {os.cpu_count()} logical CPUs):")
    for busy in (False, True) if not args.skip_busy else (False,):
        with busy_core(busy):
            for n in (1, 2):
                tps = statistics.median(engine_tps(make_request(args, threads=n), runtime)[0] for _ in range(args.repeat))
                print(f"  {n} thread(s), {'one core busy' if busy else 'idle        '}: {tps:6.1f} tokens/s")


def converted_folder(gguf_path: str) -> str:
    """The GGUF dequantized by transformers and saved as safetensors (the old path), in a temp folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(tempfile.mkdtemp(prefix="bench-hf-"))
    src = Path(gguf_path)
    tok = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
    model = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return str(folder)


def bench_transformers(args, gguf_path: str, llama_tps: float) -> str:
    from studio.engines.base import Runtime

    t = time.perf_counter()
    folder = converted_folder(gguf_path)
    print(f"transformers: dequantizing the GGUF took {time.perf_counter() - t:.1f} s (once; Studio no longer does this)")
    runtime = Runtime(device="cpu")
    req = make_request(args, model=folder)
    engine_tps(req.replace(max_new_tokens=2), runtime)
    tps = statistics.median(engine_tps(req, runtime)[0] for _ in range(args.repeat))
    print(f"  tokens/s transformers (float32): {tps:.1f}; llama.cpp engine / transformers engine = {llama_tps / tps:.2f}x")
    return folder


def peak_memory(model: str, threads: int, tokens: int) -> tuple[float, str]:
    code = (
        "import resource, sys; from studio.engines.base import Runtime, CancelToken, drive;"
        "from studio.engines.text import TextEngine; from studio.requests import TextRequest, ChatMessage;"
        f"req = TextRequest(messages=(ChatMessage('user', {PROMPT!r}),), model={model!r}, max_new_tokens={tokens},"
        f" temperature=0, threads={threads});"
        "drive(TextEngine().run(req, Runtime(device='cpu'), CancelToken()), lambda e: None);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=os.environ)
    if out.returncode:
        raise RuntimeError(out.stderr.strip().splitlines()[-1])
    mb, torch_loaded = out.stdout.split()[-2:]
    return float(mb), torch_loaded


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
    env = {**os.environ, "STUDIO_HOME": tempfile.mkdtemp()}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    shown, torch_loaded = out.stdout.split()[-2:]
    print(f"launch to window visible: {float(shown):.2f} s in-process; torch imported before show: {torch_loaded}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="", help="a .gguf file (default: the bundled SmolLM2)")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="0: Studio's automatic choice")
    ap.add_argument("--skip-transformers", action="store_true")
    ap.add_argument("--skip-busy", action="store_true")
    ap.add_argument("--skip-launch", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-bench-"))
    from studio.engines.base import Runtime
    from studio.engines.text_llama import auto_threads
    from studio.models.gguf import gguf_file

    gguf_path = str(gguf_file(Runtime().resolve(args.model, "text").path))
    print(f"model: {gguf_path}")
    if not args.skip_launch:
        bench_launch()
    llama_tps = bench_llama(args)
    threads = args.threads or auto_threads()
    mb, torch_loaded = peak_memory(gguf_path, threads, args.tokens)
    print(f"peak memory, llama.cpp:    {mb:7.0f} MB (torch imported: {torch_loaded})")
    if not args.skip_transformers:
        folder = bench_transformers(args, gguf_path, llama_tps)
        mb, _ = peak_memory(folder, threads, args.tokens)
        print(f"peak memory, transformers: {mb:7.0f} MB")


if __name__ == "__main__":
    main()
