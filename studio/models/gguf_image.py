"""GGUF files that hold a picture model's transformer (FLUX.1, SD 3.x), as the community quantizes them
(Q4_K_S, Q5_K_S, Q8_0 …). Only the transformer is in the file: the VAE and the text encoders come from the
family's base model, downloaded once and shared by every quantization (see ``ModelEntry.base``).

Read with the ``gguf`` package's reader (memory-mapped: the tensor table only, no weights in memory). A file
that is not GGUF, is truncated or names no known transformer gets one sentence saying so, before anything loads.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotFound
from . import families

#: the base model (catalog id) whose VAE and text encoders a bare transformer file uses, per family/variant
DEFAULT_BASES = {
    ("flux", "dev"): "flux.1-dev-parts",
    ("flux", "schnell"): "flux.1-schnell-parts",
    ("flux", "kontext"): "flux.1-kontext-dev-parts",
    ("sd3", "large"): "sd3.5-large-parts",
    ("sd3", "medium"): "sd3.5-medium-parts",
}


@dataclass(frozen=True)
class ImageGGUF:
    path: Path
    family: str  # 'flux' | 'sd3'
    variant: str  # flux: 'dev' | 'schnell'; sd3: 'large' | 'medium'
    quant: str  # the most common weight type: 'Q8_0', 'Q4_K' …
    tensor_bytes: int

    @property
    def default_base(self) -> str:
        return DEFAULT_BASES.get((self.family, self.variant), "")


def _tensors(path: Path):
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
    except (ValueError, OSError, IndexError, KeyError) as exc:
        size = path.stat().st_size if path.exists() else 0
        raise ModelNotFound(
            f"'{path.name}' is not a readable GGUF file ({size:,} bytes; truncated or damaged: {str(exc)[:120]}). "
            "Download or copy it again."
        ) from None
    field = reader.fields.get("general.architecture")
    arch = ""
    if field is not None and field.data:
        try:
            arch = bytes(field.parts[field.data[0]]).decode("utf-8", "replace")
        except (IndexError, TypeError):
            arch = ""
    return arch, reader.tensors


def image_family(path: Path) -> str | None:
    """'flux' | 'sd3' for a GGUF file holding a picture transformer; '' for anything else (a language model);
    None when the file cannot be read (truncated, damaged): the engine that opens it says why."""
    try:
        arch, tensors = _tensors(path)
    except ModelNotFound:
        return None
    if arch in ("flux", "sd3"):
        return arch
    return families.transformer_family_from_keys(t.name for t in tensors)


def _variant(family: str, names: list[str]) -> str:
    if family == "flux":
        guidance = any(n.split("model.diffusion_model.")[-1].startswith(("guidance_in.", "time_text_embed.guidance_embedder."))
                       for n in names)
        return "dev" if guidance else "schnell"
    blocks = {n.split("model.diffusion_model.")[-1].split(".")[1] for n in names
              if n.split("model.diffusion_model.")[-1].startswith(("joint_blocks.", "transformer_blocks."))}
    return "large" if len(blocks) >= 32 else "medium"


def read_transformer_file(path: Path) -> ImageGGUF:
    """A FLUX.1 / SD 3.x transformer in one file: a GGUF quantization, or a ``.safetensors`` (the bare
    transformer as Black Forest Labs ships it, or a whole checkpoint whose transformer is used); the other parts
    come from the family's base either way."""
    if path.suffix.lower() == ".gguf":
        return read_image_gguf(path)
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            names = list(f.keys())
            dtypes = Counter(str(f.get_slice(k).get_dtype()) for k in names[:64])
    except Exception as exc:
        raise ModelNotFound(f"'{path.name}' is not a readable .safetensors file ({str(exc)[:120]}).") from None
    family = families.transformer_family_from_keys(names)
    if not family:
        raise ModelNotFound(f"'{path.name}' holds no FLUX.1 or SD 3.x transformer.")
    quant = dtypes.most_common(1)[0][0] if dtypes else ""
    return ImageGGUF(path, family, _variant(family, names), quant, path.stat().st_size)


def read_image_gguf(path: Path) -> ImageGGUF:
    """What a picture-transformer GGUF holds; ModelNotFound with one sentence when it is not one."""
    arch, tensors = _tensors(path)
    names = [t.name for t in tensors]
    family = arch if arch in ("flux", "sd3") else families.transformer_family_from_keys(names)
    if not family:
        raise ModelNotFound(
            f"'{path.name}' is a GGUF file but not a FLUX.1 or SD 3.x transformer ({arch or 'no architecture'})."
        )
    variant = _variant(family, names)
    types = Counter(t.tensor_type.name for t in tensors if len(t.shape) >= 2)
    quant = types.most_common(1)[0][0] if types else ""
    return ImageGGUF(path, family, variant, quant, int(sum(int(t.n_bytes) for t in tensors)))
