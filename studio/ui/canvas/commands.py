"""Undo commands of the Canvas (QUndoStack): mask strokes and fills, whole-mask edits, applied results
and canvas resizes. A stroke keeps only the tiles it touched (before and after), never the whole mask."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QImage, QUndoCommand

from .document import CanvasDocument


class MaskTilesCommand(QUndoCommand):
    """A brush stroke, eraser stroke, rectangle or lasso fill: the touched tiles before and after.

    Made after the operation is already on the mask, so the first ``redo`` (Qt calls it on push)
    does nothing."""

    def __init__(self, doc: CanvasDocument, before: dict, after: dict, tile_rect, text: str) -> None:
        super().__init__(text)
        self.doc = doc
        self.before = before
        self.after = after
        self.tile_rect = tile_rect
        self._done = True

    def _put(self, tiles: dict) -> None:
        dirty = QRect()
        for key, patch in tiles.items():
            rect = self.tile_rect(key)
            self.doc.mask.put_region(rect, patch)
            dirty = dirty.united(rect)
        self.doc.touch(dirty)

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        self._put(self.after)

    def undo(self) -> None:
        self._put(self.before)


class MaskWholeCommand(QUndoCommand):
    """Invert, clear, load: the whole mask before and after (one copy each, once per operation)."""

    def __init__(self, doc: CanvasDocument, after: QImage, text: str) -> None:
        super().__init__(text)
        self.doc = doc
        self.before = doc.mask.image.copy()
        self.after = after

    def redo(self) -> None:
        self.doc.mask.image = self.after.copy()
        self.doc.touch(self.doc.mask.rect())

    def undo(self) -> None:
        self.doc.mask.image = self.before.copy()
        self.doc.touch(self.doc.mask.rect())


class StateCommand(QUndoCommand):
    """An applied result or a canvas resize: picture, mask and history before and after."""

    def __init__(self, doc: CanvasDocument, image: QImage, mask: QImage, history: list[dict], text: str) -> None:
        super().__init__(text)
        self.doc = doc
        self.before = (doc.image, doc.mask.image.copy(), list(doc.history))
        self.after = (image, mask, list(history))

    def redo(self) -> None:
        image, mask, history = self.after
        self.doc.set_state(image, mask.copy(), history)

    def undo(self) -> None:
        image, mask, history = self.before
        self.doc.set_state(image, mask.copy(), history)
