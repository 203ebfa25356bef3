"""Main window: settings persist and reach the worker, closing mid-job, menus, Send to."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QSettings

from studio.models.catalog import Catalog
from studio.requests import ChatMessage, TextRequest
from studio.ui.settings import Settings


def make_settings(tmp_path):
    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def window(qtbot, tmp_path, library):
    from studio.ui.main_window import MainWindow

    win = MainWindow(make_settings(tmp_path), library, Catalog(tmp_path / "user_models.json"))
    qtbot.addWidget(win)
    win.show()
    return win


def test_settings_persist_between_runs(tmp_path):
    first = make_settings(tmp_path)
    assert (first.device, first.dtype, first.offline, first.memory_budget_gb) == ("auto", "auto", False, 0.0)
    first.device = "cpu"
    first.dtype = "float32"
    first.memory_budget_gb = 6.5
    first.offline = True
    first.output_folder = tmp_path / "out"
    again = make_settings(tmp_path)
    assert (again.device, again.dtype, again.memory_budget_gb, again.offline) == ("cpu", "float32", 6.5, True)
    assert again.output_folder == tmp_path / "out"
    again.reset()
    assert make_settings(tmp_path).device == "auto"


def test_settings_dialog_applies_to_the_worker(qtbot, window, tmp_path, monkeypatch):
    from studio.ui.settings_dialog import SettingsDialog

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    window.jobs.run_in_worker(lambda rt: None)  # start the worker and build its runtime
    qtbot.waitUntil(lambda: window.jobs.worker.runtime is not None, timeout=60_000)  # imports torch
    dialog = SettingsDialog(window.settings, window)
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.budget.setValue(2)
    dialog.offline.setChecked(True)
    dialog.output.setText(str(tmp_path / "elsewhere"))
    dialog.accept()
    runtime = window.jobs.worker.runtime
    qtbot.waitUntil(
        lambda: runtime.device == "cpu" and runtime.cache.budget_bytes == 2 * 1024**3 and runtime.offline is True,
        timeout=60_000,  # queued behind the worker's warm-up (torch, transformers, llama.cpp): slow on a busy machine
    )
    assert window.library.root == tmp_path / "elsewhere"
    assert "cpu" in window.device_label.text()
    # one configuration, passed explicitly: nothing is written into the environment
    import os

    assert "HF_HUB_OFFLINE" not in os.environ
    assert window.services.config.offline is True and window.downloads.offline() is True
    window.settings.offline = False
    qtbot.waitUntil(lambda: runtime.offline is False, timeout=60_000)
    assert window.downloads.offline() is False and "HF_HUB_OFFLINE" not in os.environ


def test_offline_at_launch_holds_until_the_preference_is_flipped(qtbot, tmp_path, library, monkeypatch):
    """HF_HUB_OFFLINE=1 in the environment Studio starts in means offline (read once, never written)."""
    from studio.app import compose
    from studio.ui.main_window import MainWindow

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = make_settings(tmp_path)
    config = settings.config().with_environment()
    assert config.offline is True and settings.offline is False  # the stored preference is untouched
    services = compose(config, library, Catalog(tmp_path / "user_models.json"))
    win = MainWindow(settings, library, services=services)
    qtbot.addWidget(win)
    assert win.jobs is services.jobs and win.downloads.offline() is True
    settings.memory_budget_gb = 3  # another preference: still offline
    assert services.config.offline is True and services.config.memory_budget_gb == 3
    settings.offline = True
    settings.offline = False  # the person's own choice now
    assert services.config.offline is False and win.downloads.offline() is False
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # never rewritten
    win.close()


def test_text_threads_and_gpu_layers_preferences_reach_the_text_requests(qtbot, window, tmp_path):
    from studio.ui.settings_dialog import SettingsDialog

    request = window.tab("text").build_request("hi")
    assert (request.threads, request.gpu_layers) == (0, -1)  # automatic, all layers
    dialog = SettingsDialog(window.settings, window)
    assert dialog.text_threads.text() == "Automatic" and dialog.text_gpu_layers.text() == "All"
    dialog.text_threads.setValue(1)
    dialog.text_gpu_layers.setValue(0)
    dialog.accept()
    request = window.tab("text").build_request("hi")
    assert (request.threads, request.gpu_layers) == (1, 0)
    request.validate()
    again = make_settings(tmp_path)
    assert (again.text_threads, again.text_gpu_layers) == (1, 0)


def test_closing_mid_job_cancels_stops_the_worker_and_keeps_results(qtbot, window, tiny_llm, library):
    window.settings.device = "cpu"  # applied by the worker before the first job
    tokens = []
    window.jobs.job_token.connect(lambda j, t: tokens.append(t))
    running = window.jobs.submit(TextRequest(messages=(ChatMessage("user", "hi"),), model=tiny_llm, max_new_tokens=5000)).id
    queued = window.jobs.submit(TextRequest(messages=(ChatMessage("user", "next"),), model=tiny_llm)).id
    qtbot.waitUntil(lambda: len(tokens) >= 2, timeout=60_000)
    window.close()
    assert window.worker_stopped is True
    assert not window.jobs.worker.isRunning()
    assert window.jobs.job(queued).state == "cancelled"
    qtbot.waitUntil(lambda: window.jobs.job(running).state == "cancelled", timeout=5_000)
    saved = library.items("text")
    assert len(saved) == 1 and saved[0].params["stats"]["stopped"] is True  # the partial reply is on disk


def test_models_window_opens_from_the_menu(qtbot, window):
    action = next(a for a in window.menuBar().actions() if a.text() == "&Models").menu().actions()[0]
    assert action.shortcut().toString() == "Ctrl+M"
    action.trigger()
    assert window.models_window is not None and window.models_window.isVisible()
    window.models_window.close()


def test_history_opens_items_in_their_tab(qtbot, window, library):
    from PIL import Image

    from studio.events import Output

    conv = {"id": "c1", "title": "hi", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    library.save(Output("text", "yo", {"reply": "yo", "conversation": conv}))
    library.save(Output("image", Image.new("RGB", (16, 16), "blue"), {"prompt": "blue", "seed": 5, "width": 16, "height": 16}))
    window.history_panel.refresh()
    image_item, text_item = library.items()
    window.open_saved(text_item)
    assert window.tabs.currentWidget() is window.tab("text") and window.tab("text").messages == conv["messages"]
    window.open_saved(image_item)
    assert window.tabs.currentWidget() is window.tab("image")
    assert window.tab("image").shown == image_item and "Seed: 5" in window.tab("image").info.toPlainText()

