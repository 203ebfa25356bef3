"""The text engine on transformers, with a tiny Llama built from a config: streaming, seeds, cancel, context,
errors (GGUF files on llama.cpp: tests/test_text_llama.py)."""

from __future__ import annotations

import json

import pytest

from studio.engines.base import CancelToken, Runtime
from studio.engines.text import TextEngine
from studio.errors import Cancelled, InvalidRequest, ModelNotFound, UnsafeModelFile, WrongModelKind
from studio.events import Output, Progress, Token
from studio.requests import ChatMessage, TextRequest
from studio.testing.events import collect


def request(model, text="hello world", **kw) -> TextRequest:
    kw.setdefault("max_new_tokens", 12)
    return TextRequest(messages=(ChatMessage("user", text),), model=model, **kw)


@pytest.fixture
def runtime():
    return Runtime(device="cpu")


def test_tokens_stream_and_reply_is_their_concatenation(tiny_llm, runtime):
    events, stats = collect(TextEngine().run(request(tiny_llm, seed=3), runtime, CancelToken()))
    tokens = [e for e in events if isinstance(e, Token)]
    outputs = [e for e in events if isinstance(e, Output)]
    assert stats.tokens == 12
    # one event per generated token (plus possibly a final flush of held-back bytes)
    assert sorted(set(t.count for t in tokens)) == list(range(1, 13))
    assert [t.count for t in tokens] == sorted(t.count for t in tokens)
    assert outputs and outputs[0].data == "".join(t.text for t in tokens)
    assert outputs[0].params["seed"] == 3
    assert tokens[-1].context_used == stats.prompt_tokens + 12
    assert tokens[-1].context_max == 256
    assert any(isinstance(e, Progress) for e in events)


def test_same_seed_same_text_different_seed_differs(tiny_llm, runtime):
    def reply(seed):
        events, _ = collect(TextEngine().run(request(tiny_llm, seed=seed, temperature=1.5, top_k=0), runtime, CancelToken()))
        return next(e for e in events if isinstance(e, Output)).data

    first = reply(7)
    assert reply(7) == first
    assert any(reply(s) != first for s in (8, 9, 10))


def test_matches_raw_generate_greedy(tiny_llm, runtime):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    events, _ = collect(TextEngine().run(request(tiny_llm, temperature=0, repetition_penalty=1.0), runtime, CancelToken()))
    ours = next(e for e in events if isinstance(e, Output)).data
    tok = AutoTokenizer.from_pretrained(tiny_llm)
    model = AutoModelForCausalLM.from_pretrained(tiny_llm)
    enc = tok.apply_chat_template(
        [{"role": "user", "content": "hello world"}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**enc, max_new_tokens=12, do_sample=False, eos_token_id=None, pad_token_id=tok.pad_token_id)
    assert ours == tok.decode(out[0][enc["input_ids"].shape[1] :], skip_special_tokens=True)


def test_cancel_stops_within_one_token_and_keeps_partial_reply(tiny_llm, runtime):
    cancel = CancelToken()
    seen = []

    def on_event(ev):
        if isinstance(ev, Token):
            seen.append(ev)
            if ev.count == 3:
                cancel.cancel()

    gen = TextEngine().run(request(tiny_llm, max_new_tokens=200, seed=1), runtime, cancel)
    with pytest.raises(Cancelled):
        collect(gen, on_event)
    # generation stops at the next token boundary: at most one more token after the request
    assert 3 <= seen[-1].count <= 5


def test_partial_reply_is_output_before_cancel(tiny_llm, runtime):
    cancel = CancelToken()
    outputs = []

    def on_event(ev):
        if isinstance(ev, Token) and ev.count == 2:
            cancel.cancel()
        if isinstance(ev, Output):
            outputs.append(ev)

    with pytest.raises(Cancelled):
        collect(TextEngine().run(request(tiny_llm, max_new_tokens=100), runtime, cancel), on_event)
    assert len(outputs) == 1 and outputs[0].params["stats"]["stopped"] is True


def test_long_history_is_trimmed_to_context(tiny_llm, runtime):
    history = []
    for i in range(40):
        history += [ChatMessage("user", "the quick brown fox jumps " * 2), ChatMessage("assistant", "over the lazy dog " * 2)]
    req = TextRequest(messages=tuple(history + [ChatMessage("user", "hello")]), model=tiny_llm, max_new_tokens=8)
    events, stats = collect(TextEngine().run(req, runtime, CancelToken()))
    assert any("oldest message" in getattr(e, "message", "") for e in events)
    assert stats.context_used <= 256


def test_single_message_too_long_is_a_clear_error(tiny_llm, runtime):
    req = request(tiny_llm, text="hello world " * 400, max_new_tokens=8)
    with pytest.raises(InvalidRequest, match="too long"):
        collect(TextEngine().run(req, runtime, CancelToken()))


def test_model_is_cached_between_jobs(tiny_llm, runtime):
    collect(TextEngine().run(request(tiny_llm), runtime, CancelToken()))
    assert len(runtime.cache) == 1
    _events, stats = collect(TextEngine().run(request(tiny_llm), runtime, CancelToken()))
    assert stats.load_seconds < 0.05


def test_pickled_only_model_is_refused(tiny_llm, tmp_path, runtime):
    import shutil

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_llm, folder)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(UnsafeModelFile, match="safetensors"):
        collect(TextEngine().run(request(str(folder)), runtime, CancelToken()))


def test_missing_and_wrong_kind_models(tmp_path, runtime):
    with pytest.raises(ModelNotFound):
        collect(TextEngine().run(request(str(tmp_path / "nope.gguf")), runtime, CancelToken()))
    diffusers_folder = tmp_path / "pipe"
    diffusers_folder.mkdir()
    (diffusers_folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(WrongModelKind, match="image model"):
        collect(TextEngine().run(request(str(diffusers_folder)), runtime, CancelToken()))


def test_request_validation_messages():
    with pytest.raises(InvalidRequest, match="empty"):
        TextRequest(messages=(ChatMessage("user", "   "),)).validate()
    with pytest.raises(InvalidRequest, match="temperature"):
        TextRequest(messages=(ChatMessage("user", "hi"),), temperature=9).validate()
    with pytest.raises(InvalidRequest, match="max new tokens"):
        TextRequest(messages=(ChatMessage("user", "hi"),), max_new_tokens=0).validate()
    with pytest.raises(InvalidRequest, match="too long"):
        TextRequest(messages=(ChatMessage("user", "x" * 200_001),)).validate()
