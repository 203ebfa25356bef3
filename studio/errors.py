"""Errors a person can act on.

Every error that reaches the UI or the CLI as a user-facing message is a :class:`StudioError`
(or a subclass). Their ``str()`` is one sentence that says what went wrong and what to do.
Anything else that escapes an engine is a bug and is reported with its type name.
"""

from __future__ import annotations


class StudioError(Exception):
    """An error with a message meant for a person, not a traceback."""


class InvalidRequest(StudioError, ValueError):
    """A request field is out of range or malformed; the message names the field and the fix."""


class ModelNotFound(StudioError):
    """The model id, hub id or path does not point to any model we can use."""


class NotDownloaded(StudioError):
    """The model exists on the hub but is not on this machine, and we are offline."""


class WrongModelKind(StudioError):
    """The model exists but is for another modality (e.g. an image model given to the text tab)."""


class UnsafeModelFile(StudioError):
    """A pickled checkpoint (.ckpt/.bin/.pt) was offered without explicit permission to load it."""


class OutOfMemory(StudioError):
    """The device ran out of memory; the message says which setting to change."""


class Cancelled(Exception):
    """Raised by an engine when its cancel token was set; not an error."""


def describe(exc: BaseException) -> str:
    """One line for a person: the message of a StudioError, or ``Type: message`` for anything else."""
    if isinstance(exc, StudioError):
        return str(exc)
    if _is_oom(exc):
        return (
            "Out of memory on the device. Lower the size or batch, enable CPU offload in Settings, "
            "or pick the CPU as device."
        )
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _is_oom(exc: BaseException) -> bool:
    name = type(exc).__name__
    return name == "OutOfMemoryError" or "out of memory" in str(exc).lower()
