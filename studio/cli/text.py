"""``studio generate text``: stream a reply to stdout (and write it to --out)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..events import Token
from ..library.atomic import atomic_write_text
from ..requests import ChatMessage, TextRequest
from .common import add_runtime_flags, positive_int, run_request


def add_parser(gen_sub) -> None:
    p = gen_sub.add_parser("text", help="chat completion with a local language model")
    p.add_argument("--prompt", required=True, help="the user message")
    p.add_argument("--system", default="", help="system prompt")
    p.add_argument(
        "--model", default="", help="catalog id, hub id, local folder or .gguf file (default: the bundled SmolLM2)"
    )
    p.add_argument("--max-new-tokens", type=positive_int, default=512, help="reply length limit (default 512)")
    p.add_argument("--temperature", type=float, default=0.7, help="0 = greedy (default 0.7)")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling (default 0.95)")
    p.add_argument("--top-k", type=positive_int, default=50, help="0 = off (default 50)")
    p.add_argument("--repetition-penalty", type=float, default=1.1, help="1 = off (default 1.1)")
    p.add_argument("--seed", type=positive_int, default=None, help="same seed, same reply (default: random)")
    p.add_argument("--threads", type=positive_int, default=0, help="llama.cpp CPU threads for GGUF models (default 0: automatic)")
    p.add_argument(
        "--gpu-layers", type=int, default=-1, help="GGUF layers offloaded to the GPU (default -1: all, when the build can; 0: none)"
    )
    p.add_argument("--out", type=Path, default=None, help="also write the reply to this file")
    add_runtime_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    request = TextRequest(
        messages=(ChatMessage("user", args.prompt),),
        system_prompt=args.system,
        model=args.model,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        repetition_penalty=args.repetition_penalty,
        seed=args.seed,
        threads=args.threads,
        gpu_layers=args.gpu_layers,
    )
    parts: list[str] = []

    def on_event(ev) -> None:
        if isinstance(ev, Token):
            parts.append(ev.text)
            sys.stdout.write(ev.text)
            sys.stdout.flush()

    result = run_request(request, args, on_event=on_event)
    sys.stdout.write("\n")
    if args.out is not None:
        atomic_write_text(args.out, "".join(parts))
    stats = result.stats
    if not args.quiet and stats:
        print(
            f"{stats.get('tokens', 0)} tokens, {stats.get('tokens_per_s', 0):.1f} tokens/s, "
            f"seed {stats.get('seed', request.seed)}",
            file=sys.stderr,
        )
    return 0
