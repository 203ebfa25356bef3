"""The Canvas view: the picture, the mask as a translucent overlay, and a previewed candidate.

Scene coordinates are picture pixels, so zooming and panning never move the mask. Wheel zooms
around the cursor; middle-drag or Space + drag pans; :meth:`fit` and :meth:`actual_size` (Ctrl+0,
Ctrl+1). Left-drag uses the current tool (brush, eraser, rectangle, lasso), each ending as one
undo step on :attr:`undo_stack`. Only the rectangle a segment dirtied is repainted.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QUndoStack
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QGraphicsView, QStyleOptionGraphicsItem, QWidget

from .document import CanvasDocument
from .tools import Stroke, BrushOptions, fill_command, rect_points

ZOOM_MIN, ZOOM_MAX = 0.02, 32.0


class _LayerItem(QGraphicsItem):
    """Paints one QImage of the document at its exposed rectangle (no pixmap conversion per change)."""

    def __init__(self, source, opacity: float = 1.0) -> None:
        super().__init__()
        self.source = source  # callable → the QImage to show
        self.shown_size: QSize | None = None  # draw scaled to this size (a small live preview)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setOpacity(opacity)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        size = self.shown_size or self.source().size()
        return QRectF(0, 0, size.width(), size.height())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        image = self.source()
        if self.shown_size is not None and self.shown_size != image.size():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(self.boundingRect(), image)
            return
        exposed = option.exposedRect.toAlignedRect().intersected(image.rect())
        if not exposed.isEmpty():
            painter.drawImage(exposed.topLeft(), image, exposed)


class _OutlineItem(QGraphicsItem):
    """The rubber band of the rectangle and lasso tools, and the brush outline."""

    def __init__(self) -> None:
        super().__init__()
        self.path = QPainterPath()
        self.setZValue(10)

    def set_path(self, path: QPainterPath) -> None:
        self.prepareGeometryChange()
        self.path = path

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return self.path.boundingRect().adjusted(-2, -2, 2, 2)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        pen = QPen(QColor(255, 255, 255), 0, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawPath(self.path)


class CanvasView(QGraphicsView):
    zoom_changed = Signal(float)
    candidate_shown = Signal(bool)

    def __init__(self, doc: CanvasDocument, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = undo_stack
        self.brush = BrushOptions()
        self.candidate: QImage | None = None
        self._stroke: Stroke | None = None
        self._shape: list[QPointF] = []
        self._pan_from = None
        self._space = False
        self.setScene(QGraphicsScene(self))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setBackgroundBrush(QColor(48, 48, 48))
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.picture_item = _LayerItem(self._picture)
        self.mask_item = _LayerItem(lambda: self.doc.mask.image, 0.5)
        self.outline = _OutlineItem()
        for item in (self.picture_item, self.mask_item, self.outline):
            self.scene().addItem(item)
        self.doc = doc
        self.set_document(doc)

    # --- document --------------------------------------------------------------------------------------
    def set_document(self, doc: CanvasDocument) -> None:
        self.doc = doc
        doc.changed.connect(self.on_changed)
        doc.resized.connect(self.on_resized)
        self.on_resized()

    def _picture(self) -> QImage:
        return self.candidate if self.candidate is not None else self.doc.image

    def on_changed(self, rect: QRect) -> None:
        self.picture_item.update(QRectF(rect))
        self.mask_item.update(QRectF(rect))

    def on_resized(self) -> None:
        for item in (self.picture_item, self.mask_item):
            item.prepareGeometryChange()
        self.scene().setSceneRect(self.picture_item.boundingRect().adjusted(-64, -64, 64, 64))
        self.scene().update()

    def show_candidate(self, image: QImage | None, size: QSize | None = None) -> None:
        """Preview a result on the canvas (None: the document's own picture again), drawn at ``size``
        when given (a live preview is smaller than the result). The mask is hidden while a candidate
        shows, so the result is seen as it would be applied; the mask tools wait meanwhile."""
        self.candidate = image
        self.picture_item.shown_size = size if image is not None else None
        self.mask_item.setVisible(image is None)
        self.on_resized()
        self.candidate_shown.emit(image is not None)

    def set_mask_opacity(self, value: float) -> None:
        self.mask_item.setOpacity(max(0.0, min(1.0, value)))

    # --- zoom and pan ------------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        factor = max(ZOOM_MIN, min(ZOOM_MAX, factor))
        self.scale(factor / self.zoom, factor / self.zoom)
        self.zoom_changed.emit(self.zoom)

    def fit(self) -> None:
        self.fitInView(self.picture_item.boundingRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_changed.emit(self.zoom)

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt override
        steps = event.angleDelta().y() / 120
        if steps:
            self.set_zoom(self.zoom * 1.25**steps)
        event.accept()

    def _panning(self, event) -> bool:
        return event.buttons() & Qt.MouseButton.MiddleButton or (self._space and event.buttons() & Qt.MouseButton.LeftButton)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if event.key() == Qt.Key.Key_BracketLeft:
            self.brush.resize(-1)
            return
        if event.key() == Qt.Key.Key_BracketRight:
            self.brush.resize(1)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().unsetCursor()
            return
        super().keyReleaseEvent(event)

    # --- tools -----------------------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self._panning(event):
            self._pan_from = event.position()
            return
        if event.button() != Qt.MouseButton.LeftButton or self.candidate is not None:
            return super().mousePressEvent(event)
        pos = QPointF(self.mapToScene(event.position().toPoint()))
        tool = self.brush.tool
        if tool in ("brush", "eraser"):
            self._stroke = Stroke(self.doc, pos, self.brush)
        else:
            self._shape = [pos]

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            return
        pos = QPointF(self.mapToScene(event.position().toPoint()))
        if self.brush.tool in ("brush", "eraser") and self.candidate is None:
            self._brush_outline(pos)
        if self._stroke is not None:
            self._stroke.move(pos)
        elif self._shape:
            if self.brush.tool == "rect":
                self._shape = [self._shape[0], pos]
                points = rect_points(*self._shape)
            else:
                self._shape.append(pos)
                points = self._shape
            path = QPainterPath()
            path.moveTo(points[0])
            for p in points[1:]:
                path.lineTo(p)
            path.closeSubpath()
            self.outline.set_path(path)

    def _brush_outline(self, pos: QPointF) -> None:
        """The brush's size as a circle under the cursor."""
        r = self.brush.size / 2
        path = QPainterPath()
        path.addEllipse(pos, r, r)
        self.outline.set_path(path)

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self._stroke is None and not self._shape:
            self.outline.set_path(QPainterPath())
        super().leaveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self._pan_from is not None:
            self._pan_from = None
            return
        if self._stroke is not None:
            self.undo_stack.push(self._stroke.finish())
            self._stroke = None
        elif self._shape:
            points = rect_points(*self._shape) if self.brush.tool == "rect" and len(self._shape) == 2 else self._shape
            text = "Rectangle" if self.brush.tool == "rect" else "Lasso"
            command = fill_command(self.doc, points, self.brush.fill_erases, text)
            if command is not None:
                self.undo_stack.push(command)
            self._shape = []
            self.outline.set_path(QPainterPath())
        else:
            super().mouseReleaseEvent(event)
