"""``studio generate text``: stream a reply to stdout (and write it to --out: the reply as text for
``.txt``/``.md``/no extension, or ``.json`` with the reply, every parameter and the stats). The
values and the --out path are checked before the model loads."""

from __future__ import annotations

import argparse
import sys

from ..events import Token
from ..library.atomic import atomic_write_text
from ..library.outputs import TEXT_FORMATS, check_output
from ..library.store import to_json
from ..requests import ChatMessage, TextRequest
from .common import add_runtime_flags, path_arg, positive_int, run_request


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
    p.add_argument(
        "--out", type=path_arg, default=None, help="also write the reply to this file (.txt, .md, or .json with the settings)"
    )
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
    )
    request.validate()
    target = check_output(args.out, TEXT_FORMATS) if args.out is not None else None
    parts: list[str] = []

    def on_event(ev) -> None:
        if isinstance(ev, Token):
            parts.append(ev.text)
            sys.stdout.write(ev.text)
            sys.stdout.flush()

    result = run_request(request, args, on_event=on_event)
    sys.stdout.write("\n")
    stats = result.stats
    if target is not None:
        reply = "".join(parts)
        data = {"reply": reply, "params": request.to_dict(), "stats": stats}
        atomic_write_text(target.path, to_json(data, indent=2) + "\n" if target.format == "json" else reply)
    if not args.quiet and stats:
        print(
            f"{stats.get('tokens', 0)} tokens, {stats.get('tokens_per_s', 0):.1f} tokens/s, "
            f"seed {stats.get('seed', request.seed)}",
            file=sys.stderr,
        )
    return 0
