"""The inpaint engine on tiny pipelines through its public API: ordinary (4-channel) and dedicated (9-channel)
models of every family, "only masked" and "whole", every pixel outside the feathered mask kept exactly,
outpaint sizes, bad masks, the mask in the saved parameters, cancel, previews."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from studio.engines import inpaint_geometry as geo
from studio.engines.base import CancelToken, Runtime
from studio.engines.image import ImageEngine
from studio.engines.inpaint import InpaintEngine
from studio.errors import Cancelled, InvalidRequest
from studio.events import Output, Preview, Progress
from studio.library.store import Library
from studio.requests import ImageRequest, InpaintRequest
from studio.testing.events import collect
from studio.testing.tiny_sd import export_single_file

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = (120, 96)
MASK_BOX = (40, 30, 70, 50)  # left, top, right, bottom


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inpaint-files")
    picture = np.random.default_rng(0).integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
    Image.fromarray(picture).save(d / "in.png")
    mask = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    left, top, right, bottom = MASK_BOX
    mask[top:bottom, left:right] = 255
    Image.fromarray(mask).save(d / "mask.png")
    return d


@pytest.fixture(scope="module")
def runtime():
    return Runtime(device="cpu")


def request(model, files, **kw) -> InpaintRequest:
    base = ImageRequest(prompt=kw.pop("prompt", "a cat"), model=str(model), width=64, height=64,
                        num_inference_steps=kw.pop("steps", 4), seed=5, strength=kw.pop("strength", 1.0),
                        batch_size=kw.pop("batch_size", 1))
    kw.setdefault("image", str(files / "in.png"))
    kw.setdefault("mask", str(files / "mask.png"))
    return InpaintRequest(generation=base, **kw)


def run(req, runtime, cancel=None):
    events, stats = collect(InpaintEngine().run(req, runtime, cancel or CancelToken()))
    return [e for e in events if isinstance(e, Output)], events, stats


def expected_alpha(files, blur=8) -> np.ndarray:
    return np.asarray(geo.feather(geo.to_hard_mask(Image.open(files / "mask.png")), blur))


def check_outside_kept(out: Image.Image, files, blur=8) -> None:
    original = np.asarray(Image.open(files / "in.png").convert("RGB"))
    got = np.asarray(out)
    alpha = expected_alpha(files, blur)
    assert got.shape == original.shape  # the input's size
    assert np.array_equal(got[alpha == 0], original[alpha == 0])  # bit for bit outside the feathered mask
    inside = alpha == 255
    assert (got[inside] != original[inside]).any(axis=-1).mean() > 0.5  # and the masked part was repainted


@pytest.mark.parametrize("area", ["masked", "whole"])
def test_ordinary_4_channel_model_keeps_outside_pixels(tiny_sd, files, runtime, area):
    outs, events, stats = run(request(tiny_sd, files, inpaint_area=area), runtime)
    assert len(outs) == 1
    check_outside_kept(outs[0].data, files)
    params = outs[0].params
    assert params["kind"] == "inpaint" and params["mode"] == "inpaint" and params["inpainting_model"] is False
    assert params["inpaint_area"] == area and params["prompt"] == "a cat" and (params["width"], params["height"]) == SIZE
    assert any(isinstance(e, Progress) for e in events) and any(isinstance(e, Preview) for e in events)


@pytest.mark.parametrize("area", ["masked", "whole"])
def test_dedicated_9_channel_model_keeps_outside_pixels(tiny_inpaint, files, runtime, area):
    outs, _, _ = run(request(tiny_inpaint("sd1"), files, inpaint_area=area, prompt=""), runtime)
    check_outside_kept(outs[0].data, files)
    assert outs[0].params["inpainting_model"] is True


@pytest.mark.parametrize("family, dedicated", [("sd2", False), ("sdxl", False), ("sdxl", True)])
def test_sd2_and_sdxl_families(tiny_family, tiny_inpaint, files, runtime, family, dedicated):
    model = tiny_inpaint(family) if dedicated else tiny_family(family)[0]
    outs, _, _ = run(request(model, files, mask_blur=4, steps=2), runtime)
    check_outside_kept(outs[0].data, files, blur=4)
    assert outs[0].params["inpainting_model"] is dedicated


def test_single_file_inpainting_checkpoint_is_told_apart(tiny_inpaint, tiny_sd_config_root, files, runtime, tmp_path):
    checkpoint = export_single_file(tiny_inpaint("sd1"), tmp_path / "tiny-inpainting.safetensors")
    engine = InpaintEngine()
    engine.config_root = tiny_sd_config_root
    events, _ = collect(engine.run(request(checkpoint, files), runtime, CancelToken()))
    out = [e for e in events if isinstance(e, Output)][0]
    check_outside_kept(out.data, files)
    assert out.params["inpainting_model"] is True


def test_inpainting_model_refused_for_text_to_image_with_a_clear_message(tiny_inpaint, runtime):
    req = ImageRequest(prompt="a cat", model=str(tiny_inpaint("sd1")), width=64, height=64, num_inference_steps=2)
    with pytest.raises(InvalidRequest, match="inpainting model"):
        collect(ImageEngine().run(req, runtime, CancelToken()))


def test_same_seed_same_result_and_batch_candidates_differ(tiny_sd, files, runtime):
    a = run(request(tiny_sd, files, batch_size=2), runtime)[0]
    b = run(request(tiny_sd, files), runtime)[0]
    assert len(a) == 2 and [o.params["seed"] for o in a] == [5, 6]
    assert np.array_equal(np.asarray(a[0].data), np.asarray(b[0].data))
    assert not np.array_equal(np.asarray(a[0].data), np.asarray(a[1].data))


@pytest.mark.parametrize("mask", [True, False])
def test_outpaint_sizes_and_old_picture_kept(tiny_sd, files, runtime, mask):
    req = request(tiny_sd, files, mask=str(files / "mask.png") if mask else "",
                  extend_left=16, extend_right=8, extend_top=0, extend_bottom=24)
    outs, _, _ = run(req, runtime)
    out = np.asarray(outs[0].data)
    assert out.shape == (SIZE[1] + 24, SIZE[0] + 24, 3)
    assert outs[0].params["outpaint"] == {"left": 16, "right": 8, "top": 0, "bottom": 24}
    original = np.asarray(Image.open(files / "in.png").convert("RGB"))
    # far from the new edges and from the mask, the old picture is untouched
    kept = out[0:10, 16 + 20 : 16 + 35]
    assert np.array_equal(kept, original[0:10, 20:35])
    # the new area was generated (not left as the pre-fill)
    assert out[-24:].std() > 0


def bad(tmp_path, name, data=None, size=None, value=255):
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    else:
        Image.new("L", size, value).save(path)
    return path


@pytest.mark.parametrize(
    "mask_kind, words",
    [("other_size", "same size"), ("empty", "empty"), ("not_image", "not a picture"), ("missing", "No mask at")],
)
def test_bad_masks_are_one_line_errors_before_loading(tmp_path, files, mask_kind, words):
    path = {
        "other_size": lambda: bad(tmp_path, "m.png", size=(64, 64)),
        "empty": lambda: bad(tmp_path, "m.png", size=SIZE, value=0),
        "not_image": lambda: bad(tmp_path, "m.png", data=b"not a png at all"),
        "missing": lambda: tmp_path / "nope.png",
    }[mask_kind]()
    # the model does not exist either: the mask is checked first, without loading anything
    req = request(tmp_path / "no-model", files, mask=str(path))
    with pytest.raises(InvalidRequest, match=words) as info:
        run(req, Runtime(device="cpu"))
    assert "\n" not in str(info.value)


def test_request_validation(files):
    with pytest.raises(InvalidRequest, match="inpaint area"):
        request("m", files, inpaint_area="everything").validate()
    with pytest.raises(InvalidRequest, match="mask is empty"):
        request("m", files, mask="").validate()
    with pytest.raises(InvalidRequest, match="padding"):
        request("m", files, padding=-1).validate()
    with pytest.raises(InvalidRequest, match="strength"):
        request("m", files, strength=0.0).validate()
    request("m", files, prompt="").validate()  # an empty prompt is fine: "remove this"


def test_result_saved_with_parameters_and_mask(tiny_sd, files, runtime, tmp_path):
    outs, _, _ = run(request(tiny_sd, files), runtime)
    item = Library(tmp_path / "lib").save(outs[0])
    assert item.path.exists() and item.params["kind"] == "inpaint"
    mask = Image.open(io.BytesIO(base64.b64decode(item.params["mask_png"]))).convert("L")
    assert np.array_equal(np.asarray(mask) > 0, np.asarray(Image.open(files / "mask.png")) > 0)


def test_cancel_before_start_raises_cancelled(tiny_sd, files, runtime):
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        run(request(tiny_sd, files), runtime, cancel)
