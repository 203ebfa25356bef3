"""Remote text models: chat with any OpenAI-compatible ``/v1`` server (vLLM, llama.cpp's server, Ollama,
LM Studio, text-generation-webui, a cloud provider) through the ``openai`` client.

:class:`~studio.engines.text.TextEngine` hands a request with an ``endpoint`` here. What the local
runtimes do, this does over HTTP:

- the conversation as OpenAI chat messages; an empty system prompt sends no system message;
- only the sampling settings the OpenAI API has: temperature, top_p, max_tokens, seed, stop (top-k and the
  repetition penalty are left to the server's defaults, as the GUI shows by greying them out);
- streaming, one :class:`~studio.events.Token` per piece, tokens/s live and the server's own token
  counts at the end where it reports them (``stream_options.include_usage``); the context size where
  ``GET /v1/models`` names it (vLLM ``max_model_len``, llama.cpp ``meta.n_ctx_train``, LM Studio …);
- Stop closes the stream at once (the read runs on its own thread, so a silent server cannot hold it);
- a server that dies mid-reply keeps the partial reply (saved), then the job fails with a clear message;
- timeouts, refused connections, 401/403, 404, 429 and 5xx become :class:`~studio.errors.ServerError`
  messages with the next step (:mod:`.server_errors`).

The API key comes from ``runtime.key_for(url)`` (the OS keyring, a session key or an environment
variable), never from the request, so it is never saved with the results.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ...cancel import CancelToken
from ...errors import Cancelled, ServerError
from ...events import Event, Notice, Output, Progress, Status, TextStats, Token
from ...requests import TextRequest
from ..text_common import build_messages, reply_params
from . import server_errors as errs

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 120.0  # the longest wait for the next piece of a reply (a server may load the model first)
LIST_TIMEOUT_S = 10.0
NO_KEY = "no-key"  # the openai client insists on a key; servers without one ignore it

#: where servers report a model's context in ``GET /v1/models`` (first found wins)
_CONTEXT_KEYS = ("max_model_len", "context_length", "max_context_length", "context_window", "n_ctx")


def base_url(endpoint: str) -> str:
    return endpoint.strip().rstrip("/")


def host_of(endpoint: str) -> str:
    try:
        return urlsplit(endpoint).netloc or endpoint
    except ValueError:
        return endpoint


def make_client(endpoint: str, key: str | None, *, read_timeout: float | None = None):
    """An ``openai.OpenAI`` client for ``endpoint``: no retries (a person sees every failure), our timeouts."""
    import httpx2 as httpx
    from openai import OpenAI

    return OpenAI(
        base_url=base_url(endpoint),
        api_key=key or NO_KEY,
        max_retries=0,
        timeout=httpx.Timeout(READ_TIMEOUT_S if read_timeout is None else read_timeout, connect=CONNECT_TIMEOUT_S),
    )


@dataclass(frozen=True)
class RemoteModel:
    """One entry of a server's ``GET /v1/models``."""

    id: str
    owned_by: str = ""
    context: int = 0  # tokens, 0 = not reported


def context_of(entry: dict) -> int:
    for name in _CONTEXT_KEYS:
        value = entry.get(name)
        if isinstance(value, int) and value > 0:
            return value
    meta = entry.get("meta")
    if isinstance(meta, dict):
        for name in ("n_ctx", "n_ctx_train"):
            value = meta.get(name)
            if isinstance(value, int) and value > 0:
                return value
    return 0


def list_models(endpoint: str, key: str | None, *, timeout: float | None = None) -> list[RemoteModel]:
    """The server's models (``GET /v1/models``); a ServerError that says what to do when it cannot answer."""
    client = make_client(endpoint, key, read_timeout=LIST_TIMEOUT_S if timeout is None else timeout)
    try:
        page = client.models.list()
        entries = [m.model_dump() for m in page.data]
    except Exception as exc:
        raise translate(exc, endpoint, "", key, listing=True) from None
    finally:
        client.close()
    return [
        RemoteModel(str(e.get("id", "")), str(e.get("owned_by") or ""), context_of(e)) for e in entries if e.get("id")
    ]


def translate(exc: BaseException, endpoint: str, model: str, key: str | None, *, listing: bool = False) -> BaseException:
    """An ``openai``/``httpx`` exception as a :class:`ServerError` with the next step (others unchanged)."""
    import httpx2 as httpx
    import openai

    url = base_url(endpoint)
    if isinstance(exc, (ServerError, Cancelled)):
        return exc
    if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException)):
        return errs.timed_out(url, READ_TIMEOUT_S if not listing else LIST_TIMEOUT_S)
    if isinstance(exc, openai.APIConnectionError) or isinstance(exc, httpx.TransportError):
        cause = exc.__cause__ or exc.__context__ or exc
        return errs.unreachable(url, errs.short(str(cause) or type(cause).__name__, 120))
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = errs.short(_message_of(exc))
        if status in (401, 403):
            return errs.refused_key(url, status, bool(key))
        if status == 404:
            if listing:
                return errs.rejected(url, 404, "no /models here: check that the URL ends in /v1")
            return errs.unknown_model(url, model, _known_models(endpoint, key))
        if status == 429:
            return errs.rate_limited(url, exc.response.headers.get("retry-after"))
        if status >= 500:
            return errs.server_failed(url, status, detail)
        return errs.rejected(url, status, detail)
    if isinstance(exc, openai.APIError):  # an error event inside a stream
        return errs.server_failed(url, 0, errs.short(getattr(exc, "message", "") or str(exc)))
    return exc


def _message_of(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
        if body.get("detail"):
            return str(body["detail"])
    return getattr(exc, "message", "") or str(exc)


def _known_models(endpoint: str, key: str | None) -> list[str]:
    try:
        return [m.id for m in list_models(endpoint, key, timeout=5.0)]
    except Exception:
        return []


class _Reader:
    """Opens the stream and reads it on its own thread; the engine takes the pieces from ``inbox``.

    :meth:`close` (Stop) closes the HTTP response from the engine's thread and returns at once.
    """

    def __init__(self, client, kwargs: dict, *, raw: bool = False) -> None:
        self.client, self.kwargs = client, kwargs
        self.create = client.completions.create if raw else client.chat.completions.create
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.stream = None
        self.closed = False
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="studio-remote-text", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _open(self):
        try:
            return self.create(**self.kwargs)
        except Exception as exc:
            import openai

            options = self.kwargs.get("stream_options")
            if options and isinstance(exc, openai.BadRequestError) and "stream_options" in str(exc):
                self.kwargs = {k: v for k, v in self.kwargs.items() if k != "stream_options"}  # an older server
                return self.create(**self.kwargs)
            raise

    def _run(self) -> None:
        try:
            stream = self._open()
            with self._lock:
                self.stream = stream
                closed = self.closed
            if closed:
                stream.close()
                return
            for chunk in stream:
                self.inbox.put(("chunk", chunk))
            self.inbox.put(("end", None))
        except BaseException as exc:  # handed to the engine's thread
            self.inbox.put(("error", exc))

    def close(self) -> None:
        with self._lock:
            self.closed = True
            stream = self.stream
        if stream is not None:
            try:
                stream.close()
            except Exception:  # already broken: nothing left to close
                pass


def run_remote(request: TextRequest, runtime, cancel: CancelToken) -> Generator[Event, None, TextStats]:
    """Stream a reply from the server at ``request.endpoint``; returns the stats (like the local engine)."""
    url = base_url(request.endpoint)
    key = runtime.key_for(url)
    label = f"{request.model} on {host_of(url)}"
    yield Status(f"Asking {label}…")
    client = make_client(url, key)
    context_max = _context_for(url, key, request.model)
    cancel.check()
    seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
    prompt = {"prompt": request.messages[-1].content} if request.raw else {"messages": build_messages(request)}
    kwargs: dict[str, Any] = dict(
        model=request.model,
        **prompt,  # raw: POST /v1/completions, the text continued as written
        stream=True,
        temperature=request.temperature,
        top_p=request.top_p,
        max_tokens=request.max_new_tokens,
        seed=seed,
        stream_options={"include_usage": True},
    )
    if request.stop:
        kwargs["stop"] = list(request.stop)
    parts: list[str] = []
    count = 0
    usage = None
    first_token_s = None
    finish = ""
    failure: BaseException | None = None
    last_progress = float("-inf")
    t0 = time.perf_counter()
    reader = _Reader(client, kwargs, raw=request.raw)
    reader.start()
    try:
        while True:
            if cancel.cancelled:
                reader.close()
                break
            try:
                what, item = reader.inbox.get(timeout=0.05)
            except queue.Empty:
                continue
            if what == "end":
                break
            if what == "error":
                failure = item
                break
            chunk = item
            if getattr(chunk, "usage", None) is not None:
                usage = chunk.usage
            for choice in chunk.choices or ():
                if choice.finish_reason:
                    finish = choice.finish_reason
                if request.raw:
                    piece = getattr(choice, "text", None)
                else:
                    piece = getattr(choice.delta, "content", None) if choice.delta is not None else None
                if not piece:
                    continue
                now = time.perf_counter()
                if first_token_s is None:
                    first_token_s = now - t0
                count += 1
                parts.append(piece)
                yield Token(piece, count, count / max(now - t0, 1e-6), count, context_max)
                if now - last_progress >= 0.1:
                    last_progress = now
                    yield Progress(count, request.max_new_tokens, "generate")
    finally:
        reader.close()
    elapsed = time.perf_counter() - t0
    text = "".join(parts)
    stopped = cancel.cancelled
    if failure is not None and not stopped:
        error = translate(failure, url, request.model, key)
        if not text:  # nothing came: the request itself failed
            raise error
        failure = _cut_off(error, url)

    # the server's own counts where it reports them
    tokens = getattr(usage, "completion_tokens", None) or count
    prompt_tokens = getattr(usage, "prompt_tokens", None) or 0
    stats = TextStats(
        seconds=elapsed,
        load_seconds=0.0,
        device=f"server · {host_of(url)}",
        seed=seed,
        model=request.model,
        tokens=tokens,
        first_token_seconds=first_token_s or 0.0,
        prompt_tokens=prompt_tokens,
        context_max=context_max,
        stopped=stopped,
    )
    if usage is not None and parts:  # the final readout with the server's counts
        yield Token("", tokens, stats.tokens_per_s, stats.context_used, context_max)
    if finish == "length":
        yield Notice(f"The reply reached the {request.max_new_tokens}-token limit (max new tokens).")
    params = reply_params(request, request.model, label, text, stats, seed, endpoint=url)
    if text or not stopped:
        yield Output("text", text, params)
    if failure is not None:
        raise failure
    if stopped:
        raise Cancelled()
    return stats


def _cut_off(error: BaseException, url: str) -> BaseException:
    """A failure after part of the reply arrived: the partial reply is kept (saved), the message says so."""
    if isinstance(error, ServerError) and error.status == 0 and "did not answer" in str(error):
        return ServerError(f"{error} The partial reply was kept.", status=0)
    return errs.died_mid_reply(url, kept=True)


def _context_for(url: str, key: str | None, model: str) -> int:
    """The model's context as ``GET /v1/models`` reports it (0 when it does not, or cannot answer quickly)."""
    try:
        models = list_models(url, key, timeout=min(3.0, READ_TIMEOUT_S))
    except Exception:
        return 0  # the chat request itself says what is wrong
    for m in models:
        if m.id == model:
            return m.context
    return 0
