"""The Image tab: text-to-image and image-to-image with live previews, a gallery and PNG info.

Layout: the model and prompts on top, next to Generate / Cancel, the progress bar and messages;
below, the settings column (:class:`~studio.ui.image.settings.ImageSettings`) on the left and, on
the right, the results (:class:`~studio.ui.image.results.ResultPanel`: the large view with live
previews while denoising, then the image; the shown image's parameters, its actions, and the
gallery strip).

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
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...errors import StudioError
from ...events import Preview, Progress, SavedItem
from ...jobs import JobError, JobHandle
from ...requests import ImageRequest
from ..tab_api import StudioTab, TabContext
from ..job_errors import FailureAction
from . import restore as image_restore
from .gallery import copy_image_to_clipboard, open_folder_of, save_image_as
from .results import ResultPanel
from .settings import ImageSettings
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
        self.host = ctx.host
        self.current_job: JobHandle | None = None  # this tab's running job
        self.pending: list[JobHandle] = []  # this tab's jobs not ended yet (queued or running), oldest first
        self.preview_count = 0  # live previews shown for the current job
        #: pickled files the person agreed to load this session (``settings.pickle_key`` s)
        self.confirmed_pickles: set[str] = set()
        self._generating = False  # the current job reached its denoising steps
        self._build()

        self.model_picker.spec_changed.connect(self._on_model_changed)
        self._on_model_changed(self.model_picker.current_model_spec())
        self.gallery.load_recent(self._recent_items())

    # --- layout -----------------------------------------------------------------------------------
    def _build(self) -> None:
        self.form = ImageSettings(self.catalog, lambda: Path(self.library.root) / "inputs")
        self.form.message.connect(self._say)
        self.form.warning.connect(self._warn)
        self.form.init_changed.connect(self._on_init_changed)
        self.png_reader = image_restore.PngInfoReader(self)
        self.png_reader.read.connect(self._on_png_read)
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
        self.status_label = QLabel("")
        self.status_label.setObjectName("imageStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.failure_action = FailureAction()
        self.failure_action.download_requested.connect(self.host.download_model)
        self.failure_action.pickle_confirmed.connect(self._on_pickle_confirmed)
        self.failure_action.retry_requested.connect(self.submit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 3)
        buttons.addWidget(self.cancel_button, 1)
        go = QVBoxLayout()
        go.setContentsMargins(0, 0, 0, 0)
        go.setSpacing(4)
        go.addLayout(buttons)
        go.addWidget(self.progress)
        status_scroll = QScrollArea()  # a long engine message scrolls instead of being cut off
        status_scroll.setWidget(self.status_label)
        status_scroll.setWidgetResizable(True)
        status_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        status_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        status_scroll.setStyleSheet("QScrollArea { background: transparent; } QScrollArea > QWidget > QWidget { background: transparent; }")
        go.addWidget(status_scroll, 1)
        go.addWidget(self.failure_action)
        go_box = QWidget()
        go_box.setLayout(go)
        go_box.setFixedWidth(340)
        top = QHBoxLayout()
        top.addLayout(prompts, 1)
        top.addWidget(go_box)

        # left: the settings column
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(self.form.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4)

        # right: view, parameters, actions, gallery
        self.results = ResultPanel()
        self.results.showing.connect(self._on_showing)
        self.results.action.connect(self.act)
        self.view = self.results.view
        self.info = self.results.info
        self.gallery = self.results.gallery
        _lines(self.info, 3)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(self.results)
        splitter.setStretchFactor(1, 1)
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
        return self.form.build_request(self.confirmed_pickles)

    @Slot()
    def generate(self) -> JobHandle | None:
        """Submit the current settings; the job's handle, or None with a ⚠ message when refused."""
        return self.submit(self.build_request())

    @Slot(object)
    def submit(self, request: ImageRequest) -> JobHandle | None:
        """Queue ``request`` (also the retry after "Load anyway…"); None with a ⚠ message when refused."""
        try:
            handle = self.jobs.submit(request)
        except StudioError as exc:
            self._warn(str(exc))
            return None
        self.failure_action.clear()
        for signal, slot in (
            (handle.started, self._on_started),
            (handle.progress, self._on_progress),
            (handle.status, self._on_status),
            (handle.notice, self._on_notice),
            (handle.preview, self._on_preview),
            (handle.output, self._on_output),
            (handle.finished, self._on_finished),
            (handle.cancelled, self._on_cancelled),
            (handle.failed, self._on_failed),
        ):
            signal.connect(slot)
        self.pending.append(handle)
        ahead = len(self.jobs.active()) - 1
        self._say(f"Queued behind {ahead} job(s)…" if ahead > 0 else "Queued…")
        self.cancel_button.setEnabled(True)
        return handle

    @Slot(str)
    def _on_pickle_confirmed(self, path: str) -> None:
        self.confirmed_pickles.add(str(Path(path).expanduser().resolve()))  # a Yes holds for the session

    @Slot()
    def cancel(self) -> None:
        """Stop this tab's jobs (the running one within a step); finished images stay."""
        for handle in list(self.pending):
            handle.cancel()

    @Slot(str)
    def _warn(self, message: str) -> None:
        self.status_label.setText(message if message.startswith("⚠") else f"⚠ {message}")
        self.status_label.setStyleSheet("color: #d9822b;")

    @Slot(str)
    def _say(self, message: str) -> None:
        self.status_label.setText(message)
        self.status_label.setStyleSheet("")

    @Slot(str)
    def _on_model_changed(self, spec: str) -> None:
        entry = self.catalog.find(spec)
        if entry is not None and self.catalog.state(entry) == "downloadable":
            self._say(f"ℹ {entry.name} is not downloaded yet: get it in Models → Manage models… (Ctrl+M).")
        elif self.status_label.text().startswith("ℹ") and "not downloaded" in self.status_label.text():
            self._say("")

    @Slot(str)
    def _on_init_changed(self, path: str) -> None:
        self.generate_button.setText("Generate (img2img)" if path else "Generate")

    # --- job events (from this tab's job handles; ``sender()`` is the handle) ------------------------
    def _handle(self) -> JobHandle | None:
        handle = self.sender()
        return handle if isinstance(handle, JobHandle) and handle in self.pending else None

    @Slot()
    def _on_started(self) -> None:
        handle = self._handle()
        if handle is None:
            return
        self.current_job = handle
        self.preview_count = 0
        self._generating = False
        self.progress.setRange(0, 0)  # busy until the first step
        self._say("Starting…")

    @Slot(object)
    def _on_progress(self, p: Progress) -> None:
        handle = self._handle()
        if handle is None or handle is not self.current_job or p.total <= 0:
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
    def _on_status(self, message: str) -> None:
        if self._handle() is not None:
            self._say(message)

    @Slot(str)
    def _on_notice(self, message: str) -> None:
        if self._handle() is not None:
            self._say(f"ℹ {message}")

    @Slot(object)
    def _on_preview(self, preview: Preview) -> None:
        handle = self._handle()
        if handle is None or handle is not self.current_job or preview.image is None:
            return
        try:
            image = pil_to_qimage(preview.image)
        except Exception:  # a broken preview must not disturb the run
            return
        self.preview_count += 1
        self.results.show_preview(image, f"Preview · image {preview.index + 1} · step {preview.step}")

    @Slot(object)
    def _on_output(self, saved: SavedItem) -> None:
        if self._handle() is None or saved.kind != "image":
            return
        self.results.add_result(saved)

    @Slot(object)
    def _on_finished(self, result) -> None:
        handle = self._handle()
        if handle is None:
            return
        stats = getattr(result, "stats", {}) or {}
        n = len(getattr(result, "items", []))
        text = f"Done: {n} image{'s' if n != 1 else ''}"
        if stats.get("seconds"):
            text += f" in {stats['seconds']:.1f} s"
        if stats.get("steps_per_s"):
            text += f" · {stats['steps_per_s']:.2f} steps/s"
        if stats.get("device"):
            text += f" · {stats['device']}"
        self._end(handle, text, "Done")

    @Slot(object)
    def _on_cancelled(self, result) -> None:
        handle = self._handle()
        if handle is None:
            return
        n = len(getattr(result, "items", []))
        kept = f"; kept {n} finished image{'s' if n != 1 else ''}" if n else ""
        self._end(handle, f"Cancelled{kept}.", "Cancelled")

    @Slot(object)
    def _on_failed(self, error: JobError) -> None:
        handle = self._handle()
        if handle is None:
            return
        self._end(handle, "", "Failed")
        self._warn(error.message)  # the settings stay as they were, to fix and retry
        self.failure_action.offer(error, handle.request)

    def _end(self, handle: JobHandle, message: str, bar: str) -> None:
        self.pending.remove(handle)
        if handle is self.current_job:
            self.current_job = None
            self.progress.setRange(0, 1)
            self.progress.setValue(1 if bar == "Done" else 0)
            self.progress.setFormat(bar)
        if message:
            self._say(message)
        self.cancel_button.setEnabled(bool(self.pending))
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
        elif name == "reuse_seed":
            seed = (saved.params or {}).get("seed")
            self.form.reuse_seed(seed if isinstance(seed, int) else None)
        elif name == "reuse_all":
            restored, notes = image_restore.apply_params(self.form, saved.params or {}, full=True)
            image_restore.report_restore(self.form, Path(saved.path).name, restored, notes)
        elif name == "folder":
            open_folder_of(saved.path)

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
        self.png_reader.start(path)

    @Slot(str, object)
    def _on_png_read(self, path: str, params: object) -> None:
        image_restore.restore_read_params(self.form, path, params if isinstance(params, dict) else {})

    # --- the tab interface (studio.ui.tab_api) ----------------------------------------------------
    def refresh_models(self) -> None:
        self.model_picker.refresh()

    def open_item(self, saved: SavedItem) -> bool:
        self.show_saved(saved)
        return True

    def reuse_settings(self, saved: SavedItem) -> bool:
        """History → Reuse settings: every setting of the saved image back in the form ("Reuse all")."""
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
        return self.png_reader.wait_idle(ms) and self.results.wait_idle(ms)


def _lines(edit: QPlainTextEdit, n: int) -> None:
    """Make a text box exactly ``n`` lines tall."""
    m = edit.contentsMargins()
    doc_margin = int(edit.document().documentMargin())
    edit.setFixedHeight(edit.fontMetrics().lineSpacing() * n + 2 * doc_margin + m.top() + m.bottom() + 2)
