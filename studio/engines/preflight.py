"""Preflight: the cheap checks of a request that need no model (no Qt, no torch), run before any model
loads — by the job queue at submit (the GUI) and by ``studio generate`` (the CLI), and again by each
engine's ``run`` for callers that drive an engine directly.

:func:`preflight` validates the request's values, then opens its input files through
:mod:`studio.library.inputs` with the limits named there: a picture's header (its size), an audio
clip's header — or, with ``clips=True``, the part of it that is used (silence, NaN, length) —, a text's
length once said aloud, a music prompt's length. It decodes no picture and, at submit and in the CLI,
no clip: the engine decodes each input once, when it runs, and reads clips before its model loads. Every refusal is an
:class:`~studio.errors.InvalidRequest` (or :class:`~studio.errors.UnsafeModelFile` for a pickled LoRA)
whose message is one line for a person.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..errors import InvalidRequest
from ..library import inputs
from ..library.inputs import FAST_CHARS_PER_S, MAX_MUSIC_PROMPT_CHARS, MAX_SPEECH_S
from ..requests import ImageRequest, InpaintRequest, MusicRequest, SpeechRequest, TextRequest, UpscaleRequest
from .speech_text import PARAGRAPH, SENTENCE, has_words, split_text

#: what the speech engine splits the text with for the estimate (the smallest voice limit)
_ESTIMATE_CHUNK = 250


def preflight(request, *, clips: bool = True) -> None:
    """Validate ``request`` and check its inputs (see the module doc); raises with a one-line message.

    ``clips=False`` reads only the headers of audio clips (the job queue on the UI thread): the
    engine reads their samples — silence, NaN, length — before its model loads."""
    check = _CHECKS.get(request.kind)
    if check is None:
        request.validate()
    elif request.kind in ("speech", "music"):
        check(request, clips=clips)
    else:
        check(request)


# --- per kind (each validates the request first: an engine's ``preflight``) ----------------------
def preflight_text(request: TextRequest) -> None:
    """Nothing to open: the values are validated."""
    request.validate()


def preflight_image(request: ImageRequest) -> None:
    request.validate()
    _image_inputs(request)


def _image_inputs(request: ImageRequest) -> None:
    from .embeddings import check_embedding
    from .lora_files import check_lora_files

    if request.init_image:
        inputs.picture_size(request.init_image, "image-to-image picture")
    if not request.endpoint:  # on a ComfyUI server, LoRAs are names in its own loras folder
        check_lora_files(request.loras)
    for i, unit in enumerate(request.controlnets, 1):  # the message names the unit
        try:
            inputs.picture_size(unit.image, "control image")
        except InvalidRequest as exc:
            raise InvalidRequest(f"ControlNet unit {i} ({unit.model}): {exc}") from None
    for path in request.embeddings:
        check_embedding(path)  # the header only: .safetensors, a list of vectors
    if request.ip_image:
        inputs.picture_size(request.ip_image, "IP-Adapter image")
    for i, unit in enumerate(request.ip_extra, 2):  # the message names the reference
        try:
            inputs.picture_size(unit.image, "IP-Adapter image")
        except InvalidRequest as exc:
            raise InvalidRequest(f"IP-Adapter {i} ({unit.model}): {exc}") from None


def preflight_upscale(request: UpscaleRequest) -> None:
    """The picture's header; a result too large is refused with the size it would make."""
    from .upscale import MAX_INPUT_PIXELS, check_result_size, picture_size

    request.validate()
    width, height = picture_size(request.image)
    if request.scale:
        check_result_size(width, height, request.scale)
    if width * height > MAX_INPUT_PIXELS:
        raise InvalidRequest(
            f"The picture to upscale is {width}×{height}: too large to read (at most {MAX_INPUT_PIXELS:,} pixels)."
        )


def preflight_inpaint(request: InpaintRequest) -> None:
    request.validate()
    width, height = inputs.picture_size(request.image, "picture to edit")
    if request.mask:
        mask = inputs.picture_size(request.mask, "mask")
        if mask != (width, height):
            raise InvalidRequest(
                f"The mask is {mask[0]}×{mask[1]} but the picture is {width}×{height}: they must be the same size."
            )
    left, right, top, bottom = request.extends
    grown = (width + left + right, height + top + bottom)
    if any(request.extends) and max(grown) > 4096:
        raise InvalidRequest(f"The extended picture would be {grown[0]}×{grown[1]}; at most 4096×4096.")
    long, short = max(grown), min(grown)
    if long > short * inputs.MAX_INPAINT_ASPECT:
        raise InvalidRequest(
            f"The picture is {grown[0]}×{grown[1]}: one side is more than {inputs.MAX_INPAINT_ASPECT:g} times the "
            "other, too narrow to inpaint; crop it or extend the short side first."
        )
    _image_inputs(request.generation)


def speech_estimate_s(request: SpeechRequest) -> tuple[float, float]:
    """(seconds of pauses, seconds at least spoken) the text of ``request`` makes: the pauses are exact,
    the speech a fast reader's pace (every voice takes longer)."""
    chunks = split_text(request.text, _ESTIMATE_CHUNK)
    paragraphs = sum(1 for c in chunks if c.pause == PARAGRAPH)
    sentences = sum(1 for c in chunks if c.pause == SENTENCE)
    pauses = paragraphs * request.paragraph_pause_s + sentences * request.sentence_pause_s
    spoken = sum(len(c.text) for c in chunks) / (FAST_CHARS_PER_S * request.speed)
    return pauses, spoken


def preflight_speech(request: SpeechRequest, *, clips: bool = True) -> None:
    """``clips=False``: the reference clip's header only (the engine reads its samples once, itself)."""
    request.validate()
    if not has_words(request.text):
        raise InvalidRequest("The text has nothing to say (only punctuation or symbols): type some words.")
    pauses, spoken = speech_estimate_s(request)
    if pauses + spoken > MAX_SPEECH_S:
        raise InvalidRequest(
            f"This text would make at least {_duration(pauses + spoken)} of audio ({_duration(pauses)} of it "
            f"pauses); Studio makes at most {_duration(MAX_SPEECH_S)} at once: split the text or shorten the pauses."
        )
    if request.speaker_wav:
        reference_clip(request.speaker_wav) if clips else inputs.clip_info(request.speaker_wav, REFERENCE_WHAT)


REFERENCE_WHAT, MELODY_WHAT, CONTINUE_WHAT = "speaker reference clip", "melody", "clip to continue"


def reference_clip(path: str):
    """The used part of a speaker reference clip, mono: (samples, rate, ClipInfo); checked."""
    return inputs.read_clip(
        path, REFERENCE_WHAT, seconds=inputs.REFERENCE_CLIP_S, mono=True,
        min_seconds=inputs.MIN_REFERENCE_CLIP_S,
    )


def preflight_music(request: MusicRequest, *, clips: bool = True) -> None:
    """``clips=False``: the clips' headers only (the engine reads their samples once, itself)."""
    request.validate()
    if len(request.prompt) > MAX_MUSIC_PROMPT_CHARS:
        raise InvalidRequest(
            f"The prompt is {len(request.prompt):,} characters; MusicGen reads at most about "
            f"{MAX_MUSIC_PROMPT_CHARS:,} (512 tokens): shorten it."
        )
    if request.melody:
        melody_clip(request) if clips else inputs.clip_info(request.melody, MELODY_WHAT)
    if request.continue_from:
        continue_clip(request.continue_from) if clips else inputs.clip_info(request.continue_from, CONTINUE_WHAT)


def melody_clip(request: MusicRequest):
    """The used part of the melody: the piece's length and one window more; checked."""
    return inputs.read_clip(request.melody, MELODY_WHAT, seconds=float(request.duration_s) + inputs.MELODY_EXTRA_S)


def continue_clip(path: str):
    """The tail of the clip to continue (:data:`~studio.library.inputs.CONTINUE_TAIL_S`); checked."""
    return inputs.read_clip(path, CONTINUE_WHAT, seconds=inputs.CONTINUE_TAIL_S, tail=True)


def _duration(seconds: float) -> str:
    if seconds > 3600:
        return f"{seconds / 3600:.1f} hours"
    if seconds >= 60:
        return f"{math.ceil(seconds / 60)} minutes"
    return f"{seconds:.0f} s"


_CHECKS: dict[str, Callable] = {
    "text": preflight_text,
    "image": preflight_image,
    "inpaint": preflight_inpaint,
    "upscale": preflight_upscale,
    "speech": preflight_speech,
    "music": preflight_music,
}
