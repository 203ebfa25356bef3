"""``studio generate image``: text-to-image / image-to-image to PNG files with full metadata.

Stable flags::

    studio generate image --prompt P --model M [--negative-prompt N] [--width W] [--height H] [--steps S]
        [--guidance G] [--scheduler NAME] [--seed X] [--batch-size B] [--init-image FILE --strength F]
        [--lora FILE[:W]]... --out FILE.png

Inpainting (white in MASK is repainted; the output has the input's size) and outpainting::

    studio generate image --model M --prompt P --init-image IN.png --mask MASK.png [--mask-blur PX]
        [--inpaint-area masked|whole] [--padding PX] [--strength F]
        [--extend-left N] [--extend-right N] [--extend-top N] [--extend-bottom N] --out OUT.png

With B > 1 the images go to FILE-0.png, FILE-1.png, … Each PNG carries an AUTOMATIC1111 ``parameters``
chunk and Studio's own JSON. The written paths are printed on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InvalidRequest
from ..events import Output, Progress
from ..library.atomic import atomic_write_bytes
from ..requests import INPAINT_AREAS, SCHEDULERS, ImageRequest, InpaintRequest, LoraSpec
from .common import add_runtime_flags, positive_int, run_request


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


def out_paths(out: Path, count: int) -> list[Path]:
    if count <= 1:
        return [out]
    suffix = out.suffix or ".png"
    return [out.with_name(f"{out.stem}-{i}{suffix}") for i in range(count)]


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
    add("--init-image", metavar="FILE", type=Path, default=None, help="image-to-image: the starting picture")
    add("--strength", metavar="F", type=float, default=None,
        help="image-to-image: 0 keeps the picture, 1 replaces it (default 0.75; 1 for inpainting)")
    add("--mask", metavar="MASK.png", type=Path, default=None,
        help="inpaint: white is repainted, black is kept; the size of --init-image")
    add("--mask-blur", metavar="PX", type=positive_int, default=8, help="inpaint: mask feathering (default 8)")
    add("--inpaint-area", choices=INPAINT_AREAS, default="masked",
        help="inpaint: 'masked' works on a crop around the mask at --width×--height, 'whole' on the whole picture")
    add("--padding", metavar="PX", type=positive_int, default=32,
        help="inpaint: context around the mask's bounding box (default 32)")
    for side in ("left", "right", "top", "bottom"):
        add(f"--extend-{side}", metavar="N", type=positive_int, default=0, help=f"outpaint: add N pixels on the {side}")
    add("--lora", metavar="FILE[:W]", type=lora_spec, action="append", default=[],
        help="a LoRA .safetensors file with its weight (default 1); repeatable")
    add("--out", metavar="FILE.png", type=Path, required=True,
        help="the PNG to write (FILE-0.png, FILE-1.png … when the batch size is above 1)")
    add_runtime_flags(p)
    p.set_defaults(func=run)


def build_request(args: argparse.Namespace) -> ImageRequest | InpaintRequest:
    """An ImageRequest, or an InpaintRequest when --mask or an --extend-* flag is given."""
    extends = (args.extend_left, args.extend_right, args.extend_top, args.extend_bottom)
    inpaint = args.mask is not None or any(extends)
    base = ImageRequest(
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
        init_image="" if inpaint or not args.init_image else str(args.init_image),
        strength=args.strength if args.strength is not None else (1.0 if inpaint else 0.75),
        loras=tuple(args.lora),
    )
    if not inpaint:
        return base
    if args.init_image is None:
        raise InvalidRequest("--mask and --extend-* need the picture to edit: add --init-image IN.png.")
    return InpaintRequest(
        base=base,
        image=str(args.init_image),
        mask=str(args.mask) if args.mask is not None else "",
        mask_blur=args.mask_blur,
        inpaint_area=args.inpaint_area,
        padding=args.padding,
        extend_left=args.extend_left,
        extend_right=args.extend_right,
        extend_top=args.extend_top,
        extend_bottom=args.extend_bottom,
    )


def run(args: argparse.Namespace) -> int:
    from ..library.metadata import png_bytes

    request = build_request(args)
    shared = request.base if isinstance(request, InpaintRequest) else request
    targets = out_paths(args.out, shared.batch_size)
    written: list[Path] = []
    progress_shown = False

    def on_event(ev) -> None:
        nonlocal progress_shown
        if isinstance(ev, Progress) and not args.quiet:
            eta = f", {ev.eta_s:.0f} s left" if ev.eta_s is not None else ""
            print(f"\rstep {ev.step}/{ev.total}{eta}   ", end="", file=sys.stderr, flush=True)
            progress_shown = True
        elif isinstance(ev, Output) and ev.media == "image":
            path = targets[ev.index] if ev.index < len(targets) else out_paths(args.out, ev.index + 1)[ev.index]
            atomic_write_bytes(path, png_bytes(ev.data, ev.params))
            written.append(path)

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
