"""``studio generate text``: stream a reply to stdout (and write it to --out)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..events import Token
from ..library.atomic import atomic_write_text
from ..requests import ChatMessage, TextRequest
from .common import add_request_arguments, add_runtime_flags, request_kwargs_from_args, run_request

#: The request fields offered as flags (spelled, typed and described by the request's declarations).
FIELDS = ("system_prompt", "model", "max_new_tokens", "temperature", "top_p", "top_k", "repetition_penalty",
          "seed", "threads", "gpu_layers")


def add_parser(gen_sub) -> None:
    p = gen_sub.add_parser("text", help="chat completion with a local language model")
    p.add_argument("--prompt", required=True, help="the user message")
    add_request_arguments(p, TextRequest, FIELDS)
    p.add_argument("--out", type=Path, default=None, help="also write the reply to this file")
    add_runtime_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    request = TextRequest(
        messages=(ChatMessage("user", args.prompt),), **request_kwargs_from_args(TextRequest, args, FIELDS)
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
