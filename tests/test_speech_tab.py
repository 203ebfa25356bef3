"""The Speech tab on a real MainWindow with a tiny coqui VITS (CPU): text, Speak (Ctrl+Enter), sentences
arriving in the waveform, playback state, History reopening the clip with its settings, Send to, Cancel."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt

from studio.models.catalog import Catalog
from studio.ui.audio.player import NO_DEVICE, PLAYING, STOPPED
from studio.ui.settings import Settings


@pytest.fixture
def window(qtbot, tmp_path, library, tiny_vits):
    from studio.ui.main_window import MainWindow

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.device = "cpu"
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"))
    qtbot.addWidget(win)
    win.show()
    tab = win.tab("speech")
    win.tabs.setCurrentWidget(tab)
    tab.form.model_picker.set_model_spec(str(tiny_vits))
    yield win
    tab.cancel()
    win.close()


def test_speak_fills_the_waveform_plays_and_lands_in_history(qtbot, window, library):
    tab = window.tab("speech")
    # read from the model's files off the UI thread, before any load
    qtbot.waitUntil(lambda: tab.form.speakers() == ["alice", "bob"], timeout=10_000)
    tab.form.speaker.setCurrentIndex(tab.form.speaker.findData("bob"))
    tab.form.seed.setValue(11)
    messages = []
    tab.clip_view.message.connect(messages.append)
    qtbot.keyClicks(tab.text, "Hello there. Bye now.")
    with qtbot.waitSignal(window.jobs.job_finished, timeout=120_000):
        qtbot.keyClick(tab.text, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert tab.clip_view.waveform.has_audio() and tab.clip_view.waveform.duration_s() > 0.3
    assert (tab.progress.value(), tab.progress.maximum()) == (2, 2)
    assert tab.clip_view.export_button.isEnabled() and tab.speak_button.isEnabled()
    if tab.clip_view.player.available:  # a machine with sound: playback started with the first sentence
        assert tab.clip_view.player.state == PLAYING
    else:  # no audio device: said once in the status bar, everything else works
        assert tab.clip_view.player.state == STOPPED
        assert messages == [NO_DEVICE]
    (saved,) = library.items("speech")
    assert saved.params["speaker"] == "bob" and saved.params["seed"] == 11 and saved.params["text"] == "Hello there. Bye now."

    # History → open: back in the Speech tab with its settings
    tab.text.setPlainText("something else")
    tab.form.speaker.setCurrentIndex(0)
    tab.clip_view.clear()
    window.history_panel.refresh()
    assert window.history_panel.count() == 1
    window.open_saved(saved)
    assert tab.text.toPlainText() == "Hello there. Bye now."
    assert tab.form.speaker.currentData() == "bob" and tab.form.seed.value() == 11
    assert tab.form.wait_idle()
    qtbot.waitUntil(lambda: tab.form.speakers() == ["alice", "bob"], timeout=10_000)
    assert tab.form.speaker.currentData() == "bob"  # kept when the lists arrive
    assert tab.clip_view.waveform.duration_s() == pytest.approx(saved.params["audio_seconds"], abs=0.01)


def test_send_to_speech_from_the_text_tab(window):
    assert ("speech", "Speech") in window.send_targets("text", exclude="text")
    assert window.send_text("speech", "Read this aloud.")
    assert window.tabs.currentWidget() is window.tab("speech")
    assert window.tab("speech").text.toPlainText() == "Read this aloud."


def test_cancel_keeps_a_partial_result_and_bad_text_is_refused(qtbot, window, library):
    tab = window.tab("speech")
    tab.text.setPlainText("...")
    qtbot.mouseClick(tab.speak_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.jobs.job_failed, timeout=60_000):
        pass
    assert "nothing to say" in tab.status_line.text()
    tab.text.setPlainText(" ".join(f"Sentence number {i}." for i in range(30)))
    with qtbot.waitSignal(window.jobs.job_cancelled, timeout=120_000):
        qtbot.mouseClick(tab.speak_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: tab.clip_view.waveform.has_audio(), timeout=60_000)
        qtbot.mouseClick(tab.cancel_button, Qt.MouseButton.LeftButton)
    assert "partial result" in tab.status_line.text()
    (saved,) = library.items("speech")
    assert saved.params["partial"] is True and saved.params["chunks"] == 30
    assert tab.speak_button.isEnabled() and tab.clip_view.export_button.isEnabled()


def test_a_reference_clip_asks_for_consent_once_and_a_model_that_cannot_clone_says_so(
    qtbot, window, tmp_path, monkeypatch
):
    import numpy as np
    from PySide6.QtWidgets import QMessageBox

    from studio.library import audio
    from tests.test_image_tab import drop_files

    clip = audio.export(tmp_path / "voice.flac", 0.3 * np.sin(np.arange(48000) / 7.0), 16000)
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    asked = []

    def question(*args, **kwargs):
        asked.append(args[2] if len(args) > 2 else "")
        return answers.pop(0)

    monkeypatch.setattr(QMessageBox, "question", question)
    tab = window.tab("speech")
    drop_files(tab, [clip])  # refused: no clip set
    assert tab.form.clip.text() == "" and "permission" in asked[0]
    drop_files(tab, [clip])  # agreed
    assert tab.form.clip.text() == str(clip)
    assert tab.form.set_reference_clip(str(clip))  # the same clip again: not asked again
    assert len(asked) == 2
    tab.text.setPlainText("Hello there.")
    with qtbot.waitSignal(window.jobs.job_failed, timeout=60_000):
        qtbot.mouseClick(tab.speak_button, Qt.MouseButton.LeftButton)
    assert "cannot clone a voice" in tab.status_line.text()
    assert tab.speak_button.isEnabled()


def test_a_voice_not_downloaded_offers_download(qtbot, window):
    tab = window.tab("speech")
    tab.form.model_picker.set_model_spec("piper-de_DE-thorsten-medium")  # in the catalog, not here, offline
    qtbot.keyClicks(tab.text, "Hallo.")
    with qtbot.waitSignal(window.jobs.job_failed, timeout=60_000) as failed:
        tab.speak()
    assert failed.args[1].kind == "not_downloaded"
    assert tab.status_line.action.isVisibleTo(tab) and tab.status_line.action.text() == "Download…"
    assert tab.speak_button.isEnabled()


def test_voice_lists_arrive_as_their_own_event(window):
    from studio.events import VoiceList

    tab = window.tab("speech")
    tab.form.set_voice_lists((), ())  # a model whose files do not list its voices
    tab.on_voices(VoiceList("m", ("carol", "dave"), ("en", "de")))
    assert tab.form.speakers() == ["carol", "dave"] and tab.form.languages() == ["en", "de"]
    tab.on_voices(VoiceList("m", ("eve",), ()))  # the files' own lists (or the first event's) stay
    assert tab.form.speakers() == ["carol", "dave"]


def test_a_dropped_text_file_is_read_through_the_input_module(qtbot, window, tmp_path):
    """A FIFO named .txt dropped on the tab froze the window (read on the UI thread, waiting for a writer);
    it is refused in one line, and a real text file still fills the text box."""
    import os

    from tests.test_image_tab import drop_files

    tab = window.tab("speech")
    os.mkfifo(tmp_path / "story.txt")
    drop_files(tab, [tmp_path / "story.txt"])
    assert "not a regular file (a pipe (FIFO))" in tab.status_line.text() and tab.text.toPlainText() == ""
    (tmp_path / "real.txt").write_text("Once upon a time.", encoding="utf-8")
    drop_files(tab, [tmp_path / "real.txt"])
    assert tab.text.toPlainText() == "Once upon a time."
