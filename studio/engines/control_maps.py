"""ControlNet preprocessors: a picture → the control map a ControlNet reads (numpy and PIL; no Qt, no OpenCV).

* ``canny``: a real Canny edge detector: Sobel gradient, non-maximum suppression along the gradient's
  direction, and hysteresis with ``low``/``high`` thresholds (on the L1 gradient magnitude, as OpenCV's
  default, so A1111's 100/200 mean the same here); white edges on black.
* ``scribble``: an XDoG sketch (difference of two Gaussian blurs, thresholded): white strokes on black.
* ``lineart``: A1111's model-free "lineart standard": how much darker each pixel is than its
  neighbourhood, normalised; white lines on black.
* ``tile``: the picture itself (the tile ControlNet reads the picture, the model adds detail).
* ``shuffle``: the picture's content moved along a smooth random flow (seeded: the same map every time).
* ``depth``: Depth Anything through transformers (:func:`depth_map`, a model the engine loads).
* ``none``: the picture already is a control map.

:func:`read_control_image` opens any picture Pillow reads (grayscale, RGBA on white, 16-bit scaled to
8 bits) as RGB, bounded like every input.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path

from ..errors import InvalidRequest
from ..library.inputs import check_input_file

#: the largest control picture read (pixels): 8192² like the Canvas
MAX_PIXELS = 8192 * 8192


def read_control_image(path: str | Path, what: str = "control image"):
    """The picture at ``path`` as 8-bit RGB (16-bit scaled, alpha composed on white); one line when unreadable."""
    import numpy as np
    from PIL import Image

    source = check_input_file(path, what)
    try:
        with Image.open(source) as im:
            if im.width * im.height > MAX_PIXELS:
                raise InvalidRequest(
                    f"The {what} '{path}' is {im.width}×{im.height}: too large (at most {MAX_PIXELS:,} pixels)."
                )
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                data = np.asarray(im, dtype=np.float64)
                top = 65535.0 if im.mode.startswith("I;16") or data.max() > 255 else 255.0
                im = Image.fromarray((data / top * 255.0).clip(0, 255).astype(np.uint8), "L")
            elif im.mode == "F":
                data = np.asarray(im, dtype=np.float64)
                span = float(data.max() - data.min()) or 1.0
                im = Image.fromarray(((data - data.min()) / span * 255.0).astype(np.uint8), "L")
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                return Image.alpha_composite(white, rgba).convert("RGB")
            return im.convert("RGB")
    except InvalidRequest:
        raise
    except Exception as exc:
        raise InvalidRequest(f"Can't read the {what} '{path}' ({type(exc).__name__}: {str(exc)[:160]}).") from None


def _gray(image):
    import numpy as np

    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _to_image(values):
    import numpy as np
    from PIL import Image

    plane = np.clip(values, 0, 255).astype(np.uint8)
    return Image.fromarray(np.stack([plane] * 3, axis=-1), "RGB")


def _sobel(gray):
    """Horizontal and vertical 3×3 Sobel derivatives (edges replicated)."""
    import numpy as np

    p = np.pad(gray, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    return gx, gy


def _non_maximum(mag, gx, gy):
    """Keep a pixel only where its magnitude is a maximum along the gradient (4 direction bins)."""
    import numpy as np

    p = np.pad(mag, 1)
    center = p[1:-1, 1:-1]
    angle = (np.degrees(np.arctan2(gy, gx)) + 180.0) % 180.0
    # neighbours along the gradient: 0° → left/right, 45° → diagonal, 90° → up/down, 135° → anti-diagonal
    pairs = {
        0: (p[1:-1, :-2], p[1:-1, 2:]),
        45: (p[:-2, :-2], p[2:, 2:]),
        90: (p[:-2, 1:-1], p[2:, 1:-1]),
        135: (p[:-2, 2:], p[2:, :-2]),
    }
    bins = (np.floor((angle + 22.5) / 45.0).astype(int) % 4) * 45
    keep = np.zeros(mag.shape, dtype=bool)
    for direction, (before, after) in pairs.items():
        sel = bins == direction
        keep |= sel & (center > before) & (center >= after)
    return keep


def _hysteresis(strong, weak):
    """Weak pixels connected (8-neighbourhood) to a strong one, and the strong ones."""
    import numpy as np

    out = strong.copy()
    h, w = weak.shape
    queue = deque(zip(*np.nonzero(strong)))
    while queue:
        y, x = queue.popleft()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                ny, nx = y + dy, x + dx
                if 0 <= ny < h and 0 <= nx < w and weak[ny, nx] and not out[ny, nx]:
                    out[ny, nx] = True
                    queue.append((ny, nx))
    return out


def canny(image, low: int = 100, high: int = 200):
    """Canny edges of ``image`` (white on black, RGB)."""
    import numpy as np

    if low > high:
        low, high = high, low
    gx, gy = _sobel(_gray(image))
    mag = np.abs(gx) + np.abs(gy)
    thin = _non_maximum(mag, gx, gy)
    edges = _hysteresis(thin & (mag > high), thin & (mag > low))
    return _to_image(edges.astype(np.float32) * 255.0)


def _blur(values, sigma: float):
    """A separable Gaussian blur of a 2-D float array (edges reflected), radius 3σ."""
    import numpy as np

    radius = max(1, int(math.ceil(3.0 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-(x * x) / (2.0 * sigma * sigma))
    kernel /= kernel.sum()
    out = values.astype(np.float32)
    for axis in (0, 1):
        n = out.shape[axis]
        pad = [(0, 0), (0, 0)]
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect" if n > radius else "edge")
        acc = np.zeros_like(out)
        for k, weight in enumerate(kernel):
            acc += weight * (padded[k : k + n] if axis == 0 else padded[:, k : k + n])
        out = acc
    return out


def scribble(image, threshold: float = 32.0):
    """An XDoG sketch: where a fine blur is darker than a wide one by more than ``threshold``/2."""
    import numpy as np

    gray = _gray(image)
    dog = _blur(gray, 5.0) - _blur(gray, 0.5)
    return _to_image(np.where(2.0 * dog > threshold, 255.0, 0.0))


def lineart(image):
    """A1111's "lineart standard": darkness against the neighbourhood, normalised to 0…255."""
    import numpy as np

    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    wide = np.stack([_blur(rgb[..., c], 6.0) for c in range(3)], axis=-1)
    intensity = np.clip(np.min(wide - rgb, axis=2), 0, 255)
    visible = intensity[intensity > 8]
    scale = max(16.0, float(np.median(visible))) if visible.size else 16.0
    return _to_image(intensity / scale * 127.0)


def shuffle(image, seed: int = 0, cell: int = 256):
    """The picture's content moved along a smooth random flow (a seeded "content shuffle")."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(image.convert("RGB"))
    h, w = rgb.shape[:2]
    rng = np.random.default_rng(seed)
    coarse = (max(2, h // cell + 2), max(2, w // cell + 2))
    flows = []
    for size in (h, w):
        noise = rng.random(coarse).astype(np.float32)
        smooth = np.asarray(Image.fromarray(noise, "F").resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
        smooth = (smooth - smooth.min()) / (float(smooth.max() - smooth.min()) or 1.0)
        flows.append(np.clip((smooth * (size - 1)).round().astype(int), 0, size - 1))
    return Image.fromarray(rgb[flows[0], flows[1]], "RGB")


def preprocess(image, mode: str, *, low: int = 100, high: int = 200, depth=None):
    """The control map of ``image`` for ``mode`` (see the module doc); ``depth`` estimates depth for 'depth'."""
    if mode == "canny":
        return canny(image, low, high)
    if mode == "scribble":
        return scribble(image)
    if mode == "lineart":
        return lineart(image)
    if mode == "shuffle":
        return shuffle(image)
    if mode == "depth":
        if depth is None:
            raise InvalidRequest("The depth preprocessor needs a depth model (Depth Anything from the catalog).")
        return depth(image)
    if mode in ("tile", "none"):
        return image.convert("RGB")
    raise InvalidRequest(f"unknown preprocessor {mode!r}.")


def depth_map(image, estimator):
    """Depth as a control map: ``estimator`` is (model, processor) of a transformers depth model;
    near is white, far is black (as the depth ControlNets were trained)."""
    import numpy as np
    import torch

    model, processor = estimator
    inputs = processor(images=image.convert("RGB"), return_tensors="pt")
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    inputs = {k: (v.to(device, dtype) if v.is_floating_point() else v.to(device)) for k, v in inputs.items()}
    with torch.inference_mode():
        predicted = model(**inputs).predicted_depth
    predicted = torch.nn.functional.interpolate(
        predicted[:, None].float(), size=(image.height, image.width), mode="bicubic", align_corners=False
    )[0, 0].cpu().numpy()
    span = float(predicted.max() - predicted.min()) or 1.0
    return _to_image((predicted - predicted.min()) / span * 255.0)
