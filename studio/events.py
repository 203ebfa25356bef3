"""Events an engine yields while it works, and what a finished job returns.

Plain dataclasses: engines create them (no Qt), the worker forwards them to the UI as signal
payloads (no torch). Images travel as PIL images, audio as numpy arrays + sample rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Progress:
    """``step`` of ``total`` done in ``stage`` ('load', 'generate', 'decode', 'download')."""

    step: int
    total: int
    stage: str = "generate"
    eta_s: float | None = None


@dataclass(frozen=True)
class Status:
    """A line of what is happening now ("Loading model…", "Converting GGUF, first time only…")."""

    message: str


@dataclass(frozen=True)
class Notice:
    """Something the person should know that is not an error (e.g. "fell back to CPU because …")."""

    message: str


@dataclass(frozen=True)
class Token:
    """Newly decoded text of a streaming text generation, with live statistics."""

    text: str
    count: int  # tokens generated so far
    tokens_per_s: float
    context_used: int  # prompt + generated tokens
    context_max: int


@dataclass(frozen=True)
class Preview:
    """An intermediate result: a cheap image approximation, partial text or an audio chunk."""

    image: Any = None  # PIL.Image.Image
    audio: Any = None  # numpy float32 array
    sample_rate: int = 0
    step: int = 0
    index: int = 0  # which item of a batch


@dataclass(frozen=True)
class Output:
    """A finished item (one image of a batch, a reply, a clip). The worker saves it at once.

    ``media`` is the output type, which decides how the library writes it ("image/png",
    "audio/flac", … or a bare "image" / "audio" / "text" for the default format; see
    ``studio.library.outputs``). The item's kind is the request's, in ``params["kind"]``.
    """

    media: str  # 'text' | 'image' | 'audio' | 'audio/flac' | …
    data: Any  # str | PIL.Image.Image | (numpy array, sample_rate)
    params: dict
    index: int = 0


@dataclass(frozen=True)
class SavedItem:
    """An output as stored in the library."""

    id: str
    kind: str  # the request's kind: 'text', 'image', 'inpaint', 'speech', 'music'
    path: Path
    params: dict
    created: float
    job_id: str = ""


@dataclass
class JobResult:
    """What a finished (or cancelled) job leaves behind."""

    items: list[SavedItem] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


Event = Progress | Status | Notice | Token | Preview | Output
