"""PNG metadata: write our JSON (and, for images, an AUTOMATIC1111 `parameters` chunk); read it back."""

from __future__ import annotations

import io

from .store import to_json


def png_bytes(image, params: dict) -> bytes:
    """The PNG file for ``image`` with ``params`` embedded as text chunks."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("studio", to_json(params))
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()
