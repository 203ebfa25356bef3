"""``studio generate text``: stream a reply to stdout (and write it to --out: the reply as text for
``.txt``/``.md``/no extension, or ``.json`` with the reply, every parameter and the stats). The
values and the --out path are checked before the model loads."""

from __future__ import annotations

import argparse
import sys

from ..events import Output, TextStats, Token
from ..library.atomic import atomic_write_text
from ..library.targets import TEXT_FORMATS, check_output
from ..library.store import to_json
from ..requests import ChatMessage, TextRequest
from .common import (
    add_api_key_flag,
    add_request_arguments,
    add_runtime_flags,
    api_key_from_env,
    finish,
    make_runtime,
    path_arg,
    request_kwargs_from_args,
    run_request,
)

#: The request fields offered as flags (spelled, typed and described by the request's declarations).
FIELDS = ("system_prompt", "model", "endpoint", "max_new_tokens", "temperature", "top_p", "top_k", "repetition_penalty",
          "seed", "threads", "gpu_layers", "raw")


def add_parser(gen_sub) -> None:
    p = gen_sub.add_parser(
        "text",
        help="chat completion with a local language model, or one on an OpenAI-compatible server (--endpoint)",
    )
    p.add_argument("--prompt", required=True, help="the user message (with --raw: the text to continue)")
    add_request_arguments(p, TextRequest, FIELDS)
    p.add_argument("--stop", metavar="S", action="append", default=[],
                   help="end the reply where this text appears (not included); repeatable, up to 4")
    p.add_argument(
        "--out", type=path_arg, default=None, help="also write the reply to this file (.txt, .md, or .json with the settings)"
    )
    add_api_key_flag(p)
    add_runtime_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    request = TextRequest(
        messages=(ChatMessage("user", args.prompt),), stop=tuple(args.stop),
        **request_kwargs_from_args(TextRequest, args, FIELDS),
    )
    request.validate()
    target = check_output(args.out, TEXT_FORMATS) if args.out is not None else None
    parts: list[str] = []

    def on_event(ev) -> object:
        if isinstance(ev, Token):
            parts.append(ev.text)
            if not args.json:  # --json: the reply is in the JSON object
                sys.stdout.write(ev.text)
                sys.stdout.flush()
        elif isinstance(ev, Output):  # the reply: --out first, the library after (run_request)
            if target is None:
                return "The reply is printed above." if not args.json else "The reply is in the JSON object on stdout."
            reply = "".join(parts)
            data = {"reply": reply, "params": request.to_dict(), "stats": ev.params.get("stats") or {}}
            atomic_write_text(target.path, to_json(data, indent=2) + "\n" if target.format == "json" else reply)
            return target.path
        return None

    runtime = None
    if request.endpoint:
        runtime = make_runtime(args)
        runtime.api_key = api_key_from_env(args)
    result = run_request(request, args, on_event=on_event, runtime=runtime)
    if not args.json:
        sys.stdout.write("\n")
    stats = result.stats
    reply = "".join(parts)
    outputs: list = []
    if target is not None and not target.stream:  # written when the reply came (before the library)
        outputs.append(target.path)
    if not args.json:
        if not args.quiet and isinstance(stats, TextStats):
            print(f"{stats.tokens} tokens, {stats.tokens_per_s:.1f} tokens/s, seed {stats.seed}", file=sys.stderr)
        return 0
    outputs += [item.path for item in result.items]  # the library's copy
    return finish(args, request, result, outputs, reply=reply)
