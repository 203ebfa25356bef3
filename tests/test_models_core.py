"""Model cache (LRU, budget, unload really frees), device choice, GPU→CPU fallback, resolution."""

from __future__ import annotations

import gc
import weakref

import pytest

from studio.engines.base import Runtime
from studio.errors import ModelNotFound, NotDownloaded
from studio.models import device as device_mod
from studio.models.cache import ModelCache, module_bytes
from studio.models.resolve import ResolvedModel, resolve


class Blob:
    """A stand-in model object whose size the cache measures through ``sizer``."""

    def __init__(self, size):
        self.size = size


def sized_cache(budget):
    return ModelCache(budget, sizer=lambda b: b.size)


def test_lru_eviction_under_budget():
    cache = sized_cache(100)
    a = cache.get(("a",), lambda: Blob(40))
    cache.get(("b",), lambda: Blob(40))
    assert cache.get(("a",), lambda: pytest.fail("a is resident")) is a  # a is now most recent
    cache.get(("c",), lambda: Blob(40))  # over budget: the least recently used (b) goes
    assert cache.keys() == [("a",), ("c",)]
    assert cache.total_bytes() == 80


def test_estimate_makes_room_before_loading():
    cache = sized_cache(100)
    cache.get(("a",), lambda: Blob(60))
    loaded_with = []
    cache.get(("b",), lambda: loaded_with.append(list(cache.keys())) or Blob(60), estimate=60)
    assert loaded_with == [[]]  # a was evicted before b was loaded


def test_no_budget_keeps_one_model():
    cache = sized_cache(0)
    cache.get(("a",), lambda: Blob(1))
    cache.get(("b",), lambda: Blob(1))
    assert cache.keys() == [("b",)]


def test_unload_drops_every_reference():
    import torch

    cache = ModelCache(10**9)
    model = cache.get(("m",), lambda: torch.nn.Linear(64, 64))
    assert cache.total_bytes() == module_bytes(model) == (64 * 64 + 64) * 4
    ref = weakref.ref(model)
    del model
    cache.unload()
    gc.collect()
    assert ref() is None and len(cache) == 0


def test_choose_on_a_cpu_only_machine(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_mod, "mps_available", lambda: False)
    assert device_mod.choose() == device_mod.DeviceChoice("cpu", "float32", "")
    chosen = device_mod.choose("cuda", "float16")
    assert chosen.device == "cpu" and chosen.dtype == "float32"
    assert "no NVIDIA GPU" in chosen.reason and "float16" in chosen.reason
    with pytest.raises(ValueError):
        device_mod.choose("tpu")


def test_choose_prefers_bf16_on_cuda_when_supported(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert device_mod.choose() == device_mod.DeviceChoice("cuda", "bfloat16", "")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert device_mod.choose().dtype == "float16"
    assert device_mod.choose(dtype="float32").dtype == "float32"


def test_failed_gpu_load_falls_back_to_cpu_and_says_why(monkeypatch):
    runtime = Runtime(cache=sized_cache(10**9))
    gpu = device_mod.DeviceChoice("cuda", "float16")
    monkeypatch.setattr(device_mod, "release_device_memory", lambda: None)

    def loader(choice):
        if choice.device == "cuda":
            raise RuntimeError("CUDA error: no kernel image is available for execution on the device")
        return Blob(1)

    model = ResolvedModel("m", __import__("pathlib").Path("."), "transformers", "text")
    value, choice, notice = runtime.load(model, loader, choice=gpu)
    assert isinstance(value, Blob) and choice.device == "cpu"
    assert "Loading on cuda failed" in notice and "no kernel image" in notice
    assert runtime.cache.keys() == [("m", "cpu", "float32", "")]


def test_cpu_load_errors_are_not_swallowed():
    runtime = Runtime(cache=sized_cache(10**9), device="cpu")
    model = ResolvedModel("m", __import__("pathlib").Path("."), "transformers", "text")
    with pytest.raises(RuntimeError, match="broken"):
        runtime.load(model, lambda c: (_ for _ in ()).throw(RuntimeError("broken")))


def test_resolve_rules(tmp_path, tiny_llm):
    assert resolve("", "text").id == "smollm2-135m-instruct"  # bundled default
    assert resolve("smollm2-135m-instruct", "text").format == "gguf"
    assert resolve(tiny_llm, "text").format == "transformers"
    with pytest.raises(NotDownloaded, match="Models window"):
        resolve("sd-turbo", "image", offline=True)
    with pytest.raises(NotDownloaded):
        resolve("Qwen/Qwen2.5-1.5B-Instruct", "text", offline=True)
    with pytest.raises(ModelNotFound, match="catalog id"):
        resolve("no such thing", "text")
    with pytest.raises(ModelNotFound, match="not a model Studio can read"):
        resolve(str(tmp_path), "text")


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".pth", ".bin", ".CKPT"])
def test_resolver_refuses_every_pickled_format_unless_allowed(tmp_path, suffix):
    from studio.errors import UnsafeModelFile

    pickled = tmp_path / f"model{suffix}"
    pickled.write_bytes(b"not opened")
    with pytest.raises(UnsafeModelFile, match="pickled") as refused:
        resolve(str(pickled), "image")
    assert refused.value.kind == "unsafe_file" and refused.value.path == str(pickled) and refused.value.allowable
    allowed = resolve(str(pickled), "image", allow_pickle=True)  # resolving never opens the file
    assert allowed.path == pickled.resolve() and allowed.format == "single_file"
    safe = tmp_path / "model.safetensors"
    safe.write_bytes(b"x")
    assert resolve(str(safe), "image").format == "single_file"


def test_not_downloaded_carries_the_model_id(tmp_path):
    with pytest.raises(NotDownloaded) as missing:
        resolve("some-org/not-here", "text", offline=True)
    assert missing.value.model_id == "some-org/not-here" and missing.value.kind == "not_downloaded"
