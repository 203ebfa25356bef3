"""The Image tab driven with qtbot on a real MainWindow and a tiny SD pipeline (CPU): prompt,
Generate, live previews, the result in the gallery and the library, seeds, cancel, errors,
restoring settings from PNGs, image-to-image inputs (drop, paste, open), model defaults."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.events import Output
from studio.models.catalog import Catalog
from studio.requests import SCHEDULERS
from studio.ui.settings import Settings


def make_window(tmp_path, library, model=None):
    from studio.ui.main_window import MainWindow

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.device = "cpu"  # the tests run on the CPU; the tiny model is picked as "other (path)"
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"))
    if model is not None:
        tab = win.tab("image")
        tab.model_picker.set_model_spec(str(model))
        form = tab.form
        form.width_spin.setValue(64)
        form.height_spin.setValue(64)
        form.steps.setValue(3)
        form.guidance.setValue(7.0)
    return win


@pytest.fixture
def window(qtbot, tmp_path, library, tiny_sd):
    win = make_window(tmp_path, library, tiny_sd)
    qtbot.addWidget(win)
    win.show()
    win.tabs.setCurrentWidget(win.tab("image"))
    yield win
    win.tab("image").cancel()
    win.tab("image").wait_idle()
    win.close()


def shows_final_image(tab) -> bool:
    return tab.view.has_image() and not tab.view.caption().startswith("Preview")


def write_png(path: Path, text_chunks: dict | None = None, colour=(200, 30, 30)) -> Path:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in (text_chunks or {}).items():
        info.add_text(key, value)
    Image.new("RGB", (48, 32), colour).save(path, pnginfo=info)
    return path


def drop_files(widget, paths) -> None:
    """Real drag-enter and drop events with file URLs, as a file manager sends them."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with warnings.catch_warnings():  # PySide marks the QPoint constructor deprecated; Qt 6 has no other
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(5, 5), *args)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the drop zone refused the drag"
    QApplication.sendEvent(widget, QDropEvent(QPointF(5, 5), *args))


# --- generating -------------------------------------------------------------------------------------


def test_generate_previews_then_result_in_gallery_library_and_seed_reuse(qtbot, window, library, tmp_path):
    tab, form = window.tab("image"), window.tab("image").form
    shown_during_preview = []
    # connected after the tab: runs once the tab has handled each preview
    window.jobs.job_preview.connect(lambda j, p: shown_during_preview.append(tab.view.has_image() and tab.view.caption()))
    qtbot.keyClicks(tab.prompt, "a cat")
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        qtbot.mouseClick(tab.generate_button, Qt.MouseButton.LeftButton)
        assert tab.cancel_button.isEnabled()
    # live previews reached the view while denoising
    assert tab.preview_count >= 1 and shown_during_preview
    assert all(c and c.startswith("Preview") for c in shown_during_preview)
    # saved at once: library index, PNG on disk, gallery, then the full image in the view
    items = library.items("image")
    assert len(items) == 1 and items[0].path.is_file() and items[0].path.suffix == ".png"
    assert [s.path for s in tab.gallery.saved_items()] == [items[0].path]
    qtbot.waitUntil(lambda: shows_final_image(tab), timeout=10_000)
    assert tab.shown.path == items[0].path
    assert tab.view.pixmap().width() == 64
    assert not tab.cancel_button.isEnabled() and tab.progress.format() == "Done"
    assert tab.status_line.text().startswith("Done: 1 image")
    # the seed actually used (random was on) is shown, and ♻ puts it back
    seed = items[0].params["seed"]
    assert isinstance(seed, int)
    assert str(seed) in form.seed.used.text() and "a cat" in tab.info.toPlainText()
    assert form.seed.is_random()
    qtbot.mouseClick(form.seed.reuse_button, Qt.MouseButton.LeftButton)
    assert not form.seed.is_random() and form.seed.value() == seed
    # the same seed again gives the same picture
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        tab.generate()
    first, second = library.items("image")[1], library.items("image")[0]
    assert second.params["seed"] == seed
    assert QImage(str(first.path)) == QImage(str(second.path))
    assert tab.gallery.count() == 2 and tab.gallery.saved_items()[0].path == second.path

    # reuse all settings restores what was changed since
    form.prompt.setPlainText("something else")
    form.steps.setValue(9)
    form.sampler.setCurrentIndex(form.sampler.findData("DDIM"))
    form.seed.setValue(None)
    tab.act("reuse_all", first)
    assert form.prompt.toPlainText() == "a cat" and form.steps.value() == 3
    assert form.sampler.currentData() == "" and not form.seed.is_random() and form.seed.value() == seed
    assert tab.model_picker.current_model_spec() == first.params["model"]
    assert "Restored from" in tab.status_line.text()
    # and so does our own PNG through PNG info
    form.prompt.setPlainText("x")
    assert "prompt" in tab.restore_from_png(str(first.path)) and form.prompt.toPlainText() == "a cat"

    # result actions: copy, save as (metadata kept), send to canvas (the Canvas opens the picture)
    tab.act("copy", first)
    assert QGuiApplication.clipboard().image().width() == 64
    target = tmp_path / "copy.png"
    assert tab.save_as(first, str(target)) and target.read_bytes() == first.path.read_bytes()
    tab.act("canvas", first)
    canvas = window.tab("canvas")
    assert window.tabs.currentWidget() is canvas and canvas.doc.size == (64, 64)


def test_cancel_keeps_the_images_that_finished(qtbot, window, library):
    tab, form = window.tab("image"), window.tab("image").form
    form.prompt.setPlainText("a dog")
    form.batch_count.setValue(100)
    with qtbot.waitSignal(window.jobs.job_output, timeout=60_000):
        assert tab.generate()
    with qtbot.waitSignal(window.jobs.job_cancelled, timeout=30_000) as cancelled:
        qtbot.mouseClick(tab.cancel_button, Qt.MouseButton.LeftButton)
    kept = cancelled.args[1].items
    assert 1 <= len(kept) < 100
    assert len(library.items("image")) == len(kept) == tab.gallery.count()
    assert all(item.path.is_file() for item in kept)
    assert f"kept {len(kept)} finished image" in tab.status_line.text()
    assert not tab.cancel_button.isEnabled() and tab.job is None
    qtbot.waitUntil(lambda: shows_final_image(tab), timeout=10_000)  # not a stale preview


def test_invalid_size_or_empty_prompt_warns_and_submits_nothing(qtbot, window):
    tab, form = window.tab("image"), window.tab("image").form
    form.prompt.setPlainText("a cat")
    form.width_spin.setValue(100)
    window.activateWindow()
    tab.prompt.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    qtbot.keyClick(tab.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Enter generates
    assert tab.prompt.toPlainText() == "a cat"  # no newline typed
    assert tab.status_line.text().startswith("⚠") and "multiple of 8" in tab.status_line.text()
    assert window.jobs.jobs() == [] and tab.runner.jobs == []
    form.width_spin.setValue(64)
    form.prompt.setPlainText("   ")
    assert tab.generate() is None
    assert "prompt is empty" in tab.status_line.text()
    assert window.jobs.jobs() == []


def test_failed_job_shows_the_engine_message_and_keeps_settings(qtbot, window, tmp_path):
    tab, form = window.tab("image"), window.tab("image").form
    tab.model_picker.set_model_spec(str(tmp_path / "no-such-model"))
    form.prompt.setPlainText("a cat")
    with qtbot.waitSignal(window.jobs.job_failed, timeout=30_000) as failed:
        tab.generate()
    assert tab.status_line.text() == f"⚠ {failed.args[1].message}" and failed.args[1].kind == "not_found"
    assert form.prompt.toPlainText() == "a cat" and form.steps.value() == 3
    assert tab.generate_button.isEnabled() and not tab.cancel_button.isEnabled() and tab.runner.jobs == []


def test_pickled_model_is_refused_then_loaded_anyway_after_confirmation(qtbot, window, tmp_path, monkeypatch):
    tab, form = window.tab("image"), window.tab("image").form
    ckpt = tmp_path / "old-model.ckpt"
    ckpt.write_bytes(b"not really")
    tab.model_picker.set_model_spec(str(ckpt))
    form.prompt.setPlainText("a cat")
    with qtbot.waitSignal(window.jobs.job_failed, timeout=30_000) as failed:
        tab.generate()
    assert failed.args[1].kind == "unsafe_file" and failed.args[1].path == str(ckpt.resolve())
    assert "⚠" in tab.status_line.text() and "pickled" in tab.status_line.text()
    assert tab.status_line.action.isVisible() and tab.status_line.action.text() == "Load anyway…"
    assert tab.build_request().allow_pickle is False
    monkeypatch.delenv("STUDIO_NO_CONFIRM", raising=False)
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.jobs.job_failed, timeout=30_000) as again:
        qtbot.mouseClick(tab.status_line.action, Qt.MouseButton.LeftButton)
    # with permission the file is opened, weights only: this one is no plain weights, so it stays refused
    assert again.args[1].kind == "unsafe_file" and again.args[1].allowable is False
    assert again.args[1].message in tab.status_line.text()
    assert not tab.status_line.action.isVisible()  # no permission helps any more
    assert tab.build_request().allow_pickle is True  # a Yes holds for that file for the session


# --- restoring settings ----------------------------------------------------------------------------


def test_dropping_an_a1111_png_restores_its_settings(qtbot, window, tmp_path):
    tab, form = window.tab("image"), window.tab("image").form
    png = write_png(
        tmp_path / "from-a1111.png",
        {
            "parameters": "a castle on a hill, sunset\nNegative prompt: blurry, lowres\n"
            "Steps: 12, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5.5, Seed: 3141592653, "
            "Size: 640x448, Model hash: abc123, Model: stable-diffusion-v1-5, Version: v1.10.0"
        },
    )
    drop_files(form.png_drop, [png])
    # read off the UI thread: the drop returns at once and the settings arrive through the event loop
    assert form.prompt.toPlainText() != "a castle on a hill, sunset" and "Reading" in tab.status_line.text()
    qtbot.waitUntil(lambda: form.prompt.toPlainText() == "a castle on a hill, sunset", timeout=10_000)
    assert form.negative_prompt.toPlainText() == "blurry, lowres"
    assert form.steps.value() == 12 and form.guidance.value() == 5.5
    assert form.sampler.currentText() == "DPM++ 2M Karras"
    assert not form.seed.is_random() and form.seed.value() == 3141592653  # above 2**31
    assert (form.width_spin.value(), form.height_spin.value()) == (640, 448)
    assert tab.model_picker.current_model_spec() == "sd-1.5"  # matched by the repo's name
    status = tab.status_line.text()
    assert status.startswith("Restored from from-a1111.png") and "seed" in status and "model" in status
    request = tab.build_request()
    assert request.seed == 3141592653 and request.scheduler == "DPM++ 2M Karras"

    # an unknown model is named, the rest restored; a PNG without settings says so
    other = write_png(tmp_path / "other.png", {"parameters": "a tree\nSteps: 7, Sampler: Euler a, CFG scale: 3, Seed: 5, Size: 64x64, Model: mystery-mix"})
    tab.restore_from_png(str(other))
    assert form.prompt.toPlainText() == "a tree" and "mystery-mix" in tab.status_line.text()
    assert tab.model_picker.current_model_spec() == "sd-1.5"
    tab.restore_from_png(str(write_png(tmp_path / "plain.png")))
    assert tab.status_line.text() == "⚠ No generation settings found in plain.png."
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    tab.restore_from_png(str(tmp_path / "junk.png"))
    assert "No generation settings" in tab.status_line.text() and form.prompt.toPlainText() == "a tree"


# --- image-to-image -------------------------------------------------------------------------------


def test_init_image_by_drop_paste_and_open_then_img2img(qtbot, window, library, tmp_path):
    tab, form = window.tab("image"), window.tab("image").form
    assert not form.strength.isEnabled()
    photo = write_png(tmp_path / "photo.png", colour=(20, 120, 220))
    # a real drop from a file manager
    drop_files(form.init_image.frame, [photo])
    assert form.init_image.path() == str(photo) and tab.build_request().init_image == str(photo)
    assert form.strength.isEnabled() and tab.generate_button.text() == "Generate (img2img)"
    form.init_image.clear()
    assert tab.build_request().init_image == "" and tab.generate_button.text() == "Generate"
    # not an image: refused with a message
    (tmp_path / "notes.png").write_text("hello")
    assert not form.set_init_image(str(tmp_path / "notes.png"))
    assert "⚠" in tab.status_line.text() and form.init_image.path() == ""
    # pasted image data (e.g. a screenshot) is kept as a PNG under the library
    picture = QImage(40, 24, QImage.Format.Format_RGB32)
    picture.fill(QColor("orange"))
    QGuiApplication.clipboard().setImage(picture)
    window.activateWindow()
    tab.gallery.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    qtbot.keyClick(tab.gallery, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)  # Ctrl+V outside text boxes
    pasted = Path(form.init_image.path())
    assert pasted.is_file() and pasted.parent == Path(library.root) / "inputs"
    form.use_init_image_size()
    assert (form.width_spin.value(), form.height_spin.value()) == (104, 64)  # 40×24 grown to 64 high
    # what Open… calls, then a real image-to-image run
    assert form.set_init_image(str(photo))
    form.width_spin.setValue(64)
    form.height_spin.setValue(64)
    form.strength.setValue(0.7)
    assert form.strength_slider.value() == 70
    form.prompt.setPlainText("a blue sky")
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        assert tab.generate()
    params = library.items("image")[0].params
    assert params["mode"] == "img2img" and params["init_image"] == str(photo) and params["strength"] == 0.7


# --- model defaults, presets, advanced -----------------------------------------------------------------


def test_model_defaults_presets_and_advanced_fields(qtbot, tmp_path, library, tiny_sd, tiny_lora):
    win = make_window(tmp_path, library)
    qtbot.addWidget(win)
    form = win.tab("image").form
    assert [form.sampler.itemText(i) for i in range(form.sampler.count())] == ["Model default", *SCHEDULERS]
    win.tab("image").model_picker.set_model_spec("sdxl-base-1.0")
    assert (form.width_spin.value(), form.height_spin.value(), form.steps.value(), form.guidance.value()) == (1024, 1024, 30, 6.0)
    assert form.aspect.currentData() == "1:1"
    form.choose_aspect("16:9")
    assert (form.width_spin.value(), form.height_spin.value()) == (1344, 768)
    assert form.aspect.currentData() == "16:9"
    form.swap_size()
    assert (form.width_spin.value(), form.height_spin.value()) == (768, 1344) and form.aspect.currentData() == "9:16"
    win.tab("image").model_picker.set_model_spec("sd-1.5")
    assert (form.width_spin.value(), form.steps.value(), form.guidance.value()) == (512, 25, 7.0)
    for name in ("4:3", "3:2", "2:3", "16:9"):
        form.choose_aspect(name)
        w, h = form.width_spin.value(), form.height_spin.value()
        a, b = (int(x) for x in name.split(":"))
        assert w % 8 == 0 and h % 8 == 0 and abs(w / h - a / b) < 0.08 and 0.8 < w * h / 512**2 < 1.2
    # a model outside the catalog gets generic defaults only where the previous model's still are
    win.tab("image").model_picker.set_model_spec("sd-turbo")
    assert (form.steps.value(), form.guidance.value()) == (1, 0.0)
    form.steps.setValue(6)
    win.tab("image").model_picker.set_model_spec(str(tiny_sd))
    assert (form.steps.value(), form.guidance.value(), form.width_spin.value()) == (6, 7.0, 512)
    # advanced: LoRAs, VAE and memory settings go into the request
    form.advanced.set_expanded(True)
    form.loras.add(str(tiny_lora), 0.8)
    form.vae.setText("/models/vae.safetensors")
    form.offload.setCurrentIndex(form.offload.findData("model"))
    form.vae_tiling.setCurrentIndex(form.vae_tiling.findData("on"))
    form.prompt.setPlainText("x")
    request = win.tab("image").build_request()
    assert [(lo.path, lo.weight) for lo in request.loras] == [(str(tiny_lora), 0.8)]
    assert (request.vae, request.offload, request.attention_slicing, request.vae_tiling) == (
        "/models/vae.safetensors", "model", "auto", "on")
    request.validate()
    win.close()


def test_gallery_lists_the_librarys_recent_images_on_start(qtbot, tmp_path, library):
    from PIL import Image

    for i in range(3):
        library.save(Output("image", Image.new("RGB", (32, 32), (i * 80, 0, 0)), {"kind": "image", "prompt": f"p{i}", "seed": i, "width": 32, "height": 32}))
    win = make_window(tmp_path, library)
    qtbot.addWidget(win)
    tab = win.tab("image")
    assert tab.gallery.count() == 3
    assert [s.params["prompt"] for s in tab.gallery.saved_items()] == ["p2", "p1", "p0"]  # newest first
    tab.gallery.setCurrentRow(1)
    assert tab.shown.params["prompt"] == "p1" and "Seed used: <b>1</b>" in tab.form.seed.used.text()
    qtbot.waitUntil(lambda: shows_final_image(tab), timeout=10_000)
    assert tab.wait_idle() and tab.gallery.thumbnail(tab.shown) is not None
    win.close()
