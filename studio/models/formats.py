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


def is_coqui_config(config_file: Path) -> bool:
    """A coqui-tts ``config.json``: a ``model`` name and an ``audio`` section (transformers configs have
    ``model_type``/``architectures`` instead)."""
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(config, dict)
        and isinstance(config.get("model"), str)
        and isinstance(config.get("audio"), dict)
        and "architectures" not in config
    )


def detect_format(path: Path) -> str:
    """What kind of model a file or folder holds, from its files only (nothing is loaded).

    A coqui-tts model is a ``.pth`` checkpoint with a coqui ``config.json`` beside it, or a folder of them."""
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".gguf":
            return "gguf"
        if suffix == ".onnx":
            return "piper"
        if suffix in (".pth", ".pt") and is_coqui_config(path.parent / "config.json"):
            return "coqui"
        if suffix == ".safetensors" or suffix in PICKLE_SUFFIXES:
            return "single_file"
        return "unknown"
    if (path / "model_index.json").exists():
        return "diffusers"
    if (path / "config.json").exists():
        return "coqui" if is_coqui_config(path / "config.json") else "transformers"
    if any(path.glob("*.gguf")):
        return "gguf"
    return "unknown"


def modality_of(path: Path, fmt: str) -> str:
    """Best guess of a model's modality from its files ('' when unknown)."""
    if fmt in ("diffusers", "single_file"):
        return "image"
    if fmt in ("piper", "coqui"):
        return "speech"
    if fmt == "gguf":  # a language model, or a FLUX.1 / SD 3.x transformer quantized as GGUF
        if path.is_file():
            from .gguf_image import image_family

            found = image_family(path)
            if found is None:  # unreadable: let the engine that opens it say why
                return ""
            if found:
                return "image"
        return "text"
    if fmt == "transformers":
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ""
        if not isinstance(config, dict):  # a JSON list or string: not a transformers config
            return ""
        archs = config.get("architectures")
        arch = " ".join(a for a in archs if isinstance(a, str)) if isinstance(archs, list) else ""
        mtype = config.get("model_type") if isinstance(config.get("model_type"), str) else ""
        if "Musicgen" in arch or mtype.startswith("musicgen"):
            return "music"
        if "CausalLM" in arch or "ForConditionalGeneration" in arch and "Text" in arch:
            return "text"
        if mtype in ("vits", "speecht5", "bark"):
            return "speech"
        if "CausalLM" in mtype or mtype in ("llama", "mistral", "qwen2", "gpt2", "phi3", "gemma"):
            return "text"
    return ""


def check_config(folder: Path, label: str) -> dict:
    """A transformers ``config.json`` that the libraries can read without tripping: a JSON object whose
    ``model_type`` is text, ``architectures`` a list of names, and no size or count is text or negative.
    ModelNotFound names the first problems (checked before anything is loaded)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelNotFound(f"'{label}': config.json is not readable JSON ({str(exc)[:120]}).") from None
    if not isinstance(config, dict):
        raise ModelNotFound(f"'{label}': config.json holds a {type(config).__name__}, not a model configuration.")
    problems = []
    if "model_type" in config and not isinstance(config["model_type"], str):
        problems.append("model_type is not text")
    archs = config.get("architectures")
    if archs is not None and not (isinstance(archs, list) and all(isinstance(a, str) for a in archs)):
        problems.append("architectures is not a list of names")
    for key, value in config.items():
        if key.endswith(("_size", "_layers", "_heads", "_position_embeddings")) or key.startswith("num_"):
            if isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0):
                problems.append(f"{key} is {value!r:.40}, not a count")
    if problems:
        raise ModelNotFound(f"'{label}': config.json is damaged: {'; '.join(problems[:3])}.")
    return config


def readable_format(path: Path) -> str:
    """``detect_format(path)``, or ModelNotFound saying what Studio can read."""
    fmt = detect_format(path)
    if fmt == "unknown":
        raise ModelNotFound(
            f"'{path}' is not a model Studio can read: expected a .gguf / .safetensors / .onnx file, a "
            "transformers folder (config.json), a diffusers folder (model_index.json) or a coqui model "
            "(model.pth with config.json)."
        )
    return fmt
