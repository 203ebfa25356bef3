"""The Canvas tab's files: opening pictures and documents, pasting, saving, exporting, handing the
picture to the Image tab, and the minute-by-minute autosave with its recovery offer.

A mixin of :class:`~studio.ui.canvas.tab.CanvasTab` (it uses the tab's document, view, panel, undo stack,
library, host and message helpers).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, Slot
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog

from ...errors import StudioError
from ...library.atomic import atomic_write_bytes
from ...library.inputs import MAX_PICTURE_SIDE as MAX_SIDE  # one limit for every picture Studio opens
from ...library.targets import check_output
from ..image.widgets import IMAGE_FILTER, local_image_paths, read_qimage
from .document import SUFFIX, CanvasDocument, autosave_path

DOC_FILTER = f"Canvas documents (*{SUFFIX});;All files (*)"


def png_bytes(image: QImage) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(buffer.data())


class CanvasFiles:
    # --- documents and pictures -------------------------------------------------------------------------------
    def set_document(self, doc: CanvasDocument) -> None:
        self.discard_candidates()
        self.undo_stack.clear()
        self.doc.changed.disconnect(self.view.on_changed)
        self.doc.resized.disconnect(self.view.on_resized)
        self.doc = doc
        self.view.set_document(doc)
        if doc.params:
            self.panel.set_params(doc.params)
        self.view.fit()

    def open_image(self, path: str | Path, mask: QImage | None = None) -> bool:
        image = read_qimage(path)
        if image.isNull():
            self._warn(f"Can't open '{Path(path).name}': not a picture Qt can read.")
            return False
        return self.set_picture(image, mask, Path(path).name)

    def set_picture(self, image: QImage, mask: QImage | None = None, name: str = "picture") -> bool:
        if max(image.width(), image.height()) > MAX_SIDE:
            self._warn(f"'{name}' is {image.width()}×{image.height()}; the Canvas opens pictures up to {MAX_SIDE} pixels a side.")
            return False
        doc = CanvasDocument(image)
        if mask is not None:
            doc.mask.set_grey(mask)
        self.set_document(doc)
        self._say(f"Opened {name} ({image.width()}×{image.height()}).")
        return True

    def open_path(self, path: str | Path) -> bool:
        """A picture or a ``.studio-canvas`` document."""
        if str(path).endswith(SUFFIX):
            try:
                doc = CanvasDocument.load(path)
            except ValueError as exc:
                self._warn(str(exc))
                return False
            self.set_document(doc)
            self._say(f"Opened {Path(path).name}.")
            return True
        return self.open_image(path)

    @Slot()
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open", "", f"{DOC_FILTER.split(';;')[0]};;{IMAGE_FILTER}")
        if path:
            self.open_path(path)

    @Slot()
    def paste(self) -> bool:
        mime = QGuiApplication.clipboard().mimeData()
        paths_ = local_image_paths(mime)
        if paths_:
            return self.open_image(paths_[0])
        if mime is not None and mime.hasImage():
            image = QImage(QGuiApplication.clipboard().image())
            if not image.isNull():
                return self.set_picture(image, name="the pasted picture")
        self._warn("The clipboard holds no picture.")
        return False

    def save_document(self, path: str | Path) -> Path:
        self.doc.params = self.panel.params()
        path = Path(path)
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        self.doc.save(path)
        self._drop_autosave()
        self._say(f"Saved {path.name}.")
        return path

    @Slot()
    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save Canvas document", str(self.doc.path or ""), DOC_FILTER)
        if path:
            self.save_document(path)

    def export_png(self, path: str | Path) -> bool:
        """Write the picture as PNG under the CLI's --out rules (symlinks followed, devices written
        through, folders and other formats refused)."""
        try:
            out = check_output(path, {".png": "PNG"}, flag="Export PNG")
            atomic_write_bytes(out.path, png_bytes(self.doc.image))
        except (StudioError, OSError) as exc:
            self._warn(f"Could not write '{path}': {exc}")
            return False
        self._say(f"Exported {Path(path).name}.")
        return True

    @Slot()
    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export PNG", "", "PNG (*.png)")
        if path:
            self.export_png(path)

    def _work_file(self, name: str) -> Path:
        folder = Path(self.library.root) / "inputs"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"canvas-{time.strftime('%Y%m%d-%H%M%S')}-{int(time.time() * 1000) % 1000:03d}-{name}.png"

    @Slot()
    def send_to_image(self) -> bool:
        path = self._work_file("picture")
        self.doc.image.save(str(path), "PNG")
        ok = self.host.send_image("image", str(path))
        if not ok:
            self._warn("The Image tab did not take the picture.")
        return ok


    # --- autosave and recovery ------------------------------------------------------------------------------------------
    @Slot()
    def autosave(self) -> bool:
        if not self.doc.dirty:
            return False
        self.doc.params = self.panel.params()
        self.doc.save(autosave_path(), mark_clean=False)
        return True

    def _offer_recovery(self) -> None:
        path = autosave_path()
        if path.exists():
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
            self.recovery_label.setText(f"A Canvas document from {when} was not saved. Recover it?")
            self.recovery.show()

    @Slot()
    def recover(self) -> bool:
        self.recovery.hide()
        try:
            doc = CanvasDocument.load(autosave_path())
        except ValueError as exc:
            self._warn(f"The autosaved document can't be read: {exc}")
            return False
        doc.path = None
        doc.dirty = True
        self.set_document(doc)
        self._say("Recovered the autosaved document; save it to keep it.")
        return True

    @Slot()
    def drop_recovery(self) -> None:
        self.recovery.hide()
        self._drop_autosave()

    def _drop_autosave(self) -> None:
        autosave_path().unlink(missing_ok=True)

    @Slot()
    def on_quit(self) -> None:
        """A clean exit: keep the autosave only when there are unsaved changes."""
        if self.doc.dirty:
            self.autosave()
        else:
            self._drop_autosave()
