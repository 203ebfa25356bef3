"""The Image tab's power tools driven with qtbot on a real MainWindow and tiny models (CPU): a ControlNet unit
with its map previewed and saved before generating, the job's result carrying the unit; hires fix; the
settings restored from the image; the gallery's "Upscale…" action as a job."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import QPointF, Qt

from tests.test_image_tab import make_window


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


def test_controlnet_unit_preview_generate_and_restore(qtbot, window, library, tiny_controlnet, tmp_path):
    tab = window.tab("image")
    form = tab.form
    control = tmp_path / "control.png"
    im = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(im).rectangle((10, 12, 40, 50), fill="black")
    im.save(control)
    tab.prompt.setPlainText("a (cat:1.2)")
    qtbot.mouseClick(form.tools.add_unit_button, Qt.MouseButton.LeftButton)
    unit = form.tools.units[0]
    unit.model.setEditText(str(tiny_controlnet))
    unit.image.setText(str(control))
    unit.mode.setCurrentIndex(unit.mode.findData("canny"))
    assert unit.low.isEnabled()
    from PySide6.QtWidgets import QScrollArea

    scroll = next(w for w in tab.findChildren(QScrollArea) if w.widget() is form)
    scroll.ensureWidgetVisible(unit.preview_button)  # scrolled to, as a person would
    qtbot.wait(50)
    qtbot.mouseClick(unit.preview_button, Qt.MouseButton.LeftButton)
    assert unit.preview.text() == "making the map…", (unit.preview_button.isVisible(), tab.status_line.text(), unit.image_path())
    qtbot.waitUntil(lambda: unit.map_image is not None or unit.preview.text() == "no map", timeout=10_000)
    assert unit.map_image is not None, tab.status_line.text()
    assert unit.preview.pixmap() is not None and not unit.preview.pixmap().isNull()
    assert unit.save_map(str(tmp_path / "map.png"))
    assert Image.open(tmp_path / "map.png").getextrema()[0][1] == 255  # white edges
    form.tools.hires_on.setChecked(True)
    form.tools.hires_scale.setValue(1.5)
    with qtbot.waitSignal(window.jobs.job_finished, timeout=90_000):
        qtbot.mouseClick(tab.generate_button, Qt.MouseButton.LeftButton)
    (item,) = library.items("image")
    assert item.params["controlnets"][0]["mode"] == "canny" and item.params["hires_scale"] == 1.5
    assert Image.open(item.path).size == (96, 96)
    # reuse all settings brings the unit and the hires fix back
    form.tools.remove_unit(form.tools.units[0])
    form.tools.hires_on.setChecked(False)
    tab.act("reuse_all", item)
    assert len(form.tools.units) == 1 and form.tools.units[0].mode.currentData() == "canny"
    assert form.tools.units[0].image_path() == str(control)
    assert form.tools.hires_on.isChecked() and form.tools.hires_scale.value() == 1.5


def test_gallery_upscale_action_runs_a_job(qtbot, window, library, tiny_upscaler, tmp_path):
    tab = window.tab("image")
    src = tmp_path / "small.png"
    Image.new("RGB", (20, 12), (30, 90, 200)).save(src)
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        tab.upscale(str(src), str(tiny_upscaler), tile=8)
    items = library.items("upscale")
    assert len(items) == 1 and Image.open(items[0].path).size == (80, 48)
    qtbot.waitUntil(lambda: tab.gallery.count() == 1, timeout=5_000)
    assert "Done" in tab.status_line.text()


# --- the Canvas -------------------------------------------------------------------------------------------


def test_canvas_uses_its_picture_as_control_image_and_upscales(qtbot, tmp_path, library, tiny_sd, tiny_controlnet,
                                                              tiny_upscaler):
    from tests.test_canvas import make_window as canvas_window
    from tests.test_canvas import picture, tiny_settings

    win = canvas_window(qtbot, tmp_path, library)
    tab = win.tab("canvas")
    tab.set_picture(picture(128, 96))
    panel = tiny_settings(tab, tiny_sd, steps=2, batch=1)
    tab.doc.touch(tab.doc.mask.stroke(QPointF(30, 30), QPointF(60, 50), 10))
    unit = panel.tools.add_unit()
    unit.model.setEditText(str(tiny_controlnet))
    unit.source.setCurrentIndex(unit.source.findData("Canvas picture"))
    assert not unit.image.isEnabled()
    assert Image.open(unit.image_path()).size == (128, 96)
    unit.source.setCurrentIndex(unit.source.findData("Canvas mask"))
    assert Image.open(unit.image_path()).mode in ("L", "RGB")
    assert tab.inpaint() is not None, tab.status_text()
    qtbot.waitUntil(lambda: tab.form.progress.format() in ("Done", "Failed", "Cancelled"), timeout=120_000)
    assert tab.form.progress.format() == "Done", tab.status_text()
    (item,) = library.items("inpaint")
    assert item.params["controlnets"][0]["model"] == str(tiny_controlnet)
    assert "canvas-" in item.params["controlnets"][0]["image"] and "control-mask" in item.params["controlnets"][0]["image"]
    with qtbot.waitSignal(win.jobs.job_finished, timeout=60_000):
        tab.upscale(str(tiny_upscaler), tile=32)
    assert (tab.doc.image.width(), tab.doc.image.height()) == (512, 384)
    assert "Upscaled" in tab.status_text()
    tab.cancel()
    win.close()


def test_an_upscaled_picture_opens_from_history_and_reuse_makes_it_the_init_image(qtbot, window, library,
                                                                                   tiny_upscaler, tmp_path):
    tab = window.tab("image")
    src = tmp_path / "small.png"
    Image.new("RGB", (16, 16), (30, 90, 200)).save(src)
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        tab.upscale(str(src), str(tiny_upscaler), tile=0)
    (item,) = library.items("upscale")
    assert window.open_saved(item) and window.tabs.currentWidget() is tab
    assert window.reuse_saved(item)
    assert tab.form.init_image.path()  # the larger picture is the image-to-image input now


def test_several_ip_adapter_references_generate_and_restore(qtbot, window, library, tiny_sd, tmp_path):
    from studio.testing.tiny_tools import build_tiny_ip_adapter

    adapter = build_tiny_ip_adapter(tiny_sd, tmp_path / "ip")
    red, blue = tmp_path / "red.png", tmp_path / "blue.png"
    Image.new("RGB", (32, 32), (250, 10, 10)).save(red)
    Image.new("RGB", (32, 32), (10, 10, 250)).save(blue)
    tab = window.tab("image")
    tools = tab.form.tools
    tab.prompt.setPlainText("a cat")
    tools.ip_model.setEditText(str(adapter))
    tools.ip_image.setText(str(red))
    tools.ip_scale.setValue(0.8)
    qtbot.mouseClick(tools.ip_more.add_button, Qt.MouseButton.LeftButton)
    ref = tools.ip_more.boxes[0]
    assert ref.title() == "Reference 2"
    ref.image.setText(str(blue))  # the adapter left empty: the first one's
    ref.scale.setValue(0.4)
    with qtbot.waitSignal(window.jobs.job_finished, timeout=90_000):
        qtbot.mouseClick(tab.generate_button, Qt.MouseButton.LeftButton)
    (item,) = library.items("image")
    assert item.params["ip_scale"] == 0.8
    assert item.params["ip_extra"] == [{"model": str(adapter), "image": str(blue), "scale": 0.4}]
    qtbot.mouseClick(ref.remove_button, Qt.MouseButton.LeftButton)
    assert tools.ip_more.boxes == []
    tab.act("reuse_all", item)  # the second reference comes back
    assert len(tools.ip_more.boxes) == 1 and tools.ip_more.boxes[0].image.text() == str(blue)
    assert tools.ip_more.boxes[0].scale.value() == pytest.approx(0.4)
