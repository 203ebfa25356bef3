"""Play the whole story in the tab: the film's frames (small, drawn on demand by the same code the
export uses) on a timeline slider, with the mixed sound when there is an output device."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from ...jobs.background import Background
from ...story.film import Frames
from ...story.mix import mix
from ...story.timing import layout
from ..audio.player import AudioPlayer

PREVIEW_FPS = 10
PREVIEW_SHORT_SIDE = 240


PREVIEW_RATE = 24_000


def _sound(timeline, made, story):
    """On a pool thread: the preview's sound, mono (reading and mixing every clip takes a while)."""
    sound = mix(timeline, list(made.narration), made.music,
                volume=story.music.volume if story.music else 0.0,
                duck=story.music.duck if story.music else 1.0, rate=PREVIEW_RATE)
    return sound.mean(axis=1)


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


class StoryPreview(QWidget):
    ready = Signal()  # the story is loaded: pictures and sound
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None, player: AudioPlayer | None = None) -> None:
        super().__init__(parent)
        self.frames: Frames | None = None
        self.background = Background(self)
        self._loads = 0  # which load the sound being mixed belongs to
        self.player = player or AudioPlayer(self)
        self.picture = QLabel("Preview: make the scenes' pictures and narration, then press Preview.")
        self.picture.setObjectName("storyPreviewPicture")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumHeight(PREVIEW_SHORT_SIDE)
        self.picture.setStyleSheet("background: #111; color: #aaa;")
        self.timeline = QSlider(Qt.Orientation.Horizontal)
        self.timeline.setObjectName("storyTimeline")
        self.timeline.setEnabled(False)
        self.timeline.valueChanged.connect(self._on_timeline_moved)
        self.play_button = QPushButton("Play")
        self.play_button.setEnabled(False)
        self.play_button.clicked.connect(self.toggle)
        self.where = QLabel("")
        self._timer = QTimer(self)
        self._timer.setInterval(1000 // PREVIEW_FPS)
        self._timer.timeout.connect(self._tick)
        self._started = 0.0
        self._from = 0.0
        row = QHBoxLayout()
        row.addWidget(self.play_button)
        row.addWidget(self.timeline, 1)
        row.addWidget(self.where)
        layout_ = QVBoxLayout(self)
        layout_.setContentsMargins(0, 0, 0, 0)
        layout_.addWidget(self.picture, 1)
        layout_.addLayout(row)

    def load(self, story, made) -> None:
        """The story cut from ``made`` (see :class:`studio.story.assets.Assets`), ready to play."""
        self.stop()
        timeline = layout(story, made.narration_s)
        w, h = story.film.size
        scale = PREVIEW_SHORT_SIDE / min(w, h)
        size = (int(w * scale) // 2 * 2, int(h * scale) // 2 * 2)
        self.frames = Frames(timeline, made.pictures, size, PREVIEW_FPS, ken_burns=story.film.ken_burns,
                             captions=[s.narration for s in story.scenes] if story.film.subtitles else None)
        self.picture.setText("Mixing the sound…")
        self._loads += 1
        self.background.start(_sound, timeline, made, story, key=self._loads, returned=self._on_sound,
                              errored=self._on_error)

    def _stale(self) -> bool:
        """The task that answers was for an earlier load (or the preview was cleared meanwhile)."""
        task = self.sender()
        return self.frames is None or getattr(task, "key", self._loads) != self._loads

    @Slot(object)
    def _on_sound(self, sound) -> None:
        if self._stale():
            return
        self.player.set_audio(sound, PREVIEW_RATE)
        self.timeline.setRange(0, self.frames.count - 1)
        self.timeline.setEnabled(True)
        self.play_button.setEnabled(True)
        self.timeline.setValue(0)
        self._show(0)
        self.ready.emit()

    @Slot(object)
    def _on_error(self, exc) -> None:
        from ...errors import describe

        if self._stale():
            return
        self.frames = None
        self.picture.setText("The preview could not be made.")
        self.failed.emit(describe(exc))

    def clear(self) -> None:
        self.stop()
        self.frames = None
        self.timeline.setEnabled(False)
        self.play_button.setEnabled(False)
        self.picture.setText("The story changed: press Preview again.")
        self.where.setText("")

    def _show(self, n: int) -> None:
        if self.frames is None:
            return
        pixels = self.frames.frame(n)
        h, w, _ = pixels.shape
        image = QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self.picture.setPixmap(QPixmap.fromImage(image))
        t = n / PREVIEW_FPS
        scene, _, _ = self.frames.timeline.at(t)
        total = self.frames.timeline.length
        self.where.setText(f"scene {scene + 1} of {len(self.frames.timeline.shots)} · {_clock(t)} / {_clock(total)}")

    @Slot(int)
    def _on_timeline_moved(self, n: int) -> None:
        self._show(n)
        if not self._timer.isActive():
            return
        self._from, self._started = n / PREVIEW_FPS, time.monotonic()
        if self.player.available:
            self.player.seek(self._from)

    @Slot()
    def toggle(self) -> None:
        if self._timer.isActive():
            self.stop()
            return
        if self.frames is None:
            return
        if self.timeline.value() >= self.timeline.maximum():
            self.timeline.setValue(0)
        self._from, self._started = self.timeline.value() / PREVIEW_FPS, time.monotonic()
        if self.player.available:
            self.player.seek(self._from)
            self.player.play()
        self._timer.start()
        self.play_button.setText("Pause")

    def stop(self) -> None:
        self._timer.stop()
        if self.player.state != "stopped":
            self.player.pause()
        self.play_button.setText("Play")

    @Slot()
    def _tick(self) -> None:
        t = self._from + (time.monotonic() - self._started)
        n = int(t * PREVIEW_FPS)
        if n >= self.timeline.maximum():
            self.timeline.blockSignals(True)
            self.timeline.setValue(self.timeline.maximum())
            self.timeline.blockSignals(False)
            self._show(self.timeline.maximum())
            self.stop()
            return
        self.timeline.blockSignals(True)
        self.timeline.setValue(n)
        self.timeline.blockSignals(False)
        self._show(n)
