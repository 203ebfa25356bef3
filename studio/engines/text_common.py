"""What the two text runtimes share: the chat contract and everything after loading.

A runtime loads a :class:`ChatModel` (transformers in :mod:`studio.engines.text`, llama.cpp in
:mod:`studio.engines.text_llama`). From there on :func:`reply` does the same for both: the prompt
in the model's chat template, trimmed to its context (oldest turns first, never the system prompt
or the new message); the seed; the blocking generate call on the runtime's compute thread with its
token ids streamed back as :class:`~studio.events.Token` events; Stop (the model's ``generate``
checks the cancel token every token; :meth:`~studio.engines.compute.ComputeThread.stream` hands the ids back);
the stats and the reply handed to the worker to save.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Generator
from functools import partial
from typing import Protocol

from ..cancel import CancelToken
from ..errors import Cancelled, InvalidRequest
from ..events import Event, Notice, Output, Progress, Status, TextStats, Token
from ..models.resolve import ResolvedModel
from ..requests import TextRequest
from .base import Runtime

#: The chat layout for models whose files carry no chat template (base models, old conversions).
FALLBACK_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] | capitalize }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


class Decoder(Protocol):
    """Token ids in, text out, holding back incomplete UTF-8 sequences."""

    count: int  # tokens pushed so far

    def push(self, ids: list[int]) -> str: ...

    def flush(self) -> str: ...


class ChatModel(Protocol):
    """A loaded text model on one runtime."""

    context_max: int  # tokens the model holds, prompt and reply together
    device: str  # where it runs, for the stats ('cpu · float32', 'llama.cpp · CPU, 2 threads · Q4_1')

    def encode(self, messages: list[dict], cancel: CancelToken | None = None) -> list[int]:
        """Token ids of ``messages`` in the model's chat template, ending with the assistant's turn
        (a template that runs long stops once ``cancel`` is set)."""

    def encode_text(self, text: str) -> list[int]:
        """Token ids of ``text`` as written (a raw continuation), with the model's BOS where it wants one."""

    def decoder(self) -> Decoder: ...

    def generate(
        self,
        prompt: list[int],
        request: TextRequest,
        seed: int,
        max_new: int,
        emit: Callable[[list[int]], None],
        cancel: CancelToken,
    ) -> None:
        """Blocking; runs on the compute thread. Calls ``emit`` with the ids of every new token and
        returns at the end of the reply, after ``max_new`` tokens, or within one token of ``cancel``."""


class HaltToken(CancelToken):
    """The job's cancel token, or a halt of its own (a stop sequence reached): what the model checks."""

    def __init__(self, job: CancelToken) -> None:
        super().__init__()
        self.job = job

    def halt(self) -> None:
        super().cancel()

    def cancel(self) -> None:  # an early close of the stream: the job's own cancel
        self.job.cancel()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set() or self.job.cancelled

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled()


class StopWatcher:
    """Cuts the streamed reply at the first stop sequence. Text that may be the start of one is held back
    until the next piece tells (so no part of a stop sequence is ever shown)."""

    def __init__(self, stops) -> None:
        self.stops = [s for s in stops if s]
        self.pending = ""
        self.hit = False

    def feed(self, piece: str) -> str:
        """The part of ``piece`` (with what was held back) that is safe to show now."""
        if not self.stops or self.hit:
            return "" if self.hit else piece
        text = self.pending + piece
        found = [i for i in (text.find(s) for s in self.stops) if i >= 0]
        if found:
            self.hit, self.pending = True, ""
            return text[: min(found)]
        hold = 0
        for stop in self.stops:
            for k in range(min(len(stop) - 1, len(text)), 0, -1):
                if text.endswith(stop[:k]):
                    hold = max(hold, k)
                    break
        self.pending = text[len(text) - hold:] if hold else ""
        return text[: len(text) - hold]

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        return out


def build_messages(request: TextRequest) -> list[dict]:
    messages = [{"role": m.role, "content": m.content} for m in request.messages if m.role != "system"]
    system = request.system_prompt.strip()
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return messages


def too_long(tokens: int, budget: int) -> str:
    return (f"The message is too long for this model: {tokens:,} tokens, and the model holds {budget:,} with room "
            "for the reply. Shorten it or lower max new tokens.")


def fit_context(encode: Callable[[list[dict]], list[int]], messages: list[dict], budget: int) -> tuple[list[int], int]:
    """Drop the oldest turns (never the system prompt or the last message) until the prompt fits."""
    dropped = 0
    ids = encode(messages)
    while len(ids) > budget:
        first = 1 if messages and messages[0]["role"] == "system" else 0
        if len(messages) - first <= 1:
            raise InvalidRequest(too_long(len(ids), budget))
        del messages[first]
        dropped += 1
        ids = encode(messages)
    return ids, dropped


def reply(
    chat: ChatModel, model: ResolvedModel, request: TextRequest, runtime: Runtime, cancel: CancelToken, load_s: float
) -> Generator[Event, None, TextStats]:
    """Prompt, generate, stream and hand over the reply of a loaded model; returns the stats."""
    # 1. The prompt in the model's chat template, trimmed to its context (or, raw, the text as written).
    limit = chat.context_max
    reserve = min(request.max_new_tokens, limit // 2)  # room kept for the reply when trimming
    if request.raw:
        prompt, dropped = chat.encode_text(request.messages[-1].content), 0
        if len(prompt) > limit - reserve:
            raise InvalidRequest(too_long(len(prompt), limit - reserve))
    else:
        messages = build_messages(request)
        prompt, dropped = fit_context(partial(chat.encode, cancel=cancel), messages, limit - reserve)
    max_new = min(request.max_new_tokens, limit - len(prompt))
    if dropped:
        yield Notice(f"Left out the {dropped} oldest message(s) to fit the model's {limit:,}-token context.")
    prompt_len = len(prompt)
    seed = request.seed if request.seed is not None else secrets.randbelow(2**32)
    yield Status("Generating…")

    # 2. Generate on the compute thread; decode and stream here.
    decoder = chat.decoder()
    parts: list[str] = []
    first_token_s = None
    last_progress = float("-inf")
    t0 = time.perf_counter()

    stops = StopWatcher(request.stop)
    halt = HaltToken(cancel)  # Stop, or a stop sequence reached: the model stops either way

    def work(emit) -> None:
        chat.generate(prompt, request, seed, max_new, emit, halt)

    try:
        for ids in runtime.compute.stream(work, halt):
            piece = stops.feed(decoder.push(ids))
            if stops.hit:
                halt.halt()
            now = time.perf_counter()
            if first_token_s is None:
                first_token_s = now - t0
            parts.append(piece)
            count = decoder.count
            yield Token(piece, count, count / max(now - t0, 1e-6), prompt_len + count, limit)
            if now - last_progress >= 0.1:  # Token carries the count; progress bars need ≤ 10 Hz
                last_progress = now
                yield Progress(count, max_new, "generate")
    except Cancelled:
        pass  # stopped: the partial reply is still saved below
    tail = "" if stops.hit else stops.feed(decoder.flush()) + stops.flush()
    if tail:
        parts.append(tail)
        yield Token(tail, decoder.count, decoder.count / max(time.perf_counter() - t0, 1e-6),
                    prompt_len + decoder.count, limit)
    elapsed = time.perf_counter() - t0
    count = decoder.count
    text = "".join(parts)
    context_full = not cancel.cancelled and max_new < request.max_new_tokens and count >= max_new
    if context_full:  # not the reply's natural end: say so, or a cut reply reads as a whole one
        yield Notice(
            f"The reply stopped because the context is full ({prompt_len + count:,} of {limit:,} tokens): "
            "start a new conversation or leave out earlier messages to go on."
        )

    # 3. Hand the reply (also a partial one after Stop) to the worker, which saves it.
    stats = TextStats(
        seconds=elapsed,
        load_seconds=load_s,
        device=chat.device,
        seed=seed,
        model=model.id,
        tokens=count,
        first_token_seconds=first_token_s or 0.0,
        prompt_tokens=prompt_len,
        context_max=limit,
        stopped=cancel.cancelled,
        context_full=context_full,
    )
    params = reply_params(request, model.id, model.label, text, stats, seed)
    if text or not cancel.cancelled:  # stopped before the first token: nothing worth saving
        yield Output("text", text, params)
    if cancel.cancelled:
        raise Cancelled()
    return stats


def reply_params(request, model_id: str, label: str, text: str, stats: TextStats, seed, endpoint: str = "") -> dict:
    """What a reply is saved with, local or remote: the whole request, the model (and the server it ran on),
    the reply, its stats, and the conversation it continues (its messages plus this reply)."""
    served = {"endpoint": endpoint} if endpoint else {}
    params = {
        **request.to_dict(),
        "seed": seed,
        "model": model_id,
        "model_name": label,
        **served,
        "reply": text,
        "stats": stats.to_dict(),
    }
    if request.conversation_id:
        history = [{"role": m.role, "content": m.content} for m in request.messages]
        params["conversation"] = {
            "id": request.conversation_id,
            "title": request.messages[0].content[:60] if request.messages else "",
            "system_prompt": request.system_prompt,
            "model": model_id,
            **served,
            "messages": history + [{"role": "assistant", "content": text}],
        }
    return params
