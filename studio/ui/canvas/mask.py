"""The mask layer: one ARGB image the size of the picture, painted in place with QPainter.

The mask's *alpha* is the mask (255 = repaint); its colour is only how it looks on screen. Every
paint operation draws straight into the image along the segment it was given and returns the
dirty rectangle, so a brush stroke on a 4096 × 4096 picture never copies the whole mask.
:class:`TileBackup` keeps the before-state of only the tiles a stroke touched (for undo).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen, QPolygonF, QRadialGradient

MASK_COLOR = QColor(255, 48, 48)
TILE = 128


def grey_array(grey: QImage):
    """A Grayscale8 QImage as an (h, w) uint8 numpy array (a copy)."""
    import numpy as np

    bpl = grey.bytesPerLine()
    data = np.frombuffer(grey.constBits(), dtype=np.uint8, count=bpl * grey.height()).reshape(grey.height(), bpl)
    return data[:, : grey.width()].copy()


def _qimage_gray(alpha: QImage) -> QImage:
    """An Alpha8 image's bytes seen as a Grayscale8 image (a copy that owns its memory)."""
    view = QImage(alpha.constBits(), alpha.width(), alpha.height(), alpha.bytesPerLine(), QImage.Format.Format_Grayscale8)
    return view.copy()


class MaskLayer:
    """The painted mask. Coordinates are picture pixels (floats allowed; strokes are antialiased)."""

    def __init__(self, width: int, height: int) -> None:
        self.image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
        self.image.fill(Qt.GlobalColor.transparent)
        self._dab_key: tuple | None = None  # the soft brush's dab image, made once per size and hardness
        self._dab_image: QImage | None = None

    # --- size and whole-image operations ---------------------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        return self.image.width(), self.image.height()

    def rect(self) -> QRect:
        return self.image.rect()

    def clear(self) -> QRect:
        self.image.fill(Qt.GlobalColor.transparent)
        return self.rect()

    def invert(self) -> QRect:
        grey = self.to_grey()
        grey.invertPixels()
        self.set_grey(grey)
        return self.rect()

    def to_grey(self) -> QImage:
        """The mask as a Grayscale8 picture: white = repaint."""
        return _qimage_gray(self.image.convertToFormat(QImage.Format.Format_Alpha8))

    def set_grey(self, grey: QImage) -> None:
        """Replace the mask by a greyscale picture of the same size (white = repaint)."""
        grey = grey.convertToFormat(QImage.Format.Format_Grayscale8)
        if grey.size() != self.image.size():
            grey = grey.scaled(self.image.size())
        image = QImage(self.image.size(), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(MASK_COLOR)
        alpha = QImage(grey.constBits(), grey.width(), grey.height(), grey.bytesPerLine(), QImage.Format.Format_Alpha8)
        p = QPainter(image)
        p.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationIn)
        p.drawImage(0, 0, alpha)
        p.end()
        self.image = image

    def is_empty(self) -> bool:
        return not grey_array(self.to_grey()).any()

    def copy_region(self, rect: QRect) -> QImage:
        return self.image.copy(rect)

    def put_region(self, rect: QRect, patch: QImage) -> None:
        p = QPainter(self.image)
        p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        p.drawImage(rect.topLeft(), patch)
        p.end()

    # --- painting ------------------------------------------------------------------------------------
    def _painter(self, erase: bool) -> QPainter:
        p = QPainter(self.image)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        mode = QPainter.CompositionMode
        p.setCompositionMode(mode.CompositionMode_DestinationOut if erase else mode.CompositionMode_SourceOver)
        return p

    def dirty_of(self, a: QPointF, b: QPointF, size: float) -> QRect:
        r = size / 2 + 2
        left, right = min(a.x(), b.x()) - r, max(a.x(), b.x()) + r
        top, bottom = min(a.y(), b.y()) - r, max(a.y(), b.y()) + r
        return QRectF(left, top, right - left, bottom - top).toAlignedRect().intersected(self.rect())

    def stroke(self, a: QPointF, b: QPointF, size: float, hardness: float = 1.0, erase: bool = False) -> QRect:
        """Paint (or erase) a brush segment from ``a`` to ``b``; returns the dirty rectangle."""
        dirty = self.dirty_of(a, b, size)
        if dirty.isEmpty():
            return dirty
        p = self._painter(erase)
        if hardness >= 0.99:
            pen = QPen(MASK_COLOR, size, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
            p.setPen(pen)
            if a == b:
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(MASK_COLOR)
                p.drawEllipse(a, size / 2, size / 2)
            else:
                p.drawLine(a, b)
        else:
            self._dabs(p, a, b, size, hardness)
        p.end()
        return dirty

    def _dabs(self, p: QPainter, a: QPointF, b: QPointF, size: float, hardness: float) -> None:
        """Soft brush: round dabs with a radial falloff (one pre-drawn dab image per size and
        hardness), spaced a tenth of the size apart."""
        dab = self._dab(size, hardness)
        radius = size / 2
        dist = math.hypot(b.x() - a.x(), b.y() - a.y())
        spacing = max(1.0, size * 0.1)
        count = int(dist / spacing) if dist > 0 else 0
        for i in range(1 if count else 0, count + 1):
            t = i / count if count else 0.0
            x, y = a.x() + (b.x() - a.x()) * t, a.y() + (b.y() - a.y()) * t
            p.drawImage(QRectF(x - radius, y - radius, size, size), dab)

    def _dab(self, size: float, hardness: float) -> QImage:
        key = (round(size, 1), round(hardness, 2))
        if self._dab_key != key:
            side = max(1, math.ceil(size))
            dab = QImage(side, side, QImage.Format.Format_ARGB32_Premultiplied)
            dab.fill(Qt.GlobalColor.transparent)
            g = QRadialGradient(QPointF(side / 2, side / 2), side / 2)
            g.setColorAt(0.0, MASK_COLOR)
            g.setColorAt(max(0.0, min(0.99, hardness)), MASK_COLOR)
            edge = QColor(MASK_COLOR)
            edge.setAlpha(0)
            g.setColorAt(1.0, edge)
            q = QPainter(dab)
            q.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            q.setPen(Qt.PenStyle.NoPen)
            q.setBrush(QBrush(g))
            q.drawEllipse(QRectF(0, 0, side, side))
            q.end()
            self._dab_key, self._dab_image = key, dab
        return self._dab_image

    def fill_polygon(self, points: list[QPointF], erase: bool = False) -> QRect:
        """Fill a closed polygon (lasso); returns the dirty rectangle."""
        poly = QPolygonF(points)
        path = QPainterPath()
        path.addPolygon(poly)
        path.closeSubpath()
        p = self._painter(erase)
        p.fillPath(path, MASK_COLOR)
        p.end()
        return poly.boundingRect().toAlignedRect().adjusted(-1, -1, 1, 1).intersected(self.rect())


class TileBackup:
    """The before-state of the tiles an operation touches, copied once per tile (for undo)."""

    def __init__(self, layer: MaskLayer, tile: int = TILE) -> None:
        self.layer = layer
        self.tile = tile
        self.tiles: dict[tuple[int, int], QImage] = {}

    def _keys(self, rect: QRect):
        t = self.tile
        for ty in range(rect.top() // t, rect.bottom() // t + 1):
            for tx in range(rect.left() // t, rect.right() // t + 1):
                yield tx, ty

    def tile_rect(self, key: tuple[int, int]) -> QRect:
        t = self.tile
        return QRect(key[0] * t, key[1] * t, t, t).intersected(self.layer.rect())

    def before(self, rect: QRect) -> None:
        """Call before painting into ``rect``."""
        if rect.isEmpty():
            return
        for key in self._keys(rect):
            if key not in self.tiles:
                self.tiles[key] = self.layer.copy_region(self.tile_rect(key))

    def snapshot_after(self) -> dict[tuple[int, int], QImage]:
        return {key: self.layer.copy_region(self.tile_rect(key)) for key in self.tiles}
