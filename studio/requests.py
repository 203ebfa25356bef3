"""One request dataclass per modality: the only thing the UI (or the CLI) hands to a job.

Each request is immutable and validated by :meth:`validate`, which raises
:class:`~studio.errors.InvalidRequest` with a message that names the field and says what to fix.
Ranges and defaults are documented on each field (diffusers-style long names are kept where a
user of diffusers/transformers would look for them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import InvalidRequest

MAX_PROMPT_CHARS = 100_000
MAX_SEED = 2**32 - 1


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise InvalidRequest(message)


def _check_range(name: str, value: float, lo: float, hi: float) -> None:
    _check(
        isinstance(value, (int, float)) and lo <= value <= hi,
        f"{name} must be between {lo:g} and {hi:g} (got {value!r}).",
    )


def _check_seed(seed: int | None) -> None:
    if seed is not None:
        _check(
            isinstance(seed, int) and 0 <= seed <= MAX_SEED,
            f"seed must be a whole number from 0 to {MAX_SEED}, or empty for a random seed (got {seed!r}).",
        )


def _check_text(name: str, text: str, *, required: bool) -> None:
    _check(isinstance(text, str), f"{name} must be text.")
    if required:
        _check(bool(text.strip()), f"{name} is empty: type something first.")
    _check(
        len(text) <= MAX_PROMPT_CHARS,
        f"{name} is too long ({len(text):,} characters; the limit is {MAX_PROMPT_CHARS:,}).",
    )


@dataclass(frozen=True)
class _Request:
    kind: ClassVar[str] = ""

    def validate(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """All parameters as plain JSON-able values (for the library and metadata)."""
        data = dataclasses.asdict(self)
        data["kind"] = self.kind
        return data

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class ChatMessage:
    role: str  # 'system' | 'user' | 'assistant'
    content: str


@dataclass(frozen=True)
class TextRequest(_Request):
    """Chat completion with a causal language model.

    ``messages`` is the conversation so far, ending with the user's new message.
    """

    kind: ClassVar[str] = "text"

    messages: tuple[ChatMessage, ...]
    system_prompt: str = ""
    model: str = ""  # catalog id, hub id, local folder or .gguf file; "" = the bundled default
    max_new_tokens: int = 512  # 1 … 32768
    temperature: float = 0.7  # 0 … 5; 0 means greedy decoding
    top_p: float = 0.95  # (0, 1]
    top_k: int = 50  # 0 … 1000; 0 disables top-k
    repetition_penalty: float = 1.1  # 0.5 … 3; 1 disables it
    seed: int | None = None  # None: a random seed is drawn and recorded
    conversation_id: str = ""
    threads: int = 0  # llama.cpp (GGUF) CPU threads, 0 … 256; 0 = automatic
    gpu_layers: int = -1  # llama.cpp layers offloaded to the GPU, -1 … 1000; -1 = all (when the build can), 0 = none

    def validate(self) -> None:
        _check(len(self.messages) > 0, "messages is empty: type a message first.")
        for m in self.messages:
            _check(
                m.role in ("system", "user", "assistant"),
                f"message role must be system, user or assistant (got {m.role!r}).",
            )
            _check_text("message", m.content, required=False)
        _check(self.messages[-1].role == "user", "The last message must be the user's.")
        _check_text("message", self.messages[-1].content, required=True)
        _check_text("system prompt", self.system_prompt, required=False)
        _check(
            isinstance(self.max_new_tokens, int) and 1 <= self.max_new_tokens <= 32768,
            f"max new tokens must be a whole number from 1 to 32768 (got {self.max_new_tokens!r}).",
        )
        _check_range("temperature", self.temperature, 0.0, 5.0)
        _check(
            isinstance(self.top_p, (int, float)) and 0.0 < self.top_p <= 1.0,
            f"top-p must be above 0 and at most 1 (got {self.top_p!r}).",
        )
        _check(
            isinstance(self.top_k, int) and 0 <= self.top_k <= 1000,
            f"top-k must be a whole number from 0 (off) to 1000 (got {self.top_k!r}).",
        )
        _check_range("repetition penalty", self.repetition_penalty, 0.5, 3.0)
        _check_seed(self.seed)
        _check(
            isinstance(self.threads, int) and 0 <= self.threads <= 256,
            f"threads must be a whole number from 0 (automatic) to 256 (got {self.threads!r}).",
        )
        _check(
            isinstance(self.gpu_layers, int) and -1 <= self.gpu_layers <= 1000,
            f"GPU layers must be a whole number from -1 (all) to 1000 (got {self.gpu_layers!r}).",
        )

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["messages"] = [dataclasses.asdict(m) for m in self.messages]
        return data


#: The samplers offered for images (names as AUTOMATIC1111 writes them in ``parameters``).
SCHEDULERS = (
    "Euler",
    "Euler a",
    "DPM++ 2M",
    "DPM++ 2M Karras",
    "DPM++ SDE Karras",
    "DDIM",
    "UniPC",
    "Heun",
    "LMS",
    "PNDM",
    "LCM",
)


@dataclass(frozen=True)
class LoraSpec:
    path: str
    weight: float = 1.0


@dataclass(frozen=True)
class ImageRequest(_Request):
    """Text-to-image, or image-to-image when ``init_image`` is set."""

    kind: ClassVar[str] = "image"

    prompt: str
    negative_prompt: str = ""
    model: str = ""
    width: int = 512  # multiple of 8, 64 … 4096 (the model family may allow less)
    height: int = 512
    num_inference_steps: int = 25  # 1 … 500
    guidance_scale: float = 7.0  # 0 … 30 (CFG); ≤ 1 turns classifier-free guidance off
    scheduler: str = ""  # one of SCHEDULERS; "" = the model's own configured scheduler
    seed: int | None = None  # None: random; image i of a batch uses seed + i
    batch_count: int = 1  # how many batches run one after the other, 1 … 100
    batch_size: int = 1  # images per batch (one forward pass), 1 … 16
    init_image: str = ""  # path of the image for image-to-image
    strength: float = 0.75  # image-to-image: 0 keeps the input, 1 replaces it; (0, 1]
    loras: tuple[LoraSpec, ...] = ()
    vae: str = ""  # a VAE override: folder, hub id or single .safetensors file
    allow_pickle: bool = False  # load a .ckpt only when the person explicitly confirmed it
    offload: str = "auto"  # 'auto' | 'none' | 'model' | 'sequential'
    attention_slicing: str = "auto"  # 'auto' | 'on' | 'off'
    vae_tiling: str = "auto"  # 'auto' | 'on' | 'off'

    def validate(self) -> None:
        _check_text("prompt", self.prompt, required=not self.init_image)
        _check_text("negative prompt", self.negative_prompt, required=False)
        for name, value in (("width", self.width), ("height", self.height)):
            _check(isinstance(value, int), f"{name} must be a whole number of pixels (got {value!r}).")
            _check(
                64 <= value <= 4096,
                f"{name} must be between 64 and 4096 pixels (got {value}).",
            )
            _check(
                value % 8 == 0,
                f"{name} must be a multiple of 8 (got {value}; try {max(64, value // 8 * 8)}).",
            )
        _check(
            isinstance(self.num_inference_steps, int) and 1 <= self.num_inference_steps <= 500,
            f"steps must be a whole number from 1 to 500 (got {self.num_inference_steps!r}).",
        )
        _check_range("guidance (CFG)", self.guidance_scale, 0.0, 30.0)
        _check(
            self.scheduler == "" or self.scheduler in SCHEDULERS,
            f"unknown sampler {self.scheduler!r}; choose one of: {', '.join(SCHEDULERS)}.",
        )
        _check_seed(self.seed)
        _check(
            isinstance(self.batch_count, int) and 1 <= self.batch_count <= 100,
            f"batch count must be from 1 to 100 (got {self.batch_count!r}).",
        )
        _check(
            isinstance(self.batch_size, int) and 1 <= self.batch_size <= 16,
            f"batch size must be from 1 to 16 (got {self.batch_size!r}).",
        )
        if self.init_image:
            _check(
                isinstance(self.strength, (int, float)) and 0.0 < self.strength <= 1.0,
                f"strength must be above 0 and at most 1 (got {self.strength!r}).",
            )
        for lora in self.loras:
            _check_range("LoRA weight", lora.weight, -5.0, 5.0)
        for name, value, allowed in (
            ("offload", self.offload, ("auto", "none", "model", "sequential")),
            ("attention slicing", self.attention_slicing, ("auto", "on", "off")),
            ("VAE tiling", self.vae_tiling, ("auto", "on", "off")),
        ):
            _check(value in allowed, f"{name} must be one of {', '.join(allowed)} (got {value!r}).")

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["loras"] = [dataclasses.asdict(lo) for lo in self.loras]
        return data


@dataclass(frozen=True)
class InpaintRequest(ImageRequest):
    """Inpaint (mask painted on ``image``) or outpaint (canvas grown by ``expand_*`` pixels)."""

    kind: ClassVar[str] = "inpaint"

    image: str = ""  # the picture to edit
    mask: str = ""  # white = repaint, black = keep; same size as image (ignored for pure outpaint)
    mask_blur: int = 8  # feather radius in pixels, 0 … 64
    padding: int = 32  # context kept around the mask's bounding box, 0 … 512
    expand_left: int = 0
    expand_right: int = 0
    expand_top: int = 0
    expand_bottom: int = 0
    strength: float = 1.0

    def validate(self) -> None:
        _check(bool(self.image), "image is missing: open or paint an image on the Canvas first.")
        expands = (self.expand_left, self.expand_right, self.expand_top, self.expand_bottom)
        _check(
            bool(self.mask) or any(expands),
            "mask is empty: paint the area to change, or extend the canvas to outpaint.",
        )
        _check(0 <= self.mask_blur <= 64, f"mask blur must be from 0 to 64 (got {self.mask_blur}).")
        _check(0 <= self.padding <= 512, f"padding must be from 0 to 512 (got {self.padding}).")
        for e in expands:
            _check(0 <= e <= 2048, f"outpaint extension must be from 0 to 2048 pixels (got {e}).")
        # the prompt may be empty when inpainting (remove an object); everything else as for images
        ImageRequest.validate(dataclasses.replace(self, prompt=self.prompt or "-", init_image=""))


@dataclass(frozen=True)
class SpeechRequest(_Request):
    """Text to speech."""

    kind: ClassVar[str] = "speech"

    text: str
    model: str = ""  # "" = the bundled Piper voice
    speaker: str = ""  # multi-speaker models
    language: str = ""  # multilingual models (e.g. 'en')
    speaker_wav: str = ""  # voice-cloning reference clip (XTTS)
    speed: float = 1.0  # 0.5 … 2.0
    seed: int | None = None

    def validate(self) -> None:
        _check_text("text", self.text, required=True)
        _check_range("speed", self.speed, 0.5, 2.0)
        _check_seed(self.seed)


@dataclass(frozen=True)
class MusicRequest(_Request):
    """Text to music."""

    kind: ClassVar[str] = "music"

    prompt: str
    model: str = ""
    duration_s: float = 10.0  # 1 … 300
    guidance_scale: float = 3.0  # 0 … 20
    temperature: float = 1.0  # 0.05 … 5
    top_k: int = 250  # 0 … 2048
    seed: int | None = None
    melody: str = ""  # optional melody-conditioning clip

    def validate(self) -> None:
        _check_text("prompt", self.prompt, required=True)
        _check_range("duration", self.duration_s, 1.0, 300.0)
        _check_range("guidance", self.guidance_scale, 0.0, 20.0)
        _check_range("temperature", self.temperature, 0.05, 5.0)
        _check(0 <= self.top_k <= 2048, f"top-k must be from 0 to 2048 (got {self.top_k}).")
        _check_seed(self.seed)


Request = TextRequest | ImageRequest | InpaintRequest | SpeechRequest | MusicRequest


def summary(request: _Request, limit: int = 60) -> str:
    """A short label for queue and history panels."""
    text = ""
    if isinstance(request, TextRequest):
        text = request.messages[-1].content
    elif isinstance(request, SpeechRequest):
        text = request.text
    else:
        text = getattr(request, "prompt", "")
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{request.kind}: {text}" if text else request.kind


__all__ = [
    "ChatMessage",
    "ImageRequest",
    "InpaintRequest",
    "LoraSpec",
    "MusicRequest",
    "Request",
    "SCHEDULERS",
    "SpeechRequest",
    "TextRequest",
    "summary",
]
