"""``studio serve [--host 127.0.0.1] [--port 8765] [--api-key-env VAR]``: Studio's models behind an
OpenAI-compatible API (:mod:`studio.serve`), through the same job queue as the GUI. The key comes from
$STUDIO_API_KEY by default; a non-loopback --host without a key is refused."""

from __future__ import annotations

import argparse

from .common import add_api_key_flag, api_key_from_env, whole_number


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="serve Studio's models over an OpenAI-compatible HTTP API")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1: this machine "
                   "only; any other address needs an API key)")
    p.add_argument("--port", type=whole_number, default=8765, help="the port (default 8765; 0 = any free port)")
    add_api_key_flag(p)
    p.add_argument("--device", default="auto", choices=("auto", "cuda", "mps", "cpu"), help="where models run")
    p.add_argument("--dtype", default="auto", choices=("auto", "float16", "bfloat16", "float32"), help="precision")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..serve.server import check_host, run_serve

    from ..errors import InvalidRequest

    if not 0 <= args.port <= 65535:
        raise InvalidRequest(f"--port must be between 1 and 65535 (got {args.port}).")
    key = api_key_from_env(args)("")
    check_host(args.host, key)
    return run_serve(args.host, args.port, key, device=args.device, dtype=args.dtype)
