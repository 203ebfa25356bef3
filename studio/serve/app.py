"""The OpenAI-compatible HTTP API over Studio's own engines (FastAPI), through the GUI's job queue.

Endpoints: ``GET /v1/models``; ``POST /v1/chat/completions`` and ``/v1/completions`` (streamed as
server-sent events, or not); ``POST /v1/images/generations`` (b64_json); ``POST /v1/audio/speech``
(wav/flac bytes). Every request is checked before it reaches the queue: the body by pydantic
(:mod:`.schemas`), the values by the Studio request's own ``validate()``, the model by resolving it
(offline: a request never makes the server download anything). Anything wrong is a 4xx with an
OpenAI-style error body (``{"error": {"message", "type", "param", "code"}}``) and the server goes on.

Each request becomes one job (:class:`~studio.serve.bridge.JobBridge`); a client that disconnects
cancels it, queued or running. Results are saved to the library like every other job's.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import io
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.sse import EventSourceResponse, format_sse_event
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import InvalidRequest, ModelNotFound, NotDownloaded, StudioError, UnsafeModelFile, WrongModelKind
from ..models.catalog import Catalog
from ..models.resolve import resolve
from .bridge import JobBridge, Subscription
from .schemas import ChatBody, CompletionBody, ImageBody, SpeechBody

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 8 * 1024 * 1024  # a chat of 1000 messages of 100 000 characters is refused before it is read
SERVED_MODALITIES = ("text", "image", "speech")
USABLE_STATES = ("bundled", "downloaded", "local")

#: a failed job's kind → (HTTP status, OpenAI error type)
_STATUS = {
    "invalid": (400, "invalid_request_error"),
    "unsafe_file": (400, "invalid_request_error"),
    "not_found": (404, "invalid_request_error"),
    "not_downloaded": (404, "invalid_request_error"),
    "wrong_kind": (404, "invalid_request_error"),
    "out_of_memory": (503, "server_error"),
    "server": (502, "server_error"),
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param


def error_body(message: str, type: str = "invalid_request_error", code: str | None = None, param: str | None = None):
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def _error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(error_body(exc.message, exc.type, exc.code, exc.param), status_code=exc.status)


def job_failure(error) -> ApiError:
    """A failed job (a :class:`~studio.jobs.JobError`) as an HTTP error."""
    status, kind = _STATUS.get(getattr(error, "kind", ""), (500, "server_error"))
    code = "model_not_found" if getattr(error, "kind", "") in ("not_found", "not_downloaded", "wrong_kind") else None
    return ApiError(status, str(error), type=kind, code=code)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "The request body is not valid.", None
    first = errors[0]
    if first.get("type") == "json_invalid":
        return "The request body is not valid JSON.", None
    if tuple(first.get("loc", ())) == ("body",):
        return "The request body must be a JSON object (and the Content-Type application/json).", None
    where = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(where) or None
    what = first.get("msg", "invalid value")
    return (f"{param}: {what}" if param else what) + ".", param


class ServeConfig:
    """What the HTTP layer needs besides the bridge: the key (None: no key needed) and the catalog."""

    def __init__(self, api_key: str | None = None, catalog: Catalog | None = None) -> None:
        self.api_key = api_key or None
        self.catalog = catalog or Catalog()


def create_app(bridge: JobBridge, config: ServeConfig) -> FastAPI:
    app = FastAPI(title="Studio", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError):
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid_body(_request: Request, exc: RequestValidationError):
        message, param = _validation_message(exc)
        return JSONResponse(error_body(message, param=param), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException):
        message = "Not found: Studio serves /v1/models, /v1/chat/completions, /v1/completions, " \
                  "/v1/images/generations and /v1/audio/speech." if exc.status_code == 404 else str(exc.detail)
        return JSONResponse(error_body(message, code=str(exc.status_code)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _bug(_request: Request, exc: Exception):
        log.exception("serve: unexpected error")
        return JSONResponse(error_body(f"Studio failed: {type(exc).__name__}", "server_error"), status_code=500)

    @app.middleware("http")
    async def _limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return JSONResponse(
                error_body(f"The request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB."), status_code=413
            )
        return await call_next(request)

    async def authorized(request: Request) -> None:
        if config.api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), config.api_key.encode()):
            raise ApiError(401, "Missing or wrong API key: send it as 'Authorization: Bearer KEY'.",
                           code="invalid_api_key")

    guard = [Depends(authorized)]

    # --- models ---
    @app.get("/v1/models", dependencies=guard)
    async def list_models():
        entries = await asyncio.to_thread(_usable_models, config.catalog)
        return {"object": "list", "data": entries}

    # --- text ---
    @app.post("/v1/chat/completions", dependencies=guard)
    async def chat(body: ChatBody, request: Request):
        return await _text(body, request, chat=True)

    @app.post("/v1/completions", dependencies=guard)
    async def completions(body: CompletionBody, request: Request):
        return await _text(body, request, chat=False)

    async def _text(body, request: Request, *, chat: bool):
        studio_request = _to_request(body)
        model = await _check_model(config.catalog, studio_request.model, "text")
        sub = bridge.submit(studio_request, asyncio.get_running_loop())
        reply = _TextReply(sub, body, model, chat=chat)
        if body.stream:
            first = await reply.first(request)  # a job that fails before its first word is an HTTP error
            return EventSourceResponse(reply.stream(first, request))
        return JSONResponse(await reply.whole(request))

    # --- images ---
    @app.post("/v1/images/generations", dependencies=guard)
    async def images(body: ImageBody, request: Request):
        studio_request = _to_request(body)
        await _check_model(config.catalog, studio_request.model, "image")
        sub = bridge.submit(studio_request, asyncio.get_running_loop())
        items = await _outputs(sub, request)
        data = []
        for item in items:
            png = await asyncio.to_thread(Path(item.path).read_bytes)
            data.append({"b64_json": base64.b64encode(png).decode("ascii"), "revised_prompt": None,
                         "seed": item.params.get("seed")})
        return {"created": int(time.time()), "data": data}

    # --- speech ---
    @app.post("/v1/audio/speech", dependencies=guard)
    async def speech(body: SpeechBody, request: Request):
        studio_request = _to_request(body)
        await _check_model(config.catalog, studio_request.model, "speech")
        sub = bridge.submit(studio_request, asyncio.get_running_loop())
        items = await _outputs(sub, request)
        if not items:
            raise ApiError(500, "The speech job finished without audio.", type="server_error")
        audio = await asyncio.to_thread(_audio_bytes, Path(items[-1].path), body.response_format)
        return Response(audio, media_type=f"audio/{body.response_format}")

    return app


def _to_request(body):
    try:
        return body.to_request()
    except InvalidRequest as exc:
        raise ApiError(400, str(exc)) from None


async def _check_model(catalog: Catalog, spec: str, modality: str) -> str:
    """The model's id; refuses one this machine does not have (never downloads: a client must not make the
    server fetch anything)."""
    try:
        model = await asyncio.to_thread(resolve, spec, modality, catalog=catalog, offline=True, download=None)
        return spec or model.id
    except UnsafeModelFile as exc:
        raise ApiError(400, str(exc)) from None
    except (ModelNotFound, NotDownloaded, WrongModelKind) as exc:
        raise ApiError(404, f"{exc} (GET /v1/models lists the models served here.)", code="model_not_found") from None
    except StudioError as exc:
        raise ApiError(400, str(exc)) from None


def _usable_models(catalog: Catalog) -> list[dict]:
    out = []
    for entry in catalog.entries(include_cached=True):
        if entry.modality not in SERVED_MODALITIES or catalog.state(entry) not in USABLE_STATES:
            continue
        out.append({"id": entry.id, "object": "model", "created": 0, "owned_by": "studio",
                    "name": entry.name, "modality": entry.modality})
    return out


def _audio_bytes(path: Path, fmt: str) -> bytes:
    """The saved clip in the format asked for (the library writes WAV by default)."""
    if path.suffix.lower() == f".{fmt}":
        return path.read_bytes()
    import soundfile as sf

    audio, rate = sf.read(str(path), dtype="float32")
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format=fmt.upper())
    return buffer.getvalue()


async def _next_event(sub: Subscription, request: Request, poll_s: float = 0.5):
    """The subscription's next event; a client that went away cancels the job (and this raises)."""
    while True:
        try:
            return await asyncio.wait_for(sub.events.get(), timeout=poll_s)
        except asyncio.TimeoutError:
            if await request.is_disconnected():
                sub.cancel()
                raise asyncio.CancelledError() from None


async def _outputs(sub: Subscription, request: Request) -> list:
    """Every saved item of a non-streamed job; its failure as an HTTP error."""
    items = []
    try:
        while True:
            kind, payload = await _next_event(sub, request)
            if kind == "output":
                items.append(payload)
            elif kind == "finished":
                return items
            elif kind == "failed":
                raise job_failure(payload)
            elif kind == "cancelled":
                raise ApiError(499, "The job was cancelled.", type="server_error")
    except asyncio.CancelledError:
        sub.cancel()
        raise


def _stats_dict(result) -> dict:
    stats = getattr(result, "stats", None)
    if stats is None:
        return {}
    return stats.to_dict() if hasattr(stats, "to_dict") else dict(stats)


class _TextReply:
    """One text job as an OpenAI chat/completion response, streamed or whole; ``stop`` strings end it."""

    def __init__(self, sub: Subscription, body, model: str, *, chat: bool) -> None:
        self.sub, self.body, self.chat = sub, body, chat
        self.id = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        self.created = int(time.time())
        self.model = model
        self.stops = body.stops()
        self.text = ""  # what the client got so far (cut at a stop string)
        self.stopped_at_stop = False
        self.tokens = 0
        self.stats: dict = {}

    # --- the events ---
    def _add(self, piece: str) -> str:
        """The part of ``piece`` the client gets (up to a stop string); sets stopped_at_stop."""
        if self.stopped_at_stop:
            return ""
        before = len(self.text)
        candidate = self.text + piece
        for stop in self.stops:
            at = candidate.find(stop, max(0, before - len(stop)))
            if at != -1:
                candidate = candidate[:at]
                self.stopped_at_stop = True
        self.text = candidate
        if self.stopped_at_stop:
            self.sub.cancel()  # the rest is not wanted: free the queue
        return candidate[before:]

    async def first(self, request: Request):
        """Wait for the first token (or the end): a failure before any text becomes an HTTP error."""
        try:
            while True:
                kind, payload = await _next_event(self.sub, request)
                if kind in ("token", "finished", "cancelled", "failed"):
                    if kind == "failed":
                        raise job_failure(payload)
                    return kind, payload
        except asyncio.CancelledError:
            self.sub.cancel()
            raise

    async def whole(self, request: Request) -> dict:
        try:
            while True:
                kind, payload = await _next_event(self.sub, request)
                if kind == "token":
                    self._add(payload.text)
                    self.tokens = payload.count
                elif kind == "output":
                    if not self.stops:
                        self.text = payload.params.get("reply", self.text)
                elif kind == "finished" or (kind == "cancelled" and self.stopped_at_stop):
                    self.stats = _stats_dict(payload)
                    return self._response()
                elif kind == "failed":
                    raise job_failure(payload)
                elif kind == "cancelled":
                    raise ApiError(499, "The job was cancelled.", type="server_error")
        except asyncio.CancelledError:
            self.sub.cancel()
            raise

    async def stream(self, first, request: Request) -> AsyncIterator[bytes]:
        kind = None
        try:
            if self.chat:
                yield self._sse(self._chunk({"role": "assistant", "content": ""}, None))
            kind, payload = first
            while True:
                if kind == "token":
                    self.tokens = payload.count
                    piece = self._add(payload.text)
                    if piece:
                        yield self._sse(self._chunk({"content": piece}, None))
                elif kind == "finished" or (kind == "cancelled" and self.stopped_at_stop):
                    self.stats = _stats_dict(payload)
                    yield self._sse(self._chunk({}, self._finish_reason()))
                    if self.body.include_usage():
                        yield self._sse({**self._head(), "choices": [], "usage": self._usage()})
                    yield format_sse_event(data_str="[DONE]")
                    return
                elif kind in ("failed", "cancelled"):
                    message = str(payload) if kind == "failed" else "The job was cancelled."
                    yield self._sse(error_body(message, "server_error"))
                    return
                kind, payload = await _next_event(self.sub, request)
        except (asyncio.CancelledError, GeneratorExit):
            self.sub.cancel()  # the client went away
            raise
        finally:
            if not self.sub.cancelled and kind not in ("finished", "failed", "cancelled"):
                self.sub.cancel()

    # --- the response shapes ---
    def _head(self) -> dict:
        return {"id": self.id, "object": "chat.completion.chunk" if self.chat else "text_completion",
                "created": self.created, "model": self.model}

    def _chunk(self, delta: dict, finish: str | None) -> dict:
        if self.chat:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
        else:
            choice = {"index": 0, "text": delta.get("content", ""), "logprobs": None, "finish_reason": finish}
        return {**self._head(), "choices": [choice]}

    @staticmethod
    def _sse(data: dict) -> bytes:
        return format_sse_event(data_str=json.dumps(data, ensure_ascii=False))

    def _finish_reason(self) -> str:
        if self.stopped_at_stop:
            return "stop"
        limit = self.sub.request.max_new_tokens
        return "length" if self.stats.get("tokens", self.tokens) >= limit else "stop"

    def _usage(self) -> dict:
        prompt = int(self.stats.get("prompt_tokens", 0))
        completion = int(self.stats.get("tokens", self.tokens))
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _response(self) -> dict:
        head = {"id": self.id, "object": "chat.completion" if self.chat else "text_completion",
                "created": self.created, "model": self.model}
        if self.chat:
            choice = {"index": 0, "message": {"role": "assistant", "content": self.text},
                      "finish_reason": self._finish_reason()}
        else:
            choice = {"index": 0, "text": self.text, "logprobs": None, "finish_reason": self._finish_reason()}
        return {**head, "choices": [choice], "usage": self._usage()}

