"""The memory plan for the image engine (no Qt, no torch): what to offload and whether to slice
attention or tile the VAE, from the weights' size and the device's free memory.

:func:`plan_memory` turns the request's ``offload`` ('auto' …) into a plan of :mod:`studio.models.memory_plan`
('none' | 'model' | 'group' | 'sequential', with the memory it needs) from the sizes of the model's parts;
:func:`plan_slicing_tiling` does the same for attention slicing and VAE tiling at a given pixel count.
Off CUDA nothing is offloaded; on MPS attention is sliced by default. The plan is applied by
:class:`studio.engines.image_loading.PipelineSet`.
"""

from __future__ import annotations

from pathlib import Path

from ..models import families, memory_plan
from ..models.device import DeviceChoice
from ..models.memory_plan import MemoryPlan, Parts
from ..models.resolve import ResolvedModel

GB = 1024**3


def _largest(folder: Path, part: str) -> int:
    sub = folder / part
    if not sub.is_dir():
        return 0
    files = [f.stat().st_size for f in sub.glob("*.safetensors")]
    plain = [f.stat().st_size for f in sub.glob("*.safetensors") if ".fp16." not in f.name]
    return sum(plain) if plain else max(files, default=0)  # sharded weights add up; an fp16 variant alone


def parts_of(model: ResolvedModel, family: str, transformer_file: Path | None = None) -> Parts:
    """The size of each part of a picture model, from its files (a catalog entry's size when only that is
    known): the denoiser (UNet or transformer), the CLIP encoders, the T5 encoder, the VAE."""
    if model.entry is not None and model.entry.memory_bytes and not model.path.is_dir():
        return Parts(denoiser=int(model.entry.memory_bytes * 0.7), text=int(model.entry.memory_bytes * 0.3))
    if model.path.is_file():
        size = model.path.stat().st_size
        return Parts(denoiser=int(size * 0.8), text=int(size * 0.15), vae=int(size * 0.05))
    folder = model.path
    t5_part = {"flux": "text_encoder_2", "sd3": "text_encoder_3"}.get(family, "")
    text_parts = [p for p in ("text_encoder", "text_encoder_2", "text_encoder_3") if p != t5_part]
    denoiser = transformer_file.stat().st_size if transformer_file else _largest(folder, "transformer") or _largest(folder, "unet")
    return Parts(
        denoiser=denoiser,
        text=sum(_largest(folder, p) for p in text_parts),
        t5=_largest(folder, t5_part) if t5_part else 0,
        vae=_largest(folder, "vae"),
        blocks=57 if family == "flux" else 24 if family == "sd3" else 12,
    )


def weights_bytes(model: ResolvedModel) -> int:
    """Rough size of the weights to load (bytes on disk of one variant)."""
    if model.entry is not None and model.entry.memory_bytes:
        return model.entry.memory_bytes
    if model.path.is_file():
        return model.path.stat().st_size
    return parts_of(model, "").total


def plan_memory(requested: str, choice: DeviceChoice, parts: Parts, free: int | None, width: int, height: int,
                batch: int, *, quantize: str = "none", family: str = "", t5: str = "auto") -> MemoryPlan:
    """The memory plan for a job on ``choice`` (see :mod:`studio.models.memory_plan`)."""
    return memory_plan.choose(parts, choice.device, free, width, height, batch, requested=requested,
                              quantize=quantize, flow=families.is_flow(family), t5=t5)


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
