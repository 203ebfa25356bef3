"""Events an engine yields while it works, and what a finished job returns.

Plain dataclasses: engines create them (no Qt), the worker forwards them to the UI as signal
payloads (no torch). Images travel as PIL images, audio as numpy arrays + sample rate.

An engine's generator *returns* its statistics: a :class:`Stats` of its modality (:class:`TextStats`,
:class:`ImageStats`, :class:`SpeechStats`, :class:`MusicStats`). Their words mean one thing everywhere
(docs/design.md, "Glossary"): every duration is in seconds and named ``…seconds``; ``audio_seconds``
is the length of the audio made; ``real_time_factor`` is compute seconds ÷ audio seconds (below 1 is
faster than real time).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


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


@dataclass(frozen=True)
class VoiceList:
    """What a loaded voice offers: its speakers and languages (empty when it has one), and whether it
    can clone a voice from a clip. A speech engine yields it once the voice is loaded."""

    model: str  # the model's id
    speakers: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    can_clone: bool = False


# --- statistics: what an engine returns ------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """What every finished job reports.

    ``seconds``: compute time of the generation (loading excluded); ``load_seconds``: time spent
    loading the model (about 0 when it was resident); ``device``: where it ran, in words
    ('cpu · float32', 'cuda:0 · float16', 'llama.cpp · CPU, 2 threads · Q4_1'); ``seed``: the seed
    used (None for a model that cannot be seeded); ``model``: the model's id.
    """

    seconds: float = 0.0
    load_seconds: float = 0.0
    device: str = ""
    seed: int | None = None
    model: str = ""

    #: read-only values derived from the fields, written by :meth:`to_dict` too
    derived: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (for the library, ``--json`` and text replies' ``.json``)."""
        data = dataclasses.asdict(self)
        data.update({name: getattr(self, name) for name in self.derived})
        return data


@dataclass(frozen=True)
class TextStats(Stats):
    tokens: int = 0  # tokens generated
    first_token_seconds: float = 0.0  # from the start of generation to the first token
    prompt_tokens: int = 0
    context_max: int = 0  # tokens the model holds
    stopped: bool = False  # the person pressed Stop: the reply is partial
    context_full: bool = False  # the reply stopped because the context was full (it says so)

    derived: ClassVar[tuple[str, ...]] = ("tokens_per_s", "context_used")

    @property
    def tokens_per_s(self) -> float:
        """Tokens generated ÷ compute seconds (0 before any time passed)."""
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def context_used(self) -> int:
        """Prompt + generated tokens."""
        return self.prompt_tokens + self.tokens


@dataclass(frozen=True)
class ImageStats(Stats):
    images: int = 0  # images made
    width: int = 0  # of each image made
    height: int = 0
    steps: int = 0  # denoising steps run (all batches)
    steps_per_s: float = 0.0
    first_preview_seconds: float | None = None
    crop_box: tuple[int, int, int, int] | None = None  # inpaint: the part of the picture that was denoised
    generation_size: tuple[int, int] | None = None  # inpaint: the size the crop was denoised at


@dataclass(frozen=True)
class AudioStats(Stats):
    audio_seconds: float = 0.0  # length of the audio made
    sample_rate: int = 0

    derived: ClassVar[tuple[str, ...]] = ("real_time_factor",)

    @property
    def real_time_factor(self) -> float | None:
        """Compute seconds ÷ audio seconds: below 1 is faster than real time (None without audio)."""
        return self.seconds / self.audio_seconds if self.audio_seconds > 0 else None


@dataclass(frozen=True)
class SpeechStats(AudioStats):
    chunks: int = 0  # pieces of the text (sentences, or parts of a long one) said one by one
    first_audio_seconds: float = 0.0  # from the start of generation to the first sentence's audio


@dataclass(frozen=True)
class MusicStats(AudioStats):
    windows: int = 1  # generation windows per variation (pieces longer than the model's window)
    window_seconds: float = 0.0  # the model's window
    variations: int = 0  # clips made
    partial: bool = False  # cancelled: the last clip holds only its finished windows


@dataclass
class JobResult:
    """What a finished (or cancelled) job leaves behind (``stats`` is None when the job was cancelled
    before its engine returned)."""

    items: list[SavedItem] = field(default_factory=list)
    stats: Stats | None = None


Event = Progress | Status | Notice | Token | Preview | Output | VoiceList
