"""LoRA files checked before any model loads: a regular ``.safetensors`` file whose header reads,
whose tensors are LoRA layers, whose up/down pairs agree in rank and (when the model's family is
known) whose cross-attention width is that family's. Only the header is read (no tensor data)."""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidRequest, UnsafeModelFile
from ..library.inputs import check_input_file

CROSS_ATTENTION_DIM = {"sd1": 768, "sd2": 1024, "sdxl": 2048}
FAMILY_WORDS = {"sd1": "Stable Diffusion 1.x", "sd2": "Stable Diffusion 2.x", "sdxl": "Stable Diffusion XL"}
_PAIRS = (("lora_down", "lora_up"), ("lora_A", "lora_B"), ("lora.down", "lora.up"))
_LORA_MARKS = ("lora", "hada_", "lokr_")


def lora_shapes(path: Path) -> dict[str, list[int]]:
    """Tensor name → shape from the file's header; InvalidRequest when it is not safetensors."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:  # the header only; no torch import (the UI thread)
            return {k: list(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise InvalidRequest(f"LoRA '{path.name}' is not a readable .safetensors file ({detail}).") from None


def check_lora_shapes(name: str, shapes: dict[str, list[int]], family: str = "") -> None:
    """Raise InvalidRequest when ``shapes`` are not a LoRA, or one that cannot fit ``family``."""
    if not any(mark in k.lower() for k in shapes for mark in _LORA_MARKS):
        raise InvalidRequest(f"'{name}' holds no LoRA layers ({len(shapes)} tensors, none named lora_…): not a LoRA file.")
    for key, shape in shapes.items():
        for down, up in _PAIRS:
            if down not in key:
                continue
            other = shapes.get(key.replace(down, up))
            if other is not None and (len(shape) < 2 or len(other) < 2 or shape[0] != other[1]):
                raise InvalidRequest(
                    f"LoRA '{name}' is damaged: {key} {shape} and its {up} {other} do not match in rank."
                )
            want = CROSS_ATTENTION_DIM.get(family)
            if want and "attn2" in key and "to_k" in key and len(shape) >= 2 and shape[1] != want:
                made_for = next((f for f, d in CROSS_ATTENTION_DIM.items() if d == shape[1]), "")
                what = f"made for {FAMILY_WORDS[made_for]}" if made_for else f"made for {shape[1]}-wide text features"
                raise InvalidRequest(f"LoRA '{name}' is {what}; the model is {FAMILY_WORDS[family]}.")


def check_lora_files(loras, family: str = "") -> list[tuple[Path, float]]:
    """(path, weight) of each LoRA spec, every file checked (see the module doc)."""
    out = []
    for spec in loras:
        path = check_input_file(spec.path, "LoRA file")
        if path.suffix.lower() != ".safetensors":
            raise UnsafeModelFile(
                f"LoRA '{path.name}' is not a .safetensors file; pickled LoRA files can run code, so Studio "
                "loads LoRAs only as .safetensors.",
                path,
            )
        check_lora_shapes(path.name, lora_shapes(path), family)
        out.append((path, float(spec.weight)))
    return out
