"""IP-Adapter for the image engine (no Qt): prompt with a picture, through diffusers' ``load_ip_adapter``
(SD 1.x and SDXL). The adapter is a catalog entry (h94/IP-Adapter: ``models/ip-adapter_sd15.safetensors`` or
``sdxl_models/ip-adapter_sdxl.safetensors``, each beside its ``image_encoder/`` folder) or a ``.safetensors``
file with an ``image_encoder/`` folder beside it. It is loaded for the job and unloaded afterwards, so the
cached model is as before."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidRequest, UnsafeModelFile
from ..models.resolve import ResolvedModel
from . import control_maps

#: where each family's adapter lives in the catalog's repository (subfolder, file)
REPO_LAYOUT = {"sd1": ("models", "ip-adapter_sd15.safetensors"), "sdxl": ("sdxl_models", "ip-adapter_sdxl.safetensors")}


@dataclass(frozen=True)
class Adapter:
    folder: Path
    subfolder: str
    weight_name: str
    label: str


def read_image(path: str):
    return control_maps.read_control_image(path, "IP-Adapter image")


def locate(model: ResolvedModel, family: str) -> Adapter:
    """The adapter's folder, subfolder and weight file (checked: .safetensors, an image encoder beside it)."""
    path = Path(model.path)
    if path.is_file():
        folder, subfolder, weight = path.parent, "", path.name
    else:
        layout = REPO_LAYOUT.get(family)
        if layout is None or not (path / layout[0] / layout[1]).is_file():
            raise InvalidRequest(
                f"'{model.label}' holds no IP-Adapter for this model's family ({family or 'unknown'}): pick the "
                "IP-Adapter made for it (SD 1.5 or SDXL), or give its .safetensors file."
            )
        folder, subfolder, weight = path, layout[0], layout[1]
    if not weight.endswith(".safetensors"):
        raise UnsafeModelFile(
            f"IP-Adapter '{weight}' is not a .safetensors file; pickled weights can run code, so Studio loads "
            "IP-Adapters only as .safetensors.",
            folder / subfolder / weight,
        )
    encoder = folder / subfolder / "image_encoder"
    if not (encoder / "config.json").is_file() or not any(encoder.glob("*.safetensors")):
        raise InvalidRequest(
            f"IP-Adapter '{model.label}' has no image encoder (an image_encoder folder with config.json and "
            ".safetensors beside the adapter file)."
        )
    return Adapter(folder, subfolder, weight, model.label)


def apply(pipe, adapter: Adapter, scale: float) -> None:
    try:
        pipe.load_ip_adapter(
            str(adapter.folder), subfolder=adapter.subfolder, weight_name=adapter.weight_name,
            image_encoder_folder="image_encoder", local_files_only=True,
        )
    except Exception as exc:
        remove(pipe)
        raise InvalidRequest(
            f"IP-Adapter '{adapter.label}' could not be used with this model ({type(exc).__name__}: {str(exc)[:200]})."
        ) from None
    pipe.set_ip_adapter_scale(scale)


def remove(pipe) -> None:
    try:
        pipe.unload_ip_adapter()
    except Exception:  # nothing loaded
        pass
