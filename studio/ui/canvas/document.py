"""A Canvas document: the picture, its mask, what was applied to it, and the inpaint parameters.

Saved as one file (a zip: ``picture.png``, ``mask.png``, ``document.json`` with the applied history
and the parameters); :func:`autosave_path` is where the tab autosaves every minute, so a crash loses
at most a minute and the next start offers to recover it.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QRect, Signal
from PySide6.QtGui import QImage

from ... import paths
from ...library.atomic import atomic_write_bytes
from .mask import MaskLayer

SUFFIX = ".studio-canvas"
FORMAT = 1


def autosave_path() -> Path:
    return paths.data_dir() / "canvas" / f"autosave{SUFFIX}"


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    buf.close()
    return bytes(data.data())


def image_from_bytes(data: bytes, what: str) -> QImage:
    image = QImage()
    if not image.loadFromData(data):
        raise ValueError(f"the {what} in this document is not a readable picture")
    return image


class CanvasDocument(QObject):
    """The picture (RGB32), the mask layer, the applied history and the last parameters."""

    changed = Signal(QRect)  # picture or mask pixels changed in this rectangle
    resized = Signal()  # a new picture size (new document, outpaint applied, undo of it)

    def __init__(self, image: QImage | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if image is None:
            image = QImage(512, 512, QImage.Format.Format_RGB32)
            image.fill(0xFFFFFFFF)
        self.image = image.convertToFormat(QImage.Format.Format_RGB32)
        self.mask = MaskLayer(self.image.width(), self.image.height())
        self.history: list[dict] = []  # what was applied: {"time", "params"}
        self.params: dict = {}  # the inpaint form's values when saved
        self.path: Path | None = None
        self.dirty = False

    # --- changes (called by the undo commands) ---------------------------------------------------------
    def set_state(self, image: QImage, mask: QImage, history: list[dict]) -> None:
        """Replace picture, mask pixels and history at once (applied results, outpaint, undo of those)."""
        resized = image.size() != self.image.size()
        self.image = image
        self.mask.image = mask
        self.history = list(history)
        self.touch(self.image.rect())
        if resized:
            self.resized.emit()

    def touch(self, rect: QRect) -> None:
        self.dirty = True
        self.changed.emit(rect)

    @property
    def size(self) -> tuple[int, int]:
        return self.image.width(), self.image.height()

    # --- files -----------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        meta = {"format": FORMAT, "saved": time.time(), "history": self.history, "params": self.params,
                "size": list(self.size)}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("picture.png", png_bytes(self.image))
            z.writestr("mask.png", png_bytes(self.mask.to_grey()))
            z.writestr("document.json", json.dumps(meta, indent=1, default=str))
        return buf.getvalue()

    def save(self, path: str | Path, *, mark_clean: bool = True) -> Path:
        path = Path(path)
        atomic_write_bytes(path, self.to_bytes())
        if mark_clean:
            self.path = path
            self.dirty = False
        return path

    @classmethod
    def load(cls, path: str | Path) -> CanvasDocument:
        """Open a saved document; a file that is not one raises ValueError with a one-line reason."""
        path = Path(path)
        try:
            with zipfile.ZipFile(path) as z:
                meta = json.loads(z.read("document.json").decode("utf-8"))
                picture = image_from_bytes(z.read("picture.png"), "picture")
                mask = image_from_bytes(z.read("mask.png"), "mask")
        except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"'{path.name}' is not a Canvas document ({type(exc).__name__})") from None
        if not isinstance(meta, dict):
            raise ValueError(f"'{path.name}' is not a Canvas document")
        doc = cls(picture)
        if mask.size() != picture.size():
            raise ValueError(f"'{path.name}': the mask and the picture differ in size")
        doc.mask.set_grey(mask)
        history = meta.get("history")
        params = meta.get("params")
        doc.history = history if isinstance(history, list) else []
        doc.params = params if isinstance(params, dict) else {}
        doc.path = path
        return doc
