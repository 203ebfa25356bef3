"""``studio generate image``: text-to-image / image-to-image to PNG files with full metadata.

Stable flags::

    studio generate image --prompt P --model M [--negative-prompt N] [--width W] [--height H] [--steps S]
        [--guidance G] [--scheduler NAME] [--seed X] [--batch-size B] [--init-image FILE --strength F]
        [--lora FILE[:W]]... --out FILE.png

With B > 1 the images go to FILE-0.png, FILE-1.png, … Each PNG carries an AUTOMATIC1111 ``parameters``
chunk and Studio's own JSON. The written paths are printed on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..events import Output, Progress
from ..library.atomic import atomic_write_bytes
from ..requests import SCHEDULERS, ImageRequest, LoraSpec
from .common import add_request_arguments, add_runtime_flags, match_choice, request_kwargs_from_args, run_request

#: The request fields offered as flags (spelled, typed and described by the request's declarations).
FIELDS = ("prompt", "model", "negative_prompt", "width", "height", "num_inference_steps", "guidance_scale",
          "scheduler", "seed", "batch_size", "init_image", "strength")


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


def out_paths(out: Path, count: int) -> list[Path]:
    if count <= 1:
        return [out]
    suffix = out.suffix or ".png"
    return [out.with_name(f"{out.stem}-{i}{suffix}") for i in range(count)]


def add_parser(gen_sub) -> None:
    p = gen_sub.add_parser("image", help="text-to-image or image-to-image with a Stable Diffusion model")
    add_request_arguments(p, ImageRequest, FIELDS, required=("model",))
    p.add_argument("--lora", metavar="FILE[:W]", type=lora_spec, action="append", default=[],
                   help="a LoRA .safetensors file with its weight (default 1); repeatable")
    p.add_argument("--out", metavar="FILE.png", type=Path, required=True,
                   help="the PNG to write (FILE-0.png, FILE-1.png … when the batch size is above 1)")
    add_runtime_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..library.metadata import png_bytes

    request = ImageRequest(loras=tuple(args.lora), **request_kwargs_from_args(ImageRequest, args, FIELDS))
    targets = out_paths(args.out, request.batch_size)
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
