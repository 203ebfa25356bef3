"""History search at 100,000 saved items: ``Library.search`` against the raw SQLite FTS5 query.

Builds an index of N items (default 100,000) through the library's own schema and triggers (rows
inserted in one transaction, as a migration does), then times a set of searches a person makes
(a rare word, a common word, two words, a phrase, a prefix, a model filter, a kind filter with a
word, a seed) through :meth:`Library.search`, and, in the same run, the query a straightforward
implementation would send (``items_fts MATCH`` joined to ``items``, ordered by ``created``; a LIKE scan
for the model filter). Studio walks the saving order backwards and stops after a page, so common words
come out faster than that baseline. Target: every search under 50 ms.

    python benchmarks/bench_search.py [--items 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from studio.library.search import Query, fts_query, search_fields  # noqa: E402
from studio.library.store import Library  # noqa: E402

KINDS = ("image", "image", "image", "text", "speech", "music", "inpaint")
MODELS = ("stabilityai/sd-turbo", "runwayml/sd15", "smollm2-360m-q8", "piper:en_US-joe-medium", "musicgen-small")


def _vocabulary(rng: random.Random, n: int = 3000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(n)]


def build(root: Path, items: int, seed: int = 0) -> Library:
    rng = random.Random(seed)
    words = _vocabulary(rng)
    common = words[:20]
    library = Library(root)
    rows = []
    start = time.time() - items * 60
    for i in range(items):
        kind = rng.choice(KINDS)
        prompt = " ".join(rng.choice(common) if rng.random() < 0.2 else rng.choice(words)
                          for _ in range(rng.randint(6, 24)))
        params = {"kind": kind, "prompt" if kind != "speech" else "text": prompt,
                  "model": rng.choice(MODELS), "seed": rng.randint(0, 2**32 - 1)}
        if i == items // 2:
            params["prompt" if kind != "speech" else "text"] = "lighthouse keeper at dawn " + prompt
        rows.append((uuid.uuid4().hex[:12], kind, str(root / f"{i}.png"), start + i * 60, "", json.dumps(params),
                     *search_fields(params)))
    db = sqlite3.connect(root / "index.sqlite")
    with db:
        db.executemany("INSERT INTO items (id, kind, path, created, job_id, params, prompt, other, model, seed)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.execute("PRAGMA optimize")
    db.close()
    library.bench_words = words  # type: ignore[attr-defined]
    return library


def _time(fn, repeat: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        count = len(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--limit", type=int, default=200, help="results per search (the History panel's page)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        library = build(Path(tmp) / "library", args.items)
        print(f"built an index of {args.items} items in {time.perf_counter() - t0:.1f} s")
        words = library.bench_words  # type: ignore[attr-defined]
        raw_db = sqlite3.connect(Path(tmp) / "library" / "index.sqlite")
        seed = raw_db.execute("SELECT seed FROM items LIMIT 1 OFFSET 777").fetchone()[0]
        cases = [
            ("rare word", Query(text=words[2999], limit=args.limit)),
            ("common word", Query(text=words[0], limit=args.limit)),
            ("two words", Query(text=f"{words[1]} {words[2]}", limit=args.limit)),
            ("phrase", Query(text='"lighthouse keeper"', limit=args.limit)),
            ("prefix", Query(text=words[5][:3] + "*", limit=args.limit)),
            ("model filter", Query(model="sd-turbo", limit=args.limit)),
            ("kind + word", Query(text=words[3], kind="speech", limit=args.limit)),
            ("seed", Query(text=str(seed), limit=args.limit)),
            ("10,000 characters", Query(text="x" * 10_000, limit=args.limit)),
        ]
        print(f"{'search':<20}{'Studio ms':>10}{'raw ms':>9}{'ratio':>7}{'found':>7}")
        worst = 0.0
        for name, query in cases:
            studio_ms, found = _time(lambda q=query: library.search(q), args.repeat)
            match = fts_query(query.text)
            if match:
                sql = ("SELECT items.id, items.params FROM items_fts JOIN items ON items.rowid = items_fts.rowid "
                       "WHERE items_fts MATCH ? ORDER BY items.created DESC LIMIT ?")
                raw_ms, _ = _time(lambda m=match: raw_db.execute(sql, (m, args.limit)).fetchall(), args.repeat)
            else:
                sql = "SELECT id, params FROM items WHERE model LIKE ? ORDER BY created DESC LIMIT ?"
                raw_ms, _ = _time(lambda: raw_db.execute(sql, ("%sd-turbo%", args.limit)).fetchall(), args.repeat)
            worst = max(worst, studio_ms)
            ratio = studio_ms / raw_ms if raw_ms else float("nan")
            print(f"{name:<20}{studio_ms:>10.1f}{raw_ms:>9.1f}{ratio:>7.2f}{found:>7}")
        raw_db.close()
        verdict = "PASS" if worst < 50 else "FAIL"
        print(f"slowest search: {worst:.1f} ms (target < 50 ms at {args.items} items): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
