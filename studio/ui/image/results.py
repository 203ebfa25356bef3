"""The Image tab's results side: the large view (live previews while denoising, then the image),
the shown image's parameters, its action buttons and the gallery strip
(:class:`~studio.ui.image.gallery.Gallery`).

:class:`ResultPanel` shows results; it does not act on them: the buttons and the gallery's menu emit
``action(name, saved)`` and the tab carries it out. A saved image shows its gallery thumbnail at
once while the full PNG is decoded on a helper thread; a live preview stays in the view until its
batch has finished (or was cancelled).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QToolButton, QVBoxLayout, QWidget

from ...events import SavedItem
from ...jobs.background import Background
from ...library.metadata import format_a1111
from .gallery import ACTIONS, Gallery
from .widgets import ImageView, read_qimage


class ResultPanel(QWidget):
    """View, parameters, action buttons and gallery of the Image tab.

    ``showing(saved)`` when a saved image is shown with its settings (not for the empty view);
    ``action(name, saved)``: one of :data:`~studio.ui.image.gallery.ACTIONS` asked for on a saved image,
    from the buttons (on the image shown) or the gallery's context menu.
    """

    showing = Signal(object)
    action = Signal(str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.shown: SavedItem | None = None  # the result in the big view
        self._live = False  # the view shows a live preview newer than the last finished image
        self._background = Background(self)  # full images are decoded off the UI thread

        self.view = ImageView("Your images appear here.\n\nType a prompt and press Generate (Ctrl+Enter).")
        self.view.setObjectName("imageView")
        self.info = QPlainTextEdit()
        self.info.setObjectName("imageInfo")
        self.info.setReadOnly(True)
        self.info.setFrameShape(QPlainTextEdit.Shape.NoFrame)
        self.info.setStyleSheet("QPlainTextEdit#imageInfo { background: transparent; }")
        self.action_buttons: dict[str, QToolButton] = {}
        actions = QHBoxLayout()
        actions.setSpacing(4)
        for name, label in ACTIONS:
            button = QToolButton()
            button.setText(label)
            button.clicked.connect(lambda _=False, n=name: self.action.emit(n, self.shown))
            self.action_buttons[name] = button
            actions.addWidget(button)
        actions.addStretch(1)
        self.actions_row = QWidget()
        self.actions_row.setLayout(actions)
        actions.setContentsMargins(0, 0, 0, 0)
        self.gallery = Gallery()
        self.gallery.chosen.connect(self.display)
        self.gallery.action.connect(self.action)
        rv = QVBoxLayout(self)
        rv.setContentsMargins(6, 0, 0, 0)
        rv.setSpacing(4)
        rv.addWidget(self.view, 1)
        rv.addWidget(self.info)
        rv.addWidget(self.actions_row)
        rv.addWidget(self.gallery)
        self.display(None)

    # --- what the view shows ----------------------------------------------------------------------
    def show_preview(self, image: QImage, caption: str) -> None:
        """A live preview of the running job; it stays until :meth:`add_result` or :meth:`end_preview`."""
        self._live = True
        self.view.set_image(image, caption)

    def add_result(self, saved: SavedItem) -> None:
        """A freshly saved image: first in the gallery, selected and shown (decoded once, here)."""
        self._live = False
        self.gallery.add_saved(saved, front=True, load=False)
        self.gallery.select_saved(saved)
        self.display(saved)

    def end_preview(self) -> None:
        """The job ended: a preview left in the view (a cancelled batch) gives way to the image shown."""
        if self._live:
            self._live = False
            self.display(self.shown)

    def show_saved(self, saved: SavedItem) -> None:
        """Show a library image, adding it to the gallery when it is not there yet."""
        if saved not in self.gallery.saved_items():
            self.gallery.add_saved(saved, front=True)
        self.gallery.select_saved(saved)
        self.display(saved)

    @Slot(object)
    def display(self, saved: SavedItem | None) -> None:
        """Show ``saved`` (None: nothing) in the view with its parameters and actions."""
        if saved is not None and saved is self.shown and not self._live and self.view.has_image():
            return  # a click on the item already shown
        self.shown = saved
        for button in self.action_buttons.values():
            button.setEnabled(saved is not None)
        self.info.setVisible(saved is not None)
        self.actions_row.setVisible(saved is not None)
        if saved is None:
            self.info.setPlainText("")
            self.view.set_image(None)
            return
        params = saved.params or {}
        self.info.setPlainText(format_a1111(params).replace(", Version: Studio", ""))
        self.info.setToolTip(f"{saved.path}\n(the same text is in the PNG, as AUTOMATIC1111 writes it)")
        self.showing.emit(saved)
        if not self._live:
            thumb = self.gallery.thumbnail(saved)
            if thumb is not None:  # at once, until the full image is decoded
                self.view.set_image(thumb, self._caption(saved))
        path = str(saved.path)  # QImage is safe off the UI thread, QPixmap is not
        self._background.start(read_qimage, path, key=path, returned=self._on_full_image_read)

    @Slot(object)
    def _on_full_image_read(self, image: object) -> None:
        self._on_full_image(self.sender().key, image)

    def _on_full_image(self, path: str, image: QImage) -> None:
        shown = self.shown is not None and str(self.shown.path) == path
        if image.isNull():
            if shown:
                self.view.set_image(None)
                self.view.set_placeholder(f"Can't read {Path(path).name}.")
            return
        self.gallery.set_image(path, image)
        if shown and not self._live:  # a preview of the next batch stays until that batch is done
            self.view.set_image(image, self._caption(self.shown))

    @staticmethod
    def _caption(saved: SavedItem) -> str:
        p = saved.params or {}
        bits = [f"{p.get('width', '?')}×{p.get('height', '?')}"]
        if p.get("seed") is not None:
            bits.append(f"seed {p['seed']}")
        if p.get("sampler"):
            bits.append(str(p["sampler"]))
        if p.get("num_inference_steps"):
            bits.append(f"{p['num_inference_steps']} steps")
        return " · ".join(bits)

    def wait_idle(self, ms: int = 5000) -> bool:
        """Wait for the image-decoding threads (tests; closing)."""
        return self._background.wait(ms) and self.gallery.wait_for_thumbnails(ms)
