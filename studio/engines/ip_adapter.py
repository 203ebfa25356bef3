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


def read_images(units) -> list:
    """The reference pictures of ``units`` (IPAdapterUnit), read and checked; the message names the unit."""
    images = []
    for i, unit in enumerate(units, 1):
        try:
            images.append(read_image(unit.image))
        except InvalidRequest as exc:
            raise InvalidRequest(f"IP-Adapter {i} ({unit.model}): {exc}" if len(units) > 1 else str(exc)) from None
    return images


def apply(pipe, adapters: Adapter | list[Adapter], scales: float | list[float]) -> None:
    """Load one adapter per reference (diffusers' lists of weights; the image encoder is the first one's) and
    give each its scale. The same adapter may come several times: each copy guides with its own picture."""
    adapters = adapters if isinstance(adapters, list) else [adapters]
    scales = scales if isinstance(scales, list) else [scales]
    try:
        pipe.load_ip_adapter(
            [str(a.folder) for a in adapters], subfolder=[a.subfolder for a in adapters],
            weight_name=[a.weight_name for a in adapters], image_encoder_folder="image_encoder", local_files_only=True,
        )
    except Exception as exc:
        remove(pipe)
        names = ", ".join(dict.fromkeys(a.label for a in adapters))
        raise InvalidRequest(
            f"IP-Adapter '{names}' could not be used with this model ({type(exc).__name__}: {str(exc)[:200]})."
        ) from None
    pipe.set_ip_adapter_scale(scales if len(scales) > 1 else scales[0])


def remove(pipe) -> None:
    try:
        pipe.unload_ip_adapter()
    except Exception:  # nothing loaded
        pass
