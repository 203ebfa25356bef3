"""SD 3.5 and FLUX.1 in the catalog: the full diffusers repos, their GGUF quantizations (Q4_K_S, Q5_K_S,
Q8_0) and the "parts" of each base (VAE, text encoders, configs: everything but the transformer's weights),
which every quantization of that base shares and downloads once.

Memory per plan is computed by :mod:`studio.models.memory_plan` from the parts' sizes at 1024² (16-bit),
so the Models window and the planner say the same thing. SD 3.5's and FLUX.1 dev/Kontext's licences are not
Apache: they are shown before a download, and the hub repos are gated (accept the licence on the hub first).
"""

from __future__ import annotations

from .entry import GB, ModelEntry
from .memory_plan import PLAN_LABELS, PLANS, Parts, need_bytes

SD35_LICENCE = "Stability AI Community License (free below US$1M annual revenue; gated: accept it on the hub)"
FLUX_DEV_LICENCE = "FLUX.1 [dev] Non-Commercial License (gated: accept it on the hub)"
APACHE = "Apache-2.0"

_FLUX_PARTS = ("model_index.json", "scheduler/*", "text_encoder/*", "text_encoder_2/*", "tokenizer/*",
               "tokenizer_2/*", "vae/*", "transformer/config.json")
_SD3_PARTS = (*_FLUX_PARTS, "text_encoder_3/*", "tokenizer_3/*")
_DIFFUSERS = ("*.json", "*.txt", "*.model", "**/*.json", "**/*.txt", "**/*.model", "**/*.safetensors")

#: bytes of each part at 16 bits: (transformer, CLIP encoders, T5, VAE)
_SIZES = {
    "flux": (23.8 * GB, 0.25 * GB, 9.5 * GB, 0.17 * GB),
    "sd3.5-large": (16.3 * GB, 1.6 * GB, 9.5 * GB, 0.17 * GB),
    "sd3.5-medium": (4.9 * GB, 1.6 * GB, 9.5 * GB, 0.17 * GB),
}
#: GGUF file sizes of the transformer per quantization (bytes on disk = bytes in memory)
_GGUF_SHARE = {"Q4_K_S": 0.285, "Q5_K_S": 0.345, "Q8_0": 0.53}


def _memory_note(denoiser: float, key: str) -> str:
    _, text, t5, vae = _SIZES[key]
    parts = Parts(int(denoiser), int(text), int(t5), int(vae), blocks=57 if key == "flux" else 24)
    needs = [f"{PLAN_LABELS[p]} ~{need_bytes(parts, p, 1024, 1024, flow=True) / GB:.0f} GB" for p in PLANS]
    return "Memory at 1024² on a GPU: " + ", ".join(needs) + "."


def _full(id_: str, name: str, repo: str, family: str, key: str, licence: str, defaults: dict, description: str):
    denoiser, text, t5, vae = _SIZES[key]
    total = denoiser + text + t5 + vae
    return ModelEntry(
        id=id_, name=name, modality="image", source="hub", repo_id=repo, format="diffusers", family=family,
        size_bytes=int(total), memory_bytes=int(total), licence=licence, defaults=defaults,
        description=f"{description} {_memory_note(denoiser, key)}", allow_patterns=_DIFFUSERS,
    )


def _parts(id_: str, name: str, repo: str, family: str, key: str, licence: str) -> ModelEntry:
    _, text, t5, vae = _SIZES[key]
    return ModelEntry(
        id=id_, name=f"{name} — shared parts (VAE, text encoders)", modality="image", source="hub", repo_id=repo,
        format="diffusers", family=family, size_bytes=int(text + t5 + vae), memory_bytes=int(text + t5 + vae),
        licence=licence, description="What every GGUF quantization of this model uses beside its transformer: "
        "downloaded once, shared.", allow_patterns=_SD3_PARTS if family == "sd3" else _FLUX_PARTS,
    )


def _gguf(base_id: str, name: str, repo: str, pattern: str, family: str, key: str, licence: str, defaults: dict):
    entries = []
    for quant, share in _GGUF_SHARE.items():
        size = _SIZES[key][0] * share
        filename = pattern.format(quant=quant)
        entries.append(ModelEntry(
            id=f"{base_id}-{quant.lower()}", name=f"{name} {quant} GGUF", modality="image", source="hub",
            repo_id=repo, filename=filename, format="gguf", family=family, size_bytes=int(size),
            memory_bytes=int(size), licence=licence, defaults=defaults, base=f"{base_id}-parts",
            description=f"{name}'s transformer quantized to {quant}; its other parts come from "
            f"'{base_id}-parts' (downloaded once). {_memory_note(size, key)}", allow_patterns=(filename,),
        ))
    return entries


_SCHNELL = {"width": 1024, "height": 1024, "num_inference_steps": 4, "guidance_scale": 0.0}
_DEV = {"width": 1024, "height": 1024, "num_inference_steps": 28, "guidance_scale": 3.5}
_SD35 = {"width": 1024, "height": 1024, "num_inference_steps": 28, "guidance_scale": 4.5}
_SD35_MEDIUM = {"width": 1024, "height": 1024, "num_inference_steps": 40, "guidance_scale": 4.5}
_SD35_TURBO = {"width": 1024, "height": 1024, "num_inference_steps": 4, "guidance_scale": 0.0}

FLOW_ENTRIES: tuple[ModelEntry, ...] = (
    _full("flux.1-schnell", "FLUX.1 schnell (4 steps)", "black-forest-labs/FLUX.1-schnell", "flux", "flux", APACHE,
          _SCHNELL, "12B rectified-flow transformer, distilled to 1–4 steps, no guidance."),
    _full("flux.1-dev", "FLUX.1 dev", "black-forest-labs/FLUX.1-dev", "flux", "flux", FLUX_DEV_LICENCE, _DEV,
          "12B rectified-flow transformer with distilled guidance: the best open FLUX quality."),
    _full("flux.1-kontext-dev", "FLUX.1 Kontext dev (edit a picture)", "black-forest-labs/FLUX.1-Kontext-dev", "flux",
          "flux", FLUX_DEV_LICENCE, _DEV, "Edits a picture from an instruction (image-to-image on the Canvas)."),
    _full("sd3.5-large", "Stable Diffusion 3.5 Large", "stabilityai/stable-diffusion-3.5-large", "sd3", "sd3.5-large",
          SD35_LICENCE, _SD35, "8B MMDiT: Stability's best; T5 can run on the CPU."),
    _full("sd3.5-large-turbo", "Stable Diffusion 3.5 Large Turbo (4 steps)", "stabilityai/stable-diffusion-3.5-large-turbo",
          "sd3", "sd3.5-large", SD35_LICENCE, _SD35_TURBO, "SD 3.5 Large distilled to 4 steps, no guidance."),
    _full("sd3.5-medium", "Stable Diffusion 3.5 Medium", "stabilityai/stable-diffusion-3.5-medium", "sd3",
          "sd3.5-medium", SD35_LICENCE, _SD35_MEDIUM, "2.5B MMDiT: SD 3.5 for 8–12 GB GPUs."),
    _parts("flux.1-schnell-parts", "FLUX.1 schnell", "black-forest-labs/FLUX.1-schnell", "flux", "flux", APACHE),
    _parts("flux.1-dev-parts", "FLUX.1 dev", "black-forest-labs/FLUX.1-dev", "flux", "flux", FLUX_DEV_LICENCE),
    _parts("flux.1-kontext-dev-parts", "FLUX.1 Kontext dev", "black-forest-labs/FLUX.1-Kontext-dev", "flux", "flux",
           FLUX_DEV_LICENCE),
    _parts("sd3.5-large-parts", "SD 3.5 Large", "stabilityai/stable-diffusion-3.5-large", "sd3", "sd3.5-large",
           SD35_LICENCE),
    _parts("sd3.5-medium-parts", "SD 3.5 Medium", "stabilityai/stable-diffusion-3.5-medium", "sd3", "sd3.5-medium",
           SD35_LICENCE),
    *_gguf("flux.1-schnell", "FLUX.1 schnell", "city96/FLUX.1-schnell-gguf", "flux1-schnell-{quant}.gguf", "flux",
           "flux", APACHE, _SCHNELL),
    *_gguf("flux.1-dev", "FLUX.1 dev", "city96/FLUX.1-dev-gguf", "flux1-dev-{quant}.gguf", "flux", "flux",
           FLUX_DEV_LICENCE, _DEV),
    *_gguf("flux.1-kontext-dev", "FLUX.1 Kontext dev", "QuantStack/FLUX.1-Kontext-dev-GGUF",
           "flux1-kontext-dev-{quant}.gguf", "flux", "flux", FLUX_DEV_LICENCE, _DEV),
    *_gguf("sd3.5-large", "SD 3.5 Large", "city96/stable-diffusion-3.5-large-gguf", "sd3.5_large-{quant}.gguf", "sd3",
           "sd3.5-large", SD35_LICENCE, _SD35),
    *_gguf("sd3.5-medium", "SD 3.5 Medium", "city96/stable-diffusion-3.5-medium-gguf", "sd3.5_medium-{quant}.gguf",
           "sd3", "sd3.5-medium", SD35_LICENCE, _SD35_MEDIUM),
)
