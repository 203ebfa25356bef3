"""``studio generate image``: text-to-image / image-to-image to PNG files with full metadata.

Stable flags::

    studio generate image --prompt P --model M [--negative-prompt N] [--width W] [--height H] [--steps S]
        [--guidance G] [--scheduler NAME] [--seed X] [--batch-size B] [--init-image FILE --strength F]
        [--lora FILE[:W]]... --out FILE.png

With B > 1 the images go to FILE-0.png, FILE-1.png, … Each PNG carries an AUTOMATIC1111 ``parameters``
chunk and Studio's own JSON; ``.jpg``/``.jpeg``/``.webp`` carry the ``parameters`` text in EXIF. Every
value, input file and output path is checked before the model loads. The written paths are printed
on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..events import Output, Progress
from ..library.atomic import atomic_write_bytes
from ..library.outputs import IMAGE_FORMATS, check_output, numbered_targets
from ..library.outputs import numbered_paths as out_paths
from ..requests import SCHEDULERS, ImageRequest, LoraSpec
from .common import add_runtime_flags, check_image_inputs, path_arg, positive_int, run_request


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
    for name in SCHEDULERS:
        if name.lower() == text.strip().lower():
            return name
    return text  # the request's validation names the choices


def add_parser(gen_sub) -> None:
    p = gen_sub.add_parser("image", help="text-to-image or image-to-image with a Stable Diffusion model")
    add = p.add_argument
    add("--prompt", metavar="P", required=True, help="what to draw")
    add("--model", metavar="M", required=True, help="catalog id, hub id, diffusers folder or .safetensors file")
    add("--negative-prompt", metavar="N", default="", help="what to avoid")
    add("--width", metavar="W", type=positive_int, default=512, help="pixels, multiple of 8 (default 512)")
    add("--height", metavar="H", type=positive_int, default=512, help="pixels, multiple of 8 (default 512)")
    add("--steps", metavar="S", type=positive_int, default=25, help="denoising steps (default 25)")
    add("--guidance", metavar="G", type=float, default=7.0, help="CFG scale (default 7)")
    add("--scheduler", metavar="NAME", type=scheduler_name, default="",
        help=f"sampler: {', '.join(SCHEDULERS)} (default: the model's own)")
    add("--seed", metavar="X", type=positive_int, default=None, help="same seed, same image (default: random)")
    add("--batch-size", metavar="B", type=positive_int, default=1, help="images in one pass (default 1)")
    add("--init-image", metavar="FILE", type=path_arg, default=None, help="image-to-image: the starting picture")
    add("--strength", metavar="F", type=float, default=0.75,
        help="image-to-image: 0 keeps the picture, 1 replaces it (default 0.75)")
    add("--lora", metavar="FILE[:W]", type=lora_spec, action="append", default=[],
        help="a LoRA .safetensors file with its weight (default 1); repeatable")
    add("--out", metavar="FILE.png", type=path_arg, required=True,
        help="the image to write: .png (all settings), .jpg/.jpeg/.webp (A1111 text in EXIF); "
        "FILE-0.png, FILE-1.png … when the batch size is above 1")
    add_runtime_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..library.metadata import image_file_bytes

    request = ImageRequest(
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        model=args.model,
        width=args.width,
        height=args.height,
        num_inference_steps=args.steps,
        guidance_scale=args.guidance,
        scheduler=args.scheduler,
        seed=args.seed,
        batch_size=args.batch_size,
        init_image=str(args.init_image) if args.init_image else "",
        strength=args.strength,
        loras=tuple(args.lora),
    )
    request.validate()  # before anything is built from its values (a huge batch size fails here)
    targets = numbered_targets(check_output(args.out, IMAGE_FORMATS), request.batch_size)
    check_image_inputs(request)
    written: list[Path] = []
    progress_shown = False

    def on_event(ev) -> None:
        nonlocal progress_shown
        if isinstance(ev, Progress) and not args.quiet:
            eta = f", {ev.eta_s:.0f} s left" if ev.eta_s is not None else ""
            print(f"\rstep {ev.step}/{ev.total}{eta}   ", end="", file=sys.stderr, flush=True)
            progress_shown = True
        elif isinstance(ev, Output) and ev.kind == "image":
            target = targets[min(ev.index, len(targets) - 1)]
            atomic_write_bytes(target.path, image_file_bytes(ev.data, ev.params, target.format))
            written.append(target.path)

    try:
        result = run_request(request, args, on_event=on_event)
    finally:
        if progress_shown:
            print(file=sys.stderr)
    for path in written:
        print(path)
    if not args.quiet and result.stats:
        stats = result.stats
        print(
            f"{stats.get('images', 0)} image(s), {stats.get('steps_per_s', 0):.2f} steps/s, seed {stats.get('seed')}",
            file=sys.stderr,
        )
    return 0
