"""pytest fixture for the tiny coqui VITS (imported by tests/conftest.py); the builder itself is
:mod:`studio.testing.tiny_tts`, shared with the benchmarks."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.testing.tiny_tts import build_tiny_vits


@pytest.fixture(scope="session")
def tiny_vits(tmp_path_factory) -> Path:
    """A two-speaker tiny VITS folder (model.pth + config.json + speakers.json)."""
    return build_tiny_vits(tmp_path_factory.mktemp("tiny-vits"), speakers=("alice", "bob"))
