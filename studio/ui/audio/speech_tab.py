"""The Speech tab: text (typed, pasted, dropped or sent from the Text tab) → a voice → audio.

Speak (Ctrl+Enter) submits a :class:`~studio.requests.SpeechRequest`. Each sentence's audio arrives
as a Preview and goes straight into the :class:`~studio.ui.audio.clip_view.ClipView`, so playback
starts with the first sentence while the rest is made; the progress bar counts sentences. Cancel
stops between sentences; what was said is kept (saved as a partial result). History → open
brings a saved clip back with its settings.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...errors import StudioError
from ...jobs import JobHandle
from ...library import audio as audio_files
from ...library.inputs import read_text_file
from ...requests import SpeechRequest
from ..job_runner import JobRunner
from ..tab_api import StudioTab, TabContext
from ..tab_widgets import StatusLine
from .clip_view import ClipView
from .voice_form import VoiceForm, is_audio_file

class SpeechTab(QWidget, StudioTab):
    def __init__(self, ctx: TabContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = ctx.jobs
        self.library = ctx.library
        self.host = ctx.host
        self._saved = None
        self._build(ctx)
        self.runner = JobRunner(self, self.jobs, self.status_line, self.host)  # one job at a time
        self.runner.busy_changed.connect(self.set_busy)
        self.setAcceptDrops(True)

    def _build(self, ctx: TabContext) -> None:
        self.text = QPlainTextEdit()
        self.text.setObjectName("speechText")
        self.text.setPlaceholderText("Type or paste the text to say (Ctrl+Enter speaks it). Long texts are fine.")
        self.char_count = QLabel("0 characters")
        self.form = VoiceForm(ctx.catalog)
        self.speak_button = QPushButton("Speak")
        self.speak_button.setObjectName("speakButton")
        self.speak_button.setToolTip("Ctrl+Enter")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setFormat("Idle")  # "sentence %v of %m" once a job reports progress
        self.progress.setValue(0)
        self.status_line = StatusLine()
        self.clip_view = ClipView()

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.text, 1)
        left_layout.addWidget(self.char_count)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.speak_button, 1)
        buttons.addWidget(self.cancel_button)
        right_layout.addLayout(buttons)
        right_layout.addWidget(self.progress)
        right_layout.addWidget(self.status_line)
        right_layout.addStretch(1)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(left)
        top.addWidget(right)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(top, 3)
        layout.addWidget(self.clip_view, 1)

        self.speak_button.clicked.connect(self.speak)
        self.cancel_button.clicked.connect(self.cancel)
        self.text.textChanged.connect(self._on_text_changed)
        self.form.message.connect(self.status_line.say)
        self.clip_view.message.connect(self.status_line.say)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.speak)
        QShortcut(QKeySequence("Ctrl+Enter"), self, activated=self.speak)

    # --- StudioTab ---
    def refresh_models(self) -> None:
        self.form.model_picker.refresh()
        self.form.reload_options()

    def receive_text(self, text: str) -> bool:
        self.text.setPlainText(text)
        return True

    def reuse_settings(self, saved) -> bool:
        """History → Reuse settings: the text, voice and settings in the form (the player keeps its clip)."""
        params = saved.params if isinstance(saved.params, dict) else {}
        self.text.setPlainText(str(params.get("text") or ""))
        self.form.apply(params)
        return True

    def open_item(self, saved) -> bool:
        """History → open: the clip in the player, its text and settings in the form."""
        try:
            samples, rate = audio_files.read(saved.path)
        except audio_files.AudioFileError as exc:
            self.status_line.warn(str(exc))
            return False
        params = saved.params if isinstance(saved.params, dict) else {}
        self.text.setPlainText(str(params.get("text") or ""))
        self.form.apply(params)
        self.clip_view.set_clip(samples, rate, params)
        self._saved = saved
        self.status_line.say(_describe(params))
        return True

    # --- speaking ---
    def build_request(self) -> SpeechRequest:
        return SpeechRequest(text=self.text.toPlainText(), **self.form.values())

    @property
    def job(self) -> JobHandle | None:
        """The running job, None when idle."""
        return self.runner.job

    @Slot()
    def speak(self) -> JobHandle | None:
        """Say the text with the form's voice; the job's handle, or None (the reason in the status line)."""
        return self.submit(self.build_request())

    @Slot(object)
    def submit(self, request) -> JobHandle | None:
        """Queue ``request`` (built from the form, or the failed one again with permission to load it)."""
        return self.runner.submit(request)

    @Slot()
    def cancel(self) -> None:
        """Stop between sentences; what was said is kept as a partial result."""
        self.runner.cancel()

    @Slot(bool)
    def set_busy(self, busy: bool) -> None:
        self.speak_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    @Slot()
    def _on_text_changed(self) -> None:
        self.char_count.setText(f"{len(self.text.toPlainText()):,} characters")

    # --- job events: the runner connects each JobHandle signal to the slot of its name ---
    @Slot()
    def on_started(self) -> None:
        self._saved = None
        self.clip_view.clear()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Waiting…")
        self.status_line.say("Starting…")

    @Slot(str)
    def on_status(self, message: str) -> None:
        self.status_line.say(message)

    @Slot(str)
    def on_notice(self, message: str) -> None:
        self.status_line.say(f"ℹ {message}")

    @Slot(object)
    def on_progress(self, progress) -> None:
        self.progress.setFormat("sentence %v of %m")
        self.progress.setRange(0, progress.total)
        self.progress.setValue(progress.step)
        self.status_line.say(f"Speaking: sentence {progress.step} of {progress.total}")

    @Slot(object)
    def on_preview(self, preview) -> None:
        if preview.audio is not None:
            self.clip_view.append_chunk(preview.audio, preview.sample_rate)

    @Slot(object)
    def on_voices(self, voices) -> None:
        """The loaded voice's speakers and languages (a model whose files do not list them)."""
        if not self.form.speakers() and not self.form.languages() and (voices.speakers or voices.languages):
            self.form.set_voice_lists(voices.speakers, voices.languages)

    @Slot(object)
    def on_output(self, saved) -> None:
        self._saved = saved

    @Slot(object)
    def on_finished(self, result) -> None:
        self._end()
        if self._saved is not None:
            self.status_line.say(_describe(self._saved.params) + f" · saved as {Path(self._saved.path).name}")
            seed = self._saved.params.get("seed")
            self.form.seed.show_used(seed if isinstance(seed, int) else None)

    @Slot(object)
    def on_cancelled(self, result) -> None:
        self._end()
        self.status_line.say(
            "Cancelled. " + ("What was said is saved as a partial result." if self._saved else "Nothing was said yet.")
        )

    @Slot(object)
    def on_failed(self, error) -> None:
        self._end()  # the runner shows the message and its action

    def _end(self) -> None:
        self.clip_view.finish_stream(self._saved.params if self._saved is not None else {})

    # --- drag and drop: a text file or a reference clip ---
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() or event.mimeData().hasText():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls and is_audio_file(urls[0]):
            self.form.set_reference_clip(urls[0])
        elif urls and urls[0].lower().endswith((".txt", ".md")):
            try:  # FIFO- and device-safe, bounded, UTF-8 checked: the one input module's rule
                self.text.setPlainText(read_text_file(urls[0], "text file"))
            except StudioError as exc:
                self.status_line.warn(str(exc))
        elif event.mimeData().hasText():
            self.text.insertPlainText(event.mimeData().text())
        event.acceptProposedAction()


def _describe(params: dict) -> str:
    parts = [str(params.get("voice") or params.get("model_name") or params.get("model") or "")]
    seconds = params.get("audio_seconds") or params.get("duration_s")  # older items: duration_s
    if seconds:
        parts.append(f"{seconds:.1f} s")
    if params.get("cloned_voice"):
        parts.append("cloned voice")
    if params.get("partial"):
        parts.append(str(params.get("note") or "partial"))
    return " · ".join(p for p in parts if p)
