"""Text engine: chat with a GGUF file (llama.cpp) or any transformers causal LM (hub id, folder), or with
a model on an OpenAI-compatible server (a request with an ``endpoint``: :mod:`studio.engines.remote.openai_text`).

:class:`TextEngine` loads the model on the runtime that fits its format — ``.gguf`` files on
llama.cpp (:mod:`studio.engines.text_llama`), safetensors models on transformers (this module) —
and hands the loaded :class:`~studio.engines.text_common.ChatModel` to the shared
:func:`~studio.engines.text_common.reply`. On transformers, ``model.generate`` runs on the
runtime's compute thread and a streamer hands each token's ids back; a StoppingCriteria that reads
the cancel token stops generation within one token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

from ..cancel import CancelToken
from ..errors import InvalidRequest, UnsafeModelFile
from ..events import Event, Notice, Status
from ..models.device import DeviceChoice
from ..models.formats import check_config
from ..models.resolve import ResolvedModel
from ..requests import TextRequest
from .base import Runtime
from .preflight import preflight_text
from .text_common import FALLBACK_TEMPLATE, ChatModel, reply


def load_text_model(model: ResolvedModel, choice: DeviceChoice) -> tuple[Any, Any]:
    """(model, tokenizer) on ``choice``; safetensors only, no remote code."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = model.path
    if model.format != "transformers":
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

    def __init__(self, emit: Callable[[list[int]], None]) -> None:
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


def encode_chat(tokenizer, messages: list[dict]):
    """Token ids (1 × n tensor) of ``messages`` in the model's own chat template."""
    template = None if getattr(tokenizer, "chat_template", None) else FALLBACK_TEMPLATE
    encoded = tokenizer.apply_chat_template(
        messages,
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
        chat_template=template,
    )
    return encoded["input_ids"]



class TransformersChat:
    """A transformers causal LM and its tokenizer, behind the :class:`ChatModel` contract."""

    def __init__(self, lm, tokenizer, choice: DeviceChoice) -> None:
        self.lm, self.tokenizer = lm, tokenizer
        self.context_max = context_limit(lm, tokenizer)
        self.device = choice.label()

    def encode(self, messages: list[dict], cancel: CancelToken | None = None) -> list[int]:
        return encode_chat(self.tokenizer, messages)[0].tolist()

    def encode_text(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=True)["input_ids"])

    def decoder(self) -> _IncrementalDecoder:
        return _IncrementalDecoder(self.tokenizer)

    def generate(self, prompt, request: TextRequest, seed: int, max_new: int, emit, cancel: CancelToken) -> None:
        import torch
        from transformers import StoppingCriteriaList

        tok = self.tokenizer
        input_ids = torch.tensor([prompt], device=self.lm.device)
        sampling = request.temperature > 0
        kwargs: dict[str, Any] = dict(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new,
            do_sample=sampling,
            repetition_penalty=request.repetition_penalty,
            pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
            streamer=_TokenStreamer(emit),
            stopping_criteria=StoppingCriteriaList([_StopOnCancel(cancel)]),
        )
        if sampling:
            kwargs.update(temperature=request.temperature, top_p=request.top_p, top_k=request.top_k or None)
        else:  # greedy: silence the model's sampling defaults
            kwargs.update(temperature=None, top_p=None, top_k=None)
        torch.manual_seed(seed)
        with torch.inference_mode():
            self.lm.generate(**kwargs)


def load_transformers(
    model: ResolvedModel, request: TextRequest, runtime: Runtime, cancel: CancelToken | None = None
) -> Generator[Event, None, ChatModel]:
    yield Status(f"Loading {model.label}…")
    (lm, tokenizer), choice, notice = runtime.load(model, lambda c: load_text_model(model, c))
    if notice:
        yield Notice(notice)
    return TransformersChat(lm, tokenizer, choice)


class TextEngine:
    kind = "text"
    preflight = staticmethod(preflight_text)

    def run(self, request: TextRequest, runtime: Runtime, cancel: CancelToken) -> Generator[Event, None, dict]:
        self.preflight(request)
        if request.endpoint:  # a model on an OpenAI-compatible server
            from .remote.openai_text import run_remote

            return (yield from run_remote(request, runtime, cancel))
        model = runtime.resolve(request.model, "text")
        cancel.check()
        if model.format == "gguf":
            from .text_llama import load_llama as load
        else:
            load = load_transformers
        t_load = time.perf_counter()
        chat = yield from load(model, request, runtime, cancel)
        load_s = time.perf_counter() - t_load
        cancel.check()
        return (yield from reply(chat, model, request, runtime, cancel, load_s))
