"""The tab registry drives the main window: building the tabs, Send to, History "open", model refresh."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from studio.events import Output
from studio.models.catalog import Catalog
from studio.ui.settings import Settings
from studio.ui.tab_api import IMAGE, TEXT, StudioTab, TabContext, TabSpec
from studio.ui.tabs import TABS, CanvasTab, ImageTab, MusicTab, SpeechTab, TextTab


class RecordingTab(QWidget, StudioTab):
    """A tab built only from its context, recording what the main window asks of it."""

    def __init__(self, ctx: TabContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.calls: list[tuple[str, object]] = []

    def refresh_models(self) -> None:
        self.calls.append(("refresh", None))

    def open_item(self, saved) -> bool:
        self.calls.append(("open", saved.id))
        return True

    def receive_text(self, text: str) -> bool:
        self.calls.append(("text", text))
        return True

    def receive_image(self, path: str) -> bool:
        self.calls.append(("image", path))
        return True


def make_window(qtbot, tmp_path, library, tabs=None):
    from studio.ui.main_window import MainWindow

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"), tabs=tabs)
    qtbot.addWidget(win)
    return win


def with_fake(key: str, title: str, kinds=(), accepts=frozenset()):
    """The real registration list with one line replaced by a RecordingTab."""
    fake = TabSpec(key, title, RecordingTab, kinds=kinds, accepts=accepts)
    return tuple(fake if spec.key == key else spec for spec in TABS)


def tab_titles(win) -> list[str]:
    return [win.tabs.tabText(i) for i in range(win.tabs.count())]


def test_the_registration_list_builds_every_tab_in_order(qtbot, tmp_path, library):
    win = make_window(qtbot, tmp_path, library)
    assert tab_titles(win) == ["Text", "Image", "Speech", "Music", "Canvas", "Story"]
    assert all(not win.tabs.tabIcon(i).isNull() for i in range(win.tabs.count()))  # assets/icons/<key>.svg
    assert isinstance(win.tab("text"), TextTab) and isinstance(win.tab("image"), ImageTab)
    assert isinstance(win.tab("speech"), SpeechTab) and isinstance(win.tab("music"), MusicTab)
    assert isinstance(win.tab("canvas"), CanvasTab)
    assert win.tab("nope") is None
    # History filters by the kinds the registered tabs open
    kinds = [win.history_panel.kind.itemData(i) for i in range(win.history_panel.kind.count())]
    assert kinds == ["", "text", "image", "speech", "music", "inpaint"]


def test_a_tab_gets_everything_from_its_context(qtbot, tmp_path, library):
    specs = (TabSpec("a", "Alpha", RecordingTab), TabSpec("b", "Beta", RecordingTab))
    win = make_window(qtbot, tmp_path, library, tabs=specs)
    assert tab_titles(win) == ["Alpha", "Beta"]
    ctx = win.tab("a").ctx
    assert ctx.jobs is win.jobs and ctx.library is library and ctx.catalog is win.catalog
    assert ctx.settings is win.settings and ctx.host is win
    assert win.tab("b").ctx is ctx  # every tab gets the same context


def test_models_changed_refreshes_every_tab(qtbot, tmp_path, library):
    win = make_window(qtbot, tmp_path, library, tabs=with_fake("speech", "Speech", kinds=("speech",)))
    win.downloads.models_changed.emit()  # what a finished download announces
    assert win.tab("speech").calls == [("refresh", None)]


def test_send_to_lists_the_tabs_that_accept_text(qtbot, tmp_path, library):
    win = make_window(qtbot, tmp_path, library)
    text_tab = win.tab("text")
    text_tab.messages = [{"role": "assistant", "content": "a red fox in the snow"}]
    menu = text_tab.send_to_menu
    menu.rebuild()
    assert menu.targets() == ["image", "speech", "music", "story"]  # not itself, not the placeholders
    next(a for a in menu.actions() if a.data() == "image").trigger()
    assert win.tabs.currentWidget() is win.tab("image")
    assert win.tab("image").build_request().prompt == "a red fox in the snow"


def test_a_registered_tab_appears_in_send_to_and_receives_the_text(qtbot, tmp_path, library):
    win = make_window(qtbot, tmp_path, library, tabs=with_fake("speech", "Speech", kinds=("speech",), accepts=TEXT))
    text_tab = win.tab("text")
    text_tab.messages = [{"role": "assistant", "content": "read this aloud"}]
    text_tab.send_to_menu.rebuild()
    assert text_tab.send_to_menu.targets() == ["image", "speech", "music", "story"]
    assert text_tab.send_to_menu.send("speech")
    assert win.tab("speech").calls == [("text", "read this aloud")]
    assert win.tabs.currentWidget() is win.tab("speech")
    # a tab that does not accept text is refused, and nothing changes
    assert not win.send_text("canvas", "x") and not win.send_text("nope", "x")
    assert win.tabs.currentWidget() is win.tab("speech")


def test_send_to_canvas_reaches_the_tab_registered_as_canvas(qtbot, tmp_path, library):
    win = make_window(qtbot, tmp_path, library, tabs=with_fake("canvas", "Canvas", kinds=("inpaint",), accepts=IMAGE))
    saved = library.save(Output("image", Image.new("RGB", (16, 16), "red"), {"kind": "image", "prompt": "red"}))
    win.tab("image").act("canvas", saved)
    assert win.tab("canvas").calls == [("image", str(saved.path))]
    assert win.tabs.currentWidget() is win.tab("canvas")
    # and back: an image sent to the Image tab becomes its image-to-image input
    assert win.send_image("image", str(saved.path))
    assert win.tab("image").build_request().init_image
    assert win.tabs.currentWidget() is win.tab("image")
    assert not win.send_image("text", str(saved.path))  # the Text tab takes no images


def test_history_opens_each_kind_in_the_tab_registered_for_it(qtbot, tmp_path, library):
    win = make_window(qtbot, tmp_path, library, tabs=with_fake("canvas", "Canvas", kinds=("inpaint",), accepts=IMAGE))
    conv = {"id": "c1", "title": "hi", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    text = library.save(Output("text", "yo", {"kind": "text", "reply": "yo", "conversation": conv}))
    image = library.save(Output("image", Image.new("RGB", (16, 16), "blue"), {"kind": "image", "prompt": "blue", "seed": 5}))
    edit = library.save(Output("image", Image.new("RGB", (16, 16), "green"), {"kind": "inpaint", "prompt": "green"}))
    assert (text.kind, image.kind, edit.kind) == ("text", "image", "inpaint")
    panel = win.history_panel
    panel.refresh()
    rows = [panel.list.item(i).text() for i in range(panel.count())]
    assert [r.split(" · ")[1] for r in rows] == ["Inpaint", "Image", "Text"]  # newest first, with the kind

    panel.activate(0)  # the inpainted picture goes to the Canvas
    assert win.tab("canvas").calls == [("open", edit.id)] and win.tabs.currentWidget() is win.tab("canvas")
    panel.activate(1)
    assert win.tabs.currentWidget() is win.tab("image") and win.tab("image").shown == image
    panel.activate(2)
    assert win.tabs.currentWidget() is win.tab("text") and win.tab("text").messages == conv["messages"]

    assert panel.set_kind("inpaint") and panel.count() == 1
    assert not panel.set_kind("video")


@pytest.mark.parametrize("spec", TABS, ids=lambda s: s.key)
def test_every_registered_tab_answers_the_interface(qtbot, tmp_path, library, spec):
    win = make_window(qtbot, tmp_path, library, tabs=(spec,))
    tab = win.tab(spec.key)
    tab.refresh_models()  # never raises
    assert tab.receive_text("hello") is ("text" in spec.accepts)


def test_the_models_window_opens_on_the_front_tabs_modality(qtbot, tmp_path, library):
    win = make_window(qtbot, tmp_path, library)
    win.show_tab("image")
    win.show_models()
    models = win.findChild(QWidget, "ModelsWindow")
    assert models.isVisible() and models.current_modality() == "image"
    win.show_tab("text")
    win.show_models("sd-turbo")  # a model id wins: e.g. the "Download…" action of a failed job
    assert models.current_modality() == "image" and models.selected_id() == "sd-turbo"
    models.close()
