"""Upscaling with spandrel on a tiny Real-ESRGAN RRDBNet (BasicSR key layout): equal to the raw spandrel call
with tiles off, tiles with overlap close to it, progress per tile, cancel between tiles, safe loading
(.pth with weights_only only), unknown architectures and huge requests refused with a clear message."""

from __future__ import annotations

import pickle
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from studio.cancel import CancelToken
from studio.engines import upscale
from studio.engines.base import Runtime
from studio.errors import Cancelled, InvalidRequest, UnsafeModelFile
from studio.events import Output, Progress
from studio.models.device import DeviceChoice
from studio.requests import UpscaleRequest
from studio.testing.events import collect
from studio.testing.tiny_tools import build_tiny_rrdbnet, rrdbnet_state_dict

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CPU = DeviceChoice("cpu", "float32")


@pytest.fixture
def picture(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    im = Image.fromarray(base).resize((40, 30), Image.Resampling.BICUBIC)
    path = tmp_path / "small.png"
    im.save(path)
    return path


def _raw(model_path, image):
    import torch
    from safetensors.torch import load_file
    from spandrel import ModelLoader

    desc = ModelLoader().load_from_state_dict(load_file(str(model_path))).eval()
    tensor = torch.from_numpy(np.asarray(image.convert("RGB"))).permute(2, 0, 1)[None].float() / 255.0
    with torch.inference_mode():
        out = desc(tensor).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    return (out * 255.0).round().astype(np.int16)


def test_upscale_without_tiles_equals_the_raw_spandrel_call(tiny_upscaler, picture):
    desc = upscale.load_upscaler(tiny_upscaler, CPU)
    assert desc.architecture.name == "ESRGAN" and desc.scale == 4
    got = np.asarray(upscale.upscale_image(desc, Image.open(picture), tile=0), dtype=np.int16)
    raw = _raw(tiny_upscaler, Image.open(picture))
    assert got.shape == (120, 160, 3)
    assert np.abs(got - raw).max() <= 1


def test_tiles_overlap_report_progress_and_cancel_between_tiles(tiny_upscaler, picture):
    desc = upscale.load_upscaler(tiny_upscaler, CPU)
    whole = np.asarray(upscale.upscale_image(desc, Image.open(picture), tile=0), dtype=np.int16)
    seen = []
    tiled = np.asarray(upscale.upscale_image(desc, Image.open(picture), tile=16, on_tile=lambda d, t: seen.append((d, t))),
                       dtype=np.int16)
    assert seen == [(i, 6) for i in range(1, 7)]  # 3 × 2 tiles of 16 px over 40 × 30
    assert tiled.shape == whole.shape
    assert np.abs(tiled - whole).mean() < 1.0  # the overlap hides the seams
    cancel = CancelToken()

    def stop_after_two(done, total):
        if done == 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        upscale.upscale_image(desc, Image.open(picture), tile=16, on_tile=stop_after_two, cancel=cancel)


def test_upscale_engine_writes_the_picture_with_params(tiny_upscaler, picture):
    request = UpscaleRequest(image=str(picture), model=str(tiny_upscaler), tile=16)
    events, stats = collect(upscale.UpscaleEngine().run(request, Runtime(device="cpu"), CancelToken()))
    out = [e for e in events if isinstance(e, Output)]
    assert len(out) == 1 and out[0].data.size == (160, 120)
    assert out[0].params["architecture"] == "ESRGAN" and out[0].params["scale"] == 4
    assert [e.step for e in events if isinstance(e, Progress)] == [1, 2, 3, 4, 5, 6]
    two = UpscaleRequest(image=str(picture), model=str(tiny_upscaler), scale=2, tile=0)
    events, _ = collect(upscale.UpscaleEngine().run(two, Runtime(device="cpu"), CancelToken()))
    assert [e for e in events if isinstance(e, Output)][0].data.size == (80, 60)  # 4× then Lanczos to 2×


def test_pth_loads_with_weights_only_and_a_pth_holding_code_is_refused(tmp_path, picture):
    pth = build_tiny_rrdbnet(tmp_path / "x4.pth")
    assert upscale.load_upscaler(pth, CPU).scale == 4
    evil = tmp_path / "evil.pth"

    class Boom:
        def __reduce__(self):
            return (print, ("this would run",))

    import torch

    torch.save({"params_ema": rrdbnet_state_dict(), "hook": Boom()}, str(evil))
    with pytest.raises(UnsafeModelFile, match="run code"):
        upscale.load_upscaler(evil, CPU)
    raw_pickle = tmp_path / "raw.pth"
    raw_pickle.write_bytes(pickle.dumps(Boom()))
    with pytest.raises((UnsafeModelFile, InvalidRequest)):
        upscale.load_upscaler(raw_pickle, CPU)


def test_unknown_architecture_and_huge_requests_are_refused(tmp_path, tiny_upscaler):
    from safetensors.torch import save_file
    import torch

    odd = tmp_path / "odd.safetensors"
    save_file({"layer.weight": torch.zeros(3, 3)}, str(odd))
    with pytest.raises(InvalidRequest, match="not an upscaler architecture"):
        upscale.load_upscaler(odd, CPU)
    huge = tmp_path / "huge.png"  # a header that says 30000×30000 (nothing to decode)
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
                     + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))
    request = UpscaleRequest(image=str(huge), model=str(tiny_upscaler), scale=4)
    runtime = Runtime(device="cpu")
    with pytest.raises(InvalidRequest, match="would make 120000×120000"):
        collect(upscale.UpscaleEngine().run(request, runtime, CancelToken()))
    assert not runtime.cache.keys()  # refused before loading


# --- hires fix ------------------------------------------------------------------------------------------


def test_hires_fix_upscales_then_refines(tiny_sd, tiny_upscaler):
    import torch
    from diffusers import AutoPipelineForImage2Image

    from studio.engines.image import ImageEngine
    from studio.requests import ImageRequest

    runtime = Runtime(device="cpu")
    common = dict(model=str(tiny_sd), prompt="a cat", width=64, height=64, num_inference_steps=4, seed=9)
    events, _ = collect(ImageEngine().run(ImageRequest(**common), runtime, CancelToken()))
    first = [e for e in events if isinstance(e, Output)][0].data
    request = ImageRequest(**common, hires_scale=2.0, hires_strength=0.5, hires_steps=6)
    events, _ = collect(ImageEngine().run(request, runtime, CancelToken()))
    out = [e for e in events if isinstance(e, Output)][0]
    assert out.data.size == (128, 128)
    assert out.params["first_pass_width"] == 64 and out.params["hires_upscaler"] == "Lanczos"
    hires = [e for e in events if isinstance(e, Progress) and e.stage == "hires"]
    assert len(hires) >= 3 and hires[-1].step == hires[-1].total  # PNDM runs one extra model pass
    # the second pass is diffusers' img2img on the Lanczos-enlarged first picture, same seed
    pipe = AutoPipelineForImage2Image.from_pretrained(str(tiny_sd), local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    raw = pipe(prompt="a cat", image=first.resize((128, 128), Image.Resampling.LANCZOS), strength=0.5,
               num_inference_steps=6, guidance_scale=7.0, generator=torch.Generator("cpu").manual_seed(9)).images[0]
    assert np.array_equal(np.asarray(raw), np.asarray(out.data))
    with_model = ImageRequest(**common, hires_scale=2.0, upscaler=str(tiny_upscaler))
    events, _ = collect(ImageEngine().run(with_model, runtime, CancelToken()))
    modelled = [e for e in events if isinstance(e, Output)][0]
    assert modelled.data.size == (128, 128) and modelled.params["hires_upscaler"] == "tiny-x4.safetensors"
    assert not np.array_equal(np.asarray(modelled.data), np.asarray(out.data))
    with pytest.raises(InvalidRequest, match="no denoising step"):
        collect(ImageEngine().run(ImageRequest(**{**common, "num_inference_steps": 2}, hires_scale=2.0,
                                               hires_strength=0.2), runtime, CancelToken()))


@pytest.mark.parametrize(("kind", "arch", "scale"), [("compact", "RealESRGAN Compact", 4), ("swinir", "SwinIR", 2),
                                                      ("esrgan", "ESRGAN", 4)])
@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_each_architecture_loads_and_equals_the_raw_spandrel_call(kind, arch, scale, suffix, tmp_path, picture):
    """Real-ESRGAN RRDBNet and compact (SRVGGNetCompact) and SwinIR, in their own key layouts, from .safetensors
    and from a weights-only .pth as the official releases wrap it: Studio's result (tiles off) is the raw
    spandrel call's within 1/255, tiles change it little, and the model changes the picture for real."""
    import torch
    from safetensors.torch import load_file
    from spandrel import ModelLoader

    from studio.testing.tiny_tools import build_tiny_upscaler

    path = build_tiny_upscaler(tmp_path / f"tiny-{kind}{suffix}", kind)
    desc = upscale.load_upscaler(path, CPU)
    assert desc.architecture.name == arch and desc.scale == scale
    image = Image.open(picture)
    got = np.asarray(upscale.upscale_image(desc, image, tile=0), dtype=np.int16)
    if suffix == ".pth":  # the official wrapping: {"params_ema": …} or {"params": …}
        (weights,) = torch.load(str(path), weights_only=True).values()
    else:
        weights = load_file(str(path))
    raw_desc = ModelLoader().load_from_state_dict(weights).eval()
    tensor = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)[None].float() / 255.0
    with torch.inference_mode():
        raw_out = raw_desc(tensor).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    raw = (raw_out * 255.0).round().astype(np.int16)
    assert got.shape == raw.shape == (30 * scale, 40 * scale, 3)
    assert np.abs(got - raw).max() <= 1
    tiled = np.asarray(upscale.upscale_image(desc, image, tile=16, overlap=8), dtype=np.int16)
    assert np.abs(tiled - raw).mean() < 4
    lanczos = np.asarray(image.resize((40 * scale, 30 * scale), Image.Resampling.LANCZOS), dtype=np.int16)
    assert np.abs(got - lanczos).mean() > 5  # a model, not a resize


def test_catalog_upscalers_load_from_the_hub_cache_by_id(tmp_path, picture):
    """Each catalog upscaler, its file laid out in the Hugging Face cache as a finished download leaves it (a tiny
    model of the same architecture under the entry's file name), upscales by catalog id offline; every entry has a
    licence, and the non-commercial one is flagged before download."""
    import os

    from studio.models.entry import restricted_licence
    from studio.models.tools_catalog import UPSCALER_ENTRIES
    from studio.testing.tiny_flow import cache_as_hub_repo
    from studio.testing.tiny_tools import build_tiny_upscaler

    kinds = {"realesrgan-x4plus": "esrgan", "realesrgan-x4plus-anime-6b": "esrgan", "realesr-general-x4v3": "compact",
             "4x-ultrasharp": "esrgan"}
    assert {e.id for e in UPSCALER_ENTRIES} >= set(kinds)
    for entry in UPSCALER_ENTRIES:
        assert entry.licence and entry.format == "upscaler" and entry.allow_patterns == (entry.filename,)
        assert entry.filename.endswith((".safetensors", ".pth"))
    assert [e.id for e in UPSCALER_ENTRIES if restricted_licence(e)] == ["4x-ultrasharp"]
    runtime = Runtime(device="cpu")
    for entry in UPSCALER_ENTRIES:
        if entry.id not in kinds:
            continue
        folder = tmp_path / entry.id
        folder.mkdir()
        build_tiny_upscaler(folder / entry.filename, kinds[entry.id])
        cache_as_hub_repo(folder, entry.repo_id, os.environ["HF_HUB_CACHE"])
        request = UpscaleRequest(image=str(picture), model=entry.id, tile=0)
        events, _ = collect(upscale.UpscaleEngine().run(request, runtime, CancelToken()))
        (out,) = [e for e in events if isinstance(e, Output)]
        direct = upscale.upscale_image(upscale.load_upscaler(folder / entry.filename, CPU), Image.open(picture), tile=0)
        assert np.array_equal(np.asarray(out.data), np.asarray(direct)), entry.id
