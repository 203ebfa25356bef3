"""The History panel searches the library (FTS5) and "Reuse settings" fills the right tab's form."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from studio.events import Output
from studio.models.catalog import Catalog
from studio.ui.settings import Settings


@pytest.fixture
def window(qtbot, tmp_path, library):
    from studio.ui.main_window import MainWindow

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"))
    qtbot.addWidget(win)
    win.show()
    return win


def _fill(library):
    image = library.save(Output("image", Image.new("RGB", (64, 64), "red"), {
        "kind": "image", "prompt": "a lighthouse in a storm", "negative_prompt": "blurry", "model": "stabilityai/sd-turbo",
        "seed": 4242, "num_inference_steps": 3, "guidance_scale": 1.5, "width": 64, "height": 64}))
    speech = library.save(Output("audio", (np.zeros(1600, dtype="float32"), 16000), {
        "kind": "speech", "text": "The lighthouse keeper waved.", "model": "", "speed": 1.25, "seed": None}))
    text = library.save(Output("text", "Waves and light.", {
        "kind": "text", "messages": [{"role": "user", "content": "a poem about the sea"}],
        "system_prompt": "Be brief.", "model": "", "temperature": 0.33, "top_k": 7, "seed": 99,
        "reply": "Waves and light."}))
    music = library.save(Output("audio/flac", (np.zeros(3200, dtype="float32"), 32000), {
        "kind": "music", "prompt": "stormy sea shanty", "model": "", "duration_s": 4.0, "seed": 17}))
    return image, speech, text, music


def test_history_search_and_kind_filter(qtbot, window):
    _fill(window.library)
    panel = window.history_panel
    panel.refresh()
    assert panel.count() == 4
    panel.search.setText("lighthouse")  # typing: the search runs after a short pause
    qtbot.waitUntil(lambda: panel.count() == 2, timeout=3000)
    assert [i.kind for i in panel.items()] == ["speech", "image"]
    panel.set_kind("image")
    assert [i.kind for i in panel.items()] == ["image"]
    panel.set_kind("")
    panel.set_search("4242")  # a seed
    assert [i.kind for i in panel.items()] == ["image"]
    panel.set_search("storm*")  # a prefix: storm, stormy
    assert [i.kind for i in panel.items()] == ["music", "image"]
    panel.set_search('"keeper waved" OR (')  # quotes and operators are just text
    assert [i.kind for i in panel.items()] == []
    assert panel.empty.isVisible() and "Nothing matches" in panel.empty.text()
    panel.set_search("x" * 10_000)
    assert panel.count() == 0
    # by date: one result made two weeks ago
    import sqlite3
    import time

    old = panel.library.search("shanty")[0]
    with sqlite3.connect(panel.library.root / "index.sqlite") as db:
        db.execute("UPDATE items SET created = ? WHERE id = ?", (time.time() - 14 * 86400, old.id))
    panel.set_search("")
    assert panel.set_when("Last 7 days") and [i.kind for i in panel.items()] == ["text", "speech", "image"]
    assert panel.set_when("Last 30 days") and panel.count() == 4
    assert panel.set_when("Today") and panel.count() == 3


def test_reuse_settings_restores_each_kind_into_its_tab(qtbot, window):
    image, speech, text, music = _fill(window.library)
    panel = window.history_panel
    panel.refresh()
    rows = {saved.kind: row for row, saved in enumerate(panel.items())}

    panel.list.setCurrentRow(rows["image"])
    assert panel.reuse_button.isEnabled()
    qtbot.mouseClick(panel.reuse_button, _left())
    image_tab = window.tab("image")
    assert window.tabs.currentWidget() is image_tab
    request = image_tab.form.build_request()
    assert (request.prompt, request.negative_prompt) == ("a lighthouse in a storm", "blurry")
    assert (request.seed, request.num_inference_steps, request.guidance_scale) == (4242, 3, 1.5)

    panel.list.setCurrentRow(rows["speech"])
    panel.reuse_selected()
    speech_tab = window.tab("speech")
    assert window.tabs.currentWidget() is speech_tab
    assert speech_tab.build_request().text == "The lighthouse keeper waved."
    assert speech_tab.build_request().speed == pytest.approx(1.25)

    panel.list.setCurrentRow(rows["text"])
    panel.reuse_selected()
    text_tab = window.tab("text")
    assert window.tabs.currentWidget() is text_tab
    assert text_tab.input.toPlainText() == "a poem about the sea"
    req = text_tab.build_request("again")
    assert (req.system_prompt, req.temperature, req.top_k, req.seed) == ("Be brief.", pytest.approx(0.33), 7, 99)

    panel.list.setCurrentRow(rows["music"])
    panel.reuse_selected()
    music_tab = window.tab("music")
    assert window.tabs.currentWidget() is music_tab
    assert music_tab.prompt.toPlainText() == "stormy sea shanty"
    assert music_tab.build_request().seed == 17


def test_reuse_settings_of_a_canvas_edit(qtbot, window):
    saved = window.library.save(Output("image", Image.new("RGB", (64, 64), "white"), {
        "kind": "inpaint", "prompt": "a red door", "negative_prompt": "", "model": "", "seed": 77,
        "num_inference_steps": 7, "guidance_scale": 4.5, "inpaint_area": "whole", "mask_blur": 3, "padding": 40}))
    window.history_panel.refresh()
    assert window.reuse_saved(saved)
    panel = window.tab("canvas").form
    assert window.tabs.currentWidget() is window.tab("canvas")
    assert panel.prompt.toPlainText() == "a red door"
    assert (panel.seed.value(), panel.steps.value(), panel.guidance.value()) == (77, 7, 4.5)
    assert (panel.area.currentData(), panel.mask_blur.value(), panel.padding.value()) == ("whole", 3, 40)


def _left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton
