"""What a model file is, read from its bytes (headers and tensor names), never from its name.

Used by the model-folder scan (:mod:`studio.models.folders`). Nothing is loaded and nothing is
executed: a ``.safetensors`` file's JSON header gives its tensor names; a PyTorch ``.ckpt``/``.pt``
zip archive's ``data.pkl`` is *walked* with :mod:`pickletools` (opcodes only, no unpickling) for the
same names; a GGUF file's header gives its architecture (:func:`studio.models.gguf.read_info`).

Roles: ``model`` (something a tab runs), ``lora``, ``vae``, ``controlnet``, ``upscaler``,
``embedding``, ``projector`` (a GGUF vision projector), ``unknown``.
"""

from __future__ import annotations

import json
import pickletools
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .formats import PICKLE_SUFFIXES

MAX_HEADER_BYTES = 64 * 1024 * 1024  # a safetensors header larger than this is not a model we know
MAX_PICKLE_BYTES = 32 * 1024 * 1024  # a checkpoint's data.pkl (tensor names only) is far smaller
WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".onnx", *PICKLE_SUFFIXES)

_UPSCALER_MARKERS = ("conv_first.", "RRDB_trunk.", "model.1.sub.", "body.0.rdb", "conv_after_body.",
                     "upconv1.", "conv_up1.", "layers.0.residual_group.")


@dataclass(frozen=True)
class Sniffed:
    modality: str  # 'text' | 'image' | 'speech' | 'music' | '' (not runnable alone)
    role: str
    format: str  # 'gguf' | 'single_file' | 'piper' | ''
    family: str = ""  # image checkpoints: 'sd1' | 'sd2' | 'sdxl'; GGUF: the architecture
    note: str = ""


UNKNOWN = Sniffed("", "unknown", "")


def safetensors_keys(path: Path) -> list[str] | None:
    """Tensor names from a .safetensors header; None when the file is not one."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                return None
            (length,) = struct.unpack("<Q", head)
            if length < 2 or length > MAX_HEADER_BYTES:
                return None
            raw = f.read(length)
    except OSError:
        return None
    if len(raw) < length or raw[:1] != b"{":
        return None
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(header, dict):
        return None
    return [k for k in header if k != "__metadata__"]


def pickle_keys(path: Path) -> list[str] | None:
    """Tensor names of a PyTorch zip checkpoint, found by walking ``data.pkl``'s opcodes (nothing is
    unpickled); None when the file is not such an archive."""
    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as archive:
            info = next((i for i in archive.infolist() if i.filename.endswith("data.pkl")), None)
            if info is None or info.file_size > MAX_PICKLE_BYTES:
                return None
            data = archive.read(info)
    except (OSError, zipfile.BadZipFile, ValueError, RuntimeError, NotImplementedError):
        return None
    keys = []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name in ("BINUNICODE", "SHORT_BINUNICODE", "UNICODE", "BINUNICODE8") and "." in str(arg):
                keys.append(str(arg))
    except Exception:  # a damaged stream: what was read so far is still evidence
        pass
    return keys


def classify_keys(keys: list[str]) -> Sniffed:
    """A weights file's role (and image family) from its tensor names."""
    if not keys:
        return UNKNOWN
    sample = keys if len(keys) <= 5000 else keys[:5000]
    if any(k.startswith("model.diffusion_model.") for k in sample):
        if any(k.startswith("conditioner.embedders.1.") for k in sample):
            return Sniffed("image", "model", "single_file", "sdxl")
        if any(k.startswith("conditioner.embedders.0.model.") for k in sample):
            return Sniffed("", "unknown", "single_file", "", "an SDXL refiner (not run on its own)")
        if any(k.startswith("cond_stage_model.model.") for k in sample):
            return Sniffed("image", "model", "single_file", "sd2")
        if any(k.startswith("cond_stage_model.transformer.") for k in sample):
            return Sniffed("image", "model", "single_file", "sd1")
        return Sniffed("", "unknown", "single_file", "", "a diffusion model of a family Studio does not run")
    if any("lora_" in k or ".lora." in k or "lora_A" in k or "lora_B" in k for k in sample[:400]):
        return Sniffed("", "lora", "single_file")
    if any(k.startswith(("control_model.", "controlnet_")) or "input_hint_block" in k for k in sample):
        return Sniffed("", "controlnet", "single_file")
    if all(k.startswith(("encoder.", "decoder.", "quant_conv", "post_quant_conv", "first_stage_model."))
           for k in sample):
        return Sniffed("", "vae", "single_file")
    if "emb_params" in sample or any(k.startswith("string_to_param") for k in sample):
        return Sniffed("", "embedding", "single_file")
    if any(k.startswith(_UPSCALER_MARKERS) for k in sample):
        return Sniffed("", "upscaler", "single_file")
    return UNKNOWN


def _embedding_by_shape(path: Path, keys: list[str]) -> bool:
    """A textual-inversion embedding: one or two small tensors named like the A1111/kohya formats."""
    return 0 < len(keys) <= 4 and all(k in ("emb_params", "clip_l", "clip_g", "string_to_param", "*") for k in keys)


def sniff_file(path: Path) -> Sniffed:
    """The role and modality of one file, from its contents."""
    suffix = path.suffix.lower()
    if suffix == ".gguf":
        return sniff_gguf(path)
    if suffix == ".safetensors":
        keys = safetensors_keys(path)
        if keys is None:
            return UNKNOWN
        if _embedding_by_shape(path, keys):
            return Sniffed("", "embedding", "single_file")
        return classify_keys(keys)
    if suffix in PICKLE_SUFFIXES:
        keys = pickle_keys(path)
        if not keys:
            return UNKNOWN
        found = classify_keys(keys)
        return Sniffed(found.modality, found.role, found.format, found.family, "pickled: loads only when confirmed")
    if suffix == ".onnx":
        return _sniff_piper(path)
    return UNKNOWN


def _is_gguf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"GGUF"
    except OSError:
        return False


def sniff_gguf(path: Path) -> Sniffed:
    """A GGUF file (any name: Ollama's blobs have none) by its magic and header."""
    if not _is_gguf(path):
        return UNKNOWN
    from .gguf import read_info

    try:
        info = read_info(path)
    except Exception as exc:  # truncated, newer version …: listed, and resolution says why
        return Sniffed("text", "model", "gguf", "", f"damaged or unsupported GGUF ({str(exc)[:120]})")
    arch = info.architecture or ""
    if arch in ("clip", "mmproj") or "mmproj" in path.name.lower() and arch in ("clip", ""):
        return Sniffed("", "projector", "gguf", arch)
    return Sniffed("text", "model", "gguf", arch)


def _sniff_piper(path: Path) -> Sniffed:
    """A Piper voice: an ONNX file with its ``.onnx.json`` (audio settings, phoneme map) beside it."""
    config = path.with_name(path.name + ".json")
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return UNKNOWN
    if isinstance(data, dict) and ("phoneme_id_map" in data or isinstance(data.get("audio"), dict)):
        return Sniffed("speech", "model", "piper")
    return UNKNOWN


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def sniff_folder(folder: Path) -> Sniffed | None:
    """A model folder (diffusers pipeline or component, transformers, coqui); None when the folder is
    not one (its files are then looked at one by one)."""
    from .formats import detect_format, modality_of

    if (folder / "model_index.json").is_file():
        index = read_json(folder / "model_index.json")
        family = ""
        if "XL" in str(index.get("_class_name", "")) or "text_encoder_2" in index:
            family = "sdxl"
        else:
            cross = read_json(folder / "unet" / "config.json").get("cross_attention_dim")
            family = {768: "sd1", 1024: "sd2", 2048: "sdxl"}.get(cross, "") if isinstance(cross, int) else ""
        return Sniffed("image", "model", "diffusers", family)
    if not (folder / "config.json").is_file():
        return None
    config = read_json(folder / "config.json")
    cls = str(config.get("_class_name", ""))
    if cls:  # a diffusers component saved on its own
        role = {"ControlNetModel": "controlnet", "AutoencoderKL": "vae", "AutoencoderTiny": "vae"}.get(cls)
        return Sniffed("", role or "unknown", "diffusers")
    fmt = detect_format(folder)
    modality = modality_of(folder, fmt)
    if modality:
        return Sniffed(modality, "model", fmt)
    return Sniffed("", "unknown", fmt)
