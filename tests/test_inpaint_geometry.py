"""Inpainting geometry and pixels without a model: masks, feathering, the "only masked" crop (bounding box,
padding, aspect, multiples of 8, clamping at the edges), generation sizes, pasting and outpaint canvases."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.engines import inpaint_geometry as geo
from studio.engines.inpaint_geometry import Box


def mask_with(size, box) -> Image.Image:
    m = np.zeros((size[1], size[0]), np.uint8)
    left, top, right, bottom = box
    m[top:bottom, left:right] = 255
    return Image.fromarray(m, "L")


def noise(w, h, seed=0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


def test_hard_mask_threshold_alpha_and_bbox():
    grey = Image.fromarray(np.array([[0, 127, 128, 255]], np.uint8), "L")
    assert np.asarray(geo.to_hard_mask(grey)).tolist() == [[0, 0, 255, 255]]
    rgba = Image.new("RGBA", (4, 2), (255, 255, 255, 0))  # white but transparent: keep
    rgba.putpixel((1, 1), (255, 255, 255, 255))
    hard = geo.to_hard_mask(rgba)
    assert geo.mask_bbox(hard) == Box(1, 1, 2, 2)
    assert geo.mask_bbox(Image.new("L", (8, 8), 0)) is None


def test_feather_spreads_outward_and_zero_blur_keeps_the_mask():
    hard = mask_with((64, 64), (16, 16, 48, 48))
    assert np.array_equal(np.asarray(geo.feather(hard, 0)), np.asarray(hard))
    soft = np.asarray(geo.feather(hard, 8))
    assert (soft[16:48, 16:48] == 255).all()  # what was painted is repainted in full
    assert 255 > soft[32, 14] > soft[32, 11] > 0 and soft[0, 0] == 0  # fading outward
    repaint = np.asarray(geo.repaint_mask(hard, Image.fromarray(soft)))
    assert set(np.unique(repaint)) == {0, 255} and (repaint > 0).sum() > (np.asarray(hard) > 0).sum()


@pytest.mark.parametrize(
    "mask_box, size, padding, target",
    [
        (Box(200, 150, 230, 170), (800, 600), 32, (512, 512)),  # small mask in the middle
        (Box(0, 0, 20, 20), (800, 600), 32, (512, 512)),  # in a corner: clamped at the edges
        (Box(770, 580, 800, 600), (800, 600), 16, (512, 768)),  # other corner, portrait target
        (Box(100, 10, 700, 40), (800, 600), 8, (512, 512)),  # a wide strip
        (Box(5, 5, 60, 60), (100, 90), 32, (512, 512)),  # picture smaller than the grown region
    ],
)
def test_crop_region_contains_padded_mask_is_clamped_and_in_multiples_of_8(mask_box, size, padding, target):
    box = geo.crop_region(mask_box, size, padding, target)
    picture = Box(0, 0, *size)
    assert picture.contains(box) and box.contains(mask_box)
    padded = Box(max(0, mask_box.left - padding), max(0, mask_box.top - padding),
                 min(size[0], mask_box.right + padding), min(size[1], mask_box.bottom + padding))
    assert box.contains(padded)
    for side, limit in ((box.width, size[0]), (box.height, size[1])):
        assert side % 8 == 0 or side == limit  # a multiple of 8 unless it is the whole picture's side


def test_crop_region_grows_toward_the_target_aspect():
    box = geo.crop_region(Box(300, 250, 340, 260), (1000, 1000), 10, (512, 768))
    assert abs(box.width / box.height - 512 / 768) < 0.05
    box = geo.crop_region(Box(100, 10, 700, 40), (800, 800), 8, (512, 512))
    assert box.width == box.height == 616 and box.top == 0  # a wide strip becomes a square, shifted inside


def test_crop_region_exact_numbers():
    # 30×20 mask + 32 padding → 94×84, widened to ≥ 64 and square → 94 → rounded up to 96, centred on the mask
    box = geo.crop_region(Box(200, 150, 230, 170), (800, 600), 32, (512, 512))
    assert box == Box(167, 112, 263, 208)
    # at the top-left corner: the padded 84×84 (→ 88) region is shifted inside the picture, not cut
    assert geo.crop_region(Box(0, 0, 20, 20), (800, 600), 32, (512, 512)) == Box(0, 0, 88, 88)


def test_generation_size():
    assert geo.generation_size((96, 96), (512, 512)) == (512, 512)
    w, h = geo.generation_size((100, 90), (512, 512))
    assert w % 8 == 0 and h % 8 == 0 and abs(w * h - 512 * 512) < 0.05 * 512 * 512 and w > h


def test_paste_keeps_every_pixel_outside_the_feathered_mask():
    original, generated = noise(120, 96, 1), noise(64, 64, 2)
    hard = mask_with((120, 96), (40, 30, 70, 50))
    alpha = geo.feather(hard, 8)
    box = Box(20, 10, 100, 90)
    out = np.asarray(geo.paste(original, generated, alpha, box))
    a = np.asarray(alpha)
    assert np.array_equal(out[a == 0], np.asarray(original)[a == 0])
    patch = np.asarray(generated.resize((80, 80), Image.Resampling.LANCZOS))
    full = a == 255
    assert full.any() and np.array_equal(out[full], patch[full[10:90, 20:100]])
    assert out.shape == (96, 120, 3)


def test_outpaint_canvas_sizes_mask_and_prefill():
    image = noise(40, 30)
    canvas, hard, new = geo.outpaint_canvas(image, left=16, right=0, top=8, bottom=24, overlap=4)
    assert canvas.size == (56, 62) and hard.size == canvas.size == new.size
    c, m, n = np.asarray(canvas), np.asarray(hard), np.asarray(new)
    assert np.array_equal(c[8:38, 16:56], np.asarray(image))  # the old picture, untouched, at its offset
    assert (n[8:38, 16:56] == 0).all() and (n[:8] == 255).all() and (n[:, :16] == 255).all() and (n[38:] == 255).all()
    # the mask: the new area plus 4 pixels into the old picture on the extended sides (not on the right)
    assert (m[8:38, 16:20] == 255).all() and (m[8:12, 16:56] == 255).all() and (m[34:38, 16:56] == 255).all()
    assert (m[12:34, 20:56] == 0).all()
    # pre-filled from the edges: the new rows above continue the top row's colours (blurred), not black
    assert c[:8].mean() > 30


def test_place_mask_and_union():
    small = mask_with((10, 10), (0, 0, 5, 5))
    placed = geo.place_mask(small, (20, 20), 3, 4)
    assert geo.mask_bbox(placed) == Box(3, 4, 8, 9)
    assert geo.mask_bbox(geo.union(placed, mask_with((20, 20), (15, 15, 20, 20)))) == Box(3, 4, 20, 20)


@pytest.mark.parametrize("size, aspect, expected", [
    ((512, 512), (16, 9), (200, 200, 0, 0)),  # 910.2 → 912 wide
    ((512, 512), (9, 16), (0, 0, 200, 200)),
    ((640, 480), (1, 1), (0, 0, 80, 80)),
    ((480, 640), (4, 3), (188, 188, 0, 0)),  # 853.3 → 856
    ((512, 512), (1, 1), (0, 0, 0, 0)),  # already there
])
def test_extends_for_aspect(size, aspect, expected):
    got = geo.extends_for_aspect(*size, *aspect)
    assert got == expected
    left, right, top, bottom = got
    assert (size[0] + left + right) % 8 == 0 or left + right == 0
    assert (size[1] + top + bottom) % 8 == 0 or top + bottom == 0
