"""The Image tab: text-to-image and image-to-image with live previews, a gallery and PNG info.

Layout: the model and prompts on top, next to Generate / Cancel, the progress bar and the status
line; below, the results (:class:`~studio.ui.image.results.ResultPanel`: the large view with live
previews while denoising, then the image; the shown image's parameters, its actions, and the
gallery strip) on the left and the form (:class:`~studio.ui.image.form.ImageForm`)
on the right, where every tab has its form. Jobs run through the tab's
:class:`~studio.ui.job_runner.JobRunner` (Generate while one runs queues another).

The tab hands an :class:`~studio.requests.ImageRequest` to the job queue and never touches a model;
it follows the job's events and carries out the actions on a result (copy, save as, send to the
canvas, reuse its seed or all its settings, open its folder). Previews arrive as PIL images and are
copied into QImages.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...errors import StudioError
from ...events import ImageStats, Preview, Progress, SavedItem
from ...jobs import JobError, JobHandle
from ...jobs.background import Background
from ...library.png_info import read_png_parameters
from ...requests import ImageRequest, UpscaleRequest
from ..tab_api import StudioTab, TabContext
from ..job_runner import JobRunner
from ..tab_widgets import StatusLine
from . import restore as image_restore
from .gallery import copy_image_to_clipboard, open_folder_of, save_image_as
from .results import ResultPanel
from .form import ImageForm
from .widgets import pil_to_qimage

RECENT_ON_START = 60  # library images the gallery shows when the tab opens


def eta_text(seconds: float | None) -> str:
    """"12 s left", "3 min 05 s left" or "" when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s left"
    return f"{seconds // 60} min {seconds % 60:02d} s left"


class ImageTab(QWidget, StudioTab):
    """Text-to-image / image-to-image. "Send to Canvas" hands a result to the tab registered as 'canvas'."""

    def __init__(self, ctx: TabContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = ctx.jobs
        self.library = ctx.library
        self.catalog = ctx.catalog
        self.servers = ctx.servers  # ComfyUI servers: their checkpoints join the picker
        self.host = ctx.host
        self.preview_count = 0  # live previews shown for the running job
        self._shown_job: JobHandle | None = None  # the job whose progress the bar shows
        self._generating = False  # that job reached its denoising steps
        self._build()
        # Generate again while a job runs queues another one behind it
        self.runner = JobRunner(self, self.jobs, self.status_line, self.host, queue=True)
        self.runner.busy_changed.connect(self.set_busy)

        self.model_picker.spec_changed.connect(self._on_model_changed)
        self._on_model_changed(self.model_picker.current_model_spec())
        self.gallery.load_recent(self._recent_items())

    # --- layout -----------------------------------------------------------------------------------
    def _build(self) -> None:
        self.form = ImageForm(self.catalog, lambda: Path(self.library.root) / "inputs", servers=self.servers)
        self.form.message.connect(self._say)
        self.form.warning.connect(self._warn)
        self.form.init_changed.connect(self._on_init_changed)
        self.background = Background(self)  # PNG info is read off the UI thread
        self.form.png_chosen.connect(self.read_png_info)
        self.model_picker = self.form.model_picker
        self.prompt = self.form.prompt
        self.negative_prompt = self.form.negative_prompt

        # top: model and prompts | Generate, Cancel, progress, messages
        _lines(self.prompt, 4)
        _lines(self.negative_prompt, 2)
        model_row = QHBoxLayout()
        model_row.addWidget(QLabel("Model"))
        model_row.addWidget(self.model_picker, 1)
        prompts = QVBoxLayout()
        prompts.setSpacing(4)
        prompts.addLayout(model_row)
        prompts.addWidget(self.prompt)
        prompts.addWidget(self.negative_prompt)

        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generateButton")
        self.generate_button.setDefault(True)
        self.generate_button.setMinimumHeight(46)
        self.generate_button.setStyleSheet("QPushButton#generateButton { font-size: 15px; font-weight: bold; }")
        self.generate_button.setToolTip("Generate with these settings (Ctrl+Enter); pressing it again queues another job")
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setMinimumHeight(46)
        self.cancel_button.setToolTip("Stop within one step; finished images are kept")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Idle")
        self.status_line = StatusLine(scrolling=True)  # a long message scrolls in the fixed column
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 3)
        buttons.addWidget(self.cancel_button, 1)
        go = QVBoxLayout()
        go.setContentsMargins(0, 0, 0, 0)
        go.setSpacing(4)
        go.addLayout(buttons)
        go.addWidget(self.progress)
        go.addWidget(self.status_line, 1)
        go_box = QWidget()
        go_box.setLayout(go)
        go_box.setFixedWidth(340)
        top = QHBoxLayout()
        top.addLayout(prompts, 1)
        top.addWidget(go_box)

        # right: the form
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(self.form.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4)

        # left: view, parameters, actions, gallery
        self.results = ResultPanel()
        self.results.showing.connect(self._on_showing)
        self.results.action.connect(self.act)
        self.view = self.results.view
        self.info = self.results.info
        self.gallery = self.results.gallery
        _lines(self.info, 3)

        splitter = QSplitter(Qt.Orientation.Horizontal)  # the form on the right, as in every tab
        splitter.addWidget(self.results)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 1)
        splitter.setCollapsible(0, False)
        splitter.setCollapsible(1, False)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, activated=self.generate, context=context)
        # text fields keep Ctrl+V for text; elsewhere in the tab it pastes the image-to-image input
        QShortcut(QKeySequence(QKeySequence.StandardKey.Paste), self, activated=self.form.paste_init_image, context=context)

    # --- generating -------------------------------------------------------------------------------
    def set_prompt(self, text: str) -> None:
        self.prompt.setPlainText(text)
        self.prompt.setFocus()

    def build_request(self) -> ImageRequest:
        """The request the current settings describe (``jobs.submit`` validates it)."""
        return self.form.build_request(self.runner.confirmed_pickles)

    @Slot()
    def generate(self) -> JobHandle | None:
        """Submit the current settings; the job's handle, or None with a ⚠ message when refused."""
        return self.submit(self.build_request())

    @Slot(object)
    def submit(self, request: ImageRequest) -> JobHandle | None:
        """Queue ``request``; None with a ⚠ message when refused."""
        return self.runner.submit(request)

    @property
    def job(self) -> JobHandle | None:
        """The tab's running job (or the next one), None when idle."""
        return self.runner.job

    @Slot()
    def cancel(self) -> None:
        """Stop this tab's jobs (the running one within a step); finished images stay."""
        self.runner.cancel()

    @Slot(bool)
    def set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)  # Generate stays enabled: pressing it again queues a job

    @Slot(str)
    def _warn(self, message: str) -> None:
        self.status_line.warn(message)

    @Slot(str)
    def _say(self, message: str) -> None:
        self.status_line.say(message)

    @Slot(str)
    def _on_model_changed(self, spec: str) -> None:
        entry = self.catalog.find(spec)
        if entry is not None and self.catalog.state(entry) == "downloadable":
            self._say(f"ℹ {entry.name} is not downloaded yet: get it in Models → Manage models… (Ctrl+M).")
        elif self.status_line.text().startswith("ℹ") and "not downloaded" in self.status_line.text():
            self._say("")

    @Slot(str)
    def _on_init_changed(self, path: str) -> None:
        self.generate_button.setText("Generate (img2img)" if path else "Generate")

    # --- job events: the runner connects each JobHandle signal to the slot of its name ------------------
    @Slot()
    def on_started(self) -> None:
        self._shown_job = self.sender() if isinstance(self.sender(), JobHandle) else self.runner.job
        self.preview_count = 0
        self._generating = False
        self.progress.setRange(0, 0)  # busy until the first step
        self._say("Starting…")

    @Slot(object)
    def on_progress(self, p: Progress) -> None:
        handle = self._shown_job
        if handle is None or p.total <= 0:
            return
        self.progress.setRange(0, p.total)
        self.progress.setValue(min(p.step, p.total))
        what = "step" if p.stage == "generate" else p.stage
        if p.stage == "generate" and not self._generating:  # replaces "Loading …"
            self._generating = True
            request = handle.request
            n = request.batch_count * request.batch_size if isinstance(request, ImageRequest) else 0
            self._say(f"Generating {n} image{'s' if n != 1 else ''}…" if n else "Generating…")
        left = eta_text(p.eta_s)
        self.progress.setFormat(f"{what} {p.step}/{p.total}" + (f" · {left}" if left else ""))

    @Slot(str)
    def on_status(self, message: str) -> None:
        self._say(message)

    @Slot(str)
    def on_notice(self, message: str) -> None:
        self._say(f"ℹ {message}")

    @Slot(object)
    def on_preview(self, preview: Preview) -> None:
        if preview.image is None:
            return
        try:
            image = pil_to_qimage(preview.image)
        except Exception:  # a broken preview must not disturb the run
            return
        self.preview_count += 1
        self.results.show_preview(image, f"Preview · image {preview.index + 1} · step {preview.step}")

    @Slot(object)
    def on_output(self, saved: SavedItem) -> None:
        if saved.kind in ("image", "upscale"):
            self.results.add_result(saved)

    @Slot(object)
    def on_finished(self, result) -> None:
        stats = getattr(result, "stats", None)
        n = len(getattr(result, "items", []))
        text = f"Done: {n} image{'s' if n != 1 else ''}"
        if isinstance(stats, ImageStats):
            if stats.seconds:
                text += f" in {stats.seconds:.1f} s"
            if stats.steps_per_s:
                text += f" · {stats.steps_per_s:.2f} steps/s"
            if stats.device:
                text += f" · {stats.device}"
        self._end(text, "Done")

    @Slot(object)
    def on_cancelled(self, result) -> None:
        n = len(getattr(result, "items", []))
        kept = f"; kept {n} finished image{'s' if n != 1 else ''}" if n else ""
        self._end(f"Cancelled{kept}.", "Cancelled")

    @Slot(object)
    def on_failed(self, error: JobError) -> None:
        self._end("", "Failed")  # the runner shows the message and its action; the form stays, to fix and retry

    def _end(self, message: str, bar: str) -> None:
        if self.sender() is self._shown_job:
            self._shown_job = None
            self.progress.setRange(0, 1)
            self.progress.setValue(1 if bar == "Done" else 0)
            self.progress.setFormat(bar)
        if message:
            self._say(message)
        self.results.end_preview()  # a preview a cancelled batch left gives way to the last finished image

    # --- the shown result and its actions ---------------------------------------------------------
    @property
    def shown(self) -> SavedItem | None:
        """The result in the big view."""
        return self.results.shown

    @Slot(object)
    def show_saved(self, saved: SavedItem) -> None:
        """Show a library image (e.g. picked in the History panel) with its settings and actions."""
        self.results.show_saved(saved)

    @Slot(object)
    def _on_showing(self, saved: SavedItem) -> None:
        seed = (saved.params or {}).get("seed")
        self.form.set_seed_used(seed if isinstance(seed, int) else None)

    @Slot(str, object)
    def act(self, name: str, saved: SavedItem | None) -> None:
        """One of :data:`~studio.ui.image.gallery.ACTIONS` on a saved image."""
        if saved is None:
            return
        if name == "copy":
            if copy_image_to_clipboard(saved.path):
                self._say("Image copied to the clipboard.")
            else:
                self._warn(f"Can't read {Path(saved.path).name}.")
        elif name == "save_as":
            target, _ = QFileDialog.getSaveFileName(
                self, "Save image as", Path(saved.path).name, "PNG with settings (*.png);;JPEG (*.jpg);;WebP (*.webp)"
            )
            if target:
                self.save_as(saved, target)
        elif name == "canvas":
            if not self.host.send_image("canvas", str(saved.path)):
                self._say(f"ℹ The Canvas tab is not in this version yet; the image is at {saved.path}.")
        elif name == "upscale":
            model, _ = QFileDialog.getOpenFileName(
                self, "Upscale with which model?", "", "Upscalers (*.safetensors *.pth *.pt);;All files (*)"
            )
            if model:
                self.upscale(str(saved.path), model)
        elif name == "reuse_seed":
            seed = (saved.params or {}).get("seed")
            self.form.reuse_seed(seed if isinstance(seed, int) else None)
        elif name == "reuse_all":
            restored, notes = image_restore.apply_params(self.form, saved.params or {}, full=True)
            image_restore.report_restore(self.form, Path(saved.path).name, restored, notes)
        elif name == "folder":
            open_folder_of(saved.path)

    def upscale(self, path: str, model: str, scale: float = 0.0, tile: int = 512) -> JobHandle | None:
        """Upscale a picture with an upscaler model (a job like any other: progress per tile, cancel)."""
        return self.runner.submit(UpscaleRequest(image=path, model=model, scale=scale, tile=tile))

    def save_as(self, saved: SavedItem, target: str) -> bool:
        try:
            save_image_as(saved.path, target)
        except (OSError, StudioError) as exc:
            self._warn(f"Could not save: {exc}")
            return False
        self._say(f"Saved a copy as {target}.")
        return True

    def restore_from_png(self, path: str) -> list[str]:
        """Restore the settings of any PNG (Studio, AUTOMATIC1111, ComfyUI) now; see the status line."""
        return image_restore.restore_from_png(self.form, path)

    @Slot(str)
    def read_png_info(self, path: str) -> None:
        """A PNG dropped on or opened in "PNG info": read off the UI thread, restored when read."""
        self._say(f"Reading the settings in {Path(path).name}…")
        self.background.start(read_png_parameters, path, key=path, returned=self._on_png_read)

    @Slot(object)
    def _on_png_read(self, params: object) -> None:
        path = self.sender().key
        image_restore.restore_read_params(self.form, path, params if isinstance(params, dict) else {})

    # --- the tab interface (studio.ui.tab_api) ----------------------------------------------------
    def refresh_models(self) -> None:
        self.model_picker.refresh()

    def open_item(self, saved: SavedItem) -> bool:
        self.show_saved(saved)
        return True

    def reuse_settings(self, saved: SavedItem) -> bool:
        """History → Reuse settings: every setting of the saved image back in the form ("Reuse all");
        an upscaled picture has no generation settings: it becomes the image-to-image input instead."""
        if saved.kind == "upscale":
            return self.form.set_init_image(str(saved.path))
        self.act("reuse_all", saved)
        return True

    def receive_text(self, text: str) -> bool:
        """Text from another tab becomes the prompt."""
        self.set_prompt(text)
        return True

    def receive_image(self, path: str) -> bool:
        """An image from another tab becomes the image-to-image input."""
        return self.form.set_init_image(path)

    def _recent_items(self) -> list[SavedItem]:
        try:
            return self.library.items("image", limit=RECENT_ON_START)
        except Exception:  # an unreadable index must not keep the tab from opening
            return []

    def wait_idle(self, ms: int = 5000) -> bool:
        """Wait for the image-decoding and PNG-info threads (tests; closing)."""
        return self.background.wait(ms) and self.results.wait_idle(ms)


def _lines(edit: QPlainTextEdit, n: int) -> None:
    """Make a text box exactly ``n`` lines tall."""
    m = edit.contentsMargins()
    doc_margin = int(edit.document().documentMargin())
    edit.setFixedHeight(edit.fontMetrics().lineSpacing() * n + 2 * doc_margin + m.top() + m.bottom() + 2)
