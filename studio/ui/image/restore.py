"""Filling the Image tab's settings back: from a saved image's params ("Reuse all" on a result) or
from any PNG's metadata (Studio's own, AUTOMATIC1111's ``parameters``, ComfyUI's ``prompt``/
``workflow``, read by :func:`studio.library.png_info.read_png_parameters`), and saying what was
restored and what could not be.

Functions over an :class:`~studio.ui.image.form.ImageForm`; the tab calls them when a PNG
is dropped on or opened in the "PNG info" box (``ImageForm.png_chosen``; the tab reads the file off the
UI thread, so a huge or hostile file never freezes the window) and for
"Reuse all".
A model named in a PNG is matched to a catalog entry by id, name, file or repo name
(:func:`match_model`); the picture's own values then win over the model's defaults.
"""

from __future__ import annotations

from pathlib import Path

from ...library.png_info import read_png_parameters
from ...requests import MAX_SEED, SCHEDULERS, LoraSpec
from .form import ImageForm

# what a restore calls each field, in the order it reports them
FIELD_LABELS = {
    "model": "model",
    "prompt": "prompt",
    "negative_prompt": "negative prompt",
    "width": "size",
    "num_inference_steps": "steps",
    "guidance_scale": "CFG",
    "scheduler": "sampler",
    "seed": "seed",
    "strength": "strength",
    "init_image": "init image",
    "loras": "LoRAs",
    "vae": "VAE",
}


def restore_from_png(form: ImageForm, path: str) -> list[str]:
    """Restore the settings embedded in any PNG (ours, A1111's, ComfyUI's), read here; says what it did."""
    return restore_read_params(form, path, read_png_parameters(path))


def restore_read_params(form: ImageForm, path: str, params: dict) -> list[str]:
    """Restore the settings :func:`read_png_parameters` found in ``path``; says what it did."""
    restored, notes = apply_params(form, params) if params else ([], [])
    report_restore(form, Path(path).name, restored, notes)
    return restored


def report_restore(form: ImageForm, name: str, restored: list[str], notes: list[str]) -> None:
    """Say what was restored (and what not) on the form's ``message``, or on ``warning`` that nothing was."""
    if not restored:
        form.warning.emit(f"No generation settings found in {name}.")
        return
    text = f"Restored from {name}: {', '.join(restored)}."
    if notes:
        text += " " + " ".join(notes)
    form.message.emit(text)


def apply_params(form: ImageForm, params: dict, full: bool = False) -> tuple[list[str], list[str]]:
    """Fill the fields from normalised request fields (``read_png_parameters``) or, with ``full``,
    a saved image's params (then also the init image, LoRAs, VAE and memory settings).
    Returns (what was restored, notes on what could not be)."""
    done: list[str] = []
    notes: list[str] = []

    def mark(key: str) -> None:
        label = FIELD_LABELS.get(key, key)
        if label not in done:
            done.append(label)

    model = params.get("model")
    if isinstance(model, str) and model:
        spec = match_model(form.catalog, model)
        if spec:
            form.model_picker.set_model_spec(spec)  # applies the model's defaults first …
            mark("model")
        else:
            notes.append(f"The model '{model}' is not on this computer; kept the current one.")
    # … then the picture's own values win
    for key, edit in (("prompt", form.prompt), ("negative_prompt", form.negative_prompt)):
        if isinstance(params.get(key), str):
            edit.setPlainText(params[key])
            mark(key)
    w, h = params.get("width"), params.get("height")
    if isinstance(w, int) and isinstance(h, int):
        form.width_spin.setValue(w)
        form.height_spin.setValue(h)
        mark("width")
    if isinstance(params.get("num_inference_steps"), int):
        form.steps.setValue(params["num_inference_steps"])
        mark("num_inference_steps")
    if isinstance(params.get("guidance_scale"), (int, float)):
        form.guidance.setValue(float(params["guidance_scale"]))
        mark("guidance_scale")
    scheduler = params.get("scheduler")
    if isinstance(scheduler, str) and (scheduler == "" or scheduler in SCHEDULERS):
        form.sampler.setCurrentIndex(max(0, form.sampler.findData(scheduler)))
        mark("scheduler")
    seed = params.get("seed")
    if isinstance(seed, int) and 0 <= seed <= MAX_SEED:
        form.seed.setValue(seed)
        mark("seed")
    strength = params.get("strength")
    if isinstance(strength, (int, float)) and 0 < strength <= 1:
        form.strength.setValue(float(strength))
        if not full or params.get("init_image"):
            mark("strength")
    if full:
        _apply_full(form, params, mark, notes)
    return done, notes


def _apply_full(form: ImageForm, params: dict, mark, notes: list[str]) -> None:
    init = params.get("init_image")
    if isinstance(init, str):
        if not init:
            form.init_image.clear()
        elif Path(init).is_file() and form.init_image.set_path(init):
            mark("init_image")
        else:
            notes.append(f"The init image {Path(init).name} is gone.")
    loras = params.get("loras")
    if isinstance(loras, list):
        form.loras.set_specs([lo for lo in loras if isinstance(lo, (dict, LoraSpec))])
        if loras:
            mark("loras")
    if isinstance(params.get("vae"), str):
        form.vae.setText(params["vae"])
        if params["vae"]:
            mark("vae")
    for combo, key in ((form.offload, "offload"), (form.attention_slicing, "attention_slicing"), (form.vae_tiling, "vae_tiling")):
        index = combo.findData(params.get(key))
        if index >= 0:
            combo.setCurrentIndex(index)


def match_model(catalog, name: str) -> str:
    """A model spec for a name found in a PNG: a catalog id, hub id or existing path, or the
    catalog entry whose id, name, file or repo name matches (A1111 writes the file's stem)."""
    name = name.strip()
    if catalog.find(name, "image") is not None:
        return name
    try:
        if Path(name).expanduser().exists():
            return name
    except (OSError, ValueError):
        return ""
    low = name.lower()
    for entry in catalog.entries("image", include_cached=True):
        keys = {entry.id.lower(), entry.name.lower()}
        if entry.path:
            keys.add(Path(entry.path).stem.lower())
        if entry.repo_id:
            keys.add(entry.repo_id.split("/")[-1].lower())
        if low in keys or Path(low).stem in keys:
            return entry.id
    return ""
