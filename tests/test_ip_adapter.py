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


def test_several_reference_pictures_each_with_its_scale(tiny_sd, tmp_path):
    """Two references (the same adapter twice, as diffusers' lists of weights allow): the second at scale 0 adds
    nothing (the single-reference picture), at scale 1 it changes the picture; the parameters keep both."""
    from studio.requests import IPAdapterUnit

    adapter = build_tiny_ip_adapter(tiny_sd, tmp_path / "ip")
    red, blue = tmp_path / "red.png", tmp_path / "blue.png"
    Image.new("RGB", (48, 48), (250, 10, 10)).save(red)
    Image.new("RGB", (48, 48), (10, 10, 250)).save(blue)
    runtime = Runtime(device="cpu")
    common = dict(model=str(tiny_sd), prompt="a cat", width=64, height=64, num_inference_steps=4, seed=2,
                  ip_adapter=str(adapter), ip_image=str(red), ip_scale=1.0)
    single, _ = _pixels(ImageRequest(**common), runtime)
    off, _ = _pixels(ImageRequest(**common, ip_extra=(IPAdapterUnit(str(adapter), str(blue), 0.0),)), runtime)
    both, params = _pixels(ImageRequest(**common, ip_extra=(IPAdapterUnit(str(adapter), str(blue), 1.0),)), runtime)
    assert np.abs(off - single).max() <= 1
    assert np.abs(both - single).mean() > 0.5
    assert params["ip_extra"] == [{"model": str(adapter), "image": str(blue), "scale": 1.0}]
    again, _ = _pixels(ImageRequest(**common), runtime)
    assert np.array_equal(again, single)  # both copies unloaded after the job
    hires, _ = _pixels(ImageRequest(**common, ip_extra=(IPAdapterUnit(str(adapter), str(blue), 1.0),), hires_scale=1.5),
                       runtime)  # the second pass is guided by both pictures too
    assert hires.shape == (96, 96, 3)


def test_further_references_are_checked_before_any_model_loads(tmp_path):
    from studio.engines.preflight import preflight
    from studio.requests import IPAdapterUnit

    ref = tmp_path / "ref.png"
    Image.new("RGB", (8, 8)).save(ref)
    common = dict(model="nowhere", prompt="a cat", ip_adapter="x", ip_image=str(ref))
    with pytest.raises(InvalidRequest, match=r"IP-Adapter 2 \(y\) has no reference picture"):
        ImageRequest(**common, ip_extra=(IPAdapterUnit("y", " "),)).validate()
    with pytest.raises(InvalidRequest, match="need the first one"):
        ImageRequest(model="nowhere", prompt="a cat", ip_extra=(IPAdapterUnit("y", str(ref)),)).validate()
    with pytest.raises(InvalidRequest, match=r"IP-Adapter 3 \(z\): .*IP-Adapter image"):
        preflight(ImageRequest(**common, ip_extra=(IPAdapterUnit("y", str(ref)),
                                                   IPAdapterUnit("z", str(tmp_path / "none.png")))))
