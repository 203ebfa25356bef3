"""Text engine: chat with any transformers causal LM (hub id, folder) or a GGUF file.

``model.generate`` runs on the runtime's compute thread (:meth:`~studio.engines.compute.ComputeThread.stream`)
and streams token ids to this generator, which decodes them and yields :class:`~studio.events.Token`
events. A StoppingCriteria that reads the cancel token stops generation within one token. GGUF files are dequantized by transformers once,
then cached as safetensors (see :mod:`studio.models.gguf`), so later cold loads are fast.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Generator
from typing import Any

from ..errors import Cancelled, InvalidRequest, UnsafeModelFile
from ..events import Event, Notice, Output, Progress, Status, Token
from ..models.device import DeviceChoice
from ..models.gguf import is_converted
from ..models.formats import check_config
from ..models.resolve import ResolvedModel
from ..requests import TextRequest
from .base import CancelToken, Runtime

log = logging.getLogger(__name__)

_FALLBACK_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] | capitalize }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


def load_text_model(model: ResolvedModel, choice: DeviceChoice) -> tuple[Any, Any]:
    """(model, tokenizer) on ``choice``; safetensors only, no remote code."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = model.path
    if model.format == "gguf":
        from ..models.gguf import converted_folder

        folder = converted_folder(model.path)
    elif model.format != "transformers":
        raise InvalidRequest(f"'{model.label}' ({model.format}) is not a text model.")
    if not any(folder.glob("*.safetensors")):
        if any(folder.glob("*.bin")) or any(folder.glob("*.pt")):
            raise UnsafeModelFile(
                f"'{model.label}' only has pickled weights (.bin/.pt), which can run code when loaded. "
                "Studio loads .safetensors only: pick a safetensors version of this model.",
                folder,
            )
        raise InvalidRequest(f"'{model.label}' has no weights (.safetensors) in {folder}.")
    check_config(folder, model.label)  # a damaged config.json: one line, before transformers reads it
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    lm = AutoModelForCausalLM.from_pretrained(
        folder, dtype=choice.torch_dtype(), use_safetensors=True, trust_remote_code=False
    )
    lm.to(choice.device).eval()
    return lm, tokenizer


class _TokenStreamer:
    """A transformers streamer (BaseStreamer protocol) that only hands token ids on.

    It runs on the compute thread, so it does as little as possible; decoding happens on the
    engine's thread (:class:`_IncrementalDecoder`), in parallel with the next forward pass.
    """

    def __init__(self, emit) -> None:
        self.emit = emit
        self.prompt_seen = False

    def put(self, value) -> None:
        if not self.prompt_seen:  # the first call carries the prompt
            self.prompt_seen = True
            return
        self.emit(value.reshape(-1).tolist())

    def end(self) -> None:
        pass


class _IncrementalDecoder:
    """Turns a stream of token ids into text pieces, holding back incomplete UTF-8 sequences."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.cache: list[int] = []
        self.printed = 0
        self.count = 0

    def push(self, ids: list[int]) -> str:
        self.count += len(ids)
        self.cache.extend(ids)
        text = self.tokenizer.decode(self.cache, skip_special_tokens=True)
        if text.endswith("\ufffd"):  # an incomplete multi-byte character: wait for the next token
            return ""
        new = text[self.printed :]
        if text.endswith("\n"):  # start over at line ends so decoding stays cheap
            self.cache, self.printed = [], 0
        else:
            self.printed = len(text)
        return new

    def flush(self) -> str:
        if not self.cache:
            return ""
        text = self.tokenizer.decode(self.cache, skip_special_tokens=True)
        self.cache = []
        return text[self.printed :]


class _StopOnCancel:
    """StoppingCriteria: True (stop) for every sequence once the cancel token is set."""

    def __init__(self, cancel: CancelToken) -> None:
        self.cancel = cancel

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.cancel.cancelled, dtype=torch.bool, device=input_ids.device)


def context_limit(lm, tokenizer) -> int:
    cfg = lm.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", 0)
    return limit if isinstance(limit, int) and 0 < limit < 10**7 else 2048


def build_messages(request: TextRequest) -> list[dict]:
    messages = [{"role": m.role, "content": m.content} for m in request.messages if m.role != "system"]
    system = request.system_prompt.strip()
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return messages


def encode_chat(tokenizer, messages: list[dict]):
    """Token ids (1 × n tensor) of ``messages`` in the model's own chat template."""
    template = None if getattr(tokenizer, "chat_template", None) else _FALLBACK_TEMPLATE
    encoded = tokenizer.apply_chat_template(
        messages,
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
        chat_template=template,
    )
    return encoded["input_ids"]


def fit_context(tokenizer, messages: list[dict], budget: int) -> tuple[Any, int]:
    """Drop the oldest turns (never the system prompt or the last message) until the prompt fits."""
    dropped = 0
    ids = encode_chat(tokenizer, messages)
    while ids.shape[-1] > budget:
        first = 1 if messages and messages[0]["role"] == "system" else 0
        if len(messages) - first <= 1:
            raise InvalidRequest(
                f"The message is too long for this model: {ids.shape[-1]:,} tokens, and the model holds "
                f"{budget:,} with room for the reply. Shorten it or lower max new tokens."
            )
        del messages[first]
        dropped += 1
        ids = encode_chat(tokenizer, messages)
    return ids, dropped


class TextEngine:
    kind = "text"

    def run(self, request: TextRequest, runtime: Runtime, cancel: CancelToken) -> Generator[Event, None, dict]:
        import torch

        # 1. Resolve and load (cached across jobs).
        model = runtime.resolve(request.model, "text")
        cancel.check()
        if model.format == "gguf" and not is_converted(model.path):
            yield Status(f"Converting {model.label} for fast loading (first time only, about a minute)…")
        else:
            yield Status(f"Loading {model.label}…")
        t_load = time.perf_counter()
        (lm, tokenizer), choice, notice = runtime.load(model, lambda c: load_text_model(model, c))
        load_s = time.perf_counter() - t_load
        if notice:
            yield Notice(notice)
        cancel.check()

        # 2. Prompt in the model's chat template, trimmed to its context.
        limit = context_limit(lm, tokenizer)
        messages = build_messages(request)
        reserve = min(request.max_new_tokens, limit // 2)  # room kept for the reply when trimming
        input_ids, dropped = fit_context(tokenizer, messages, limit - reserve)
        max_new = min(request.max_new_tokens, limit - int(input_ids.shape[-1]))
        if dropped:
            yield Notice(f"Left out the {dropped} oldest message(s) to fit the model's {limit:,}-token context.")
        input_ids = input_ids.to(lm.device)
        prompt_len = int(input_ids.shape[-1])

        # 3. Generate on the runtime's compute thread; its token ids stream back here.
        seed = request.seed if request.seed is not None else secrets.randbelow(2**32)
        sampling = request.temperature > 0
        kwargs: dict[str, Any] = dict(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new,
            do_sample=sampling,
            repetition_penalty=request.repetition_penalty,
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
        )
        if sampling:
            kwargs.update(temperature=request.temperature, top_p=request.top_p, top_k=request.top_k or None)
        else:  # greedy: silence the model's sampling defaults
            kwargs.update(temperature=None, top_p=None, top_k=None)
        from transformers import StoppingCriteriaList

        kwargs["stopping_criteria"] = StoppingCriteriaList([_StopOnCancel(cancel)])

        def work(emit) -> None:  # on the compute thread
            torch.manual_seed(seed)
            with torch.inference_mode():
                lm.generate(**kwargs, streamer=_TokenStreamer(emit))

        yield Status("Generating…")

        decoder = _IncrementalDecoder(tokenizer)
        parts: list[str] = []
        first_token_s = None
        t0 = time.perf_counter()
        last_progress = float("-inf")
        try:
            for ids in runtime.compute.stream(work, cancel):
                piece = decoder.push(ids)
                if first_token_s is None:
                    first_token_s = time.perf_counter() - t0
                parts.append(piece)
                count = decoder.count
                now = time.perf_counter()
                yield Token(piece, count, count / max(now - t0, 1e-6), prompt_len + count, limit)
                if now - last_progress >= 0.1:  # Token carries the count; progress bars need ≤ 10 Hz
                    last_progress = now
                    yield Progress(count, max_new, "generate")
        except Cancelled:
            pass  # stopped: the partial reply is still saved below
        tail = decoder.flush()
        if tail:
            parts.append(tail)
            yield Token(tail, decoder.count, decoder.count / max(time.perf_counter() - t0, 1e-6),
                        prompt_len + decoder.count, limit)
        elapsed = time.perf_counter() - t0
        count = decoder.count
        reply = "".join(parts)

        # 4. Hand the reply (also a partial one after Stop) to the worker, which saves it.
        stats = {
            "tokens": count,
            "tokens_per_s": count / elapsed if elapsed > 0 else 0.0,
            "seconds": elapsed,
            "first_token_s": first_token_s or 0.0,
            "load_s": load_s,
            "prompt_tokens": prompt_len,
            "context_used": prompt_len + count,
            "context_max": limit,
            "device": choice.label(),
            "stopped": cancel.cancelled,
            "seed": seed,
        }
        params = {
            **request.to_dict(),
            "seed": seed,
            "model": model.id,
            "model_name": model.label,
            "reply": reply,
            "stats": stats,
        }
        if request.conversation_id:
            history = [{"role": m.role, "content": m.content} for m in request.messages]
            params["conversation"] = {
                "id": request.conversation_id,
                "title": request.messages[0].content[:60] if request.messages else "",
                "system_prompt": request.system_prompt,
                "model": model.id,
                "messages": history + [{"role": "assistant", "content": reply}],
            }
        if reply or not cancel.cancelled:  # stopped before the first token: nothing worth saving
            yield Output("text", reply, params)
        if cancel.cancelled:
            raise Cancelled()
        return stats
