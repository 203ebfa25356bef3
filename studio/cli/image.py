"""``studio generate image``: text-to-image / image-to-image to PNG files with full metadata.

Stable flags::

    studio generate image --prompt P --model M [--negative-prompt N] [--width W] [--height H] [--steps S]
        [--guidance G] [--scheduler NAME] [--seed X] [--batch-size B] [--init-image FILE --strength F]
        [--lora FILE[:W]]... [--memory-plan auto|gpu|model-offload|group-offload|sequential]
        [--quantize none|gguf|nf4|fp8] [--embedding FILE]...
        [--controlnet MODEL --control-image FILE [--control-mode canny|scribble|tile|lineart|shuffle|depth|none]
         [--control-scale F] [--control-start F] [--control-end F] [--low N] [--high N]]...
        [--hires-scale F [--hires-strength F] [--hires-steps N] [--upscaler MODEL]]
        [--ip-adapter MODEL --ip-image FILE [--ip-scale F]] --out FILE.png

Each ``--control-*`` flag belongs to the ``--controlnet`` before it (repeat the group for more units).

Inpainting (white in MASK is repainted; the output has the input's size) and outpainting::

    studio generate image --model M --prompt P --init-image IN.png --mask MASK.png [--mask-blur PX]
        [--inpaint-area masked|whole] [--padding PX] [--strength F]
        [--extend-left N] [--extend-right N] [--extend-top N] [--extend-bottom N] --out OUT.png

The picture to edit is ``--init-image``; ``--strength`` defaults to 1 when inpainting.

With B > 1 the images go to FILE-0.png, FILE-1.png, … Each PNG carries an AUTOMATIC1111 ``parameters``
chunk and Studio's own JSON; ``.jpg``/``.jpeg``/``.webp`` carry the ``parameters`` text in EXIF. Every
value, input file and output path is checked before the model loads. The written paths are printed
on stdout (with ``--json``: one JSON object with the paths and the statistics), progress on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engines.preflight import preflight
from ..errors import InvalidRequest
from ..events import ImageStats, Output, Progress
from ..library.atomic import atomic_write_bytes
from ..library.targets import IMAGE_FORMATS, check_output, numbered_targets
from ..models.memory_plan import CLI_NAMES
from ..requests import SCHEDULERS, ImageRequest, InpaintRequest, LoraSpec
from .image_units import add_ip_flags, add_unit_flags, ip_fields_from_args, units_from_args
from .common import (
    add_api_key_flag,
    add_request_arguments,
    api_key_from_env,
    make_runtime,
    add_runtime_flags,
    match_choice,
    path_arg,
    request_kwargs_from_args,
    finish,
    run_request,
)

#: The request fields offered as flags (spelled, typed and described by the request's declarations).
FIELDS = ("prompt", "model", "endpoint", "negative_prompt", "width", "height", "num_inference_steps",
          "guidance_scale", "scheduler", "seed", "batch_size", "init_image", "strength", "offload", "quantize", "t5",
          "attention_slicing", "vae_tiling", "hires_scale", "hires_strength", "hires_steps", "upscaler")
#: --ip-adapter / --ip-image / --ip-scale are grouped flags (image_units.add_ip_flags): one group per reference
#: What inpainting and outpainting add (their picture is --init-image).
INPAINT_FIELDS = ("mask", "mask_blur", "inpaint_area", "padding", "extend_left", "extend_right", "extend_top",
                  "extend_bottom")


def lora_spec(text: str) -> LoraSpec:
    """``FILE`` or ``FILE:WEIGHT`` (a Windows drive letter's colon is not a weight separator)."""
    head, sep, tail = text.rpartition(":")
    if sep and head and not (len(head) == 1 and tail.startswith(("\\", "/"))):
        try:
            return LoraSpec(head, float(tail))
        except ValueError:
            if head.lower().endswith(".safetensors"):
                raise argparse.ArgumentTypeError(f"LoRA weight must be a number, got {tail!r} in {text!r}") from None
    return LoraSpec(text, 1.0)


def scheduler_name(text: str) -> str:
    """Sampler names as A1111 writes them, matched without regard to case."""
    return match_choice(text, SCHEDULERS)


def add_parser(gen_sub) -> None:
    p = gen_sub.add_parser("image", help="text-to-image or image-to-image with a Stable Diffusion model, here or "
                           "on a ComfyUI server (--comfyui URL --model CHECKPOINT)")
    add_request_arguments(p, ImageRequest, FIELDS, required=("model",))
    add_request_arguments(p, InpaintRequest, INPAINT_FIELDS)
    p.set_defaults(strength=None)  # 0.75 for image-to-image, 1 for inpainting (see build_request)
    p.add_argument("--memory-plan", metavar="PLAN", choices=("auto", *CLI_NAMES), default=None,
                   help="the memory plan by its name: auto, gpu, model-offload, group-offload or sequential "
                   "(the same setting as --offload)")
    add_unit_flags(p)
    add_ip_flags(p)
    p.add_argument("--lora", metavar="FILE[:W]", type=lora_spec, action="append", default=[],
                   help="a LoRA .safetensors file with its weight (default 1); repeatable")
    p.add_argument("--out", metavar="FILE.png", type=path_arg, required=True,
                   help="the image to write: .png (all settings), .jpg/.jpeg/.webp (A1111 text in EXIF); "
                   "FILE-0.png, FILE-1.png … when the batch size is above 1")
    add_api_key_flag(p)
    add_runtime_flags(p)
    p.set_defaults(func=run)


def build_request(args: argparse.Namespace) -> ImageRequest | InpaintRequest:
    """An ImageRequest, or an InpaintRequest when --mask or an --extend-* flag is given."""
    inpaint_kwargs = request_kwargs_from_args(InpaintRequest, args, INPAINT_FIELDS)
    inpaint = bool(inpaint_kwargs["mask"]) or any(inpaint_kwargs[f"extend_{s}"] for s in ("left", "right", "top", "bottom"))
    kwargs = request_kwargs_from_args(ImageRequest, args, FIELDS)
    if args.memory_plan is not None:
        plan = "auto" if args.memory_plan == "auto" else CLI_NAMES[args.memory_plan]
        if kwargs["offload"] not in ("auto", plan):
            raise InvalidRequest(f"--memory-plan {args.memory_plan} and --offload {kwargs['offload']} disagree: give one.")
        kwargs["offload"] = plan
    try:
        kwargs["controlnets"] = units_from_args(args)
        kwargs.update(ip_fields_from_args(args))
    except argparse.ArgumentTypeError as exc:
        raise InvalidRequest(str(exc)) from None
    kwargs["embeddings"] = tuple(str(p) for p in args.embedding_files)
    if kwargs["strength"] is None:
        kwargs["strength"] = 1.0 if inpaint else ImageRequest.__dataclass_fields__["strength"].default
    if not inpaint:
        return ImageRequest(loras=tuple(args.lora), **kwargs)
    if not kwargs["init_image"]:
        raise InvalidRequest("--mask and --extend-* need the picture to edit: add --init-image IN.png.")
    image = kwargs.pop("init_image")
    return InpaintRequest(image=image, generation=ImageRequest(loras=tuple(args.lora), **kwargs), **inpaint_kwargs)


def run(args: argparse.Namespace) -> int:
    from ..library.metadata import image_file_bytes

    request = build_request(args)
    request.validate()  # before anything is built from its values (a huge batch size fails here)
    generation = request.generation if isinstance(request, InpaintRequest) else request
    targets = numbered_targets(check_output(args.out, IMAGE_FORMATS), generation.batch_size)
    if args.json and any(t.stream for t in targets):
        raise InvalidRequest("--json prints its JSON on stdout: write the image to a file with --out, not to a stream.")
    preflight(request)  # the pictures' headers, the LoRA files: before any model loads (the engine decodes once)
    written: list[Path] = []
    progress_shown = False

    def on_event(ev) -> Path | None:
        nonlocal progress_shown
        if isinstance(ev, Progress) and not args.quiet:
            eta = f", {ev.eta_s:.0f} s left" if ev.eta_s is not None else ""
            print(f"\rstep {ev.step}/{ev.total}{eta}   ", end="", file=sys.stderr, flush=True)
            progress_shown = True
        elif isinstance(ev, Output) and ev.media == "image":
            target = targets[min(ev.index, len(targets) - 1)]
            atomic_write_bytes(target.path, image_file_bytes(ev.data, ev.params, target.format))
            if not target.stream:  # a pipe or /dev/stdout gets the image only, no file name after it
                written.append(target.path)
            return target.path
        return None

    runtime = None
    if generation.endpoint:  # a ComfyUI server: its bearer token (if any) from the environment
        runtime = make_runtime(args)
        runtime.api_key = api_key_from_env(args)
    try:
        result = run_request(request, args, on_event=on_event, runtime=runtime, checked=True)
    finally:
        if progress_shown:
            print(file=sys.stderr)
    stats = result.stats
    summary = ""
    if isinstance(stats, ImageStats):
        summary = f"{stats.images} image(s), {stats.steps_per_s:.2f} steps/s, seed {stats.seed}"
    return finish(args, request, result, written, summary)
