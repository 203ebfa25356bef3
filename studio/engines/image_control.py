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


def single_file_config(path: Path, unet_config: dict) -> dict:
    """The diffusers config of a single-file (A1111 / lllyasviel layout) ControlNet: the base model's UNet
    config (the shipped, weight-free one of its family) as ``ControlNetModel.from_unet`` reads it, with the
    conditioning embedding's channels read from the file's header (``input_hint_block.0/4/8/12``, or diffusers'
    ``controlnet_cond_embedding`` keys in files that keep them, as the SDXL ControlNets for A1111 do)."""
    import inspect

    from diffusers import ControlNetModel

    from .embeddings import _shapes

    shapes = _shapes(path)
    if "controlnet_cond_embedding.conv_in.weight" in shapes:  # diffusers' keys in one file (the SDXL ones A1111 uses)
        prefix, conv_in = "", "conv_in.weight"
        hint = [shapes.get(f"controlnet_cond_embedding.{k}.weight") for k in ("conv_in", "blocks.1", "blocks.3", "blocks.5")]
    else:  # the original layout: control_model.input_hint_block …
        prefix = "control_model." if any(k.startswith("control_model.") for k in shapes) else ""
        conv_in = f"{prefix}input_blocks.0.0.weight"
        hint = [shapes.get(f"{prefix}input_hint_block.{i}.weight") for i in (0, 4, 8, 12)]
    if any(h is None for h in hint):
        raise InvalidRequest(f"'{path.name}' is not a ControlNet (no conditioning embedding: input_hint_block).")
    accepted = set(inspect.signature(ControlNetModel.__init__).parameters) - {"self"}
    config = {k: v for k, v in unet_config.items() if k in accepted}
    config.update(_class_name="ControlNetModel", conditioning_embedding_out_channels=[h[0] for h in hint],
                  in_channels=shapes.get(conv_in, [0, config.get("in_channels", 4)])[1])
    return config


def _load_single_file(path: Path, label: str, choice: DeviceChoice, family: str, config_root: Path | None):
    import json
    import tempfile

    from diffusers import ControlNetModel

    from .image_loading import CONFIG_DIRS, shipped_configs

    if path.suffix.lower() != ".safetensors":
        raise UnsafeModelFile(
            f"ControlNet '{label}' is a pickled file ({path.suffix}), which can run code when loaded; Studio loads "
            "single-file ControlNets as .safetensors only.",
            path,
        )
    unet_config = (Path(config_root) if config_root else shipped_configs()) / CONFIG_DIRS.get(family, "sd15") / "unet" / "config.json"
    try:
        config = single_file_config(path, json.loads(unet_config.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"ControlNet '{label}' could not be read ({str(exc)[:200]}).") from None
    with tempfile.TemporaryDirectory(prefix="studio-controlnet-") as folder:
        (Path(folder) / "config.json").write_text(json.dumps(config), encoding="utf-8")
        try:
            return ControlNetModel.from_single_file(
                str(path), config=folder, torch_dtype=choice.torch_dtype(), local_files_only=True
            )
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise InvalidRequest(
                f"'{label}' is not a ControlNet for this model's family ({family or 'unknown'}) Studio can load "
                f"({str(exc)[:200]})."
            ) from None


def load_controlnet(model: ResolvedModel, choice: DeviceChoice, family: str = "sd1", config_root: Path | None = None):
    """A ControlNetModel on ``choice``: a diffusers folder (``config.json`` + ``.safetensors``), or one
    ``.safetensors`` file in A1111's layout (``models/ControlNet``) read with ``from_single_file`` offline, its
    config derived from the base model family's shipped UNet config (see :func:`single_file_config`)."""
    from diffusers import ControlNetModel

    folder = Path(model.path)
    if folder.is_file():
        return _load_single_file(folder, model.label, choice, family, config_root).to(choice.device)
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


def job_pipeline(request, runtime, pset, task, control: list, choice,
                 config_root: Path | None = None) -> Generator[Event, None, Any]:
    """The ControlNet pipeline for the task on the loaded model (the ControlNets loaded or reused), its
    ControlNet inputs added to ``task.inputs``; a ControlNet of another family is refused."""
    models = {m.id: m for m, _ in control}
    missing = [i for i in models if i not in pset._controlnets]
    if missing:
        yield Status(f"Loading {len(missing)} ControlNet(s)…")

    def load(model_id: str):
        return runtime.compute.call(load_controlnet, models[model_id], choice, pset.family, config_root)

    nets = pset.controlnet_models([m.id for m, _ in control], load)
    for (model, _), net in zip(control, nets):
        check_fits(net, pset.family, model.label, pset.txt2img.unet)
    task.inputs.update(pipeline_inputs(task.mode, request.controlnets, [m for _, m in control]))
    return pset.with_controlnets(task.mode, nets)
