"""The image power tools in the A1111 ``parameters`` text, as A1111 and its ControlNet extension write them,
and read back (a leaf: no engines, no Qt).

* ``ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny, Weight: 1, …, Guidance Start: 0, Guidance End: 1"``
  one field per unit (sd-webui-controlnet's layout; Studio's preprocessors named as its modules);
* ``Hires upscale: 2, Hires steps: 10, Hires upscaler: Lanczos`` with ``Denoising strength`` the hires
  strength and ``Size`` the first pass's size (A1111 txt2img);
* ``IP-Adapter`` as a ControlNet unit too (``Module: ip-adapter_clip``), as the extension writes it: one unit
  per reference picture, each with its ``Weight`` (the first is ``ip_adapter``/``ip_scale``, the others ``ip_extra``).

The control images themselves are not in A1111's text (A1111 does not save them); Studio's JSON keeps them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

#: Studio's preprocessor → the module name sd-webui-controlnet writes
MODULES = {
    "none": "none",
    "canny": "canny",
    "scribble": "scribble_xdog",
    "lineart": "lineart_standard",
    "tile": "tile_resample",
    "shuffle": "shuffle",
    "depth": "depth_anything_v2",
}
_MODES = {v: k for k, v in MODULES.items()}
_MODES.update({"depth_anything": "depth", "depth_midas": "depth", "scribble_hed": "scribble", "lineart_realistic": "lineart",
               "invert": "none"})


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _name(spec: Any) -> str:
    text = str(spec or "")
    path = Path(text)
    return path.stem if path.suffix else (path.name or text)


def format_fields(p: dict) -> list[tuple[str, Any]]:
    """The A1111 fields for the tools a job used (``p``: the image's params)."""
    fields: list[tuple[str, Any]] = []
    hires = p.get("hires_scale")
    if isinstance(hires, (int, float)) and not isinstance(hires, bool) and hires > 1:
        fields.append(("Denoising strength", _number(p.get("hires_strength", 0.5))))
        fields.append(("Hires upscale", _number(float(hires))))
        if p.get("hires_steps"):
            fields.append(("Hires steps", p["hires_steps"]))
        fields.append(("Hires upscaler", p.get("hires_upscaler") or _name(p.get("upscaler")) or "Lanczos"))
    units = p.get("controlnets") or []
    index = 0
    for unit in units if isinstance(units, list) else []:
        if not isinstance(unit, dict):
            continue
        parts = [
            ("Module", MODULES.get(str(unit.get("mode", "none")), "none")),
            ("Model", _name(unit.get("model"))),
            ("Weight", _number(unit.get("scale", 1.0))),
            ("Resize Mode", "Just Resize"),
            ("Threshold A", _number(float(unit.get("low", 100)))),
            ("Threshold B", _number(float(unit.get("high", 200)))),
            ("Guidance Start", _number(float(unit.get("start", 0.0)))),
            ("Guidance End", _number(float(unit.get("end", 1.0)))),
            ("Control Mode", "Balanced"),
        ]
        fields.append((f"ControlNet {index}", ", ".join(f"{k}: {v}" for k, v in parts)))  # quoted by the writer
        index += 1
    adapter = p.get("ip_adapter")
    references = [(adapter, p.get("ip_scale", 1.0))] if adapter else []
    extra = p.get("ip_extra") if adapter else None
    for unit in extra if isinstance(extra, list) else []:
        if isinstance(unit, dict) and unit.get("model"):
            references.append((unit["model"], unit.get("scale", 1.0)))
    for model, scale in references:
        parts = [("Module", "ip-adapter_clip"), ("Model", _name(model)), ("Weight", _number(scale))]
        fields.append((f"ControlNet {index}", ", ".join(f"{k}: {v}" for k, v in parts)))  # quoted by the writer
        index += 1
    return fields


def _float(text: Any) -> float | None:
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_fields(settings: dict[str, str], pairs_of) -> dict:
    """Raw request fields from A1111 settings (``pairs_of`` splits a unit's quoted ``Key: value, …`` text)."""
    raw: dict[str, Any] = {}
    if "Hires upscale" in settings:
        raw["hires_scale"] = _float(settings["Hires upscale"])
        raw["hires_strength"] = _float(settings.get("Denoising strength", ""))
        raw["hires_steps"] = _float(settings.get("Hires steps", "0"))
        upscaler = settings.get("Hires upscaler", "")
        raw["upscaler"] = "" if upscaler.lower().startswith(("lanczos", "latent", "none")) else upscaler
    units = []
    for key in sorted((k for k in settings if k.startswith("ControlNet ")), key=lambda k: k[11:].zfill(4)):
        values = {k.strip(): v.strip() for k, v in pairs_of(settings[key])}
        module = values.get("Module", "none")
        if module.startswith("ip-adapter"):
            if "ip_adapter" not in raw:
                raw["ip_adapter"] = values.get("Model", "")
                raw["ip_scale"] = _float(values.get("Weight", "1"))
            else:  # a further reference picture (A1111 does not keep the pictures: Studio's JSON does)
                raw.setdefault("ip_extra", []).append(
                    {"model": values.get("Model", ""), "image": "", "scale": _float(values.get("Weight", "1"))})
            continue
        units.append({
            "model": values.get("Model", "").split(" [")[0],
            "mode": _MODES.get(module, "none"),
            "scale": _float(values.get("Weight", "1")),
            "start": _float(values.get("Guidance Start", "0")),
            "end": _float(values.get("Guidance End", "1")),
            "low": _float(values.get("Threshold A", "100")),
            "high": _float(values.get("Threshold B", "200")),
            "image": "",
        })
    if units:
        raw["controlnets"] = units
    return raw


def _in(value: Any, lo: float, hi: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and lo <= value <= hi


def normalize_fields(raw: dict) -> dict:
    """The tool fields of ``raw`` that are present, of the right type and in range (never raises)."""
    out: dict[str, Any] = {}
    if _in(raw.get("hires_scale"), 1.0, 4.0) and raw["hires_scale"] > 1.0:  # only what a job used
        out["hires_scale"] = float(raw["hires_scale"])
        if _in(raw.get("hires_strength"), 0.0001, 1.0):
            out["hires_strength"] = float(raw["hires_strength"])
        if _in(raw.get("hires_steps"), 0, 500) and float(raw["hires_steps"]).is_integer():
            out["hires_steps"] = int(raw["hires_steps"])
    for key in ("upscaler", "ip_adapter", "ip_image"):
        if isinstance(raw.get(key), str) and 0 < len(raw[key]) <= 4096:
            out[key] = raw[key]
    if out.get("ip_adapter") and _in(raw.get("ip_scale"), 0.0, 2.0):
        out["ip_scale"] = float(raw["ip_scale"])
    extra = raw.get("ip_extra")
    if out.get("ip_adapter") and isinstance(extra, list):
        kept_refs = []
        for unit in extra[:8]:
            if isinstance(unit, dict) and isinstance(unit.get("model"), str) and 0 < len(unit["model"]) <= 4096:
                image = unit.get("image") if isinstance(unit.get("image"), str) and len(unit["image"]) <= 4096 else ""
                scale = float(unit["scale"]) if _in(unit.get("scale"), 0.0, 2.0) else 1.0
                kept_refs.append({"model": unit["model"], "image": image, "scale": scale})
        if kept_refs:
            out["ip_extra"] = kept_refs
    embeddings = raw.get("embeddings")
    if isinstance(embeddings, list) and embeddings and all(isinstance(e, str) and len(e) <= 4096 for e in embeddings[:32]):
        out["embeddings"] = embeddings[:32]
    units = raw.get("controlnets")
    if isinstance(units, list):
        kept = []
        for unit in units[:8]:
            if not isinstance(unit, dict) or not isinstance(unit.get("model"), str) or not unit["model"]:
                continue
            clean = {"model": unit["model"][:4096], "image": unit.get("image") if isinstance(unit.get("image"), str) else ""}
            clean["mode"] = unit.get("mode") if unit.get("mode") in MODULES else "none"
            for key, lo, hi, default in (("scale", 0, 2, 1.0), ("start", 0, 1, 0.0), ("end", 0, 1, 1.0)):
                clean[key] = float(unit[key]) if _in(unit.get(key), lo, hi) else default
            for key, default in (("low", 100), ("high", 200)):
                value = unit.get(key)
                clean[key] = int(value) if _in(value, 1, 255) else default
            kept.append(clean)
        if kept:
            out["controlnets"] = kept
    return out
