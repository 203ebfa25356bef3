"""Searchable history: SQLite FTS5 (standard library) over the library index.

The index (``index.sqlite``) holds one row per saved item in ``items``. Schema version 1 (``PRAGMA
user_version``) adds what a search needs:

* ``items.prompt``, ``items.model``, ``items.seed`` — read once from the item's parameters
  (:func:`search_fields`): the prompt (image, inpaint, music), the narration (speech) or the
  person's message (text), the model id and the seed actually used;
* ``items_fts`` — an FTS5 table over the prompt, the other words worth finding (the reply, the
  negative prompt, the model's name), the model and the seed, kept in step with ``items`` by
  triggers, so every insert and delete updates it in the same transaction.

An index written before (version 0: ``items`` with the parameters as JSON) is migrated in place
the first time it is opened (:func:`migrate`); nothing else changes, no file is touched.

What a person types never reaches FTS5's query syntax raw (:func:`fts_query`): words become quoted
terms, ``"exact phrases"`` stay phrases, a trailing ``*`` asks for a prefix, and everything else
(operators, brackets, column filters, NUL, text that is not UTF-8) is just text to find.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1

#: the longest query used: more terms only narrow a search that already matches nothing useful
MAX_TERMS = 32
MAX_TERM_CHARS = 200

_SCHEMA_V1 = (
    """CREATE VIRTUAL TABLE IF NOT EXISTS items_fts USING fts5(
        prompt, other, model, seed, tokenize = 'unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER IF NOT EXISTS items_fts_insert AFTER INSERT ON items BEGIN
        INSERT INTO items_fts(rowid, prompt, other, model, seed)
        VALUES (new.rowid, new.prompt, new.other, new.model, CAST(new.seed AS TEXT));
    END""",
    """CREATE TRIGGER IF NOT EXISTS items_fts_delete AFTER DELETE ON items BEGIN
        DELETE FROM items_fts WHERE rowid = old.rowid;
    END""",
    "CREATE INDEX IF NOT EXISTS items_kind ON items(kind)",
    "CREATE INDEX IF NOT EXISTS items_model ON items(model)",
    "CREATE INDEX IF NOT EXISTS items_seed ON items(seed)",
)

_NEW_COLUMNS = (("prompt", "TEXT NOT NULL DEFAULT ''"), ("other", "TEXT NOT NULL DEFAULT ''"),
                ("model", "TEXT NOT NULL DEFAULT ''"), ("seed", "INTEGER"))


def clean_text(text: Any) -> str:
    """Text SQLite can store and FTS5 can read: bytes decoded (undecodable ones replaced), lone
    surrogates (a file name or argument that was not UTF-8) replaced, NUL removed."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    elif not isinstance(text, str):
        text = "" if text is None else str(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogateescape" if _only_escapes(text) else "replace").decode("utf-8", "replace")
    return text.replace("\x00", " ")


def _only_escapes(text: str) -> bool:
    try:
        text.encode("utf-8", "surrogateescape")
        return True
    except UnicodeEncodeError:
        return False


def search_fields(params: dict) -> tuple[str, str, str, int | None]:
    """``(prompt, other, model, seed)`` of a saved item's parameters.

    prompt: what the item was made from (image/inpaint/music prompt, speech text, the person's last
    message for text); other: more words to find it by (the reply, negative prompt, model name).
    """
    if not isinstance(params, dict):
        params = {}
    prompt = params.get("prompt") or params.get("text") or ""
    if not prompt and isinstance(params.get("messages"), list):
        users = [m.get("content", "") for m in params["messages"] if isinstance(m, dict) and m.get("role") == "user"]
        prompt = users[-1] if users else ""
    other = " ".join(
        str(params.get(key) or "") for key in ("reply", "negative_prompt", "model_name", "speaker", "system_prompt")
    ).strip()
    seed = params.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        seed = None
    return clean_text(prompt), clean_text(other), clean_text(params.get("model") or ""), seed


def schema_version(db: sqlite3.Connection) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite3.Connection) -> int:
    """Bring an open index to :data:`SCHEMA_VERSION`; returns how many rows were migrated.

    Version 0 → 1: the search columns are added and filled from each row's JSON parameters, and
    the FTS table is built from them. One transaction: a crash midway leaves the old index as it was.
    """
    if db.in_transaction:
        db.commit()
    if schema_version(db) >= SCHEMA_VERSION:
        return 0
    migrated = 0
    db.execute("BEGIN IMMEDIATE")
    try:
        if schema_version(db) >= SCHEMA_VERSION:  # another process migrated it while we waited
            db.execute("COMMIT")
            return 0
        have = {row[1] for row in db.execute("PRAGMA table_info(items)")}
        for name, decl in _NEW_COLUMNS:
            if name not in have:
                db.execute(f"ALTER TABLE items ADD COLUMN {name} {decl}")
        rows = db.execute("SELECT rowid, params FROM items").fetchall()
        for rowid, params in rows:
            try:
                data = json.loads(params)
            except (TypeError, ValueError):
                data = {}
            db.execute("UPDATE items SET prompt = ?, other = ?, model = ?, seed = ? WHERE rowid = ?",
                       (*search_fields(data), rowid))
            migrated += 1
        for statement in _SCHEMA_V1:
            db.execute(statement)
        db.execute("DELETE FROM items_fts")
        db.execute("INSERT INTO items_fts(rowid, prompt, other, model, seed) "
                   "SELECT rowid, prompt, other, model, CAST(seed AS TEXT) FROM items ORDER BY rowid")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return migrated


# --- queries ---
_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')


def fts_query(text: Any) -> str:
    """An FTS5 MATCH expression for what a person typed: every term must be found.

    ``sunset "red sky" cat*`` → ``"sunset" AND "red sky" AND "cat"*``. Quotes inside a term are
    doubled, so nothing typed is read as FTS5 syntax. Empty when there is nothing to look for.
    """
    text = clean_text(text)
    terms: list[str] = []
    for match in _TOKEN.finditer(text):
        phrase, word = match.group(1), match.group(2)
        raw = phrase if phrase is not None else word
        prefix = phrase is None and raw.endswith("*")
        raw = raw.strip("*") if phrase is None else raw
        raw = raw.replace('"', " ").strip()[:MAX_TERM_CHARS]
        if not _has_word(raw):
            continue  # punctuation alone: FTS5 would find nothing (or refuse an empty phrase)
        terms.append(f'"{raw}"' + ("*" if prefix else ""))
        if len(terms) >= MAX_TERMS:
            break
    return " AND ".join(terms)


def _has_word(text: str) -> bool:
    return any(c.isalnum() for c in text)


@dataclass(frozen=True)
class Query:
    """A history search: words (prompt, reply, model, seed), and filters."""

    text: str = ""
    kind: str = ""  # 'text', 'image', 'speech', 'music', 'inpaint'; "" = all
    model: str = ""  # a model id or part of one
    seed: int | None = None
    since: float | None = None  # created at or after (seconds since the epoch)
    until: float | None = None  # created before
    limit: int = 200


def build_sql(query: Query) -> tuple[str, list]:
    """The SELECT for ``query`` (columns: id, kind, path, params, created, job_id), newest first.

    Newest first is the order of saving (rowid), which FTS5 and the indexes can walk backwards and
    stop after ``limit`` rows: a word found in every other item still costs one page of results.
    """
    where: list[str] = []
    args: list = []
    match = fts_query(query.text)
    if match:
        source = "items_fts CROSS JOIN items ON items.rowid = items_fts.rowid"
        order = "items_fts.rowid"
        where.append("items_fts MATCH ?")
        args.append(match)
    else:
        source, order = "items", "items.rowid"
        if query.text and query.text.strip():
            where.append("0")  # only punctuation was typed: nothing can match it
    if query.kind:
        where.append("items.kind = ?")
        args.append(query.kind)
    if query.model:
        model = clean_text(query.model)
        where.append("(items.model = ? OR items.model LIKE ? ESCAPE '\\')")
        args += [model, "%" + model.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"]
    if query.seed is not None:
        where.append("items.seed = ?")
        args.append(int(query.seed))
    if query.since is not None:
        where.append("items.created >= ?")
        args.append(float(query.since))
    if query.until is not None:
        where.append("items.created < ?")
        args.append(float(query.until))
    sql = f"SELECT items.id, items.kind, items.path, items.params, items.created, items.job_id FROM {source}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order} DESC LIMIT ?"
    args.append(max(1, int(query.limit)))
    return sql, args


def parse_day(text: str, end: bool = False) -> float:
    """``YYYY-MM-DD`` (local time) → seconds since the epoch; ``end`` = the start of the next day.
    ValueError with a message for anything else."""
    try:
        day = time.strptime(text.strip(), "%Y-%m-%d")
    except (ValueError, AttributeError):
        raise ValueError(f"{text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-12-07.") from None
    stamp = time.mktime(day)
    return stamp + 86400 if end else stamp
