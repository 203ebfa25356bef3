"""Upscaling with spandrel (the loader ComfyUI uses), in overlapping tiles (no Qt).

* Loading (:func:`load_upscaler`): a ``.safetensors`` file, or a ``.pth``/``.pt`` read with
  ``torch.load(weights_only=True)`` only (a pickle that holds code is refused, never run). spandrel
  recognises the architecture from the key names (Real-ESRGAN RRDBNet and compact, SwinIR, HAT, DAT, …:
  the architectures of the main ``spandrel`` package); anything else is a clear message. On a GPU the
  model runs in fp16 (or bf16) when its architecture supports it.
* Tiles (:func:`upscale_image`): the picture is cut into ``tile``-pixel tiles, each run with ``overlap``
  pixels of context around it; only each tile's own part of the result is kept, so there are no seams
  and only one tile's tensors are in memory besides the 8-bit result (a 4096² result is 48 MB).
  ``on_tile(done, total)`` reports progress; cancel is checked between tiles. ``tile=0`` runs the whole
  picture at once (the same as a plain spandrel call).
* :class:`UpscaleEngine` (kind ``upscale``): a picture file → a larger picture, with progress per tile.

spandrel imports torchvision, so this module is imported only when an upscale runs (never at start-up).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator
from pathlib import Path

from ..errors import Cancelled, InvalidRequest, UnsafeModelFile
from ..events import Event, ImageStats, Notice, Output, Progress, Status
from ..library.inputs import check_input_file
from ..models.device import DeviceChoice
from ..requests import UpscaleRequest
from .base import CancelToken, Runtime

#: the largest result (per side and in pixels): a 16384² picture is 768 MB of 8-bit RGB
MAX_SIDE = 16384
MAX_PIXELS = 16384 * 16384
#: the largest picture read as input
MAX_INPUT_PIXELS = 8192 * 8192
OVERLAP = 16  # pixels of context around each tile (input pixels)


def check_result_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """The result's size, or InvalidRequest saying what it would be when it is too large."""
    out_w, out_h = round(width * scale), round(height * scale)
    if out_w > MAX_SIDE or out_h > MAX_SIDE or out_w * out_h > MAX_PIXELS:
        raise InvalidRequest(
            f"Upscaling {width}×{height} by {scale:g} would make {out_w}×{out_h} pixels; Studio makes at most "
            f"{MAX_SIDE}×{MAX_SIDE}: pick a smaller factor or a smaller picture."
        )
    return out_w, out_h


def picture_size(path: str | Path, what: str = "picture to upscale") -> tuple[int, int]:
    """Width and height from the file's header (nothing decoded)."""
    from PIL import Image

    source = check_input_file(path, what)
    try:
        with Image.open(source) as im:
            return im.size
    except Image.DecompressionBombError:  # Pillow refuses to even open it: its PNG header still says the size
        size = _png_header_size(source)
        if size is not None:
            return size
        raise InvalidRequest(f"The {what} '{path}' is too large to read (over {Image.MAX_IMAGE_PIXELS * 2:,} pixels).") from None
    except Exception as exc:
        raise InvalidRequest(f"Can't read the {what} '{path}' ({type(exc).__name__}: {str(exc)[:160]}).") from None


def _png_header_size(path: Path) -> tuple[int, int] | None:
    import struct

    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) == 24 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    return None


def read_state_dict(path: Path) -> dict:
    """Tensors of an upscaler file: safetensors, or a pickle read with ``weights_only=True`` (no code runs)."""
    import pickle

    import torch

    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:
            raise InvalidRequest(f"'{path.name}' is not a readable .safetensors file ({str(exc)[:160]}).") from None
    if suffix not in (".pth", ".pt", ".ckpt", ".bin"):
        raise InvalidRequest(f"'{path.name}': an upscaler is a .safetensors or .pth file.")
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeModelFile(
            f"'{path.name}' holds more than weights (it would run code when opened), so Studio refuses it: "
            f"{(str(exc).splitlines() or ['?'])[0][:160]}",
            path,
        ) from None
    except Exception as exc:
        raise InvalidRequest(f"'{path.name}' is not a readable upscaler file ({type(exc).__name__}: {str(exc)[:160]}).") from None
    for key in ("params_ema", "params", "state_dict", "model"):  # BasicSR / trainers wrap the weights
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
            break
    if not isinstance(data, dict):
        raise InvalidRequest(f"'{path.name}' does not hold a state dict of weights.")
    return data


def load_upscaler(path: Path, choice: DeviceChoice):
    """A spandrel ImageModelDescriptor on ``choice`` (fp16/bf16 on a GPU where the architecture allows)."""
    import torch
    from spandrel import ImageModelDescriptor, ModelLoader, UnsupportedModelError

    state = read_state_dict(path)
    try:
        desc = ModelLoader().load_from_state_dict(state)
    except UnsupportedModelError:
        raise InvalidRequest(
            f"'{path.name}' is not an upscaler architecture Studio knows (spandrel reads Real-ESRGAN, SwinIR, "
            "HAT, DAT, OmniSR and others)."
        ) from None
    except Exception as exc:
        raise InvalidRequest(f"'{path.name}' could not be read as an upscaler ({type(exc).__name__}: {str(exc)[:160]}).") from None
    if not isinstance(desc, ImageModelDescriptor):
        raise InvalidRequest(f"'{path.name}' is a {desc.architecture.name} model for inpainting, not an upscaler.")
    desc.eval()
    if choice.is_gpu:
        if desc.supports_half:
            desc.to(torch.float16)
        elif desc.supports_bfloat16:
            desc.to(torch.bfloat16)
    desc.to(choice.device)
    return desc


def _model_dtype(desc):
    return next(desc.model.parameters()).dtype


def _run(desc, patch):
    """The model on one (1, 3, h, w) float patch, padded to its size requirements; (1, 3, h·s, w·s) in 0…1."""
    import torch

    req = desc.size_requirements
    h, w = patch.shape[-2:]
    want_h = max(h, req.minimum)
    want_w = max(w, req.minimum)
    if req.multiple_of > 1:
        want_h = math.ceil(want_h / req.multiple_of) * req.multiple_of
        want_w = math.ceil(want_w / req.multiple_of) * req.multiple_of
    if req.square:
        want_h = want_w = max(want_h, want_w)
    if (want_h, want_w) != (h, w):
        patch = torch.nn.functional.pad(patch, (0, want_w - w, 0, want_h - h), mode="replicate")
    out = desc(patch)
    return out[..., : h * desc.scale, : w * desc.scale].clamp(0, 1)


def _tiles(length: int, tile: int) -> list[tuple[int, int]]:
    if tile <= 0 or tile >= length:
        return [(0, length)]
    return [(start, min(start + tile, length)) for start in range(0, length, tile)]


def upscale_image(
    desc,
    image,
    *,
    tile: int = 512,
    overlap: int = OVERLAP,
    on_tile: Callable[[int, int], None] | None = None,
    cancel: CancelToken | None = None,
):
    """``image`` (PIL) enlarged by the model's own factor (see the module doc); returns RGB PIL."""
    import numpy as np
    import torch
    from PIL import Image

    rgb = np.asarray(image.convert("RGB"))
    height, width = rgb.shape[:2]
    s = desc.scale
    out = np.empty((height * s, width * s, 3), dtype=np.uint8)
    device = next(desc.model.parameters()).device
    dtype = _model_dtype(desc)
    rows, cols = _tiles(height, tile), _tiles(width, tile)
    total, done = len(rows) * len(cols), 0
    with torch.inference_mode():
        for y0, y1 in rows:
            for x0, x1 in cols:
                if cancel is not None:
                    cancel.check()
                cy0, cy1 = max(0, y0 - overlap), min(height, y1 + overlap)
                cx0, cx1 = max(0, x0 - overlap), min(width, x1 + overlap)
                if len(rows) * len(cols) == 1:
                    cy0, cy1, cx0, cx1 = 0, height, 0, width
                patch = torch.from_numpy(np.array(rgb[cy0:cy1, cx0:cx1])).permute(2, 0, 1)[None]
                patch = patch.to(device=device, dtype=torch.float32).div_(255.0).to(dtype)
                result = _run(desc, patch)[0].float().mul_(255.0).round_().byte().permute(1, 2, 0).cpu().numpy()
                oy, ox = (y0 - cy0) * s, (x0 - cx0) * s
                out[y0 * s : y1 * s, x0 * s : x1 * s] = result[oy : oy + (y1 - y0) * s, ox : ox + (x1 - x0) * s]
                done += 1
                if on_tile is not None:
                    on_tile(done, total)
    return Image.fromarray(out, "RGB")


def resize_to(image, size: tuple[int, int]):
    from PIL import Image

    return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)


class UpscaleEngine:
    kind = "upscale"

    def run(self, request: UpscaleRequest, runtime: Runtime, cancel: CancelToken) -> Generator[Event, None, ImageStats]:
        request.validate()
        width, height = picture_size(request.image)
        if request.scale:
            check_result_size(width, height, request.scale)
        if width * height > MAX_INPUT_PIXELS:
            raise InvalidRequest(
                f"The picture to upscale is {width}×{height}: too large to read (at most {MAX_INPUT_PIXELS:,} pixels)."
            )
        model = runtime.resolve(request.model, "", allow_pickle=True)  # .pth: read with weights_only below
        if not model.path.is_file():
            raise InvalidRequest(f"'{model.label}' is not an upscaler file (.safetensors or .pth).")
        cancel.check()
        yield Status(f"Loading {model.label}…")
        t_load = time.perf_counter()
        desc, choice, notice = runtime.load(model, lambda c: load_upscaler(model.path, c), variant="upscaler")
        load_s = time.perf_counter() - t_load
        if notice:
            yield Notice(notice)
        scale = request.scale or desc.scale
        out_size = check_result_size(width, height, scale)
        from PIL import Image

        with Image.open(check_input_file(request.image, "picture to upscale")) as im:
            im.load()
            picture = im.convert("RGB")
        yield Status(f"Upscaling {width}×{height} → {out_size[0]}×{out_size[1]}…")
        t0 = time.perf_counter()

        def work(emit):
            def on_tile(done, total):
                emit(Progress(done, total, "tile"))

            return upscale_image(desc, picture, tile=request.tile, on_tile=on_tile, cancel=cancel)

        result = yield from runtime.compute.stream(work, cancel)
        result = resize_to(result, out_size)
        seconds = time.perf_counter() - t0
        params = {
            **request.to_dict(),
            "model": model.id,
            "model_name": model.label,
            "architecture": desc.architecture.name,
            "model_scale": desc.scale,
            "scale": scale,
            "width": result.width,
            "height": result.height,
            "source_width": width,
            "source_height": height,
            "device": choice.label(),
        }
        yield Output("image", result, params)
        return ImageStats(seconds=seconds, load_seconds=load_s, device=choice.label(), model=model.id, images=1,
                          width=result.width, height=result.height)


__all__ = ["Cancelled", "UpscaleEngine", "check_result_size", "load_upscaler", "upscale_image"]
