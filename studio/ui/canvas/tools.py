"""Mask tools: brush and eraser strokes, rectangle and lasso fills, each ending in one undo command.

A stroke paints each mouse move's segment straight into the mask (:meth:`MaskLayer.stroke`) after
saving the before-state of the tiles it is about to touch; only the dirty rectangle is repainted.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRect, QRectF

from .commands import MaskTilesCommand
from .document import CanvasDocument
from .mask import TileBackup

TOOLS = ("brush", "eraser", "rect", "lasso")
MIN_SIZE, MAX_SIZE = 1, 1024


@dataclass
class BrushOptions:
    tool: str = "brush"
    size: float = 48.0
    hardness: float = 0.8  # 1 = hard edge, 0 = soft all the way from the centre
    fill_erases: bool = False  # rectangle / lasso remove instead of add

    def resize(self, steps: int) -> None:
        """``[`` / ``]``: about 15 % smaller or larger per press."""
        factor = 1.15**steps
        self.size = float(min(MAX_SIZE, max(MIN_SIZE, round(self.size * factor))))


class Stroke:
    """One brush or eraser stroke: ``move`` for every mouse event, ``finish`` → the undo command."""

    def __init__(self, doc: CanvasDocument, start: QPointF, brush: BrushOptions) -> None:
        self.doc = doc
        self.size = brush.size
        self.hardness = brush.hardness
        self.erase = brush.tool == "eraser"
        self.backup = TileBackup(doc.mask)
        self.last = QPointF(start)
        self._paint(start, start)

    def _paint(self, a: QPointF, b: QPointF) -> QRect:
        self.backup.before(self.doc.mask.dirty_of(a, b, self.size))
        dirty = self.doc.mask.stroke(a, b, self.size, self.hardness, self.erase)
        self.doc.touch(dirty)
        return dirty

    def move(self, pos: QPointF) -> QRect:
        dirty = self._paint(self.last, pos)
        self.last = QPointF(pos)
        return dirty

    def finish(self) -> MaskTilesCommand:
        text = "Erase" if self.erase else "Brush stroke"
        return MaskTilesCommand(self.doc, self.backup.tiles, self.backup.snapshot_after(), self.backup.tile_rect, text)


def fill_command(doc: CanvasDocument, points: list[QPointF], erase: bool, text: str) -> MaskTilesCommand | None:
    """Fill (or clear) a polygon — a lasso, or a rectangle's four corners — as one undo step."""
    if len(points) < 3:
        return None
    backup = TileBackup(doc.mask)
    backup.before(_bounds(points).intersected(doc.mask.rect()))
    dirty = doc.mask.fill_polygon(points, erase)
    doc.touch(dirty)
    return MaskTilesCommand(doc, backup.tiles, backup.snapshot_after(), backup.tile_rect, text)


def rect_points(a: QPointF, b: QPointF) -> list[QPointF]:
    r = QRectF(a, b).normalized()
    return [r.topLeft(), r.topRight(), r.bottomRight(), r.bottomLeft()]


def _bounds(points: list[QPointF]) -> QRect:
    xs = [p.x() for p in points]
    ys = [p.y() for p in points]
    return QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)).toAlignedRect().adjusted(-2, -2, 2, 2)
