"""Audio playback on QtMultimedia: a QAudioSink pulling 16-bit PCM from a growing buffer.

Playback can start with the first chunk of a clip while later chunks are appended
(:meth:`AudioPlayer.append`); when the sink catches up with the data it waits for more instead of
stopping, until :meth:`AudioPlayer.finish` says the clip is complete. Play / pause / seek / loop.

No audio device (a server without sound, a container) is a normal state: :attr:`available` is False,
``play()`` does nothing but report it, and :func:`no_device_message` is emitted once per process.
Everything else (waveform, export, library) keeps working.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QIODevice, QObject, QTimer, Signal, Slot

STOPPED, PLAYING, PAUSED = "stopped", "playing", "paused"
NO_DEVICE = "No audio output device found: playback is off. The waveform, export and the library still work."


class PcmSource(QIODevice):
    """A read-only QIODevice over PCM bytes that may keep growing; the sink pulls from it."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._data = bytearray()
        self._pos = 0
        self.complete = True  # False while more data is expected (streaming)

    def set_bytes(self, data: bytes, complete: bool = True) -> None:
        self._data = bytearray(data)
        self._pos = 0
        self.complete = complete

    def append_bytes(self, data: bytes) -> None:
        self._data.extend(data)
        self.readyRead.emit()

    def size_bytes(self) -> int:
        return len(self._data)

    def read_pos(self) -> int:
        return self._pos

    def set_read_pos(self, pos: int) -> None:
        self._pos = max(0, min(len(self._data), pos))

    # QIODevice
    def readData(self, maxlen: int):  # noqa: N802 - Qt override
        chunk = bytes(self._data[self._pos : self._pos + maxlen])
        self._pos += len(chunk)
        return chunk

    def writeData(self, data) -> int:  # noqa: N802
        return -1

    def bytesAvailable(self) -> int:  # noqa: N802
        return len(self._data) - self._pos + super().bytesAvailable()

    def isSequential(self) -> bool:  # noqa: N802
        return True


def to_pcm16(samples: np.ndarray) -> bytes:
    data = np.clip(np.nan_to_num(np.asarray(samples, dtype=np.float32)), -1.0, 1.0)
    return (data * 32767.0).astype("<i2").tobytes()


def default_sink_factory(rate: int, channels: int):
    """A QAudioSink for 16-bit PCM on the default output, or None when there is no output device."""
    from PySide6.QtMultimedia import QAudioFormat, QAudioSink, QMediaDevices

    device = QMediaDevices.defaultAudioOutput()
    if device.isNull():
        return None
    fmt = QAudioFormat()
    fmt.setSampleRate(int(rate))
    fmt.setChannelCount(int(channels))
    fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
    if not device.isFormatSupported(fmt):
        return None
    return QAudioSink(device, fmt)


class AudioPlayer(QObject):
    """Plays one clip at a time. ``sink_factory(rate, channels)`` makes the output (None: no device).

    The sink protocol is QAudioSink's: ``start(QIODevice)``, ``stop()``, ``suspend()``, ``resume()``,
    ``bufferSize()``, ``bytesFree()``.
    """

    state_changed = Signal(str)  # 'stopped' | 'playing' | 'paused'
    position_changed = Signal(float)  # seconds
    message = Signal(str)  # e.g. the no-device notice (once per player: each tab's status line says it once)

    def __init__(self, parent: QObject | None = None, sink_factory: Callable | None = None) -> None:
        super().__init__(parent)
        self._factory = sink_factory or default_sink_factory
        self._source = PcmSource(self)
        self._sink = None
        self._sink_format: tuple[int, int] | None = None
        self._rate = 0
        self._channels = 1
        self._state = STOPPED
        self.loop = False
        self.told_no_device = False  # the no-device notice was given
        self._timer = QTimer(self)
        self._timer.setInterval(30)
        self._timer.timeout.connect(self._tick)

    # --- the clip ---
    def set_audio(self, samples, rate: int, *, complete: bool = True) -> None:
        """Replace the clip (playback stops). ``complete=False``: more is coming through :meth:`append`."""
        self.stop()
        data = np.asarray(samples, dtype=np.float32)
        self._rate = int(rate)
        self._channels = 1 if data.ndim == 1 else int(data.shape[1])
        self._source.set_bytes(to_pcm16(data), complete=complete)
        self.position_changed.emit(0.0)

    def start_stream(self, rate: int, channels: int = 1) -> None:
        self.stop()
        self._rate, self._channels = int(rate), int(channels)
        self._source.set_bytes(b"", complete=False)
        self.position_changed.emit(0.0)

    def append(self, samples) -> None:
        self._source.append_bytes(to_pcm16(samples))

    def finish(self) -> None:
        """The clip is complete: playback stops (or loops) at its end instead of waiting for more."""
        self._source.complete = True

    def duration_s(self) -> float:
        return self._source.size_bytes() / self._bytes_per_s() if self._rate else 0.0

    def _bytes_per_s(self) -> int:
        return max(1, self._rate * self._channels * 2)

    # --- state ---
    @property
    def state(self) -> str:
        return self._state

    @property
    def available(self) -> bool:
        """Whether an output device exists (checked when asked, so a plugged-in device counts)."""
        return self._ensure_sink() is not None

    def position_s(self) -> float:
        if not self._rate:
            return 0.0
        pos = self._source.read_pos()
        if self._sink is not None and self._state != STOPPED:
            pos -= max(0, self._sink.bufferSize() - self._sink.bytesFree())
        return max(0.0, pos / self._bytes_per_s())

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    def _ensure_sink(self):
        fmt = (self._rate or 22050, self._channels)
        if self._sink is None or self._sink_format != fmt:
            if self._sink is not None:
                self._sink.stop()
            self._sink = self._factory(*fmt)
            self._sink_format = fmt if self._sink is not None else None
        return self._sink

    # --- controls ---
    @Slot()
    def play(self) -> None:
        if self._state == PLAYING or not self._source.size_bytes() and self._source.complete:
            return
        sink = self._ensure_sink()
        if sink is None:
            if not self.told_no_device:
                self.told_no_device = True
                self.message.emit(NO_DEVICE)
            return
        if self._state == PAUSED:
            sink.resume()
        else:
            if self._source.read_pos() >= self._source.size_bytes() and self._source.complete:
                self._source.set_read_pos(0)
            if not self._source.isOpen():
                self._source.open(QIODevice.OpenModeFlag.ReadOnly)
            sink.start(self._source)
        self._set_state(PLAYING)
        self._timer.start()

    @Slot()
    def pause(self) -> None:
        if self._state == PLAYING and self._sink is not None:
            self._sink.suspend()
            self._set_state(PAUSED)

    @Slot()
    def toggle(self) -> None:
        self.pause() if self._state == PLAYING else self.play()

    @Slot()
    def stop(self) -> None:
        if self._sink is not None and self._state != STOPPED:
            self._sink.stop()
        self._timer.stop()
        self._source.set_read_pos(0)
        self._set_state(STOPPED)
        self.position_changed.emit(0.0)

    @Slot(float)
    def seek(self, seconds: float) -> None:
        frame_bytes = self._channels * 2
        pos = int(max(0.0, seconds) * self._bytes_per_s()) // frame_bytes * frame_bytes
        self._source.set_read_pos(pos)
        self.position_changed.emit(self.position_s() if self._state != STOPPED else pos / self._bytes_per_s())

    @Slot(bool)
    def set_loop(self, loop: bool) -> None:
        self.loop = bool(loop)

    @Slot()
    def _tick(self) -> None:
        self.position_changed.emit(self.position_s())
        drained = self._sink is None or self._sink.bytesFree() >= self._sink.bufferSize()
        if self._state == PLAYING and self._source.complete and drained and (
            self._source.read_pos() >= self._source.size_bytes()
        ):
            if self.loop:
                self._source.set_read_pos(0)
                self._source.readyRead.emit()
            else:
                self.stop()

