"""GGUF text models on llama.cpp, through the public text engine: a tiny Llama written as GGUF by a
fixture (tests/tiny_gguf.py), and the bundled SmolLM2 where a real model is needed."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from studio.engines.base import CancelToken, Runtime
from studio.engines.text import TextEngine
from studio.errors import Cancelled, InvalidRequest, ModelNotFound, OutOfMemory
from studio.events import Notice, Output, Progress, Status, Token
from studio.requests import ChatMessage, TextRequest
from studio.testing.tiny_llm import train_tiny_tokenizer
from studio.testing.events import collect
from tests.tiny_gguf import build_tiny_gguf

llama_cpp = pytest.importorskip("llama_cpp")


def request(model, text="hello world", **kw) -> TextRequest:
    kw.setdefault("max_new_tokens", 12)
    kw.setdefault("threads", 1)
    return TextRequest(messages=(ChatMessage("user", text),), model=model, **kw)


@pytest.fixture
def runtime():
    return Runtime(device="cpu")


def reply_of(events) -> str:
    return next(e for e in events if isinstance(e, Output)).data


def test_tokens_stream_and_reply_is_their_concatenation(tiny_gguf, runtime):
    events, stats = collect(TextEngine().run(request(tiny_gguf, seed=3), runtime, CancelToken()))
    tokens = [e for e in events if isinstance(e, Token)]
    assert stats.tokens == 12
    assert sorted({t.count for t in tokens}) == list(range(1, 13))
    assert reply_of(events) == "".join(t.text for t in tokens)
    assert tokens[-1].context_used == stats.prompt_tokens + 12
    assert tokens[-1].context_max == 256  # the file's trained context
    assert stats.tokens_per_s > 0 and "llama.cpp" in stats.device and "1 thread" in stats.device
    assert any(isinstance(e, Progress) for e in events)
    assert not (Path(os.environ["STUDIO_HOME"]) / "cache" / "gguf").exists()  # nothing converted


def test_raw_continuation_equals_llama_cpps_create_completion_and_the_cli_offers_it(tiny_gguf, runtime, capsys):
    """``raw``: the text as written, no chat template, as llama_cpp's ``create_completion`` continues it;
    ``studio generate text --raw`` runs the same request."""
    from studio.cli import main

    text = "hello world, hello"
    events, stats = collect(TextEngine().run(request(tiny_gguf, text, temperature=0, seed=5, raw=True), runtime,
                                             CancelToken()))
    raw = llama_cpp.Llama(model_path=tiny_gguf, n_ctx=256, n_threads=1, seed=5, verbose=False)
    try:
        # create_completion's prompt: the text tokenized as written, special tokens parsed, BOS if the vocab adds one
        direct = raw.create_completion(text, max_tokens=1, temperature=0.0, seed=5)
        raw.reset()
        ids = raw.tokenize(text.encode(), add_bos=raw._model.add_bos_token(), special=True)
        out = []
        for token in raw.generate(ids, temp=0, repeat_penalty=TextRequest.repetition_penalty):
            out.append(token)
            if len(out) == 12:
                break
        expected = raw.detokenize(out).decode("utf-8", errors="ignore")
    finally:
        raw.close()
    # (the comparison with create_completion's own text is on the bundled model, in test_serve.py: random
    # weights here write stray bytes, and create_completion runs past max_tokens to finish a UTF-8 sequence)
    reply = reply_of(events)
    assert stats.prompt_tokens == direct["usage"]["prompt_tokens"] == len(ids)  # no template around it
    assert reply.replace("\ufffd", "") == expected and stats.tokens == 12
    code = main(["generate", "text", "--raw", "--model", tiny_gguf, "--prompt", text, "--max-new-tokens", "12",
                 "--temperature", "0", "--seed", "5", "--threads", "1", "--no-library", "--quiet"])
    assert code == 0 and capsys.readouterr().out == reply + "\n"
    with pytest.raises(InvalidRequest, match="raw continuation takes one text and no system prompt"):
        request(tiny_gguf, raw=True, system_prompt="be brief").validate()


def test_greedy_reply_equals_raw_llama_cpp_with_the_files_chat_template(tiny_gguf, runtime):
    events, stats = collect(
        TextEngine().run(request(tiny_gguf, temperature=0, repetition_penalty=1.0), runtime, CancelToken())
    )
    raw = llama_cpp.Llama(model_path=tiny_gguf, n_ctx=256, n_threads=1, verbose=False)
    prompt = "<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\n"  # the ChatML template in the file
    ids = raw.tokenize(prompt.encode(), add_bos=False, special=True)
    out = []
    for token in raw.generate(ids, temp=0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0):
        out.append(token)
        if len(out) == 12:
            break
    assert stats.prompt_tokens == len(ids)
    assert reply_of(events) == raw.detokenize(out).decode("utf-8", errors="replace")


def test_prompt_follows_the_template_or_the_announced_fallback(tmp_path, tiny_gguf, runtime):
    tok = train_tiny_tokenizer()
    chatml = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\n"
    req = request(tiny_gguf, system_prompt="Be brief.", max_new_tokens=2)
    events, stats = collect(TextEngine().run(req, runtime, CancelToken()))
    assert stats.prompt_tokens == len(tok.encode(chatml).ids)
    assert not [e for e in events if isinstance(e, Notice)]

    plain = build_tiny_gguf(tmp_path / "no-template.gguf", chat_template=None)
    events, stats = collect(TextEngine().run(req.replace(model=plain), runtime, CancelToken()))
    assert stats.prompt_tokens == len(tok.encode("System: Be brief.\nUser: hello world\nAssistant:").ids)
    assert any("no chat template" in e.message for e in events if isinstance(e, Notice))


def test_same_seed_same_reply_different_seeds_differ(tiny_gguf, runtime):
    def reply(seed):
        req = request(tiny_gguf, seed=seed, temperature=1.5, top_k=0, top_p=1.0)
        return reply_of(collect(TextEngine().run(req, runtime, CancelToken()))[0])

    first = reply(7)
    assert reply(7) == first  # the model stays loaded: the second run reuses its KV cache
    assert reply(8) != first or reply(9) != first
    assert reply(7) == first


def test_stop_within_one_token_keeps_the_partial_reply(tiny_gguf, runtime):
    cancel = CancelToken()
    seen, outputs = [], []

    def on_event(ev):
        if isinstance(ev, Token):
            seen.append(ev)
            if ev.count == 3:
                cancel.cancel()
        if isinstance(ev, Output):
            outputs.append(ev)

    with pytest.raises(Cancelled):
        collect(TextEngine().run(request(tiny_gguf, max_new_tokens=200, seed=1), runtime, cancel), on_event)
    assert 3 <= seen[-1].count <= 4
    assert outputs and outputs[0].params["stats"]["stopped"] is True
    assert outputs[0].data == "".join(t.text for t in seen)
    # the model is fine afterwards
    _events, stats = collect(TextEngine().run(request(tiny_gguf, max_new_tokens=3), runtime, CancelToken()))
    assert stats.tokens == 3


def test_end_of_turn_token_ends_the_reply(tmp_path, runtime):
    eager = build_tiny_gguf(tmp_path / "eager.gguf", eos="always")
    events, stats = collect(TextEngine().run(request(eager, temperature=0), runtime, CancelToken()))
    assert stats.tokens == 0 and reply_of(events) == ""


def test_context_overflow_is_a_clear_message_and_history_is_trimmed(tiny_gguf, runtime):
    with pytest.raises(InvalidRequest, match="too long for this model"):
        collect(TextEngine().run(request(tiny_gguf, text="hello world " * 300, max_new_tokens=8), runtime, CancelToken()))
    history = []
    for _ in range(40):
        history += [ChatMessage("user", "the quick brown fox jumps " * 2), ChatMessage("assistant", "over the lazy dog")]
    req = TextRequest(messages=tuple(history + [ChatMessage("user", "hello")]), model=tiny_gguf, max_new_tokens=8, threads=1)
    events, stats = collect(TextEngine().run(req, runtime, CancelToken()))
    assert any("oldest message" in e.message for e in events if isinstance(e, Notice))
    assert stats.context_used <= 256 and stats.tokens == 8


def test_model_stays_loaded_between_jobs_and_first_token_is_quick(tiny_gguf, runtime):
    collect(TextEngine().run(request(tiny_gguf), runtime, CancelToken()))
    events, stats = collect(TextEngine().run(request(tiny_gguf), runtime, CancelToken()))
    assert stats.load_seconds < 0.05 and len(runtime.cache) == 1
    assert not any(isinstance(e, Status) and e.message.startswith("Loading") for e in events)
    assert stats.first_token_seconds < 2.0


def _truncate(src: str, dst: Path, keep: int) -> str:
    return _write(dst, Path(src).read_bytes()[:keep])


def _write(dst: Path, data: bytes) -> str:
    dst.write_bytes(data)
    return str(dst)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda src, d: _truncate(src, d, 0), "truncated"),
        (lambda src, d: _truncate(src, d, 20), "truncated"),
        (lambda src, d: _truncate(src, d, 3000), "truncated"),  # inside the vocabulary
        (lambda src, d: _truncate(src, d, os.path.getsize(src) - 100), "truncated"),  # inside the weights
        (lambda src, d: _write(d, b"GGUF" + b"\x00garbage" * 100), "not a valid GGUF"),
        (lambda src, d: _write(d, b"PK\x03\x04 a zip file" * 10), "not a GGUF model file"),
        (lambda src, d: _write(d, b"GGUF" + struct.pack("<I", 9) + b"\x00" * 40), "version 9"),
    ],
    ids=["empty", "header", "vocabulary", "weights", "garbage", "not-gguf", "future-version"],
)
def test_damaged_files_are_clear_errors_and_the_engine_keeps_working(tiny_gguf, tmp_path, runtime, make, words):
    bad = make(tiny_gguf, tmp_path / "broken.gguf")
    with pytest.raises(ModelNotFound, match=words):
        collect(TextEngine().run(request(bad), runtime, CancelToken()))
    _events, stats = collect(TextEngine().run(request(tiny_gguf, max_new_tokens=2), runtime, CancelToken()))
    assert stats.tokens == 2


def test_a_file_llama_cpp_refuses_is_caught_in_a_child_process(tmp_path, runtime):
    odd = build_tiny_gguf(tmp_path / "odd.gguf", architecture="no-such-arch")
    with pytest.raises(ModelNotFound, match="llama.cpp cannot load 'odd.gguf'.*no-such-arch"):
        collect(TextEngine().run(request(odd), runtime, CancelToken()))
    assert len(runtime.cache) == 0


def test_memory_check_shortens_the_context_then_refuses(tmp_path, runtime, monkeypatch):
    from studio.engines import text_llama
    from studio.models.gguf import read_info

    long = build_tiny_gguf(tmp_path / "long.gguf", context=32768)
    info = read_info(long)
    monkeypatch.setattr(text_llama, "available_ram_bytes", lambda: info.memory_bytes(4096) + 1)
    events, stats = collect(TextEngine().run(request(long, max_new_tokens=2), runtime, CancelToken()))
    assert stats.context_max == 4096
    assert any("Context shortened to 4,096" in e.message for e in events if isinstance(e, Notice))

    runtime.cache.unload()
    monkeypatch.setattr(text_llama, "available_ram_bytes", lambda: info.memory_bytes(2048) - 1)
    with pytest.raises(OutOfMemory, match=r"needs about .* GB of memory .* free"):
        collect(TextEngine().run(request(long, max_new_tokens=2), runtime, CancelToken()))


def test_cpu_only_build_says_so_once_per_load(tiny_gguf):
    from studio.engines.text_llama import gpu_offload_supported

    if gpu_offload_supported():
        pytest.skip("this llama.cpp build can offload to a GPU")
    runtime = Runtime(device="auto")
    events, stats = collect(TextEngine().run(request(tiny_gguf, max_new_tokens=2), runtime, CancelToken()))
    assert [e.message for e in events if isinstance(e, Notice) and "CPU-only" in e.message]
    assert "CPU" in stats.device
    events, _ = collect(TextEngine().run(request(tiny_gguf, max_new_tokens=2), runtime, CancelToken()))
    assert not [e for e in events if isinstance(e, Notice)]  # loaded already: said once
    # asking for no GPU layers (or the CPU device) is not worth a notice
    events, _ = collect(TextEngine().run(request(tiny_gguf, max_new_tokens=2, gpu_layers=0), Runtime(device="auto"), CancelToken()))
    assert not [e for e in events if isinstance(e, Notice)]


def test_request_validates_threads_and_gpu_layers():
    with pytest.raises(InvalidRequest, match="threads"):
        request("", threads=-1).validate()
    with pytest.raises(InvalidRequest, match="GPU layers"):
        request("", gpu_layers=-2).validate()
    request("", threads=0, gpu_layers=-1).validate()


@pytest.mark.slow
def test_bundled_smollm2_answers_on_llama_cpp_without_conversion(runtime):
    req = TextRequest(
        messages=(ChatMessage("user", "What is the capital of France?"),), temperature=0, max_new_tokens=20, threads=1
    )
    events, stats = collect(TextEngine().run(req, runtime, CancelToken()))
    assert "paris" in reply_of(events).lower()
    assert "llama.cpp" in stats.device and "Q4_1" in stats.device
    assert not list(Path(os.environ["STUDIO_HOME"]).rglob("*.safetensors"))  # nothing converted or cached
    # (first-token latency is measured by benchmarks/bench_text.py: a shared CI machine is no stopwatch)
    again, _stats = collect(TextEngine().run(req, runtime, CancelToken()))
    assert reply_of(again) == reply_of(events)


def test_folder_with_several_gguf_files_prefers_q4_k_m(tiny_gguf, tmp_path, runtime):
    folder = tmp_path / "repo"
    folder.mkdir()
    shutil.copy(tiny_gguf, folder / "tiny-Q8_0.gguf")
    build_tiny_gguf(folder / "tiny-Q4_K_M.gguf", chat_template=None)
    events, _ = collect(TextEngine().run(request(str(folder), max_new_tokens=2), runtime, CancelToken()))
    assert any("no chat template" in e.message for e in events if isinstance(e, Notice))  # the Q4_K_M one
