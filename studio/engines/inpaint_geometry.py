"""Pure geometry and pixel work for inpainting and outpainting (PIL + numpy, no torch, no Qt).

The steps, as the best tools do it (see the design notes):

1. :func:`read_mask` — a mask image → a hard 0/255 mask ("L"), white = repaint.
2. :func:`feather` — blur the hard mask by ``mask_blur`` pixels: the alpha used for pasting.
3. :func:`crop_region` — for "only masked": the mask's bounding box, padded, grown toward the
   generation size's aspect, multiples of 8, clamped at the picture's edges.
4. :func:`generation_size` — the size the model runs at (multiples of 8, about the requested area).
5. :func:`paste` — the generated crop scaled back and pasted *only through the feathered mask*: every
   pixel where the feathered mask is 0 stays exactly the original.

Outpainting: :func:`outpaint_canvas` enlarges the picture, pre-fills the new area (edge extend +
blur) and returns the mask of the new area plus a small overlap into the old picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

MULTIPLE = 8


@dataclass(frozen=True)
class Box:
    """A pixel rectangle: ``left``/``top`` inclusive, ``right``/``bottom`` exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.left, self.top, self.right, self.bottom)

    def contains(self, other: Box) -> bool:
        return (
            self.left <= other.left and self.top <= other.top and self.right >= other.right and self.bottom >= other.bottom
        )


def round_up(value: int, multiple: int = MULTIPLE) -> int:
    return -(-int(value) // multiple) * multiple


def round_to(value: float, multiple: int = MULTIPLE, minimum: int = 64) -> int:
    return max(minimum, int(round(value / multiple)) * multiple)


# --- masks ------------------------------------------------------------------------------------------


def to_hard_mask(mask: Image.Image) -> Image.Image:
    """Any mask picture → "L" with 0 (keep) or 255 (repaint). Transparent pixels count as keep."""
    if mask.mode in ("RGBA", "LA", "PA") or (mask.mode == "P" and "transparency" in mask.info):
        rgba = np.asarray(mask.convert("RGBA"), dtype=np.uint32)
        grey = (rgba[..., 0] * 299 + rgba[..., 1] * 587 + rgba[..., 2] * 114) // 1000
        value = grey * rgba[..., 3] // 255
    else:
        value = np.asarray(mask.convert("L"), dtype=np.uint16)
    return Image.fromarray(np.where(value >= 128, 255, 0).astype(np.uint8), "L")


def mask_bbox(mask: Image.Image) -> Box | None:
    """The bounding box of the mask's non-zero pixels, or None for an empty mask."""
    box = mask.getbbox()
    return Box(*box) if box else None


def feather(mask: Image.Image, blur: int) -> Image.Image:
    """The alpha for pasting: 255 on the whole hard mask (what was painted is repainted in full), fading
    to 0 over about ``blur`` pixels *outside* it (a Gaussian edge, doubled so it is continuous at the
    mask's border); 0 leaves the mask hard."""
    if blur <= 0:
        return mask.copy()
    soft = np.asarray(mask.filter(ImageFilter.GaussianBlur(blur / 2)), dtype=np.uint16)
    hard = np.asarray(mask)
    alpha = np.where(hard > 0, 255, np.minimum(255, soft * 2))
    return Image.fromarray(alpha.astype(np.uint8), "L")


def repaint_mask(hard: Image.Image, feathered: Image.Image) -> Image.Image:
    """What the pipeline repaints: everything the feathered alpha touches at all (so no seam is kept)."""
    both = np.maximum(np.asarray(hard), np.asarray(feathered))
    return Image.fromarray(np.where(both > 0, 255, 0).astype(np.uint8), "L")


# --- crop geometry ------------------------------------------------------------------------------------


def _grow_axis(lo: int, hi: int, want: int, limit: int) -> tuple[int, int]:
    """Grow [lo, hi) to length ``want`` around its centre, shifted to stay inside [0, limit)."""
    want = min(max(want, hi - lo), limit)
    extra = want - (hi - lo)
    lo -= extra // 2
    hi = lo + want
    if lo < 0:
        lo, hi = 0, want
    if hi > limit:
        lo, hi = limit - want, limit
    return lo, hi


def crop_region(
    mask_box: Box,
    image_size: tuple[int, int],
    padding: int,
    target: tuple[int, int],
    min_side: int = 64,
) -> Box:
    """The context region for "only masked".

    ``mask_box`` padded by ``padding`` on every side, at least ``min_side`` wide and high, grown
    toward the aspect of ``target`` (the generation size), both sides rounded up to multiples of 8,
    clamped to the picture (a side longer than the picture becomes the picture's side). Always
    contains ``mask_box``.
    """
    width, height = image_size
    tw, th = target
    left, top = mask_box.left - padding, mask_box.top - padding
    right, bottom = mask_box.right + padding, mask_box.bottom + padding
    w = max(right - left, min_side)
    h = max(bottom - top, min_side)
    if w * th < h * tw:  # too narrow for the target's aspect: widen
        w = int(np.ceil(h * tw / th))
    else:
        h = int(np.ceil(w * th / tw))
    w, h = round_up(w), round_up(h)
    cx_lo, cy_lo = max(left, 0), max(top, 0)
    cx_hi, cy_hi = min(right, width), min(bottom, height)
    x0, x1 = _grow_axis(cx_lo, cx_hi, w, width)
    y0, y1 = _grow_axis(cy_lo, cy_hi, h, height)
    return Box(x0, y0, x1, y1)


def generation_size(crop: tuple[int, int], target: tuple[int, int]) -> tuple[int, int]:
    """The size the model runs at for a crop: the target itself when the aspects match, otherwise the
    crop's aspect at about the target's area; multiples of 8, at least 64."""
    cw, ch = crop
    tw, th = target
    if cw * th == ch * tw:
        return tw, th
    scale = (tw * th / (cw * ch)) ** 0.5
    return round_to(cw * scale), round_to(ch * scale)


# --- pasting ------------------------------------------------------------------------------------------


def paste(original: Image.Image, generated: Image.Image, alpha: Image.Image, box: Box) -> Image.Image:
    """``generated`` (any size) scaled to ``box`` and blended into ``original`` through ``alpha``
    (the feathered mask, full picture size). Where ``alpha`` is 0 the original pixel is kept exactly."""
    original = original.convert("RGB")
    patch = generated.convert("RGB")
    if patch.size != (box.width, box.height):
        patch = patch.resize((box.width, box.height), Image.Resampling.LANCZOS)
    layer = original.copy()
    layer.paste(patch, (box.left, box.top))
    return Image.composite(layer, original, alpha)


# --- outpainting --------------------------------------------------------------------------------------


def outpaint_canvas(
    image: Image.Image,
    left: int,
    right: int,
    top: int,
    bottom: int,
    overlap: int = 8,
) -> tuple[Image.Image, Image.Image, Image.Image]:
    """(enlarged picture, hard mask, new area). The new area is filled by extending the edge pixels
    outward and blurring them (a neutral start for the model); the hard mask covers the new area plus
    ``overlap`` pixels into the old picture on every extended side."""
    rgb = np.asarray(image.convert("RGB"))
    h, w = rgb.shape[:2]
    padded = np.pad(rgb, ((top, bottom), (left, right), (0, 0)), mode="edge")
    canvas = Image.fromarray(padded, "RGB")
    new = np.ones((h + top + bottom, w + left + right), dtype=bool)
    new[top : top + h, left : left + w] = False
    radius = max(4, max(left, right, top, bottom) // 4)
    blurred = np.asarray(canvas.filter(ImageFilter.GaussianBlur(radius)))
    padded[new] = blurred[new]
    canvas = Image.fromarray(padded, "RGB")
    mask = new.copy()
    inner = (
        (left, slice(top, top + h), slice(left, left + min(overlap, w))),
        (right, slice(top, top + h), slice(left + w - min(overlap, w), left + w)),
        (top, slice(top, top + min(overlap, h)), slice(left, left + w)),
        (bottom, slice(top + h - min(overlap, h), top + h), slice(left, left + w)),
    )
    for amount, rows, cols in inner:
        if amount > 0:
            mask[rows, cols] = True
    def as_image(a: np.ndarray) -> Image.Image:
        return Image.fromarray(np.where(a, 255, 0).astype(np.uint8), "L")

    return canvas, as_image(mask), as_image(new)


def place_mask(mask: Image.Image, size: tuple[int, int], left: int, top: int) -> Image.Image:
    """A mask of the old picture placed on the enlarged canvas (the new area black)."""
    out = Image.new("L", size, 0)
    out.paste(mask, (left, top))
    return out


def union(a: Image.Image, b: Image.Image) -> Image.Image:
    return Image.fromarray(np.maximum(np.asarray(a), np.asarray(b)), "L")


def extends_for_aspect(width: int, height: int, aspect_w: int, aspect_h: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) pixels that grow a ``width`` × ``height`` picture to the aspect
    ``aspect_w`` : ``aspect_h`` (never shrinking it), split evenly between the two grown sides; the
    grown side is rounded up so the new size is a multiple of 8."""
    if width * aspect_h < height * aspect_w:  # too narrow: grow the width
        grow = round_up(int(np.ceil(height * aspect_w / aspect_h))) - width
        return grow // 2, grow - grow // 2, 0, 0
    grow = round_up(int(np.ceil(width * aspect_h / aspect_w))) - height
    return 0, 0, grow // 2, grow - grow // 2
