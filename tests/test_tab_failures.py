"""The Text and Image tabs on a real MainWindow with the scripted fake engine: each tab follows its own
job handles, and a failure offers the action that fits its kind ("Download…", "Load anyway…", advice)."""

from __future__ import annotations

import dataclasses

import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from studio.errors import NotDownloaded, UnsafeModelFile
from studio.events import Output, Preview, Progress, Status, TextStats, Token
from studio.jobs.downloads import DownloadManager
from studio.models.catalog import Catalog
from studio.ui.settings import Settings
from tests.fake_engine import FakeEngine, Script


@pytest.fixture
def fake():
    return FakeEngine()


@pytest.fixture
def window(qtbot, tmp_path, library, fake):
    from studio.ui.main_window import MainWindow

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.device = "cpu"
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"), engine_factory=fake)
    qtbot.addWidget(win)
    win.show()
    # the worker builds its runtime from the settings first (that imports torch once per test session)
    win.jobs.run_in_worker(_nothing)
    qtbot.waitUntil(lambda: win.jobs.worker.runtime is not None, timeout=120_000)
    yield win
    win.close()


def _nothing(runtime) -> None:
    pass


@pytest.fixture
def started_downloads(monkeypatch):
    """DownloadManager.start records the entry instead of downloading (no network in tests)."""
    started = []

    def start(self, entry):
        started.append(entry.id)
        return True

    monkeypatch.setattr(DownloadManager, "start", start)
    return started


def click(qtbot, button):
    assert button.isVisible() and button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_text_tab_streams_from_its_handle(qtbot, window, fake):
    fake.default = Script([Status("Loading…"), Token("Hi", 1, 5.0, 4, 256), Token(" there", 2, 5.0, 5, 256),
                           Output("text", "Hi there", {"reply": "Hi there"})], result=TextStats(tokens=2))
    tab = window.tab("text")
    tab.input.setPlainText("hello")
    click(qtbot, tab.send_button)
    handle = tab.job
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    assert tab.messages[-1] == {"role": "assistant", "content": "Hi there"} and tab.job is None
    assert "Hi there" in tab.transcript_text() and not tab.status_line.action.isVisible()


def test_text_tab_offers_download_for_a_model_that_is_not_here(qtbot, window, fake, started_downloads):
    fake.default = Script([Status("Loading…")], error=NotDownloaded("'Qwen 2.5' is not downloaded yet.",
                                                                       "qwen2.5-1.5b-instruct"))
    tab = window.tab("text")
    tab.input.setPlainText("hello")
    click(qtbot, tab.send_button)
    with qtbot.waitSignal(tab.job.failed, timeout=10_000):
        pass
    assert "not downloaded" in tab.status_line.text() and tab.input.toPlainText() == "hello"
    assert tab.status_line.action.text() == "Download…"
    click(qtbot, tab.status_line.action)
    assert window.models_window is not None and window.models_window.isVisible()
    assert window.models_window.selected_id() == "qwen2.5-1.5b-instruct"
    assert started_downloads == ["qwen2.5-1.5b-instruct"] and not tab.status_line.action.isVisible()
    window.models_window.close()


def test_text_tab_out_of_memory_names_settings_that_exist(qtbot, window, fake):
    fake.default = Script(error=RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    tab = window.tab("text")
    tab.input.setPlainText("hello")
    click(qtbot, tab.send_button)
    with qtbot.waitSignal(tab.job.failed, timeout=10_000) as failed:
        pass
    assert failed.args[0].kind == "out_of_memory"
    text = tab.status_line.text()
    assert "Max new tokens" in text and "Settings → Preferences → Device" in text
    assert not tab.status_line.action.isVisible()  # the advice is the action
    # the named settings exist: the text tab's field and the Preferences dialog's Device row
    assert tab.max_new_tokens.isEnabled()
    from studio.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.settings, window)
    assert dialog.device.findData("cpu") >= 0
    dialog.close()


def image_tab(window, model):
    tab = window.tab("image")
    window.tabs.setCurrentWidget(tab)
    tab.model_picker.set_model_spec(str(model))
    tab.prompt.setPlainText("a red fox")
    tab.form.width_spin.setValue(64)
    tab.form.height_spin.setValue(64)
    return tab


@pytest.mark.parametrize("field", ["model", "vae"])
def test_image_tab_load_anyway_confirms_then_resubmits_with_permission(qtbot, window, fake, tmp_path, monkeypatch,
                                                                      field):
    pickled = tmp_path / ("model.pt" if field == "model" else "vae.ckpt")
    pickled.write_bytes(b"never opened by the fake")
    tab = image_tab(window, pickled if field == "model" else tmp_path / "model.safetensors")
    if field == "vae":
        tab.form.vae.setText(str(pickled))

    def script(request):  # refused without permission, as the resolver does
        if request.allow_pickle:
            return Script()
        return Script(error=UnsafeModelFile(f"'{pickled.name}' is pickled.", pickled.resolve(), allowable=True))

    fake.default = script
    monkeypatch.delenv("STUDIO_NO_CONFIRM", raising=False)
    answers = []

    def warning(parent, title, text, buttons, default):
        answers.append(title)
        return QMessageBox.StandardButton.No if len(answers) == 1 else QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "warning", warning)
    handle = tab.generate()
    with qtbot.waitSignal(handle.failed, timeout=10_000) as failed:
        pass
    assert failed.args[0].kind == "unsafe_file" and failed.args[0].path == str(pickled.resolve())
    assert tab.status_line.action.text() == "Load anyway…" and "⚠" in tab.status_line.text()
    click(qtbot, tab.status_line.action)  # the person says No: nothing is submitted
    assert answers == ["Load a pickled file?"] and len(fake.requests) == 1 and tab.status_line.action.isVisible()
    click(qtbot, tab.status_line.action)  # Yes: the same request again, with permission
    qtbot.waitUntil(lambda: len(fake.requests) == 2 and not tab.runner.jobs, timeout=10_000)
    again = fake.requests[1]
    assert again.allow_pickle is True and again.prompt == "a red fox" and again.model == fake.requests[0].model
    assert tab.progress.format() == "Done"
    assert tab.build_request().allow_pickle is True  # a Yes holds for that file this session


def test_image_tab_previews_cancel_and_queue_from_handles(qtbot, window, fake, tmp_path, library):
    frame = Preview(image=Image.new("RGB", (64, 64), "green"), step=1)
    fake.scripts[str(tmp_path / "slow.safetensors")] = Script(
        [Progress(1, 4, "generate"), frame, (1.0, Output("image", Image.new("RGB", (64, 64), "blue"), {"prompt": "x"})),
         (10.0, Progress(2, 4, "generate"))]
    )
    tab = image_tab(window, tmp_path / "slow.safetensors")
    first = tab.generate()
    second = tab.generate()
    assert tab.runner.jobs == [first, second] and "Queued behind 1 job(s)" in tab.status_line.text()
    qtbot.waitUntil(lambda: tab.preview_count == 1, timeout=10_000)
    # the preview is shown until the finished image replaces it (a second later in this script)
    assert tab.job is first and tab.view.caption().startswith("Preview")
    qtbot.waitUntil(lambda: len(library.items("image")) == 1 and tab.shown is not None, timeout=10_000)
    with qtbot.waitSignal(second.cancelled, timeout=10_000):
        click(qtbot, tab.cancel_button)  # cancels both: the queued one at once, the running one within a step
    qtbot.waitUntil(lambda: not tab.runner.jobs, timeout=10_000)
    assert first.state == "cancelled" and second.state == "cancelled" and fake.ran == [first.request.model]
    assert "kept 1 finished image" in tab.status_line.text() or "Cancelled" in tab.status_line.text()
    assert not tab.cancel_button.isEnabled()


def test_image_tab_out_of_memory_names_the_advanced_settings(qtbot, window, fake, tmp_path):
    fake.default = Script(error=RuntimeError("CUDA out of memory. Tried to allocate 8.00 GiB"))
    tab = image_tab(window, tmp_path / "big.safetensors")
    handle = tab.generate()
    with qtbot.waitSignal(handle.failed, timeout=10_000):
        pass
    text = tab.status_line.text()
    assert "set Memory plan to 'model'" in text and "Attention slicing to 'on'" in text and "VAE tiling to 'on'" in text
    assert "Lower Width, Height or Batch size" in text
    # the next memory plan down is one click away
    assert tab.status_line.action.isVisible() and tab.status_line.action.text() == "Retry with model offload"
    # those settings exist in the tab's form, with the values the advice names
    assert tab.form.offload.findData("model") >= 0
    assert tab.form.attention_slicing.findData("on") >= 0 and tab.form.vae_tiling.findData("on") >= 0


def test_load_anyway_asks_the_request_not_its_fields():
    from studio.jobs import JobError
    from studio.requests import ImageRequest, InpaintRequest, MusicRequest
    from studio.ui.job_errors import LOAD_ANYWAY, action_for

    refused = JobError("unsafe_file", "'x.ckpt' is pickled.", path="/m/x.ckpt", allowable=True)
    inpaint = InpaintRequest(image="p.png", mask="m.png", generation=ImageRequest(prompt="", model="/m/x.ckpt"))
    assert action_for(refused, inpaint) == LOAD_ANYWAY  # the permission sits in its generation
    assert action_for(refused, inpaint.with_pickle_allowed()) == ""  # allowed already: nothing more to ask
    assert action_for(refused, MusicRequest(prompt="calm")) == ""
    assert action_for(dataclasses.replace(refused, allowable=False), inpaint) == ""


def test_out_of_memory_offers_the_next_memory_plan(window, qtbot, fake):
    """On a GPU the advice names a leaner plan: the Image tab offers "Retry with …", which runs the same
    request again on that plan."""
    from studio.errors import FieldChange, OutOfMemory

    def script(request):
        if request.offload == "group":
            return Script()
        return Script(error=OutOfMemory("Out of memory on cuda at 1024×1024 with batch size 1.",
                                        (FieldChange("width"), FieldChange("offload", "group")), "image", "cuda"))

    fake.default = script
    window.show_tab("image")
    tab = window.tab("image")
    tab.form.prompt.setPlainText("a lighthouse")
    handle = tab.generate()
    with qtbot.waitSignal(handle.failed, timeout=10_000):
        pass
    action = tab.status_line.action
    assert action.isVisible() and action.text() == "Retry with group offload", tab.status_line.text()
    click(qtbot, action)
    qtbot.waitUntil(lambda: len(fake.requests) == 2 and not tab.runner.busy, timeout=10_000)
    again = fake.requests[1]
    assert again.offload == "group" and again.prompt == "a lighthouse"
    assert not action.isVisible()
