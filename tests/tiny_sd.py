"""pytest fixtures for the tiny Stable Diffusion models (imported by tests/conftest.py); the
builders themselves are :mod:`studio.testing.tiny_sd`, shared with the benchmarks."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.testing.tiny_sd import (
    build_tiny_lora,
    build_tiny_sd,
    build_tiny_vae,
    export_single_file,
    write_config_root,
)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models gain nothing from more threads; one thread keeps timings steady on a busy 2-core box
    (OpenMP workers spinning against other processes can slow a 0.1 s generation to 10 s)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory) -> Path:
    """A tiny SD 1.x-style diffusers folder (random weights)."""
    return build_tiny_sd(tmp_path_factory.mktemp("tiny-sd") / "tiny-sd")


@pytest.fixture(scope="session")
def tiny_sd_config_root(tiny_sd, tmp_path_factory) -> Path:
    """Weight-free configs for the tiny model, laid out like assets/configs."""
    return write_config_root(tiny_sd, tmp_path_factory.mktemp("tiny-configs"))


@pytest.fixture(scope="session")
def tiny_sd_single_file(tiny_sd, tmp_path_factory) -> Path:
    """The tiny model's weights as one original-layout .safetensors checkpoint."""
    return export_single_file(tiny_sd, tmp_path_factory.mktemp("tiny-sf") / "tiny-sd.safetensors")


@pytest.fixture(scope="session")
def tiny_family(tiny_sd, tiny_sd_single_file, tiny_sd_config_root, tmp_path_factory):
    """``get(family)`` → (diffusers folder, single-file checkpoint, config root), built once per family."""
    built = {"sd1": (tiny_sd, tiny_sd_single_file, tiny_sd_config_root)}

    def get(family: str):
        if family not in built:
            base = tmp_path_factory.mktemp(f"tiny-{family}")
            folder = build_tiny_sd(base / f"tiny-{family}", family=family)
            single = export_single_file(folder, base / f"tiny-{family}.safetensors", family=family)
            built[family] = (folder, single, write_config_root(folder, base / "configs", family))
        return built[family]

    return get


@pytest.fixture(scope="session")
def tiny_lora(tiny_sd, tmp_path_factory) -> Path:
    return build_tiny_lora(tiny_sd, tmp_path_factory.mktemp("tiny-lora"))


@pytest.fixture(scope="session")
def tiny_vae(tmp_path_factory) -> Path:
    return build_tiny_vae(tmp_path_factory.mktemp("tiny-vae") / "vae")
