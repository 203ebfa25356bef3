"""The clip view Speech and Music share (a tab's ``clip_view``): waveform + playhead, play/pause, loop, time,
export. The sound itself goes through :class:`~studio.ui.audio.player.AudioPlayer`.

``ClipView.set_clip(samples, rate, params)`` shows a finished clip; for a clip being made,
``start_stream(rate)`` then ``append_chunk(samples)`` per chunk (playback starts with the first one
when ``autoplay`` is on) and ``finish_stream(params)``. Export writes WAV/FLAC/OGG with the clip's
parameters in the file's tags (:func:`studio.library.audio.export`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QCheckBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ...errors import describe
from ...library import audio as audio_files
from .player import PLAYING, AudioPlayer
from .waveform import WaveformView

EXPORT_FILTERS = "WAV audio (*.wav);;FLAC audio (*.flac);;Ogg Vorbis audio (*.ogg)"


def _clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m)}:{s:04.1f}"


class ClipView(QWidget):
    message = Signal(str)  # something to show in the status bar (no device, export done / failed)
    exported = Signal(str)  # path written

    def __init__(self, parent: QWidget | None = None, player: AudioPlayer | None = None) -> None:
        super().__init__(parent)
        self.player = player or AudioPlayer(self)
        self.player.setParent(self)
        self.waveform = WaveformView()
        self.play_button = QPushButton("Play")
        self.play_button.setObjectName("playButton")
        self.play_button.setEnabled(False)
        self.loop_box = QCheckBox("Loop")
        self.time_label = QLabel("0:00.0 / 0:00.0")
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("exportButton")
        self.export_button.setEnabled(False)
        self.autoplay = True
        self._samples = np.zeros(0, np.float32)
        self._rate = 0
        self._params: dict = {}

        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(self.loop_box)
        controls.addWidget(self.time_label, 1)
        controls.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.waveform, 1)
        layout.addLayout(controls)

        self.play_button.clicked.connect(self.player.toggle)
        self.loop_box.toggled.connect(self.player.set_loop)
        self.export_button.clicked.connect(self.export_dialog)
        self.waveform.seek_requested.connect(self.player.seek)
        self.player.position_changed.connect(self._on_position)
        self.player.state_changed.connect(self._on_state)
        self.player.message.connect(self.message)

    # --- clips ---
    def set_clip(self, samples, rate: int, params: dict | None = None) -> None:
        self._samples = np.asarray(samples, dtype=np.float32)
        self._rate = int(rate)
        self._params = dict(params or {})
        self.waveform.set_audio(self._samples, rate)
        self.player.set_audio(self._samples, rate)
        self._enable(True)

    def start_stream(self, rate: int) -> None:
        self._samples = np.zeros(0, np.float32)
        self._rate = int(rate)
        self._params = {}
        self.waveform.set_audio(self._samples, rate)
        self.player.start_stream(rate)
        self._enable(False)

    def append_chunk(self, samples, rate: int) -> None:
        """A new chunk of the clip being made; the first one starts playback when ``autoplay``."""
        if not self._rate or rate != self._rate or not self.is_streaming():
            self.start_stream(rate)
        chunk = np.asarray(samples, dtype=np.float32)
        self._samples = np.concatenate([self._samples, chunk])
        self.waveform.append(chunk, rate)
        self.player.append(chunk)
        self.play_button.setEnabled(True)
        self._update_time()
        if self.autoplay and self.player.state != PLAYING and len(self._samples) == len(chunk):
            self.player.play()

    def finish_stream(self, params: dict | None = None) -> None:
        self._params = dict(params or {})
        self.player.finish()
        self._enable(self.has_audio())

    def is_streaming(self) -> bool:
        return not self.export_button.isEnabled() and self._rate > 0

    def clear(self) -> None:
        self.player.stop()
        self._samples, self._rate, self._params = np.zeros(0, np.float32), 0, {}
        self.waveform.clear()
        self._enable(False)
        self._update_time()

    def has_audio(self) -> bool:
        return len(self._samples) > 0

    def clip(self) -> tuple[np.ndarray, int]:
        return self._samples, self._rate

    def _enable(self, ready: bool) -> None:
        self.play_button.setEnabled(self.has_audio())
        self.export_button.setEnabled(ready and self.has_audio())
        self._update_time()

    # --- export ---
    def export_to(self, path: str | Path) -> Path:
        """Write the clip to ``path`` (.wav/.flac/.ogg) with its parameters in the tags."""
        return audio_files.export(path, self._samples, self._rate, self._params)

    @Slot()
    def export_dialog(self) -> None:
        if not self.has_audio():
            return
        name = self._params.get("suggested_name") or f"{self._params.get('kind') or 'audio'}.wav"
        path, chosen = QFileDialog.getSaveFileName(self, "Export audio", name, EXPORT_FILTERS)
        if not path:
            return
        if not Path(path).suffix:  # typed without a suffix: the format picked in the dialog
            path += next((s for s in (".wav", ".flac", ".ogg") if s in chosen), ".wav")
        try:
            written = self.export_to(path)
        except Exception as exc:  # a bad suffix or a full disk: say it, keep working
            self.message.emit(f"Export failed: {describe(exc)}")
            return
        self.exported.emit(str(written))
        self.message.emit(f"Exported {written}")

    # --- player feedback ---
    @Slot(float)
    def _on_position(self, seconds: float) -> None:
        self.waveform.set_position(seconds)
        self._update_time(seconds)

    @Slot(str)
    def _on_state(self, state: str) -> None:
        self.play_button.setText("Pause" if state == PLAYING else "Play")

    def _update_time(self, position: float | None = None) -> None:
        duration = len(self._samples) / self._rate if self._rate else 0.0
        pos = self.player.position_s() if position is None else position
        self.time_label.setText(f"{_clock(pos)} / {_clock(duration)}")
