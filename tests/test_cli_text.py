"""``studio generate text`` and friends: exit codes, streamed output, files, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def studio(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], capture_output=True, text=True, cwd=ROOT, env={**os.environ},
        timeout=timeout,
    )


def test_generate_text_streams_and_writes_out(tiny_llm, tmp_path):
    out = tmp_path / "reply.txt"
    first = studio("generate", "text", "--prompt", "hello", "--model", tiny_llm, "--max-new-tokens", "8",
                   "--seed", "5", "--temperature", "1.0", "--out", str(out), "--device", "cpu")
    assert first.returncode == 0, first.stderr
    assert out.read_text() == first.stdout.rstrip("\n")
    assert "8 tokens" in first.stderr and "Traceback" not in first.stderr
    again = studio("generate", "text", "--prompt", "hello", "--model", tiny_llm, "--max-new-tokens", "8",
                   "--seed", "5", "--temperature", "1.0", "--device", "cpu")
    assert again.stdout == first.stdout
    # saved to the library too
    assert list((Path(os.environ["STUDIO_HOME"]) / "library" / "outputs").rglob("*.md"))


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["generate", "text"], 2, "--prompt"),
        (["generate", "text", "--prompt", "hi", "--max-new-tokens", "lots"], 2, "whole number"),
        (["generate", "text", "--prompt", "hi", "--temperature", "99"], 2, "temperature"),
        (["generate", "text", "--prompt", "   "], 2, "empty"),
        (["generate", "text", "--prompt", "hi", "--model", "/nowhere/model.gguf"], 1, "No model file"),
        (["generate", "text", "--prompt", "hi", "--model", "someorg/some-model"], 1, "not downloaded"),
    ],
)
def test_user_errors_are_one_line_without_traceback(args, code, words):
    result = studio(*args)
    assert result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.stderr


def test_wrong_kind_of_model(tmp_path):
    (tmp_path / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    result = studio("generate", "text", "--prompt", "hi", "--model", str(tmp_path))
    assert result.returncode == 1 and "image model" in result.stderr


@pytest.mark.slow
def test_bundled_smollm2_really_answers():
    """The real bundled model (converted from its GGUF on first use) answers a short prompt."""
    result = studio("generate", "text", "--prompt", "What is the capital of France?",
                    "--temperature", "0", "--max-new-tokens", "20", "--device", "cpu", timeout=600)
    assert result.returncode == 0, result.stderr
    assert "paris" in result.stdout.lower()
    assert "Converting" in result.stderr  # first use: the GGUF was dequantized …
    converted = list((Path(os.environ["STUDIO_HOME"]) / "cache" / "gguf").glob("*/model.safetensors"))
    assert len(converted) == 1  # … and cached as safetensors
    again = studio("generate", "text", "--prompt", "What is the capital of France?",
                   "--temperature", "0", "--max-new-tokens", "20", "--device", "cpu", timeout=600)
    assert again.returncode == 0 and again.stdout == result.stdout
    assert "Converting" not in again.stderr  # later loads use the cache
