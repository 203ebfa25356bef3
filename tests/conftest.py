"""Shared test set-up: offline, isolated folders, offscreen Qt, tiny models built from configs.

Every test runs with HF_HUB_OFFLINE=1, its own STUDIO_HOME and HF_HOME (nothing touches the
person's folders), and a socket guard that refuses any connection off this machine.
"""

from __future__ import annotations

import os
import socket
import weakref

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_NO_ADVISORY_WARNINGS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("STUDIO_NO_CONFIRM", "1")

_real_connect = socket.socket.connect


def _guarded_connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and (host in ("localhost", "::1") or host.startswith("127.") or host.startswith("/")):
        return _real_connect(self, address)
    raise OSError(f"tests must not use the network (tried to connect to {address!r})")


_workers: weakref.WeakSet = weakref.WeakSet()  # every ModelWorker made in this session, while it lives


@pytest.fixture(scope="session", autouse=True)
def _track_workers():
    """Note each ModelWorker as it is made, so the check after each test looks at those only.

    (Scanning gc.get_objects() instead cost 0.1-0.3 s per test once torch, diffusers and Qt are loaded:
    minutes over the suite.)"""
    from studio.jobs.worker import ModelWorker

    made = ModelWorker.__init__

    def noting(self, *args, **kwargs):
        made(self, *args, **kwargs)
        _workers.add(self)

    ModelWorker.__init__ = noting
    yield
    ModelWorker.__init__ = made


@pytest.fixture(autouse=True)
def _no_worker_left_running(_track_workers):
    """A test must stop every model worker it started (a running QThread aborts Python at exit)."""
    yield
    from studio.jobs.worker import ModelWorker

    running = [w for w in list(_workers) if type(w) is ModelWorker and w.isRunning()]
    for worker in running:
        worker.stop()
        worker.wait(10_000)
    assert not running, "a model worker was left running: shut its JobQueue down (or close its window)"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No network, no real home folders, for every test."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "studio-home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
    monkeypatch.delenv("STUDIO_API_KEY", raising=False)  # a developer's own server key must not leak into tests
    yield


# ---------------------------------------------------------------------------------------------
# Tiny causal LM: studio.testing.tiny_llm (shared with the benchmarks)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory) -> str:
    from studio.testing.tiny_llm import build_tiny_llm

    return build_tiny_llm(tmp_path_factory.mktemp("tiny-llm"))


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory) -> str:
    """A 2-layer Llama as a GGUF file with a ChatML template (llama.cpp runtime tests)."""
    from tests.tiny_gguf import build_tiny_gguf

    return build_tiny_gguf(tmp_path_factory.mktemp("tiny-gguf") / "tiny-chat.gguf")


@pytest.fixture
def library(tmp_path):
    from studio.library.store import Library

    return Library(tmp_path / "library")


# ---------------------------------------------------------------------------------------------
# Tiny Stable Diffusion pipelines (image engine, metadata and image CLI tests): see tests/tiny_sd.py
# ---------------------------------------------------------------------------------------------
from tests.tiny_sd import (  # noqa: E402,F401
    one_torch_thread,
    tiny_family,
    tiny_inpaint,
    tiny_lora,
    tiny_sd,
    tiny_sd_config_root,
    tiny_sd_single_file,
    tiny_vae,
)

# ---------------------------------------------------------------------------------------------
# Tiny MusicGen models (music engine, CLI and tab tests): studio.testing.tiny_music, fixtures in tests/tiny_music.py
# ---------------------------------------------------------------------------------------------
from tests.tiny_music import tiny_musicgen, tiny_musicgen_melody, tiny_musicgen_stereo  # noqa: E402,F401
# Tiny coqui VITS voices (speech engine, CLI and tab tests): see tests/tiny_tts.py
from tests.tiny_tts import tiny_vits  # noqa: E402,F401
# Tiny image tools (ControlNet, upscaler, depth): see tests/tiny_tools.py
from tests.tiny_tools import tiny_controlnet, tiny_controlnet_for, tiny_depth, tiny_upscaler  # noqa: E402,F401
