"""ControlNet for the image engine (no Qt): units checked before loading, control maps, the models, and
the inputs of diffusers' own ControlNet pipelines (SD 1.x/2.x and SDXL; txt2img, img2img, inpaint; several
units at once through diffusers' MultiControlNetModel).

* :func:`check_units` reads every unit's control image before any model loads (a message names the unit);
* :func:`control_maps` turns them into control maps at the generation size (a picture of another size is
  resized, and a notice says so; the Canvas's inpaint crops it like the picture);
* :func:`load_controlnet` loads a ControlNet folder (safetensors only); the models live with the loaded base
  model (:meth:`studio.engines.image_loading.PipelineSet.with_controlnets`), the last set used is kept;
* :func:`pipeline_inputs`: ``image``/``control_image``, ``controlnet_conditioning_scale``,
  ``control_guidance_start`` / ``control_guidance_end`` as the pipelines take them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from ..errors import InvalidRequest, UnsafeModelFile
from ..events import Event, Status
from ..models.device import DeviceChoice
from ..models.resolve import ResolvedModel
from ..requests import ControlUnit
from . import control_maps

#: the catalog's depth estimator, used by the 'depth' preprocessor
DEPTH_MODEL = "depth-anything-v2-small"


def check_units(units: tuple[ControlUnit, ...]) -> list:
    """Each unit's control picture as RGB, read now (before any model loads); the message names the unit."""
    images = []
    for i, unit in enumerate(units, 1):
        try:
            images.append(control_maps.read_control_image(unit.image))
        except InvalidRequest as exc:
            raise InvalidRequest(f"ControlNet unit {i} ({unit.model}): {exc}") from None
    return images


def control_maps_for(
    units: tuple[ControlUnit, ...],
    images: list,
    size: tuple[int, int],
    *,
    depth: Callable | None = None,
    transform: Callable | None = None,
) -> tuple[list, list[str]]:
    """The control maps (RGB, ``size``) and notices. ``transform(map)`` maps a map of the picture onto the
    generated region (inpaint); otherwise a map of another size is resized to ``size``."""
    from PIL import Image

    maps, notes = [], []
    for i, (unit, image) in enumerate(zip(units, images), 1):
        mapped = control_maps.preprocess(image, unit.mode, low=unit.low, high=unit.high, depth=depth)
        if transform is not None:
            mapped = transform(mapped)
        elif mapped.size != size:
            notes.append(
                f"ControlNet unit {i}: the control image is {mapped.width}×{mapped.height}; resized to "
                f"{size[0]}×{size[1]}, the picture's size."
            )
            mapped = mapped.resize(size, Image.Resampling.LANCZOS)
        maps.append(mapped)
    return maps, notes


def load_controlnet(model: ResolvedModel, choice: DeviceChoice):
    """A ControlNetModel from a diffusers folder (``config.json`` + ``.safetensors``) on ``choice``."""
    from diffusers import ControlNetModel

    folder = Path(model.path)
    if folder.is_file():
        raise InvalidRequest(
            f"ControlNet '{model.label}' is a single file: Studio loads ControlNets from their diffusers folder "
            "(config.json with diffusion_pytorch_model.safetensors) or a hub id."
        )
    if not (folder / "config.json").is_file():
        raise InvalidRequest(f"'{model.label}' is not a ControlNet folder (no config.json).")
    if not any(folder.glob("*.safetensors")):
        if any(folder.glob("*.bin")):
            raise UnsafeModelFile(
                f"ControlNet '{model.label}' only has pickled weights (.bin), which can run code when loaded. "
                "Pick a safetensors version.",
                folder,
            )
        raise InvalidRequest(f"ControlNet '{model.label}' has no weights (.safetensors) in {folder}.")
    try:
        net = ControlNetModel.from_pretrained(
            str(folder), torch_dtype=choice.torch_dtype(), use_safetensors=True, local_files_only=True
        )
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidRequest(f"'{model.label}' is not a ControlNet Studio can load ({str(exc)[:200]}).") from None
    return net.to(choice.device)


def check_fits(net, family: str, label: str, unet) -> None:
    """A ControlNet made for another model family (its text features' width differs) is refused."""
    want = getattr(unet.config, "cross_attention_dim", None)
    got = getattr(net.config, "cross_attention_dim", None)
    if want is not None and got is not None and want != got:
        raise InvalidRequest(
            f"ControlNet '{label}' was made for {got}-wide text features; this model ({family}) uses {want}: "
            "pick a ControlNet for this model's family (SD 1.5 or SDXL)."
        )


def load_depth_estimator(model: ResolvedModel, choice: DeviceChoice):
    """(model, processor) of a transformers depth model folder (Depth Anything), safetensors only."""
    from transformers import AutoImageProcessor, AutoModelForDepthEstimation

    folder = str(model.path)
    net = AutoModelForDepthEstimation.from_pretrained(
        folder, use_safetensors=True, local_files_only=True, trust_remote_code=False
    )
    processor = AutoImageProcessor.from_pretrained(folder, local_files_only=True)
    return net.to(choice.device).eval(), processor


def pipeline_inputs(mode: str, units: tuple[ControlUnit, ...], maps: list) -> dict:
    """The ControlNet arguments of the pipeline for ``mode`` (one unit: plain values; several: lists)."""
    one = len(units) == 1
    key = "image" if mode == "txt2img" else "control_image"
    return {
        key: maps[0] if one else list(maps),
        "controlnet_conditioning_scale": units[0].scale if one else [u.scale for u in units],
        "control_guidance_start": units[0].start if one else [u.start for u in units],
        "control_guidance_end": units[0].end if one else [u.end for u in units],
    }


# --- the image engine's steps (generators: they say what they load) -----------------------------------


def job_maps(request, runtime, images: list, transform, cancel) -> Generator[Event, None, tuple]:
    """The units' control maps at the generation size, and notices (depth loads Depth Anything for the time
    it runs, on the compute thread)."""
    depth = None
    if any(u.mode == "depth" for u in request.controlnets):
        model = runtime.resolve(DEPTH_MODEL, "")
        yield Status(f"Loading {model.label}…")
        estimator = runtime.compute.call(load_depth_estimator, model, runtime.choice())

        def depth(image):
            return control_maps.depth_map(image, estimator)

    cancel.check()
    size = (request.width, request.height)
    return runtime.compute.call(control_maps_for, request.controlnets, images, size, depth=depth, transform=transform)


def job_pipeline(request, runtime, pset, task, control: list, choice) -> Generator[Event, None, Any]:
    """The ControlNet pipeline for the task on the loaded model (the ControlNets loaded or reused), its
    ControlNet inputs added to ``task.inputs``; a ControlNet of another family is refused."""
    models = {m.id: m for m, _ in control}
    missing = [i for i in models if i not in pset._controlnets]
    if missing:
        yield Status(f"Loading {len(missing)} ControlNet(s)…")

    def load(model_id: str):
        return runtime.compute.call(load_controlnet, models[model_id], choice)

    nets = pset.controlnet_models([m.id for m, _ in control], load)
    for (model, _), net in zip(control, nets):
        check_fits(net, pset.family, model.label, pset.txt2img.unet)
    task.inputs.update(pipeline_inputs(task.mode, request.controlnets, [m for _, m in control]))
    return pset.with_controlnets(task.mode, nets)
