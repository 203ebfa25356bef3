"""The library: every output saved at once (atomically) with its full parameters, plus an index.

Layout under the library root::

    outputs/2026-11-29/20261129-101500-ab12cd-image-0.png   images (A1111 `parameters` + our JSON)
    outputs/2026-11-29/…-inpaint-0.png                      Canvas edits
    outputs/2026-11-29/…-speech.wav                         audio (tags carry the parameters)
    outputs/2026-11-29/…-text.md                            text replies (Markdown)
    conversations/<conversation id>.json                    chat conversations, rewritten each turn
    index.sqlite                                            one row per saved item (the History panel),
                                                            searchable (FTS5, studio.library.search)

The name holds the item's kind, which is its request's kind (``text``, ``image``, ``inpaint``,
``speech``, ``music``); suffix, numbering and metadata come from the output type's entry in
:data:`~studio.library.outputs.OUTPUT_TYPES`.

SQLite keeps the index consistent when the app is killed mid-write; each file is written to a
temp file and renamed, so a file in the library is always complete. The index stores paths relative
to the library root (the file names are ASCII), so a root whose name is not UTF-8 (or a library
moved as a whole) still works. A save that fails raises :class:`LibrarySaveError`, whose message
says whether and where the file was written; callers that wrote the result elsewhere first (the
CLI's ``--out``) report it as a warning.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from ..errors import StudioError
from ..events import Output, SavedItem
from .atomic import atomic_write_bytes, atomic_write_text
from .chat_tree import ChatTree
from .outputs import item_kind, output_type
from .search import Query, build_sql, migrate, search_fields

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    created REAL NOT NULL,
    job_id TEXT NOT NULL DEFAULT '',
    params TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_created ON items(created);
"""


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, tuple)):
        return list(value)
    return repr(value)


def to_json(data: Any, indent: int | None = None) -> str:
    """JSON text; strings from non-UTF-8 bytes (lone surrogates) are escaped so it stays valid UTF-8."""
    text = json.dumps(data, ensure_ascii=False, default=_json_default, indent=indent)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, ensure_ascii=True, default=_json_default, indent=indent)
    return text


class LibrarySaveError(StudioError):
    """The library could not save a result. ``item`` is the saved file without its index row when the
    file was written (History will not list it, but the result is there), None when nothing was."""

    def __init__(self, message: str, item: SavedItem | None = None) -> None:
        super().__init__(message)
        self.item = item
        self.path = item.path if item is not None else None


def _reason(exc: BaseException) -> str:
    """A few words on why a save failed (the OS's or SQLite's own words, no class names)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, UnicodeError):
        return "a name that is not UTF-8"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else "an unknown error"


class Library:
    """Saves outputs and lists them back. Safe to use from the worker and the UI thread."""

    #: how long a write waits for another process that holds the index locked
    INDEX_TIMEOUT_S = 10.0

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conversation_lock = threading.Lock()
        self._open_index()

    def relocate(self, root: str | Path) -> None:
        """Save future outputs under ``root`` (Settings → Output folder); existing files stay put."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self.root = root
            self._open_index()

    def _open_index(self) -> None:
        """Create the index if needed; a damaged one (not a database, truncated) is set aside as
        ``index.sqlite.broken-<time>`` and a new one started: the files themselves stay."""
        try:
            self._create_index()
            return
        except sqlite3.DatabaseError:
            pass
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            index = self.root / f"index.sqlite{suffix}"
            if index.exists():
                index.replace(self.root / f"index.sqlite.broken-{stamp}{suffix}")
        self._create_index()

    def _create_index(self) -> None:
        """The items table, then the search columns and FTS table (an older index is migrated)."""
        db = self._connect()
        try:
            db.executescript(_SCHEMA)
            migrate(db)
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.root / "index.sqlite", timeout=self.INDEX_TIMEOUT_S)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    # --- saving ---
    def _new_path(self, kind: str, suffix: str, index: int | None) -> tuple[str, Path]:
        now = time.localtime()
        item_id = uuid.uuid4().hex[:12]
        stamp = time.strftime("%Y%m%d-%H%M%S", now)
        day = time.strftime("%Y-%m-%d", now)
        name = f"{stamp}-{item_id[:6]}-{kind}" + (f"-{index}" if index is not None else "") + suffix
        return item_id, self.root / "outputs" / day / name

    def save(self, output: Output, job_id: str = "") -> SavedItem:
        """Write one engine output to disk (atomically) and to the index; returns where it went.

        Its kind is the request's (``output.params["kind"]``); how it is written follows its output
        type (:func:`~studio.library.outputs.output_type`). ValueError for an unknown output type.
        """
        params = output.params if isinstance(output.params, dict) else {}
        otype = output_type(output.media)
        kind = item_kind(output.media, params)
        item_id, path = self._new_path(kind, otype.suffix, output.index if otype.numbered else None)
        data = otype.encode(output.data, params)
        try:
            atomic_write_bytes(path, data)
        except OSError as exc:  # a full or read-only disk, a folder that went away …
            raise LibrarySaveError(
                f"The library could not save the result in '{path.parent}' ({_reason(exc)})."
            ) from exc
        try:
            if params.get("conversation"):
                self.save_conversation(params["conversation"])
            return self._index(item_id, kind, path, params, job_id)
        except (OSError, sqlite3.Error, UnicodeError) as exc:  # locked by another process past the timeout …
            raise LibrarySaveError(
                f"The library saved '{path}' but could not add it to its index ({_reason(exc)}); "
                "History will not list it.",
                SavedItem(item_id, kind, path, params, time.time(), job_id),
            ) from exc

    def _stored(self, path: Path) -> str:
        """How the index stores ``path``: relative to the root when under it (always for saves)."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def _index(self, item_id: str, kind: str, path: Path, params: dict, job_id: str) -> SavedItem:
        created = time.time()
        with self._lock, self._connect() as db:
            db.execute(
                "INSERT INTO items (id, kind, path, created, job_id, params, prompt, other, model, seed)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (item_id, kind, self._stored(path), created, job_id, to_json(params), *search_fields(params)),
            )
        return SavedItem(item_id, kind, path, params, created, job_id)

    # --- reading ---
    def items(self, kind: str | None = None, limit: int = 500) -> list[SavedItem]:
        """Newest first."""
        query = "SELECT id, kind, path, params, created, job_id FROM items"
        args: tuple = ()
        if kind:
            query += " WHERE kind = ?"
            args = (kind,)
        query += " ORDER BY created DESC LIMIT ?"
        with self._connect() as db:
            rows = db.execute(query, args + (limit,)).fetchall()
        return _saved_items(rows, self.root)

    def search(self, query: Query | str = "", **filters) -> list[SavedItem]:
        """Items whose prompt, narration, message, reply, model or seed match ``query`` (every word;
        ``"phrases"``, ``prefix*``), filtered by kind, model, seed and date, newest first.

        ``library.search("red fox", kind="image")`` or ``library.search(Query(...))``. Any text is safe
        to pass: nothing typed is read as FTS5 syntax (:func:`studio.library.search.fts_query`).
        """
        if not isinstance(query, Query):
            query = Query(text=query, **filters)
        sql, args = build_sql(query)
        db = self._connect()
        try:
            rows = db.execute(sql, args).fetchall()
        finally:
            db.close()
        return _saved_items(rows, self.root)

    def item(self, item_id: str) -> SavedItem | None:
        db = self._connect()
        try:
            rows = db.execute("SELECT id, kind, path, params, created, job_id FROM items WHERE id = ?",
                              (item_id,)).fetchall()
        finally:
            db.close()
        found = _saved_items(rows, self.root)
        return found[0] if found else None

    def delete(self, item_id: str) -> None:
        with self._lock, self._connect() as db:
            row = db.execute("SELECT path FROM items WHERE id = ?", (item_id,)).fetchone()
            db.execute("DELETE FROM items WHERE id = ?", (item_id,))
        if row:
            (self.root / row[0]).unlink(missing_ok=True)

    # --- conversations ---
    def conversations_dir(self) -> Path:
        return self.root / "conversations"

    def save_conversation(self, conversation: dict) -> Path:
        """Write a conversation (``{"id", "title", "messages", "settings", "updated"}``) atomically.

        Its branches are kept: ``messages`` (the branch shown) is merged into the ``tree`` already
        saved for that id (:class:`~studio.library.chat_tree.ChatTree`), so an edited message or a
        regenerated reply adds a branch and never replaces the old one."""
        conv_id = str(conversation.get("id") or uuid.uuid4().hex)
        safe = "".join(c for c in conv_id if c.isalnum() or c in "-_")[:64] or uuid.uuid4().hex
        path = self.conversations_dir() / f"{safe}.json"
        with self._conversation_lock:  # the worker saves turns, the Text tab saves branch switches
            data = {**conversation, "id": conv_id, "updated": time.time()}
            messages = data.get("messages")
            if isinstance(messages, list):
                old = self._read_conversation(path)
                tree = ChatTree.from_dict(data.get("tree") or old.get("tree"), old.get("messages") or [])
                tree.follow([m for m in messages if isinstance(m, dict)])
                data["tree"] = tree.to_dict()
            return atomic_write_text(path, to_json(data, indent=2))

    @staticmethod
    def _read_conversation(path: Path) -> dict:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def load_conversation(self, conv_id: str) -> dict:
        safe = "".join(c for c in conv_id if c.isalnum() or c in "-_")[:64]
        return json.loads((self.conversations_dir() / f"{safe}.json").read_text(encoding="utf-8"))

    def conversations(self) -> list[dict]:
        """Saved conversations (id, title, updated, messages), newest first; unreadable files skipped."""
        out = []
        folder = self.conversations_dir()
        if folder.exists():
            for f in folder.glob("*.json"):
                try:
                    data = json.loads(f.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if isinstance(data, dict) and isinstance(data.get("messages"), list):
                    out.append(data)
        return sorted(out, key=lambda d: d.get("updated", 0), reverse=True)

    def delete_conversation(self, conv_id: str) -> None:
        safe = "".join(c for c in conv_id if c.isalnum() or c in "-_")[:64]
        (self.conversations_dir() / f"{safe}.json").unlink(missing_ok=True)


def _saved_items(rows, root: Path) -> list[SavedItem]:
    """Index rows as items; a path stored relative to the library's root is made absolute (rows written
    before paths were stored relative stay absolute: ``root / absolute`` is the absolute path)."""
    out = []
    for item_id, k, path, params, created, job_id in rows:
        try:
            p = json.loads(params)
        except ValueError:
            p = {}
        out.append(SavedItem(item_id, k, root / path, p if isinstance(p, dict) else {}, created, job_id))
    return out
