"""Images in the Image tab and the small widgets that show or take them: reading image files and
converting PIL images to QImages, the scaled image view, drop zones and the init-image box.

Qt only; no PIL import here (PIL images arrive from the engine and are converted with their own
methods), no torch. The settings column's own widgets (the "Advanced" section, the LoRA list, size
presets) are in :mod:`studio.ui.image.form_widgets`.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from PySide6.QtCore import QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QGuiApplication, QImage, QImageReader, QPainter, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff);;All files (*)"

# --- images ---------------------------------------------------------------------------------------


def pil_to_qimage(image) -> QImage:
    """A QImage that owns its pixels, from a PIL image (any mode)."""
    if image.mode != "RGBA":
        image = image.convert("RGBA")
    data = image.tobytes("raw", "RGBA")
    qimage = QImage(data, image.width, image.height, image.width * 4, QImage.Format.Format_RGBA8888)
    return qimage.copy()  # detach from `data`, which Python frees after this call


def read_qimage(path: str | Path, max_side: int = 0) -> QImage:
    """Read an image file (optionally scaled while decoding so its longer side ≤ ``max_side``); a null
    QImage for anything but a regular file (opening a FIFO would block until a writer came)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return QImage()
    except (OSError, ValueError):
        return QImage()
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    if max_side:
        size = reader.size()
        if size.isValid() and max(size.width(), size.height()) > max_side:
            reader.setScaledSize(size.scaled(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


def local_image_paths(mime) -> list[str]:
    """Local image files named by a drag's or clipboard's mime data."""
    out = []
    if mime is not None and mime.hasUrls():
        for url in mime.urls():
            if url.isLocalFile() and url.toLocalFile().lower().endswith(IMAGE_SUFFIXES):
                out.append(url.toLocalFile())
    return out


class ImageView(QWidget):
    """Shows one image scaled to fit (smoothly, centred, never up-scaled blurry past 4×), with an
    optional caption; a placeholder text when empty."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self._placeholder = placeholder
        self._caption = ""
        self.setMinimumSize(240, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAutoFillBackground(False)

    def set_image(self, image: QImage | QPixmap | None, caption: str = "") -> None:
        if image is None or image.isNull():
            self._pixmap = None
        else:
            self._pixmap = image if isinstance(image, QPixmap) else QPixmap.fromImage(image)
        self._caption = caption
        self.update()

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.update()

    def caption(self) -> str:
        return self._caption

    def pixmap(self) -> QPixmap | None:
        return self._pixmap

    def has_image(self) -> bool:
        return self._pixmap is not None

    def image_rect(self) -> QRectF:
        """Where the image is drawn (fit inside the widget, at most 4× its own size)."""
        if self._pixmap is None:
            return QRectF()
        pw, ph = self._pixmap.width(), self._pixmap.height()
        scale = min(self.width() / pw, self.height() / ph, 4.0)
        w, h = pw * scale, ph * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#1e1f22"))
        if self._pixmap is None:
            p.setPen(QColor("#8a8d93"))
            p.drawText(self.rect().adjusted(24, 24, -24, -24), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder)
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawPixmap(self.image_rect(), self._pixmap, QRectF(self._pixmap.rect()))
        if self._caption:
            metrics = p.fontMetrics()
            text = metrics.elidedText(self._caption, Qt.TextElideMode.ElideRight, self.width() - 24)
            box = QRectF(8, self.height() - metrics.height() - 14, metrics.horizontalAdvance(text) + 12, metrics.height() + 6)
            p.fillRect(box, QColor(0, 0, 0, 150))
            p.setPen(QColor("#f0f0f0"))
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


class DropFrame(QFrame):
    """A dashed area that takes dropped image files (and dropped image data)."""

    file_dropped = Signal(str)
    image_dropped = Signal(QImage)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setObjectName("dropFrame")
        self._set_hover(False)

    def _set_hover(self, on: bool) -> None:
        colour = "#3d7bd9" if on else "#8a8d93"
        background = "rgba(61,123,217,0.10)" if on else "transparent"
        self.setStyleSheet(
            f"QFrame#dropFrame {{ border: 1px dashed {colour}; border-radius: 6px; background: {background}; }}"
        )

    @staticmethod
    def accepts(mime) -> bool:
        return bool(local_image_paths(mime)) or (mime is not None and mime.hasImage())

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self.accepts(event.mimeData()):
            event.acceptProposedAction()
            self._set_hover(True)
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._set_hover(False)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._set_hover(False)
        mime = event.mimeData()
        paths = local_image_paths(mime)
        if paths:
            event.acceptProposedAction()
            self.file_dropped.emit(paths[0])
        elif mime is not None and mime.hasImage():
            image = mime.imageData()
            if isinstance(image, QImage) and not image.isNull():
                event.acceptProposedAction()
                self.image_dropped.emit(image)
        else:
            event.ignore()


class InitImageBox(QWidget):
    """The image-to-image input: drop a file or image, paste (Ctrl+V), Open…, Clear.

    Pasted or dropped image *data* is written as a PNG under ``inputs_dir()`` because a request
    carries a path. ``changed(path)`` fires with "" when cleared; ``error(message)`` when a file
    could not be read.
    """

    changed = Signal(str)
    error = Signal(str)

    def __init__(self, inputs_dir, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._inputs_dir = inputs_dir
        self._path = ""
        self.frame = DropFrame()
        self.frame.setMinimumHeight(96)
        self.thumb = QLabel()
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setFixedSize(88, 88)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        inner = QHBoxLayout(self.frame)
        inner.setContentsMargins(6, 4, 6, 4)
        inner.addWidget(self.thumb)
        inner.addWidget(self.text, 1)
        self.open_button = QPushButton("Open…")
        self.open_button.clicked.connect(self._open_dialog)
        self.paste_button = QPushButton("Paste")
        self.paste_button.setToolTip("Paste an image or an image file from the clipboard (Ctrl+V)")
        self.paste_button.clicked.connect(self.paste)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.paste_button)
        buttons.addStretch(1)
        buttons.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.frame)
        layout.addLayout(buttons)
        self.frame.file_dropped.connect(self.set_path)
        self.frame.image_dropped.connect(self.set_qimage)
        self._show()

    def path(self) -> str:
        return self._path

    @Slot(str)
    def set_path(self, path: str) -> bool:
        """Use the image file at ``path``; False (and ``error``) when it is not a readable image."""
        path = str(path or "")
        if not path:
            self.clear()
            return True
        image = read_qimage(path, 176)
        if image.isNull():
            self.error.emit(f"⚠ Can't use '{Path(path).name}' for image-to-image: not a readable image.")
            return False
        self._path = str(Path(path).expanduser())
        self._show(image)
        self.changed.emit(self._path)
        return True

    @Slot(QImage)
    def set_qimage(self, image: QImage) -> bool:
        """Use image data (pasted or dropped from another application): saved as a PNG first."""
        if image is None or image.isNull():
            return False
        folder = Path(self._inputs_dir())
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.error.emit(f"⚠ Can't keep the pasted image: {exc}")
            return False
        target = folder / f"pasted-{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 100000:05d}.png"
        if not image.save(str(target), "PNG"):
            self.error.emit(f"⚠ Can't write the pasted image to {target}.")
            return False
        return self.set_path(str(target))

    @Slot()
    def paste(self) -> bool:
        """Take an image file or image data from the clipboard; False when it holds neither."""
        mime = QGuiApplication.clipboard().mimeData()
        paths = local_image_paths(mime)
        if paths:
            return self.set_path(paths[0])
        if mime is not None and mime.hasImage():
            return self.set_qimage(QGuiApplication.clipboard().image())
        self.error.emit("The clipboard holds no image to paste.")
        return False

    @Slot()
    def clear(self) -> None:
        changed = bool(self._path)
        self._path = ""
        self._show()
        if changed:
            self.changed.emit("")

    @Slot()
    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Image for image-to-image", "", IMAGE_FILTER)
        if path:
            self.set_path(path)

    def _show(self, image: QImage | None = None) -> None:
        if not self._path or image is None:
            self.thumb.clear()
            self.thumb.setVisible(False)
            self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.text.setText(
                "<span style='color:#8a8d93'>Drop or paste (Ctrl+V) a picture here<br>"
                "to start from it instead of noise</span>"
            )
            self.text.setToolTip("")
            self.clear_button.setEnabled(False)
            return
        self.thumb.setVisible(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        pixmap = QPixmap.fromImage(image).scaled(
            self.thumb.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.thumb.setPixmap(pixmap)
        full = QImageReader(self._path).size()
        size = f"{full.width()}×{full.height()}" if full.isValid() else ""
        self.text.setText(f"<b>{Path(self._path).name}</b><br><span style='color:#8a8d93'>{size} · resized to the output size</span>")
        self.text.setToolTip(self._path)
        self.clear_button.setEnabled(True)


__all__ = [
    "DropFrame",
    "IMAGE_FILTER",
    "ImageView",
    "InitImageBox",
    "local_image_paths",
    "pil_to_qimage",
    "read_qimage",
]
