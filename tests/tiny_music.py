"""pytest fixtures for the tiny MusicGen models (imported by tests/conftest.py); the builder itself
is :mod:`studio.testing.tiny_music`, shared with the benchmarks."""

from __future__ import annotations

import pytest

from studio.testing.tiny_music import build_tiny_musicgen


@pytest.fixture(scope="session")
def tiny_musicgen(tmp_path_factory) -> str:
    return build_tiny_musicgen(tmp_path_factory.mktemp("tiny-musicgen"))


@pytest.fixture(scope="session")
def tiny_musicgen_stereo(tmp_path_factory) -> str:
    return build_tiny_musicgen(tmp_path_factory.mktemp("tiny-musicgen-stereo"), stereo=True)


@pytest.fixture(scope="session")
def tiny_musicgen_melody(tmp_path_factory) -> str:
    return build_tiny_musicgen(tmp_path_factory.mktemp("tiny-musicgen-melody"), melody=True)
