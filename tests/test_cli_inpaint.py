"""``studio generate image --mask / --extend-*``: inpainting and outpainting from the CLI, output sizes,
pixels outside the mask kept, and one-line errors for bad masks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.engines import inpaint_geometry as geo
from studio.library.png_info import read_png_json

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def pictures(tmp_path):
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (72, 80, 3), dtype=np.uint8)).save(tmp_path / "in.png")
    mask = np.zeros((72, 80), np.uint8)
    mask[20:40, 30:50] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return tmp_path


def cli(capsys, model, out, *extra):
    args = ["generate", "image", "--prompt", "a cat", "--model", str(model), "--width", "64", "--height", "64",
            "--steps", "3", "--seed", "7", "--device", "cpu", "--no-library", "--quiet", "--out", str(out), *extra]
    try:
        code = main(args)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_inpaint_writes_the_input_size_and_keeps_outside_pixels(tiny_sd, pictures, capsys):
    out = pictures / "out.png"
    code, stdout, err = cli(capsys, tiny_sd, out, "--init-image", str(pictures / "in.png"),
                            "--mask", str(pictures / "mask.png"), "--mask-blur", "4", "--inpaint-area", "whole")
    assert code == 0, err
    assert stdout.strip() == str(out)
    result = np.asarray(Image.open(out).convert("RGB"))
    original = np.asarray(Image.open(pictures / "in.png"))
    alpha = np.asarray(geo.feather(geo.to_hard_mask(Image.open(pictures / "mask.png")), 4))
    assert result.shape == original.shape and np.array_equal(result[alpha == 0], original[alpha == 0])
    meta = read_png_json(out)
    assert meta["kind"] == "inpaint" and meta["strength"] == 1.0 and meta["mask_blur"] == 4 and meta["image"]
    assert meta["inpaint_area"] == "whole"


def test_outpaint_without_mask_grows_the_picture(tiny_sd, pictures, capsys):
    out = pictures / "wide.png"
    code, _, err = cli(capsys, tiny_sd, out, "--init-image", str(pictures / "in.png"),
                       "--extend-left", "16", "--extend-right", "8", "--extend-bottom", "8", "--padding", "8")
    assert code == 0, err
    assert Image.open(out).size == (80 + 24, 72 + 8)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda d: Image.new("L", (64, 64), 255).save(d / "m.png"), "same size"),
        (lambda d: Image.new("L", (80, 72), 0).save(d / "m.png"), "empty"),
        (lambda d: (d / "m.png").write_text("hello"), "not a picture"),
    ],
    ids=["other-size", "empty", "not-an-image"],
)
def test_bad_masks_are_one_line_errors(pictures, capsys, make, words, tmp_path):
    make(pictures)
    code, stdout, err = cli(capsys, tmp_path / "no-model", pictures / "o.png", "--init-image",
                            str(pictures / "in.png"), "--mask", str(pictures / "m.png"))
    assert code == 2 and stdout == ""
    assert err.count("\n") == 1 and words in err and err.startswith("studio: error:")
    assert not (pictures / "o.png").exists()


def test_mask_needs_init_image_and_area_is_checked(pictures, capsys, tmp_path):
    code, _, err = cli(capsys, tmp_path / "m", pictures / "o.png", "--mask", str(pictures / "mask.png"))
    assert code == 2 and "--init-image" in err and err.count("\n") == 1
    code, _, err = cli(capsys, tmp_path / "m", pictures / "o.png", "--init-image", str(pictures / "in.png"),
                       "--mask", str(pictures / "mask.png"), "--inpaint-area", "all")
    assert code == 2 and "masked, whole" in err and err.count("\n") == 1
