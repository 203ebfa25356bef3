"""ComfyUI as an image backend, against a small fake server that follows ComfyUI's published messages
(tests/fake_comfyui.py): the workflow from core nodes, progress and previews from the websocket, results
through /history and /view saved with Studio's metadata, the seed reproducing, image to image and inpaint
with uploaded pictures, Stop through /interrupt, and each failure as a clear message."""

from __future__ import annotations

import pytest

pytest.importorskip("websockets")
pytest.importorskip("fastapi")

from PIL import Image  # noqa: E402

from studio.cancel import CancelToken  # noqa: E402
from studio.cli import main  # noqa: E402
from studio.engines.base import Runtime  # noqa: E402
from studio.engines.image import ImageEngine  # noqa: E402
from studio.engines.inpaint import InpaintEngine  # noqa: E402
from studio.engines.remote import comfy_workflow  # noqa: E402
from studio.engines.remote.comfy_workflow import CORE_NODES, Inputs, build_workflow  # noqa: E402
from studio.errors import Cancelled, InvalidRequest, ServerError  # noqa: E402
from studio.events import Output, Preview, Progress  # noqa: E402
from studio.library.png_info import png_text_chunks  # noqa: E402
from studio.requests import ImageRequest, InpaintRequest, LoraSpec  # noqa: E402
from studio.testing.events import collect  # noqa: E402
from studio.testing.servers import free_port  # noqa: E402
from tests.fake_comfyui import FakeComfy, RunningFake  # noqa: E402

CKPT = "tiny-sd15.safetensors"


def runtime(token: str | None = None) -> Runtime:
    def lookup(_url: str) -> str | None:
        return token

    return Runtime(device="cpu", api_key=lookup)


def req(url: str, **kw) -> ImageRequest:
    kw.setdefault("prompt", "a lighthouse")
    kw.setdefault("model", CKPT)
    kw.setdefault("width", 64)
    kw.setdefault("height", 64)
    kw.setdefault("num_inference_steps", 4)
    kw.setdefault("seed", 42)
    return ImageRequest(endpoint=url, **kw)


def outputs(events) -> list[Output]:
    return [e for e in events if isinstance(e, Output)]


# --- the workflow -----------------------------------------------------------------------------------------
def test_workflow_is_core_nodes_with_our_sampler_names_mapped():
    r = req("http://h:8188", scheduler="DPM++ 2M Karras", loras=(LoraSpec("/loras/ink.safetensors", 0.6),),
            negative_prompt="blurry", guidance_scale=6.5)
    wf = build_workflow(r, 7)
    assert {n["class_type"] for n in wf.values()} <= set(CORE_NODES)
    sampler = next(n["inputs"] for n in wf.values() if n["class_type"] == "KSampler")
    assert (sampler["sampler_name"], sampler["scheduler"]) == ("dpmpp_2m", "karras")
    assert (sampler["seed"], sampler["steps"], sampler["cfg"], sampler["denoise"]) == (7, 4, 6.5, 1.0)
    lora = next(n["inputs"] for n in wf.values() if n["class_type"] == "LoraLoader")
    assert lora["lora_name"] == "ink.safetensors" and lora["strength_model"] == 0.6
    assert wf[sampler["model"][0]]["class_type"] == "LoraLoader"  # the sampler uses the LoRA'd model
    assert wf[sampler["negative"][0]]["inputs"]["text"] == "blurry"
    img2img = build_workflow(req("http://h:8188", init_image="x.png", strength=0.4), 7, Inputs(image="up.png"))
    classes = {n["class_type"] for n in img2img.values()}
    assert {"LoadImage", "VAEEncode"} <= classes and "EmptyLatentImage" not in classes
    assert next(n for n in img2img.values() if n["class_type"] == "KSampler")["inputs"]["denoise"] == 0.4
    inpaint = build_workflow(req("http://h:8188"), 7, Inputs(image="up.png", mask="m.png"))
    assert {"LoadImageMask", "SetLatentNoiseMask"} <= {n["class_type"] for n in inpaint.values()}
    with pytest.raises(InvalidRequest, match="PNDM.*no ComfyUI counterpart"):
        build_workflow(req("http://h:8188", scheduler="PNDM"), 7)


# --- generation -------------------------------------------------------------------------------------------
def test_progress_previews_and_pictures_with_studios_metadata(library):
    fake = FakeComfy()
    with RunningFake(fake) as url:
        events, stats = collect(ImageEngine().run(req(url, batch_count=2), runtime(), CancelToken()))
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.step for p in progress] == list(range(1, 9)) and {p.total for p in progress} == {8}
    previews = [e for e in events if isinstance(e, Preview)]
    assert len(previews) == 8 and previews[0].image.size == (16, 16) and {p.index for p in previews} == {0, 1}
    outs = outputs(events)
    assert [o.params["seed"] for o in outs] == [42, 43]
    for out, workflow in zip(outs, fake.workflows):
        assert out.data.tobytes() == fake.render(workflow).tobytes()  # the server's own pixels
        assert out.params["endpoint"] == url and out.params["comfyui_workflow"] == workflow
    assert stats.images == 2 and "ComfyUI" in stats.device and stats.seed == 42
    saved = library.save(outs[0])
    parameters = png_text_chunks(saved.path)["parameters"]
    assert "Seed: 42" in parameters and "Steps: 4" in parameters


@pytest.mark.parametrize("frames", ["plain", "metadata"])
def test_previews_from_both_binary_frame_forms_and_hostile_frames_skipped(frames):
    """Type 1 (format + image) and type 4 (JSON metadata + image, newer ComfyUI) frames become previews;
    truncated, garbage, bomb-sized, text and other prompts' frames are skipped and the job goes on."""
    fake = FakeComfy(preview_frames=frames, hostile_frames=True)
    with RunningFake(fake) as url:
        events, _ = collect(ImageEngine().run(req(url, num_inference_steps=3), runtime(), CancelToken()))
    previews = [e for e in events if isinstance(e, Preview)]
    assert [p.step for p in previews] == [1, 2, 3]  # one per step: none of the hostile frames slipped through
    assert [p.image.size for p in previews] == [(16, 16)] * 3
    reds = [p.image.getpixel((8, 8))[0] for p in previews]
    assert all(abs(red - want) <= 4 for red, want in zip(reds, (0, 20, 40)))  # each step's own picture (JPEG ±)
    assert len(outputs(events)) == 1


def test_preview_of_reads_each_frame_form_and_refuses_the_rest():
    import io
    import json
    import struct

    from studio.engines.remote.comfy_socket import preview_of
    from tests.fake_comfyui import hostile_frames

    picture = io.BytesIO()
    Image.new("RGB", (5, 4), (1, 2, 3)).save(picture, format="PNG")
    png = picture.getvalue()
    assert preview_of(struct.pack(">II", 1, 2) + png).getpixel((0, 0)) == (1, 2, 3)
    meta = json.dumps({"prompt_id": "p1", "node_id": "3"}).encode()
    with_meta = struct.pack(">II", 4, len(meta)) + meta + png
    assert preview_of(with_meta, "p1").size == (5, 4) and preview_of(with_meta).size == (5, 4)
    assert preview_of(with_meta, "p2") is None  # another prompt's
    assert all(preview_of(frame, "p1") is None for frame in hostile_frames("p1"))


def test_a_websocket_message_over_the_limit_fails_the_job_clearly():
    with RunningFake(FakeComfy(oversize_frame=True)) as url:
        with pytest.raises(ServerError, match="websocket message over 64 MiB"):
            collect(ImageEngine().run(req(url), runtime(), CancelToken()))


def test_the_seed_reproduces_on_the_same_server():
    with RunningFake(FakeComfy()) as url:
        first, _ = collect(ImageEngine().run(req(url), runtime(), CancelToken()))
        again, _ = collect(ImageEngine().run(req(url), runtime(), CancelToken()))
        other, _ = collect(ImageEngine().run(req(url, seed=1), runtime(), CancelToken()))
    assert outputs(first)[0].data.tobytes() == outputs(again)[0].data.tobytes()
    assert outputs(first)[0].data.tobytes() != outputs(other)[0].data.tobytes()


def test_image_to_image_uploads_the_picture(tmp_path):
    picture = tmp_path / "in.png"
    Image.new("RGB", (80, 80), (0, 200, 0)).save(picture)
    fake = FakeComfy()
    with RunningFake(fake) as url:
        events, _ = collect(ImageEngine().run(req(url, init_image=str(picture), strength=0.3), runtime(),
                                              CancelToken()))
    load = next(n["inputs"] for n in fake.workflows[0].values() if n["class_type"] == "LoadImage")
    with Image.open(__import__("io").BytesIO(fake.uploads[load["image"]])) as up:
        assert up.size == (64, 64) and up.getpixel((5, 5)) == (0, 200, 0)  # resized here, then uploaded
    assert outputs(events)[0].data.size == (64, 64)


def test_inpaint_sends_crop_and_mask_and_keeps_every_pixel_outside_the_mask(tmp_path):
    picture, mask = tmp_path / "p.png", tmp_path / "m.png"
    Image.new("RGB", (128, 96), (10, 20, 30)).save(picture)
    m = Image.new("L", (128, 96), 0)
    m.paste(255, (40, 30, 70, 60))
    m.save(mask)
    fake = FakeComfy()
    request = InpaintRequest(image=str(picture), mask=str(mask), mask_blur=0,
                             generation=req("", prompt="a hole", strength=1.0).replace(endpoint=""))
    with RunningFake(fake) as url:
        request = request.replace(generation=request.generation.replace(endpoint=url))
        events, _ = collect(InpaintEngine().run(request, runtime(), CancelToken()))
    classes = {n["class_type"] for n in fake.workflows[0].values()}
    assert {"LoadImage", "LoadImageMask", "SetLatentNoiseMask"} <= classes and len(fake.uploads) == 2
    result = outputs(events)[0].data
    assert result.size == (128, 96)
    assert result.getpixel((2, 2)) == (10, 20, 30) and result.getpixel((125, 93)) == (10, 20, 30)
    assert result.getpixel((55, 45)) != (10, 20, 30)


def test_stop_interrupts_the_server():
    fake = FakeComfy(step_delay_s=0.05)
    cancel = CancelToken()
    seen = []
    with RunningFake(fake) as url:
        gen = ImageEngine().run(req(url, num_inference_steps=200), runtime(), cancel)
        with pytest.raises(Cancelled):
            for ev in gen:
                if isinstance(ev, Progress):
                    seen.append(ev)
                    if len(seen) == 3:
                        cancel.cancel()
    assert fake.interrupts == 1 and len(seen) < 20


# --- failures ---------------------------------------------------------------------------------------------
def test_unknown_checkpoint_names_what_the_server_has():
    with RunningFake(FakeComfy(checkpoints=("a.safetensors", "b.ckpt"), combo_format=True)) as url:
        with pytest.raises(ServerError, match="no checkpoint 'nope.safetensors'. It has: a.safetensors, b.ckpt"):
            collect(ImageEngine().run(req(url, model="nope.safetensors"), runtime(), CancelToken()))


def test_node_errors_execution_error_and_missing_nodes_are_clear_messages(monkeypatch):
    with RunningFake(FakeComfy(fail_in="KSampler")) as url:
        with pytest.raises(ServerError, match=r"failed in KSampler \(node sampler\): .*out of memory"):
            collect(ImageEngine().run(req(url), runtime(), CancelToken()))
    with RunningFake(FakeComfy(missing_nodes=("EmptyLatentImage",))) as url:
        with pytest.raises(ServerError, match="lacks a node .*EmptyLatentImage.*update ComfyUI"):
            collect(ImageEngine().run(req(url), runtime(), CancelToken()))
    with RunningFake(FakeComfy(missing_nodes=("EmptyLatentImage",), missing_node_500=True)) as url:  # older ComfyUI
        with pytest.raises(ServerError, match=r"lacks a node Studio's workflow uses \(EmptyLatentImage\)"):
            collect(ImageEngine().run(req(url), runtime(), CancelToken()))
    monkeypatch.setitem(comfy_workflow.SAMPLERS, "Euler", ("euler_x", "normal"))
    with RunningFake(FakeComfy()) as url:
        with pytest.raises(ServerError, match=r"refused the workflow: KSampler: Value not in list \(sampler_name: 'euler_x' not in list\)"):
            collect(ImageEngine().run(req(url, scheduler="Euler"), runtime(), CancelToken()))


def test_token_wrong_token_and_no_server():
    with RunningFake(FakeComfy(token="tok")) as url:
        events, _ = collect(ImageEngine().run(req(url), runtime("tok"), CancelToken()))
        assert outputs(events)
        with pytest.raises(ServerError, match="refused the API key \\(401\\)"):
            collect(ImageEngine().run(req(url), runtime("wrong"), CancelToken()))
    with pytest.raises(ServerError, match="Could not connect"):
        collect(ImageEngine().run(req(f"http://127.0.0.1:{free_port()}"), runtime(), CancelToken()))


# --- the CLI ----------------------------------------------------------------------------------------------
def test_cli_generates_on_comfyui(tmp_path, capsys):
    out = tmp_path / "lighthouse.png"
    with RunningFake(FakeComfy()) as url:
        code = main(["generate", "image", "--comfyui", url, "--model", CKPT, "--prompt", "a lighthouse", "--width", "64",
                     "--height", "64", "--steps", "3", "--seed", "5", "--out", str(out), "--no-library"])
    assert code == 0, capsys.readouterr().err
    assert "Seed: 5" in png_text_chunks(out)["parameters"]
