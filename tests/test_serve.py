"""``studio serve``, run as a person runs it (a child process on loopback) and driven by the ``openai``
client: models, chat (streamed or not) against the text engine run here, completions, stop strings,
images, speech, hostile requests (each a 4xx with an OpenAI-style body while the server goes on),
the key, a client that disconnects (its job is cancelled), and 20 concurrent chat streams with image
requests beside them (no reply lost or crossed)."""

from __future__ import annotations

import base64
import concurrent.futures
import io
import json
import os
import time
from pathlib import Path

import pytest

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx2")
pytest.importorskip("fastapi")

from studio.cancel import CancelToken  # noqa: E402
from studio.engines.base import Runtime  # noqa: E402
from studio.engines.text import TextEngine  # noqa: E402
from studio.events import Output  # noqa: E402
from studio.library.store import Library  # noqa: E402
from studio.requests import ChatMessage, TextRequest  # noqa: E402
from studio.testing.events import collect  # noqa: E402
from studio.testing.servers import start_studio_serve  # noqa: E402

KEY = "sk-serve-71c2"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("serve-home")


@pytest.fixture(scope="module")
def served(home):
    env = {"STUDIO_HOME": str(home), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    server = start_studio_serve(home / "serve.log", key=KEY, env=env)
    yield server
    server.stop()
    assert server.process.returncode == 0, server.log.read_text()[-3000:]


@pytest.fixture
def client(served):
    return openai.OpenAI(base_url=served.url, api_key=KEY, max_retries=0, timeout=300)


def library(home: Path) -> Library:
    return Library(home / "library")


def local_reply(model: str, text: str, **kw) -> str:
    request = TextRequest(messages=(ChatMessage("user", text),), model=model, threads=1, **kw)
    events, _ = collect(TextEngine().run(request, Runtime(device="cpu"), CancelToken()))
    return next(e for e in events if isinstance(e, Output)).data


def stream_text(stream) -> tuple[str, str | None, object]:
    parts, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            parts.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    return "".join(parts), finish, usage


def raw(served, method: str, path: str, *, key: str | None = KEY, **kw):
    headers = kw.pop("headers", {})
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.request(method, served.url + path, headers=headers, timeout=120, **kw)


# --- models ---------------------------------------------------------------------------------------------
def test_models_lists_what_this_machine_can_serve(client):
    ids = {m.id: m for m in client.models.list().data}
    assert "smollm2-135m-instruct" in ids and "piper-joe-medium" in ids  # the bundled text model and voice
    assert all(m.owned_by == "studio" for m in ids.values())


# --- text -----------------------------------------------------------------------------------------------
def test_chat_streamed_and_whole_equal_the_text_engine(client, tiny_gguf):
    expected = local_reply(tiny_gguf, "hello world", max_new_tokens=12, temperature=0.0, seed=3)
    kw = dict(model=tiny_gguf, messages=[{"role": "user", "content": "hello world"}], temperature=0.0,
              max_tokens=12, seed=3)
    whole = client.chat.completions.create(**kw)
    assert whole.choices[0].message.content == expected
    assert whole.choices[0].finish_reason == "length" and whole.usage.completion_tokens == 12
    assert whole.model == tiny_gguf and whole.object == "chat.completion"
    text, finish, usage = stream_text(client.chat.completions.create(
        stream=True, stream_options={"include_usage": True}, **kw))
    assert text == expected and finish == "length"
    assert usage.completion_tokens == 12 and usage.prompt_tokens > 0


def test_system_messages_become_the_system_prompt(client, tiny_gguf):
    expected = local_reply(tiny_gguf, "hello world", system_prompt="be brief", max_new_tokens=8, temperature=0.0,
                           seed=1)
    out = client.chat.completions.create(
        model=tiny_gguf, temperature=0.0, max_tokens=8, seed=1,
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello world"}])
    assert out.choices[0].message.content == expected


def test_completions_continue_the_raw_prompt_like_llama_cpps_create_completion(client):
    """/v1/completions means raw continuation (no chat template), token for token what llama_cpp's own
    ``create_completion`` writes on the bundled GGUF with the same seed, greedy."""
    import llama_cpp

    from studio.testing.servers import bundled_gguf

    prompt = "The three primary colours are"
    out = client.completions.create(model="smollm2-135m-instruct", prompt=prompt, temperature=0.0, max_tokens=16,
                                    seed=3)
    llm = llama_cpp.Llama(model_path=str(bundled_gguf()), n_ctx=2048, n_threads=1, seed=3, verbose=False)
    try:
        direct = llm.create_completion(prompt, max_tokens=16, temperature=0.0, seed=3,
                                       repeat_penalty=TextRequest.repetition_penalty)  # Studio's default, as served
        templated = llm.create_chat_completion([{"role": "user", "content": prompt}], max_tokens=16, temperature=0.0,
                                               seed=3, repeat_penalty=TextRequest.repetition_penalty)
    finally:
        llm.close()
    assert out.choices[0].text == direct["choices"][0]["text"]
    assert out.usage.completion_tokens == direct["usage"]["completion_tokens"]
    assert out.usage.prompt_tokens == direct["usage"]["prompt_tokens"]  # no template around the prompt
    assert out.choices[0].text != templated["choices"][0]["message"]["content"]  # not a chat reply
    assert out.object == "text_completion"


def test_completions_stream_and_stop_strings(client, tiny_gguf):
    expected = local_reply(tiny_gguf, "hello world", max_new_tokens=12, temperature=0.0, seed=3, raw=True)
    out = client.completions.create(model=tiny_gguf, prompt="hello world", temperature=0.0, max_tokens=12, seed=3)
    assert out.choices[0].text == expected
    chat = client.chat.completions.create(model=tiny_gguf, messages=[{"role": "user", "content": "hello world"}],
                                          temperature=0.0, max_tokens=12, seed=3)
    assert chat.choices[0].message.content == local_reply(tiny_gguf, "hello world", max_new_tokens=12,
                                                          temperature=0.0, seed=3)  # chat: the template, as before
    streamed = client.completions.create(model=tiny_gguf, prompt="hello world", temperature=0.0, max_tokens=12, seed=3,
                                         stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == expected
    stop = expected.strip()[3:6]
    assert stop and stop in expected
    cut = client.completions.create(model=tiny_gguf, prompt="hello world", temperature=0.0, max_tokens=12, seed=3,
                                    stop=[stop])
    assert cut.choices[0].text == expected[: expected.find(stop)]
    assert cut.choices[0].finish_reason == "stop"
    reply = chat.choices[0].message.content
    stop = reply.strip()[3:6]
    cut = client.chat.completions.create(model=tiny_gguf, messages=[{"role": "user", "content": "hello world"}],
                                         temperature=0.0, max_tokens=12, seed=3, stop=[stop])
    assert cut.choices[0].message.content == reply[: reply.find(stop)]
    assert cut.choices[0].finish_reason == "stop"


def test_default_model_is_the_bundled_one(client):
    out = client.chat.completions.create(model="", messages=[{"role": "user", "content": "Hi"}], max_tokens=3)
    assert out.model == "smollm2-135m-instruct" and out.choices[0].message.content


# --- images and speech ----------------------------------------------------------------------------------
def test_images_come_back_as_pngs_with_studios_metadata_and_reproduce(client, tiny_sd):
    from PIL import Image

    kw = dict(model=str(tiny_sd), prompt="a red square", size="64x64", n=2, response_format="b64_json",
              extra_body={"seed": 11, "steps": 2, "guidance": 5.0, "negative_prompt": "blue"})
    first = client.images.generate(**kw)
    assert len(first.data) == 2
    pictures = [Image.open(io.BytesIO(base64.b64decode(d.b64_json))) for d in first.data]
    assert all(p.size == (64, 64) and p.format == "PNG" for p in pictures)
    assert "Steps: 2" in pictures[0].text["parameters"] and "Seed: 11" in pictures[0].text["parameters"]
    assert "Negative prompt: blue" in pictures[0].text["parameters"]
    again = client.images.generate(**kw)
    decoded = [Image.open(io.BytesIO(base64.b64decode(d.b64_json))).tobytes() for d in again.data]
    assert decoded == [p.tobytes() for p in pictures]  # same seed, same pictures
    assert pictures[0].tobytes() != pictures[1].tobytes()  # image i uses seed + i


def test_speech_with_the_bundled_voice_as_wav_and_flac(client):
    import soundfile as sf

    for fmt in ("wav", "flac"):
        audio = client.audio.speech.create(model="", voice="", input="Hello from Studio.", response_format=fmt)
        data, rate = sf.read(io.BytesIO(audio.content))
        assert sf.info(io.BytesIO(audio.content)).format == fmt.upper()
        assert rate == 22050 and len(data) / rate > 0.5


# --- hostile requests: 4xx with an OpenAI-style body, and the server goes on --------------------------
@pytest.mark.parametrize(
    "path, body, status, words",
    [
        ("/chat/completions", b"{not json", 400, "not valid JSON"),
        ("/chat/completions", b"[1, 2]", 400, "JSON object"),
        ("/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": "many"}, 400,
         "max_tokens"),
        ("/chat/completions", {"messages": []}, 400, "messages"),
        ("/chat/completions", {"messages": [{"role": "wizard", "content": "hi"}]}, 400, "role"),
        ("/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10**9}, 400,
         "max new tokens"),
        ("/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "n": 5}, 400, "n must be 1"),
        ("/chat/completions", {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}, 404,
         "No model called"),
        ("/chat/completions", {"model": "piper-joe-medium", "messages": [{"role": "user", "content": "hi"}]}, 404,
         "text"),
        ("/images/generations", {"prompt": "x", "n": 100000}, 400, "n must be between 1 and 10"),
        ("/images/generations", {"prompt": "x", "size": "99999x99999"}, 400, "width"),
        ("/images/generations", {"prompt": "x", "size": "big"}, 400, "WIDTHxHEIGHT"),
        ("/images/generations", {"prompt": "x", "response_format": "url"}, 400, "b64_json"),
        ("/images/generations", {"prompt": 5}, 400, "prompt"),
        ("/audio/speech", {"input": "hi", "response_format": "mp3"}, 400, "wav or flac"),
        ("/audio/speech", {"input": ""}, 400, "text"),
        ("/nowhere", {}, 404, "Studio serves"),
    ],
)
def test_bad_requests_get_4xx_with_an_openai_error_body(served, path, body, status, words):
    kw = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = raw(served, "POST", path, headers={"content-type": "application/json"}, **kw)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert words.lower() in error["message"].lower(), error
    assert set(error) == {"message", "type", "param", "code"} and "Traceback" not in error["message"]


def test_huge_body_is_refused_before_it_is_read(served):
    response = raw(served, "POST", "/chat/completions", content=b"x" * (9 * 1024 * 1024),
                   headers={"content-type": "application/json"})
    assert response.status_code == 413 and "larger than" in response.json()["error"]["message"]


def test_the_key_is_required(served, client):
    for key in (None, "sk-wrong"):
        response = raw(served, "GET", "/models", key=key)
        assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=served.url, api_key="sk-wrong", max_retries=0).models.list()
    assert client.models.list().data  # still serving


# --- a client that goes away cancels its job -------------------------------------------------------------
def test_disconnect_cancels_the_running_job(served, home, client):
    prompt = f"Write a very long story about a lighthouse keeper. ({time.time()})"
    with httpx.Client(timeout=120) as http:
        with http.stream("POST", served.url + "/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                         json={"messages": [{"role": "user", "content": prompt}], "max_tokens": 2000,
                               "stream": True, "temperature": 0.8}) as response:
            assert response.status_code == 200
            lines = 0
            for line in response.iter_lines():
                lines += bool(line.startswith("data:"))
                if lines >= 4:
                    break  # leave: the connection closes here
    deadline = time.monotonic() + 60
    saved = []
    while time.monotonic() < deadline and not saved:
        saved = [i for i in library(home).items("text") if i.params["messages"][-1]["content"] == prompt]
        time.sleep(0.3)
    assert saved, "the cancelled job's partial reply is saved"
    stats = saved[0].params["stats"]
    assert stats["stopped"] and stats["tokens"] < 2000
    # the queue is free again: the next request is answered at once
    t0 = time.monotonic()
    assert client.chat.completions.create(model="", messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
    assert time.monotonic() - t0 < 30


# --- load: 20 concurrent chat streams and image requests ---------------------------------------------------
def test_twenty_concurrent_streams_and_images_lose_or_cross_nothing(served, home, tiny_gguf, tiny_sd):
    stamp = time.time()
    prompts = [f"load test {stamp} number {i}" for i in range(20)]

    def chat(prompt: str) -> str:
        c = openai.OpenAI(base_url=served.url, api_key=KEY, max_retries=0, timeout=600)
        text, finish, _ = stream_text(c.chat.completions.create(
            model=tiny_gguf, messages=[{"role": "user", "content": prompt}], max_tokens=8, stream=True,
            temperature=0.0))
        assert finish in ("length", "stop")
        return text

    def image(seed: int) -> list[bytes]:
        c = openai.OpenAI(base_url=served.url, api_key=KEY, max_retries=0, timeout=600)
        out = c.images.generate(model=str(tiny_sd), prompt=f"load {stamp}", size="64x64", n=1,
                                extra_body={"seed": seed, "steps": 1})
        return [base64.b64decode(d.b64_json) for d in out.data]

    with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
        chats = {p: pool.submit(chat, p) for p in prompts}
        images = {s: pool.submit(image, s) for s in (1, 2, 3)}
        replies = {p: f.result(timeout=600) for p, f in chats.items()}
        pictures = {s: f.result(timeout=600) for s, f in images.items()}

    saved = {i.params["messages"][-1]["content"]: i.params["reply"] for i in library(home).items("text", limit=2000)
             if i.params["messages"][-1]["content"] in replies}
    assert saved == replies  # every reply arrived, each at the client that asked for it
    from PIL import Image

    for seed, pngs in pictures.items():
        assert len(pngs) == 1 and f"Seed: {seed}," in Image.open(io.BytesIO(pngs[0])).text["parameters"]
    assert os.path.exists(home / "library")
    assert json.loads(raw(served, "GET", "/models").text)["data"]  # and the server goes on
