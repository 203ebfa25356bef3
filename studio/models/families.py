"""Image model families: what each one is, read from its files, and what it needs (no Qt, no torch).

A *family* is the architecture a picture model belongs to; it decides the loader, the native size, the
sizes allowed, the samplers that fit and the good defaults:

* ``sd1``, ``sd2``, ``sdxl``: UNet latent-diffusion models (epsilon / v-prediction), any A1111 sampler;
* ``sd3``: Stable Diffusion 3.x (an MMDiT transformer on 16 latent channels, rectified flow);
* ``flux``: FLUX.1 (schnell, dev, Kontext; a transformer on 16 channels packed 2×2, rectified flow).

The flow-matching families (``sd3``, ``flux``) run only flow samplers, and FLUX needs sizes that are
multiples of 16 (its latents are packed 2×2 after the VAE's 8× down-scaling).

The family is told from the files, never from a name: a diffusers folder's ``model_index.json`` and
configs, a single-file checkpoint's tensor names, or a GGUF transformer's tensor names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Family:
    key: str
    name: str
    native: int  # the side it was trained at
    max_side: int  # refused above this (upscale instead)
    multiple: int = 8  # width and height must be multiples of this
    flow: bool = False  # rectified flow (flow-matching samplers only)
    defaults: dict = field(default_factory=dict)  # request values a new model of this family starts with


FAMILIES: dict[str, Family] = {
    f.key: f
    for f in (
        Family("sd1", "Stable Diffusion 1.x", 512, 1536,
               defaults={"width": 512, "height": 512, "num_inference_steps": 25, "guidance_scale": 7.0}),
        Family("sd2", "Stable Diffusion 2.x", 768, 1536,
               defaults={"width": 768, "height": 768, "num_inference_steps": 25, "guidance_scale": 7.0}),
        Family("sdxl", "Stable Diffusion XL", 1024, 2048,
               defaults={"width": 1024, "height": 1024, "num_inference_steps": 30, "guidance_scale": 6.0}),
        Family("sd3", "Stable Diffusion 3.x", 1024, 2048, multiple=16, flow=True,
               defaults={"width": 1024, "height": 1024, "num_inference_steps": 28, "guidance_scale": 4.5}),
        Family("flux", "FLUX.1", 1024, 2048, multiple=16, flow=True,
               defaults={"width": 1024, "height": 1024, "num_inference_steps": 28, "guidance_scale": 3.5}),
    )
}

#: FLUX.1 schnell (no guidance embedding): 4 steps, guidance off
FLUX_SCHNELL_DEFAULTS = {"width": 1024, "height": 1024, "num_inference_steps": 4, "guidance_scale": 0.0}

#: the samplers (A1111 names) that fit a flow-matching model; "" = the model's own (FlowMatch Euler)
FLOW_SAMPLERS = ("Euler",)

#: guidance and steps a family accepts (outside: a clear message before loading)
FLOW_GUIDANCE_MAX = 20.0


def family(key: str) -> Family | None:
    return FAMILIES.get(key)


def family_name(key: str) -> str:
    f = FAMILIES.get(key)
    return f.name if f else "this model"


def is_flow(key: str) -> bool:
    f = FAMILIES.get(key)
    return bool(f and f.flow)


def samplers_for(key: str, all_samplers: tuple[str, ...]) -> tuple[str, ...]:
    """The sampler names offered for a family: every one for UNet models, the flow ones for SD3/FLUX."""
    return tuple(s for s in all_samplers if s in FLOW_SAMPLERS) if is_flow(key) else all_samplers


def read_json(path: Path) -> dict:
    """A JSON object from a config file; {} when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def family_from_folder(folder: Path) -> str:
    """'sd1' | 'sd2' | 'sdxl' | 'sd3' | 'flux' | '' (unknown) from a diffusers folder's configs."""
    index = read_json(folder / "model_index.json")
    cls = str(index.get("_class_name", ""))
    transformer = read_json(folder / "transformer" / "config.json").get("_class_name", "")
    if cls.startswith("StableDiffusion3") or transformer == "SD3Transformer2DModel":
        return "sd3"
    if cls.startswith("Flux") or transformer == "FluxTransformer2DModel":
        return "flux"
    if "XL" in cls or "text_encoder_2" in index:
        return "sdxl"
    cross = read_json(folder / "unet" / "config.json").get("cross_attention_dim")
    return {768: "sd1", 1024: "sd2", 2048: "sdxl"}.get(cross, "") if isinstance(cross, int) else ""


def flux_variant(folder: Path) -> str:
    """'schnell' (no guidance embedding), 'kontext' (image editing) or 'dev' for a FLUX diffusers folder."""
    if "Kontext" in str(read_json(folder / "model_index.json").get("_class_name", "")):
        return "kontext"
    if read_json(folder / "transformer" / "config.json").get("guidance_embeds") is False:
        return "schnell"
    return "dev"


def defaults_for_folder(folder: Path) -> dict:
    """Good request defaults for a model folder, from its family (and FLUX variant)."""
    key = family_from_folder(folder)
    if key == "flux" and flux_variant(folder) == "schnell":
        return dict(FLUX_SCHNELL_DEFAULTS)
    f = FAMILIES.get(key)
    return dict(f.defaults) if f else {}


def transformer_family_from_keys(keys) -> str:
    """'sd3' | 'flux' | '' from a transformer's tensor names: original layout (``joint_blocks.``,
    ``double_blocks.``, with or without ``model.diffusion_model.``) or diffusers layout; a bare
    transformer, as GGUF quantizations ship it, or one inside a whole checkpoint."""
    sd3 = False
    for key in keys:
        k = key[len("model.diffusion_model."):] if key.startswith("model.diffusion_model.") else key
        if k.startswith(("double_blocks.", "single_blocks.", "single_transformer_blocks.")):
            return "flux"
        if k.startswith(("joint_blocks.", "pos_embed.proj.")):
            sd3 = True
    return "sd3" if sd3 else ""
