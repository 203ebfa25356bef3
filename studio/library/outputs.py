"""How each output type is written to the library: one table keyed by output type.

An engine's :class:`~studio.events.Output` names its output type (``"image/png"``, ``"audio/flac"``,
``"text/markdown"`` … or the short ``"image"`` / ``"audio"`` / ``"text"`` for the type's default
format). The table gives the file suffix, whether a batch index goes into the file name, and the
encoder that writes the data with the metadata the format can carry. The item's *kind* is not
decided here: it is the request's kind (``params["kind"]``: text, image, inpaint, speech, music).
A new format is one line in :data:`OUTPUT_TYPES`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OutputType:
    suffix: str  # the file name's ending
    encode: Callable[[Any, dict], bytes]  # (data, params) -> the file's bytes, metadata included
    numbered: bool = False  # one file per item of a batch: the batch index goes into the name
    default_kind: str = ""  # the kind of an output whose params name none


def _png(image, params: dict) -> bytes:
    """PNG with AUTOMATIC1111's ``parameters`` chunk and our full JSON chunk."""
    from .metadata import png_bytes

    return png_bytes(image, params)


def _markdown(text, params: dict) -> bytes:
    return str(text).encode("utf-8")


def _audio(fmt: str, subtype: str, max_comment: int | None = None) -> Callable[[Any, dict], bytes]:
    """Audio through soundfile; the parameters go into the format's tags: the prompt or text as the
    title, the JSON as the comment when the format keeps it (WAV drops long INFO strings)."""

    def encode(data, params: dict) -> bytes:
        import numpy as np
        import soundfile

        audio, sample_rate = data
        audio = np.asarray(audio, dtype="float32")
        buf = io.BytesIO()
        channels = 1 if audio.ndim == 1 else audio.shape[1]
        with soundfile.SoundFile(buf, "w", int(sample_rate), channels, subtype=subtype, format=fmt) as f:
            f.software = "Studio"
            title = " ".join(str(params.get("prompt") or params.get("text") or "").split())[:200]
            if title:
                f.title = title
            comment = json.dumps(params, ensure_ascii=False, default=str)
            if max_comment is None or len(comment) <= max_comment:
                f.comment = comment
            f.write(audio)
        return buf.getvalue()

    return encode


OUTPUT_TYPES: dict[str, OutputType] = {
    "image/png": OutputType(".png", _png, numbered=True, default_kind="image"),
    "text/markdown": OutputType(".md", _markdown, default_kind="text"),
    "audio/wav": OutputType(".wav", _audio("WAV", "PCM_16", max_comment=2000), default_kind="audio"),
    "audio/flac": OutputType(".flac", _audio("FLAC", "PCM_16"), default_kind="audio"),
    "audio/ogg": OutputType(".ogg", _audio("OGG", "VORBIS"), default_kind="audio"),
}

#: the format a bare type name means
DEFAULT_FORMAT = {"image": "image/png", "text": "text/markdown", "audio": "audio/wav"}


def output_type(media: str) -> OutputType:
    """The table entry for ``media`` ("image/png" or a bare "image"); ValueError when unknown."""
    entry = OUTPUT_TYPES.get(DEFAULT_FORMAT.get(media, media))
    if entry is None:
        known = ", ".join(sorted([*OUTPUT_TYPES, *DEFAULT_FORMAT]))
        raise ValueError(f"unknown output type {media!r} (known: {known})")
    return entry


def item_kind(media: str, params: dict) -> str:
    """The library kind of an output: its request's kind, else the output type's default."""
    kind = params.get("kind") if isinstance(params, dict) else None
    if isinstance(kind, str) and kind.isidentifier():
        return kind
    return output_type(media).default_kind
