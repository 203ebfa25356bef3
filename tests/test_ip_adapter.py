"""IP-Adapter through diffusers' load_ip_adapter on a tiny adapter laid out like diffusers' own tests build one:
scale 0 vs 1 has real effect, the cached model is as before after the job, hostile input is refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.engines.base import CancelToken, Runtime
from studio.engines.image import ImageEngine
from studio.errors import InvalidRequest
from studio.events import Output
from studio.requests import ImageRequest
from studio.testing.events import collect
from studio.testing.tiny_tools import build_tiny_ip_adapter

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pixels(request, runtime):
    events, _ = collect(ImageEngine().run(request, runtime, CancelToken()))
    out = [e for e in events if isinstance(e, Output)][0]
    return np.asarray(out.data, dtype=np.int16), out.params


def test_ip_adapter_scale_has_effect_and_is_taken_out_after(tiny_sd, tmp_path):
    adapter = build_tiny_ip_adapter(tiny_sd, tmp_path / "ip")
    ref = tmp_path / "ref.png"
    Image.new("RGB", (48, 48), (250, 10, 10)).save(ref)
    runtime = Runtime(device="cpu")
    common = dict(model=str(tiny_sd), prompt="a cat", width=64, height=64, num_inference_steps=4, seed=2)
    plain, _ = _pixels(ImageRequest(**common), runtime)
    full, params = _pixels(ImageRequest(**common, ip_adapter=str(adapter), ip_image=str(ref), ip_scale=1.0), runtime)
    zero, _ = _pixels(ImageRequest(**common, ip_adapter=str(adapter), ip_image=str(ref), ip_scale=0.0), runtime)
    assert np.abs(full - zero).mean() > 0.5
    assert np.abs(zero - plain).max() <= 1  # scale 0: the adapter adds nothing
    assert params["ip_scale"] == 1.0 and params["ip_adapter"] == str(adapter)
    again, _ = _pixels(ImageRequest(**common), runtime)
    assert np.array_equal(again, plain)  # unloaded: the cached model is as before
    hires, _ = _pixels(ImageRequest(**common, ip_adapter=str(adapter), ip_image=str(ref), hires_scale=1.5), runtime)
    assert hires.shape == (96, 96, 3)


def test_ip_adapter_hostile_input(tiny_sd, tmp_path):
    runtime = Runtime(device="cpu")
    common = dict(model=str(tiny_sd), prompt="a cat", width=64, height=64, num_inference_steps=2, seed=2)
    with pytest.raises(InvalidRequest, match="give both"):
        ImageRequest(**common, ip_adapter="x").validate()
    lonely = tmp_path / "lonely.safetensors"
    from safetensors.torch import save_file
    import torch

    save_file({"image_proj.proj.weight": torch.zeros(2, 2)}, str(lonely))
    ref = tmp_path / "ref.png"
    Image.new("RGB", (8, 8)).save(ref)
    with pytest.raises(InvalidRequest, match="no image encoder"):
        _pixels(ImageRequest(**common, ip_adapter=str(lonely), ip_image=str(ref)), runtime)
    with pytest.raises(InvalidRequest, match="IP-Adapter image"):
        _pixels(ImageRequest(**common, ip_adapter=str(lonely), ip_image=str(tmp_path / "none.png")), runtime)
    assert not runtime.cache.keys()
