"""The queue written down: queued, running, failed and interrupted jobs survive a restart or a crash.

No Qt. :class:`QueueFile` keeps one JSON file (``queue.json`` in Studio's data folder), rewritten
atomically (temp file + rename) every time a job changes, so a crash or SIGKILL at any moment leaves
either the old or the new file, never half of one::

    {"version": 1, "paused": false, "clean_exit": false,
     "jobs": [{"id": "job-3", "state": "running", "label": "image: a fox", "created": 1.7e9,
               "error": "", "request": {"kind": "image", "fields": {...}}}, ...]}

On the next start (:meth:`QueueFile.load`):

* a job written as ``running`` means Studio died while it ran (a clean exit writes it back as
  ``queued``): it is marked ``interrupted`` and the queue starts **paused**, so a job that crashes
  the app cannot crash it again in a loop; the person retries it, or resumes the others;
* queued jobs come back queued, failed and interrupted ones come back to be retried;
* a file that cannot be read is set aside as ``queue.json.broken-<time>`` with a message.

Requests are written with :func:`encode_request` (every dataclass field, nested ones included) and
read back with :func:`decode_request`, then validated like any new request.
"""

from __future__ import annotations

import dataclasses
import json
import time
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..library.atomic import atomic_write_text
from ..requests import ImageRequest, InpaintRequest, MusicRequest, SpeechRequest, TextRequest

VERSION = 1
REQUEST_TYPES = {cls.kind: cls for cls in (TextRequest, ImageRequest, InpaintRequest, SpeechRequest, MusicRequest)}
#: states written down (finished and cancelled jobs are done with: their results are in the library)
KEPT_STATES = ("queued", "running", "failed", "interrupted")
INTERRUPTED = "interrupted"
MAX_FILE_BYTES = 64 * 1024 * 1024


class BadQueueRecord(ValueError):
    """A saved job whose request cannot be rebuilt."""


def encode_request(request) -> dict:
    """``{"kind", "fields"}``: every field of the request dataclass as plain JSON values."""
    return {"kind": request.kind, "fields": dataclasses.asdict(request)}


def decode_request(record: dict):
    """The request :func:`encode_request` wrote (unknown fields ignored, missing ones default);
    BadQueueRecord when it cannot be rebuilt. It is not validated here."""
    if not isinstance(record, dict) or record.get("kind") not in REQUEST_TYPES:
        raise BadQueueRecord(f"unknown job kind {record.get('kind') if isinstance(record, dict) else record!r}")
    fields = record.get("fields")
    if not isinstance(fields, dict):
        raise BadQueueRecord("the job has no settings")
    try:
        return _build(REQUEST_TYPES[record["kind"]], fields)
    except (TypeError, ValueError) as exc:
        raise BadQueueRecord(f"the job's settings cannot be read back ({exc})") from None


def _build(cls: type, data: dict):
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.name not in data:
            continue
        kwargs[f.name] = _value(hints.get(f.name), data[f.name])
    return cls(**kwargs)


def _value(hint, value):
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return _build(hint, value)
    if origin is tuple:
        args = typing.get_args(hint)
        inner = args[0] if args else None
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return tuple(_value(inner, v) for v in value)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        for arg in typing.get_args(hint):
            if dataclasses.is_dataclass(arg) and isinstance(value, dict):
                return _build(arg, value)
        return value
    return value


@dataclass
class SavedJob:
    id: str
    state: str
    label: str
    created: float
    error: str
    request: Any  # the rebuilt request


@dataclass
class Restored:
    """What :meth:`QueueFile.load` found."""

    jobs: list[SavedJob] = field(default_factory=list)
    paused: bool = False
    crashed: bool = False  # a job was running when Studio stopped without closing
    message: str = ""  # for a person: what happened (a crash, a damaged file), "" when nothing to say


class QueueFile:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = None  # the open lock file while this process owns the queue file

    def lock(self) -> bool:
        """Own the queue file (an advisory lock on ``queue.json.lock``, released when the process ends,
        crash included); False when another Studio running now owns it."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no second-instance guard
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path.with_name(self.path.name + ".lock"), "a+")  # noqa: SIM115 - held open
        except OSError:
            return True  # a read-only folder: the writes will say so
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock = handle
        return True

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def save(self, jobs: list[dict], paused: bool, clean_exit: bool = False) -> None:
        """Write the queue (``jobs``: records with id, state, label, created, error, request) atomically."""
        data = {"version": VERSION, "paused": bool(paused), "clean_exit": bool(clean_exit),
                "saved": time.time(), "jobs": jobs}
        atomic_write_text(self.path, json.dumps(data, ensure_ascii=True))

    def load(self) -> Restored:
        if not self.path.exists():
            return Restored()
        try:
            if self.path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError("the file is too large to be a queue")
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
                raise ValueError("it is not a Studio queue")
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            aside = self._set_aside()
            return Restored(paused=True, message=(
                f"The saved queue could not be read ({_reason(exc)}); it was set aside as {aside.name} "
                "and the queue starts empty."))
        restored = Restored(paused=bool(data.get("paused")))
        skipped = 0
        for rec in data["jobs"]:
            try:
                job = _saved_job(rec)
            except (BadQueueRecord, TypeError, ValueError, KeyError):
                skipped += 1
                continue
            if job.state == "running":
                job.state = INTERRUPTED
                job.error = "Studio stopped while this job ran. Retry it when you are ready."
                restored.crashed = True
            restored.jobs.append(job)
        notes = []
        if restored.crashed:
            restored.paused = True
            notes.append("Studio did not close properly while a job ran: that job is marked interrupted and "
                         "the queue is paused. Retry it or resume the queue.")
        if skipped:
            notes.append(f"{skipped} saved job(s) could not be read back and were dropped.")
        restored.message = " ".join(notes)
        return restored

    def _set_aside(self) -> Path:
        aside = self.path.with_name(f"{self.path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            self.path.replace(aside)
        except OSError:
            pass
        return aside


def _saved_job(rec: dict) -> SavedJob:
    if not isinstance(rec, dict) or rec.get("state") not in KEPT_STATES or not isinstance(rec.get("id"), str):
        raise BadQueueRecord("not a job")
    return SavedJob(
        id=rec["id"],
        state=rec["state"],
        label=str(rec.get("label", "")),
        created=float(rec.get("created") or time.time()),
        error=str(rec.get("error", "")),
        request=decode_request(rec.get("request")),
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"damaged at character {exc.pos}"
    return str(exc) or type(exc).__name__
