"""``studio upscale IN.png --model MODEL [--scale N] [--tile PX] --out OUT.png``: a picture made larger with an
upscaler model (spandrel: Real-ESRGAN, SwinIR …), in overlapping tiles with progress per tile; and
``studio control IN.png --mode MODE [--low N --high N] --out MAP.png``: a ControlNet preprocessor's map.

Every value, the input picture and the output path are checked before a model loads; a request whose
result would be too large is refused with the size it would make."""

from __future__ import annotations

import argparse
import sys

from ..events import Output, Progress
from ..library.atomic import atomic_write_bytes
from ..library.targets import IMAGE_FORMATS, check_output
from ..requests import CONTROL_MODES, ControlUnit, UpscaleRequest
from .common import (
    ProgressLine,
    add_request_arguments,
    add_runtime_flags,
    finish,
    path_arg,
    request_kwargs_from_args,
    run_request,
)

FIELDS = ("model", "scale", "tile")


def add_parsers(sub) -> None:
    p = sub.add_parser("upscale", help="make a picture larger with an upscaler model (Real-ESRGAN, SwinIR …)")
    p.add_argument("image", metavar="IN.png", type=path_arg, help="the picture to upscale")
    add_request_arguments(p, UpscaleRequest, FIELDS, required=("model",))
    p.add_argument("--out", metavar="OUT.png", type=path_arg, required=True,
                   help="the picture to write: .png (with its parameters), .jpg/.jpeg/.webp")
    add_runtime_flags(p)
    p.set_defaults(func=run_upscale)

    c = sub.add_parser("control", help="turn a picture into a ControlNet control map (canny, depth …)")
    c.add_argument("image", metavar="IN.png", type=path_arg, help="the picture")
    c.add_argument("--mode", required=True, choices=[m for m in CONTROL_MODES if m != "none"],
                   help="the preprocessor")
    for name in ("low", "high"):
        spec = ControlUnit.__dataclass_fields__[name]
        c.add_argument(f"--{name}", type=int, default=spec.default, metavar="N",
                       help=f"canny: the {name} threshold, 1–255 (default {spec.default})")
    c.add_argument("--out", metavar="MAP.png", type=path_arg, required=True, help="the control map to write (.png)")
    c.add_argument("--device", default="auto", choices=("auto", "cuda", "mps", "cpu"), help="where depth runs")
    c.add_argument("--quiet", "-q", action="store_true", help="no messages on stderr")
    c.set_defaults(func=run_control)


def run_upscale(args: argparse.Namespace) -> int:
    from ..library.metadata import image_file_bytes

    request = UpscaleRequest(image=str(args.image), **request_kwargs_from_args(UpscaleRequest, args, FIELDS))
    request.validate()
    target = check_output(args.out, IMAGE_FORMATS)
    line = ProgressLine("tile", args.quiet)
    written = []

    def on_event(ev):
        if isinstance(ev, Progress):
            line.show(ev)
        elif isinstance(ev, Output) and ev.media == "image":
            atomic_write_bytes(target.path, image_file_bytes(ev.data, ev.params, target.format))
            written.append(target.path)
            return target.path
        return None

    try:
        result = run_request(request, args, on_event=on_event)
    finally:
        line.close()
    stats = result.stats
    summary = f"upscaled to {stats.width}×{stats.height} in {stats.seconds:.1f} s on {stats.device}" if stats else ""
    return finish(args, request, result, [p for p in written if not target.stream], summary)


def run_control(args: argparse.Namespace) -> int:
    from ..engines import control_maps, image_control
    from ..engines.base import Runtime
    from ..library.metadata import png_bytes

    unit = ControlUnit(model="-", image=str(args.image), mode=args.mode, low=args.low, high=args.high)
    unit.validate()
    target = check_output(args.out, {".png": "PNG"})
    image = control_maps.read_control_image(args.image)
    depth = None
    if args.mode == "depth":
        from ..models.download import cli_download

        runtime = Runtime(device=args.device, download=cli_download)
        model = runtime.resolve(image_control.DEPTH_MODEL, "")
        if not args.quiet:
            print(f"Loading {model.label}…", file=sys.stderr)
        estimator = image_control.load_depth_estimator(model, runtime.choice())

        def depth(picture):
            return control_maps.depth_map(picture, estimator)

    result = control_maps.preprocess(image, args.mode, low=args.low, high=args.high, depth=depth)
    params = {"kind": "control", "mode": args.mode, "source": str(args.image), "low": args.low, "high": args.high}
    atomic_write_bytes(target.path, png_bytes(result, params))
    if not target.stream:
        print(target.path)
    return 0
