"""pytest fixtures for the tiny image-tool models (ControlNet, RRDBNet upscaler, Depth Anything); the builders
are :mod:`studio.testing.tiny_tools`, shared with the benchmarks."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.testing.tiny_tools import build_tiny_controlnet, build_tiny_depth, build_tiny_rrdbnet


@pytest.fixture(scope="session")
def tiny_controlnet(tiny_sd, tmp_path_factory) -> Path:
    """A ControlNet made from the tiny SD 1.x UNet (diffusers folder, safetensors)."""
    return build_tiny_controlnet(tiny_sd, tmp_path_factory.mktemp("tiny-cn") / "controlnet")


@pytest.fixture(scope="session")
def tiny_controlnet_for(tiny_family, tmp_path_factory):
    """``get(family)`` → a ControlNet made from that family's tiny UNet."""
    built: dict = {}

    def get(family: str) -> Path:
        if family not in built:
            folder = tiny_family(family)[0]
            built[family] = build_tiny_controlnet(folder, tmp_path_factory.mktemp(f"tiny-cn-{family}") / "controlnet")
        return built[family]

    return get


@pytest.fixture(scope="session")
def tiny_upscaler(tmp_path_factory) -> Path:
    """A tiny Real-ESRGAN x4 RRDBNet (BasicSR key layout) as .safetensors."""
    return build_tiny_rrdbnet(tmp_path_factory.mktemp("tiny-esrgan") / "tiny-x4.safetensors")


@pytest.fixture(scope="session")
def tiny_depth(tmp_path_factory) -> Path:
    return build_tiny_depth(tmp_path_factory.mktemp("tiny-depth") / "depth")
