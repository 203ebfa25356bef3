"""Audio widgets: waveform peaks and playhead, the player (streaming, pause, seek, loop), no audio device."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from studio.library import audio
from studio.ui.audio.clip_view import ClipView
from studio.ui.audio.player import NO_DEVICE, PAUSED, PLAYING, STOPPED, AudioPlayer
from studio.ui.audio.waveform import WaveformView, compute_peaks

RATE = 8000


class FakeSink:
    """A stand-in audio output (QAudioSink's protocol); ``consume(n)`` plays n bytes."""

    def __init__(self, rate, channels):
        self.rate, self.channels = rate, channels
        self.device = None
        self.calls = []

    def start(self, device):
        self.device = device
        self.calls.append("start")

    def stop(self):
        self.calls.append("stop")

    def suspend(self):
        self.calls.append("suspend")

    def resume(self):
        self.calls.append("resume")

    def bufferSize(self):  # noqa: N802 - QAudioSink's name
        return 0

    def bytesFree(self):  # noqa: N802
        return 0

    def consume(self, n):
        return len(bytes(self.device.read(n)))


class Sinks:
    def __init__(self):
        self.made = []

    def __call__(self, rate, channels):
        sink = FakeSink(rate, channels)
        self.made.append(sink)
        return sink


def _tone(seconds=1.0):
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_peaks_are_min_and_max_per_column():
    samples = np.array([0, 0.5, -0.25, 0.1, -1, 1, 0.2, 0.3], np.float32)
    peaks = compute_peaks(samples, 4)
    assert np.allclose(peaks, [[0, 0.5], [-0.25, 0.1], [-1, 1], [0.2, 0.3]])
    stereo = np.stack([samples, samples], axis=1)
    assert np.allclose(compute_peaks(stereo, 4), peaks)


def test_waveform_computes_peaks_once_per_zoom_and_moves_the_playhead(qtbot):
    view = WaveformView()
    qtbot.addWidget(view)
    view.resize(300, 100)
    view.set_audio(_tone(2.0), RATE)
    view.grab()
    view.set_position(0.5)
    view.grab()
    view.set_position(1.0)
    view.grab()
    assert view.peak_computations == 1  # painting reuses the peaks
    assert view.position_s() == 1.0
    view.set_zoom(4)
    view.grab()
    assert view.peak_computations == 2 and len(view.peaks()) == 1200
    view.append(_tone(1.0), RATE)
    assert view.duration_s() == pytest.approx(3.0)
    with qtbot.waitSignal(view.seek_requested) as blocker:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(150, 50))
    assert 0.0 < blocker.args[0] < 3.0


def test_player_streams_pauses_seeks_and_stops_at_the_end(qtbot):
    sinks = Sinks()
    player = AudioPlayer(sink_factory=sinks)
    states = []
    player.state_changed.connect(states.append)
    player.start_stream(RATE)
    player.append(_tone(0.5))  # the first chunk: playback can start now
    player.play()
    assert player.state == PLAYING and sinks.made[-1].calls == ["start"]
    sink = sinks.made[-1]
    assert sink.consume(RATE) == RATE  # half a second played (16-bit mono)
    assert player.position_s() == pytest.approx(0.5)
    assert sink.consume(100) == 0  # caught up: waiting for the next chunk, not stopped
    player.append(_tone(0.5))
    assert player.state == PLAYING and sink.consume(RATE) == RATE
    player.pause()
    assert player.state == PAUSED
    player.seek(0.25)
    assert player.position_s() == pytest.approx(0.25)
    player.play()
    assert sink.calls[-1] == "resume"
    player.finish()
    sink.consume(10 * RATE)
    qtbot.waitUntil(lambda: player.state == STOPPED, timeout=2000)
    assert states == [PLAYING, PAUSED, PLAYING, STOPPED]
    assert player.duration_s() == pytest.approx(1.0)


def test_player_loops(qtbot):
    sinks = Sinks()
    player = AudioPlayer(sink_factory=sinks)
    player.set_audio(_tone(0.2), RATE)
    player.set_loop(True)
    player.play()
    sinks.made[-1].consume(10 * RATE)
    qtbot.waitUntil(lambda: player.position_s() == 0.0, timeout=2000)
    assert player.state == PLAYING
    assert sinks.made[-1].consume(2 * RATE) > 0  # playing again from the start
    player.stop()
    assert player.state == STOPPED


def test_no_audio_device_is_said_once_and_nothing_else_breaks(qtbot, tmp_path):
    panel = ClipView(player=AudioPlayer(sink_factory=lambda rate, channels: None))
    qtbot.addWidget(panel)
    messages = []
    panel.message.connect(messages.append)
    assert not panel.player.available
    panel.append_chunk(_tone(0.5), RATE)  # autoplay tries, and says there is no device
    panel.append_chunk(_tone(0.5), RATE)
    panel.finish_stream({"kind": "speech", "text": "hi", "voice": "joe"})
    qtbot.mouseClick(panel.play_button, Qt.MouseButton.LeftButton)
    other = AudioPlayer(sink_factory=lambda rate, channels: None)
    other.set_audio(_tone(0.1), RATE)
    other.play()
    assert messages == [NO_DEVICE]
    assert panel.player.state == STOPPED
    assert panel.waveform.duration_s() == pytest.approx(1.0)  # the waveform still shows it
    assert panel.export_button.isEnabled()
    written = panel.export_to(tmp_path / "clip.flac")
    assert audio.read_tags(written)["params"]["text"] == "hi"
    assert audio.read(written)[0].shape == (RATE,)


def test_panel_starts_playback_with_the_first_chunk(qtbot):
    sinks = Sinks()
    panel = ClipView(player=AudioPlayer(sink_factory=sinks))
    qtbot.addWidget(panel)
    panel.start_stream(RATE)
    assert panel.player.state == STOPPED and not panel.export_button.isEnabled()
    panel.append_chunk(_tone(0.3), RATE)
    assert panel.player.state == PLAYING and panel.play_button.text() == "Pause"
    panel.append_chunk(_tone(0.3), RATE)
    assert len(sinks.made) == 1  # later chunks feed the same output
    panel.finish_stream({"kind": "speech"})
    assert panel.export_button.isEnabled()
    qtbot.mouseClick(panel.play_button, Qt.MouseButton.LeftButton)
    assert panel.player.state == PAUSED
