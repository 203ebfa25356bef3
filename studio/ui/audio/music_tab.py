"""The Music tab: a prompt and MusicGen's settings → Generate → waveform, playback (loop) and export.

The settings' boxes are built from :class:`~studio.requests.MusicRequest`'s field declarations. A job's
events arrive through its :class:`~studio.jobs.handle.JobHandle`: progress with time left, each
finished window as a playable preview, every take (variation) as a saved item listed under the
waveform. History reopens an item here with its settings and seed.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
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

from ...errors import InvalidRequest, StudioError
from ...library import audio as audio_files
from ...requests import MusicRequest
from ..fields import spin_box_for
from ..job_errors import FailureAction
from ..model_picker import ModelPicker
from ..tab_api import StudioTab, TabContext
from .panel import AudioPanel

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

#: the JobHandle signals the tab follows
HANDLE_SIGNALS = ("started", "status", "notice", "progress", "preview", "output", "finished", "cancelled", "failed")


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
    def __init__(self, ctx: TabContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = ctx.jobs
        self.catalog = ctx.catalog
        self.host = ctx.host
        self.handle = None  # the running job's JobHandle
        self.last_seed: int | None = None

        # --- settings ---
        self.model_picker = ModelPicker("music", self.catalog)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("lo-fi hip hop with warm piano, 80 bpm")
        self.prompt.setMaximumHeight(90)
        self.numbers = {name: spin_box_for(MusicRequest, name) for name, _ in NUMBER_FIELDS}
        self.random_seed = QCheckBox("Random")
        self.random_seed.setChecked(True)
        self.seed = spin_box_for(MusicRequest, "seed")
        self.seed.setEnabled(False)
        self.random_seed.toggled.connect(self._on_random_toggled)
        self.seed_label = QLabel("")
        self.reuse_seed_button = QPushButton("Reuse seed")
        self.reuse_seed_button.setEnabled(False)
        self.reuse_seed_button.clicked.connect(self.reuse_seed)
        self.melody = FileField("optional: a clip whose melody to follow (melody models)")
        self.continue_from = FileField("optional: a clip to continue")

        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_seed)
        form = QFormLayout()
        form.addRow("Model", self.model_picker)
        form.addRow("Prompt", self.prompt)
        for name, label in NUMBER_FIELDS:
            form.addRow(label, self.numbers[name])
        form.addRow("Seed", seed_row)
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
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.failure_action = FailureAction()  # "Download…" after a job failed on a model not downloaded
        if self.host is not None:
            self.failure_action.download_requested.connect(self.host.download_model)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addLayout(form)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.progress)
        left_layout.addWidget(self.status_label)
        left_layout.addWidget(self.failure_action)
        left_layout.addStretch(1)

        # --- result: waveform, player, export; the takes of this session ---
        self.panel = AudioPanel()
        self.panel.message.connect(self._show_message)
        self.results = QListWidget()
        self.results.setObjectName("musicResults")
        self.results.currentItemChanged.connect(self._on_result_selected)
        seed_bar = QHBoxLayout()
        seed_bar.addWidget(self.seed_label, 1)
        seed_bar.addWidget(self.reuse_seed_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.panel, 3)
        right_layout.addLayout(seed_bar)
        right_layout.addWidget(self.results, 1)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    # --- the request ---
    def build_request(self) -> MusicRequest:
        values = {name: box.value() for name, box in self.numbers.items()}
        request = MusicRequest(
            prompt=self.prompt.toPlainText().strip(),
            model=self.model_picker.current_model_spec(),
            seed=None if self.random_seed.isChecked() else self.seed.value(),
            melody=self.melody.path(),
            continue_from=self.continue_from.path(),
            **values,
        )
        request.validate()
        return request

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
        if isinstance(seed, int) and not isinstance(seed, bool):
            self._show_seed(seed)

    # --- actions ---
    @Slot()
    def generate(self) -> None:
        if self.handle is not None:
            return
        try:
            request = self.build_request()
        except InvalidRequest as exc:
            self.status_label.setText(f"⚠ {exc}")
            return
        self.failure_action.clear()
        handle = self.jobs.submit(request)
        for name in HANDLE_SIGNALS:  # each to its slot below, _on_<signal>
            getattr(handle, name).connect(getattr(self, f"_on_{name}"))
        self.handle = handle
        self._set_busy(True)
        self.progress.setRange(0, 0)
        self.status_label.setText("Queued…")

    @Slot()
    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.status_label.setText("Cancelling after the current tokens…")

    @Slot()
    def reuse_seed(self) -> None:
        if self.last_seed is not None:
            self.random_seed.setChecked(False)
            self.seed.setValue(self.last_seed)

    def _set_busy(self, busy: bool) -> None:
        self.generate_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _done(self, message: str) -> None:
        self.handle = None
        self._set_busy(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if not message.startswith("⚠") else 0)
        self.status_label.setText(message)

    def _show_seed(self, seed: int) -> None:
        self.last_seed = seed
        self.seed_label.setText(f"Seed: {seed}")
        self.reuse_seed_button.setEnabled(True)

    def _show_item(self, saved) -> bool:
        try:
            samples, rate = audio_files.read(saved.path)
        except StudioError as exc:
            self.status_label.setText(f"⚠ {exc}")
            return False
        self.panel.set_clip(samples, rate, saved.params)
        seed = saved.params.get("seed")
        if isinstance(seed, int):
            self._show_seed(seed)
        return True

    # --- job events (from the job's handle) ---
    @Slot()
    def _on_started(self) -> None:
        self.status_label.setText("Starting…")
        self.panel.clear()

    @Slot(str)
    def _on_status(self, message: str) -> None:
        self.status_label.setText(message)

    @Slot(str)
    def _on_notice(self, message: str) -> None:
        self.status_label.setText(message)

    @Slot(object)
    def _on_progress(self, progress) -> None:
        if progress.total <= 0:
            return
        self.progress.setRange(0, progress.total)
        self.progress.setValue(progress.step)
        left = f" · {progress.eta_s:.0f} s left" if progress.eta_s is not None else ""
        self.status_label.setText(f"Tokens {progress.step}/{progress.total}{left}")

    @Slot(object)
    def _on_preview(self, preview) -> None:
        """A finished window: play it while the next one is made (mixed to mono for the stream)."""
        if preview.audio is None or not preview.sample_rate:
            return
        chunk = preview.audio if preview.audio.ndim == 1 else preview.audio.mean(axis=1)
        self.panel.append_chunk(chunk, preview.sample_rate)

    @Slot(object)
    def _on_output(self, saved) -> None:
        params = saved.params
        label = f"seed {params.get('seed')} · {params.get('audio_seconds', 0):.1f} s"
        if params.get("partial"):
            label += " (partial)"
        item = QListWidgetItem(label)
        item.setData(256, saved)  # Qt.UserRole
        self.results.addItem(item)
        self.results.setCurrentItem(item)  # shows it in the panel

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_result_selected(self, current, previous) -> None:
        if current is not None:
            self._show_item(current.data(256))

    @Slot(object)
    def _on_finished(self, result) -> None:
        stats = result.stats or {}
        self._done(
            f"{stats.get('audio_seconds', 0):.1f} s of audio in {stats.get('seconds', 0):.1f} s "
            f"on {stats.get('device', '?')}"
        )

    @Slot(object)
    def _on_cancelled(self, result) -> None:
        kept = len(result.items)
        self._done("Cancelled" + (": the finished windows were kept." if kept else "."))

    @Slot(object)
    def _on_failed(self, error) -> None:
        request = self.handle.request if self.handle is not None else None
        self._done(f"⚠ {error.message}")
        self.failure_action.offer(error, request)

    @Slot(bool)
    def _on_random_toggled(self, random: bool) -> None:
        self.seed.setEnabled(not random)

    @Slot(str)
    def _show_message(self, message: str) -> None:
        if self.host is not None:
            self.host.show_message(message)

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
            self.reuse_seed()  # the same seed too: the same settings make the same piece
        return True

    def open_item(self, saved) -> bool:
        """History → this tab: the clip in the player and its settings in the form."""
        if not self._show_item(saved):
            return False
        self.apply_params(saved.params)
        return True
