"""A small ComfyUI stand-in for tests, on loopback, following ComfyUI's published HTTP and websocket
messages (server.py / execution.py): ``GET /object_info/CheckpointLoaderSimple``, ``POST /upload/image``
(multipart), ``POST /prompt`` (validation with ``node_errors``; an unknown node class refused as
``invalid_prompt``, or with the bare 500 of ComfyUI before mid-2024), ``GET /object_info`` (class names), the websocket ``/ws?clientId=…`` (``status``, ``execution_start``, ``executing``,
``progress``, binary preview frames (type 1: format + image; type 4: metadata + image; hostile ones on
request), ``executed``, ``execution_success``,
``execution_error``, ``execution_interrupted``), ``GET /history/{id}``, ``GET /view``,
``POST /interrupt`` and ``POST /queue`` (delete).

It "renders" a picture from the workflow's seed, prompt, size and uploaded picture with a seeded
random generator, so the same workflow gives the same pixels and another seed other pixels.
"""

from __future__ import annotations

import asyncio
import email.parser
import hashlib
import io
import json
import random
import struct
import threading
import time
import uuid

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response

from studio.engines.remote.comfy_workflow import CORE_NODES

SAMPLER_NAMES = ("euler", "euler_ancestral", "dpmpp_2m", "dpmpp_sde", "ddim", "uni_pc", "heun", "lms", "lcm")


class FakeComfy:
    def __init__(self, checkpoints=("tiny-sd15.safetensors",), *, token: str | None = None, step_delay_s: float = 0.01,
                 fail_in: str = "", missing_nodes: tuple[str, ...] = (), combo_format: bool = False,
                 preview_frames: str = "plain", hostile_frames: bool = False, oversize_frame: bool = False,
                 missing_node_500: bool = False) -> None:
        self.checkpoints = list(checkpoints)
        self.token = token
        self.step_delay_s = step_delay_s
        self.fail_in = fail_in  # a class_type whose execution fails
        self.missing_nodes = set(missing_nodes)
        self.combo_format = combo_format
        self.preview_frames = preview_frames  # "plain": type 1 (format, image); "metadata": type 4 (JSON, image)
        self.hostile_frames = hostile_frames  # truncated, garbage, bomb and foreign frames between the real ones
        self.oversize_frame = oversize_frame  # one binary message over the client's 64 MiB limit
        self.missing_node_500 = missing_node_500  # a missing node class as ComfyUI before mid-2024 answers it
        self.uploads: dict[str, bytes] = {}
        self.outputs: dict[str, bytes] = {}
        self.history: dict[str, dict] = {}
        self.workflows: list[dict] = []
        self.interrupts = 0
        self.deleted: list[str] = []
        self.sockets: dict[str, WebSocket] = {}
        self._stop_running = False
        self.app = self._build()

    # --- the picture ---------------------------------------------------------------------------------
    def render(self, workflow: dict):
        from PIL import Image

        nodes = {n["class_type"]: n["inputs"] for n in workflow.values()}
        sampler = nodes["KSampler"]
        text = workflow[sampler["positive"][0]]["inputs"]["text"]
        digest = hashlib.sha256(f"{sampler['seed']}|{text}|{sampler['steps']}|{sampler['cfg']}".encode()).digest()
        rng = random.Random(digest)
        if "LoadImage" in nodes:
            with Image.open(io.BytesIO(self.uploads[nodes["LoadImage"]["image"]])) as im:
                base = im.convert("RGB")
            noise = Image.frombytes("RGB", base.size, bytes(rng.getrandbits(8) for _ in range(base.width * base.height * 3)))
            return Image.blend(base, noise, float(sampler["denoise"]))
        w, h = nodes["EmptyLatentImage"]["width"], nodes["EmptyLatentImage"]["height"]
        return Image.frombytes("RGB", (w, h), bytes(rng.getrandbits(8) for _ in range(w * h * 3)))

    # --- the app -------------------------------------------------------------------------------------
    def _authorized(self, headers) -> bool:
        return self.token is None or headers.get("authorization") == f"Bearer {self.token}"

    def _build(self) -> FastAPI:
        app = FastAPI()
        fake = self

        @app.middleware("http")
        async def auth(request: Request, call_next):
            if not fake._authorized(request.headers):
                return JSONResponse({"error": "Unauthorized"}, status_code=401)
            return await call_next(request)

        @app.get("/object_info/CheckpointLoaderSimple")
        async def object_info():
            spec = ["COMBO", {"options": fake.checkpoints}] if fake.combo_format else [fake.checkpoints, {}]
            return {"CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": spec}},
                                               "output": ["MODEL", "CLIP", "VAE"]}}

        @app.get("/object_info")
        async def every_node():
            return {name: {"input": {"required": {}}, "output": []} for name in CORE_NODES
                    if name not in fake.missing_nodes}

        @app.post("/upload/image")
        async def upload(request: Request):
            body = await request.body()
            head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
            message = email.parser.BytesParser().parsebytes(head + body)
            fields = {}
            for part in message.get_payload():
                name = part.get_param("name", header="content-disposition")
                fields[name] = (part.get_filename(), part.get_payload(decode=True))
            filename, data = fields["image"]
            fake.uploads[filename] = data
            return {"name": filename, "subfolder": "", "type": "input"}

        @app.post("/prompt")
        async def prompt(request: Request):
            body = await request.json()
            workflow, client_id = body["prompt"], body.get("client_id", "")
            for node_id, node in workflow.items():
                if node["class_type"] not in CORE_NODES or node["class_type"] in fake.missing_nodes:
                    if fake.missing_node_500:  # its validation raised KeyError: aiohttp's bare 500 page
                        return Response("500 Internal Server Error\n\nServer got itself in trouble", status_code=500,
                                        media_type="text/plain")
                    return JSONResponse({"error": {"type": "invalid_prompt",
                                                   "message": f"Cannot execute because node {node['class_type']} does not exist.",
                                                   "details": f"Node ID '#{node_id}'", "extra_info": {}},
                                         "node_errors": {}}, status_code=400)
            node_errors = {}
            for node_id, node in workflow.items():
                inputs = node["inputs"]
                if node["class_type"] == "CheckpointLoaderSimple" and inputs["ckpt_name"] not in fake.checkpoints:
                    node_errors[node_id] = {"errors": [{"type": "value_not_in_list", "message": "Value not in list",
                                                        "details": f"ckpt_name: '{inputs['ckpt_name']}' not in {fake.checkpoints}",
                                                        "extra_info": {}}],
                                            "dependent_outputs": ["save"], "class_type": "CheckpointLoaderSimple"}
                if node["class_type"] == "KSampler" and inputs["sampler_name"] not in SAMPLER_NAMES:
                    node_errors[node_id] = {"errors": [{"type": "value_not_in_list", "message": "Value not in list",
                                                        "details": f"sampler_name: '{inputs['sampler_name']}' not in list",
                                                        "extra_info": {}}],
                                            "dependent_outputs": ["save"], "class_type": "KSampler"}
            if node_errors:
                return JSONResponse({"error": {"type": "prompt_outputs_failed_validation",
                                               "message": "Prompt outputs failed validation", "details": "",
                                               "extra_info": {}}, "node_errors": node_errors}, status_code=400)
            prompt_id = str(uuid.uuid4())
            fake.workflows.append(workflow)
            fake._stop_running = False
            asyncio.get_running_loop().create_task(fake._execute(prompt_id, workflow, client_id))
            return {"prompt_id": prompt_id, "number": len(fake.workflows), "node_errors": {}}

        @app.get("/history/{prompt_id}")
        async def history(prompt_id: str):
            return {prompt_id: fake.history[prompt_id]} if prompt_id in fake.history else {}

        @app.get("/view")
        async def view(filename: str, subfolder: str = "", type: str = "output"):
            if filename not in fake.outputs:
                return Response(status_code=404)
            return Response(fake.outputs[filename], media_type="image/png")

        @app.post("/interrupt")
        async def interrupt():
            fake.interrupts += 1
            fake._stop_running = True
            return Response(status_code=200)

        @app.post("/queue")
        async def queue(request: Request):
            fake.deleted += (await request.json()).get("delete", [])
            return Response(status_code=200)

        @app.websocket("/ws")
        async def ws(socket: WebSocket):
            if not fake._authorized(socket.headers):
                await socket.close(code=1008)
                return
            await socket.accept()
            client_id = socket.query_params.get("clientId", "")
            fake.sockets[client_id] = socket
            await socket.send_text(json.dumps({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}},
                                                                          "sid": client_id}}))
            try:
                while True:
                    await socket.receive_text()
            except WebSocketDisconnect:
                fake.sockets.pop(client_id, None)

        return app

    def preview(self, prompt_id: str, node_id: str, step: int) -> list[bytes]:
        """The binary frames for one step: the preview (type 1 or 4), after hostile ones when asked."""
        from PIL import Image

        frames = hostile_frames(prompt_id) if self.hostile_frames else []
        if self.oversize_frame:
            frames.append(struct.pack(">II", 1, 1) + bytes(64 * 2**20 + 1))
        picture = io.BytesIO()
        Image.new("RGB", (16, 16), (step * 20 % 256, 0, 0)).save(picture, format="JPEG")
        if self.preview_frames == "metadata":
            meta = json.dumps({"node_id": node_id, "display_node_id": node_id, "parent_node_id": None,
                               "real_node_id": node_id, "prompt_id": prompt_id, "image_type": "image/jpeg"}).encode()
            frames.append(struct.pack(">II", 4, len(meta)) + meta + picture.getvalue())
        else:
            frames.append(struct.pack(">II", 1, 1) + picture.getvalue())
        return frames

    async def _execute(self, prompt_id: str, workflow: dict, client_id: str) -> None:
        socket = self.sockets.get(client_id)

        async def send(kind: str, **data) -> None:
            if socket is not None:
                await socket.send_text(json.dumps({"type": kind, "data": {**data, "prompt_id": prompt_id}}))

        await send("execution_start", timestamp=int(time.time() * 1000))
        await send("execution_cached", nodes=[])
        sampler_id = next(k for k, n in workflow.items() if n["class_type"] == "KSampler")
        steps = workflow[sampler_id]["inputs"]["steps"]
        for node_id, node in workflow.items():
            await send("executing", node=node_id, display_node=node_id)
            if node["class_type"] == self.fail_in:
                await send("execution_error", node_id=node_id, node_type=node["class_type"], executed=[],
                           exception_message="Allocation on device 0 would exceed allowed memory. (out of memory)",
                           exception_type="torch.OutOfMemoryError", traceback=["..."], current_inputs={},
                           current_outputs={})
                return
            if node["class_type"] != "KSampler":
                continue
            for step in range(steps):
                await asyncio.sleep(self.step_delay_s)
                if self._stop_running:
                    await send("execution_interrupted", node_id=node_id, node_type="KSampler", executed=[])
                    return
                await send("progress", value=step + 1, max=steps, node=node_id)
                if socket is not None:
                    for frame in self.preview(prompt_id, node_id, step):
                        await socket.send_bytes(frame)
        picture = self.render(workflow)
        name = f"studio_{len(self.outputs) + 1:05d}_.png"
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        self.outputs[name] = buffer.getvalue()
        images = [{"filename": name, "subfolder": "", "type": "output"}]
        self.history[prompt_id] = {"prompt": [0, prompt_id, workflow, {}, ["save"]], "outputs": {"save": {"images": images}},
                                   "status": {"status_str": "success", "completed": True, "messages": []}}
        await send("executed", node="save", display_node="save", output={"images": images})
        await send("executing", node=None)
        await send("execution_success", timestamp=int(time.time() * 1000))


def png_claiming(width: int, height: int) -> bytes:
    """A 1×1 PNG whose header claims ``width`` × ``height`` (a decompression bomb's shape)."""
    import zlib
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    png = bytearray(buffer.getvalue())
    png[16:24] = struct.pack(">II", width, height)  # IHDR's width and height
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    return bytes(png)


def hostile_frames(prompt_id: str) -> list[bytes]:
    """Binary messages a broken or hostile server might send; none of them is a preview."""
    meta = json.dumps({"node_id": "sampler", "prompt_id": "someone-else", "image_type": "image/png"}).encode()
    return [
        b"",
        b"\x00\x00",  # truncated header
        struct.pack(">I", 1),  # a preview without its format
        struct.pack(">II", 1, 1) + b"not a jpeg at all",
        struct.pack(">II", 1, 2) + png_claiming(1, 1)[:30],  # cut off mid-image
        struct.pack(">II", 1, 2) + png_claiming(40_000, 40_000),  # 1.6 gigapixels
        struct.pack(">II", 4, 2**31) + b"{}",  # metadata longer than the frame
        struct.pack(">II", 4, 5) + b"{nope" + png_claiming(1, 1),  # metadata not JSON
        struct.pack(">II", 4, len(meta)) + meta + png_claiming(1, 1),  # another prompt's preview
        struct.pack(">I", 3) + b"some text from a custom node",  # TEXT
        struct.pack(">I", 99) + b"\xff" * 100,  # an event type nobody knows
        bytes(random.Random(7).getrandbits(8) for _ in range(300)),
    ]


class RunningFake:
    """The fake on uvicorn in a thread at 127.0.0.1 and a free port."""

    def __init__(self, fake: FakeComfy) -> None:
        import uvicorn

        self.fake = fake
        self.server = uvicorn.Server(uvicorn.Config(fake.app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="off", ws_ping_interval=None))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the fake ComfyUI did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(5)
