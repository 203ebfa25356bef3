"""Inpainting and outpainting engine (no Qt), on top of the image engine.

``InpaintEngine().run(request, runtime, cancel)`` yields the same events as
:class:`~studio.engines.image.ImageEngine` (it *is* one: loading, model cache, samplers, LoRAs, memory
plan, previews, progress and cancel are shared) and outputs the finished picture at the input's size
(outpainting: the enlarged size). The pixel work is in :mod:`studio.engines.inpaint_geometry`:

1. the picture and the mask are read (a mask of another size, an empty mask or a file that is not a
   picture is a one-line :class:`~studio.errors.InvalidRequest`); outpainting enlarges the picture,
   pre-fills the new area and adds it (plus a small overlap) to the mask;
2. the mask is feathered by ``mask_blur``; "only masked" crops a region around the mask's bounding box
   (``padding``, grown toward the generation size's aspect, multiples of 8, clamped to the picture),
   "whole" takes the whole picture;
3. the region is scaled to the generation size (``generation.width`` × ``generation.height`` for "only masked";
   the picture's aspect at about that area for "whole") and run through the inpainting pipeline —
   a dedicated 9-channel inpainting model, or an ordinary 4-channel model's pipeline made with
   ``from_pipe`` (no second copy of the weights);
4. the result is scaled back and pasted *through the feathered mask only*: every pixel outside it is the
   original, bit for bit.

The parameters of every result include the whole request, the crop box, the generation size and the
hard mask (a PNG, base64) so the library keeps what was repainted.
"""

from __future__ import annotations

import base64
import dataclasses
import io
from collections.abc import Generator
from dataclasses import dataclass

from ..errors import InvalidRequest
from ..library.inputs import open_picture
from ..events import Event, ImageStats, Output, Preview
from ..requests import ImageRequest, InpaintRequest
from . import inpaint_geometry as geo
from .base import CancelToken, Runtime
from .image import ImageEngine, Task
from .preflight import preflight_inpaint

PREVIEW_SIDE = 512  # live previews show the whole picture at most this large


def read_picture(path: str, what: str):
    """An RGB(A) picture from a file, through the one input module (its limits, FIFO-safe)."""
    return open_picture(path, what)


@dataclass
class InpaintPlan:
    """Everything decided before the model runs (pure pixels and geometry)."""

    original: object  # PIL RGB: the picture to edit (enlarged and pre-filled when outpainting)
    hard: object  # PIL L: 0 keep / 255 repaint, full picture size
    alpha: object  # PIL L: the feathered mask used for pasting
    box: geo.Box  # the region that is generated
    size: tuple[int, int]  # generation size (multiples of 8)
    outpaint: tuple[int, int, int, int]  # left, right, top, bottom
    _small: object = None  # the picture reduced for previews, made once

    def crop_inputs(self) -> dict:
        from PIL import Image

        region = self.box.as_tuple()
        image = self.original.crop(region)
        mask = geo.repaint_mask(self.hard, self.alpha).crop(region)
        if image.size != self.size:
            image = image.resize(self.size, Image.Resampling.LANCZOS)
            mask = mask.resize(self.size, Image.Resampling.NEAREST)
        return {"image": image, "mask_image": mask, "width": self.size[0], "height": self.size[1]}

    def crop_control(self, control):
        """A control map of the picture (any size: fitted to the picture) → of the region that is generated."""
        from PIL import Image

        if control.size != self.original.size:
            control = control.resize(self.original.size, Image.Resampling.LANCZOS)
        control = control.crop(self.box.as_tuple())
        return control.resize(self.size, Image.Resampling.LANCZOS) if control.size != self.size else control

    def preview(self, crop_preview, max_side: int = PREVIEW_SIDE):
        """A live preview of the whole result: the picture (reduced to ``max_side``) with the denoising
        crop's preview pasted where it goes (no mask blending: previews are rough anyway)."""
        from PIL import Image

        scale = min(1.0, max_side / max(self.original.size))
        if self._small is None:
            size = (max(1, round(self.original.width * scale)), max(1, round(self.original.height * scale)))
            self._small = self.original.resize(size, Image.Resampling.BILINEAR)
        out = self._small.copy()
        left, top = round(self.box.left * scale), round(self.box.top * scale)
        size = (max(1, round(self.box.width * scale)), max(1, round(self.box.height * scale)))
        out.paste(crop_preview.convert("RGB").resize(size, Image.Resampling.BILINEAR), (left, top))
        return out

    def finish(self, generated, params: dict):
        picture = geo.paste(self.original, generated, self.alpha, self.box)
        params = {
            **params,
            "width": picture.width,
            "height": picture.height,
            "generation_width": self.size[0],
            "generation_height": self.size[1],
            "crop_box": list(self.box.as_tuple()),
            "outpaint": dict(zip(("left", "right", "top", "bottom"), self.outpaint)),
            "mask_png": mask_png_b64(self.hard),
        }
        return picture, params


def mask_png_b64(mask) -> str:
    buf = io.BytesIO()
    mask.convert("1").save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plan(request: InpaintRequest) -> InpaintPlan:
    """Read the picture and mask and decide the geometry (raises InvalidRequest for bad input)."""
    picture = read_picture(request.image, "picture to edit").convert("RGB")
    if request.mask:
        hard = geo.to_hard_mask(read_picture(request.mask, "mask"))
        if hard.size != picture.size:
            raise InvalidRequest(
                f"The mask is {hard.width}×{hard.height} but the picture is {picture.width}×{picture.height}: "
                "they must be the same size."
            )
        if geo.mask_bbox(hard) is None and not any(request.extends):
            raise InvalidRequest("The mask is empty (all black): paint white where the picture should change.")
    else:
        hard = geo.Image.new("L", picture.size, 0)
    left, right, top, bottom = request.extends
    new_area = None
    if any(request.extends):
        overlap = max(8, request.mask_blur)
        picture, ring, new_area = geo.outpaint_canvas(picture, left, right, top, bottom, overlap=overlap)
        if picture.width > 4096 or picture.height > 4096:
            raise InvalidRequest(f"The extended picture would be {picture.width}×{picture.height}; at most 4096×4096.")
        hard = geo.union(geo.place_mask(hard, picture.size, left, top), ring)
    alpha = geo.feather(hard, request.mask_blur)
    if new_area is not None:  # the pre-filled area is always repainted in full
        alpha = geo.union(alpha, new_area)
    target = (request.generation.width, request.generation.height)
    if request.inpaint_area == "whole":
        box = geo.Box(0, 0, picture.width, picture.height)
    else:
        bbox = geo.mask_bbox(alpha)
        box = geo.crop_region(bbox, picture.size, request.padding, target, min_side=min(target) // 4)
    size = geo.generation_size((box.width, box.height), target)
    return InpaintPlan(picture, hard, alpha, box, size, request.extends)


class InpaintEngine(ImageEngine):
    kind = "inpaint"
    preflight = staticmethod(preflight_inpaint)

    def run(self, request: InpaintRequest, runtime: Runtime, cancel: CancelToken) -> Generator[Event, None, ImageStats]:
        self.preflight(request)
        job = plan(request)
        base: ImageRequest = request.generation.replace(width=job.size[0], height=job.size[1], init_image="")

        params = request.to_dict()  # flat: the image parameters, then what inpainting adds

        def make_task(_: ImageRequest) -> Task:
            return Task("inpaint", job.crop_inputs(), strength=base.strength, params=params, finish=job.finish,
                        control_transform=job.crop_control)

        cancel.check()
        if base.endpoint:  # on a ComfyUI server: the same crop and mask, uploaded; the result pasted back here
            events = self._on_comfyui(base, job, params, runtime, cancel)
        else:
            events = self.generate(base, runtime, cancel, make_task)
        try:
            while True:  # previews show the whole picture, not only the crop being denoised
                try:
                    ev = next(events)
                except StopIteration as stop:
                    stats = stop.value
                    break
                yield Preview(image=job.preview(ev.image), step=ev.step, index=ev.index) if isinstance(ev, Preview) else ev
        finally:
            events.close()  # closed early by our consumer: stop the pipeline too
        return dataclasses.replace(stats, crop_box=tuple(job.box.as_tuple()), generation_size=tuple(job.size))

    @staticmethod
    def _on_comfyui(base: ImageRequest, job: InpaintPlan, params: dict, runtime: Runtime, cancel: CancelToken):
        from .remote.comfyui import run_comfyui

        crop = job.crop_inputs()
        events = run_comfyui(base, runtime, cancel, init_image=crop["image"], mask=crop["mask_image"], params=params)
        try:
            while True:
                try:
                    ev = next(events)
                except StopIteration as stop:
                    return stop.value
                if isinstance(ev, Output):
                    picture, item = job.finish(ev.data, ev.params)
                    ev = Output(ev.media, picture, item, ev.index)
                yield ev
        finally:
            events.close()
