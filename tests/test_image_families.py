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
    with pytest.raises(InvalidRequest, match="guidance 25 is outside"):
        run(ImageEngine(), req(flow_models["flux"], guidance_scale=25))
    with pytest.raises(InvalidRequest, match="flow-matching"):
        run(ImageEngine(), req(flow_models["sd3"], scheduler="DPM++ 2M Karras"))
    # the one flow sampler that fits is accepted and gives the model's own result
    outs, _, _ = run(ImageEngine(), req(flow_models["sd3"], scheduler="Euler"))
    assert same(outs[0].data, raw(flow_models["sd3"], width=64, height=64))


def test_flux_says_what_it_ignores(flow_models):
    _, events, _ = run(ImageEngine(), req(flow_models["schnell"], negative_prompt="blurry", guidance_scale=3.5))
    notes = " ".join(e.message for e in events if isinstance(e, Notice))
    assert "negative prompt" in notes and "schnell" in notes


# --- GGUF transformers: the file's transformer, the base's other parts -------------------------------------


@pytest.fixture
def flux_gguf(flow_models, tmp_path, monkeypatch):
    """A Q8_0 GGUF of the tiny FLUX dev transformer, and the tiny FLUX folder downloaded as FLUX.1-dev
    (what 'flux.1-dev-parts' resolves to), in this test's Hugging Face cache."""
    import os

    from studio.testing.tiny_flow import cache_as_hub_repo, export_gguf_transformer

    cache_as_hub_repo(flow_models["flux"], "black-forest-labs/FLUX.1-dev", os.environ["HF_HUB_CACHE"])
    return export_gguf_transformer(flow_models["flux"], tmp_path / "flux1-dev-Q8_0.gguf")


def test_a_gguf_transformer_runs_with_its_base_and_equals_the_raw_call(flow_models, flux_gguf):
    import torch
    from diffusers import FluxPipeline, FluxTransformer2DModel, GGUFQuantizationConfig

    from studio.models.gguf_image import read_image_gguf

    info = read_image_gguf(flux_gguf)
    assert (info.family, info.variant, info.quant, info.default_base) == ("flux", "dev", "Q8_0", "flux.1-dev-parts")
    outs, _, _ = run(ImageEngine(), req(flux_gguf, quantize="gguf"))
    base = flow_models["flux"]
    transformer = FluxTransformer2DModel.from_single_file(
        str(flux_gguf), quantization_config=GGUFQuantizationConfig(compute_dtype=torch.float32),
        config=str(base), subfolder="transformer", local_files_only=True)
    pipe = FluxPipeline.from_pretrained(str(base), transformer=transformer, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    expected = pipe("a red cat", num_inference_steps=3, guidance_scale=3.5, width=64, height=64,
                    generator=torch.Generator("cpu").manual_seed(7)).images[0]
    assert same(outs[0].data, expected)
    # quantized weights really are in use: the picture differs from the full-precision one
    assert not same(outs[0].data, raw(base, width=64, height=64))


def test_gguf_hostile_files_are_refused_before_loading(flow_models, flux_gguf, tmp_path):
    import os

    from studio.errors import ModelNotFound
    from studio.testing.tiny_flow import cache_as_hub_repo

    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(flux_gguf.read_bytes()[: flux_gguf.stat().st_size // 2])
    with pytest.raises((ModelNotFound, InvalidRequest), match="truncated|damaged"):
        run(ImageEngine(), req(truncated))
    # a FLUX transformer whose base is an SD 3.x model
    cache_as_hub_repo(flow_models["sd3"], "black-forest-labs/FLUX.1-schnell", os.environ["HF_HUB_CACHE"])
    from studio.testing.tiny_flow import export_gguf_transformer

    schnell = export_gguf_transformer(flow_models["schnell"], tmp_path / "flux1-schnell-Q8_0.gguf")
    with pytest.raises(InvalidRequest, match="FLUX.1 transformer, but its base .* Stable Diffusion 3"):
        run(ImageEngine(), req(schnell, guidance_scale=0.0))
    # --quantize gguf with an ordinary folder says what it needs
    with pytest.raises(InvalidRequest, match="GGUF transformer file"):
        run(ImageEngine(), req(flow_models["flux"], quantize="gguf"))


def test_fp8_layerwise_casting_runs_and_stays_close(flow_models):
    outs, events, _ = run(ImageEngine(), req(flow_models["flux"], quantize="fp8"))
    reference = np.asarray(raw(flow_models["flux"], width=64, height=64), dtype=np.int16)
    got = np.asarray(outs[0].data, dtype=np.int16)
    assert not np.array_equal(got, reference)  # 8-bit weights: not bit-equal …
    assert np.abs(got - reference).mean() < 40  # … but the same picture, roughly
    assert any("fp8" in e.message for e in events if isinstance(e, Notice))


def test_group_offload_hooks_give_the_same_picture(flow_models):
    """The group-offload code path (a CUDA plan) exercised on the CPU: onload and offload device both CPU."""
    import torch
    from diffusers import AutoPipelineForText2Image

    from studio.engines.image_loading import apply_group_offload

    pipe = AutoPipelineForText2Image.from_pretrained(str(flow_models["sd3"]), local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    apply_group_offload(pipe, "cpu")
    got = pipe("a red cat", num_inference_steps=3, guidance_scale=3.5, width=64, height=64,
               generator=torch.Generator("cpu").manual_seed(7)).images[0]
    assert same(got, raw(flow_models["sd3"], width=64, height=64))


# --- the memory planner, with fake memory numbers ---------------------------------------------------------

GB = 1024**3


def test_the_planner_picks_the_first_plan_that_fits_and_says_why():
    from studio.models import memory_plan as mp

    flux_q8 = mp.Parts(denoiser=int(12.6 * GB), text=int(0.25 * GB), t5=int(9.5 * GB), vae=int(0.17 * GB), blocks=57)
    big = mp.choose(flux_q8, "cuda", 80 * GB, 1024, 1024, flow=True)
    assert big.plan == "none" and big.fits
    mid = mp.choose(flux_q8, "cuda", 18 * GB, 1024, 1024, flow=True)
    assert mid.plan == "model" and mid.need <= 18 * GB
    small = mp.choose(flux_q8, "cuda", 8 * GB, 1024, 1024, flow=True)
    assert small.plan == "group"
    tiny = mp.choose(flux_q8, "cuda", int(3.5 * GB), 1024, 1024, flow=True)
    assert tiny.plan == "sequential" and tiny.fits
    hopeless = mp.choose(flux_q8, "cuda", 1 * GB, 1024, 1024, flow=True)
    assert hopeless.plan == "sequential" and not hopeless.fits
    # needs shrink plan by plan, and a bigger picture needs more
    needs = [mp.need_bytes(flux_q8, p, 1024, 1024, flow=True) for p in mp.PLANS]
    assert needs == sorted(needs, reverse=True)
    assert mp.need_bytes(flux_q8, "model", 2048, 2048, flow=True) > needs[1]
    # quantization shrinks the transformer
    full = mp.Parts(denoiser=int(23.8 * GB), t5=int(9.5 * GB))
    assert mp.need_bytes(full, "none", 1024, 1024, quantize="nf4") < mp.need_bytes(full, "none", 1024, 1024)
    # the person's choice wins, and the summary says so
    forced = mp.choose(flux_q8, "cuda", 80 * GB, 1024, 1024, requested="group-offload", flow=True)
    assert forced.plan == "group" and not forced.chosen
    line = mid.summary("FLUX.1 dev Q8_0 GGUF")
    assert line.startswith("FLUX.1 dev Q8_0 GGUF · model offload") and "GB free" in line and "needs ~" in line
    assert "set by you" in forced.summary()
    assert mp.choose(flux_q8, "cpu", None, 1024, 1024).summary().endswith("no offload needed")
    # an out-of-memory failure offers the next plan down
    assert [mp.next_plan(p) for p in mp.PLANS] == ["model", "group", "sequential", None]


def test_out_of_memory_names_the_next_plan(flow_models, monkeypatch):
    from studio.engines import image as image_mod
    from studio.errors import OutOfMemory

    from studio.errors import FieldChange

    error = image_mod.out_of_memory(req(flow_models["flux"]), "model", "cuda:0")
    assert isinstance(error, OutOfMemory) and FieldChange("offload", "group") in error.changes
    assert all(c.field != "offload" for c in image_mod.out_of_memory(req(flow_models["flux"]), "sequential", "cuda:0").changes)


def test_the_catalog_has_the_new_families_with_licences_and_shared_parts():
    from studio.models.catalog import Catalog

    catalog = Catalog()
    for model_id in ("flux.1-schnell", "flux.1-dev", "flux.1-kontext-dev", "sd3.5-large", "sd3.5-large-turbo",
                     "sd3.5-medium"):
        entry = catalog.find(model_id)
        assert entry is not None and entry.family in ("flux", "sd3") and entry.licence
        for quant in ("q4_k_s", "q5_k_s", "q8_0"):
            if model_id.endswith("turbo"):
                continue
            q = catalog.find(f"{model_id}-{quant}")
            assert q is not None and q.format == "gguf" and q.base == f"{model_id}-parts"
            assert catalog.find(q.base) is not None
            assert "sequential offload ~" in q.description
    assert "Apache" in catalog.find("flux.1-schnell").licence
    assert "Non-Commercial" in catalog.find("flux.1-dev").licence
    assert "Apache" not in catalog.find("sd3.5-large").licence
    assert catalog.find("flux.1-schnell").defaults["num_inference_steps"] == 4
    assert catalog.find("sd3.5-large-turbo").defaults["num_inference_steps"] == 4


def test_cli_runs_flux_with_a_memory_plan_and_refuses_what_does_not_fit(flow_models, tmp_path, capsys):
    from PIL import Image

    from studio.cli import main

    out = tmp_path / "flux.png"
    code = main(["generate", "image", "--model", str(flow_models["flux"]), "--prompt", "a red cat", "--width", "64",
                 "--height", "64", "--steps", "3", "--guidance", "3.5", "--seed", "7", "--memory-plan",
                 "model-offload", "--out", str(out), "-q"])
    assert code == 0
    with Image.open(out) as im:
        assert same(im.convert("RGB"), raw(flow_models["flux"], width=64, height=64))
    # the plan and --offload are one setting
    code = main(["generate", "image", "--model", str(flow_models["flux"]), "--prompt", "x", "--memory-plan", "gpu",
                 "--offload", "sequential", "--out", str(tmp_path / "no.png")])
    assert code == 2 and "disagree" in capsys.readouterr().err
    code = main(["generate", "image", "--model", str(flow_models["flux"]), "--prompt", "x", "--width", "72",
                 "--height", "64", "--out", str(tmp_path / "no.png")])
    assert code != 0 and "multiples of 16" in capsys.readouterr().err
    assert not (tmp_path / "no.png").exists()


def test_image_tab_follows_a_flow_model(flow_models, qtbot):
    """Picking a FLUX folder: its family's defaults, only the samplers that fit it, and the memory plan and
    quantization choices in Advanced."""
    from studio.models.catalog import Catalog
    from studio.ui.image.form import ImageForm

    form = ImageForm(Catalog(), None)
    qtbot.addWidget(form)
    form.model_picker.set_model_spec(str(flow_models["schnell"]))
    assert (form.steps.value(), form.guidance.value(), form.width_spin.value()) == (4, 0.0, 1024)
    samplers = [form.sampler.itemData(i) for i in range(form.sampler.count())]
    assert samplers == ["", "Euler"]
    form.model_picker.set_model_spec(str(flow_models["flux"]))
    assert (form.steps.value(), form.guidance.value()) == (28, 3.5)
    plans = [form.offload.itemData(i) for i in range(form.offload.count())]
    assert plans == ["auto", "none", "model", "group", "sequential"]
    form.offload.setCurrentIndex(form.offload.findData("group"))
    form.quantize.setCurrentIndex(form.quantize.findData("fp8"))
    form.t5.setCurrentIndex(form.t5.findData("cpu"))
    request = form.build_request()
    assert (request.offload, request.quantize, request.t5) == ("group", "fp8", "cpu")


def test_flux_kontext_edits_a_picture_like_the_raw_pipeline(flow_models, tmp_path):
    import torch
    from diffusers import FluxKontextPipeline
    from PIL import Image

    kontext = tmp_path / "kontext"
    FluxKontextPipeline.from_pretrained(str(flow_models["flux"]), local_files_only=True).save_pretrained(str(kontext))
    assert families.flux_variant(kontext) == "kontext"
    init = tmp_path / "init.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(init)
    outs, _, _ = run(ImageEngine(), req(kontext, init_image=str(init), prompt="make it blue"))
    pipe = FluxKontextPipeline.from_pretrained(str(kontext), local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    with Image.open(init) as im:
        expected = pipe(image=im.convert("RGB"), prompt="make it blue", num_inference_steps=3, guidance_scale=3.5,
                        width=64, height=64, generator=torch.Generator("cpu").manual_seed(7)).images[0]
    assert same(outs[0].data, expected)


def test_the_t5_encoder_runs_on_the_cpu_or_is_left_out(flow_models):
    import torch
    from diffusers import AutoPipelineForText2Image

    # on the CPU beside a pipeline on another device: the same picture (here every part is on the CPU)
    for name in ("flux", "sd3"):
        outs, events, _ = run(ImageEngine(), req(flow_models[name], t5="cpu"))
        assert same(outs[0].data, raw(flow_models[name], width=64, height=64)), name
        assert any("T5 text encoder runs on the CPU" in e.message for e in events if isinstance(e, Notice))
    # left out: SD 3.x feeds zeros in its place, as its raw pipeline does without text_encoder_3
    outs, _, _ = run(ImageEngine(), req(flow_models["sd3"], t5="off"))
    pipe = AutoPipelineForText2Image.from_pretrained(str(flow_models["sd3"]), text_encoder_3=None, tokenizer_3=None,
                                                     local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    expected = pipe("a red cat", num_inference_steps=3, guidance_scale=3.5, width=64, height=64,
                    generator=torch.Generator("cpu").manual_seed(7)).images[0]
    assert same(outs[0].data, expected)
    assert not same(outs[0].data, raw(flow_models["sd3"], width=64, height=64))
    with pytest.raises(InvalidRequest, match="FLUX.1 cannot run without its T5"):
        run(ImageEngine(), req(flow_models["flux"], t5="off"))


def test_the_planner_moves_t5_to_the_cpu_only_when_allowed():
    from studio.models import memory_plan as mp

    # SD 3.5 Medium: its T5 (9.5 GB) is larger than its transformer (4.9 GB)
    medium = mp.Parts(denoiser=int(4.9 * GB), text=int(1.6 * GB), t5=int(9.5 * GB), vae=int(0.17 * GB), blocks=24)
    # model offload fits only once T5 leaves the GPU: auto takes T5 to the CPU before going to group offload
    no_t5 = mp.need_bytes(medium, "model", 1024, 1024, flow=True, t5_on_cpu=True)
    assert no_t5 < mp.need_bytes(medium, "model", 1024, 1024, flow=True)
    auto = mp.choose(medium, "cuda", no_t5 + 1, 1024, 1024, flow=True)
    assert (auto.plan, auto.t5_on_cpu) == ("model", True) and "T5 on the CPU" in auto.summary()
    kept = mp.choose(medium, "cuda", no_t5 + 1, 1024, 1024, flow=True, t5="device")
    assert kept.plan == "group" and not kept.t5_on_cpu


def test_restricted_licences_are_said_before_a_download(monkeypatch, capsys):
    from studio.cli import main
    from studio.models import download as download_mod
    from studio.models.catalog import Catalog
    from studio.models.entry import restricted_licence

    catalog = Catalog()
    assert restricted_licence(catalog.find("flux.1-dev")) and restricted_licence(catalog.find("sd3.5-medium"))
    assert not restricted_licence(catalog.find("flux.1-schnell"))  # Apache-2.0
    fetched = []
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # online: the download would start (the fake below stands in for it)
    monkeypatch.setattr(download_mod, "cli_download", lambda repo, patterns, offline=False: fetched.append(repo) or "/x")
    assert main(["models", "download", "flux.1-dev-q8_0"]) == 0
    err = capsys.readouterr().err
    assert "FLUX.1 [dev] Non-Commercial License" in err and fetched == ["city96/FLUX.1-dev-gguf"]


def test_a_single_safetensors_transformer_runs_with_its_base(flow_models, tmp_path):
    """FLUX.1 as Black Forest Labs ships it: the transformer alone in one .safetensors; its base brings the rest."""
    import os

    import torch
    from diffusers import FluxPipeline, FluxTransformer2DModel
    from safetensors.torch import save_file

    from studio.testing.tiny_flow import cache_as_hub_repo

    cache_as_hub_repo(flow_models["flux"], "black-forest-labs/FLUX.1-dev", os.environ["HF_HUB_CACHE"])
    transformer = FluxTransformer2DModel.from_pretrained(str(flow_models["flux"]), subfolder="transformer")
    single = tmp_path / "flux1-dev.safetensors"
    save_file({k: v.contiguous() for k, v in transformer.state_dict().items()}, str(single))
    outs, _, _ = run(ImageEngine(), req(single))
    assert same(outs[0].data, raw(flow_models["flux"], width=64, height=64))  # the same weights: the same picture
    assert outs[0].params["family"] == "flux"


def test_flux_fill_repaints_on_the_canvas_only(flow_models, tmp_path):
    from PIL import Image

    from studio.testing.tiny_flow import build_tiny_flux_fill

    fill = build_tiny_flux_fill(tmp_path / "fill", flow_models["flux"])
    picture, mask = tmp_path / "pic.png", tmp_path / "mask.png"
    base = np.random.default_rng(5).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(base).save(picture)
    m = np.zeros((64, 64), np.uint8)
    m[8:40, 8:40] = 255
    Image.fromarray(m).save(mask)
    request = InpaintRequest(image=str(picture), mask=str(mask), mask_blur=0, inpaint_area="whole",
                             generation=req(fill, strength=1.0, guidance_scale=30 / 2))
    events, _ = collect(InpaintEngine().run(request, Runtime(device="cpu"), CancelToken()))
    out = np.asarray(next(e for e in events if isinstance(e, Output)).data.convert("RGB"))
    assert np.array_equal(out[m == 0], base[m == 0]) and not np.array_equal(out[m == 255], base[m == 255])
    assert any("FLUX.1 Fill" in e.message for e in events if isinstance(e, Notice))
    with pytest.raises(InvalidRequest, match="inpainting model"):
        run(ImageEngine(), req(fill))
