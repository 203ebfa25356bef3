"""PNG metadata: our JSON + A1111 ``parameters`` written and read back; A1111 and ComfyUI PNGs made by
hand; garbage, truncated and hostile chunks never crash the reader."""

from __future__ import annotations

import io
import json
import random
import struct
import zlib

import pytest
from PIL import Image, PngImagePlugin

from studio.library.metadata import (
    format_a1111,
    parse_a1111,
    png_bytes,
    png_text_chunks,
    read_png_json,
    read_png_parameters,
)
from studio.requests import ImageRequest, LoraSpec


def image() -> Image.Image:
    return Image.new("RGB", (16, 16), (200, 30, 90))


def png_with(**texts) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in texts.items():
        info.add_text(key, value)
    buf = io.BytesIO()
    image().save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def engine_params(**kw) -> dict:
    request = ImageRequest(
        prompt=kw.pop("prompt", "a castle, at dusk: oil painting"),
        negative_prompt=kw.pop("negative_prompt", "blurry, lowres"),
        width=512,
        height=768,
        num_inference_steps=30,
        guidance_scale=6.5,
        scheduler="DPM++ 2M Karras",
        seed=1234,
        loras=(LoraSpec("/loras/detail.safetensors", 0.7),),
    )
    params = {**request.to_dict(), "sampler": "DPM++ 2M Karras", "model": "sd-1.5", "model_name": "Stable Diffusion 1.5"}
    params.update(mode="txt2img", index=0, batch_index=0)
    params.update(kw)
    return params


EXPECTED = {
    "prompt": "a castle, at dusk: oil painting",
    "negative_prompt": "blurry, lowres",
    "num_inference_steps": 30,
    "guidance_scale": 6.5,
    "scheduler": "DPM++ 2M Karras",
    "seed": 1234,
    "width": 512,
    "height": 768,
    "model": "sd-1.5",
}


def test_ours_round_trip_through_bytes_and_file(tmp_path):
    params = engine_params()
    data = png_bytes(image(), params)
    assert read_png_parameters(data) == {**EXPECTED, "strength": 0.75}
    path = tmp_path / "out.png"
    path.write_bytes(data)
    assert read_png_parameters(path) == read_png_parameters(str(path))
    assert read_png_json(path) == json.loads(json.dumps(params))
    assert Image.open(path).size == (16, 16)  # still a normal PNG


def test_a1111_chunk_is_written_in_its_layout_and_parses_back():
    params = engine_params()
    text = png_text_chunks(png_bytes(image(), params))["parameters"]
    lines = text.split("\n")
    assert lines[0] == "a castle, at dusk: oil painting"
    assert lines[1] == "Negative prompt: blurry, lowres"
    assert lines[2].startswith("Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 1234, Size: 512x768, ")
    assert "Model: Stable Diffusion 1.5" in lines[2] and 'Lora weights: "detail: 0.7"' in lines[2]
    assert "Denoising strength" not in lines[2]  # text-to-image
    parsed = parse_a1111(text)
    assert parsed == {**EXPECTED, "model": "Stable Diffusion 1.5"}
    img2img = format_a1111(engine_params(mode="img2img", strength=0.4))
    assert "Denoising strength: 0.4" in img2img and parse_a1111(img2img)["strength"] == 0.4


def test_unicode_multiline_prompts_and_quoted_values():
    params = engine_params(prompt="日本の城\nsecond line", negative_prompt="", model_name='My "best", model: v2')
    data = png_bytes(image(), params)
    assert b"iTXt" in data  # not Latin-1: A1111 writes iTXt too
    text = png_text_chunks(data)["parameters"]
    assert "Negative prompt" not in text
    parsed = parse_a1111(text)
    assert parsed["prompt"] == "日本の城\nsecond line" and parsed["negative_prompt"] == ""
    assert parsed["model"] == 'My "best", model: v2'
    assert read_png_parameters(data)["prompt"] == "日本の城\nsecond line"


def test_hand_made_automatic1111_png():
    text = (
        "masterpiece, 1girl, (red hair:1.2)\nlooking at viewer\n"
        "Negative prompt: lowres, bad anatomy\nworst quality\n"
        "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3847215, Size: 512x768, "
        'Model hash: 7f96a1a9ca, Model: anything-v5, Denoising strength: 0.45, Hires upscaler: "Latent (nearest)", '
        "Version: v1.9.4"
    )
    assert read_png_parameters(png_with(parameters=text)) == {
        "prompt": "masterpiece, 1girl, (red hair:1.2)\nlooking at viewer",
        "negative_prompt": "lowres, bad anatomy\nworst quality",
        "num_inference_steps": 28,
        "scheduler": "DPM++ 2M Karras",
        "guidance_scale": 6.5,
        "seed": 3847215,
        "width": 512,
        "height": 768,
        "model": "anything-v5",
        "strength": 0.45,
    }
    # an old-style line, a sampler Studio does not have (dropped), no negative prompt
    old = "a cat\nSteps: 20, Sampler: DPM2 a, CFG scale: 7, Seed: 1, Size: 640x640, Model: sd15"
    assert read_png_parameters(png_with(parameters=old)) == {
        "prompt": "a cat", "negative_prompt": "", "num_inference_steps": 20, "guidance_scale": 7.0,
        "seed": 1, "width": 640, "height": 640, "model": "sd15",
    }
    assert parse_a1111("just a prompt, no settings") == {"prompt": "just a prompt, no settings", "negative_prompt": ""}


COMFY_PROMPT = {
    "3": {"class_type": "KSampler", "inputs": {
        "seed": 156680208700286, "steps": 20, "cfg": 8, "sampler_name": "euler_ancestral", "scheduler": "normal",
        "denoise": 1, "model": ["10", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 640, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "beautiful scenery nature glass bottle", "clip": ["10", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["10", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "10": {"class_type": "LoraLoader", "inputs": {"model": ["4", 0], "clip": ["4", 1], "lora_name": "x.safetensors"}},
}


def test_hand_made_comfyui_png_prompt_and_workflow():
    found = read_png_parameters(png_with(prompt=json.dumps(COMFY_PROMPT)))
    # the seed is beyond 32 bits (ComfyUI allows 64): dropped, the rest is kept
    assert found == {
        "prompt": "beautiful scenery nature glass bottle",
        "negative_prompt": "text, watermark",
        "num_inference_steps": 20,
        "guidance_scale": 8.0,
        "scheduler": "Euler a",
        "width": 512,
        "height": 640,
        "model": "v1-5-pruned-emaonly.safetensors",
    }
    workflow = {
        "nodes": [
            {"id": 3, "type": "KSampler", "widgets_values": [42, "fixed", 25, 5.5, "dpmpp_2m", "karras", 0.6],
             "inputs": [{"name": "model", "link": 1}, {"name": "positive", "link": 2},
                        {"name": "negative", "link": 3}, {"name": "latent_image", "link": 4}]},
            {"id": 4, "type": "CheckpointLoaderSimple", "widgets_values": ["sdxl.safetensors"]},
            {"id": 5, "type": "EmptyLatentImage", "widgets_values": [1024, 1024, 1]},
            {"id": 6, "type": "CLIPTextEncode", "widgets_values": ["a red fox"]},
            {"id": 7, "type": "CLIPTextEncode", "widgets_values": ["ugly"]},
        ],
        "links": [[1, 4, 0, 3, 0, "MODEL"], [2, 6, 0, 3, 1, "CONDITIONING"], [3, 7, 0, 3, 2, "CONDITIONING"],
                  [4, 5, 0, 3, 3, "LATENT"]],
    }
    assert read_png_parameters(png_with(workflow=json.dumps(workflow))) == {
        "prompt": "a red fox", "negative_prompt": "ugly", "seed": 42, "num_inference_steps": 25,
        "guidance_scale": 5.5, "scheduler": "DPM++ 2M Karras", "strength": 0.6, "width": 1024, "height": 1024,
        "model": "sdxl.safetensors",
    }


def _chunk(ctype: bytes, data: bytes, length: int | None = None) -> bytes:
    n = len(data) if length is None else length
    return struct.pack(">I", n) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)


SIG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage" * 100,
        b"\xff\xd8\xff\xe0" + b"\0" * 100,  # a JPEG header
        SIG,
        SIG + b"\0\0",
        SIG + _chunk(b"tEXt", b"parameters\0Steps: 2")[:-6],  # truncated chunk
        SIG + _chunk(b"tEXt", b"parameters\0x", length=2**31 - 1),  # absurd length
        SIG + _chunk(b"zTXt", b"parameters\0\0" + b"not zlib"),
        SIG + _chunk(b"zTXt", b"parameters\0\0" + zlib.compress(b"a" * (40 * 2**20))),  # 40 MB bomb
        SIG + _chunk(b"iTXt", b"studio\0\1\0\0\0" + b"\x78\x9c broken"),
        SIG + _chunk(b"iTXt", b"studio\0"),  # too short
        SIG + _chunk(b"iTXt", b"parameters\0\0\0\0\0\xff\xfe\xfd invalid utf-8"),
        png_with(studio="{not json"),
        png_with(studio="[1, 2, 3]"),
        png_with(studio=json.dumps({"prompt": 5, "seed": "abc", "num_inference_steps": 1e308, "width": 10**12})),
        png_with(studio="[" * 100_000 + "]" * 100_000),  # deep nesting
        png_with(parameters="\n\n\n"),
        png_with(parameters="x\nSteps: 9999999999999999999999, Seed: -1, CFG scale: nan, Size: 99999x1"),
        png_with(prompt=json.dumps({"3": {"class_type": "KSampler", "inputs": {"positive": ["3", 0], "steps": [1]}}})),
        png_with(prompt=json.dumps({"1": "x", "2": None, "3": {"class_type": "KSampler", "inputs": None}})),
        png_with(workflow=json.dumps({"nodes": [{"type": "KSampler", "widgets_values": "x", "inputs": 5}], "links": 3})),
        png_with(workflow=json.dumps({"nodes": "nope"})),
    ],
)
def test_garbage_never_crashes(data):
    result = read_png_parameters(data)
    assert isinstance(result, dict)
    json.dumps(result)
    for key, value in result.items():  # whatever comes back is in range for a request
        if key in ("width", "height"):
            assert 64 <= value <= 4096 and value % 8 == 0
        if key == "num_inference_steps":
            assert 1 <= value <= 500


def test_absurd_values_are_dropped_but_the_rest_is_kept():
    text = "ok prompt\nSteps: 9999999, Sampler: Euler, CFG scale: 1e999, Seed: -1, Size: 512x512"
    assert read_png_parameters(png_with(parameters=text)) == {
        "prompt": "ok prompt", "negative_prompt": "", "scheduler": "Euler", "width": 512, "height": 512,
    }


def test_random_corruption_of_a_real_png_never_crashes():
    good = png_bytes(image(), engine_params())
    rng = random.Random(0)
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 12)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cut = rng.randrange(len(data)) if rng.random() < 0.3 else len(data)
        assert isinstance(read_png_parameters(bytes(data[:cut])), dict)


def test_paths_that_are_not_pngs(tmp_path):
    assert read_png_parameters(tmp_path / "missing.png") == {}
    assert read_png_parameters(tmp_path) == {}
    (tmp_path / "x.png").write_bytes(b"\x89PN")
    assert read_png_parameters(tmp_path / "x.png") == {}


def test_library_saves_images_with_both_chunks(library):
    from studio.events import Output

    saved = library.save(Output("image", image(), engine_params(), index=0))
    chunks = png_text_chunks(saved.path)
    assert set(chunks) >= {"parameters", "studio"}
    assert read_png_parameters(saved.path)["seed"] == 1234
