"""The Story tab's settings form: how pictures, narration, the music bed and the film are made.

It shows a :class:`~studio.story.document.Story`'s settings and gives them back (:meth:`apply`); the
number boxes of the picture settings are built from ImageRequest's field declarations.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ...requests import ImageRequest, MusicRequest
from ...story.document import ASPECTS, FPS, RESOLUTIONS, FilmSettings, ImageSettings, MusicSettings, Story, VoiceSettings
from ..audio.music_tab import FileField
from ..fields import spin_box_for
from ..model_picker import ModelPicker
from ..tab_widgets import SeedField


def _double(value: float, lo: float, hi: float, step: float, suffix: str = "") -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setDecimals(2)
    box.setValue(value)
    if suffix:
        box.setSuffix(suffix)
    return box


class StorySettings(QWidget):
    changed = Signal()

    def __init__(self, catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # pictures
        self.image_model = ModelPicker("image", catalog)
        self.width_box = spin_box_for(ImageRequest, "width")
        self.height_box = spin_box_for(ImageRequest, "height")
        self.steps = spin_box_for(ImageRequest, "num_inference_steps")
        self.guidance = spin_box_for(ImageRequest, "guidance_scale")
        self.seed = SeedField(ImageRequest)
        self.seed.setToolTip("Scene i uses this seed + i unless it has its own (Random: any seed, kept once made)")
        self.negative = QLineEdit()
        self.negative.setPlaceholderText("optional: what to avoid in every picture")
        # narration
        self.voice_model = ModelPicker("speech", catalog)
        self.speaker = QLineEdit()
        self.speaker.setPlaceholderText("the voice of a multi-speaker model")
        # music bed
        self.music_on = QCheckBox("Music bed under the whole film")
        self.music_model = ModelPicker("music", catalog)
        self.music_prompt = QLineEdit()
        self.music_prompt.setPlaceholderText("calm piano and strings, slow")
        self.music_file = FileField("or a music file of your own")
        self.music_volume = _double(0.3, 0.0, 1.0, 0.05)
        self.music_duck = _double(0.25, 0.0, 1.0, 0.05)
        self.music_duck.setToolTip("The bed's level while a voice speaks, relative to its volume")
        self.window_keep = spin_box_for(MusicRequest, "window_keep_s")
        # film
        self.fps = QComboBox()
        for fps in FPS:
            self.fps.addItem(f"{fps} fps", fps)
        self.aspect = QComboBox()
        for aspect in ASPECTS:
            self.aspect.addItem(aspect, aspect)
        self.resolution = QComboBox()
        for res in RESOLUTIONS:
            self.resolution.addItem(f"{res}p", res)
        self.pause = _double(0.8, 0.0, 30.0, 0.1, " s")
        self.crossfade = _double(0.5, 0.0, 5.0, 0.1, " s")
        self.ken_burns = QCheckBox("Slow zoom and pan (Ken Burns)")
        self.subtitles = QCheckBox("Burn the subtitles into the picture")

        pictures = QFormLayout()
        pictures.addRow("Model", self.image_model)
        pictures.addRow("Width", self.width_box)
        pictures.addRow("Height", self.height_box)
        pictures.addRow("Steps", self.steps)
        pictures.addRow("Guidance", self.guidance)
        pictures.addRow("Seed", self.seed)
        pictures.addRow("Negative", self.negative)
        voice = QFormLayout()
        voice.addRow("Voice", self.voice_model)
        voice.addRow("Speaker", self.speaker)
        music = QFormLayout()
        music.addRow(self.music_on)
        music.addRow("Model", self.music_model)
        music.addRow("Prompt", self.music_prompt)
        music.addRow("File", self.music_file)
        music.addRow("Volume", self.music_volume)
        music.addRow("Under voice", self.music_duck)
        music.addRow("Window keep", self.window_keep)
        film = QFormLayout()
        film.addRow("Frame rate", self.fps)
        film.addRow("Aspect", self.aspect)
        film.addRow("Size", self.resolution)
        film.addRow("Pause", self.pause)
        film.addRow("Cross-fade", self.crossfade)
        film.addRow(self.ken_burns)
        film.addRow(self.subtitles)
        for picker in (self.image_model, self.voice_model, self.music_model):
            picker.setMinimumContentsLength(12)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        for title, form in (("Pictures", pictures), ("Narration", voice), ("Music", music), ("Film", film)):
            box = QGroupBox(title)
            box.setLayout(form)
            column.addWidget(box)
        column.addStretch(1)
        self.seed.box.valueChanged.connect(self._on_changed)
        self.seed.random.toggled.connect(self._on_changed)
        for box in (self.width_box, self.height_box, self.steps, self.guidance, self.music_volume,
                    self.music_duck, self.window_keep, self.pause, self.crossfade):
            box.valueChanged.connect(self._on_changed)
        for edit in (self.negative, self.speaker, self.music_prompt, self.music_file.edit):
            edit.editingFinished.connect(self._on_changed)
        for combo in (self.fps, self.aspect, self.resolution, self.image_model, self.voice_model, self.music_model):
            combo.currentIndexChanged.connect(self._on_changed)
        for check in (self.music_on, self.ken_burns, self.subtitles):
            check.toggled.connect(self._on_changed)
        self._showing = False

    @Slot()
    def _on_changed(self, *_args) -> None:
        if not self._showing:
            self.changed.emit()

    def show_story(self, story: Story) -> None:
        self._showing = True
        try:
            i, v, f = story.image, story.voice, story.film
            self.image_model.set_model_spec(i.model)
            self.width_box.setValue(i.width)
            self.height_box.setValue(i.height)
            self.steps.setValue(i.steps)
            self.guidance.setValue(i.guidance)
            self.seed.setValue(i.seed)
            self.negative.setText(i.negative_prompt)
            self.voice_model.set_model_spec(v.model)
            self.speaker.setText(v.speaker)
            m = story.music
            self.music_on.setChecked(m is not None)
            if m is not None:
                self.music_model.set_model_spec(m.model)
                self.music_prompt.setText(m.prompt)
                self.music_file.set_path(m.file)
                self.music_volume.setValue(m.volume)
                self.music_duck.setValue(m.duck)
                self.window_keep.setValue(m.window_keep)
            self.fps.setCurrentIndex(max(0, self.fps.findData(f.fps)))
            self.aspect.setCurrentIndex(max(0, self.aspect.findData(f.aspect)))
            self.resolution.setCurrentIndex(max(0, self.resolution.findData(f.resolution)))
            self.pause.setValue(f.pause)
            self.crossfade.setValue(f.crossfade)
            self.ken_burns.setChecked(f.ken_burns)
            self.subtitles.setChecked(f.subtitles)
        finally:
            self._showing = False

    def apply(self, story: Story) -> Story:
        """``story`` with this form's settings (its style line and scenes unchanged)."""
        image = ImageSettings(model=self.image_model.current_model_spec(), width=self.width_box.value(),
                              height=self.height_box.value(), steps=self.steps.value(),
                              guidance=self.guidance.value(), seed=self.seed.value(),
                              negative_prompt=self.negative.text().strip(), style=story.image.style)
        voice = replace(story.voice, model=self.voice_model.current_model_spec(), speaker=self.speaker.text().strip())
        music = None
        if self.music_on.isChecked():
            music = MusicSettings(model=self.music_model.current_model_spec(), prompt=self.music_prompt.text().strip(),
                                  file=self.music_file.path(), volume=self.music_volume.value(),
                                  duck=self.music_duck.value(), seed=story.music.seed if story.music else 1,
                                  window_keep=self.window_keep.value())
        film = FilmSettings(fps=self.fps.currentData(), aspect=self.aspect.currentData(),
                            resolution=self.resolution.currentData(), crossfade=self.crossfade.value(),
                            pause=self.pause.value(), ken_burns=self.ken_burns.isChecked(),
                            subtitles=self.subtitles.isChecked())
        return replace(story, image=image, voice=voice if isinstance(voice, VoiceSettings) else VoiceSettings(),
                       music=music, film=film)
