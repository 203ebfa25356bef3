"""``studio generate image``: files and their metadata, batch naming, --lora parsing, exit codes and
one-line errors (in-process for speed, plus one real process for the exit status and stderr)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.cli.image import lora_spec, scheduler_name
from studio.library.targets import numbered_paths as out_paths
from studio.library.png_info import read_png_json, read_png_parameters
from studio.requests import LoraSpec

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def base_args(model, out, *extra) -> list[str]:
    return ["generate", "image", "--prompt", "a cat", "--model", str(model), "--width", "64", "--height", "64",
            "--steps", "3", "--seed", "7", "--device", "cpu", "--out", str(out), *extra]


def run_main(capsys, args) -> tuple[int, str, str]:
    try:
        code = main(args)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_batch_writes_numbered_pngs_with_metadata_and_saves_to_the_library(tiny_sd, tmp_path, capsys):
    code, out, err = run_main(capsys, base_args(tiny_sd, tmp_path / "cat.png", "--batch-size", "2"))
    assert code == 0, err
    files = [tmp_path / "cat-0.png", tmp_path / "cat-1.png"]
    assert out.split() == [str(f) for f in files] and not (tmp_path / "cat.png").exists()
    assert [read_png_parameters(f)["seed"] for f in files] == [7, 8]
    meta = read_png_parameters(files[0])
    assert meta["prompt"] == "a cat" and meta["num_inference_steps"] == 3 and (meta["width"], meta["height"]) == (64, 64)
    assert read_png_json(files[1])["index"] == 1
    assert "step " in err and "2 image(s)" in err  # progress and a summary on stderr
    library = Path(os.environ["STUDIO_HOME"]) / "library" / "outputs"
    assert len(list(library.rglob("*.png"))) == 2


def test_single_image_name_quiet_no_library_and_reproducible(tiny_sd, tmp_path, capsys):
    out = tmp_path / "one.png"
    code, stdout, err = run_main(capsys, base_args(tiny_sd, out, "--quiet", "--no-library", "--scheduler", "euler a"))
    assert code == 0 and err == "" and stdout.strip() == str(out)
    assert read_png_json(out)["sampler"] == "Euler a"
    first = np.asarray(Image.open(out))
    code, _, _ = run_main(capsys, base_args(tiny_sd, out, "--quiet", "--no-library", "--scheduler", "Euler a"))
    assert code == 0 and np.array_equal(first, np.asarray(Image.open(out)))
    assert not (Path(os.environ["STUDIO_HOME"]) / "library" / "outputs").exists()


def test_img2img_and_lora_flags(tiny_sd, tiny_lora, tmp_path, capsys):
    init = tmp_path / "init.png"
    Image.new("RGB", (64, 64), (10, 120, 200)).save(init)
    out = tmp_path / "edit.png"
    args = base_args(tiny_sd, out, "--quiet", "--no-library", "--init-image", str(init), "--strength", "0.6",
                     "--lora", f"{tiny_lora}:0.7", "--lora", str(tiny_lora))
    code, _, err = run_main(capsys, args)
    assert code == 0 and err == "", err  # --quiet: no LoRA warnings or loading bars from the libraries
    saved = read_png_json(out)
    assert saved["mode"] == "img2img" and saved["strength"] == 0.6
    assert saved["loras"] == [{"path": str(tiny_lora), "weight": 0.7}, {"path": str(tiny_lora), "weight": 1.0}]


def test_out_format_follows_the_extension_and_pipes_get_the_image_only(tiny_sd, tmp_path, capsys):
    import threading

    code, stdout, err = run_main(capsys, base_args(tiny_sd, tmp_path / "cat.jpg", "-q", "--no-library"))
    assert code == 0 and stdout.strip() == str(tmp_path / "cat.jpg"), err
    with Image.open(tmp_path / "cat.jpg") as im:
        assert im.format == "JPEG" and "Seed: 7" in im.getexif().get_ifd(0x8769)[0x9286][8:].decode("utf-16-be")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    code, stdout, err = run_main(capsys, base_args(tiny_sd, fifo, "-q", "--no-library"))
    reader.join(30)
    assert code == 0 and stdout == "" and got and got[0].startswith(b"\x89PNG"), err
    assert read_png_parameters(got[0])["seed"] == 7


def test_lora_and_sampler_flag_parsing():
    assert lora_spec("style.safetensors:0.5") == LoraSpec("style.safetensors", 0.5)
    assert lora_spec("style.safetensors:-1") == LoraSpec("style.safetensors", -1.0)
    assert lora_spec("style.safetensors") == LoraSpec("style.safetensors", 1.0)
    assert lora_spec(r"C:\loras\style.safetensors") == LoraSpec(r"C:\loras\style.safetensors", 1.0)
    assert lora_spec(r"C:\loras\style.safetensors:0.25") == LoraSpec(r"C:\loras\style.safetensors", 0.25)
    with pytest.raises(argparse.ArgumentTypeError, match="weight must be a number"):
        lora_spec("style.safetensors:strong")
    assert scheduler_name("dpm++ 2m karras") == "DPM++ 2M Karras" and scheduler_name("Nope") == "Nope"
    assert out_paths(Path("a/b.png"), 1) == [Path("a/b.png")]
    assert out_paths(Path("a/b.png"), 3) == [Path("a/b-0.png"), Path("a/b-1.png"), Path("a/b-2.png")]


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["generate", "image", "--model", "m", "--out", "x.png"], 2, "--prompt"),
        (["generate", "image", "--prompt", "p", "--model", "m", "--out", "x.png", "--steps", "many"], 2, "whole number"),
        (["generate", "image", "--prompt", "p", "--model", "m", "--out", "x.png", "--bogus"], 2, "unrecognized"),
        (["generate", "image", "--prompt", "p", "--model", "m", "--out", "x.png", "--lora", "a.safetensors:x"], 2,
         "LoRA weight"),
        (["generate", "image", "--prompt", "p", "--model", "m", "--out", "x.png", "--width", "100"], 2, "multiple of 8"),
        (["generate", "image", "--prompt", "p", "--model", "m", "--out", "x.png", "--scheduler", "Foo"], 2,
         "unknown sampler"),
        (["generate", "image", "--prompt", "p", "--model", "/nowhere/model.safetensors", "--out", "x.png"], 1,
         "No model file"),
        (["generate", "image", "--prompt", "p", "--model", "someorg/some-model", "--out", "x.png"], 1,
         "not downloaded"),
    ],
)
def test_user_errors_are_one_line(args, code, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got, out, err = run_main(capsys, args)
    lines = err.strip().splitlines()
    assert got == code and len(lines) == 1 and words in lines[0], err
    assert "Traceback" not in err and not (tmp_path / "x.png").exists()


def test_real_process_exit_codes_and_stderr(tiny_sd, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ok = subprocess.run(
        [sys.executable, "-m", "studio", *base_args(tiny_sd, tmp_path / "p.png", "--no-library")],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == str(tmp_path / "p.png") and read_png_parameters(tmp_path / "p.png")["seed"] == 7
    missing = subprocess.run(
        [sys.executable, "-m", "studio", *base_args(tmp_path / "none.safetensors", tmp_path / "q.png")],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )
    assert missing.returncode == 1
    expected = f"studio: error: No model file or folder at '{tmp_path / 'none.safetensors'}'."
    assert missing.stderr.strip().splitlines() == [expected]


def test_memory_flags_come_from_the_request_fields(tiny_sd, tmp_path, capsys):
    out = tmp_path / "mem.png"
    code, _stdout, err = run_main(capsys, base_args(tiny_sd, out, "--offload", "Sequential", "--attention-slicing",
                                                    "on", "--vae-tiling", "off", "--no-library"))
    assert code == 0, err
    params = read_png_json(out)
    assert (params["offload"], params["attention_slicing"], params["vae_tiling"]) == ("sequential", "on", "off")
    code, _stdout, err = run_main(capsys, base_args(tiny_sd, out, "--offload", "half"))
    assert code == 2 and "memory plan" in err and "sequential" in err  # the field's own choices


def test_out_of_memory_names_the_flags_to_change(tiny_sd, tmp_path, capsys, monkeypatch):
    import diffusers
    import torch

    def full(*args, **kwargs):  # what the UNet raises when the device is full
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(diffusers.UNet2DConditionModel, "forward", full)
    code, stdout, err = run_main(capsys, base_args(tiny_sd, tmp_path / "oom.png", "--batch-size", "2",
                                                   "--no-library"))
    assert code == 1 and stdout == ""
    assert "Out of memory on cpu at 64×64 with batch size 2" in err
    assert "Lower --width, --height or --batch-size" in err and "--device cpu" not in err  # it ran there
    assert "Advanced" not in err and "Traceback" not in err
