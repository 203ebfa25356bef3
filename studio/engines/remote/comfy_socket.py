"""What a ComfyUI server says on its websocket (``/ws?clientId=…``) while it runs one prompt, as Studio's events.

Text messages are JSON ``{"type", "data"}``: ``status``, ``execution_start``, ``execution_cached``,
``executing`` (``node`` null = the prompt finished, in every ComfyUI), ``progress`` (``value`` of ``max``,
with ``node``), ``executed``, ``execution_success`` (newer ComfyUI), ``execution_error``,
``execution_interrupted``.

Binary messages start with a 4-byte big-endian event type:

* 1 ``PREVIEW_IMAGE``: a 4-byte image format (1 JPEG, 2 PNG), then the image;
* 4 ``PREVIEW_IMAGE_WITH_METADATA`` (ComfyUI 2025 and later): a 4-byte metadata length, that much JSON
  (``node_id``, ``prompt_id``, ``image_type`` …), then the image;
* 3 ``TEXT`` and anything else: ignored.

A frame that is truncated, not an image, or an image too large to be a preview is skipped; the job goes on.
Frames are decoded here, in the engine's worker thread, never on the UI thread.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Generator

from ...cancel import CancelToken
from ...errors import Cancelled, ServerError
from ...events import Event, Preview, Progress
from . import server_errors as errs

PREVIEW_IMAGE = 1
TEXT = 3
PREVIEW_IMAGE_WITH_METADATA = 4
MAX_PREVIEW_PIXELS = 4096 * 4096  # bigger than any preview; a larger "preview" is not decoded
MAX_MESSAGE_BYTES = 64 * 2**20  # the websocket refuses a larger message (a hostile or broken server)


def preview_of(frame: bytes, prompt_id: str | None = None):
    """The RGB picture in a binary websocket frame, or None (not a preview, another prompt's, or damaged)."""
    from PIL import Image

    if len(frame) < 8:
        return None
    (event,) = struct.unpack(">I", frame[:4])
    if event == PREVIEW_IMAGE:
        data = frame[8:]
    elif event == PREVIEW_IMAGE_WITH_METADATA:
        (size,) = struct.unpack(">I", frame[4:8])
        if size > len(frame) - 8:
            return None
        try:
            meta = json.loads(frame[8:8 + size])
        except ValueError:
            return None
        if prompt_id is not None and isinstance(meta, dict) and meta.get("prompt_id") not in (None, prompt_id):
            return None
        data = frame[8 + size:]
    else:
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_PREVIEW_PIXELS:
                return None
            return im.convert("RGB")
    except Exception:  # not an image, a truncated one, a decompression bomb: no preview, the job goes on
        return None


def follow(ws, prompt_id: str, cancel: CancelToken, *, interrupt, url: str, index: int = 0, total_steps: int = 0,
           done_before: int = 0, progress_node: str | None = None) -> Generator[Event, None, None]:
    """The websocket's messages for ``prompt_id`` as events until the prompt finished.

    ``progress`` counts only from ``progress_node`` when given (a VAE decode or an upscale reports its own
    progress too), as ``done_before + value`` of ``total_steps`` (or of the server's ``max``). Stop calls
    ``interrupt()`` and raises :class:`Cancelled`; an error on the server raises :class:`ServerError`."""
    from websockets.exceptions import ConnectionClosed

    step = 0
    while True:
        if cancel.cancelled:
            interrupt()
            raise Cancelled()
        try:
            message = ws.recv(timeout=0.1)
        except TimeoutError:
            continue
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == 1009:  # 1009: message too big
                raise ServerError(f"ComfyUI at {url} sent a websocket message over {MAX_MESSAGE_BYTES // 2**20} MiB; "
                                  "Studio closed the connection. Check the server's custom nodes.") from None
            raise ServerError(f"ComfyUI at {url} closed the connection during the job. Check that it is "
                              "still running, then try again.") from None
        if isinstance(message, bytes):
            image = preview_of(message, prompt_id)
            if image is not None:
                yield Preview(image=image, step=step, index=index)
            continue
        try:
            msg = json.loads(message)
        except ValueError:
            continue
        if not isinstance(msg, dict) or not isinstance(msg.get("data") or {}, dict):
            continue
        kind, data = msg.get("type"), msg.get("data") or {}
        if data.get("prompt_id") != prompt_id:
            continue  # a status message, or another client's job on a shared server
        if kind == "progress":
            if progress_node is not None and data.get("node") not in (None, progress_node):
                continue
            try:
                step, most = int(data.get("value", 0)), int(data.get("max", 0))
            except (TypeError, ValueError):
                continue
            yield Progress(done_before + step, total_steps or most, "generate")
        elif kind == "execution_error":
            node = data.get("node_type") or data.get("node_id") or "a node"
            raise ServerError(
                f"ComfyUI failed in {node} (node {data.get('node_id', '?')}): "
                f"{errs.short(data.get('exception_message') or data.get('exception_type') or 'no reason given', 300)}"
            )
        elif kind == "execution_interrupted":
            if cancel.cancelled:
                raise Cancelled()
            raise ServerError(f"The job was interrupted on the ComfyUI server at {url} (someone pressed "
                              "Cancel there). Try again.")
        elif kind == "execution_success" or (kind == "executing" and data.get("node") is None):
            return
