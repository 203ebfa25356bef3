"""``studio info FILE.png [--json]``: the generation settings a PNG carries (Studio's own,
AUTOMATIC1111's ``parameters``, ComfyUI's ``prompt``/``workflow``), read with the bounded PNG-info
reader (:mod:`studio.library.png_info`), so any file answers quickly and in little memory."""

from __future__ import annotations

import argparse
import json

from ..library.inputs import UnusableInput, check_input_file

SOURCES = {"studio": "Studio", "a1111": "AUTOMATIC1111", "comfyui": "ComfyUI"}
LABELS = {
    "prompt": "Prompt",
    "negative_prompt": "Negative prompt",
    "model": "Model",
    "num_inference_steps": "Steps",
    "guidance_scale": "CFG scale",
    "scheduler": "Sampler",
    "seed": "Seed",
    "width": "Width",
    "height": "Height",
    "strength": "Denoising strength",
}


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="show the generation settings stored in a PNG (Studio, AUTOMATIC1111, ComfyUI)")
    p.add_argument("file", metavar="FILE.png", help="the PNG to read")
    p.add_argument("--json", action="store_true", help="machine-readable output (one JSON object)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..library.png_info import scan_png, settings_from_texts, studio_json

    path = check_input_file(args.file, "PNG")
    scan = scan_png(path)
    if not scan.is_png:
        raise UnusableInput(f"'{args.file}' is not a PNG file.")
    source, settings = settings_from_texts(scan.texts)
    if args.json:
        data = {"file": args.file, "source": source, "settings": settings}
        own = studio_json(scan.texts)
        if own:
            data["studio"] = own
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    if not settings:
        print(f"{args.file}: no generation settings found.")
        return 0
    print(f"{args.file}: {SOURCES.get(source, source)} settings")
    for key, label in LABELS.items():
        if key in settings:
            print(f"{label}: {settings[key]}")
    return 0

