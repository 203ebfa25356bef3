"""The Speech tab: text (typed, pasted, dropped or sent from the Text tab) → a voice → audio.

Speak (Ctrl+Enter) submits a :class:`~studio.requests.SpeechRequest`. Each sentence's audio arrives
as a Preview and goes straight into the :class:`~studio.ui.audio.panel.AudioPanel`, so playback
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

from ...errors import InvalidRequest, StudioError
from ...jobs import JobHandle
from ...library import audio as audio_files
from ...requests import SpeechRequest
from ..job_errors import FailureAction
from ..tab_api import StudioTab, TabContext
from .panel import AudioPanel
from .voice_form import VoiceForm, is_audio_file

class SpeechTab(QWidget, StudioTab):
    def __init__(self, ctx: TabContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = ctx.jobs
        self.library = ctx.library
        self.host = ctx.host
        self.current_job: JobHandle | None = None
        self._saved = None
        self._build(ctx)
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
        self.status = QLabel("")
        self.status.setObjectName("speechStatus")
        self.status.setWordWrap(True)
        self.panel = AudioPanel()

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
        right_layout.addWidget(self.status)
        self.failure_action = FailureAction()  # "Download…" / "Load anyway…" after a failed job
        self.failure_action.download_requested.connect(self.host.download_model)
        self.failure_action.retry_requested.connect(self.submit)
        right_layout.addWidget(self.failure_action)
        right_layout.addStretch(1)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(left)
        top.addWidget(right)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(top, 3)
        layout.addWidget(self.panel, 1)

        self.speak_button.clicked.connect(self.speak)
        self.cancel_button.clicked.connect(self.cancel)
        self.text.textChanged.connect(self._on_text_changed)
        self.form.message.connect(self._show)
        self.panel.message.connect(self._show)
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
            self._show(str(exc))
            return False
        params = saved.params if isinstance(saved.params, dict) else {}
        self.text.setPlainText(str(params.get("text") or ""))
        self.form.apply(params)
        self.panel.set_clip(samples, rate, params)
        self._saved = saved
        self.status.setText(_describe(params))
        return True

    # --- speaking ---
    def build_request(self) -> SpeechRequest:
        return SpeechRequest(text=self.text.toPlainText(), **self.form.values())

    @Slot()
    def speak(self, allow_pickle: bool = False) -> None:
        if self.current_job is not None:
            return
        request = self.build_request()
        if allow_pickle:
            request = request.replace(allow_pickle=True)
        self.submit(request)

    @Slot(object)
    def submit(self, request) -> None:
        """Queue ``request`` (built from the form, or the failed one again with permission to load it)."""
        if self.current_job is not None:
            return
        self.failure_action.clear()
        try:
            handle = self.jobs.submit(request)
        except (InvalidRequest, StudioError) as exc:
            self._show(str(exc))
            return
        handle.started.connect(self._on_started)
        handle.status.connect(self._on_status)
        handle.notice.connect(self._show)
        handle.progress.connect(self._on_progress)
        handle.preview.connect(self._on_preview)
        handle.output.connect(self._on_output)
        handle.finished.connect(self._on_finished)
        handle.cancelled.connect(self._on_cancelled)
        handle.failed.connect(self._on_failed)
        self.current_job = handle
        self._saved = None
        self.panel.clear()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Waiting…")
        self.status.setText("Queued…")
        self._set_busy(True)

    @Slot()
    def cancel(self) -> None:
        if self.current_job is not None:
            self.current_job.cancel()

    def _set_busy(self, busy: bool) -> None:
        self.speak_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _show(self, message: str) -> None:
        self.status.setText(message)
        self.host.show_message(message, 8000)

    @Slot()
    def _on_text_changed(self) -> None:
        self.char_count.setText(f"{len(self.text.toPlainText()):,} characters")

    # --- the current job's signals (its JobHandle's: only this tab's job reaches them) ---
    @Slot()
    def _on_started(self) -> None:
        self.status.setText("Starting…")

    @Slot(str)
    def _on_status(self, message: str) -> None:
        self.status.setText(message)

    @Slot(object)
    def _on_progress(self, progress) -> None:
        self.progress.setFormat("sentence %v of %m")
        self.progress.setRange(0, progress.total)
        self.progress.setValue(progress.step)
        self.status.setText(f"Speaking: sentence {progress.step} of {progress.total}")

    @Slot(object)
    def _on_preview(self, preview) -> None:
        if preview.audio is not None:
            self.panel.append_chunk(preview.audio, preview.sample_rate)

    @Slot(object)
    def _on_output(self, saved) -> None:
        self._saved = saved

    @Slot(object)
    def _on_finished(self, result) -> None:
        self._end(result)
        stats = result.stats or {}
        if not self.form.speakers() and not self.form.languages() and (stats.get("speakers") or stats.get("languages")):
            self.form.set_voice_lists(stats.get("speakers") or (), stats.get("languages") or ())
        if self._saved is not None:
            self.status.setText(_describe(self._saved.params) + f" · saved as {Path(self._saved.path).name}")

    @Slot(object)
    def _on_cancelled(self, result) -> None:
        self._end(result)
        self.status.setText(
            "Cancelled. " + ("What was said is saved as a partial result." if self._saved else "Nothing was said yet.")
        )

    @Slot(object)
    def _on_failed(self, error) -> None:
        request = self.current_job.request if self.current_job is not None else None
        self._end(None)
        self._show(f"Failed: {error}")
        if request is not None:
            self.failure_action.offer(error, request)

    def _end(self, result) -> None:
        self.current_job = None
        self._set_busy(False)
        self.panel.finish_stream(self._saved.params if self._saved is not None else {})

    # --- drag and drop: a text file or a reference clip ---
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() or event.mimeData().hasText():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls and is_audio_file(urls[0]):
            self.form.set_reference_clip(urls[0])
        elif urls and urls[0].lower().endswith((".txt", ".md")):
            try:
                self.text.setPlainText(Path(urls[0]).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                self._show(f"Can't read {Path(urls[0]).name}: {exc}")
        elif event.mimeData().hasText():
            self.text.insertPlainText(event.mimeData().text())
        event.acceptProposedAction()


def _describe(params: dict) -> str:
    parts = [str(params.get("voice") or params.get("model_name") or params.get("model") or "")]
    if params.get("duration_s"):
        parts.append(f"{params['duration_s']:.1f} s")
    if params.get("cloned_voice"):
        parts.append("cloned voice")
    if params.get("partial"):
        parts.append(str(params.get("note") or "partial"))
    return " · ".join(p for p in parts if p)
