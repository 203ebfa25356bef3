"""Model-folder scan of 10,000 files: ``scan_folder`` against a raw walk that opens every weights file.

Builds a ComfyUI-like tree of N files (default 10,000): mostly small non-model files and empty weight
files, plus some tiny .safetensors files with real tensor names (checkpoint, LoRA, VAE) and GGUF
stubs, spread over nested folders. Times :func:`studio.models.folders.scan_folder` (cold, then a
rescan that reuses what it knows) and, in the same run, the bare minimum any scan must do:
``os.walk`` plus opening and reading 8 bytes of every file with a weights suffix.
Target: under 1 s for 10,000 files.

    python benchmarks/bench_scan.py [--files 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

from studio.models.folders import ModelFolders, scan_folder  # noqa: E402
from studio.models.sniff import WEIGHT_SUFFIXES  # noqa: E402

KEYS = {
    "checkpoint": ["model.diffusion_model.input_blocks.0.0.weight", "cond_stage_model.transformer.text_model.x"],
    "lora": ["lora_unet_a.lora_down.weight", "lora_unet_a.lora_up.weight"],
    "vae": ["encoder.conv_in.weight", "decoder.conv_out.weight"],
}


def build(root: Path, files: int) -> None:
    one = np.zeros((1,), dtype=np.float32)
    folders = ["checkpoints", "loras", "vae", "controlnet", "upscale_models", "embeddings", "diffusers"]
    for i in range(files):
        sub = root / "models" / folders[i % len(folders)] / f"group{i % 50}"
        sub.mkdir(parents=True, exist_ok=True)
        kind = i % 20
        if kind == 0:
            role = ("checkpoint", "lora", "vae")[(i // 20) % 3]
            save_file({k: one for k in KEYS[role]}, str(sub / f"m{i}.safetensors"))
        elif kind == 1:
            (sub / f"m{i}.gguf").write_bytes(b"NOPE" + b"\0" * 60)
        elif kind < 8:
            (sub / f"e{i}.safetensors").touch()
        else:
            (sub / f"n{i}.txt").write_bytes(b"x")


def raw_walk(root: Path) -> int:
    opened = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            if name.lower().endswith(WEIGHT_SUFFIXES):
                with open(os.path.join(dirpath, name), "rb") as f:
                    f.read(8)
                opened += 1
    return opened


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ComfyUI"
        build(root, args.files)
        raw_s, opened = timed(lambda: raw_walk(root), args.repeat)
        studio_s, scan = timed(lambda: scan_folder(root), args.repeat)
        folders = ModelFolders(Path(tmp) / "folders.json")
        folders.add(root)
        rescan_s, _ = timed(folders.rescan, args.repeat)
        print(f"{args.files} files, {opened} with a weights suffix, {len(scan.models)} models found")
        print(f"raw walk + open:  {raw_s * 1000:8.1f} ms")
        print(f"scan_folder:      {studio_s * 1000:8.1f} ms   ratio {studio_s / raw_s:.2f}")
        print(f"rescan (known):   {rescan_s * 1000:8.1f} ms   ratio {rescan_s / raw_s:.2f}")
        verdict = "PASS" if studio_s < 1.0 else "FAIL"
        print(f"scan of {args.files} files: {studio_s:.3f} s (target < 1 s): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
