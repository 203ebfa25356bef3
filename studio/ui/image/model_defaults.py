"""A model's recommended settings, followed by every form that picks an image model (Image, Canvas).

Picking a catalog model applies its recommended values (SD-Turbo: 1 step, CFG 0). Any other model
gets the generic ones (the request fields' defaults: 25 steps, CFG 7; its native size), but only in
the fields that still hold the previous model's defaults: what the person typed stays.
No Qt: the forms read their boxes into a dict and write the result back.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ...models import families
from ...requests import ImageRequest, field_spec

#: the request fields a model recommends values for
KEYS = ("num_inference_steps", "guidance_scale", "width", "height")


def native_base(catalog, spec: str) -> int:
    """The side of the square a model was trained at: 1024 for SDXL base, else 512.

    Catalog entries say it through their defaults or family; for folders, ``model_index.json``
    names the pipeline class; for single files the name is the only hint (…xl…).
    """
    entry = catalog.find(spec, "image")
    if entry is not None:
        w, h = entry.defaults.get("width"), entry.defaults.get("height")
        if isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0:
            return int(round(math.sqrt(w * h) / 8) * 8)
        fam = families.family(entry.family)
        return fam.native if fam is not None and fam.key != "sd2" else 512
    if not spec:
        return 512
    path = Path(spec).expanduser()
    try:
        if path.is_dir() and (path / "model_index.json").is_file():
            fam = families.family(families.family_from_folder(path))
            if fam is not None and fam.key in ("sdxl", "sd3", "flux"):
                return fam.native
            data = json.loads((path / "model_index.json").read_text(encoding="utf-8"))
            return 1024 if "XL" in str(data.get("_class_name", "")) else 512
    except (OSError, ValueError):
        pass
    return 1024 if "xl" in path.name.lower() else 512


def model_family(catalog, spec: str) -> str:
    """The picked model's family ('sd1' … 'flux'; '' when its files do not say), from the catalog or its folder."""
    entry = catalog.find(spec, "image")
    if entry is not None:
        return entry.family
    path = Path(spec).expanduser() if spec else None
    try:
        if path is not None and path.is_dir():
            return families.family_from_folder(path)
    except OSError:
        pass
    return ""


def folder_defaults(spec: str) -> dict:
    """A model folder's recommended values from its family (FLUX schnell: 4 steps, no guidance …)."""
    path = Path(spec).expanduser() if spec else None
    try:
        if path is not None and path.is_dir() and (path / "model_index.json").is_file():
            fam = families.family_from_folder(path)
            if families.is_flow(fam):
                return families.defaults_for_folder(path)
    except OSError:
        pass
    return {}


def _norm(values: dict) -> dict:
    return {k: (round(float(v), 2) if k == "guidance_scale" else v) for k, v in values.items()}


class ModelDefaults:
    """Remembers the defaults applied last, to tell a typed value from a default one."""

    def __init__(self, catalog) -> None:
        self.catalog = catalog
        self.applied: dict | None = None  # the defaults applied for the current model
        self.base = 512  # the current model's native side

    def follow(self, spec: str, current: dict) -> dict:
        """The values for ``KEYS`` once model ``spec`` is picked, from the form's ``current`` ones."""
        entry = self.catalog.find(spec, "image")
        self.base = native_base(self.catalog, spec)
        generic = {
            "num_inference_steps": field_spec(ImageRequest, "num_inference_steps").default,
            "guidance_scale": field_spec(ImageRequest, "guidance_scale").default,
            "width": self.base,
            "height": self.base,
        }
        recommended = dict(entry.defaults) if entry is not None and entry.defaults else folder_defaults(spec)
        new = {**generic, **{k: v for k, v in recommended.items() if k in KEYS}}
        current = _norm(current)
        values = dict(current)
        for key, value in new.items():
            if key in recommended or self.applied is None or current.get(key) == self.applied.get(key):
                values[key] = value
        self.applied = _norm(new)
        return values
