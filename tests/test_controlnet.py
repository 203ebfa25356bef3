"""ControlNet on tiny models (``ControlNetModel.from_unet`` of the tiny UNet): Studio equals the raw diffusers
ControlNet pipeline; multi-ControlNet, start/end and scale have real effect; img2img, inpaint, SDXL; the
preprocessors (a real Canny) and hostile control images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.engines import control_maps
from studio.engines.base import CancelToken, Runtime
from studio.engines.image import ImageEngine
from studio.engines.inpaint import InpaintEngine
from studio.errors import InvalidRequest
from studio.events import Notice, Output
from studio.requests import ControlUnit, ImageRequest, InpaintRequest
from studio.testing.events import collect

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def runtime():
    return Runtime(device="cpu")


@pytest.fixture
def control_png(tmp_path):
    im = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(im).rectangle((10, 12, 40, 50), fill="black")
    path = tmp_path / "control.png"
    im.save(path)
    return path


def _request(model, **kw) -> ImageRequest:
    kw.setdefault("prompt", "a cat")
    return ImageRequest(model=str(model), width=64, height=64, num_inference_steps=4, seed=5, **kw)


def _run(request, runtime, engine=None):
    events, _ = collect((engine or ImageEngine()).run(request, runtime, CancelToken()))
    out = [e for e in events if isinstance(e, Output)]
    return np.asarray(out[0].data, dtype=np.int16), out[0].params, events


def test_controlnet_equals_the_raw_diffusers_pipeline(tiny_sd, tiny_controlnet, control_png, runtime):
    import torch
    from diffusers import ControlNetModel, StableDiffusionControlNetPipeline, StableDiffusionPipeline

    unit = ControlUnit(model=str(tiny_controlnet), image=str(control_png), mode="canny", low=50, high=120,
                       scale=0.8, start=0.0, end=0.75)
    got, params, _ = _run(_request(tiny_sd, controlnets=(unit,)), runtime)
    base = StableDiffusionPipeline.from_pretrained(str(tiny_sd), local_files_only=True)
    net = ControlNetModel.from_pretrained(str(tiny_controlnet), local_files_only=True)
    pipe = StableDiffusionControlNetPipeline(**base.components, controlnet=net)
    pipe.set_progress_bar_config(disable=True)
    edges = control_maps.canny(Image.open(control_png), 50, 120)
    raw = pipe(prompt="a cat", image=edges, num_inference_steps=4, guidance_scale=7.0, width=64, height=64,
               controlnet_conditioning_scale=0.8, control_guidance_start=0.0, control_guidance_end=0.75,
               generator=torch.Generator("cpu").manual_seed(5)).images[0]
    assert np.array_equal(np.asarray(raw, dtype=np.int16), got)
    assert params["controlnets"][0]["mode"] == "canny" and params["controlnets"][0]["scale"] == 0.8


def test_multi_controlnet_start_end_and_scale_have_effect(tiny_sd, tiny_controlnet, control_png, runtime):
    one = ControlUnit(model=str(tiny_controlnet), image=str(control_png))
    plain, _, _ = _run(_request(tiny_sd), runtime)
    single, _, _ = _run(_request(tiny_sd, controlnets=(one,)), runtime)
    assert np.abs(single - plain).mean() > 1
    zero, _, _ = _run(_request(tiny_sd, controlnets=(one.__class__(**{**one.__dict__, "scale": 0.0}),)), runtime)
    assert np.abs(zero - plain).max() <= 1  # weight 0: no guidance
    two = (one, ControlUnit(model=str(tiny_controlnet), image=str(control_png), mode="scribble", scale=0.6))
    multi, params, _ = _run(_request(tiny_sd, controlnets=two), runtime)
    assert not np.array_equal(multi, single)
    assert len(params["controlnets"]) == 2
    late, _, _ = _run(_request(tiny_sd, controlnets=(ControlUnit(model=str(tiny_controlnet), image=str(control_png),
                                                                  start=0.5),)), runtime)
    early, _, _ = _run(_request(tiny_sd, controlnets=(ControlUnit(model=str(tiny_controlnet), image=str(control_png),
                                                                   end=0.5),)), runtime)
    assert not np.array_equal(late, single) and not np.array_equal(early, single) and not np.array_equal(late, early)


def test_controlnet_img2img_inpaint_and_sdxl(tiny_sd, tiny_controlnet, tiny_family, tiny_controlnet_for,
                                            control_png, runtime, tmp_path):
    unit = ControlUnit(model=str(tiny_controlnet), image=str(control_png))
    init = tmp_path / "init.png"
    Image.new("RGB", (64, 64), (200, 120, 40)).save(init)
    with_cn, params, _ = _run(_request(tiny_sd, init_image=str(init), strength=0.6, controlnets=(unit,)), runtime)
    without, _, _ = _run(_request(tiny_sd, init_image=str(init), strength=0.6), runtime)
    assert params["mode"] == "img2img" and not np.array_equal(with_cn, without)

    mask = tmp_path / "mask.png"
    m = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(m).rectangle((16, 16, 48, 48), fill=255)
    m.save(mask)
    inpaint = InpaintRequest(image=str(init), mask=str(mask), inpaint_area="whole",
                             generation=_request(tiny_sd, strength=1.0, controlnets=(unit,)))
    painted, params, _ = _run(inpaint, runtime, InpaintEngine())
    assert params["mode"] == "inpaint" and painted.shape == (64, 64, 3)
    assert np.array_equal(painted[0, 0], np.array([200, 120, 40]))  # outside the mask: the original

    xl = tiny_family("sdxl")[0]
    xl_unit = ControlUnit(model=str(tiny_controlnet_for("sdxl")), image=str(control_png))
    a, _, _ = _run(_request(xl, controlnets=(xl_unit,)), runtime)
    b, _, _ = _run(_request(xl), runtime)
    assert not np.array_equal(a, b)


def test_controlnet_of_another_family_and_hostile_control_images(tiny_sd, tiny_family, tiny_controlnet_for,
                                                                 tiny_controlnet, runtime, tmp_path):
    xl_net = tiny_controlnet_for("sdxl")
    other = tmp_path / "other.png"
    Image.new("RGB", (64, 64), "gray").save(other)
    with pytest.raises(InvalidRequest, match="made for"):
        _run(_request(tiny_sd, controlnets=(ControlUnit(model=str(xl_net), image=str(other)),)), runtime)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    unit = ControlUnit(model=str(tiny_controlnet), image=str(broken))
    with pytest.raises(InvalidRequest, match=r"ControlNet unit 2 .*broken\.png"):
        _run(_request(tiny_sd, controlnets=(ControlUnit(model=str(tiny_controlnet), image=str(other)), unit)),
             runtime)
    # another size (resized, said so), 16-bit grayscale, RGBA
    big = tmp_path / "big16.png"
    sixteen = Image.fromarray((np.arange(96 * 80, dtype=np.uint16).reshape(80, 96) * 8).astype(np.uint16))
    assert sixteen.mode.startswith("I;16")
    sixteen.save(big)
    rgba = tmp_path / "rgba.png"
    Image.new("RGBA", (64, 64), (255, 0, 0, 0)).save(rgba)
    units = (ControlUnit(model=str(tiny_controlnet), image=str(big)),
             ControlUnit(model=str(tiny_controlnet), image=str(rgba), mode="canny"))
    _, _, events = _run(_request(tiny_sd, controlnets=units), runtime)
    notes = [e.message for e in events if isinstance(e, Notice)]
    assert any("unit 1" in n and "96×80" in n and "resized to 64×64" in n for n in notes)
    assert control_maps.read_control_image(rgba).getpixel((3, 3)) == (255, 255, 255)  # transparent: on white
    assert max(control_maps.read_control_image(big).getextrema()[0]) > 0


def test_unit_validation_names_the_unit():
    unit = ControlUnit(model="m", image="x.png", start=0.8, end=0.2)
    with pytest.raises(InvalidRequest, match="ControlNet unit 1 .*start 0.8 must be below end 0.2"):
        _request("m", controlnets=(unit,)).validate()
    with pytest.raises(InvalidRequest, match="ControlNet unit 2: .*control weight"):
        _request("m", controlnets=(ControlUnit(model="m", image="a"), ControlUnit(model="m", image="a", scale=9.0))).validate()


# --- preprocessors -----------------------------------------------------------------------------------


def test_canny_is_thin_thresholded_and_connected():
    im = Image.new("RGB", (80, 60), "black")
    ImageDraw.Draw(im).rectangle((20, 15, 60, 45), fill=(255, 255, 255))
    edges = np.asarray(control_maps.canny(im, 100, 200))[..., 0] > 0
    # a closed, one-pixel-thin outline: each row through the square crosses exactly two edge pixels
    assert edges[30].sum() == 2 and edges[:, 40].sum() == 2
    assert not edges[30, 25:55].any()  # nothing inside
    soft = Image.new("RGB", (80, 60), "black")
    ImageDraw.Draw(soft).rectangle((20, 15, 60, 45), fill=(30, 30, 30))  # a weak step: gradient 120 (180 at corners)
    assert not np.asarray(control_maps.canny(soft, 100, 200)).any()  # below high: no edge at all
    assert np.asarray(control_maps.canny(soft, 50, 150)).any()
    # hysteresis: a weak edge (a faint band across the picture: no corners) is kept only where it touches a strong one
    lone = Image.new("RGB", (80, 60), "black")
    ImageDraw.Draw(lone).rectangle((0, 15, 79, 45), fill=(45, 45, 45))  # gradient 180: between low and high
    assert not np.asarray(control_maps.canny(lone, 100, 200)).any()
    mixed = lone.copy()
    ImageDraw.Draw(mixed).rectangle((0, 15, 20, 45), fill=(255, 255, 255))
    kept = np.asarray(control_maps.canny(mixed, 100, 200))[..., 0] > 0
    assert kept[13:17, 40:79].any()  # the faint band's top edge, connected to the white block's


@pytest.mark.parametrize("mode", ["scribble", "lineart", "shuffle", "tile", "none"])
def test_preprocessors_give_rgb_maps_of_the_same_size(mode):
    im = Image.new("RGB", (70, 50), "white")
    ImageDraw.Draw(im).ellipse((10, 10, 50, 40), outline="black", width=3)
    out = control_maps.preprocess(im, mode)
    assert out.mode == "RGB" and out.size == (70, 50)
    if mode in ("scribble", "lineart"):
        a = np.asarray(out)[..., 0]
        assert a[25, 11] > 100 and a[25, 30] < 50  # white on the drawn line, black inside
    if mode == "shuffle":
        assert control_maps.shuffle(im) == control_maps.shuffle(im)  # seeded


def test_depth_preprocessor_with_depth_anything(tiny_depth):
    from studio.engines.image_control import load_depth_estimator
    from studio.models.device import DeviceChoice
    from studio.models.resolve import resolve

    estimator = load_depth_estimator(resolve(str(tiny_depth), ""), DeviceChoice("cpu", "float32"))
    im = Image.new("RGB", (60, 40), "white")
    ImageDraw.Draw(im).rectangle((5, 5, 30, 30), fill="blue")
    out = control_maps.depth_map(im, estimator)
    assert out.size == (60, 40) and out.mode == "RGB"
    a = np.asarray(out)
    assert a.min() == 0 and a.max() == 255  # normalised near→white, far→black


def test_hires_fix_with_controlnet_guides_the_second_pass(tiny_sd, tiny_controlnet, control_png, runtime):
    import torch
    from diffusers import ControlNetModel, StableDiffusionControlNetImg2ImgPipeline, StableDiffusionPipeline

    unit = ControlUnit(model=str(tiny_controlnet), image=str(control_png), scale=0.9)
    first, _, _ = _run(_request(tiny_sd, controlnets=(unit,)), runtime)
    hires, params, _ = _run(_request(tiny_sd, controlnets=(unit,), hires_scale=1.5, hires_strength=0.5), runtime)
    assert hires.shape == (96, 96, 3) and params["hires_scale"] == 1.5
    base = StableDiffusionPipeline.from_pretrained(str(tiny_sd), local_files_only=True)
    net = ControlNetModel.from_pretrained(str(tiny_controlnet), local_files_only=True)
    pipe = StableDiffusionControlNetImg2ImgPipeline(**base.components, controlnet=net)
    pipe.set_progress_bar_config(disable=True)
    big = Image.fromarray(first.astype(np.uint8)).resize((96, 96), Image.Resampling.LANCZOS)
    control = Image.open(control_png).convert("RGB").resize((96, 96), Image.Resampling.LANCZOS)
    raw = pipe(prompt="a cat", image=big, control_image=control, strength=0.5, num_inference_steps=4,
               guidance_scale=7.0, controlnet_conditioning_scale=0.9,
               generator=torch.Generator("cpu").manual_seed(5)).images[0]
    assert np.array_equal(np.asarray(raw, dtype=np.int16), hires)  # the second pass is ControlNet img2img


def test_single_file_controlnet_in_a1111_layout_loads_offline_and_equals_its_folder(
        tiny_sd, tiny_controlnet, tiny_sd_config_root, control_png, runtime, tmp_path):
    """A ControlNet as one .safetensors in A1111's layout (models/ControlNet/…) loads through
    ControlNetModel.from_single_file with a config derived from the family's shipped UNet config, offline: the
    same weights and the same picture as its diffusers folder; a pickled one is refused."""
    import torch
    from diffusers import ControlNetModel

    from studio.errors import UnsafeModelFile
    from studio.testing.tiny_tools import export_controlnet_single_file

    (tmp_path / "ControlNet").mkdir()
    single = export_controlnet_single_file(tiny_controlnet, tmp_path / "ControlNet" / "control_tiny_canny.safetensors")
    from safetensors import safe_open

    with safe_open(str(single), "pt") as f:
        keys = list(f.keys())
    assert all(k.startswith("control_model.") for k in keys) and "control_model.input_hint_block.14.weight" in keys
    from studio.engines.image_control import load_controlnet
    from studio.models.device import DeviceChoice

    loaded = load_controlnet(runtime.resolve(str(single), ""), DeviceChoice("cpu", "float32"), "sd1", tiny_sd_config_root)
    folder = ControlNetModel.from_pretrained(str(tiny_controlnet), local_files_only=True)
    want = folder.state_dict()
    got = loaded.state_dict()
    assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)
    engine = ImageEngine(config_root=tiny_sd_config_root)
    unit = dict(image=str(control_png), mode="canny", scale=0.9)
    from_file, params, _ = _run(_request(tiny_sd, controlnets=(ControlUnit(model=str(single), **unit),)), runtime, engine)
    from_folder, _, _ = _run(_request(tiny_sd, controlnets=(ControlUnit(model=str(tiny_controlnet), **unit),)),
                             Runtime(device="cpu"), engine)
    plain, _, _ = _run(_request(tiny_sd), runtime, engine)
    assert np.array_equal(from_file, from_folder) and not np.array_equal(from_file, plain)
    assert params["controlnets"][0]["model"] == str(single)
    pickled = tmp_path / "ControlNet" / "control_old.pth"
    pickled.write_bytes(b"not really")
    with pytest.raises((UnsafeModelFile, InvalidRequest)):
        _run(_request(tiny_sd, controlnets=(ControlUnit(model=str(pickled), **unit),)), runtime, engine)


def test_single_file_sdxl_controlnet_loads_with_the_same_weights(tiny_family, tiny_controlnet_for, tmp_path):
    """SDXL ControlNets for A1111 are one file with diffusers' keys (diffusers_xl_canny_*.safetensors)."""
    import torch
    from diffusers import ControlNetModel

    from studio.engines.image_control import load_controlnet
    from studio.models.device import DeviceChoice
    from studio.testing.tiny_tools import export_controlnet_single_file

    folder = tiny_controlnet_for("sdxl")
    single = export_controlnet_single_file(folder, tmp_path / "diffusers_xl_tiny.safetensors", layout="diffusers")
    config_root = tiny_family("sdxl")[2]
    loaded = load_controlnet(Runtime(device="cpu").resolve(str(single), ""), DeviceChoice("cpu", "float32"), "sdxl",
                             config_root)
    want = ControlNetModel.from_pretrained(str(folder), local_files_only=True).state_dict()
    got = loaded.state_dict()
    assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)
