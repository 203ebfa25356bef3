"""The image engine on tiny SD pipelines built from configs: loading (folder, single file, .ckpt),
equality with plain diffusers, seeds, samplers, img2img, LoRA, VAE, previews, cancel, validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.engines.base import CancelToken, Runtime
from studio.engines.image import ImageEngine
from studio.engines import image_loading as loading
from studio.engines import image_memory, samplers
from studio.errors import Cancelled, InvalidRequest, ModelNotFound, UnsafeModelFile, WrongModelKind
from studio.events import Notice, Output, Preview, Progress
from studio.models.device import DeviceChoice
from studio.requests import SCHEDULERS, ImageRequest, LoraSpec
from studio.testing.events import collect

GB = 1024**3


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def req(model, **kw) -> ImageRequest:
    kw.setdefault("prompt", "a cat")
    kw.setdefault("width", 64)
    kw.setdefault("height", 64)
    kw.setdefault("num_inference_steps", 6)
    kw.setdefault("seed", 42)
    return ImageRequest(model=str(model), **kw)


def outputs(events) -> list[Output]:
    return [e for e in events if isinstance(e, Output)]


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def generate(request, runtime, engine=None, cancel=None):
    events, stats = collect((engine or ImageEngine()).run(request, runtime, cancel or CancelToken()))
    return outputs(events), events, stats


def cached_set(runtime) -> loading.PipelineSet:
    key = runtime.cache.keys()[-1]
    return runtime.cache.get(key, lambda: None)


def raw_pipeline(folder, **extra):
    from diffusers import AutoPipelineForText2Image

    pipe = AutoPipelineForText2Image.from_pretrained(str(folder), use_safetensors=True, local_files_only=True, **extra)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def raw_image(pipe, seed, **kw):
    import torch

    kw.setdefault("prompt", "a cat")
    kw.setdefault("num_inference_steps", 6)
    kw.setdefault("guidance_scale", 7.0)  # ImageRequest's default (diffusers' own is 7.5)
    return pipe(generator=torch.Generator("cpu").manual_seed(seed), **kw).images[0]


@pytest.fixture
def runtime():
    return Runtime(device="cpu")


# --- txt2img, equality, seeds ----------------------------------------------------------------


def test_txt2img_equals_a_plain_diffusers_call_and_records_params(tiny_sd, runtime):
    outs, events, stats = generate(req(tiny_sd, seed=42, negative_prompt="dog"), runtime)
    assert len(outs) == 1
    out = outs[0]
    assert out.media == "image" and out.index == 0 and out.data.size == (64, 64)
    expected = raw_image(raw_pipeline(tiny_sd), 42, width=64, height=64, negative_prompt="dog")
    assert np.array_equal(pixels(out.data), pixels(expected))
    p = out.params
    assert p["seed"] == 42 and p["prompt"] == "a cat" and p["negative_prompt"] == "dog"
    assert p["scheduler"] == "" and p["sampler"] == "PNDM" and p["scheduler_class"] == "PNDMScheduler"
    assert p["model"] == str(Path(tiny_sd).resolve()) and p["model_name"] == "tiny-sd"
    assert (p["width"], p["height"], p["index"], p["batch_index"]) == (64, 64, 0, 0)
    assert p["mode"] == "txt2img" and p["kind"] == "image" and p["num_inference_steps"] == 6
    assert p["elapsed_s"] >= 0 and "memory" in p
    json.dumps(p)  # params go to the library index and PNG metadata as JSON
    progress = [e for e in events if isinstance(e, Progress)]
    # PNDM (PLMS) evaluates the UNet once more than the steps asked for: one event per evaluation,
    # shown against the 6 steps the person asked for
    shown = [e.step for e in progress]
    assert len(progress) == 7 and shown == sorted(shown) and shown[-1] == 6 and {e.total for e in progress} == {6}
    assert progress[-1].eta_s == pytest.approx(0.0, abs=1e-6)
    assert stats.images == 1 and stats.steps == 7 and stats.seed == 42


def test_same_seed_same_image_and_random_seed_is_recorded(tiny_sd, runtime):
    a = generate(req(tiny_sd, seed=7), runtime)[0][0]
    b = generate(req(tiny_sd, seed=7), runtime)[0][0]
    c = generate(req(tiny_sd, seed=8), runtime)[0][0]
    assert np.array_equal(pixels(a.data), pixels(b.data))
    assert not np.array_equal(pixels(a.data), pixels(c.data))
    r = generate(req(tiny_sd, seed=None), runtime)[0][0]
    assert isinstance(r.params["seed"], int) and 0 <= r.params["seed"] < 2**32
    again = generate(req(tiny_sd, seed=r.params["seed"]), runtime)[0][0]
    assert np.array_equal(pixels(r.data), pixels(again.data))


def test_batches_use_seed_plus_index(tiny_sd, runtime):
    outs = generate(req(tiny_sd, seed=5, batch_size=2, batch_count=2), runtime)[0]
    assert [o.index for o in outs] == [0, 1, 2, 3]
    assert [o.params["seed"] for o in outs] == [5, 6, 7, 8]
    assert [o.params["batch_index"] for o in outs] == [0, 0, 1, 1]
    assert all(o.params["base_seed"] == 5 for o in outs)
    singles = {s: generate(req(tiny_sd, seed=s), runtime)[0][0].data for s in (5, 8)}
    # image i of a batch is image "seed + i" (batched math may differ in the last bit)
    assert np.abs(pixels(outs[0].data) - pixels(singles[5])).max() <= 2
    assert np.abs(pixels(outs[3].data) - pixels(singles[8])).max() <= 2
    assert not np.array_equal(pixels(outs[0].data), pixels(outs[1].data))


def test_hub_id_loads_from_the_hugging_face_cache_offline(tiny_sd, runtime):
    """A hub id resolves to its snapshot in the HF cache (HF_HUB_CACHE is per test) and loads from there."""
    import os
    import shutil

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = Path(os.environ["HF_HUB_CACHE"]) / "models--tiny-org--tiny-sd"
    shutil.copytree(tiny_sd, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    out = generate(req("tiny-org/tiny-sd", seed=42), runtime)[0][0]
    assert out.params["model"] == "tiny-org/tiny-sd"
    from_folder = generate(req(tiny_sd, seed=42), Runtime(device="cpu"))[0][0]
    assert np.array_equal(pixels(out.data), pixels(from_folder.data))


# --- samplers ----------------------------------------------------------------------------------


def test_every_sampler_runs_and_the_models_own_stays_the_default(tiny_sd, runtime):
    for name in SCHEDULERS:
        events = generate(req(tiny_sd, scheduler=name, num_inference_steps=3, guidance_scale=1.5), runtime)[1]
        out = outputs(events)[0]
        if name == "DPM++ SDE Karras" and not samplers.torchsde_available():
            assert out.params["sampler"] == "DPM++ 2M SDE Karras"
            assert any("torchsde" in getattr(e, "message", "") for e in events)
        else:
            assert out.params["sampler"] == name, name
        assert out.params["scheduler"] == name
        assert type(cached_set(runtime).txt2img.scheduler).__name__ == "PNDMScheduler"
    default = generate(req(tiny_sd), runtime)[0][0]
    assert default.params["sampler"] == "PNDM"
    euler = generate(req(tiny_sd, scheduler="Euler a"), runtime)[0][0]
    assert euler.params["scheduler_class"] == "EulerAncestralDiscreteScheduler"
    assert not np.array_equal(pixels(default.data), pixels(euler.data))
    karras = samplers.make_scheduler("DPM++ 2M Karras", type(cached_set(runtime).scheduler), cached_set(runtime).scheduler.config)[0]
    assert karras.config.use_karras_sigmas is True


# --- img2img -----------------------------------------------------------------------------------


def test_img2img_equals_plain_diffusers_and_shares_modules(tiny_sd, runtime, tmp_path):
    from diffusers import AutoPipelineForImage2Image
    from PIL import Image

    rng = np.random.default_rng(0)
    init = Image.fromarray(rng.integers(0, 255, (80, 96, 3), dtype=np.uint8))  # 96×80: resized to 64×64
    init.save(tmp_path / "init.png")
    request = req(tiny_sd, init_image=str(tmp_path / "init.png"), strength=0.5, num_inference_steps=10, scheduler="Euler")
    outs, events, _ = generate(request, runtime)
    out = outs[0]
    assert out.params["mode"] == "img2img" and out.data.size == (64, 64)
    assert {e.total for e in events if isinstance(e, Progress)} == {5}  # 10 steps × strength 0.5
    from diffusers import EulerDiscreteScheduler

    pipe = AutoPipelineForImage2Image.from_pipe(raw_pipeline(tiny_sd))
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    resized = Image.open(tmp_path / "init.png").convert("RGB").resize((64, 64), Image.Resampling.LANCZOS)
    expected = raw_image(pipe, 42, image=resized, strength=0.5, num_inference_steps=10)
    assert np.array_equal(pixels(out.data), pixels(expected))
    pset = cached_set(runtime)
    assert pset.img2img().unet is pset.txt2img.unet and pset.img2img().vae is pset.txt2img.vae
    assert len(runtime.cache) == 1
    # back to text-to-image on the same cached modules
    t2i = generate(req(tiny_sd), runtime)[0][0]
    assert t2i.params["mode"] == "txt2img" and len(runtime.cache) == 1


# --- single-file checkpoints ------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["sd1", "sd2", "sdxl"])
def test_single_file_checkpoint_gives_the_same_image_as_the_folder(family, tiny_family):
    folder, single, config_root = tiny_family(family)
    engine = ImageEngine(config_root=config_root)
    events = generate(req(single, seed=3), Runtime(device="cpu"), engine)[1]
    sf = outputs(events)[0]
    from_folder = generate(req(folder, seed=3), Runtime(device="cpu"))[0][0]
    assert sf.params["family"] == family
    assert sf.params["sampler"] == from_folder.params["sampler"] == ("Euler" if family == "sdxl" else "PNDM")
    assert np.array_equal(pixels(sf.data), pixels(from_folder.data))
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("v_prediction" in m for m in notices) == (family == "sd2")


def test_sd2_checkpoint_follows_its_sidecar_yaml(tiny_family, tmp_path):
    import shutil

    _folder, single, config_root = tiny_family("sd2")
    engine = ImageEngine(config_root=config_root)
    v_pred = generate(req(single), Runtime(device="cpu"), engine)[0][0]
    copy = shutil.copy(single, tmp_path / "model.safetensors")
    a1111_v1_yaml = "model:\n  target: ldm.models.diffusion.ddpm.LatentDiffusion\n  params:\n    linear_start: 0.00085\n"
    (tmp_path / "model.yaml").write_text(a1111_v1_yaml)
    outs, events, _ = generate(req(copy), Runtime(device="cpu"), engine)
    assert any("epsilon (from its .yaml)" in getattr(e, "message", "") for e in events)
    assert not np.array_equal(pixels(outs[0].data), pixels(v_pred.data))
    assert loading.sd2_prediction_type(Path(copy)) == "epsilon"
    (tmp_path / "model.yaml").write_text('model:\n  params:\n    parameterization: "v"\n')
    assert loading.sd2_prediction_type(Path(copy)) == "v_prediction"


def test_ckpt_needs_permission_and_never_runs_pickled_code(tiny_sd, tiny_sd_config_root, tmp_path):
    import torch

    from studio.testing.tiny_sd import export_single_file

    ckpt = export_single_file(tiny_sd, tmp_path / "tiny.ckpt", pickle=True)
    engine = ImageEngine(config_root=tiny_sd_config_root)
    with pytest.raises(UnsafeModelFile, match="pickled") as refused:
        generate(req(ckpt), Runtime(device="cpu"), engine)
    assert refused.value.path == str(ckpt) and refused.value.allowable is True
    allowed = generate(req(ckpt, seed=3, allow_pickle=True), Runtime(device="cpu"), engine)[0][0]
    folder = generate(req(tiny_sd, seed=3), Runtime(device="cpu"))[0][0]
    assert np.array_equal(pixels(allowed.data), pixels(folder.data))

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"x": Payload()}}, str(evil))
    with pytest.raises(UnsafeModelFile, match="run code") as refused:
        generate(req(evil, allow_pickle=True), Runtime(device="cpu"), engine)
    assert not marker.exists() and refused.value.allowable is False  # no permission loads it


def test_family_from_checkpoint_keys(tmp_path):
    import torch
    from safetensors.torch import save_file

    def fake(name, keys):
        path = tmp_path / f"{name}.safetensors"
        save_file({k: torch.zeros(1) for k in keys}, str(path))
        return loading.family_from_keys(loading.checkpoint_keys(path))

    unet = "model.diffusion_model.input_blocks.0.0.weight"
    xl_keys = [unet, "conditioner.embedders.0.transformer.text_model.x", "conditioner.embedders.1.model.ln_final.weight"]
    assert fake("xl", xl_keys) == "sdxl"
    assert fake("v2", [unet, "cond_stage_model.model.token_embedding.weight"]) == "sd2"
    assert fake("v1", [unet, "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"]) == "sd1"
    with pytest.raises(InvalidRequest, match="refiner"):
        fake("refiner", [unet, "conditioner.embedders.0.model.ln_final.weight"])
    with pytest.raises(InvalidRequest, match="LoRA"):
        fake("lora", ["lora_unet_down_blocks_0_attentions_0.lora_up.weight"])
    with pytest.raises(InvalidRequest, match="VAE"):
        fake("vae", ["encoder.conv_in.weight", "decoder.conv_out.weight"])
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 20)
    with pytest.raises(InvalidRequest, match="not a readable"):
        loading.checkpoint_keys(bad)


# --- previews, progress, cancel -----------------------------------------------------------------------


def test_previews_arrive_while_denoising(tiny_sd, runtime):
    engine = ImageEngine()
    engine.preview_interval_s = 0.0  # every step
    events = generate(req(tiny_sd, num_inference_steps=5, scheduler="Euler"), runtime, engine)[1]
    previews = [e for e in events if isinstance(e, Preview)]
    assert [p.step for p in previews] == [1, 2, 3, 4, 5]
    assert all(p.image.size == (64, 64) and p.image.mode == "RGB" for p in previews)
    first = events.index(previews[0])
    # produced during denoising: progress of later steps, and the output, come after it
    assert any(isinstance(e, Progress) and e.step > 1 for e in events[first:])
    assert events.index(outputs(events)[0]) > events.index(previews[-1])

    throttled = generate(req(tiny_sd, num_inference_steps=8, scheduler="Euler"), runtime)[1]  # default 0.25 s interval
    steps = [e.step for e in throttled if isinstance(e, Preview)]
    assert steps[0] == 1 and steps[-1] == 8 and len(steps) < 8


def test_cancel_stops_within_one_step_and_keeps_finished_batches(tiny_sd, runtime):
    generate(req(tiny_sd, num_inference_steps=1), runtime)  # load once
    unet = cached_set(runtime).txt2img.unet
    cancel = CancelToken()
    calls = []

    def count(module, args, output):
        calls.append(1)
        if len(calls) == 6 + 3:  # batch 2, step 3
            cancel.cancel()

    handle = unet.register_forward_hook(count)
    events = []
    try:
        with pytest.raises(Cancelled):
            collect(ImageEngine().run(req(tiny_sd, batch_count=3), runtime, cancel), events.append)
    finally:
        handle.remove()
    assert len(calls) == 9  # no UNet evaluation after the step during which cancel was asked
    assert [o.index for o in outputs(events)] == [0]  # batch 1 kept, the interrupted batch 2 dropped
    # the pipeline is usable again afterwards, with the same result as before
    again = generate(req(tiny_sd, seed=42), runtime)[0][0]
    fresh = generate(req(tiny_sd, seed=42), Runtime(device="cpu"))[0][0]
    assert np.array_equal(pixels(again.data), pixels(fresh.data))


def test_cancel_before_start(tiny_sd, runtime):
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        generate(req(tiny_sd), runtime, cancel=cancel)


def test_out_of_memory_becomes_a_clear_message_and_the_engine_recovers(tiny_sd, tiny_lora, runtime):
    import torch

    from studio.errors import OutOfMemory

    before = generate(req(tiny_sd), runtime)[0][0]
    unet = cached_set(runtime).txt2img.unet

    def oom(module, args, output):  # what the UNet raises when the card is full
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    handle = unet.register_forward_hook(oom)
    try:
        with pytest.raises(OutOfMemory) as caught:
            generate(req(tiny_sd, batch_size=2, scheduler="Euler a", loras=(LoraSpec(str(tiny_lora), 1.0),)), runtime)
    finally:
        handle.remove()
    error = caught.value
    assert "on cpu at 64×64 with batch size 2" in str(error) and error.request_kind == "image"
    assert [c.field for c in error.changes] == ["width", "height", "batch_size"]  # in request terms
    assert "Advanced" not in str(error) and "tab" not in str(error)  # no GUI words below the UI
    # on a GPU the advice names the offload mode to set next, and the memory switches
    from studio.engines.image import out_of_memory
    from studio.errors import FieldChange

    on_gpu = out_of_memory(req(tiny_sd, width=1024, height=1024), "none", "cuda")
    assert "1024×1024" in str(on_gpu) and FieldChange("offload", "model") in on_gpu.changes
    assert {FieldChange("attention_slicing", "on"), FieldChange("vae_tiling", "on")} <= set(on_gpu.changes)
    assert FieldChange("offload", "group") in out_of_memory(req(tiny_sd), "model", "cuda").changes
    # LoRA unloaded and the model's own sampler back: the next job is as before
    assert type(cached_set(runtime).txt2img.scheduler).__name__ == "PNDMScheduler"
    after = generate(req(tiny_sd), runtime)[0][0]
    assert np.array_equal(pixels(before.data), pixels(after.data))


# --- validation -----------------------------------------------------------------------------------


def test_invalid_requests_are_rejected_with_clear_messages(tiny_sd, runtime, tmp_path, tiny_llm):
    with pytest.raises(InvalidRequest, match="multiple of 8"):
        generate(req(tiny_sd, width=100), runtime)
    with pytest.raises(InvalidRequest, match="steps must be a whole number from 1 to 500"):
        generate(req(tiny_sd, num_inference_steps=0), runtime)
    with pytest.raises(InvalidRequest, match="unknown sampler 'Foo'; choose one of: Euler, Euler a"):
        generate(req(tiny_sd, scheduler="Foo"), runtime)
    with pytest.raises(InvalidRequest, match=r"width 2560 is too large for this model \(at most 2048 pixels; pick a smaller"):
        generate(req(tiny_sd, width=2560), runtime)
    # an SD 1.x folder (configs only: the size check happens before any weight is read)
    sd1 = tmp_path / "sd1"
    (sd1 / "unet").mkdir(parents=True)
    (sd1 / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    (sd1 / "unet" / "config.json").write_text(json.dumps({"cross_attention_dim": 768}))
    with pytest.raises(InvalidRequest, match=r"height 2048 is too large for Stable Diffusion 1.x \(at most 1536.*512"):
        generate(req(sd1, height=2048), runtime)
    init = tmp_path / "init.png"
    from PIL import Image

    Image.new("RGB", (64, 64)).save(init)
    with pytest.raises(InvalidRequest, match="no denoising step runs"):
        generate(req(tiny_sd, init_image=str(init), strength=0.05, num_inference_steps=10), runtime)
    with pytest.raises(InvalidRequest, match="No image-to-image picture at"):
        generate(req(tiny_sd, init_image=str(tmp_path / "nope.png")), runtime)
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(InvalidRequest, match="Can't read"):
        generate(req(tiny_sd, init_image=str(tmp_path / "junk.png")), runtime)
    with pytest.raises(ModelNotFound):
        generate(req(tmp_path / "missing.safetensors"), runtime)
    with pytest.raises(WrongModelKind):
        generate(req(tiny_llm), runtime)
    pickled = tmp_path / "pickled"
    (pickled / "unet").mkdir(parents=True)
    (pickled / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    (pickled / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(UnsafeModelFile, match="safetensors"):
        generate(req(pickled), runtime)


# --- LoRA and VAE -----------------------------------------------------------------------------------


def test_lora_changes_the_image_and_is_unloaded_after_the_job(tiny_sd, tiny_lora, runtime, tmp_path):
    plain = generate(req(tiny_sd), runtime)[0][0]
    with_lora = generate(req(tiny_sd, loras=(LoraSpec(str(tiny_lora), 1.0),)), runtime)[0][0]
    half = generate(req(tiny_sd, loras=(LoraSpec(str(tiny_lora), 0.5),)), runtime)[0][0]
    after = generate(req(tiny_sd), runtime)[0][0]
    assert not np.array_equal(pixels(plain.data), pixels(with_lora.data))
    assert not np.array_equal(pixels(with_lora.data), pixels(half.data))
    assert np.array_equal(pixels(plain.data), pixels(after.data))
    assert with_lora.params["loras"] == [{"path": str(tiny_lora), "weight": 1.0}]
    pickled = tmp_path / "lora.pt"
    pickled.write_bytes(b"x")
    with pytest.raises(UnsafeModelFile, match="LoRA"):
        generate(req(tiny_sd, loras=(LoraSpec(str(pickled)),)), runtime)
    with pytest.raises(InvalidRequest, match="No LoRA file at"):  # the same kind of mistake as a missing init image
        generate(req(tiny_sd, loras=(LoraSpec(str(tmp_path / "nope.safetensors")),)), runtime)


def test_vae_override_folder_and_single_file(tiny_sd, tiny_vae, tiny_sd_config_root, tmp_path):
    from diffusers import AutoencoderKL

    from studio.testing.tiny_sd import export_vae_single_file

    engine = ImageEngine(config_root=tiny_sd_config_root)
    default = generate(req(tiny_sd), Runtime(device="cpu"), engine)[0][0]
    override = generate(req(tiny_sd, vae=str(tiny_vae)), Runtime(device="cpu"), engine)[0][0]
    assert not np.array_equal(pixels(default.data), pixels(override.data))
    vae = AutoencoderKL.from_pretrained(str(tiny_vae), local_files_only=True)
    expected = raw_image(raw_pipeline(tiny_sd, vae=vae), 42, width=64, height=64)
    assert np.array_equal(pixels(override.data), pixels(expected))
    vae_file = export_vae_single_file(tiny_vae, tmp_path / "vae.safetensors")
    from_file = generate(req(tiny_sd, vae=str(vae_file)), Runtime(device="cpu"), engine)[0][0]
    assert np.array_equal(pixels(from_file.data), pixels(expected))
    # a pickled VAE obeys the same permission as the model: refused, then loaded when allowed
    import torch
    from safetensors.torch import load_file

    vae_ckpt = tmp_path / "vae.ckpt"
    torch.save({"state_dict": load_file(str(vae_file))}, str(vae_ckpt))
    with pytest.raises(UnsafeModelFile) as refused:
        generate(req(tiny_sd, vae=str(vae_ckpt)), Runtime(device="cpu"), engine)
    assert refused.value.path == str(vae_ckpt) and refused.value.allowable is True
    allowed = generate(req(tiny_sd, vae=str(vae_ckpt), allow_pickle=True), Runtime(device="cpu"), engine)[0][0]
    assert np.array_equal(pixels(allowed.data), pixels(expected))


# --- memory plan (CUDA decisions, computed from free memory) ---------------------------------------------


def test_memory_plan_follows_free_vram_and_explicit_settings():
    cuda = DeviceChoice("cuda", "float16")
    cpu = DeviceChoice("cpu", "float32")
    parts = image_memory.Parts(denoiser=int(2.8 * GB), text=int(0.9 * GB), vae=int(0.3 * GB))
    plan = lambda requested, choice, free: image_memory.plan_memory(requested, choice, parts, free, 512, 512, 1).plan  # noqa: E731
    assert plan("auto", cuda, 20 * GB) == "none"
    assert plan("auto", cuda, 4 * GB) == "model"
    assert plan("auto", cuda, 2 * GB) == "group"
    assert plan("auto", cuda, int(1.5 * GB)) == "sequential"
    assert plan("none", cuda, 1 * GB) == "none"
    assert plan("sequential", cuda, 80 * GB) == "sequential"
    assert plan("model", cpu, None) == "none"
    big = 1024 * 1024 * 4
    assert image_memory.plan_slicing_tiling("auto", "auto", cuda, "none", 512 * 512, 20 * GB) == (False, False)
    assert image_memory.plan_slicing_tiling("auto", "auto", cuda, "none", big, 1 * GB) == (True, True)
    assert image_memory.plan_slicing_tiling("off", "off", cuda, "none", big, 1 * GB) == (False, False)
    assert image_memory.plan_slicing_tiling("on", "on", cpu, "none", 64 * 64, None) == (True, True)
    assert image_memory.plan_slicing_tiling("auto", "auto", cpu, "none", big, None) == (False, False)


# --- the shipped single-file configs ---------------------------------------------------------------------


def test_shipped_configs_describe_the_real_model_families():
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, StableDiffusionPipeline, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    root = loading.shipped_configs()

    def count(model):
        return sum(p.numel() for p in model.parameters())

    expected = {  # parameter counts of the released SD 1.5, SD 2.1 and SDXL base weights
        "sd15": (859_520_964, 123_060_480),
        "sd2": (865_910_724, 340_387_840),
        "sdxl": (2_567_463_684, 123_060_480),
    }
    with init_empty_weights():
        for folder, (unet_n, text_n) in expected.items():
            unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(str(root / folder / "unet")))
            vae = AutoencoderKL.from_config(AutoencoderKL.load_config(str(root / folder / "vae")))
            text = CLIPTextModel(CLIPTextConfig.from_pretrained(str(root / folder / "text_encoder")))
            assert (count(unet), count(vae), count(text)) == (unet_n, 83_653_863, text_n), folder
        text2 = CLIPTextModelWithProjection(CLIPTextConfig.from_pretrained(str(root / "sdxl" / "text_encoder_2")))
        assert count(text2) == 694_659_840
    assert StableDiffusionPipeline.load_config(str(root / "sd15"))["_class_name"] == "StableDiffusionPipeline"
    assert StableDiffusionXLPipeline.load_config(str(root / "sdxl"))["_class_name"] == "StableDiffusionXLPipeline"
    tokenizers = {family: loading.shipped_tokenizers(root / family, root) for family in ("sd15", "sd2", "sdxl")}
    assert {family: sorted(found) for family, found in tokenizers.items()} == {
        "sd15": ["tokenizer"], "sd2": ["tokenizer"], "sdxl": ["tokenizer", "tokenizer_2"]
    }
    for family, name, pad in (("sd15", "tokenizer", 49407), ("sd2", "tokenizer", 0), ("sdxl", "tokenizer", 49407),
                              ("sdxl", "tokenizer_2", 0)):
        tok = tokenizers[family][name]  # the one shared vocabulary with the folder's own settings
        assert isinstance(tok, CLIPTokenizer)
        # the ids openai/clip-vit-large-patch14 gives: the vocabulary converted from open_clip matches CLIP's
        assert tok("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407], (family, name)
        assert tok.pad_token_id == pad and tok.model_max_length == 77 and len(tok) == 49408
