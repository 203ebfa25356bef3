"""The Story tab driven with qtbot through the real job queue: tiny SD pictures, the bundled Piper voice,
a tiny MusicGen bed; outline → scenes → export an MP4 + SRT; a changed scene is the only one missing;
autosave and recovery; cancel mid-export leaves no file; the text model drafts an outline."""

from __future__ import annotations

import av
import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from studio.models.catalog import Catalog
from studio.story import document
from studio.ui.settings import Settings

OUTLINE = "A fox wakes up.\n\nIt runs to the river.\n\nThe end."


@pytest.fixture
def window(qtbot, tmp_path, library, tiny_sd, tiny_musicgen, one_torch_thread):
    from studio.ui.main_window import MainWindow

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.device = "cpu"
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def set_up(tab, tiny_sd, tiny_musicgen, music=True):
    form = tab.settings_form
    form.image_model.set_model_spec(str(tiny_sd))
    form.width_box.setValue(64)
    form.height_box.setValue(64)
    form.steps.setValue(2)
    form.guidance.setValue(0.0)
    if music:
        form.music_model.set_model_spec(tiny_musicgen)
        form.music_prompt.setText("calm ambient synth pads")
        form.window_keep.setValue(1.0)
        form.music_on.setChecked(True)
    form.pause.setValue(0.3)
    tab._on_settings_changed()
    tab.outline.outline.setPlainText(OUTLINE)
    tab.outline.scenes_button.click()


def test_outline_to_film_then_one_changed_scene_is_all_that_is_missing(qtbot, window, library, tiny_sd,
                                                                       tiny_musicgen, tmp_path):
    window.show_tab("story")
    tab = window.tab("story")
    set_up(tab, tiny_sd, tiny_musicgen)
    assert tab.scenes.rowCount() == 3 and tab.scenes.item(1, 1).text() == "It runs to the river."
    tab.scenes.item(0, 2).setText("a red fox in the snow")  # edit a picture prompt in the table
    assert tab.story.scenes[0].picture == "a red fox in the snow"
    assert [tab.missing_list.item(i).text() for i in range(tab.missing_list.count())] == [
        "Scene 1: picture", "Scene 1: narration", "Scene 2: picture", "Scene 2: narration",
        "Scene 3: picture", "Scene 3: narration", "The music bed (made to the film's length, after the narration)"]

    film = tmp_path / "fox.mp4"
    assert tab.export_to(film)
    qtbot.waitUntil(lambda: tab.status_line.text().startswith(("Exported", "⚠")), timeout=300_000)
    assert tab.status_line.text().startswith("Exported fox.mp4 and fox.srt"), tab.status_line.text()
    assert tab.missing_list.count() == 0 and tab.export_button.isEnabled()
    with av.open(str(film)) as c:
        assert c.streams.video[0].codec_context.name == "h264" and c.streams.audio[0].codec_context.name == "aac"
    cues = film.with_suffix(".srt").read_text(encoding="utf-8")
    assert "A fox wakes up." in cues and "The end." in cues
    assert len(library.items(kind="image")) == 3 and len(library.items(kind="speech")) == 3
    assert len(library.items(kind="music")) == 1
    assert tab.scenes.item(0, 0).text() != "missing" and not tab.scenes.item(0, 0).icon().isNull()

    # the preview: nothing to make now; the timeline shows each scene in turn
    assert tab.start_preview() is None
    qtbot.waitUntil(lambda: tab.status_line.text().startswith("Preview ready"), timeout=60_000)
    preview = tab.preview
    assert preview.timeline.isEnabled() and preview.play_button.isEnabled()
    assert preview.timeline.maximum() + 1 == preview.frames.count
    middle = preview.frames.timeline.shots[1]
    preview.timeline.setValue(int((middle.start + middle.length / 2) * 10))
    assert preview.where.text().startswith("scene 2 of 3") and not preview.picture.pixmap().isNull()
    preview.toggle()  # play (no audio device here: the clock drives it)
    qtbot.waitUntil(lambda: preview.timeline.value() > int((middle.start + middle.length / 2) * 10), timeout=10_000)
    preview.toggle()
    assert preview.play_button.text() == "Play"

    # change one scene: only its narration is missing (and the bed, whose length follows); the others' assets stay
    tab.scenes.item(1, 1).setText("It runs to the frozen river.")
    missing = [tab.missing_list.item(i).text() for i in range(tab.missing_list.count())]
    assert missing[0] == "Scene 2: narration" and missing[1].startswith("The music bed") and len(missing) == 2

    # a picture of one's own; a file that is not a picture is refused with a message
    (tmp_path / "fake.png").write_text("no")
    tab.scenes.selectRow(2)
    assert not tab.receive_image(str(tmp_path / "fake.png")) and "is not a picture" in tab.status_line.text()
    Image.new("RGB", (40, 30), (0, 0, 255)).save(tmp_path / "blue.png")
    assert tab.receive_image(str(tmp_path / "blue.png"))
    assert tab.story.scenes[2].picture_file == str(tmp_path / "blue.png")

    # autosave, then a new window offers the story back
    assert tab.files.autosave() and document.autosave_path().is_file()
    from studio.ui.main_window import MainWindow

    again = MainWindow(window.settings, library, Catalog(tmp_path / "user_models2.json"))
    qtbot.addWidget(again)
    other = again.tab("story")
    assert other.files.recovery.isVisibleTo(other) and "was not saved" in other.files.recovery_label.text()
    assert other.files.recover()
    assert [s.narration for s in other.story.scenes] == ["A fox wakes up.", "It runs to the frozen river.", "The end."]
    assert [other.missing_list.item(i).text() for i in range(other.missing_list.count())] == missing
    assert other.files.save_to(tmp_path / "fox.studio-story") and not document.autosave_path().exists()
    assert document.load(tmp_path / "fox.studio-story").assets == other.index.entries
    again.close()


def test_cancel_mid_export_leaves_no_film(qtbot, window, tiny_sd, tiny_musicgen, tmp_path):
    tab = window.tab("story")
    set_up(tab, tiny_sd, tiny_musicgen, music=False)
    for row in range(3):  # pictures of one's own and long set lengths: the export is all there is to do
        Image.new("RGB", (64, 64), (row * 80, 100, 50)).save(tmp_path / f"p{row}.png")
    tab.set_story(document.parse({**tab.story.to_dict(), "scenes": [
        {"picture_file": str(tmp_path / f"p{r}.png"), "length": 20.0} for r in range(3)]}))
    assert tab.missing_list.count() == 0
    film = tmp_path / "long.mp4"
    assert tab.export_to(film)
    qtbot.waitUntil(lambda: "frame" in tab.status_line.text(), timeout=60_000)
    assert tab.cancel_button.isEnabled()
    tab.cancel_button.click()
    qtbot.waitUntil(lambda: "cancelled" in tab.status_line.text(), timeout=60_000)
    assert tab.status_line.text() == "Export cancelled; no film was written."
    assert not film.exists() and not film.with_suffix(".srt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".long")] == []
    assert tab.export_button.isEnabled()
    assert not tab.export_to(tmp_path) and "is a folder" in tab.status_line.text()


def test_the_text_model_drafts_the_outline_and_suggests_prompts(qtbot, tmp_path, library):
    """Through a scripted engine (the tiny LLM's 128-token window is shorter than the drafting prompt)."""
    from studio.events import Output, Token
    from studio.ui.main_window import MainWindow
    from tests.fake_engine import FakeEngine, Script

    story = "The fox woke.\n\nIt ran to the river."
    prompts = "1. a red fox waking in a snowy den\n2. a fox running along a frozen river"
    fake = FakeEngine()
    fake.default = Script([Token(story[:7], 1, 5.0, 4, 256), Token(story[7:], 2, 5.0, 9, 256),
                           Output("text", story, {"reply": story})])
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"), engine_factory=fake)
    qtbot.addWidget(win)
    tab = win.tab("story")
    panel = tab.outline
    panel.idea.setText("a fox who learns to love the snow")
    with qtbot.waitSignal(win.jobs.job_finished, timeout=120_000):
        panel.draft_button.click()
    assert fake.requests[-1].messages[-1].content.endswith("a fox who learns to love the snow")
    assert fake.requests[-1].model == panel.text_model.current_model_spec()
    assert panel.outline.toPlainText() == story and tab.status_line.text().startswith("Drafted")
    panel.scenes_button.click()
    assert [s.narration for s in tab.story.scenes] == ["The fox woke.", "It ran to the river."]
    fake.default = Script([Token(prompts, 1, 5.0, 4, 256), Output("text", prompts, {"reply": prompts})])
    panel.style.setText("watercolour, soft light")
    panel.style.editingFinished.emit()
    with qtbot.waitSignal(win.jobs.job_finished, timeout=120_000):
        panel.prompts_button.click()
    assert "2. It ran to the river." in fake.requests[-1].messages[-1].content
    assert [s.picture for s in tab.story.scenes] == ["a red fox waking in a snowy den", "a fox running along a frozen river"]
    from studio.story.assets import picture_request

    assert picture_request(tab.story, 1).prompt == "a fox running along a frozen river, watercolour, soft light"
    assert panel.draft_button.isEnabled() and panel.prompts_button.isEnabled()
    win.close()


def test_a_scene_picture_goes_to_the_canvas_and_the_canvas_result_comes_back(qtbot, tmp_path, library):
    from studio.events import Output
    from studio.ui.main_window import MainWindow
    from tests.fake_engine import FakeEngine

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"), engine_factory=FakeEngine())
    qtbot.addWidget(win)
    tab = win.tab("story")
    Image.new("RGB", (64, 48), (200, 30, 30)).save(tmp_path / "red.png")
    tab.set_story(document.parse({"image": {"model": "m"}, "scenes": [{"picture_file": str(tmp_path / "red.png"), "narration": "Red."},
                                             {"picture": "a blue lake", "narration": "Blue."}]}))
    tab.scenes.selectRow(0)
    tab.open_in_canvas()
    assert win.tabs.currentWidget() is win.tab("canvas")
    tab.take_from_canvas()  # nothing inpainted yet
    assert "no result yet" in tab.status_line.text()
    edit = library.save(Output("image", Image.new("RGB", (64, 48), (0, 0, 0)), {"kind": "inpaint", "prompt": "x"}))
    tab.take_from_canvas()
    assert tab.story.scenes[0].picture_file == str(edit.path)
    assert not tab.scenes.item(0, 0).icon().isNull()
    tab.scenes.selectRow(1)
    tab.open_in_canvas()  # no picture made yet for scene 2
    assert "no picture yet" in tab.status_line.text()
    win.close()


def test_regenerating_one_scene_picture_gives_it_a_new_seed_and_keeps_the_others(qtbot, tmp_path, library):
    from studio.events import Output
    from studio.story.assets import picture_request, request_key
    from studio.ui.main_window import MainWindow
    from tests.fake_engine import FakeEngine, Script

    def picture(request):  # an image request makes a picture of its own seed's colour
        seed = request.seed if request.seed is not None else 0
        return Script([Output("image", Image.new("RGB", (16, 16), (seed % 256, 0, 0)),
                              {**request.to_dict(), "seed": seed})])

    fake = FakeEngine(default=picture)
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"), engine_factory=fake)
    qtbot.addWidget(win)
    tab = win.tab("story")
    tab.set_story(document.parse({"image": {"model": "m", "seed": 10},
                                  "scenes": [{"picture": "a fox"}, {"picture": "a lake"}]}))
    for row in (0, 1):
        tab.scenes.selectRow(row)
        handle = tab.generate_picture()
        with qtbot.waitSignal(handle.finished, timeout=10_000):
            pass
    assert [r.seed for r in fake.requests] == [10, 11] and tab.missing_list.count() == 0
    first = request_key(picture_request(tab.story, 0))
    tab.scenes.selectRow(1)
    handle = tab.generate_picture()  # again: a new seed for scene 2 only
    assert tab.generate_picture() is None and "Wait for the running job" in tab.status_line.text()
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    assert fake.requests[-1].seed not in (10, 11) and tab.story.scenes[1].seed == fake.requests[-1].seed
    assert request_key(picture_request(tab.story, 0)) == first and len(fake.requests) == 3
    assert tab.index.get(first) is not None and tab.missing_list.count() == 0
    win.close()
