"""The Speech tab's voice settings: model, speaker, language, reference clip (with consent), speed, seed, pauses.

Speakers and languages are filled from the model's files when it is picked, read off the UI thread
(:func:`studio.engines.speech_voices.voice_options`, no torch) and from the loaded model after a
job (:meth:`VoiceForm.set_voice_lists`). Cloning asks once per clip whether the person may use that
voice. :meth:`values` gives the request's keyword arguments; :meth:`apply` restores them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)

from ...errors import StudioError
from ...jobs.background import Background
from ...library.audio import READABLE_SUFFIXES
from ...requests import SpeechRequest
from ..fields import spin_box_for
from ..model_picker import ModelPicker
from ..tab_widgets import SeedField

DEFAULT_ITEM = "(model default)"
CLIP_FILTER = "Audio clips (" + " ".join(f"*{s}" for s in READABLE_SUFFIXES) + ")"
CONSENT_QUESTION = (
    "Cloning makes speech in the voice of the person in this clip.\n\n"
    "Do you have that person's permission to use their voice?"
)


def is_audio_file(path: str) -> bool:
    return Path(path).suffix.lower() in READABLE_SUFFIXES


def read_voice_lists(spec: str, catalog) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(speakers, languages) of the voice ``spec`` from its files (no torch); empty when it is not here
    (not downloaded yet, or not a speech model: the job will say so)."""
    from ...engines.speech_voices import voice_options
    from ...models.resolve import resolve

    try:
        options = voice_options(resolve(spec, "speech", catalog=catalog, offline=True))
    except StudioError:
        return (), ()
    return tuple(options.speakers), tuple(options.languages)


class VoiceForm(QWidget):
    message = Signal(str)

    def __init__(self, catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.model_picker = ModelPicker("speech", catalog)
        self.speaker = QComboBox()
        self.speaker.setObjectName("speakerBox")
        self.language = QComboBox()
        self.language.setObjectName("languageBox")
        self.clip = QLineEdit()
        self.clip.setObjectName("referenceClip")
        self.clip.setReadOnly(True)
        self.clip.setPlaceholderText("none: drop or open a clip to clone a voice (XTTS, YourTTS)")
        open_clip = QPushButton("Open…")
        open_clip.clicked.connect(self.open_clip_dialog)
        clear_clip = QPushButton("Clear")
        clear_clip.clicked.connect(self.clear_clip)
        self.speed = spin_box_for(SpeechRequest, "speed")
        self.seed = SeedField(SpeechRequest)
        self.sentence_pause = spin_box_for(SpeechRequest, "sentence_pause_s")
        self.paragraph_pause = spin_box_for(SpeechRequest, "paragraph_pause_s")
        self._consented: set[str] = set()
        self.background = Background(self)

        clip_row = QHBoxLayout()
        clip_row.addWidget(self.clip, 1)
        clip_row.addWidget(open_clip)
        clip_row.addWidget(clear_clip)
        form = QFormLayout(self)
        form.addRow("Voice", self.model_picker)
        form.addRow("Speaker", self.speaker)
        form.addRow("Language", self.language)
        form.addRow("Clone from", clip_row)
        form.addRow("Speed", self.speed)
        form.addRow("Seed", self.seed)
        form.addRow("Sentence pause (s)", self.sentence_pause)
        form.addRow("Paragraph pause (s)", self.paragraph_pause)
        self.model_picker.spec_changed.connect(self.reload_options)
        self.reload_options()

    # --- speakers and languages (read off the UI thread: a voice's files may be large or slow to reach) ---
    @Slot()
    def reload_options(self, *_args) -> None:
        spec = self.model_picker.current_model_spec()
        self.background.start(read_voice_lists, spec, self.catalog, key=spec, returned=self._on_voice_lists)

    @Slot(object)
    def _on_voice_lists(self, lists: object) -> None:
        if self.sender().key != self.model_picker.current_model_spec():
            return  # the person picked another voice meanwhile; its own lists follow
        self.set_voice_lists(*lists)

    def wait_idle(self, ms: int = 5000) -> bool:
        """Wait until the voice lists are read (tests)."""
        return self.background.wait(ms)

    def set_voice_lists(self, speakers, languages) -> None:
        for box, names in ((self.speaker, speakers), (self.language, languages)):
            current = box.currentData() or ""
            box.clear()
            box.addItem(DEFAULT_ITEM, "")
            for name in names:
                box.addItem(name, name)
            box.setEnabled(len(names) > 1)
            index = box.findData(current)
            box.setCurrentIndex(max(0, index))

    def speakers(self) -> list[str]:
        return [self.speaker.itemData(i) for i in range(1, self.speaker.count())]

    def languages(self) -> list[str]:
        return [self.language.itemData(i) for i in range(1, self.language.count())]

    @staticmethod
    def _select(box: QComboBox, value: str) -> None:
        index = box.findData(value)
        if index < 0 and value:
            box.addItem(value, value)
            index = box.count() - 1
        box.setCurrentIndex(max(0, index))

    # --- reference clip ---
    def set_reference_clip(self, path: str, *, consent_given: bool = False) -> bool:
        """Use ``path`` to clone a voice; asks once per clip for consent. False when refused."""
        if not path:
            self.clear_clip()
            return True
        if not is_audio_file(path):
            self.message.emit(f"'{Path(path).name}' is not an audio clip: use WAV, FLAC, OGG or MP3.")
            return False
        key = str(Path(path).resolve())
        if key not in self._consented and not consent_given:
            answer = QMessageBox.question(self, "Clone this voice?", CONSENT_QUESTION)
            consent_given = answer == QMessageBox.StandardButton.Yes
            if not consent_given:
                self.message.emit("Voice cloning cancelled: no clip set.")
                return False
        self._consented.add(key)
        self.clip.setText(path)
        return True

    @Slot()
    def open_clip_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Reference clip", "", CLIP_FILTER)
        if path:
            self.set_reference_clip(path)

    @Slot()
    def clear_clip(self) -> None:
        self.clip.clear()

    # --- values ---
    def values(self) -> dict:
        return {
            "model": self.model_picker.current_model_spec(),
            "speaker": self.speaker.currentData() or "",
            "language": self.language.currentData() or "",
            "speaker_wav": self.clip.text(),
            "speed": self.speed.value(),
            "seed": self.seed.value(),
            "sentence_pause_s": self.sentence_pause.value(),
            "paragraph_pause_s": self.paragraph_pause.value(),
        }

    def apply(self, params: dict) -> None:
        """Restore the settings of a saved result (History → open)."""
        self.model_picker.set_model_spec(str(params.get("model") or ""))
        self.reload_options()
        self._select(self.speaker, str(params.get("speaker") or ""))
        self._select(self.language, str(params.get("language") or ""))
        clip = str(params.get("speaker_wav") or "")
        self.clip.setText(clip if clip and Path(clip).exists() else "")
        if clip:  # the person consented when the result was made
            self._consented.add(str(Path(clip).resolve()))
        for box, key in ((self.speed, "speed"), (self.sentence_pause, "sentence_pause_s"),
                         (self.paragraph_pause, "paragraph_pause_s")):
            if isinstance(params.get(key), (int, float)):
                box.setValue(float(params[key]))
        seed = params.get("seed")
        self.seed.setValue(seed if isinstance(seed, int) else None)
        self.seed.show_used(seed)
