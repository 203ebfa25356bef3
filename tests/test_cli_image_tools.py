"""The image power tools through the CLI: ControlNet unit flags (each belongs to the --controlnet before it,
refused before any model loads when it has no unit or its picture is unreadable), --embedding, hires fix,
``studio upscale`` and ``studio control``; and their A1111 ``parameters`` fields, written and read back."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.cli import main
from studio.library.metadata import format_a1111, parse_a1111
from studio.library.png_info import read_png_json, read_png_parameters

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run_main(capsys, args):
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def control_png(tmp_path):
    im = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(im).rectangle((10, 12, 40, 50), fill="black")
    path = tmp_path / "control.png"
    im.save(path)
    return path


def gen_args(model, out, *extra):
    return ["generate", "image", "--prompt", "a (cat:1.2)", "--model", model, "--width", "64", "--height", "64",
            "--steps", "3", "--seed", "7", "--device", "cpu", "--no-library", "-q", "--out", out, *extra]


def test_controlnet_units_from_flags_and_their_parameters(tiny_sd, tiny_controlnet, control_png, tmp_path, capsys):
    out = tmp_path / "cat.png"
    code, stdout, err = run_main(capsys, gen_args(
        tiny_sd, out,
        "--controlnet", tiny_controlnet, "--control-image", control_png, "--control-mode", "canny",
        "--control-scale", "0.7", "--low", "50", "--high", "150",
        "--controlnet", tiny_controlnet, "--control-image", control_png, "--control-end", "0.5"))
    assert code == 0, err
    units = read_png_json(out)["controlnets"]
    assert [(u["mode"], u["scale"], u["end"], u["low"]) for u in units] == [("canny", 0.7, 1.0, 50), ("none", 1.0, 0.5, 100)]
    text = Image.open(out).text["parameters"]
    assert 'ControlNet 0: "Module: canny, Model: controlnet, Weight: 0.7' in text
    assert "Threshold A: 50" in text and "Guidance End: 0.5" in text
    restored = read_png_parameters(out)
    assert [u["mode"] for u in restored["controlnets"]] == ["canny", "none"]
    assert restored["controlnets"][0]["image"] == str(control_png)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--control-scale", "0.5"], "--control-scale belongs to a ControlNet unit"),
        (["--controlnet", "X", "--control-image", "a.png", "--control-image", "b.png"], r"given twice for ControlNet unit 1 \(X\)"),
        (["--controlnet", "X"], r"ControlNet unit 1 \(X\) has no --control-image"),
        (["--controlnet", "X", "--control-image", "{missing}"], r"ControlNet unit 1 \(X\): No control image"),
        (["--controlnet", "X", "--control-image", "{control}", "--controlnet", "Y", "--control-image", "{broken}"],
         r"ControlNet unit 2 \(Y\): Can't read the control image"),
        (["--controlnet", "X", "--control-image", "{control}", "--control-start", "0.9", "--control-end", "0.1"],
         "ControlNet unit 1 .*start 0.9 must be below end 0.1"),
        (["--controlnet", "X", "--control-image", "{control}", "--control-mode", "sketchy"], "unknown preprocessor"),
        (["--ip-adapter", "X"], "give both the adapter"),
        (["--ip-adapter", "X", "--ip-image", "{broken}"], "Can't read the IP-Adapter image"),
    ],
)
def test_unit_flags_are_refused_before_any_model_loads(extra, message, control_png, tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    extra = [e.format(missing=tmp_path / "nope.png", control=control_png, broken=broken) for e in extra]
    code, _, err = run_main(capsys, gen_args("no-such-model-anywhere", tmp_path / "x.png", *extra))
    assert code == 2
    import re

    assert re.search(message, err), err
    assert "Traceback" not in err


def test_embedding_flag_and_hires_flags(tiny_sd, tmp_path, capsys):
    from studio.testing.tiny_tools import build_tiny_embedding

    emb = build_tiny_embedding(tmp_path / "shiny.safetensors", width=32)
    out = tmp_path / "e.png"
    code, _, err = run_main(capsys, gen_args(tiny_sd, out, "--embedding", emb, "--prompt", "a shiny cat",
                                             "--hires-scale", "1.5", "--hires-strength", "0.6"))
    assert code == 0, err
    assert Image.open(out).size == (96, 96)
    meta = read_png_json(out)
    assert meta["embeddings_used"] == ["shiny"] and meta["hires_scale"] == 1.5
    text = Image.open(out).text["parameters"]
    assert "Size: 64x64" in text and "Hires upscale: 1.5" in text and "Denoising strength: 0.6" in text
    restored = read_png_parameters(out)
    assert (restored["width"], restored["hires_scale"], restored["hires_strength"]) == (64, 1.5, 0.6)
    wrong = build_tiny_embedding(tmp_path / "wide.safetensors", width=48)
    code, _, err = run_main(capsys, gen_args(tiny_sd, tmp_path / "w.png", "--embedding", wrong))
    assert code == 2 and "48 wide" in err


def test_studio_upscale_and_its_limits(tiny_upscaler, tmp_path, capsys):
    src = tmp_path / "in.png"
    Image.new("RGB", (24, 16), (10, 200, 30)).save(src)
    out = tmp_path / "big.png"
    code, stdout, err = run_main(capsys, ["upscale", src, "--model", tiny_upscaler, "--tile", "8", "--device", "cpu",
                                          "--no-library", "--out", out])
    assert code == 0, err
    assert stdout.strip() == str(out) and Image.open(out).size == (96, 64)
    assert "tile 6/6" in err
    assert read_png_json(out)["architecture"] == "ESRGAN"
    code, _, err = run_main(capsys, ["upscale", src, "--model", tiny_upscaler, "--scale", "9", "--out", out])
    assert code == 2 and "scale" in err
    code, _, err = run_main(capsys, ["upscale", tmp_path / "none.png", "--model", tiny_upscaler, "--out", out])
    assert code == 2 and "No picture to upscale" in err


def test_studio_control_writes_maps(control_png, tmp_path, capsys):
    out = tmp_path / "edges.png"
    code, stdout, err = run_main(capsys, ["control", control_png, "--mode", "canny", "--low", "50", "--high", "150",
                                          "--out", out])
    assert code == 0, err
    edges = np.asarray(Image.open(out).convert("L"))
    assert edges.max() == 255 and (edges > 0).mean() < 0.1
    code, _, err = run_main(capsys, ["control", control_png, "--mode", "canny", "--low", "300", "--out", out])
    assert code == 2 and "canny low threshold" in err
    code, _, err = run_main(capsys, ["control", control_png, "--mode", "depth", "--out", out])
    assert code == 1 and "not downloaded" in err.lower()


def test_a1111_controlnet_and_hires_fields_from_other_tools():
    text = (
        "a house\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x768, "
        "Denoising strength: 0.7, Hires upscale: 2, Hires upscaler: Latent, ControlNet 0: \"Module: canny, "
        "Model: control_v11p_sd15_canny [d14c016b], Weight: 1, Resize Mode: Crop and Resize, Processor Res: 512, "
        "Threshold A: 100, Threshold B: 200, Guidance Start: 0, Guidance End: 1, Pixel Perfect: False, "
        "Control Mode: Balanced\", Version: v1.10.1"
    )
    got = parse_a1111(text)
    assert (got["width"], got["height"], got["hires_scale"], got["hires_strength"]) == (512, 768, 2.0, 0.7)
    assert "strength" not in got and got.get("upscaler", "") == ""  # Latent: Studio uses Lanczos
    assert got["controlnets"][0]["model"] == "control_v11p_sd15_canny" and got["controlnets"][0]["mode"] == "canny"
    again = parse_a1111(format_a1111({**got, "controlnets": got["controlnets"]}))
    assert again["controlnets"] == got["controlnets"]


def test_ip_adapter_groups_from_flags_and_their_parameters(tiny_sd, tmp_path, capsys):
    from studio.testing.tiny_tools import build_tiny_ip_adapter

    adapter = build_tiny_ip_adapter(tiny_sd, tmp_path / "ip")
    red, blue = tmp_path / "red.png", tmp_path / "blue.png"
    Image.new("RGB", (32, 32), (250, 10, 10)).save(red)
    Image.new("RGB", (32, 32), (10, 10, 250)).save(blue)
    out = tmp_path / "two.png"
    code, _, err = run_main(capsys, gen_args(tiny_sd, out, "--ip-adapter", adapter, "--ip-image", red, "--ip-scale", "0.8",
                                             "--ip-adapter", adapter, "--ip-image", blue, "--ip-scale", "0.3"))
    assert code == 0, err
    meta = read_png_json(out)
    assert (meta["ip_image"], meta["ip_scale"]) == (str(red), 0.8)
    assert meta["ip_extra"] == [{"model": str(adapter), "image": str(blue), "scale": 0.3}]
    text = Image.open(out).text["parameters"]
    assert 'ControlNet 0: "Module: ip-adapter_clip, Model: ip-adapter, Weight: 0.8"' in text
    assert 'ControlNet 1: "Module: ip-adapter_clip, Model: ip-adapter, Weight: 0.3"' in text
    restored = read_png_parameters(out)
    assert restored["ip_extra"] == meta["ip_extra"] and restored["ip_scale"] == 0.8
    a1111 = parse_a1111(text)  # A1111's text alone: the adapters and weights, not the pictures
    assert a1111["ip_scale"] == 0.8 and a1111["ip_extra"] == [{"model": "ip-adapter", "image": "", "scale": 0.3}]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ip-scale", "0.5"], "--ip-scale belongs to an IP-Adapter"),
        (["--ip-adapter", "X", "--ip-image", "a.png", "--ip-image", "b.png"], r"given twice for IP-Adapter 1 \(X\)"),
        (["--ip-adapter", "X", "--ip-image", "{control}", "--ip-adapter", "Y"], r"IP-Adapter 2 \(Y\) has no --ip-image"),
        (["--ip-adapter", "X", "--ip-image", "{control}", "--ip-adapter", "Y", "--ip-image", "{broken}"],
         r"IP-Adapter 2 \(Y\): Can't read the IP-Adapter image"),
        (["--ip-adapter", "X", "--ip-image", "{control}", "--ip-adapter", "Y", "--ip-image", "{control}",
          "--ip-scale", "3"], r"IP-Adapter 2: .*scale"),
    ],
)
def test_ip_adapter_groups_are_refused_before_any_model_loads(extra, message, control_png, tmp_path, capsys):
    import re

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    extra = [e.format(control=control_png, broken=broken) for e in extra]
    code, _, err = run_main(capsys, gen_args("no-such-model-anywhere", tmp_path / "x.png", *extra))
    assert code == 2 and re.search(message, err), err
    assert "Traceback" not in err
