"""What a person needs to know on first launch, without Qt: where the library and the models live,
whether a GPU was found (and if not, why), and what works offline right now.

The welcome dialog (:mod:`studio.ui.welcome`) shows it; :func:`gpu_status` imports torch, so the
dialog calls it off the UI thread.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .catalog import MODALITIES, Catalog, hf_cache_dir

READY_STATES = ("bundled", "downloaded", "local")
WHAT = {"text": "Chat and writing", "image": "Images", "speech": "Speech", "music": "Music"}


@dataclass(frozen=True)
class GpuStatus:
    found: bool
    text: str  # one or two sentences for a person


def gpu_status() -> GpuStatus:
    """Whether PyTorch can use a GPU here; when not, the most likely reason."""
    try:
        import torch
    except Exception as exc:  # a broken installation must still let the dialog open
        return GpuStatus(False, f"PyTorch could not start ({exc}); Studio cannot use a GPU.")
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        memory = props.total_memory / 1024**3
        kind = "ROCm" if getattr(torch.version, "hip", None) else f"CUDA {torch.version.cuda}"
        return GpuStatus(True, f"GPU found: {props.name} ({memory:.0f} GB, {kind}). Images, speech and music use it.")
    backend = getattr(torch.backends, "mps", None)
    if backend is not None and backend.is_available():
        return GpuStatus(True, "GPU found: Apple Metal (MPS). Images, speech and music use it.")
    driver = Path("/dev/nvidiactl").exists() or shutil.which("nvidia-smi") is not None
    if torch.version.cuda is None and not getattr(torch.version, "hip", None):
        why = ("this PyTorch is the CPU-only build" + (", though an NVIDIA driver is installed: install the CUDA "
                                                      "build of torch to use it" if driver else ""))
    elif not driver:
        why = "no NVIDIA GPU or driver was found (no /dev/nvidiactl, no nvidia-smi)"
    else:
        why = "an NVIDIA driver is installed but CUDA could not start (driver too old for this PyTorch, or no device visible)"
        if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
            why = "CUDA_VISIBLE_DEVICES is empty, which hides every GPU"
    return GpuStatus(False, f"No GPU in use: {why}. Everything runs on the CPU (slower for images and music).")


@dataclass(frozen=True)
class OfflineLine:
    modality: str
    ready: tuple[str, ...]  # names of the models here now

    def text(self) -> str:
        what = WHAT.get(self.modality, self.modality)
        if not self.ready:
            return f"{what}: no model here yet — download one in Models (once, while online) or add your folder."
        shown = ", ".join(self.ready[:3]) + (f" and {len(self.ready) - 3} more" if len(self.ready) > 3 else "")
        return f"{what}: works offline now with {shown}."


def offline_now(catalog: Catalog | None = None) -> list[OfflineLine]:
    """Per modality, the models that are on this computer (bundled, downloaded or local)."""
    catalog = catalog or Catalog()
    lines = []
    for modality in MODALITIES:
        ready = tuple(e.name for e in catalog.entries(modality, include_cached=True) if catalog.state(e) in READY_STATES)
        lines.append(OfflineLine(modality, ready))
    return lines


def locations(library_root: Path, catalog: Catalog | None = None) -> list[tuple[str, str]]:
    from .folders import ModelFolders

    catalog = catalog or Catalog()
    folders = [scan.path for scan in ModelFolders(catalog.folders_file).folders()]
    return [
        ("Your results (the library)", str(library_root)),
        ("Downloaded models", str(hf_cache_dir())),
        ("Your model folders, used in place", ", ".join(folders) or "none yet (Models → Add folder…)"),
    ]
