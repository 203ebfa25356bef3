"""A waveform view with a moving playhead (shared by Speech and Music).

Peaks (min/max per pixel column) are computed once per zoom level and clip length with numpy and
kept; painting only draws the cached columns, so the playhead can move 30 times a second cheaply.
Audio may grow while it is shown (:meth:`WaveformView.append`, streaming synthesis).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


def compute_peaks(samples: np.ndarray, columns: int) -> np.ndarray:
    """(columns, 2) array of (min, max) of ``samples`` (mono or frames×channels) per column."""
    mono = samples if samples.ndim == 1 else samples.mean(axis=1)
    n = len(mono)
    if n == 0 or columns <= 0:
        return np.zeros((max(columns, 0), 2), np.float32)
    edges = np.linspace(0, n, columns + 1).astype(np.int64)
    edges[-1] = n
    starts = np.minimum(edges[:-1], n - 1)
    mins = np.minimum.reduceat(mono, starts)
    maxs = np.maximum.reduceat(mono, starts)
    return np.stack([mins, maxs], axis=1).astype(np.float32)


class WaveformView(QWidget):
    """Shows a clip; click or drag to seek (``seek_requested(seconds)``); Ctrl+wheel zooms."""

    seek_requested = Signal(float)

    MAX_ZOOM = 64

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("waveform")
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._samples = np.zeros(0, np.float32)
        self._rate = 0
        self._position = 0.0
        self._zoom = 1
        self._offset = 0  # first visible column at this zoom
        self._peaks: dict[tuple[int, int], np.ndarray] = {}  # (columns, samples) → peaks
        self.peak_computations = 0  # how many times peaks were computed (cheap check that painting reuses them)

    # --- data ---
    def set_audio(self, samples, rate: int) -> None:
        self._samples = np.asarray(samples, dtype=np.float32)
        self._rate = int(rate)
        self._position = 0.0
        self._offset = 0
        self._peaks.clear()
        self.update()

    def append(self, samples, rate: int) -> None:
        """Add samples at the end (a new chunk of a clip being made)."""
        if self._rate and rate != self._rate:
            raise ValueError(f"sample rate changed from {self._rate} to {rate}")
        self._rate = int(rate)
        chunk = np.asarray(samples, dtype=np.float32)
        self._samples = np.concatenate([self._samples, chunk]) if len(self._samples) else chunk
        self._peaks.clear()
        self.update()

    def clear(self) -> None:
        self.set_audio(np.zeros(0, np.float32), 0)

    def has_audio(self) -> bool:
        return len(self._samples) > 0

    def duration_s(self) -> float:
        return len(self._samples) / self._rate if self._rate else 0.0

    def position_s(self) -> float:
        return self._position

    def zoom(self) -> int:
        return self._zoom

    def set_zoom(self, zoom: int) -> None:
        self._zoom = max(1, min(self.MAX_ZOOM, int(zoom)))
        self._follow_playhead()
        self.update()

    def set_position(self, seconds: float) -> None:
        """Move the playhead (called by the player many times a second)."""
        self._position = max(0.0, float(seconds))
        self._follow_playhead()
        self.update()

    def peaks(self) -> np.ndarray:
        """The (min, max) columns for the current width and zoom, computed once and reused."""
        columns = max(1, self.width() * self._zoom)
        key = (columns, len(self._samples))
        cached = self._peaks.get(key)
        if cached is None:
            self._peaks = {key: compute_peaks(self._samples, columns)}
            self.peak_computations += 1
            cached = self._peaks[key]
        return cached

    # --- painting and mouse ---
    def _follow_playhead(self) -> None:
        if self._zoom == 1 or not self.duration_s():
            self._offset = 0
            return
        total = self.width() * self._zoom
        x = int(self._position / self.duration_s() * total)
        if not (self._offset <= x < self._offset + self.width()):
            self._offset = max(0, min(total - self.width(), x - self.width() // 4))

    def _seconds_at(self, x: float) -> float:
        total = max(1, self.width() * self._zoom)
        return max(0.0, min(self.duration_s(), (self._offset + x) / total * self.duration_s()))

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        h = self.height()
        mid = h / 2
        if not self.has_audio():
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No audio yet")
            return
        peaks = self.peaks()[self._offset : self._offset + self.width()]
        painter.setPen(QPen(QColor("#3b82f6"), 1))
        for x, (lo, hi) in enumerate(peaks):
            painter.drawLine(QPointF(x + 0.5, mid - hi * mid), QPointF(x + 0.5, mid - lo * mid))
        if self.duration_s():
            total = self.width() * self._zoom
            px = self._position / self.duration_s() * total - self._offset
            painter.setPen(QPen(QColor("#ef4444"), 2))
            painter.drawLine(QPointF(px, 0), QPointF(px, h))
        painter.setPen(self.palette().mid().color())
        painter.drawRect(QRectF(0, 0, self.width() - 1, h - 1))

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if self.has_audio() and event.button() == Qt.MouseButton.LeftButton:
            self.seek_requested.emit(self._seconds_at(event.position().x()))

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self.has_audio() and event.buttons() & Qt.MouseButton.LeftButton:
            self.seek_requested.emit(self._seconds_at(event.position().x()))

    def wheelEvent(self, event) -> None:  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.set_zoom(self._zoom * 2 if event.angleDelta().y() > 0 else self._zoom // 2)
            event.accept()
        else:
            super().wheelEvent(event)
