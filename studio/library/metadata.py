"""Image metadata: write an AUTOMATIC1111 ``parameters`` text plus our own JSON; parse them back.

Writing (:func:`png_bytes`, :func:`image_file_bytes`): ``parameters`` in A1111's layout (prompt,
``Negative prompt: …``, then ``Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512,
Model: …``) so other tools read our images, and ``studio``: every parameter as JSON (PNG); JPEG and
WebP carry the ``parameters`` text in EXIF UserComment, as A1111 writes them.

Parsing (:func:`parse_a1111`, :func:`comfy_api`, :func:`comfy_workflow`, :func:`normalize`): texts
already read from a file (:mod:`studio.library.png_info` reads them, bounded) → request fields.
Every parser is linear in its input; wrong types or absurd values are dropped, never raised.
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import Any

from ..requests import MAX_PROMPT_CHARS, MAX_SEED, SCHEDULERS
from .metadata_tools import format_fields as tool_fields
from .metadata_tools import normalize_fields as normalize_tool_fields
from .metadata_tools import parse_fields as parse_tool_fields
from .store import to_json

# --- writing ------------------------------------------------------------------------------------


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _quote(text: str) -> str:
    """A1111 quotes values that would break its ``key: value, …`` line."""
    text = str(text)
    if "," not in text and "\n" not in text and ":" not in text and '"' not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def format_a1111(params: dict) -> str:
    """The ``parameters`` text AUTOMATIC1111 writes, from our params (or any dict with our keys)."""
    p = params if isinstance(params, dict) else {}
    lines = [str(p.get("prompt", "") or "")]
    negative = str(p.get("negative_prompt", "") or "")
    if negative:
        lines.append(f"Negative prompt: {negative}")
    fields: list[tuple[str, Any]] = []
    if p.get("num_inference_steps") is not None:
        fields.append(("Steps", p["num_inference_steps"]))
    sampler = p.get("sampler") or p.get("scheduler")
    if sampler:
        fields.append(("Sampler", sampler))
    if p.get("guidance_scale") is not None:
        fields.append(("CFG scale", _number(p["guidance_scale"])))
    if p.get("seed") is not None:
        fields.append(("Seed", p["seed"]))
    if p.get("first_pass_width") and p.get("first_pass_height"):  # hires fix: A1111 writes the first pass's size
        fields.append(("Size", f"{p['first_pass_width']}x{p['first_pass_height']}"))
    elif p.get("width") and p.get("height"):
        fields.append(("Size", f"{p['width']}x{p['height']}"))
    model = p.get("model_name") or p.get("model")
    if model:
        fields.append(("Model", model))
    if p.get("vae"):
        fields.append(("VAE", Path(str(p["vae"])).name))
    if p.get("mode") == "img2img" or p.get("init_image"):
        if p.get("strength") is not None:
            fields.append(("Denoising strength", _number(p["strength"])))
    if isinstance(p.get("batch_size"), int) and p["batch_size"] > 1:
        fields.append(("Batch size", p["batch_size"]))
    loras = p.get("loras") or []
    if isinstance(loras, list) and loras:
        names = [
            f"{Path(str(lo.get('path', ''))).stem}: {_number(lo.get('weight', 1.0))}" for lo in loras if isinstance(lo, dict)
        ]
        if names:
            fields.append(("Lora weights", ", ".join(names)))
    fields += [f for f in tool_fields(p) if f[0] != "Denoising strength" or not any(k == f[0] for k, _ in fields)]
    fields.append(("Version", "Studio"))
    lines.append(", ".join(f"{k}: {_quote(v) if isinstance(v, str) else v}" for k, v in fields))
    # a name taken from non-UTF-8 bytes (lone surrogates) must not make the file unwritable
    return "\n".join(lines).encode("utf-8", errors="replace").decode("utf-8")


def png_bytes(image, params: dict) -> bytes:
    """The PNG file for ``image`` with ``params`` embedded as text chunks (A1111 ``parameters`` + ``studio``)."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if params.get("kind", "image") in ("image", "inpaint"):
        info.add_text("parameters", format_a1111(params))  # tEXt when Latin-1, else iTXt (as A1111 does)
    info.add_itxt("studio", to_json(params))
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def _user_comment(text: str) -> bytes:
    """EXIF UserComment as A1111 writes it (piexif's "unicode" encoding: a UNICODE header, UTF-16BE)."""
    return b"UNICODE\0" + text.encode("utf-16-be", errors="replace")


def image_file_bytes(image, params: dict, fmt: str = "PNG") -> bytes:
    """``image`` as ``fmt`` ('PNG', 'JPEG', 'WEBP'; see ``library.targets.IMAGE_FORMATS``) with the
    metadata that format can carry: PNG all of it (:func:`png_bytes`), JPEG/WebP the A1111 text."""
    if fmt == "PNG":
        return png_bytes(image, params)
    exif = image.getexif()
    exif.get_ifd(0x8769)[0x9286] = _user_comment(format_a1111(params))  # Exif IFD → UserComment
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format=fmt, quality=95, exif=exif.tobytes())
    return buf.getvalue()


# --- normalising --------------------------------------------------------------------------------


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,20}\s*", value):
        return int(value)
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        f = float(value)
    elif isinstance(value, str) and len(value) < 40:
        try:
            f = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return f if math.isfinite(f) else None


def _size(value: Any) -> int | None:
    n = _as_int(value)
    if n is None or not 64 <= n <= 4096:
        return None
    return n - n % 8


def normalize(raw: dict) -> dict:
    """Keep the request fields that are present, of the right type and in range."""
    out: dict[str, Any] = {}
    if not isinstance(raw, dict):
        return out
    for key in ("prompt", "negative_prompt", "model"):
        value = raw.get(key)
        if isinstance(value, str) and len(value) <= MAX_PROMPT_CHARS:
            out[key] = value
    steps = _as_int(raw.get("num_inference_steps"))
    if steps is not None and 1 <= steps <= 500:
        out["num_inference_steps"] = steps
    cfg = _as_float(raw.get("guidance_scale"))
    if cfg is not None and 0 <= cfg <= 30:
        out["guidance_scale"] = cfg
    scheduler = raw.get("scheduler")
    if isinstance(scheduler, str) and (scheduler == "" or scheduler in SCHEDULERS):
        out["scheduler"] = scheduler
    seed = _as_int(raw.get("seed"))
    if seed is not None and 0 <= seed <= MAX_SEED:
        out["seed"] = seed
    for key in ("width", "height"):  # hires fix: the request's size is the first pass's
        size = _size(raw.get(f"first_pass_{key}", raw.get(key)))
        if size is not None:
            out[key] = size
    strength = _as_float(raw.get("strength"))
    if strength is not None and 0 < strength <= 1:
        out["strength"] = strength
    out.update(normalize_tool_fields(raw))
    return out


# --- AUTOMATIC1111 --------------------------------------------------------------------------------

_A1111_KEY = re.compile(r"\w[\w \-/]*")
_SIZE = re.compile(r"^\s*(\d{1,6})\s*x\s*(\d{1,6})\s*$")


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            value = json.loads(text)
            return value if isinstance(value, str) else text
        except ValueError:
            return text
    return text


def _quoted_end(line: str, start: int) -> int:
    """Index just past the closing quote of the JSON string starting at ``line[start]`` (or len).
    Each ``find`` result is kept until passed, so the scan stays linear however many escapes."""
    i, quote, slash = start + 1, -2, -2  # -2: not looked up yet; -1: none left
    while True:
        if quote < i:
            quote = line.find('"', i)
            if quote < 0:
                return len(line)
        if slash != -1 and slash < i:
            slash = line.find("\\", i)
        if 0 <= slash < quote:
            i = slash + 2  # an escaped character
            continue
        return quote + 1


def a1111_settings(line: str) -> list[tuple[str, str]]:
    """The ``Key: value, Key: "quoted, value", …`` pairs of A1111's settings line, in one linear pass.

    A key is a word with spaces, dashes or slashes (``CFG scale``, ``Lora hashes``); a value runs to
    the next comma, or is a JSON string in quotes. Text that does not look like a pair is skipped.
    """
    pairs: list[tuple[str, str]] = []
    i, n = 0, len(line)
    while i < n:
        colon = line.find(":", i)
        if colon < 0:
            break
        comma = line.rfind(",", i, colon)  # a key never holds a comma: it starts after the last one
        key = line[comma + 1 if comma >= 0 else i : colon].strip()
        j = colon + 1
        while j < n and line[j] == " ":
            j += 1
        end = _quoted_end(line, j) if j < n and line[j] == '"' else j
        stop = line.find(",", end)
        stop = n if stop < 0 else stop
        if len(key) <= 64 and _A1111_KEY.fullmatch(key):
            pairs.append((key, line[j:stop]))
        i = stop + 1
    return pairs


def parse_a1111(text: str) -> dict:
    """Request fields from an AUTOMATIC1111 ``parameters`` text (prompt, negative, Steps, Sampler …)."""
    if not isinstance(text, str) or not text.strip():
        return {}
    text = text[: MAX_PROMPT_CHARS * 3]
    lines = text.strip().split("\n")
    last = lines[-1]
    found = a1111_settings(last)
    if len(found) < 3:  # no settings line: everything is prompt
        found, body = [], lines
    else:
        body = lines[:-1]
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    in_negative = False
    for line in body:
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:") :].strip()
        (negative_lines if in_negative else prompt_lines).append(line)
    settings = {key.strip(): _unquote(value.strip()) for key, value in found}
    raw: dict[str, Any] = {"prompt": "\n".join(prompt_lines).strip(), "negative_prompt": "\n".join(negative_lines).strip()}
    raw["num_inference_steps"] = settings.get("Steps")
    raw["guidance_scale"] = settings.get("CFG scale")
    raw["seed"] = settings.get("Seed")
    raw["strength"] = settings.get("Denoising strength")
    raw["model"] = settings.get("Model")
    sampler = settings.get("Sampler", "")
    schedule = settings.get("Schedule type", "")
    if schedule and schedule.lower() not in ("automatic", "uniform"):
        combined = f"{sampler} {schedule}"
        sampler = combined if combined in SCHEDULERS else sampler
    raw["scheduler"] = sampler if sampler in SCHEDULERS else None
    size = _SIZE.match(settings.get("Size", ""))
    if size:
        raw["width"], raw["height"] = int(size.group(1)), int(size.group(2))
    raw.update(parse_tool_fields(settings, a1111_settings))
    if "hires_scale" in raw:  # txt2img with hires fix: the denoising strength is the second pass's
        raw["strength"] = None
    return normalize(raw)


# --- ComfyUI -------------------------------------------------------------------------------------

_COMFY_SAMPLERS = {
    ("euler", False): "Euler",
    ("euler_ancestral", False): "Euler a",
    ("dpmpp_2m", False): "DPM++ 2M",
    ("dpmpp_2m", True): "DPM++ 2M Karras",
    ("dpmpp_sde", True): "DPM++ SDE Karras",
    ("ddim", False): "DDIM",
    ("uni_pc", False): "UniPC",
    ("heun", False): "Heun",
    ("lms", False): "LMS",
    ("lcm", False): "LCM",
}
_SAMPLER_NODES = ("KSampler", "KSamplerAdvanced")


def _comfy_sampler(name: Any, schedule: Any) -> str | None:
    if not isinstance(name, str):
        return None
    karras = isinstance(schedule, str) and schedule == "karras"
    return _COMFY_SAMPLERS.get((name, karras)) or (_COMFY_SAMPLERS.get((name, False)) if not karras else None)


def comfy_api(graph: dict) -> dict:
    """ComfyUI's API-format ``prompt``: {id: {"class_type", "inputs": {name: value | [id, slot]}}}."""
    nodes = {str(k): v for k, v in graph.items() if isinstance(v, dict)}

    def node(ref: Any) -> dict | None:
        if isinstance(ref, list) and ref and isinstance(ref[0], (str, int)):
            found = nodes.get(str(ref[0]))
            return found if isinstance(found, dict) else None
        return None

    def inputs(n: dict | None) -> dict:
        value = n.get("inputs") if isinstance(n, dict) else None
        return value if isinstance(value, dict) else {}

    def text_of(ref: Any, depth: int = 0) -> str | None:
        if isinstance(ref, str):
            return ref
        n = node(ref)
        if n is None or depth > 8:
            return None
        ins = inputs(n)
        for key in ("text", "text_g", "value", "string", "prompt"):
            if key in ins:
                return text_of(ins[key], depth + 1)
        return None

    sampler = next((n for n in nodes.values() if n.get("class_type") in _SAMPLER_NODES), None)
    if sampler is None:
        return {}
    ins = inputs(sampler)
    raw: dict[str, Any] = {
        "seed": ins.get("seed", ins.get("noise_seed")),
        "num_inference_steps": ins.get("steps"),
        "guidance_scale": ins.get("cfg"),
        "scheduler": _comfy_sampler(ins.get("sampler_name"), ins.get("scheduler")),
        "prompt": text_of(ins.get("positive")),
        "negative_prompt": text_of(ins.get("negative")),
    }
    denoise = _as_float(ins.get("denoise"))
    if denoise is not None and denoise < 1:
        raw["strength"] = denoise
    latent = node(ins.get("latent_image"))
    if latent is not None and "Empty" in str(latent.get("class_type", "")):
        raw["width"], raw["height"] = inputs(latent).get("width"), inputs(latent).get("height")
    model = node(ins.get("model"))
    for _ in range(16):  # follow LoRA loaders etc. back to the checkpoint loader
        if model is None:
            break
        if "ckpt_name" in inputs(model):
            raw["model"] = inputs(model).get("ckpt_name")
            break
        model = node(inputs(model).get("model"))
    return normalize(raw)


def comfy_workflow(workflow: dict) -> dict:
    """ComfyUI's UI-format ``workflow``: nodes with ``widgets_values`` and a ``links`` table."""
    nodes = [n for n in workflow.get("nodes", []) if isinstance(n, dict)] if isinstance(workflow.get("nodes"), list) else []
    by_id = {n.get("id"): n for n in nodes}
    links: dict[Any, Any] = {}
    for link in workflow.get("links", []) if isinstance(workflow.get("links"), list) else []:
        if isinstance(link, list) and len(link) >= 4:
            links[link[0]] = link[1]  # link id → source node id

    def widgets(n: dict | None) -> list:
        value = n.get("widgets_values") if isinstance(n, dict) else None
        return value if isinstance(value, list) else []

    def source(n: dict, name: str) -> dict | None:
        for slot in n.get("inputs", []) if isinstance(n.get("inputs"), list) else []:
            if isinstance(slot, dict) and slot.get("name") == name:
                return by_id.get(links.get(slot.get("link")))
        return None

    sampler = next((n for n in nodes if n.get("type") in _SAMPLER_NODES), None)
    if sampler is None:
        return {}
    w = widgets(sampler)
    if sampler.get("type") == "KSamplerAdvanced":  # add_noise, seed, control, steps, cfg, sampler, scheduler …
        w = w[1:]
    raw: dict[str, Any] = {}
    if len(w) >= 6:
        raw.update(seed=w[0], num_inference_steps=w[2], guidance_scale=w[3], scheduler=_comfy_sampler(w[4], w[5]))
        if len(w) >= 7 and sampler.get("type") == "KSampler":
            denoise = _as_float(w[6])
            if denoise is not None and denoise < 1:
                raw["strength"] = denoise
    for field, name in (("prompt", "positive"), ("negative_prompt", "negative")):
        n = source(sampler, name)
        if n is not None and widgets(n) and isinstance(widgets(n)[0], str):
            raw[field] = widgets(n)[0]
    latent = source(sampler, "latent_image")
    if latent is not None and "Empty" in str(latent.get("type", "")) and len(widgets(latent)) >= 2:
        raw["width"], raw["height"] = widgets(latent)[0], widgets(latent)[1]
    model = source(sampler, "model")
    for _ in range(16):
        if model is None:
            break
        if "Checkpoint" in str(model.get("type", "")) and widgets(model):
            raw["model"] = widgets(model)[0]
            break
        model = source(model, "model")
    return normalize(raw)
