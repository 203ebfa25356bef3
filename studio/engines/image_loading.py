"""Loading Stable Diffusion pipelines for the image engine (no Qt).

* diffusers folders / hub snapshots: ``AutoPipelineForText2Image.from_pretrained`` (safetensors only).
* single-file checkpoints: ``from_single_file`` fully offline, with the weight-free configs shipped in
  ``assets/configs/{sd15,sd2,sdxl}`` and the CLIP tokenizers built from the one shared vocabulary in
  ``assets/configs/clip-tokenizer`` (:func:`shipped_tokenizers`); the family is read from the
  checkpoint's key names (no tensor is loaded for that). ``.ckpt`` files load only when the person
  allowed it, with ``torch.load(weights_only=True)`` (no pickled code runs), converted once to a
  safetensors file in the cache.
* LoRA files, VAE overrides, and :class:`PipelineSet`: what the model cache holds, which applies
  the offload hooks and the attention slicing / VAE tiling that :mod:`studio.engines.image_memory`
  plans. Samplers are in :mod:`studio.engines.samplers`; what only SD 3.x / FLUX need (one-file transformers
  with their base, quantization, the T5 encoder's place, FLUX.1 Fill) is in :mod:`studio.engines.flow_loading`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import InvalidRequest, ModelNotFound, UnsafeModelFile, is_unsupported_pipeline
from ..models import families
from .flow_loading import (
    is_flux_fill,
    is_transformer_file,
    load_gguf_transformer,
    nf4_config,
    place_t5,
    quantize_transformer,
)
from ..models.device import DeviceChoice
from ..models.resolve import ResolvedModel, check_pickle_allowed, is_pickle

log = logging.getLogger(__name__)

CONFIG_DIRS = {"sd1": "sd15", "sd2": "sd2", "sdxl": "sdxl"}
CLIP_TOKENIZER = "clip-tokenizer"  # the shared vocab.json / merges.txt, under the config root
DEFAULT_MAX_SIDE = 2048


def shipped_configs() -> Path:
    """The weight-free diffusers configs (and the shared CLIP vocabulary) that ship with Studio."""
    return paths.asset("configs")


def shipped_tokenizers(config: Path, config_root: Path) -> dict[str, Any]:
    """The CLIP tokenizers of a family's config folder (``tokenizer``, and ``tokenizer_2`` for SDXL).

    Every family uses the same byte-level BPE vocabulary, so it ships once, in
    ``config_root/clip-tokenizer`` (``vocab.json``, ``merges.txt``); each tokenizer folder holds only
    its own settings (padding token, length). They are passed to ``from_single_file`` as components.
    """
    from transformers import CLIPTokenizer

    shared = config_root / CLIP_TOKENIZER
    return {
        name: CLIPTokenizer.from_pretrained(
            str(config / name),
            vocab_file=str(shared / "vocab.json"),
            merges_file=str(shared / "merges.txt"),
            local_files_only=True,
        )
        for name in ("tokenizer", "tokenizer_2")
        if (config / name).is_dir()
    }


# --- families -----------------------------------------------------------------------------------


def family_from_keys(keys) -> str:
    """'sd1' | 'sd2' | 'sdxl' from an original-layout (LDM / A1111) checkpoint's key names."""
    keys = set(keys)
    flow = families.transformer_family_from_keys(keys)
    if flow:  # a FLUX.1 / SD 3.x transformer (or whole checkpoint) in one file: its base brings the other parts
        return flow
    if any(k.startswith("conditioner.embedders.1.") for k in keys):
        return "sdxl"
    if any(k.startswith("conditioner.embedders.0.model.") for k in keys):
        raise InvalidRequest(
            "This is an SDXL *refiner* checkpoint: it only refines images from an SDXL base model. "
            "Pick an SDXL base (or any SD 1.x/2.x/XL) checkpoint."
        )
    if any(k.startswith("cond_stage_model.model.") for k in keys):
        return "sd2"
    if any(k.startswith("cond_stage_model.transformer.") for k in keys):
        return "sd1"
    if any("lora_" in k or ".lora." in k for k in list(keys)[:200]):
        raise InvalidRequest("This file is a LoRA, not a full model: add it under LoRA and pick a base model.")
    if keys and all(k.startswith(("encoder.", "decoder.", "quant_conv", "post_quant_conv")) for k in keys):
        raise InvalidRequest("This file is a VAE, not a full model: choose it as the VAE override instead.")
    raise InvalidRequest(
        "This checkpoint is not a Stable Diffusion 1.x, 2.x or XL model Studio can load from a single file "
        "(no text encoder found). Use its diffusers folder or hub id instead."
    )


def checkpoint_keys(path: Path) -> list[str]:
    """Tensor names of a .safetensors file, read from its header only."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return list(f.keys())
    except Exception as exc:
        raise InvalidRequest(f"'{path.name}' is not a readable .safetensors file ({exc}).") from None


def family_from_folder(folder: Path) -> str:
    """'sd1' | 'sd2' | 'sdxl' | 'sd3' | 'flux' | '' (unknown) from a diffusers folder's configs."""
    return families.family_from_folder(folder)


def model_family(model: ResolvedModel, *, allow_pickle: bool = False) -> str:
    if model.entry is not None and model.entry.family:
        return model.entry.family
    if model.format == "single_file":
        if is_pickle(model.path):
            check_pickle_allowed(model.path, allow_pickle)
            return family_from_keys(checkpoint_keys(converted_checkpoint(model.path)))
        return family_from_keys(checkpoint_keys(model.path))
    return family_from_folder(model.path)


def check_size(width: int, height: int, family: str) -> None:
    fam = families.family(family)
    limit = fam.max_side if fam else DEFAULT_MAX_SIDE
    for name, value in (("width", width), ("height", height)):
        if value > limit:
            name_of = families.family_name(family)
            hint = (
                f"; it was trained at {fam.native}×{fam.native}, so pick around {fam.native} and upscale afterwards"
                if fam
                else "; pick a smaller size and upscale afterwards"
            )
            raise InvalidRequest(f"{name} {value} is too large for {name_of} (at most {limit} pixels{hint}).")
    if fam and fam.multiple > 8:
        for name, value in (("width", width), ("height", height)):
            if value % fam.multiple:
                lower = value // fam.multiple * fam.multiple
                raise InvalidRequest(
                    f"{name} {value} does not fit {fam.name}: it needs multiples of {fam.multiple} pixels "
                    f"(try {max(lower, fam.multiple)} or {lower + fam.multiple})."
                )


# --- pickled checkpoints ----------------------------------------------------------------------


def _torch_load_weights(path: Path) -> dict:
    import pickle

    import torch

    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True, mmap=False)
    except pickle.UnpicklingError as exc:
        raise UnsafeModelFile(
            f"'{path.name}' contains more than plain weights (it would run code when opened), so Studio "
            f"refuses to load it: {str(exc).splitlines()[0][:200]}",
            path,
        ) from None
    except Exception as exc:
        raise InvalidRequest(f"'{path.name}' is not a readable checkpoint ({type(exc).__name__}: {exc}).") from None
    while isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise InvalidRequest(f"'{path.name}' does not hold a state dict of weights.")
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}


def converted_checkpoint(path: Path) -> Path:
    """A safetensors copy of a (permitted) pickled checkpoint in the cache, made once."""
    from safetensors.torch import save_file

    stat = path.stat()
    digest = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = paths.cache_dir() / "checkpoints" / f"{path.stem}-{digest}.safetensors"
    if target.exists():
        return target
    tensors = _torch_load_weights(path)
    seen: set[int] = set()
    clean = {}
    for name, tensor in tensors.items():  # safetensors refuses shared storage: copy duplicates
        ptr = tensor.untyped_storage().data_ptr() if tensor.numel() else id(tensor)
        clean[name] = tensor.clone().contiguous() if ptr in seen else tensor.contiguous()
        seen.add(ptr)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    save_file(clean, str(tmp))
    tmp.replace(target)
    return target


# --- what the model cache holds --------------------------------------------------------------------


@dataclass
class PipelineSet:
    """A loaded text-to-image pipeline, its image-to-image twin (same modules) and what to restore."""

    txt2img: Any
    family: str
    scheduler: Any  # the model's own scheduler as loaded: "" always means this one
    offload: str  # 'none' | 'model' | 'sequential'
    device: str
    _img2img: Any = None
    _inpaint: Any = None
    _hooked: Any = None
    slicing: bool = False
    tiling: bool = False
    notes: list[str] = field(default_factory=list)
    _controlnets: dict = field(default_factory=dict)  # ControlNet id → model: the set the last job used
    upscalers: dict = field(default_factory=dict)  # hires fix: upscaler id → spandrel model (the last one used)

    @property
    def components(self) -> dict:  # lets the model cache measure us
        return self.txt2img.components

    @property
    def inpainting(self) -> bool:
        """A dedicated inpainting model: its UNet takes latents + mask + masked image (9 channels, not 4), or
        FLUX.1 Fill (its transformer takes the packed latents, masked picture and mask)."""
        if is_flux_fill(self.txt2img):
            return True
        unet = getattr(self.txt2img, "unet", None)  # SD3 and FLUX have a transformer instead
        return unet is not None and unet_in_channels(unet) == 9

    def img2img(self):
        if self._img2img is None:
            from diffusers import AutoPipelineForImage2Image

            self._img2img = AutoPipelineForImage2Image.from_pipe(self.txt2img)
            self._img2img.set_progress_bar_config(disable=True)
        return self._img2img

    def inpaint(self):
        """The inpainting pipeline on the same modules (SD or SDXL; 9-channel or ordinary 4-channel UNet)."""
        if self._inpaint is None:
            from diffusers import AutoPipelineForInpainting

            if is_flux_fill(self.txt2img):  # FLUX.1 Fill is its own inpainting pipeline
                return self.txt2img
            self._inpaint = AutoPipelineForInpainting.from_pipe(self.txt2img)
            self._inpaint.set_progress_bar_config(disable=True)
        return self._inpaint

    def pipeline(self, mode: str):
        """'txt2img' | 'img2img' | 'inpaint' → that pipeline (they share the modules)."""
        return {"txt2img": lambda: self.txt2img, "img2img": self.img2img, "inpaint": self.inpaint}[mode]()

    def controlnet_models(self, ids: list[str], load) -> list:
        """The ControlNets ``ids`` (``load(id)`` loads one that is not resident). They are kept with this
        model; ones the previous job used and this one does not are dropped first (their memory returns)."""
        kept = {i: self._controlnets[i] for i in ids if i in self._controlnets}
        self._controlnets = kept
        for i in ids:
            if i not in kept:
                kept[i] = load(i)
        return [kept[i] for i in ids]

    def with_controlnets(self, mode: str, nets: list):
        """diffusers' ControlNet pipeline for ``mode`` on the same modules (several nets: MultiControlNetModel)."""
        from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting, AutoPipelineForText2Image

        auto = {"txt2img": AutoPipelineForText2Image, "img2img": AutoPipelineForImage2Image,
                "inpaint": AutoPipelineForInpainting}[mode]
        pipe = auto.from_pipe(self.txt2img, controlnet=nets[0] if len(nets) == 1 else list(nets))
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def _pipes(self) -> list:
        return [p for p in (self.txt2img, self._img2img, self._inpaint) if p is not None]

    def activate(self, pipe) -> None:
        """Move offload hooks to ``pipe`` (text-to-image and image-to-image share the modules)."""
        if self.offload == "none" or self._hooked is pipe:
            return
        if self.offload == "model":
            pipe.enable_model_cpu_offload(device=self.device)
        elif self.offload == "group":
            if self._hooked is None:  # the hooks live on the shared modules: applied once
                apply_group_offload(pipe, self.device)
        else:
            pipe.enable_sequential_cpu_offload(device=self.device)
        self._hooked = pipe

    def set_memory(self, slicing: bool, tiling: bool) -> None:
        for pipe in self._pipes():
            if slicing != self.slicing:
                pipe.enable_attention_slicing() if slicing else pipe.disable_attention_slicing()
        if tiling != self.tiling:
            vae = self.txt2img.vae
            vae.enable_tiling() if tiling else vae.disable_tiling()
        self.slicing, self.tiling = slicing, tiling

    def restore(self) -> None:
        """Put the model's own scheduler back, so a later job (or a plain diffusers call) sees it."""
        for pipe in self._pipes():
            pipe.scheduler = self.scheduler


def apply_group_offload(pipe, device: str) -> None:
    """Group offload (diffusers' hooks): the denoiser streams to ``device`` one group of blocks at a time, the
    other parts layer by layer; weights live on the CPU. Less VRAM than model offload, faster than sequential."""
    import torch
    from diffusers import ModelMixin
    from diffusers.hooks import apply_group_offloading

    onload, cpu = torch.device(device), torch.device("cpu")
    denoiser = getattr(pipe, "transformer", None) or getattr(pipe, "unet", None)
    for name, component in pipe.components.items():
        if not isinstance(component, torch.nn.Module):
            continue
        if component is denoiser and isinstance(component, ModelMixin):
            component.enable_group_offload(onload, offload_device=cpu, offload_type="block_level", num_blocks_per_group=1)
        else:
            apply_group_offloading(component, onload_device=onload, offload_device=cpu, offload_type="leaf_level")


def unet_in_channels(unet) -> int:
    return int(getattr(unet.config, "in_channels", 4))


def checkpoint_in_channels(path: Path) -> int:
    """A single-file (LDM layout) checkpoint's UNet input channels, from the safetensors header only."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            key = "model.diffusion_model.input_blocks.0.0.weight"
            return int(f.get_slice(key).get_shape()[1]) if key in f.keys() else 4
    except Exception:
        return 4


# --- loading ------------------------------------------------------------------------------------


def _fp16_variant_only(folder: Path) -> bool:
    unet = folder / "unet"
    return any(unet.glob("*.fp16.safetensors")) and not any(
        f for f in unet.glob("*.safetensors") if ".fp16." not in f.name
    )


def _check_safetensors_folder(folder: Path, label: str, skip: tuple[str, ...] = ()) -> None:
    """Every weight folder of a diffusers pipeline must hold .safetensors (a .bin-only one is refused)."""
    for part in ("unet", "transformer", "vae", "text_encoder", "text_encoder_2", "text_encoder_3"):
        if part in skip:
            continue
        sub = folder / part
        if sub.is_dir() and not any(sub.glob("*.safetensors")):
            if any(sub.glob("*.bin")) or any(sub.glob("*.pt")) or any(sub.glob("*.ckpt")):
                raise UnsafeModelFile(
                    f"'{label}' only has pickled weights (.bin) in {part}/, which can run code when loaded. "
                    "Studio loads .safetensors only: pick a safetensors version of this model.",
                    sub,
                )
            raise InvalidRequest(f"'{label}' has no weights (.safetensors) in {sub}.")


def load_vae(path: Path, family: str, dtype, config_root: Path, *, allow_pickle: bool = False):
    """An AutoencoderKL from a diffusers folder, a pipeline folder (its vae/) or a single file: .safetensors,
    or a pickled one (.ckpt/.pt/.pth/.bin) when allowed, read with ``torch.load(weights_only=True)``."""
    from diffusers import AutoencoderKL

    if path.is_file():
        if is_pickle(path):
            check_pickle_allowed(path, allow_pickle)
            path = converted_checkpoint(path)
        elif path.suffix.lower() != ".safetensors":
            raise InvalidRequest(f"VAE '{path.name}': expected a .safetensors (or .ckpt/.pt) file.")
        config = config_root / CONFIG_DIRS.get(family, "sd15")
        return AutoencoderKL.from_single_file(
            str(path), config=str(config), subfolder="vae", dtype=dtype, local_files_only=True
        )
    folder = path / "vae" if (path / "model_index.json").exists() else path
    if not (folder / "config.json").exists():
        raise ModelNotFound(f"'{path}' is not a VAE: expected a .safetensors file or a folder with config.json.")
    return AutoencoderKL.from_pretrained(str(folder), dtype=dtype, use_safetensors=True, local_files_only=True)


@contextmanager
def _no_console_progress():
    """diffusers/transformers draw loading bars (and internal notes) on stderr; Studio reports loading itself."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    was = dlog.is_progress_bar_enabled(), tlog.is_progress_bar_enabled(), dlog.get_verbosity()
    dlog.disable_progress_bar()
    tlog.disable_progress_bar()
    dlog.set_verbosity(max(was[2], dlog.ERROR))
    try:
        yield
    finally:
        dlog.set_verbosity(was[2])
        if was[0]:
            dlog.enable_progress_bar()
        if was[1]:
            tlog.enable_progress_bar()


def load_pipeline_set(*args, **kwargs) -> PipelineSet:
    """Load a model as a text-to-image pipeline on a device (what the model cache stores); see _load."""
    with _no_console_progress():
        return _load(*args, **kwargs)


def _load(
    model: ResolvedModel,
    choice: DeviceChoice,
    *,
    family: str,
    offload: str = "none",
    vae_path: Path | None = None,
    allow_pickle: bool = False,
    config_root: Path | None = None,
    quantize: str = "none",
    base: ResolvedModel | None = None,
    t5: str = "device",
) -> PipelineSet:
    """Load ``model`` as a text-to-image pipeline on ``choice``; a GGUF transformer file takes its other parts
    from ``base`` (a diffusers folder of the same family)."""
    from diffusers import AutoPipelineForText2Image, StableDiffusionPipeline, StableDiffusionXLPipeline

    config_root = config_root or shipped_configs()
    dtype = choice.torch_dtype()
    extra: dict[str, Any] = {}
    notes: list[str] = []
    if vae_path is not None:
        extra["vae"] = load_vae(vae_path, family, dtype, config_root, allow_pickle=allow_pickle)

    if quantize == "nf4":
        extra.update(nf4_config(choice))
    if is_transformer_file(model, family):
        if base is None:
            raise InvalidRequest(f"'{model.label}' is a bare transformer: it needs its base model's other parts.")
        extra["transformer"] = load_gguf_transformer(model, base, family, dtype)
        model = base
    if model.format == "diffusers":
        _check_safetensors_folder(model.path, model.label, skip=("transformer",) if "transformer" in extra else ())
        index = families.read_json(model.path / "model_index.json")
        if "safety_checker" in index:  # a creative tool: no NSFW filter (like AUTOMATIC1111, ComfyUI)
            extra.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        if _fp16_variant_only(model.path):
            extra["variant"] = "fp16"
        try:
            if index.get("_class_name") == "FluxFillPipeline":  # no AutoPipeline knows it: load it as itself
                from diffusers import FluxFillPipeline

                pipe = FluxFillPipeline.from_pretrained(
                    str(model.path), dtype=dtype, use_safetensors=True, local_files_only=True, **extra
                )
                notes.append("FLUX.1 Fill: an inpainting model; it repaints masked areas on the Canvas.")
            else:
                pipe = AutoPipelineForText2Image.from_pretrained(
                    str(model.path), dtype=dtype, use_safetensors=True, local_files_only=True, **extra
                )
        except ValueError as exc:
            if is_unsupported_pipeline(exc):
                raise InvalidRequest(f"'{model.label}' is not a text-to-image pipeline Studio can run ({exc}).") from None
            raise
    elif model.format == "single_file":
        path = model.path
        if is_pickle(path):
            check_pickle_allowed(path, allow_pickle)
            path = converted_checkpoint(path)
        if family not in CONFIG_DIRS:
            raise InvalidRequest(f"'{model.label}': unknown model family {family!r} for a single-file checkpoint.")
        cls = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
        config = config_root / CONFIG_DIRS[family]
        extra.update(shipped_tokenizers(config, config_root))
        if checkpoint_in_channels(path) == 9:
            config = inpaint_config(config)
            notes.append("Inpainting checkpoint (9-channel UNet): it repaints masked areas on the Canvas.")
        pipe = cls.from_single_file(str(path), config=str(config), dtype=dtype, local_files_only=True, **extra)
        if family == "sd2":
            prediction = sd2_prediction_type(model.path)
            pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config, prediction_type=prediction)
            source = "from its .yaml" if _sidecar_yaml(model.path) else "the SD 2.1 default"
            notes.append(f"SD 2.x checkpoint: using {prediction} ({source}).")
    else:
        raise InvalidRequest(
            f"'{model.label}' ({model.format}) is not an image model Studio can run: use a diffusers folder, "
            "a hub id or a .safetensors checkpoint."
        )

    pipe.set_progress_bar_config(disable=True)
    for note in (quantize_transformer(pipe, quantize, choice), place_t5(pipe, family, t5, dtype)):
        if note:
            notes.append(note)
    if offload == "none":
        pipe.to(choice.device)
    pset = PipelineSet(pipe, family, pipe.scheduler, offload, choice.device, notes=notes)
    pset.activate(pipe)
    return pset


def inpaint_config(config: Path) -> Path:
    """A copy of a family's weight-free config folder whose UNet takes 9 input channels (made once, in the cache)."""
    import shutil

    digest = hashlib.sha256(str(config.resolve()).encode()).hexdigest()[:12]
    target = paths.cache_dir() / "configs" / f"{config.name}-inpaint-{digest}"
    if (target / "unet" / "config.json").exists():
        return target
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(config, tmp, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    unet = families.read_json(tmp / "unet" / "config.json")
    unet["in_channels"] = 9
    (tmp / "unet" / "config.json").write_text(json.dumps(unet, indent=2), encoding="utf-8")
    try:
        tmp.rename(target)
    except OSError:  # made meanwhile by another process
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _sidecar_yaml(path: Path) -> Path | None:
    for candidate in (path.with_suffix(".yaml"), path.with_suffix(".yml")):
        if candidate.is_file():
            return candidate
    return None


def sd2_prediction_type(path: Path) -> str:
    """v-prediction (SD 2.x 768) unless a sidecar .yaml (A1111 convention) says otherwise."""
    yaml = _sidecar_yaml(path)
    if yaml is None:
        return "v_prediction"
    try:
        text = yaml.read_text(encoding="utf-8", errors="replace")[:100_000]
    except OSError:
        return "v_prediction"
    compact = text.replace('"', "").replace("'", "").replace(" ", "")
    return "v_prediction" if "parameterization:v" in compact else "epsilon"


# --- LoRA --------------------------------------------------------------------------------------


def apply_loras(pipe, loras: list[tuple[Path, float]]) -> None:
    """Load each LoRA as its own adapter with its weight (undo with :func:`clear_loras`)."""
    from safetensors.torch import load_file

    names, weights = [], []
    for i, (path, weight) in enumerate(loras):
        name = f"studio_lora_{i}"
        try:
            pipe.load_lora_weights(load_file(str(path)), adapter_name=name)
        except Exception as exc:
            raise InvalidRequest(
                f"LoRA '{path.name}' could not be applied to this model ({type(exc).__name__}: {str(exc)[:200]})."
            ) from None
        names.append(name)
        weights.append(weight)
    if names:
        pipe.set_adapters(names, adapter_weights=weights)


def clear_loras(pipe) -> None:
    try:
        pipe.unload_lora_weights()
    except Exception:  # nothing loaded, or a model without LoRA support
        log.debug("unload_lora_weights failed", exc_info=True)
