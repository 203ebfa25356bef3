"""Shared test set-up: offline, isolated folders, offscreen Qt, tiny models built from configs.

Every test runs with HF_HUB_OFFLINE=1, its own STUDIO_HOME and HF_HOME (nothing touches the
person's folders), and a socket guard that refuses any connection off this machine.
"""

from __future__ import annotations

import os
import socket

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


@pytest.fixture(autouse=True)
def _no_worker_left_running():
    """A test must stop every model worker it started (a running QThread aborts Python at exit)."""
    yield
    import gc

    from studio.jobs.worker import ModelWorker

    running = [w for w in gc.get_objects() if type(w) is ModelWorker and w.isRunning()]
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
    yield


# ---------------------------------------------------------------------------------------------
# Tiny causal LM: a 2-layer Llama with a BPE tokenizer trained offline and a chat template.
# ---------------------------------------------------------------------------------------------
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "hello world, how are you today? i am fine thank you",
    "paris is the capital of france and berlin is the capital of germany",
    "music, images, speech and text made on your own computer",
] * 20


TINY_SPECIALS = ["<unk>", "<|im_start|>", "<|im_end|>", "<pad>"]  # ids 0-3: unk, bos, eos (end of turn), pad


def train_tiny_tokenizer():
    """A byte-level BPE (300 tokens) trained offline on a tiny corpus: a ``tokenizers.Tokenizer``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=TINY_SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_CORPUS, trainer)
    return tok


def build_tiny_llm(folder) -> str:
    """Save a random-weight LlamaForCausalLM + tokenizer to ``folder`` (as a hub download looks)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = train_tiny_tokenizer()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<pad>"
    )
    fast.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    # never emit end-of-sequence, so tests control the length with max_new_tokens
    with torch.no_grad():
        model.model.embed_tokens.weight[fast.eos_token_id].zero_()
    model.generation_config.eos_token_id = None
    model.save_pretrained(folder, safe_serialization=True)
    fast.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory) -> str:
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
    tiny_lora,
    tiny_sd,
    tiny_sd_config_root,
    tiny_sd_single_file,
    tiny_vae,
)
