"""The Story tab: an outline becomes scenes, each with a picture and narration, over a music bed;
preview it on a timeline and export an MP4 (+ SRT).

Pictures, narration and music are ordinary Image/Speech/Music requests run one after another through
the tab's :class:`~studio.ui.job_runner.JobRunner` (:class:`.making.AssetChain`); each result is in the library and recorded in the story's
asset index under a hash of its request (:mod:`studio.story.assets`), so changing one scene makes only
that scene again. The film is cut by the Qt-free :func:`studio.story.render.export` in a background
thread (:class:`.export.FilmExporter`). The outline and the text model's help live in
:class:`.outline.OutlinePanel`; the document, its autosave and recovery in :class:`.files.StoryFiles`.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...errors import InvalidRequest
from ...fieldspec import MAX_SEED
from ...story import assets as story_assets
from ...story import document
from ...story.assets import AssetIndex, request_key
from ...story.document import Story
from ...story.render import preflight
from ...story.timing import layout
from ..job_runner import JobRunner
from ..tab_api import StudioTab, TabContext
from ..tab_widgets import StatusLine
from .export import FilmExporter
from .files import StoryFiles
from .making import ROLE_WORDS, AssetChain, what
from .outline import OutlinePanel
from .preview import StoryPreview
from .scenes import SceneTable
from .settings import StorySettings

PICTURE_FILTER = "Pictures (*.png *.jpg *.jpeg *.webp);;All files (*)"


def _no_run(request):  # every asset exists by the time the film is cut
    raise InvalidRequest("an asset of the story is still missing; press Make missing.")


class StoryTab(QWidget, StudioTab):
    def __init__(self, ctx: TabContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs, self.library, self.host = ctx.jobs, ctx.library, ctx.host
        self.story = self.new_document()
        self.index = AssetIndex()
        self.chain = AssetChain()
        self._export_path: Path | None = None
        self.exporter = FilmExporter(self)
        self.exporter.progress.connect(self._on_export_progress)
        self.exporter.message.connect(self._say)
        self.exporter.ended.connect(self._done)
        self.files = StoryFiles(self)
        self.status_line = StatusLine()
        self.files.message.connect(self._say)
        self.runner = JobRunner(self, ctx.jobs, self.status_line, ctx.host)
        self.runner.busy_changed.connect(self.set_busy)

        # --- document bar ---
        self.title = QLineEdit()
        self.title.setPlaceholderText("Title")
        self.title.editingFinished.connect(self._on_title_edited)
        bar = QHBoxLayout()
        for text, slot in (("New", self.new_story), ("Open…", self.files.open_dialog), ("Save…", self.files.save_dialog)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            bar.addWidget(button)
        bar.addWidget(QLabel("Title"))
        bar.addWidget(self.title, 1)

        # --- settings (left, like the other tabs' forms) ---
        self.settings_form = StorySettings(ctx.catalog)
        self.settings_form.changed.connect(self._on_settings_changed)
        settings_scroll = QScrollArea()
        settings_scroll.setWidgetResizable(True)
        settings_scroll.setWidget(self.settings_form)
        settings_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        settings_scroll.setMinimumWidth(320)

        # --- outline ---
        self.outline = OutlinePanel(ctx.catalog)
        self.outline.message.connect(self._say)
        self.outline.ask.connect(self.ask_text_model)
        self.outline.scenes_button.clicked.connect(self.make_scenes)
        self.outline.prompts_button.clicked.connect(self.suggest_prompts)
        self.outline.prompts_suggested.connect(self._on_prompts_suggested)
        self.outline.style.editingFinished.connect(self._on_style_edited)

        # --- scenes ---
        self.scenes = SceneTable()
        self.scenes.scene_edited.connect(self._on_scene_edited)
        self.scenes.currentCellChanged.connect(self._on_scene_selected)
        self.scene_seed = QSpinBox()
        self.scene_seed.setRange(-1, min(MAX_SEED, 2**31 - 1))
        self.scene_seed.setSpecialValueText("random")
        self.scene_seed.setToolTip("This scene's picture seed (random: any); the other scenes keep theirs")
        self.scene_seed.editingFinished.connect(self._on_scene_seed_edited)
        scene_buttons = QHBoxLayout()
        for text, slot, tip in (
            ("Picture", self.generate_picture, "Generate the picture; again: a new seed for this scene only"),
            ("My picture…", self.use_own_picture, "Use a picture file of your own"),
            ("To Canvas", self.open_in_canvas, "Open the picture in the Canvas to inpaint it"),
            ("From Canvas", self.take_from_canvas, "Use the Canvas's newest result as this scene's picture"),
            ("Narration", self.generate_narration, "Speak this scene's narration with the chosen voice"),
        ):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            scene_buttons.addWidget(button)
        scene_buttons.addWidget(QLabel("Seed"))
        scene_buttons.addWidget(self.scene_seed)
        scenes_box = QGroupBox("Scenes")
        scenes_layout = QVBoxLayout(scenes_box)
        scenes_layout.addWidget(self.scenes, 1)
        scenes_layout.addLayout(scene_buttons)
        middle = QSplitter()
        middle.setOrientation(Qt.Orientation.Vertical)
        middle.addWidget(self.outline)
        middle.addWidget(scenes_box)
        middle.setStretchFactor(1, 2)

        # --- preview, missing assets, export (right) ---
        self.preview = StoryPreview()
        self.preview.ready.connect(self._on_preview_ready)
        self.preview.failed.connect(self._on_preview_failed)
        self.missing_list = QListWidget()
        self.missing_list.setObjectName("storyMissing")
        self.missing_list.setMaximumHeight(110)
        self.make_button = QPushButton("Make missing")
        self.make_button.setToolTip("Generate every picture, narration clip and the music bed not made yet")
        self.make_button.clicked.connect(self.make_missing)
        self.preview_button = QPushButton("Preview")
        self.preview_button.clicked.connect(self.start_preview)
        self.export_button = QPushButton("Export film…")
        self.export_button.setObjectName("generateButton")
        self.export_button.clicked.connect(self.export_dialog)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        actions = QHBoxLayout()
        for button in (self.make_button, self.preview_button, self.export_button, self.cancel_button):
            actions.addWidget(button)
        right = QWidget()  # the film: preview, what is missing, export
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.preview, 3)
        right_layout.addWidget(QLabel("Not made yet"))
        right_layout.addWidget(self.missing_list)
        right_layout.addLayout(actions)
        right_layout.addWidget(self.progress)
        right_layout.addWidget(self.status_line)

        splitter = QSplitter()  # the work on the left, the form on the right, as in every tab
        splitter.addWidget(right)
        splitter.addWidget(middle)
        splitter.addWidget(settings_scroll)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 2)
        root = QVBoxLayout(self)
        root.addLayout(bar)
        root.addWidget(self.files.recovery)
        root.addWidget(splitter, 1)

        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.on_quit)
        self.settings_form.show_story(self.story)
        self._refresh()
        self.files.offer_recovery()

    # --- the story ----------------------------------------------------------------------------------------------------
    def current_story(self) -> Story:
        """The story with its asset index (what is saved)."""
        return replace(self.story, assets=dict(self.index.entries))

    def set_story(self, story: Story, path: Path | None = None, *, dirty: bool = False) -> None:
        self.story = story
        self.index = AssetIndex(story.assets)
        self.title.setText(story.title)
        self.outline.style.setText(story.image.style)
        self.outline.outline.setPlainText("\n\n".join(s.narration for s in story.scenes))
        self.settings_form.show_story(story)
        self.files.opened(path)
        self.preview.clear()
        self._refresh()
        if dirty:
            self.files.changed()

    def _update(self, story: Story) -> None:
        """The story changed (an edit, a made asset): show it, mark it unsaved, autosave soon."""
        self.story = replace(story, assets=dict(self.index.entries))
        self._refresh()
        if self.preview.frames is not None:
            self.preview.clear()
        self.files.changed()

    def _lengths(self) -> list[float | None]:
        out: list[float | None] = []
        for i in range(len(self.story.scenes)):
            req = story_assets.narration_request(self.story, i)
            clip = self.index.get(request_key(req)) if req is not None else None
            out.append(story_assets.narration_length(clip) if clip is not None else None)
        return out

    def _picture_path(self, i: int) -> str | None:
        scene = self.story.scenes[i]
        if scene.picture_file:
            return scene.picture_file
        req = story_assets.picture_request(self.story, i)
        found = self.index.get(request_key(req)) if req is not None else None
        return str(found) if found else None

    def _music_needed(self):
        req = story_assets.music_request(self.story, layout(self.story, self._lengths()).length)
        return req if req is not None and self.index.get(request_key(req)) is None else None

    def _refresh(self) -> None:
        self.scenes.show_story(self.story, [self._picture_path(i) for i in range(len(self.story.scenes))],
                               self._lengths())
        self.missing_list.clear()
        for role, scene, _ in story_assets.missing(self.story, self.index):
            self.missing_list.addItem(f"Scene {scene + 1}: {ROLE_WORDS[role]}")
        if self.story.scenes and self._music_needed() is not None:
            self.missing_list.addItem("The music bed (made to the film's length, after the narration)")
        self._on_scene_selected(self.scenes.currentRow(), 0, -1, -1)

    def _row(self) -> int:
        row = self.scenes.currentRow()
        if not 0 <= row < len(self.story.scenes):
            self._say("⚠ Make scenes from the outline first, then pick one.")
            return -1
        return row

    @Slot(str)
    def _say(self, text: str) -> None:
        if text.startswith("⚠"):
            self.status_line.warn(text)
        else:
            self.status_line.say(text)

    # --- outline ------------------------------------------------------------------------------------------------------
    @Slot()
    def make_scenes(self) -> None:
        story = document.from_outline(self.outline.outline.toPlainText(), self.story)
        if not story.scenes:
            self._say("⚠ The outline is empty: type or paste the story (a blank line between scenes).")
            return
        self._update(story)
        self._say(f"{len(story.scenes)} scene(s). Add picture prompts, then Make missing.")

    @Slot()
    def suggest_prompts(self) -> None:
        self.outline.suggest([s.narration for s in self.story.scenes])

    @Slot(list)
    def _on_prompts_suggested(self, prompts: list) -> None:
        story = self.story
        for i, prompt in enumerate(prompts[: len(story.scenes)]):
            if prompt and not story.scenes[i].picture_file:
                story = story.with_scene(i, picture=prompt)
        self._update(story)

    @Slot()
    def _on_style_edited(self) -> None:
        style = self.outline.style.text().strip()[:1000]
        if style != self.story.image.style:
            self._update(replace(self.story, image=replace(self.story.image, style=style)))

    # --- scenes -------------------------------------------------------------------------------------------------------
    @Slot(int, str, object)
    def _on_scene_edited(self, row: int, field: str, value) -> None:
        if field == "length" and value is None:
            self._say("⚠ A scene's length is a number of seconds above 0 (at most 600).")
            self._refresh()
            return
        if field == "picture" and self.story.scenes[row].picture_file:
            return
        self._update(self.story.with_scene(row, **{field: value}))

    @Slot(int, int, int, int)
    def _on_scene_selected(self, row: int, _col: int, _prev_row: int, _prev_col: int) -> None:
        if 0 <= row < len(self.story.scenes):
            self.scene_seed.blockSignals(True)
            seed = self.story.scenes[row].image_seed(self.story.image, row)
            self.scene_seed.setValue(-1 if seed is None else min(self.scene_seed.maximum(), seed))
            self.scene_seed.blockSignals(False)

    @Slot()
    def _on_scene_seed_edited(self) -> None:
        row = self.scenes.currentRow()
        seed = None if self.scene_seed.value() < 0 else self.scene_seed.value()
        if 0 <= row < len(self.story.scenes) and seed != self.story.scenes[row].image_seed(self.story.image, row):
            self._update(self.story.with_scene(row, seed=seed))

    @Slot()
    def generate_picture(self):
        """Make the selected scene's picture; again: with a new seed for this scene, the others keep theirs."""
        row = self._row()
        if row < 0 or not self._free():
            return None
        scene = self.story.scenes[row]
        prompt = scene.picture or scene.narration[:200]
        if not prompt.strip():
            self._say("⚠ Type a picture prompt for this scene first.")
            return None
        if scene.picture_file:
            self.story = self.story.with_scene(row, picture_file="", picture=prompt)
        elif self._picture_path(row):
            self.story = self.story.with_scene(row, seed=random.randint(0, 2**31 - 1))
        self._update(self.story)
        return self._make([(r, s, q) for r, s, q in story_assets.all_requests(self.story) if r == "picture" and s == row])

    def _free(self) -> bool:
        if self.runner.busy or self._exporting():
            self._say("⚠ Wait for the running job, or cancel it.")
            return False
        return True

    @Slot()
    def generate_narration(self):
        """Speak the selected scene's narration (again: the old clip stays in the library)."""
        row = self._row()
        if row < 0 or not self._free():
            return None
        req = story_assets.narration_request(self.story, row)
        if req is None:
            self._say("⚠ This scene has no narration; it lasts its set length.")
            return None
        self.index.entries.pop(request_key(req), None)  # speak it again (the old clip stays in the library)
        return self._make([("narration", row, req)])

    @Slot()
    def use_own_picture(self) -> None:
        row = self._row()
        if row < 0:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Use a picture", "", PICTURE_FILTER)
        if path:
            self.set_scene_picture(row, path)

    def set_scene_picture(self, row: int, path: str) -> bool:
        """Scene ``row`` shows the picture file ``path`` (checked first)."""
        try:
            document.check_picture(path, f"scene {row + 1}")
        except InvalidRequest as exc:
            self._say(f"⚠ {exc}")
            return False
        self._update(self.story.with_scene(row, picture_file=str(path), picture=""))
        self._say(f"Scene {row + 1} uses {Path(path).name}.")
        return True

    @Slot()
    def open_in_canvas(self) -> None:
        row = self._row()
        path = self._picture_path(row) if row >= 0 else None
        if not path:
            self._say("⚠ This scene has no picture yet: generate one first.")
            return
        if self.host is None or not self.host.send_image("canvas", path):
            self._say("⚠ The Canvas could not open the picture.")

    @Slot()
    def take_from_canvas(self) -> None:
        row = self._row()
        if row < 0:
            return
        items = self.library.items(kind="inpaint", limit=1)
        if not items:
            self._say("⚠ The Canvas has no result yet: inpaint there first, then take it back.")
            return
        self.set_scene_picture(row, str(items[0].path))

    # --- jobs: assets one after another, and the text model, through the runner ------------------------------------
    @property
    def job(self):
        """The tab's running job (None when idle)."""
        return self.runner.job

    def build_request(self):
        """The next asset to make (the first missing one); InvalidRequest when there is none."""
        missing = story_assets.missing(self.story, self.index)
        if not missing:
            raise InvalidRequest("Nothing is missing: every picture and narration clip is made.")
        return missing[0][2]

    @Slot()
    def make_missing(self):
        """Make every picture, narration clip and the music bed not made yet; the first job's handle."""
        return self._make(story_assets.missing(self.story, self.index), after="all")

    def _make(self, items: list, after: str = ""):
        if not self._free():
            return None
        if not self.story.scenes:
            self._say("⚠ Make scenes from the outline first.")
            return None
        try:
            for role, scene, request in items:
                request.validate()
        except InvalidRequest as exc:
            self._say(f"⚠ {what(role, scene)}: {exc}")
            return None
        self.chain.start(items, after)
        return self._next()

    def _next(self):
        item = self.chain.pop()
        if item is None:
            self._all_made()
            return None
        handle = self.runner.submit(item[2])
        if handle is None:  # refused: the runner said why
            self.chain.stop()
        return handle

    @Slot(object)
    def submit(self, request):
        """The runner's "Load anyway…": the failed asset again, with permission (then the rest)."""
        role, scene, _ = self.chain.last or ("picture", None, None)
        self.chain.start([(role, scene, request)], "")
        return self._next()

    @Slot(object)
    def ask_text_model(self, request) -> None:
        if not self._free():
            self.outline.refused()
            return
        self.chain.stop()
        if self.runner.submit(request) is None:
            self.outline.refused()
        else:
            self._say("Asking the text model…")

    @Slot(str)
    def on_status(self, message: str) -> None:
        if not self.outline.task:
            self._say(f"{self.chain.describe()[0].upper()}{self.chain.describe()[1:]}: {message}")

    @Slot(object)
    def on_progress(self, progress) -> None:
        if progress.total > 0:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.step)

    @Slot(object)
    def on_token(self, token) -> None:
        if self.outline.task:
            self.outline.add_token(token)

    @Slot(object)
    def on_finished(self, result) -> None:
        if self.outline.task:
            self.outline.finish()
            self._idle()
            return
        item, current = next((i for i in result.items if i.path), None), self.chain.current
        if current is None:
            return
        if item is None:
            self.chain.stop()
            self._done(f"⚠ Nothing was made for {what(current[0], current[1])}.")
            return
        self.index.put(request_key(current[2]), current[0], item, current[1])
        self._update(self.story)
        self._next()

    @Slot(object)
    def on_cancelled(self, result) -> None:
        self.outline.ended()
        self.chain.stop()
        self._done("Cancelled.")

    @Slot(object)
    def on_failed(self, error) -> None:
        """The runner already shows the message and the action that fits it."""
        self.outline.ended()
        self.chain.stop()
        self._idle()

    def _all_made(self) -> None:
        after = self.chain.after
        if after:
            left = story_assets.missing(self.story, self.index)
            if left:
                self.chain.stop()
                self._done(f"⚠ {len(left)} asset(s) still missing.")
                return
            music = self._music_needed()
            if music is not None:  # sized to the narration, so it comes last
                self.chain.start([("music", None, music)], after)
                self._next()
                return
        self.chain.stop()
        if after == "preview":
            self.preview.load(self.story, story_assets.ensure(self.story, self.index, _no_run))
            self._done("Mixing the preview's sound…")
        elif after == "export":
            self._start_export(story_assets.ensure(self.story, self.index, _no_run))
        else:
            self._done("Everything is made." if after else "Done.")

    # --- preview and export -------------------------------------------------------------------------------------------
    @Slot()
    def start_preview(self):
        """Make what is missing, then show the story on the preview's timeline."""
        return self._make(story_assets.missing(self.story, self.index), after="preview")

    @Slot()
    def _on_preview_ready(self) -> None:
        self._say("Preview ready: press Play or drag the timeline.")

    @Slot(str)
    def _on_preview_failed(self, message: str) -> None:
        self._say(f"⚠ The preview could not be made: {message}")

    @Slot()
    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export film", str(Path.home() / "story.mp4"), "MP4 film (*.mp4)")
        if path:
            self.export_to(path)

    def export_to(self, path: str | Path) -> bool:
        """Make what is missing, then write the film and its .srt to ``path`` (checked first)."""
        if not self.story.scenes:
            self._say("⚠ Make scenes from the outline first.")
            return False
        try:
            preflight(self.story, path, flag="The film")
        except InvalidRequest as exc:
            self._say(f"⚠ {exc}")
            return False
        if not self._free():
            return False
        self._export_path = Path(path)
        self._make(story_assets.missing(self.story, self.index), after="export")
        return True

    def _start_export(self, made) -> None:
        self.exporter.start(self.story, made, preflight(self.story, self._export_path, flag="The film"), self.index)
        self.set_busy(True)

    def _exporting(self) -> bool:
        return self.exporter.running()

    @Slot(int, int)
    def _on_export_progress(self, frame: int, frames: int) -> None:
        self.progress.setRange(0, frames)
        self.progress.setValue(frame)

    @Slot()
    def cancel(self) -> None:
        """Stop what the tab is doing: the asset or text job and the rest of the list, or the export."""
        self.chain.stop()
        self.runner.cancel()
        self.exporter.cancel()

    @Slot(bool)
    def set_busy(self, busy: bool) -> None:
        busy = busy or self._exporting()
        for button in (self.make_button, self.preview_button, self.export_button):
            button.setEnabled(not busy)
        self.outline.set_busy(busy)
        self.cancel_button.setEnabled(busy)

    def _idle(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.set_busy(self.runner.busy)

    def _done(self, message: str) -> None:
        self._say(message)
        self._idle()
        self.progress.setValue(0 if message.startswith("⚠") else 1)

    # --- settings and title -------------------------------------------------------------------------------------------
    @Slot()
    def _on_settings_changed(self) -> None:
        self._update(self.settings_form.apply(self.story))

    @Slot()
    def _on_title_edited(self) -> None:
        if self.title.text().strip() != self.story.title:
            self._update(replace(self.story, title=self.title.text().strip()[: document.MAX_TITLE_CHARS]))

    @staticmethod
    def new_document() -> Story:
        """An empty story; its pictures' seeds are Random until the person fixes one."""
        story = document.from_outline("")
        return replace(story, image=replace(story.image, seed=None))

    @Slot()
    def new_story(self) -> None:
        self.set_story(self.new_document())
        self.files.drop_autosave()

    @Slot()
    def on_quit(self) -> None:
        """A clean exit: stop an export (no partial film), keep the autosave only with unsaved changes."""
        self.exporter.cancel()
        self.exporter.wait(10)
        self.files.on_quit()

    # --- StudioTab ----------------------------------------------------------------------------------------------------
    def refresh_models(self) -> None:
        for picker in (self.outline.text_model, self.settings_form.image_model, self.settings_form.voice_model,
                       self.settings_form.music_model):
            picker.refresh()

    def receive_text(self, text: str) -> bool:
        """Send to → Story: the text becomes the outline (each paragraph a scene)."""
        self.outline.outline.setPlainText(text)
        self.make_scenes()
        return True

    def receive_image(self, path: str) -> bool:
        """Send to → Story: the picture becomes the selected scene's."""
        row = self.scenes.currentRow()
        return row >= 0 and self.set_scene_picture(row, path)
