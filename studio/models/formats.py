"""What a model file or folder is, from its files alone (nothing is loaded, nothing imported).

The one place that sniffs formats: :func:`detect_format` (gguf, transformers, diffusers, single-file
checkpoint, piper, …) and :func:`modality_of` (text, image, speech, music). A new modality or format
extends these two functions and :data:`KIND_WORDS`. Both the catalog (finding models in the hub cache,
adding local ones) and the resolver use them; this module imports neither.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModelNotFound

#: Weight files that are Python pickles: never loaded without an explicit confirmation.
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")

#: How messages name a model of each modality.
KIND_WORDS = {
    "image": "an image model",
    "text": "a text model",
    "speech": "a speech model",
    "music": "a music model",
}


def detect_format(path: Path) -> str:
    """What kind of model a file or folder holds, from its files only (nothing is loaded)."""
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".gguf":
            return "gguf"
        if suffix == ".onnx":
            return "piper"
        if suffix == ".safetensors" or suffix in PICKLE_SUFFIXES:
            return "single_file"
        return "unknown"
    if (path / "model_index.json").exists():
        return "diffusers"
    if (path / "config.json").exists():
        return "transformers"
    if any(path.glob("*.gguf")):
        return "gguf"
    return "unknown"


def modality_of(path: Path, fmt: str) -> str:
    """Best guess of a model's modality from its files ('' when unknown)."""
    if fmt in ("diffusers", "single_file"):
        return "image"
    if fmt in ("piper", "coqui"):
        return "speech"
    if fmt == "gguf":
        return "text"
    if fmt == "transformers":
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ""
        arch = " ".join(config.get("architectures") or [])
        mtype = str(config.get("model_type", ""))
        if "Musicgen" in arch or mtype.startswith("musicgen"):
            return "music"
        if "CausalLM" in arch or "ForConditionalGeneration" in arch and "Text" in arch:
            return "text"
        if mtype in ("vits", "speecht5", "bark"):
            return "speech"
        if "CausalLM" in mtype or mtype in ("llama", "mistral", "qwen2", "gpt2", "phi3", "gemma"):
            return "text"
    return ""


def readable_format(path: Path) -> str:
    """``detect_format(path)``, or ModelNotFound saying what Studio can read."""
    fmt = detect_format(path)
    if fmt == "unknown":
        raise ModelNotFound(
            f"'{path}' is not a model Studio can read: expected a .gguf / .safetensors / .onnx file, a "
            "transformers folder (config.json) or a diffusers folder (model_index.json)."
        )
    return fmt
