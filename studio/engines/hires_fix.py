"""Hires fix for the image engine (no Qt): generate at the model's size, upscale the picture (an upscaler model
through spandrel, or Lanczos), then refine it with image-to-image at ``hires_strength`` for ``hires_steps``
(0: the job's steps; as in A1111 only the last ``strength`` part of the schedule runs), with the same prompt,
seed and sampler; the job's ControlNet units (their maps enlarged) and IP-Adapter guide that pass too, as in
A1111. The upscaler stays with the loaded base model (the last one used)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidRequest
from ..requests import ImageRequest
from . import image_loading as loading


def target_size(request: ImageRequest, family: str) -> tuple[int, int] | None:
    """The second pass's size (multiples of 8), checked against the family's limit; None when off."""
    if request.hires_scale <= 1.0:
        return None
    width = max(64, int(round(request.width * request.hires_scale / 8.0)) * 8)
    height = max(64, int(round(request.height * request.hires_scale / 8.0)) * 8)
    loading.check_size(width, height, family)
    steps = request.hires_steps or request.num_inference_steps
    if int(steps * request.hires_strength) < 1:
        raise InvalidRequest(
            f"Hires fix: with strength {request.hires_strength:g} and {steps} steps no denoising step runs: "
            "raise the hires steps or the hires strength."
        )
    return width, height


def upscaler_on(pset, model, choice, compute):
    """The spandrel upscaler ``model`` (ResolvedModel), kept with the loaded base model."""
    from .upscale import load_upscaler

    if model.id not in pset.upscalers:
        pset.upscalers.clear()
        pset.upscalers[model.id] = compute.call(load_upscaler, model.path, choice)
    return pset.upscalers[model.id]


@dataclass
class HiresPass:
    request: ImageRequest
    pset: Any
    size: tuple[int, int]
    desc: Any  # a spandrel model, or None for Lanczos
    family: str
    scheduler: Any  # the job's sampler (a fresh copy runs the second pass)
    ip_pipe: Any = None  # the first pass's pipeline when it holds an IP-Adapter (on the shared UNet), and its picture
    ip_image: Any = None
    control: list = field(default_factory=list)  # (ControlNet, unit, control map): they guide the second pass too

    def upscale(self, image, cancel=None):
        from PIL import Image

        if self.desc is not None:
            from .upscale import upscale_image

            image = upscale_image(self.desc, image, tile=512, cancel=cancel)
        return image if image.size == self.size else image.resize(self.size, Image.Resampling.LANCZOS)

    def img2img(self, image, seed: int) -> tuple[Any, dict]:
        import torch

        r = self.request
        if self.control:  # as in A1111, the units guide the second pass too (their maps at its size)
            from PIL import Image

            from .image_control import pipeline_inputs

            pipe = self.pset.with_controlnets("img2img", [net for net, _, _ in self.control])
            extra = pipeline_inputs("img2img", tuple(u for _, u, _ in self.control),
                                    [m.resize(self.size, Image.Resampling.LANCZOS) for _, _, m in self.control])
        else:
            pipe, extra = self.pset.img2img(), {}
        self.pset.activate(pipe)
        pipe.scheduler = type(self.scheduler).from_config(self.scheduler.config)
        kwargs = dict(
            prompt=r.prompt,
            negative_prompt=r.negative_prompt,
            image=image,
            strength=r.hires_strength,
            num_inference_steps=r.hires_steps or r.num_inference_steps,
            guidance_scale=r.guidance_scale,
            num_images_per_prompt=1,
            generator=[torch.Generator("cpu").manual_seed(seed)],
            **extra,
        )
        if self.ip_pipe is not None:  # the adapter's image encoder, lent to the second pass
            pipe.image_encoder, pipe.feature_extractor = self.ip_pipe.image_encoder, self.ip_pipe.feature_extractor
            kwargs["ip_adapter_image"] = self.ip_image
        return pipe, kwargs

    def release(self, pipe) -> None:
        if self.ip_pipe is not None:
            pipe.image_encoder = None
            if hasattr(pipe, "safety_checker"):
                return
            pipe.feature_extractor = None
