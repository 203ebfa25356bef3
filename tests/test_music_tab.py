"""The Music tab driven with qtbot on a tiny MusicGen: prompt, Generate, waveform, seed, History."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt

from studio.models.catalog import Catalog
from studio.ui.settings import Settings
from studio.testing.tiny_music import SAMPLE_RATE


@pytest.fixture
def window(qtbot, tmp_path, library, tiny_musicgen, one_torch_thread):
    from studio.ui.main_window import MainWindow

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.device = "cpu"
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"))
    win.tab("music").model_picker.set_model_spec(tiny_musicgen)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def test_prompt_generate_waveform_seed_and_history(qtbot, window, library):
    tab = window.tab("music")
    window.show_tab("music")
    assert not tab.results.isVisible()  # no empty takes box before the first take
    qtbot.keyClicks(tab.prompt, "lo-fi hip hop with warm piano")
    tab.numbers["duration_s"].setValue(2.5)  # past the tiny model's 2.04 s window: two windows
    tab.numbers["window_keep_s"].setValue(1.0)
    tab.seed.setValue(77)
    with qtbot.waitSignal(window.jobs.job_finished, timeout=120_000):
        qtbot.mouseClick(tab.generate_button, Qt.MouseButton.LeftButton)
    assert tab.generate_button.isEnabled() and not tab.cancel_button.isEnabled()
    samples, rate = tab.clip_view.clip()
    assert rate == SAMPLE_RATE and len(samples) == 2.5 * SAMPLE_RATE  # the whole piece, to the sample
    assert tab.clip_view.export_button.isEnabled() and tab.results.count() == 1 and tab.results.isVisible()
    assert "Seed used: <b>77</b>" in tab.seed.used.text()

    (saved,) = library.items(kind="music")
    assert saved.path.suffix == ".flac" and saved.params["seed"] == 77 and saved.params["duration_s"] == 2.5

    # History → the Music tab, with the clip and its settings back
    tab.prompt.clear()
    tab.numbers["duration_s"].setValue(5.0)
    tab.clip_view.clear()
    window.show_tab("text")
    assert window.open_saved(saved)
    assert window.tabs.currentWidget() is tab
    assert tab.prompt.toPlainText() == "lo-fi hip hop with warm piano"
    assert tab.numbers["duration_s"].value() == 2.5
    assert len(tab.clip_view.clip()[0]) == 2.5 * SAMPLE_RATE

    # the seed is reusable
    tab.seed.setValue(None)
    tab.seed.reuse_button.click()
    assert not tab.seed.is_random() and tab.seed.value() == 77


def test_bad_input_is_a_message_and_the_tab_keeps_working(qtbot, window, tmp_path):
    tab = window.tab("music")
    qtbot.keyClicks(tab.prompt, "piano")
    tab.continue_from.set_path(str(tmp_path / "missing.wav"))
    with qtbot.waitSignal(window.jobs.job_failed, timeout=120_000):
        tab.generate_button.click()
    assert "No clip to continue at" in tab.status_line.text()
    assert tab.generate_button.isEnabled()
    tab.prompt.clear()
    tab.continue_from.set_path("")
    tab.generate_button.click()  # empty prompt: refused before queueing
    assert "prompt" in tab.status_line.text() and tab.job is None


def test_text_sent_from_another_tab_becomes_the_prompt(window):
    assert window.send_text("music", "epic orchestral soundtrack")
    assert window.tabs.currentWidget() is window.tab("music")
    assert window.tab("music").prompt.toPlainText() == "epic orchestral soundtrack"


def test_a_model_not_downloaded_offers_download(qtbot, window):
    tab = window.tab("music")
    tab.model_picker.set_model_spec("musicgen-small")  # in the catalog, not on this machine, offline
    qtbot.keyClicks(tab.prompt, "piano")
    with qtbot.waitSignal(window.jobs.job_failed, timeout=60_000):
        tab.generate_button.click()
    assert "not downloaded" in tab.status_line.text()
    assert tab.status_line.action.isVisibleTo(tab) and tab.status_line.action.text() == "Download…"
    assert tab.generate_button.isEnabled()
