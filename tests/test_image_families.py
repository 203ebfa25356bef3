"""SD 3.x and FLUX.1 through the image engine, on tiny pipelines built from configs (studio.testing.tiny_flow):
told apart by their files, the same pixels as the raw diffusers call, img2img and inpaint, family rules
(sizes, samplers, guidance), previews."""

from __future__ import annotations

import numpy as np
import pytest

from studio.engines.base import CancelToken, Runtime
from studio.engines.image import ImageEngine
from studio.engines.inpaint import InpaintEngine
from studio.errors import InvalidRequest
from studio.events import Notice, Output, Preview
from studio.models import families
from studio.requests import ImageRequest, InpaintRequest
from studio.testing.events import collect
from studio.testing.tiny_flow import build_tiny_flux, build_tiny_sd3

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def flow_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("flow")
    return {
        "sd3": build_tiny_sd3(root / "sd3"),
        "flux": build_tiny_flux(root / "flux-dev"),
        "schnell": build_tiny_flux(root / "flux-schnell", guidance_embeds=False),
    }


def req(model, **kw) -> ImageRequest:
    kw.setdefault("prompt", "a red cat")
    kw.setdefault("width", 64)
    kw.setdefault("height", 64)
    kw.setdefault("num_inference_steps", 3)
    kw.setdefault("guidance_scale", 3.5)
    kw.setdefault("seed", 7)
    return ImageRequest(model=str(model), **kw)


def run(engine, request):
    events, stats = collect(engine.run(request, Runtime(device="cpu"), CancelToken()))
    return [e for e in events if isinstance(e, Output)], events, stats


def raw(folder, mode="txt2img", **kw):
    import torch
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForText2Image

    pipe = AutoPipelineForText2Image.from_pretrained(str(folder), local_files_only=True)
    if mode == "img2img":
        pipe = AutoPipelineForImage2Image.from_pipe(pipe)
    pipe.set_progress_bar_config(disable=True)
    kw.setdefault("prompt", "a red cat")
    kw.setdefault("num_inference_steps", 3)
    kw.setdefault("guidance_scale", 3.5)
    return pipe(generator=torch.Generator("cpu").manual_seed(7), **kw).images[0]


def same(a, b) -> bool:
    return np.array_equal(np.asarray(a), np.asarray(b))


def test_families_are_told_apart_by_their_files(flow_models, tiny_sd):
    assert families.family_from_folder(flow_models["sd3"]) == "sd3"
    assert families.family_from_folder(flow_models["flux"]) == "flux"
    assert families.family_from_folder(tiny_sd) not in ("sd3", "flux")
    assert families.flux_variant(flow_models["flux"]) == "dev"
    assert families.flux_variant(flow_models["schnell"]) == "schnell"
    # good defaults per family: schnell 4 steps without guidance, dev 28 steps at 3.5
    assert families.defaults_for_folder(flow_models["schnell"])["num_inference_steps"] == 4
    assert families.defaults_for_folder(flow_models["schnell"])["guidance_scale"] == 0.0
    assert families.defaults_for_folder(flow_models["flux"])["num_inference_steps"] == 28
    assert families.defaults_for_folder(flow_models["flux"])["guidance_scale"] == 3.5
    # a transformer's tensor names alone (as a GGUF file carries them), in both layouts
    assert families.transformer_family_from_keys(["double_blocks.0.img_attn.qkv.weight"]) == "flux"
    assert families.transformer_family_from_keys(["single_transformer_blocks.0.attn.to_q.weight"]) == "flux"
    assert families.transformer_family_from_keys(["model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight"]) == "sd3"
    assert families.transformer_family_from_keys(["down_blocks.0.resnets.0.conv1.weight"]) == ""


@pytest.mark.parametrize("name", ["sd3", "flux", "schnell"])
def test_txt2img_equals_the_raw_pipeline(flow_models, name):
    folder = flow_models[name]
    guidance = 0.0 if name == "schnell" else 3.5
    outs, events, stats = run(ImageEngine(), req(folder, guidance_scale=guidance))
    assert len(outs) == 1
    assert same(outs[0].data, raw(folder, width=64, height=64, guidance_scale=guidance))
    assert outs[0].params["family"] == ("sd3" if name == "sd3" else "flux")
    assert any(isinstance(e, Preview) for e in events)  # packed FLUX latents are unpacked for previews
    assert all(e.image.size == (64, 64) for e in events if isinstance(e, Preview))


def test_img2img_equals_the_raw_pipeline(flow_models, tmp_path):
    from PIL import Image

    init = tmp_path / "init.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(init)
    for name in ("sd3", "flux"):
        folder = flow_models[name]
        outs, _, _ = run(ImageEngine(), req(folder, init_image=str(init), strength=0.7))
        with Image.open(init) as im:
            expected = raw(folder, "img2img", image=im.convert("RGB"), strength=0.7)
        assert same(outs[0].data, expected), name


def test_inpaint_keeps_every_pixel_outside_the_mask(flow_models, tmp_path):
    from PIL import Image

    picture = tmp_path / "pic.png"
    mask = tmp_path / "mask.png"
    base = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(base).save(picture)
    m = np.zeros((64, 64), np.uint8)
    m[16:48, 16:48] = 255
    Image.fromarray(m).save(mask)
    for name in ("sd3", "flux"):
        request = InpaintRequest(
            image=str(picture), mask=str(mask), mask_blur=0, inpaint_area="whole",
            generation=req(flow_models[name], width=64, height=64, strength=1.0),
        )
        events, _ = collect(InpaintEngine().run(request, Runtime(device="cpu"), CancelToken()))
        out = next(e for e in events if isinstance(e, Output))
        result = np.asarray(out.data.convert("RGB"))
        assert np.array_equal(result[m == 0], base[m == 0]), name
        assert not np.array_equal(result[m == 255], base[m == 255]), name


def test_family_rules_are_checked_before_a_step_runs(flow_models):
    with pytest.raises(InvalidRequest, match="multiples of 16"):
        run(ImageEngine(), req(flow_models["flux"], width=72))
    with pytest.raises(InvalidRequest, match="flow-matching"):
        run(ImageEngine(), req(flow_models["sd3"], scheduler="DPM++ 2M Karras"))
    # the one flow sampler that fits is accepted and gives the model's own result
    outs, _, _ = run(ImageEngine(), req(flow_models["sd3"], scheduler="Euler"))
    assert same(outs[0].data, raw(flow_models["sd3"], width=64, height=64))


def test_flux_says_what_it_ignores(flow_models):
    _, events, _ = run(ImageEngine(), req(flow_models["schnell"], negative_prompt="blurry", guidance_scale=3.5))
    notes = " ".join(e.message for e in events if isinstance(e, Notice))
    assert "negative prompt" in notes and "schnell" in notes
