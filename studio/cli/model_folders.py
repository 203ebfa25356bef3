"""``studio models add-folder DIR``, ``folders``, ``rescan``, ``remove-folder DIR``: model folders
used in place (ComfyUI, AUTOMATIC1111/Forge, LM Studio, GPT4All, Ollama, a Hugging Face cache).

Nothing is copied: Studio reads the files where they are (:mod:`studio.models.folders`).
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter

from ..errors import ModelNotFound
from ..models.catalog import human_size
from ..models.folders import FolderScan, ModelFolders
from .common import path_arg

ROLE_WORDS = {"model": "model", "lora": "LoRA", "vae": "VAE", "controlnet": "ControlNet", "upscaler": "upscaler",
              "embedding": "embedding"}


def add_parsers(msub) -> None:
    p = msub.add_parser("add-folder", help="use the models in a folder where they are (ComfyUI, A1111, LM Studio, "
                                           "GPT4All, Ollama, a Hugging Face cache); nothing is copied")
    p.add_argument("path", type=path_arg, metavar="DIR", help="the folder (e.g. ComfyUI/models, "
                                                               "stable-diffusion-webui, ~/.ollama/models)")
    p.add_argument("--json", action="store_true", help="what was found, as JSON")
    p.set_defaults(func=run_add_folder)
    p = msub.add_parser("folders", help="the model folders in use and what they hold")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run_folders)
    p = msub.add_parser("rescan", help="read the model folders again (models that are gone show as missing)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run_rescan)
    p = msub.add_parser("remove-folder", help="stop using a model folder (its files stay)")
    p.add_argument("path", type=path_arg, metavar="DIR")
    p.set_defaults(func=run_remove_folder)


def _records(scan: FolderScan) -> dict:
    return {
        "path": scan.path,
        "files_seen": scan.files_seen,
        "seconds": round(scan.seconds, 4),
        "problems": scan.problems,
        "models": [
            {"id": f"folder:{m.path}" if m.runnable else "", "name": m.name, "path": m.path, "modality": m.modality,
             "role": m.role, "format": m.format, "family": m.family, "layout": m.layout, "config": m.config,
             "size_bytes": m.size_bytes, "state": "missing" if m.missing else "local", "note": m.note}
            for m in scan.models
        ],
    }


def _print(scan: FolderScan) -> None:
    counts = Counter(
        f"{m.modality} model" if m.role == "model" else ROLE_WORDS.get(m.role, m.role) for m in scan.models if not m.missing
    )
    summary = ", ".join(f"{n} {what}{'s' if n > 1 else ''}" for what, n in sorted(counts.items())) or "no models"
    print(f"{scan.path}: {summary} ({scan.files_seen} files read in {scan.seconds:.2f} s)")
    for m in scan.models:
        kind = f"{m.modality} model" if m.role == "model" else ROLE_WORDS.get(m.role, m.role)
        extra = [x for x in (m.family, m.format, human_size(m.size_bytes) if m.size_bytes else "") if x]
        state = "  MISSING" if m.missing else ""
        config = f"  config {m.config}" if m.config else ""
        print(f"  {kind:<13} {m.name}  ({', '.join(extra)}){state}{config}")
        print(f"      {m.path}")
    for problem in scan.problems[:10]:
        print(f"  note: {problem}")


def run_add_folder(args: argparse.Namespace) -> int:
    path = args.path.expanduser()
    if not path.is_dir():
        raise ModelNotFound(f"No folder at '{args.path}'.")
    try:
        scan = ModelFolders().add(path)
    except OSError as exc:
        raise ModelNotFound(f"'{args.path}' cannot be read ({exc.strerror or exc}).") from None
    if args.json:
        print(json.dumps(_records(scan), indent=2, ensure_ascii=False, default=str))
    else:
        _print(scan)
        print("Nothing was copied: Studio uses these files where they are. `studio models list` shows the models.")
    return 0


def run_folders(args: argparse.Namespace) -> int:
    scans = ModelFolders().folders()
    for scan in scans:  # a file that vanished since the last scan shows as missing now
        for m in scan.models:
            m.missing = m.missing or not os.path.exists(m.path)
    if args.json:
        print(json.dumps([_records(s) for s in scans], indent=2, ensure_ascii=False, default=str))
    elif not scans:
        print("No model folders yet: `studio models add-folder DIR` adds one.")
    else:
        for scan in scans:
            _print(scan)
    return 0


def run_rescan(args: argparse.Namespace) -> int:
    scans = ModelFolders().rescan()
    if args.json:
        print(json.dumps([_records(s) for s in scans], indent=2, ensure_ascii=False, default=str))
    else:
        for scan in scans:
            _print(scan)
    return 0


def run_remove_folder(args: argparse.Namespace) -> int:
    if not ModelFolders().remove(args.path):
        raise ModelNotFound(f"'{args.path}' is not one of the model folders (`studio models folders` lists them).")
    print(f"Stopped using {args.path}; its files stay where they are.")
    return 0
