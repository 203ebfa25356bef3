"""A ComfyUI workflow in API format (``{node id: {"class_type", "inputs"}}``) from an
:class:`~studio.requests.ImageRequest`, with core nodes only (what every ComfyUI has, no custom nodes):

``CheckpointLoaderSimple`` → ``LoraLoader``… → two ``CLIPTextEncode`` → ``EmptyLatentImage`` (text to
image) or ``LoadImage`` → ``VAEEncode`` (image to image) [→ ``LoadImageMask`` → ``SetLatentNoiseMask``
(inpaint)] → ``KSampler`` → ``VAEDecode`` → ``SaveImage``.

One workflow makes one image: image i of a batch runs with seed + i, as Studio's local engine does,
so a seed reproduces the same picture on the same server whatever the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import InvalidRequest
from ...requests import ImageRequest

#: Studio's sampler names (A1111's) → ComfyUI's (sampler_name, scheduler); "" = the model's usual Euler
SAMPLERS: dict[str, tuple[str, str]] = {
    "": ("euler", "normal"),
    "Euler": ("euler", "normal"),
    "Euler a": ("euler_ancestral", "normal"),
    "DPM++ 2M": ("dpmpp_2m", "normal"),
    "DPM++ 2M Karras": ("dpmpp_2m", "karras"),
    "DPM++ SDE Karras": ("dpmpp_sde", "karras"),
    "DDIM": ("ddim", "ddim_uniform"),
    "UniPC": ("uni_pc", "normal"),
    "Heun": ("heun", "normal"),
    "LMS": ("lms", "normal"),
    "LCM": ("lcm", "sgm_uniform"),
}

CORE_NODES = ("CheckpointLoaderSimple", "LoraLoader", "CLIPTextEncode", "EmptyLatentImage", "LoadImage",
              "LoadImageMask", "VAEEncode", "SetLatentNoiseMask", "KSampler", "VAEDecode", "SaveImage")
OUTPUT_NODE = "save"
SAMPLER_NODE = "sampler"


def comfy_sampler(name: str) -> tuple[str, str]:
    try:
        return SAMPLERS[name]
    except KeyError:
        offered = ", ".join(n for n in SAMPLERS if n)
        raise InvalidRequest(f"The sampler '{name}' has no ComfyUI counterpart: pick one of {offered}.") from None


@dataclass(frozen=True)
class Inputs:
    """Pictures already uploaded to the server (names as ``/upload/image`` returned them)."""

    image: str = ""  # image to image / inpaint
    mask: str = ""  # inpaint: white = repaint


def build_workflow(request: ImageRequest, seed: int, inputs: Inputs = Inputs(), *, denoise: float | None = None,
                   prefix: str = "studio") -> dict:
    sampler, scheduler = comfy_sampler(request.scheduler)
    nodes: dict[str, dict] = {}

    def node(key: str, class_type: str, **inputs) -> list:
        nodes[key] = {"class_type": class_type, "inputs": inputs}
        return [key, 0]

    ckpt = node("checkpoint", "CheckpointLoaderSimple", ckpt_name=request.model)
    model, clip = ckpt, ["checkpoint", 1]
    vae = ["checkpoint", 2]
    for i, lora in enumerate(request.loras):
        key = f"lora{i}"
        node(key, "LoraLoader", model=model, clip=clip, lora_name=Path(lora.path).name,
             strength_model=lora.weight, strength_clip=lora.weight)
        model, clip = [key, 0], [key, 1]
    positive = node("positive", "CLIPTextEncode", text=request.prompt, clip=clip)
    negative = node("negative", "CLIPTextEncode", text=request.negative_prompt, clip=clip)
    if inputs.image:
        picture = node("image", "LoadImage", image=inputs.image)
        latent = node("encode", "VAEEncode", pixels=picture, vae=vae)
        if inputs.mask:
            mask = node("mask", "LoadImageMask", image=inputs.mask, channel="red")
            latent = node("masked", "SetLatentNoiseMask", samples=latent, mask=mask)
        strength = request.strength if denoise is None else denoise
    else:
        latent = node("latent", "EmptyLatentImage", width=request.width, height=request.height, batch_size=1)
        strength = 1.0
    sampled = node(SAMPLER_NODE, "KSampler", model=model, seed=seed, steps=request.num_inference_steps,
                   cfg=request.guidance_scale, sampler_name=sampler, scheduler=scheduler, positive=positive,
                   negative=negative, latent_image=latent, denoise=strength)
    decoded = node("decode", "VAEDecode", samples=sampled, vae=vae)
    node(OUTPUT_NODE, "SaveImage", images=decoded, filename_prefix=prefix)
    return nodes
