"""The Music tab: a prompt and MusicGen's parameters → Generate → waveform, playback (loop) and export.

The form's boxes are built from :class:`~studio.requests.MusicRequest`'s field declarations. A job's
events arrive through its :class:`~studio.jobs.handle.JobHandle`: progress with time left, each
finished window as a playable preview, every take (variation) as a saved item listed under the
waveform. History reopens an item here with its settings and seed.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...errors import StudioError
from ...events import MusicStats
from ...jobs import JobHandle
from ...library import audio as audio_files
from ...requests import MusicRequest
from ..fields import spin_box_for
from ..job_runner import JobRunner
from ..model_picker import ModelPicker
from ..tab_api import StudioTab, TabContext
from ..tab_widgets import SeedField, StatusLine
from .clip_view import ClipView

AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.mp3);;All files (*)"
#: request fields with a spin box, in form order, with their row labels
NUMBER_FIELDS = (
    ("duration_s", "Duration (s)"),
    ("guidance_scale", "Guidance"),
    ("temperature", "Temperature"),
    ("top_k", "Top-k"),
    ("top_p", "Top-p"),
    ("variations", "Variations"),
    ("window_keep_s", "Window keep (s)"),
)


class FileField(QWidget):
    """A path box with a Browse… button (melody, clip to continue)."""

    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.edit.setClearButtonEnabled(True)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(browse)

    def path(self) -> str:
        return self.edit.text().strip()

    def set_path(self, path: str) -> None:
        self.edit.setText(path or "")

    @Slot()
    def browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose an audio file", self.path(), AUDIO_FILTER)
        if path:
            self.set_path(path)


class MusicTab(QWidget, StudioTab):
    """Laid out as the Speech tab: the prompt (and this session's takes) on the left, the form on the
    right with Generate / Cancel, the progress bar and the status line, the clip view across the bottom."""

    def __init__(self, ctx: TabContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = ctx.jobs
        self.catalog = ctx.catalog
        self.host = ctx.host

        # --- the form ---
        self.model_picker = ModelPicker("music", self.catalog)
        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("musicPrompt")
        self.prompt.setPlaceholderText("Describe the music (Ctrl+Enter generates), e.g. lo-fi hip hop with warm piano, 80 bpm")
        self.numbers = {name: spin_box_for(MusicRequest, name) for name, _ in NUMBER_FIELDS}
        self.seed = SeedField(MusicRequest)
        self.melody = FileField("optional: a clip whose melody to follow (melody models)")
        self.continue_from = FileField("optional: a clip to continue")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model", self.model_picker)
        for name, label in NUMBER_FIELDS:
            form.addRow(label, self.numbers[name])
        form.addRow("Seed", self.seed)
        form.addRow("Melody", self.melody)
        form.addRow("Continue", self.continue_from)

        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generateButton")
        self.generate_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 1)
        buttons.addWidget(self.cancel_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Idle")
        self.status_line = StatusLine()

        right = QWidget()
        right.setMinimumWidth(340)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(form)
        right_layout.addLayout(buttons)
        right_layout.addWidget(self.progress)
        right_layout.addWidget(self.status_line)
        right_layout.addStretch(1)

        # --- the result: waveform, player, export; the takes of this session (shown once there is one) ---
        self.clip_view = ClipView()
        self.clip_view.message.connect(self.status_line.say)
        self.takes_label = QLabel("<b>Takes</b>")
        self.results = QListWidget()
        self.results.setObjectName("musicResults")
        self.results.setMaximumHeight(140)
        self.results.currentItemChanged.connect(self._on_result_selected)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.prompt, 1)
        left_layout.addWidget(self.takes_label)
        left_layout.addWidget(self.results)
        self._show_takes()

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(left)
        top.addWidget(right)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        top.setCollapsible(1, False)
        layout = QVBoxLayout(self)
        layout.addWidget(top, 3)
        layout.addWidget(self.clip_view, 1)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, activated=self.generate)

        self.runner = JobRunner(self, self.jobs, self.status_line, self.host)  # one job at a time
        self.runner.busy_changed.connect(self.set_busy)

    # --- the request ---
    def build_request(self) -> MusicRequest:
        values = {name: box.value() for name, box in self.numbers.items()}
        return MusicRequest(
            prompt=self.prompt.toPlainText().strip(),
            model=self.model_picker.current_model_spec(),
            seed=self.seed.value(),
            melody=self.melody.path(),
            continue_from=self.continue_from.path(),
            **values,
        )

    def apply_params(self, params: dict) -> None:
        """Put a saved item's settings back into the form (untrusted values are skipped)."""
        if isinstance(params.get("prompt"), str):
            self.prompt.setPlainText(params["prompt"])
        if isinstance(params.get("model"), str) and params["model"]:
            self.model_picker.set_model_spec(params["model"])
        for name, box in self.numbers.items():
            value = params.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                box.setValue(value)
        self.melody.set_path(params.get("melody") if isinstance(params.get("melody"), str) else "")
        self.continue_from.set_path(params.get("continue_from") if isinstance(params.get("continue_from"), str) else "")
        seed = params.get("seed")
        self.seed.show_used(seed if isinstance(seed, int) else None)

    # --- actions ---
    @property
    def job(self) -> JobHandle | None:
        """The running job, None when idle."""
        return self.runner.job

    @Slot()
    def generate(self) -> JobHandle | None:
        """Submit the form; the job's handle, or None (the reason in the status line)."""
        return self.runner.submit(self.build_request())

    @Slot()
    def cancel(self) -> None:
        if self.runner.busy:
            self.runner.cancel()
            self.status_line.say("Cancelling after the current tokens…")

    @Slot(bool)
    def set_busy(self, busy: bool) -> None:
        self.generate_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        if busy:
            self.progress.setRange(0, 0)
            self.progress.setFormat("Waiting…")

    def _done(self, message: str, bar: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if bar == "Done" else 0)
        self.progress.setFormat(bar)
        if message:
            self.status_line.say(message)

    def _show_takes(self) -> None:
        has = self.results.count() > 0
        self.takes_label.setVisible(has)
        self.results.setVisible(has)

    def _show_item(self, saved) -> bool:
        try:
            samples, rate = audio_files.read(saved.path)
        except StudioError as exc:
            self.status_line.warn(str(exc))
            return False
        self.clip_view.set_clip(samples, rate, saved.params)
        seed = saved.params.get("seed")
        self.seed.show_used(seed if isinstance(seed, int) else None)
        return True

    # --- job events: the runner connects each JobHandle signal to the slot of its name ---
    @Slot()
    def on_started(self) -> None:
        self.status_line.say("Starting…")
        self.clip_view.clear()

    @Slot(str)
    def on_status(self, message: str) -> None:
        self.status_line.say(message)

    @Slot(str)
    def on_notice(self, message: str) -> None:
        self.status_line.say(f"ℹ {message}")

    @Slot(object)
    def on_progress(self, progress) -> None:
        if progress.total <= 0:
            return
        self.progress.setRange(0, progress.total)
        self.progress.setValue(progress.step)
        self.progress.setFormat("tokens %v of %m")
        left = f" · {progress.eta_s:.0f} s left" if progress.eta_s is not None else ""
        self.status_line.say(f"Tokens {progress.step}/{progress.total}{left}")

    @Slot(object)
    def on_preview(self, preview) -> None:
        """A finished window: play it while the next one is made (mixed to mono for the stream)."""
        if preview.audio is None or not preview.sample_rate:
            return
        chunk = preview.audio if preview.audio.ndim == 1 else preview.audio.mean(axis=1)
        self.clip_view.append_chunk(chunk, preview.sample_rate)

    @Slot(object)
    def on_output(self, saved) -> None:
        params = saved.params
        label = f"seed {params.get('seed')} · {params.get('audio_seconds', 0):.1f} s"
        if params.get("partial"):
            label += " (partial)"
        item = QListWidgetItem(label)
        item.setData(Qt.ItemDataRole.UserRole, saved)
        self.results.addItem(item)
        self._show_takes()
        self.results.setCurrentItem(item)  # shows it in the panel

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_result_selected(self, current, previous) -> None:
        if current is not None:
            self._show_item(current.data(Qt.ItemDataRole.UserRole))

    @Slot(object)
    def on_finished(self, result) -> None:
        stats = result.stats
        if isinstance(stats, MusicStats):
            self._done(f"{stats.audio_seconds:.1f} s of audio in {stats.seconds:.1f} s on {stats.device or '?'}", "Done")
        else:
            self._done("Done.", "Done")

    @Slot(object)
    def on_cancelled(self, result) -> None:
        kept = len(result.items)
        self._done("Cancelled" + (": the finished windows were kept." if kept else "."), "Cancelled")

    @Slot(object)
    def on_failed(self, error) -> None:
        self._done("", "Failed")  # the runner shows the message and its action

    # --- StudioTab ---
    def refresh_models(self) -> None:
        self.model_picker.refresh()

    def receive_text(self, text: str) -> bool:
        """Send to → Music: the text becomes the prompt."""
        self.prompt.setPlainText(text)
        return True

    def reuse_settings(self, saved) -> bool:
        """History → Reuse settings: the piece's prompt, model, seed and settings in the form."""
        params = saved.params if isinstance(saved.params, dict) else {}
        self.apply_params(params)
        if isinstance(params.get("seed"), int) and not isinstance(params["seed"], bool):
            self.seed.setValue(params["seed"])  # the same seed too: the same settings make the same piece
        return True

    def open_item(self, saved) -> bool:
        """History → this tab: the clip in the player and its settings in the form."""
        if not self._show_item(saved):
            return False
        self.apply_params(saved.params)
        return True
