"""The Canvas tab's files: opening pictures and documents, pasting, saving, exporting, handing the
picture to the Image tab, and the minute-by-minute autosave with its recovery offer.

:class:`CanvasFiles` is an object of its own (the tab holds one as ``tab.files``): it owns the autosave
timer and the recovery bar, reads the tab's document and form, and hands what it opened to the tab
(``tab.set_document``). Messages go to the tab's status line.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, QObject, QTimer, Slot
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from ...errors import StudioError
from ...library.atomic import atomic_write_bytes
from ...library.inputs import MAX_PICTURE_SIDE as MAX_SIDE  # one limit for every picture Studio opens
from ...library.targets import check_output
from ..image.widgets import IMAGE_FILTER, local_image_paths, read_qimage
from .document import SUFFIX, CanvasDocument, autosave_path

AUTOSAVE_MS = 60_000  # the open document is autosaved every minute when it changed
DOC_FILTER = f"Canvas documents (*{SUFFIX});;All files (*)"


def png_bytes(image: QImage) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(buffer.data())


class CanvasFiles(QObject):
    """The files of one Canvas tab: ``tab`` gives the document (``tab.doc``), the form (``tab.form``),
    ``tab.set_document`` and ``tab.set_picture``; ``library`` the folder for work files; ``host`` Send to;
    ``status_line`` the messages."""

    def __init__(self, tab, library, host, status_line) -> None:
        super().__init__(tab)
        self.tab = tab
        self.library = library
        self.host = host
        self.status_line = status_line
        # the recovery bar (shown when an autosave from a crash is there); the tab lays it out
        self.recovery = QWidget()
        self.recovery_label = QLabel("")
        self.recover_button = QPushButton("Recover")
        self.recover_button.clicked.connect(self.recover)
        self.drop_recovery_button = QPushButton("Discard")
        self.drop_recovery_button.clicked.connect(self.drop_recovery)
        row = QHBoxLayout(self.recovery)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.recovery_label, 1)
        row.addWidget(self.recover_button)
        row.addWidget(self.drop_recovery_button)
        self.recovery.hide()
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.on_quit)
        self._offer_recovery()

    @property
    def doc(self) -> CanvasDocument:
        return self.tab.doc

    # --- documents and pictures -------------------------------------------------------------------------------
    def open_image(self, path: str | Path, mask: QImage | None = None) -> bool:
        image = read_qimage(path)
        if image.isNull():
            self.status_line.warn(f"Can't open '{Path(path).name}': not a picture Qt can read.")
            return False
        return self.tab.set_picture(image, mask, Path(path).name)

    def open_path(self, path: str | Path) -> bool:
        """A picture or a ``.studio-canvas`` document."""
        if str(path).endswith(SUFFIX):
            try:
                doc = CanvasDocument.load(path)
            except ValueError as exc:
                self.status_line.warn(str(exc))
                return False
            self.tab.set_document(doc)
            self.status_line.say(f"Opened {Path(path).name}.")
            return True
        return self.open_image(path)

    @Slot()
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.tab, "Open", "", f"{DOC_FILTER.split(';;')[0]};;{IMAGE_FILTER}")
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
                return self.tab.set_picture(image, name="the pasted picture")
        self.status_line.warn("The clipboard holds no picture.")
        return False

    def save_document(self, path: str | Path) -> Path:
        self.doc.params = self.tab.form.params()
        path = Path(path)
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        self.doc.save(path)
        self._drop_autosave()
        self.status_line.say(f"Saved {path.name}.")
        return path

    @Slot()
    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.tab, "Save Canvas document", str(self.doc.path or ""), DOC_FILTER)
        if path:
            self.save_document(path)

    def export_png(self, path: str | Path) -> bool:
        """Write the picture as PNG under the CLI's --out rules (symlinks followed, devices written
        through, folders and other formats refused)."""
        try:
            out = check_output(path, {".png": "PNG"}, flag="Export PNG")
            atomic_write_bytes(out.path, png_bytes(self.doc.image))
        except (StudioError, OSError) as exc:
            self.status_line.warn(f"Could not write '{path}': {exc}")
            return False
        self.status_line.say(f"Exported {Path(path).name}.")
        return True

    @Slot()
    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.tab, "Export PNG", "", "PNG (*.png)")
        if path:
            self.export_png(path)

    def work_file(self, name: str) -> Path:
        """A new PNG in the library's inputs folder (the picture and mask a job reads)."""
        folder = Path(self.library.root) / "inputs"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"canvas-{time.strftime('%Y%m%d-%H%M%S')}-{int(time.time() * 1000) % 1000:03d}-{name}.png"

    @Slot()
    def send_to_image(self) -> bool:
        path = self.work_file("picture")
        self.doc.image.save(str(path), "PNG")
        ok = self.host.send_image("image", str(path))
        if not ok:
            self.status_line.warn("The Image tab did not take the picture.")
        return ok

    # --- autosave and recovery ------------------------------------------------------------------------------------------
    @Slot()
    def autosave(self) -> bool:
        if not self.doc.dirty:
            return False
        self.doc.params = self.tab.form.params()
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
            self.status_line.warn(f"The autosaved document can't be read: {exc}")
            return False
        doc.path = None
        doc.dirty = True
        self.tab.set_document(doc)
        self.status_line.say("Recovered the autosaved document; save it to keep it.")
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
