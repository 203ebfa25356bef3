"""The memory plan for the image engine (no Qt, no torch): what to offload and whether to slice
attention or tile the VAE, from the weights' size and the device's free memory.

:func:`plan_offload` turns the request's ``offload`` ('auto' …) into 'none' | 'model' | 'sequential';
:func:`plan_slicing_tiling` does the same for attention slicing and VAE tiling at a given pixel count.
Off CUDA nothing is offloaded; on MPS attention is sliced by default. The plan is applied by
:class:`studio.engines.image_loading.PipelineSet`.
"""

from __future__ import annotations

from ..models.device import DeviceChoice
from ..models.resolve import ResolvedModel

GB = 1024**3


def weights_bytes(model: ResolvedModel) -> int:
    """Rough size of the weights to load (bytes on disk of one variant)."""
    if model.entry is not None and model.entry.memory_bytes:
        return model.entry.memory_bytes
    if model.path.is_file():
        return model.path.stat().st_size
    total = 0
    for part in ("unet", "vae", "text_encoder", "text_encoder_2", "transformer"):
        files = [f.stat().st_size for f in (model.path / part).glob("*.safetensors")] if (model.path / part).is_dir() else []
        total += max(files, default=0)
    return total


def plan_offload(requested: str, choice: DeviceChoice, weights: int, free: int | None) -> str:
    """'none' | 'model' | 'sequential': what ``requested`` ('auto' …) means on this device now."""
    if not choice.device.startswith("cuda"):
        return "none"
    if requested != "auto":
        return requested
    if free is None or free >= weights + 2 * GB:
        return "none"
    if free >= 0.7 * weights + 1 * GB:  # the UNet (the biggest part) fits: offload the rest between uses
        return "model"
    return "sequential"


def plan_slicing_tiling(
    slicing: str, tiling: str, choice: DeviceChoice, offload: str, pixels: int, free: int | None
) -> tuple[bool, bool]:
    """Attention slicing and VAE tiling for ``pixels`` (width × height × batch) on the device."""
    auto_slicing = auto_tiling = False
    if choice.device == "mps":
        auto_slicing = True
    elif choice.device.startswith("cuda"):
        bytes_px = 2 if choice.dtype != "float32" else 4
        if offload == "sequential":
            auto_slicing = auto_tiling = True
        elif free is not None:
            auto_slicing = free < pixels * 1300 * bytes_px  # attention activations of a UNet step
            auto_tiling = free < pixels * 2400 * 4  # the VAE decodes in float32 when it must upcast
        auto_tiling = auto_tiling or pixels > 2048 * 2048
    on_slicing = auto_slicing if slicing == "auto" else slicing == "on"
    on_tiling = auto_tiling if tiling == "auto" else tiling == "on"
    return on_slicing, on_tiling
