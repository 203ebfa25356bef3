"""One request dataclass per modality: the only thing the UI (or the CLI) hands to a job.

Each request is immutable and validated by :meth:`validate`, which raises
:class:`~studio.errors.InvalidRequest` with a message that names the field and says what to fix.
Every field is declared once (:mod:`studio.fieldspec`): default, range or choices, help and CLI
flag. :func:`field_spec` / :func:`field_specs` read a declaration back; ``validate()``, the CLI flags
(:func:`studio.cli.common.add_request_arguments`) and the UI spin boxes
(:func:`studio.ui.fields.spin_box_for`) are built from it. Diffusers-style long names are kept where
a user of diffusers/transformers would look for them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import InvalidRequest
from .fieldspec import (
    MAX_PATH_CHARS,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    FieldSpec,
    bool_field,
    check_fields,
    choice_field,
    field_spec,
    field_specs,
    float_field,
    int_field,
    nested_field,
    path_field,
    records_field,
    seed_field,
    text_field,
)


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise InvalidRequest(message)


MAX_STOPS = 4  # stop sequences per text request (OpenAI's own limit)


def check_endpoint(url: str, name: str) -> None:
    """A server URL: http(s)://host[:port][/path], nothing else (no file:, no credentials in it)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError:
        parts, port = None, None
    _check(
        parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname),
        f"{name} must be a server URL such as http://127.0.0.1:8080/v1 (got {url[:80]!r}).",
    )
    _check(not parts.username and not parts.password,
           f"{name} must not hold a user name or password: give the API key separately.")
    del port


def _model_field(help: str):
    return text_field(help=help, max_chars=MAX_PATH_CHARS, flag="--model", metavar="M")


@dataclass(frozen=True)
class _Request:
    kind: ClassVar[str] = ""

    def validate(self) -> None:
        """Check every declared field (type, range, choices, length), then the request's own rules."""
        check_fields(self)

    def to_dict(self) -> dict[str, Any]:
        """All parameters as plain JSON-able values (for the library and metadata)."""
        data = dataclasses.asdict(self)
        data["kind"] = self.kind
        return data

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)

    # --- permissions: what only the person can allow --------------------------------------------
    def needs_permission(self) -> bool:
        """Whether a file refused as unsafe (a pickled checkpoint) could load if the person allowed it:
        this kind of request carries that permission and does not hold it yet."""
        return False

    def with_pickle_allowed(self):
        """The same request, allowed to load pickled files (only after the person confirmed it)."""
        raise ValueError(f"a {self.kind} request loads no pickled files")


class _PicklePermission:
    """Requests with their own ``allow_pickle`` field."""

    allow_pickle: bool

    def needs_permission(self) -> bool:
        return not self.allow_pickle

    def with_pickle_allowed(self):
        return dataclasses.replace(self, allow_pickle=True)


@dataclass(frozen=True)
class ChatMessage:
    role: str = choice_field(None, ("system", "user", "assistant"), label="message role",
                             help="who wrote the message: system, user or assistant")
    content: str = text_field(None, label="message", help="the message text")


@dataclass(frozen=True)
class TextRequest(_Request):
    """Chat completion with a causal language model.

    ``messages`` is the conversation so far, ending with the user's new message.
    """

    kind: ClassVar[str] = "text"

    messages: tuple[ChatMessage, ...] = records_field(
        required=True, help="the conversation so far, ending with the user's new message")
    system_prompt: str = text_field(label="system prompt", flag="--system", metavar="S",
                                    help="instructions that hold for the whole conversation")
    model: str = _model_field("catalog id, hub id, local folder or .gguf file; empty = the bundled SmolLM2; "
                              "with an endpoint: the server's model name")
    endpoint: str = text_field(max_chars=MAX_PATH_CHARS, flag="--endpoint", metavar="URL",
                               help="an OpenAI-compatible server's URL (http://host:port/v1) that runs the model; "
                                    "empty = a model on this machine")
    max_new_tokens: int = int_field(512, 1, 32768, label="max new tokens", flag="--max-new-tokens", metavar="N",
                                    help="Longest reply, in tokens")
    temperature: float = float_field(0.7, 0.0, 5.0, flag="--temperature", metavar="T",
                                     help="Randomness; 0 = always the most likely token (greedy)")
    top_p: float = float_field(0.95, 0.0, 1.0, exclusive_minimum=True, step=0.01, label="top-p", flag="--top-p",
                               metavar="P", help="Nucleus sampling: keep the most likely tokens up to this mass")
    top_k: int = int_field(50, 0, 1000, label="top-k", flag="--top-k", metavar="K",
                           help="Keep only the k most likely tokens; 0 = off")
    repetition_penalty: float = float_field(1.1, 0.5, 3.0, flag="--repetition-penalty", metavar="R",
                                            help="Above 1 discourages repeating; 1 = off")
    seed: int | None = seed_field(help="Same seed + same settings = same reply")
    threads: int = int_field(0, 0, 256, flag="--threads", metavar="N",
                             help="CPU threads for GGUF models; 0 = automatic")
    gpu_layers: int = int_field(-1, -1, 1000, label="GPU layers", flag="--gpu-layers", metavar="N",
                                help="Layers of a GGUF model offloaded to the GPU (with a GPU build); -1 = all")
    conversation_id: str = text_field(max_chars=200, label="conversation id",
                                      help="the saved conversation this reply belongs to")
    stop: tuple[str, ...] = records_field(label="stop sequences",
                                          help="the reply ends where any of these texts appears (not included)")
    raw: bool = bool_field(False, label="raw continuation", flag="--raw",
                           help="continue the prompt's text as written (a completion): no chat template, "
                                "no system prompt")

    def validate(self) -> None:
        super().validate()
        _check(len(self.messages) > 0, "messages is empty: type a message first.")
        if self.raw:
            _check(len(self.messages) == 1 and not self.system_prompt.strip(),
                   "A raw continuation takes one text and no system prompt (a conversation needs the chat template).")
        for m in self.messages:
            _check(isinstance(m, ChatMessage), f"messages must hold chat messages (got {type(m).__name__}).")
            check_fields(m)
        _check(self.messages[-1].role == "user", "The last message must be the user's.")
        _check(bool(self.messages[-1].content.strip()), "message is empty: type something first.")
        _check(len(self.stop) <= MAX_STOPS, f"stop sequences: at most {MAX_STOPS} (got {len(self.stop)}).")
        for text in self.stop:
            _check(isinstance(text, str) and 0 < len(text) <= 200,
                   "stop sequences must be texts of 1 to 200 characters.")
        if self.endpoint:
            check_endpoint(self.endpoint, "endpoint")
            _check(bool(self.model.strip()), "model is empty: name the server's model (its list: GET /v1/models).")

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["messages"] = [dataclasses.asdict(m) for m in self.messages]
        data["stop"] = list(self.stop)
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
    path: str = path_field(None, label="LoRA file", help="a LoRA .safetensors file")
    weight: float = float_field(1.0, -5.0, 5.0, label="LoRA weight",
                                help="How strongly the LoRA applies; 1 = as trained, 0 = off, negative inverts it")


_SIZE = {"minimum": 64, "maximum": 4096, "multiple_of": 8, "unit": "pixels", "step": 8}

#: ControlNet preprocessors: what turns a picture into the control map a ControlNet reads
CONTROL_MODES = ("none", "canny", "scribble", "tile", "lineart", "shuffle", "depth")


@dataclass(frozen=True)
class ControlUnit:
    """One ControlNet: its model, the picture that guides it and how strongly / when it applies."""

    model: str = text_field(None, max_chars=MAX_PATH_CHARS, label="ControlNet", flag="--controlnet",
                            metavar="MODEL", help="a ControlNet: catalog id, hub id or diffusers folder")
    image: str = path_field(None, label="control image", flag="--control-image",
                            help="the picture that guides the ControlNet")
    mode: str = choice_field("none", CONTROL_MODES, label="preprocessor", flag="--control-mode", metavar="MODE",
                             help="how the control image becomes a control map: " + ", ".join(CONTROL_MODES)
                             + "; none = it already is one")
    scale: float = float_field(1.0, 0.0, 2.0, label="control weight", flag="--control-scale", metavar="F",
                               help="How strongly the ControlNet guides; 0 = not at all")
    start: float = float_field(0.0, 0.0, 1.0, label="control start", flag="--control-start", metavar="F",
                               help="Fraction of the steps at which the ControlNet starts guiding")
    end: float = float_field(1.0, 0.0, 1.0, label="control end", flag="--control-end", metavar="F",
                             help="Fraction of the steps after which the ControlNet stops guiding")
    low: int = int_field(100, 1, 255, label="canny low threshold", flag="--low", metavar="N",
                         help="Canny: edges weaker than this are dropped")
    high: int = int_field(200, 1, 255, label="canny high threshold", flag="--high", metavar="N",
                          help="Canny: edges stronger than this are kept; weaker ones only beside them")

    def validate(self, number: int = 1) -> None:
        try:
            check_fields(self)
        except InvalidRequest as exc:
            raise InvalidRequest(f"ControlNet unit {number}: {exc}") from None
        _check(bool(self.model.strip()), f"ControlNet unit {number}: the model is empty.")
        _check(bool(self.image.strip()), f"ControlNet unit {number} ({self.model}) has no control image.")
        _check(self.start < self.end,
               f"ControlNet unit {number} ({self.model}): start {self.start:g} must be below end {self.end:g}.")
        _check(self.low <= self.high,
               f"ControlNet unit {number} ({self.model}): the canny low threshold {self.low} is above high {self.high}.")


@dataclass(frozen=True)
class IPAdapterUnit:
    """One IP-Adapter reference beyond the first (the first is ``ImageRequest.ip_adapter`` / ``ip_image`` /
    ``ip_scale``): its adapter, its reference picture and its scale. Several units may name the same adapter
    (several pictures, each with its own scale); all of them share the first adapter's image encoder."""

    model: str = text_field(None, max_chars=MAX_PATH_CHARS, label="IP-Adapter", metavar="MODEL",
                            help="an IP-Adapter: catalog id or .safetensors file")
    image: str = path_field(None, label="IP-Adapter image", help="the reference picture for this IP-Adapter")
    scale: float = float_field(1.0, 0.0, 2.0, label="IP-Adapter scale", metavar="F",
                               help="How strongly this reference picture guides; 0 = not at all")

    def validate(self, number: int = 2) -> None:
        try:
            check_fields(self)
        except InvalidRequest as exc:
            raise InvalidRequest(f"IP-Adapter {number}: {exc}") from None
        _check(bool(self.model.strip()), f"IP-Adapter {number}: the adapter is empty.")
        _check(bool(self.image.strip()), f"IP-Adapter {number} ({self.model}) has no reference picture (--ip-image).")


@dataclass(frozen=True)
class ImageRequest(_PicklePermission, _Request):
    """Text-to-image, or image-to-image when ``init_image`` is set."""

    kind: ClassVar[str] = "image"

    prompt: str = text_field(None, flag="--prompt", metavar="P", help="what to draw")
    negative_prompt: str = text_field(label="negative prompt", flag="--negative-prompt", metavar="N",
                                      help="what to avoid")
    model: str = _model_field("catalog id, hub id, diffusers folder or .safetensors file; with a ComfyUI server: "
                              "its checkpoint's name")
    endpoint: str = text_field(max_chars=MAX_PATH_CHARS, label="ComfyUI server", flag="--comfyui", metavar="URL",
                               help="a ComfyUI server's URL (http://host:8188) that runs the model; "
                                    "empty = this machine")
    width: int = int_field(512, flag="--width", metavar="W", help="Width in pixels (a multiple of 8)", **_SIZE)
    height: int = int_field(512, flag="--height", metavar="H", help="Height in pixels (a multiple of 8)", **_SIZE)
    num_inference_steps: int = int_field(
        25, 1, 500, label="steps", flag="--steps", metavar="S",
        help="Denoising steps: more is slower and usually finer (Turbo models: 1–4)")
    guidance_scale: float = float_field(
        7.0, 0.0, 30.0, decimals=1, step=0.5, label="guidance (CFG)", flag="--guidance", metavar="G",
        help="How closely to follow the prompt (CFG); ≤ 1 turns guidance off (Turbo models: 0)")
    scheduler: str = choice_field(
        "", ("", *SCHEDULERS), label="sampler", flag="--scheduler", metavar="NAME",
        help=f"The sampler: {', '.join(SCHEDULERS)}; empty = the one the model ships with")
    seed: int | None = seed_field(
        help="Same seed + same settings = same picture, on any device. Image i of a batch uses seed + i.")
    batch_count: int = int_field(1, 1, 100, label="batch count", flag="--batch-count", metavar="N",
                                 help="How many batches run, one after another")
    batch_size: int = int_field(1, 1, 16, label="batch size", flag="--batch-size", metavar="B",
                                help="Images per batch, made together (more memory)")
    init_image: str = path_field(label="init image", flag="--init-image",
                                 help="image-to-image: the starting picture")
    strength: float = float_field(
        0.75, 0.0, 1.0, exclusive_minimum=True, flag="--strength", metavar="F",
        help="Denoising strength (image-to-image, inpaint): low keeps the picture, 1 replaces it")
    loras: tuple[LoraSpec, ...] = records_field(label="LoRAs", help="LoRA files with their weights")
    vae: str = text_field(max_chars=MAX_PATH_CHARS, label="VAE",
                          help="a VAE override: folder, hub id or single .safetensors file")
    allow_pickle: bool = bool_field(
        label="allow pickle", help="load a pickled checkpoint (.ckpt) only when the person explicitly confirmed it")
    offload: str = choice_field(
        "auto", ("auto", "none", "model", "group", "sequential"), label="memory plan", flag="--offload",
        metavar="PLAN",
        help="Memory plan (CUDA): auto (the first that fits the free VRAM), none (all on the GPU), model offload, "
             "group offload or sequential offload (least VRAM, slowest); also --memory-plan")
    quantize: str = choice_field(
        "none", ("none", "gguf", "nf4", "fp8"), flag="--quantize", metavar="Q",
        help="Quantize the transformer (SD 3.x, FLUX): none, gguf (a GGUF transformer file), nf4 (bitsandbytes, "
             "CUDA only) or fp8 (layerwise casting); torchao is not available with torch 2.8")
    t5: str = choice_field(
        "auto", ("auto", "device", "cpu", "off"), label="T5 encoder", flag="--t5", metavar="WHERE",
        help="Where SD 3.x / FLUX's T5 text encoder runs: auto (the memory plan decides), device (with the rest), "
             "cpu (saves ~9.5 GB of VRAM) or off (left out: SD 3.x only)")
    attention_slicing: str = choice_field("auto", ("auto", "on", "off"), flag="--attention-slicing",
                                          metavar="auto|on|off", help="Attention slicing (less VRAM)")
    vae_tiling: str = choice_field("auto", ("auto", "on", "off"), label="VAE tiling", flag="--vae-tiling",
                                   metavar="auto|on|off", help="VAE tiling (large images in less VRAM)")
    embeddings: tuple[str, ...] = records_field(
        label="embeddings", help="textual-inversion .safetensors files beside the embeddings folder's")
    controlnets: tuple[ControlUnit, ...] = records_field(label="ControlNets", help="ControlNet units")
    hires_scale: float = float_field(1.0, 1.0, 4.0, label="hires scale", flag="--hires-scale", metavar="F",
                                     help="Hires fix: upscale the picture by this factor, then refine it "
                                          "with image-to-image; 1 = off")
    hires_strength: float = float_field(0.5, 0.0, 1.0, exclusive_minimum=True, label="hires strength",
                                        flag="--hires-strength", metavar="F",
                                        help="Hires fix: denoising strength of the refining pass")
    hires_steps: int = int_field(0, 0, 500, label="hires steps", flag="--hires-steps", metavar="N",
                                 help="Hires fix: steps of the refining pass; 0 = the same as steps")
    upscaler: str = text_field(max_chars=MAX_PATH_CHARS, label="upscaler", flag="--upscaler", metavar="MODEL",
                               help="Hires fix: an upscaler model (catalog id or file); empty = Lanczos")
    ip_adapter: str = text_field(max_chars=MAX_PATH_CHARS, label="IP-Adapter", flag="--ip-adapter", metavar="MODEL",
                                 help="prompt with a picture: an IP-Adapter (catalog id or .safetensors file)")
    ip_image: str = path_field(label="IP-Adapter image", flag="--ip-image",
                               help="the reference picture for the IP-Adapter")
    ip_scale: float = float_field(1.0, 0.0, 2.0, label="IP-Adapter scale", flag="--ip-scale", metavar="F",
                                  help="How strongly the reference picture guides; 0 = not at all")
    ip_extra: tuple[IPAdapterUnit, ...] = records_field(
        label="more IP-Adapters", help="further IP-Adapter references (adapter, picture, scale) after the first")

    def validate(self, *, prompt_required: bool | None = None) -> None:
        """``prompt_required`` defaults to "unless image-to-image" (an inpaint passes False)."""
        super().validate()
        if prompt_required is None:
            prompt_required = not self.init_image
        if prompt_required:
            _check(bool(self.prompt.strip()), "prompt is empty: type something first.")
        for lora in self.loras:
            _check(isinstance(lora, LoraSpec), f"loras must hold LoRA entries (got {type(lora).__name__}).")
            check_fields(lora)
        for path in self.embeddings:
            _check(isinstance(path, str) and bool(path.strip()) and "\x00" not in path,
                   f"embeddings must hold file paths (got {path!r:.60}).")
        for i, unit in enumerate(self.controlnets, 1):
            _check(isinstance(unit, ControlUnit), f"controlnets must hold ControlNet units (got {type(unit).__name__}).")
            unit.validate(i)
        _check(bool(self.ip_adapter) == bool(self.ip_image),
               "IP-Adapter: give both the adapter (--ip-adapter) and its reference picture (--ip-image).")
        _check(not self.ip_extra or bool(self.ip_adapter),
               "IP-Adapter: further references need the first one (--ip-adapter MODEL --ip-image FILE).")
        for i, unit in enumerate(self.ip_extra, 2):
            _check(isinstance(unit, IPAdapterUnit), f"ip_extra must hold IP-Adapter units (got {type(unit).__name__}).")
            unit.validate(i)
        _check(self.hires_scale == 1.0 or not self.init_image,
               "hires fix works on text-to-image: leave the init image empty, or set hires scale to 1.")
        if self.endpoint:
            check_endpoint(self.endpoint, "the ComfyUI server")
            _check(bool(self.model.strip()), "model is empty: name one of the ComfyUI server's checkpoints.")

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["loras"] = [dataclasses.asdict(lo) for lo in self.loras]
        data["embeddings"] = list(self.embeddings)
        data["controlnets"] = [dataclasses.asdict(u) for u in self.controlnets]
        data["ip_extra"] = [dataclasses.asdict(u) for u in self.ip_extra]
        return data

    def ip_units(self) -> tuple[IPAdapterUnit, ...]:
        """Every IP-Adapter reference of the job, the first one included (empty: no IP-Adapter)."""
        if not self.ip_adapter:
            return ()
        return (IPAdapterUnit(self.ip_adapter, self.ip_image, self.ip_scale), *self.ip_extra)

    def with_memory_plan(self, plan: str) -> ImageRequest:
        """The same request on another memory plan (what an out-of-memory failure offers: the next one down)."""
        return dataclasses.replace(self, offload=plan)


def _blank_image_request() -> ImageRequest:
    return ImageRequest(prompt="", strength=1.0)


def _extend_field(side: str):
    return int_field(0, 0, 2048, label=f"extend {side}", flag=f"--extend-{side}", metavar="PX", unit="pixels",
                     help=f"Outpaint: grow the canvas by this many pixels on the {side}")


@dataclass(frozen=True)
class InpaintRequest(_Request):
    """Inpaint (mask painted on ``image``) or outpaint (canvas grown by ``extend_*`` pixels).

    Composition, not inheritance: ``generation`` holds every image-generation parameter (prompt —
    which may be empty here —, model, steps, guidance, sampler, seed, size, batch and the one
    ``strength``); its ``init_image`` stays empty, the picture to edit is ``image``.
    """

    kind: ClassVar[str] = "inpaint"

    image: str = path_field(None, flag="--image", help="the picture to edit")
    generation: ImageRequest = nested_field(
        ImageRequest, _blank_image_request, help="the image-generation parameters (prompt, model, steps, …)")
    mask: str = path_field(flag="--mask",
                           help="white = repaint, black = keep; the picture's size (not needed to outpaint)")
    mask_blur: int = int_field(8, 0, 64, label="mask blur", unit="pixels", flag="--mask-blur", metavar="PX",
                               help="Feather the mask's edge by this many pixels")
    inpaint_area: str = choice_field(
        "masked", ("masked", "whole"), label="inpaint area", flag="--inpaint-area", metavar="AREA",
        help="masked: repaint a crop around the mask at full resolution; whole: the whole picture")
    padding: int = int_field(32, 0, 512, unit="pixels", flag="--padding", metavar="PX",
                             help="Context kept around the mask's crop, in pixels")
    extend_left: int = _extend_field("left")
    extend_right: int = _extend_field("right")
    extend_top: int = _extend_field("top")
    extend_bottom: int = _extend_field("bottom")

    @property
    def prompt(self) -> str:
        return self.generation.prompt

    @property
    def model(self) -> str:
        return self.generation.model

    @property
    def allow_pickle(self) -> bool:
        return self.generation.allow_pickle

    def needs_permission(self) -> bool:
        return self.generation.needs_permission()

    def with_memory_plan(self, plan: str) -> InpaintRequest:
        return dataclasses.replace(self, generation=self.generation.with_memory_plan(plan))

    def with_pickle_allowed(self) -> InpaintRequest:
        return dataclasses.replace(self, generation=self.generation.with_pickle_allowed())

    @property
    def extends(self) -> tuple[int, int, int, int]:
        """(left, right, top, bottom) pixels added around the picture."""
        return (self.extend_left, self.extend_right, self.extend_top, self.extend_bottom)

    def validate(self) -> None:
        super().validate()
        _check(bool(self.image.strip()), "image is missing: open or paint an image on the Canvas first.")
        _check(
            bool(self.mask) or any(self.extends),
            "mask is empty: paint the area to change, or extend the canvas to outpaint.",
        )
        _check(
            not self.generation.init_image,
            "an inpaint takes its picture from image, not from the image request's init_image.",
        )
        self.generation.validate(prompt_required=False)  # the prompt may be empty (remove an object)

    def to_dict(self) -> dict[str, Any]:
        """Flat, like an image's parameters (the metadata writers read the same keys)."""
        data = {k: v for k, v in self.generation.to_dict().items() if k != "init_image"}
        data.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "generation"})
        data["kind"] = self.kind
        return data


@dataclass(frozen=True)
class UpscaleRequest(_Request):
    """Make a picture larger with an upscaler model (Real-ESRGAN, SwinIR … through spandrel), in tiles."""

    kind: ClassVar[str] = "upscale"

    image: str = path_field(None, label="picture", help="the picture to upscale")
    model: str = text_field(None, max_chars=MAX_PATH_CHARS, label="upscaler", flag="--model", metavar="MODEL",
                            help="an upscaler model: catalog id or .safetensors / .pth file")
    scale: float = float_field(0.0, 0.0, 8.0, decimals=2, step=0.5, flag="--scale", metavar="N",
                               help="How many times larger; 0 = the model's own factor (other factors: "
                                    "the model's result resized with Lanczos)")
    tile: int = int_field(512, 0, 4096, unit="pixels", flag="--tile", metavar="PX",
                          help="Tile size in input pixels (overlapping tiles keep memory small); 0 = the whole "
                               "picture at once")


@dataclass(frozen=True)
class SpeechRequest(_PicklePermission, _Request):
    """Text to speech."""

    kind: ClassVar[str] = "speech"

    text: str = text_field(None, not_empty=True, flag="--text", metavar="T", help="what to say")
    model: str = _model_field("catalog id, hub id or local model; empty = the bundled Piper voice")
    speaker: str = text_field(max_chars=200, flag="--speaker", metavar="S",
                              help="the voice of a multi-speaker model")
    language: str = text_field(max_chars=32, flag="--language", metavar="L",
                               help="the language of a multilingual model, e.g. en")
    speaker_wav: str = path_field(label="speaker reference clip", flag="--speaker-wav",
                                  help="a short clip of the voice to clone (XTTS)")
    speed: float = float_field(1.0, 0.5, 2.0, flag="--speed", metavar="F",
                               help="Speaking rate; 1 = the voice's own")
    seed: int | None = seed_field(help="Same seed + same settings = same audio (sampling voices)")
    sentence_pause_s: float = float_field(0.3, 0.0, 5.0, label="sentence pause", unit="seconds",
                                          flag="--sentence-pause", metavar="S",
                                          help="Silence between sentences, in seconds")
    paragraph_pause_s: float = float_field(0.8, 0.0, 10.0, label="paragraph pause", unit="seconds",
                                           flag="--paragraph-pause", metavar="S",
                                           help="Silence between paragraphs, in seconds")
    allow_pickle: bool = bool_field(
        label="allow pickle", help="load pickled weights (.pth/.pt) only when the person explicitly confirmed it")


@dataclass(frozen=True)
class MusicRequest(_Request):
    """Text to music."""

    kind: ClassVar[str] = "music"

    prompt: str = text_field(None, not_empty=True, flag="--prompt", metavar="P", help="the music to make")
    model: str = _model_field("catalog id, hub id or local model; empty = the default music model")
    duration_s: float = float_field(10.0, 1.0, 300.0, decimals=1, step=1.0, label="duration", unit="seconds",
                                    flag="--duration", metavar="S", help="Length of the piece, in seconds")
    guidance_scale: float = float_field(3.0, 0.0, 20.0, decimals=1, step=0.5, label="guidance",
                                        flag="--guidance", metavar="G",
                                        help="How closely to follow the prompt (classifier-free guidance)")
    temperature: float = float_field(1.0, 0.05, 5.0, flag="--temperature", metavar="T",
                                     help="Randomness of the sampled audio tokens")
    top_k: int = int_field(250, 0, 2048, label="top-k", flag="--top-k", metavar="K",
                           help="Keep only the k most likely tokens; 0 = off")
    top_p: float = float_field(0.0, 0.0, 1.0, step=0.01, label="top-p", flag="--top-p", metavar="P",
                               help="Nucleus sampling; 0 = off")
    seed: int | None = seed_field(help="Same seed + same settings = same music")
    melody: str = path_field(flag="--melody", help="a clip whose melody the music follows (melody models)")
    continue_from: str = path_field(label="continue from", flag="--continue",
                                    help="a clip to continue from its end")
    variations: int = int_field(1, 1, 8, flag="--variations", metavar="N",
                                help="How many different takes of the prompt to make")
    window_keep_s: float = float_field(12.0, 1.0, 25.0, decimals=1, step=1.0, label="window overlap",
                                       unit="seconds", flag="--window-keep", metavar="S",
                                       help="Pieces longer than the model's window: seconds of the previous "
                                            "window kept as context for the next")


Request = TextRequest | ImageRequest | InpaintRequest | UpscaleRequest | SpeechRequest | MusicRequest


#: the request class of each kind
REQUEST_TYPES: dict[str, type] = {
    cls.kind: cls for cls in (TextRequest, ImageRequest, InpaintRequest, UpscaleRequest, SpeechRequest, MusicRequest)
}


def _change_spec(kind: str, name: str) -> FieldSpec | None:
    """The declaration of field ``name`` of a ``kind`` request (an inpaint's image fields included)."""
    classes = [REQUEST_TYPES[kind]] if kind in REQUEST_TYPES else []
    if kind == InpaintRequest.kind:
        classes.append(ImageRequest)
    for cls in classes:
        if any(f.name == name for f in dataclasses.fields(cls)):
            return field_spec(cls, name)
    return None


def advice_text(kind: str, changes, style: str = "label") -> str:
    """What to change, worded for a front end from the fields' declarations: ``style`` 'label'
    ("Lower Width, Height or Batch size; set Offload to 'model'.", the labels of the form's rows) or
    'flag' ("Lower --width, --height or --batch-size; use --offload model.", the CLI). ``changes`` are
    :class:`~studio.errors.FieldChange` s; fields the front end does not offer are left out."""
    lower: list[str] = []
    other: list[str] = []
    for change in changes:
        spec = _change_spec(kind, change.field)
        if spec is None or (style == "flag" and not spec.flag):
            continue
        name = spec.flag if style == "flag" else spec.label[:1].upper() + spec.label[1:]  # as the form's rows
        if change.to == "lower":
            lower.append(name)
        elif change.to == "smaller":
            other.append(f"pick a smaller {spec.label}" if style == "label" else f"a smaller {name}")
        else:
            other.append(f"set {name} to '{change.to}'" if style == "label" else f"use {name} {change.to}")
    parts = []
    if lower:
        parts.append("lower " + (", ".join(lower[:-1]) + " or " + lower[-1] if len(lower) > 1 else lower[0]))
    parts += other
    if not parts:
        return ""
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


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
    "MAX_PATH_CHARS",
    "MAX_PROMPT_CHARS",
    "MAX_SEED",
    "CONTROL_MODES",
    "REQUEST_TYPES",
    "ChatMessage",
    "ControlUnit",
    "IPAdapterUnit",
    "FieldSpec",
    "ImageRequest",
    "InpaintRequest",
    "LoraSpec",
    "MusicRequest",
    "Request",
    "SCHEDULERS",
    "SpeechRequest",
    "TextRequest",
    "UpscaleRequest",
    "advice_text",
    "field_spec",
    "field_specs",
    "summary",
]
