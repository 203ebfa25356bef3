"""Errors a person can act on.

Every error that reaches the UI or the CLI as a user-facing message is a :class:`StudioError`
(or a subclass). Their ``str()`` is one sentence that says what went wrong and what to do, and their
``kind`` says which next step fits (the UI offers "Download…" for ``not_downloaded``, "Load anyway…"
for ``unsafe_file`` …). Anything else that escapes an engine is a bug and is reported with its type
name (kind ``internal``), except a raw out-of-memory error from torch, which :func:`user_error` turns
into :class:`OutOfMemory` with advice for the modality that failed.

This is the only module that looks at exception text.
"""

from __future__ import annotations

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


class OutOfMemory(StudioError):
    """The device ran out of memory; the message says which setting to change."""

    kind = "out_of_memory"


class ServerError(StudioError):
    """A server Studio drives (OpenAI-compatible, ComfyUI) refused or failed a request; the message says
    what to do next. ``status`` is the HTTP status (0: no answer: refused connection, timeout, cut off)."""

    kind = "server"

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Cancelled(Exception):
    """Raised by an engine when its cancel token was set; not an error."""


#: what to change after an out-of-memory error, per modality: settings that exist in that tab's
#: panel or in Settings → Preferences (and the Models menu), nothing else
OOM_ADVICE = {
    "image": (
        "Lower the size or the batch size, or open the Image tab's Advanced section and set Offload to "
        "'Model CPU offload' or 'Sequential offload' (slower, needs less memory); Attention slicing and "
        "VAE tiling 'On' help too."
    ),
    "inpaint": (
        "Lower the size, or open the Advanced section and set Offload to 'Model CPU offload' or "
        "'Sequential offload' (slower, needs less memory)."
    ),
    "text": (
        "Lower 'Max new tokens' or pick a smaller model; Models → Unload all models frees what other "
        "models hold, and Settings → Preferences → Device 'CPU' runs it in main memory."
    ),
}
_OOM_DEFAULT = (
    "Models → Unload all models frees what other models hold, and Settings → Preferences → Device 'CPU' "
    "runs it in main memory."
)


def oom_advice(modality: str) -> str:
    """What to change after an out-of-memory error in ``modality`` (settings that exist)."""
    return OOM_ADVICE.get(modality, _OOM_DEFAULT)


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's out-of-memory errors (CUDA, MPS, CPU allocator) and our own OutOfMemory."""
    if isinstance(exc, OutOfMemory):
        return True
    if isinstance(exc, StudioError):
        return False
    name = type(exc).__name__
    return name == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def is_unsupported_pipeline(exc: BaseException) -> bool:
    """diffusers' AutoPipeline refusing a pipeline class it cannot map (a ValueError with that text)."""
    text = str(exc)
    return isinstance(exc, ValueError) and ("AutoPipeline can't find a pipeline" in text or "not supported" in text)


def user_error(exc: BaseException, modality: str = "") -> BaseException:
    """``exc`` as a person should see it: a StudioError (or Cancelled) unchanged, a raw out-of-memory
    error as :class:`OutOfMemory` with advice for ``modality``, anything else unchanged (a bug)."""
    if isinstance(exc, (StudioError, Cancelled)):
        return exc
    if is_out_of_memory(exc):
        error = OutOfMemory(f"Out of memory on the device. {oom_advice(modality)}")
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
