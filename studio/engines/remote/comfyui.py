"""ComfyUI as an image backend (krita-ai-diffusion's route): an :class:`~studio.requests.ImageRequest`
with an ``endpoint`` runs on a ComfyUI server instead of this machine.

1. The checkpoint is checked against the server's list (``GET /object_info/CheckpointLoaderSimple``);
   an image-to-image picture (and an inpaint mask) is uploaded (``POST /upload/image``).
2. One workflow per image, in API format, from core nodes only (:mod:`.comfy_workflow`), queued with
   ``POST /prompt`` under this job's websocket client id.
3. The websocket (``/ws?clientId=…``) reports ``progress`` (steps) and binary preview frames, then
   ``executing`` with no node / ``execution_success``; an ``execution_error`` becomes a message naming the
   node and what it said (:mod:`.comfy_socket`).
4. The result comes from ``GET /history/{prompt_id}`` and ``GET /view``; Studio saves it as its own PNG,
   with Studio's metadata (the seed reproduces on the same server).
5. Stop: ``POST /interrupt`` (and the queued prompt is deleted).

The bearer token (optional) comes from ``runtime.key_for(url)``, like an OpenAI-compatible server's key.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import time
import uuid
from collections.abc import Generator
from urllib.parse import urlsplit, urlunsplit

from ...cancel import CancelToken
from ...errors import ServerError
from ...events import Event, ImageStats, Output, Status
from ...requests import ImageRequest
from . import server_errors as errs
from .comfy_socket import MAX_MESSAGE_BYTES, follow
from .comfy_workflow import OUTPUT_NODE, SAMPLER_NODE, Inputs, build_workflow, comfy_sampler

TIMEOUT_S = 30.0


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

    def object_info(self, node: str = "") -> dict:
        """``GET /object_info[/node]``: every node class's inputs and outputs, or one class's."""
        response = self._call("GET", f"/object_info/{node}" if node else "/object_info")
        if response.status_code == 404:
            raise errs.rejected(self.url, 404, "this does not look like a ComfyUI server (no /object_info)")
        try:
            info = response.json()
        except ValueError:
            info = None
        if not isinstance(info, dict) or (node and not isinstance(info.get(node), dict)):
            raise errs.rejected(self.url, response.status_code, "its /object_info answer is not ComfyUI's")
        return info[node] if node else info

    def choices(self, node: str, field: str) -> list[str]:
        """The names a node's list input offers (checkpoints, LoRAs, sampler names …)."""
        try:
            return _models_of(self.object_info(node)["input"]["required"][field])
        except (KeyError, TypeError):
            raise errs.rejected(self.url, 200, f"its /object_info has no {node}.{field}") from None

    def checkpoints(self) -> list[str]:
        return self.choices("CheckpointLoaderSimple", "ckpt_name")

    def upload(self, png: bytes, name: str) -> str:
        response = self._call("POST", "/upload/image", files={"image": (name, png, "image/png")},
                              data={"overwrite": "true", "type": "input"})
        if response.status_code != 200:
            raise errs.rejected(self.url, response.status_code, errs.short(response.text))
        data = response.json()
        sub = data.get("subfolder") or ""
        return f"{sub}/{data['name']}" if sub else data["name"]

    def node_classes(self) -> set[str]:
        """Every node class the server has."""
        return set(self.object_info())

    def queue(self, workflow: dict, client_id: str) -> str:
        try:
            response = self._call("POST", "/prompt", json={"prompt": workflow, "client_id": client_id})
        except ServerError as exc:
            if exc.status != 500:
                raise
            # ComfyUI before mid-2024 answers a node class it lacks with a bare 500; name the node instead
            try:
                missing = sorted({n.get("class_type", "?") for n in workflow.values()} - self.node_classes())
            except ServerError:
                raise exc from None  # no class list either: the server's own failure is the message
            if missing:
                raise missing_nodes(self.url, missing, 400) from None
            raise
        if response.status_code != 200:
            raise workflow_refused(self.url, response)
        return response.json()["prompt_id"]

    def run(self, ws, client_id: str, workflow: dict, cancel: CancelToken, *, output_node: str = OUTPUT_NODE,
            progress_node: str | None = None, index: int = 0, total_steps: int = 0,
            done_before: int = 0) -> Generator[Event, None, tuple[str, list[dict]]]:
        """Queue ``workflow`` under ``client_id`` (whose websocket is ``ws``), follow it to its end, and return
        its prompt id and ``output_node``'s image references from ``/history`` (for :meth:`view`)."""
        prompt_id = self.queue(workflow, client_id)
        yield from follow(ws, prompt_id, cancel, interrupt=lambda: self.interrupt(prompt_id), url=self.url,
                          index=index, total_steps=total_steps, done_before=done_before, progress_node=progress_node)
        images = self.history(prompt_id).get("outputs", {}).get(output_node, {}).get("images", [])
        return prompt_id, images

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
            ws = connect(ws_url, additional_headers=headers, open_timeout=TIMEOUT_S,
                         max_size=MAX_MESSAGE_BYTES).__enter__()
        except Exception as exc:  # refused, a proxy without websockets, a wrong token …
            raise errs.unreachable(self.url, f"websocket: {errs.short(str(exc) or type(exc).__name__, 120)}") from None
        try:
            yield ws
        finally:
            ws.close()


def missing_nodes(url: str, what: list[str], status: int) -> ServerError:
    return ServerError(f"ComfyUI at {url} lacks a node Studio's workflow uses ({', '.join(what)}). Studio uses core "
                       "nodes only: update ComfyUI.", status=status)


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
        return missing_nodes(url, [errs.short(message)], response.status_code)
    details = []
    node_errors = body.get("node_errors") if isinstance(body, dict) else None
    for node_id, info in (node_errors if isinstance(node_errors, dict) else {}).items():
        for e in info.get("errors", []) if isinstance(info, dict) else []:
            if not isinstance(e, dict):
                continue
            # "Value not in list" + "ckpt_name: 'x' not in [...]"; "Value -5 smaller than min of 1" + "width"
            said, where = str(e.get("message") or ""), str(e.get("details") or "")
            what = f"{said} ({where})" if said and where else said or where
            details.append(f"{info.get('class_type', node_id)}: {what}")
    text = "; ".join(details) or message or "no reason given"
    return ServerError(f"ComfyUI at {url} refused the workflow: {errs.short(text, 400)}", status=response.status_code)


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
                prompt_id, images = yield from client.run(
                    ws, client_id, workflow, cancel, progress_node=SAMPLER_NODE, index=i, total_steps=steps * count,
                    done_before=steps * i)
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
