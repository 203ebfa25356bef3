"""ComfyUI as an image backend (krita-ai-diffusion's route): an :class:`~studio.requests.ImageRequest`
with an ``endpoint`` runs on a ComfyUI server instead of this machine.

1. The checkpoint is checked against the server's list (``GET /object_info/CheckpointLoaderSimple``);
   an image-to-image picture (and an inpaint mask) is uploaded (``POST /upload/image``).
2. One workflow per image, in API format, from core nodes only (:mod:`.comfy_workflow`), queued with
   ``POST /prompt`` under this job's websocket client id.
3. The websocket (``/ws?clientId=…``) reports ``progress`` (steps) and binary preview frames (JPEG or
   PNG after an 8-byte header), then ``executing`` with no node / ``execution_success``; an
   ``execution_error`` becomes a message naming the node and what it said.
4. The result comes from ``GET /history/{prompt_id}`` and ``GET /view``; Studio saves it as its own PNG,
   with Studio's metadata (the seed reproduces on the same server).
5. Stop: ``POST /interrupt`` (and the queued prompt is deleted).

The bearer token (optional) comes from ``runtime.key_for(url)``, like an OpenAI-compatible server's key.
"""

from __future__ import annotations

import contextlib
import io
import json
import secrets
import struct
import time
import uuid
from collections.abc import Generator
from urllib.parse import urlsplit, urlunsplit

from ...cancel import CancelToken
from ...errors import Cancelled, ServerError
from ...events import Event, ImageStats, Output, Preview, Progress, Status
from ...requests import ImageRequest
from . import server_errors as errs
from .comfy_workflow import OUTPUT_NODE, Inputs, build_workflow, comfy_sampler

TIMEOUT_S = 30.0
PREVIEW_IMAGE = 1  # binary websocket event: a preview (then 4 bytes of format: 1 JPEG, 2 PNG)


def _models_of(spec) -> list[str]:
    """The names in an object_info input spec: ``[[names…], {…}]`` or the newer ``["COMBO", {"options": […]}]``."""
    if isinstance(spec, list) and spec:
        if isinstance(spec[0], list):
            return [str(n) for n in spec[0]]
        if spec[0] == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict):
            return [str(n) for n in spec[1].get("options", [])]
    return []


class ComfyClient:
    """HTTP (httpx2) and websocket (websockets) calls to one ComfyUI server."""

    def __init__(self, url: str, token: str | None = None, *, timeout_s: float = TIMEOUT_S) -> None:
        import httpx2

        self.url = url.strip().rstrip("/")
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx2.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self.http.close()

    # --- HTTP ---
    def _call(self, method: str, path: str, **kw):
        import httpx2

        try:
            response = self.http.request(method, path, **kw)
        except httpx2.TimeoutException:
            raise errs.timed_out(self.url, TIMEOUT_S) from None
        except httpx2.TransportError as exc:
            raise errs.unreachable(self.url, errs.short(str(exc) or type(exc).__name__, 120)) from None
        if response.status_code in (401, 403):
            raise errs.refused_key(self.url, response.status_code, bool(self.token))
        if response.status_code == 429:
            raise errs.rate_limited(self.url, response.headers.get("retry-after"))
        if response.status_code >= 500:
            raise errs.server_failed(self.url, response.status_code, errs.short(response.text))
        return response

    def checkpoints(self) -> list[str]:
        response = self._call("GET", "/object_info/CheckpointLoaderSimple")
        if response.status_code == 404:
            raise errs.rejected(self.url, 404, "this does not look like a ComfyUI server (no /object_info)")
        try:
            info = response.json()["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"]
        except (ValueError, KeyError, TypeError):
            raise errs.rejected(self.url, response.status_code, "its /object_info answer is not ComfyUI's") from None
        return _models_of(info)

    def upload(self, png: bytes, name: str) -> str:
        response = self._call("POST", "/upload/image", files={"image": (name, png, "image/png")},
                              data={"overwrite": "true", "type": "input"})
        if response.status_code != 200:
            raise errs.rejected(self.url, response.status_code, errs.short(response.text))
        data = response.json()
        sub = data.get("subfolder") or ""
        return f"{sub}/{data['name']}" if sub else data["name"]

    def queue(self, workflow: dict, client_id: str) -> str:
        response = self._call("POST", "/prompt", json={"prompt": workflow, "client_id": client_id})
        if response.status_code != 200:
            raise workflow_refused(self.url, response)
        return response.json()["prompt_id"]

    def history(self, prompt_id: str) -> dict:
        return self._call("GET", f"/history/{prompt_id}").json().get(prompt_id, {})

    def view(self, ref: dict) -> bytes:
        params = {"filename": ref["filename"], "subfolder": ref.get("subfolder", ""), "type": ref.get("type", "output")}
        response = self._call("GET", "/view", params=params)
        if response.status_code != 200:
            raise errs.rejected(self.url, response.status_code, f"could not fetch the image {ref['filename']}")
        return response.content

    def interrupt(self, prompt_id: str) -> None:
        for path, body in (("/queue", {"delete": [prompt_id]}), ("/interrupt", {"prompt_id": prompt_id})):
            try:
                self._call("POST", path, json=body)
            except ServerError:
                pass  # the server went away: nothing left to stop

    # --- websocket ---
    @contextlib.contextmanager
    def websocket(self, client_id: str):
        from websockets.sync.client import connect

        parts = urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        ws_url = urlunsplit((scheme, parts.netloc, parts.path + "/ws", f"clientId={client_id}", ""))
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        try:
            ws = connect(ws_url, additional_headers=headers, open_timeout=TIMEOUT_S, max_size=None).__enter__()
        except Exception as exc:  # refused, a proxy without websockets, a wrong token …
            raise errs.unreachable(self.url, f"websocket: {errs.short(str(exc) or type(exc).__name__, 120)}") from None
        try:
            yield ws
        finally:
            ws.close()


def workflow_refused(url: str, response) -> ServerError:
    """``POST /prompt`` said no: ``node_errors`` (a value not in a list, a missing input), a missing node
    class (an old ComfyUI), or anything else, as one message."""
    try:
        body = response.json()
    except ValueError:
        return errs.rejected(url, response.status_code, errs.short(response.text))
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message", "") if isinstance(error, dict) else str(error or "")
    kind = error.get("type", "") if isinstance(error, dict) else ""
    if (kind == "invalid_prompt" and "does not exist" in message) or "node_class" in kind:
        return ServerError(
            f"ComfyUI at {url} lacks a node Studio's workflow uses ({errs.short(message)}). Studio uses core nodes "
            "only: update ComfyUI.", status=response.status_code)
    details = []
    for node_id, info in (body.get("node_errors") or {}).items():
        for e in info.get("errors", []) if isinstance(info, dict) else []:
            what = e.get("details") or e.get("message") or ""
            details.append(f"{info.get('class_type', node_id)}: {what}")
    text = "; ".join(details) or message or "no reason given"
    return ServerError(f"ComfyUI at {url} refused the workflow: {errs.short(text, 400)}", status=response.status_code)


def _decode_preview(frame: bytes):
    from PIL import Image

    if len(frame) < 8:
        return None
    event, _fmt = struct.unpack(">II", frame[:8])
    if event != PREVIEW_IMAGE:
        return None
    try:
        with Image.open(io.BytesIO(frame[8:])) as im:
            return im.convert("RGB")
    except Exception:  # a damaged frame: skip the preview, not the job
        return None


def _follow(client: ComfyClient, ws, prompt_id: str, cancel: CancelToken, index: int, total_steps: int,
            done_before: int) -> Generator[Event, None, None]:
    """The websocket's messages for ``prompt_id`` until it finished; Stop interrupts it."""
    from websockets.exceptions import ConnectionClosed

    step = 0
    while True:
        if cancel.cancelled:
            client.interrupt(prompt_id)
            raise Cancelled()
        try:
            message = ws.recv(timeout=0.1)
        except TimeoutError:
            continue
        except ConnectionClosed:
            raise ServerError(f"ComfyUI at {client.url} closed the connection during the job. Check that it is "
                              "still running, then try again.") from None
        if isinstance(message, bytes):
            image = _decode_preview(message)
            if image is not None:
                yield Preview(image=image, step=step, index=index)
            continue
        try:
            msg = json.loads(message)
        except ValueError:
            continue
        kind, data = msg.get("type"), msg.get("data") or {}
        if data.get("prompt_id") not in (None, prompt_id):
            continue  # another client's job on a shared server
        if kind == "progress" and data.get("prompt_id") == prompt_id:
            step = int(data.get("value", 0))
            yield Progress(done_before + step, total_steps, "generate")
        elif kind == "execution_error" and data.get("prompt_id") == prompt_id:
            node = data.get("node_type") or data.get("node_id") or "a node"
            raise ServerError(
                f"ComfyUI failed in {node} (node {data.get('node_id', '?')}): "
                f"{errs.short(data.get('exception_message') or data.get('exception_type') or 'no reason given', 300)}"
            )
        elif kind == "execution_interrupted" and data.get("prompt_id") == prompt_id:
            if cancel.cancelled:
                raise Cancelled()
            raise ServerError(f"The job was interrupted on the ComfyUI server at {client.url} (someone pressed "
                              "Cancel there). Try again.")
        elif kind == "execution_success" and data.get("prompt_id") == prompt_id:
            return
        elif kind == "executing" and data.get("prompt_id") == prompt_id and data.get("node") is None:
            return


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def run_comfyui(request: ImageRequest, runtime, cancel: CancelToken, *, init_image=None, mask=None,
                params: dict | None = None) -> Generator[Event, None, ImageStats]:
    """Generate ``request``'s images on the ComfyUI server at ``request.endpoint``.

    ``init_image`` / ``mask`` (PIL images at the request's size) make it image-to-image / inpaint;
    without them an ``init_image`` path in the request is read here."""
    from PIL import Image

    url = request.endpoint.strip().rstrip("/")
    host = urlsplit(url).netloc or url
    comfy_sampler(request.scheduler)  # a sampler ComfyUI lacks: refused before anything is sent
    if init_image is None and request.init_image:
        from ..image import load_init_image

        init_image = load_init_image(request.init_image, request.width, request.height)
    client = ComfyClient(url, runtime.key_for(url))
    t0 = time.perf_counter()
    try:
        yield Status(f"Asking ComfyUI at {host}…")
        names = client.checkpoints()
        if request.model not in names:
            shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
            raise ServerError(
                f"ComfyUI at {url} has no checkpoint '{request.model}'. "
                + (f"It has: {shown}." if names else "Its models/checkpoints folder is empty."),
                status=404,
            )
        cancel.check()
        inputs = Inputs()
        if init_image is not None:
            yield Status("Uploading the picture…")
            tag = uuid.uuid4().hex[:12]
            inputs = Inputs(image=client.upload(_png(init_image), f"studio-{tag}.png"),
                            mask=client.upload(_png(mask.convert("RGB")), f"studio-{tag}-mask.png") if mask else "")
        seed = request.seed if request.seed is not None else secrets.randbelow(2**32)
        count = request.batch_count * request.batch_size
        steps = request.num_inference_steps
        client_id = uuid.uuid4().hex
        with client.websocket(client_id) as ws:
            for i in range(count):
                cancel.check()
                workflow = build_workflow(request, seed + i, inputs)
                yield Status(f"Queued on ComfyUI ({i + 1} of {count})…")
                prompt_id = client.queue(workflow, client_id)
                yield from _follow(client, ws, prompt_id, cancel, i, steps * count, steps * i)
                images = client.history(prompt_id).get("outputs", {}).get(OUTPUT_NODE, {}).get("images", [])
                if not images:
                    raise ServerError(f"ComfyUI at {url} finished without an image (its history has none).")
                with Image.open(io.BytesIO(client.view(images[0]))) as im:
                    picture = im.convert("RGB")
                item = {
                    **(params if params is not None else request.to_dict()),
                    "seed": seed + i,
                    "base_seed": seed,
                    "endpoint": url,
                    "comfyui_prompt_id": prompt_id,
                    "comfyui_workflow": workflow,
                }
                yield Output("image", picture, item, index=i)
    finally:
        client.close()
    elapsed = time.perf_counter() - t0
    return ImageStats(
        seconds=elapsed, device=f"ComfyUI · {host}", seed=seed, model=request.model, images=count,
        width=request.width, height=request.height, steps=steps * count,
        steps_per_s=steps * count / elapsed if elapsed > 0 else 0.0,
    )
