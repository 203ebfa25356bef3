"""``studio library search TEXT [--kind K] [--model M] [--seed N] [--since D] [--until D] [--json]``.

Finds saved results by prompt, narration, chat message or reply, model, seed and date in the
library index (SQLite FTS5, :mod:`studio.library.search`). No Qt. Every word must be found;
``"a phrase"`` is a phrase and ``word*`` a prefix; nothing typed is read as query syntax.
"""

from __future__ import annotations

import argparse
import sys
import time

from ..errors import InvalidRequest
from ..library.search import Query, parse_day, search_fields
from .common import open_library, positive_int, whole_number

SEARCH_KINDS = ("text", "image", "inpaint", "speech", "music")


def add_parser(sub) -> None:
    library = sub.add_parser("library", help="search the saved results")
    lsub = library.add_subparsers(dest="library_command", required=True, parser_class=type(library))
    p = lsub.add_parser("search", help="find saved results by prompt or text, model, seed and date")
    p.add_argument("text", nargs="?", default="", metavar="TEXT",
                   help='words to find (all of them); "a phrase" in quotes; word* for a prefix; "" = everything')
    p.add_argument("--kind", choices=SEARCH_KINDS, default=None, help="only results of this kind")
    p.add_argument("--model", default="", metavar="M", help="only results made with this model (id or part of it)")
    p.add_argument("--seed", type=whole_number, default=None, metavar="N", help="only results with this seed")
    p.add_argument("--since", default=None, metavar="YYYY-MM-DD", help="made on or after this day")
    p.add_argument("--until", default=None, metavar="YYYY-MM-DD", help="made on or before this day")
    p.add_argument("--limit", type=positive_int, default=50, metavar="N", help="at most N results (default 50)")
    p.add_argument("--json", action="store_true", help="one JSON list of objects on stdout")
    p.set_defaults(func=run_search)


def _day(text: str | None, end: bool = False) -> float | None:
    if text is None:
        return None
    try:
        return parse_day(text, end=end)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None


def item_record(saved) -> dict:
    """What ``--json`` prints for one saved result."""
    prompt, _, model, seed = search_fields(saved.params)
    return {
        "id": saved.id,
        "kind": saved.kind,
        "path": str(saved.path),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(saved.created)),
        "prompt": prompt,
        "model": model,
        "seed": seed,
        "exists": saved.path.exists(),
    }


def run_search(args: argparse.Namespace) -> int:
    from ..library.store import to_json

    query = Query(
        text=args.text, kind=args.kind or "", model=args.model, seed=args.seed,
        since=_day(args.since), until=_day(args.until, end=True), limit=args.limit,
    )
    library = open_library(args)
    found = library.search(query)
    records = [item_record(saved) for saved in found]
    if args.json:
        print(to_json(records, indent=2))
        return 0
    if not records:
        print("No saved results match.", file=sys.stderr)
        return 0
    for r in records:
        text = " ".join(r["prompt"].split())
        text = text if len(text) <= 60 else text[:59] + "…"
        seed = f" seed {r['seed']}" if r["seed"] is not None else ""
        missing = "" if r["exists"] else " (file missing)"
        print(f"{r['created'][:16].replace('T', ' ')}  {r['kind']:<7} {r['model'] or '-'}{seed}  {text}")
        print(f"    {r['path']}{missing}")
    return 0
