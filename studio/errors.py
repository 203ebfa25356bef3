"""Errors a person can act on.

Every error that reaches the UI or the CLI as a user-facing message is a :class:`StudioError`
(or a subclass). Their ``str()`` is one sentence that says what went wrong and what to do, and their
``kind`` says which next step fits (the UI offers "Download…" for ``not_downloaded``, "Load anyway…"
for ``unsafe_file`` …). Anything else that escapes an engine is a bug and is reported with its type
name (kind ``internal``), except a raw out-of-memory error from torch, which :func:`user_error` turns
into :class:`OutOfMemory` with advice for the modality that failed.

Advice is in request terms (:class:`FieldChange`: which request field to change, and how); the
front ends word it: the GUI with the fields' labels (:class:`studio.jobs.JobError`), the CLI with
their flags (:mod:`studio.cli`), both from the field declarations (:func:`studio.requests.advice_text`).

This is the only module that looks at exception text.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path

#: kind of an exception that is not a StudioError (a bug, reported with its type name)
INTERNAL = "internal"


class StudioError(Exception):
    """An error with a message meant for a person, not a traceback."""

    kind = "runtime"


class InvalidRequest(StudioError, ValueError):
    """A request field is out of range or malformed; the message names the field and the fix."""

    kind = "invalid"


class ModelNotFound(StudioError):
    """The model id, hub id or path does not point to any model we can use."""

    kind = "not_found"


class NotDownloaded(StudioError):
    """The model exists on the hub but is not on this machine; ``model_id`` is what to download
    (a catalog id or a hub repo id)."""

    kind = "not_downloaded"

    def __init__(self, message: str, model_id: str = "") -> None:
        super().__init__(message)
        self.model_id = model_id


class WrongModelKind(StudioError):
    """The model exists but is for another modality (e.g. an image model given to the text tab)."""

    kind = "wrong_kind"


class UnsafeModelFile(StudioError):
    """A pickled file (.ckpt/.pt/.pth/.bin) that Studio will not open.

    ``path`` is the file. ``allowable`` is True when the same request with ``allow_pickle=True``
    loads it (its weights are then read with ``torch.load(weights_only=True)``); False when no
    permission helps (a folder with pickled weights only, a pickle that carries code).
    """

    kind = "unsafe_file"

    def __init__(self, message: str, path: str | Path | None = None, *, allowable: bool = False) -> None:
        super().__init__(message)
        self.path = str(path) if path is not None else ""
        self.allowable = allowable


@dataclass(frozen=True)
class FieldChange:
    """A change to one request field that would help: ``to`` is 'lower', 'smaller' (a smaller
    choice, e.g. of model) or the value to set (e.g. offload 'model')."""

    field: str
    to: str = "lower"


class OutOfMemory(StudioError):
    """The device ran out of memory. The message says what happened; ``changes`` are the request
    fields to change (of a request of kind ``request_kind``), worded by each front end; ``device``
    where it ran out ('' when unknown)."""

    kind = "out_of_memory"

    def __init__(self, message: str, changes: tuple[FieldChange, ...] = (), request_kind: str = "",
                 device: str = "") -> None:
        super().__init__(message)
        self.changes = tuple(changes)
        self.request_kind = request_kind
        self.device = device


class ServerError(StudioError):
    """A server Studio drives (OpenAI-compatible, ComfyUI) refused or failed a request; the message says
    what to do next. ``status`` is the HTTP status (0: no answer: refused connection, timeout, cut off)."""

    kind = "server"

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class FileProblem(StudioError):
    """The operating system refused a file operation (a full or read-only disk, no permission, a
    missing folder …); the message names the path. Made from an ``OSError`` by :func:`user_error`,
    the one place that words OS errors for every modality, the GUI and the CLI alike."""

    def __init__(self, message: str, path: str = "", errno_: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno_


class Cancelled(Exception):
    """Raised by an engine when its cancel token was set; not an error."""


#: the request fields to change after an out-of-memory error, per kind of request
OOM_CHANGES: dict[str, tuple[FieldChange, ...]] = {
    "image": (FieldChange("width"), FieldChange("height"), FieldChange("batch_size"), FieldChange("offload", "model"),
              FieldChange("attention_slicing", "on"), FieldChange("vae_tiling", "on")),
    "inpaint": (FieldChange("width"), FieldChange("height"), FieldChange("offload", "model")),
    "text": (FieldChange("max_new_tokens"), FieldChange("model", "smaller")),
}


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's out-of-memory errors (CUDA, MPS, CPU allocator) and our own OutOfMemory."""
    if isinstance(exc, OutOfMemory):
        return True
    if isinstance(exc, StudioError):
        return False
    name = type(exc).__name__
    return name == "OutOfMemoryError" or "out of memory" in str(exc).lower()


#: errno → what it means for a person, with ``{path}`` where the OS named the file
_OS_ERRORS = {
    errno.ENOSPC: "The disk is full: '{path}' could not be written. Free some space or choose a folder on another disk.",
    errno.EDQUOT: "The disk quota is used up: '{path}' could not be written. Free some space or choose another folder.",
    errno.EROFS: "'{path}' is on a read-only disk or mount: choose a folder you can write to.",
    errno.EACCES: "No permission to use '{path}': change its permissions or choose another place.",
    errno.EPERM: "The system does not allow this on '{path}': choose another file or folder.",
    errno.ENOENT: "'{path}' does not exist, or a folder on its way is missing or cannot hold files.",
    errno.ENOTDIR: "A part of '{path}' is a file, not a folder.",
    errno.EISDIR: "'{path}' is a folder, not a file.",
    errno.ENAMETOOLONG: "The name '{path}' is too long for the file system.",
    errno.ELOOP: "'{path}' is a loop of symbolic links.",
    errno.EIO: "The disk reported an input/output error on '{path}'; check the disk.",
    errno.EFBIG: "'{path}' would be larger than the file system allows; choose another disk.",
    errno.EMFILE: "Too many files are open; close some programs and try again.",
}


def os_error_message(exc: OSError) -> str:
    """One sentence for an ``OSError``: what happened to which path and what to do; no class name."""
    path = exc.filename if exc.filename is not None else ""
    shown = path.decode("utf-8", "replace") if isinstance(path, bytes) else str(path)
    if len(shown) > 200:
        shown = shown[:100] + "…" + shown[-60:]
    template = _OS_ERRORS.get(exc.errno) if exc.errno is not None else None
    if template and shown:
        return template.format(path=shown)
    reason = exc.strerror or (str(exc).strip().splitlines()[0] if str(exc).strip() else "a system error")
    return f"{reason} ('{shown}')." if shown else f"{reason}."


def is_unsupported_pipeline(exc: BaseException) -> bool:
    """diffusers' AutoPipeline refusing a pipeline class it cannot map (a ValueError with that text)."""
    text = str(exc)
    return isinstance(exc, ValueError) and ("AutoPipeline can't find a pipeline" in text or "not supported" in text)


def user_error(exc: BaseException, modality: str = "") -> BaseException:
    """``exc`` as a person should see it: a StudioError (or Cancelled) unchanged, a raw out-of-memory
    error as :class:`OutOfMemory` with advice for ``modality``, an ``OSError`` as :class:`FileProblem`
    naming the path, anything else unchanged (a bug)."""
    if isinstance(exc, (StudioError, Cancelled)):
        return exc
    if is_out_of_memory(exc):
        error: StudioError = OutOfMemory("Out of memory on the device.", OOM_CHANGES.get(modality, ()), modality)
        error.__cause__ = exc
        return error
    if isinstance(exc, OSError):
        path = exc.filename if exc.filename is not None else ""
        error = FileProblem(os_error_message(exc), str(path), exc.errno)
        error.__cause__ = exc
        return error
    return exc


def kind_of(exc: BaseException) -> str:
    """The error's ``kind`` ('invalid', 'not_found', 'not_downloaded', 'wrong_kind', 'unsafe_file',
    'out_of_memory', 'server', 'runtime'), or 'internal' for an exception that is not a StudioError."""
    return exc.kind if isinstance(exc, StudioError) else INTERNAL


def describe(exc: BaseException, modality: str = "") -> str:
    """One line for a person: the message of a StudioError, or ``Type: message`` for anything else."""
    exc = user_error(exc, modality)
    if isinstance(exc, StudioError):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
