"""The Canvas tab: paint a mask, inpaint or outpaint, choose among candidates, undo anything.

Left, a toolbar and the :class:`~studio.ui.canvas.view.CanvasView`; right, the
:class:`~studio.ui.canvas.form.InpaintForm`. The tab writes the picture and mask to PNG files, hands an
:class:`~studio.requests.InpaintRequest` to the job queue, shows live previews and each finished
candidate on the canvas, and turns Apply into one undo step. Documents (picture, mask, applied history,
settings) save as one ``.studio-canvas`` file; the open document is autosaved every minute and offered
back after a crash (:class:`~studio.ui.canvas.files.CanvasFiles`, the tab's ``files``).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QAction, QActionGroup, QImage, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QFileDialog,
    QDoubleSpinBox,
    QLabel,
    QScrollArea,
    QSlider,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ...engines.inpaint_geometry import extends_for_aspect
from ...events import Preview, Progress, SavedItem
from ...jobs import JobError, JobHandle
from ...requests import UpscaleRequest
from ..image.widgets import local_image_paths, pil_to_qimage, read_qimage
from ..job_runner import JobRunner
from ..tab_api import StudioTab, TabContext
from ..tab_widgets import StatusLine
from .files import MAX_SIDE, CanvasFiles
from .commands import MaskWholeCommand, StateCommand
from .document import SUFFIX, CanvasDocument
from .mask import MaskLayer
from .form import InpaintForm
from .view import CanvasView



def mask_from_params(params: dict, size: QSize) -> QImage | None:
    """The mask a library item was made with (its ``mask_png``), when it fits the picture."""
    import base64

    data = params.get("mask_png") if isinstance(params, dict) else None
    if not isinstance(data, str):
        return None
    image = QImage()
    try:
        ok = image.loadFromData(base64.b64decode(data))
    except ValueError:
        return None
    return image if ok and image.size() == size else None


class CanvasTab(QWidget, StudioTab):
    def __init__(self, ctx: TabContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = ctx.jobs
        self.library = ctx.library
        self.host = ctx.host
        self.job_extends = (0, 0, 0, 0)  # its outpaint sizes (left, right, top, bottom), for previews
        self.candidate_images: list[QImage] = []
        self.undo_stack = QUndoStack(self)
        self.doc = CanvasDocument()
        self.view = CanvasView(self.doc, self.undo_stack)
        self.status_line = StatusLine()
        self.form = InpaintForm(ctx.catalog, self.status_line, servers=ctx.servers)
        self.files = CanvasFiles(self, self.library, self.host, self.status_line)  # open, save, autosave …
        self._build()
        self.runner = JobRunner(self, self.jobs, self.status_line, self.host)  # one job at a time
        self.runner.busy_changed.connect(self.set_busy)
        self.setAcceptDrops(True)

        p = self.form
        for signal, slot in (
            (p.generate_requested, self.inpaint), (p.outpaint_requested, self.outpaint),
            (p.cancel_requested, self.cancel), (p.candidate_clicked, self.show_candidate),
            (p.aspect_chosen, self.extend_to_aspect),
            (p.apply_requested, self.apply_candidate), (p.discard_requested, self.discard_candidates),
        ):
            signal.connect(slot)


    # --- layout ------------------------------------------------------------------------------------------
    def _act(self, bar: QToolBar, text: str, slot, keys=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        if keys:
            action.setShortcuts([QKeySequence(k) for k in (keys if isinstance(keys, (list, tuple)) else [keys])])
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(tip or text)
        bar.addAction(action)
        self.addAction(action)
        return action

    def _build(self) -> None:
        files = QToolBar("Canvas")
        self._act(files, "Open…", self.files.open_dialog, QKeySequence.StandardKey.Open, "Open a picture or a Canvas document")
        self._act(files, "Paste", self.files.paste, None, "Paste a picture from the clipboard")
        self._act(files, "Save…", self.files.save_dialog, QKeySequence.StandardKey.Save, "Save the document (picture, mask, history)")
        self._act(files, "Export PNG…", self.files.export_dialog, None, "Save the picture as a PNG")
        self._act(files, "To Image tab", self.files.send_to_image, None, "Use the picture as the Image tab's image-to-image start")
        self._act(files, "Upscale…", self.upscale_dialog, None, "Make the picture larger with an upscaler model (a new document)")
        files.addSeparator()
        undo = self.undo_stack.createUndoAction(self, "Undo")
        undo.setShortcuts([QKeySequence("Ctrl+Z")])
        redo = self.undo_stack.createRedoAction(self, "Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for a in (undo, redo):
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            files.addAction(a)
            self.addAction(a)
        files.addSeparator()
        self._act(files, "Fit", self.view.fit, "Ctrl+0", "Fit the picture in the view (Ctrl+0)")
        self._act(files, "100 %", self.view.actual_size, "Ctrl+1", "Actual pixels (Ctrl+1)")

        tools = QToolBar("Mask")
        group = QActionGroup(self)
        self.tool_actions: dict[str, QAction] = {}
        for key, text, keys in (("brush", "Brush", "B"), ("eraser", "Eraser", "E"), ("rect", "Rectangle", "R"),
                                ("lasso", "Lasso", "L")):
            action = self._act(tools, text, self._on_tool, keys, f"{text} ({keys})")
            action.setCheckable(True)
            action.setData(key)
            group.addAction(action)
            self.tool_actions[key] = action
        self.tool_actions["brush"].setChecked(True)
        self.size_box = QDoubleSpinBox()
        self.size_box.setRange(1, 1024)
        self.size_box.setDecimals(0)
        self.size_box.setValue(self.view.brush.size)
        self.size_box.setToolTip("Brush size in picture pixels ([ and ] change it)")
        self.size_box.valueChanged.connect(self._on_size)
        self.hardness_box = QDoubleSpinBox()
        self.hardness_box.setRange(0, 1)
        self.hardness_box.setSingleStep(0.1)
        self.hardness_box.setValue(self.view.brush.hardness)
        self.hardness_box.setToolTip("Brush hardness: 1 = hard edge")
        self.hardness_box.valueChanged.connect(self._on_hardness)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setMaximumWidth(90)
        self.opacity.setToolTip("Mask opacity on screen")
        self.opacity.valueChanged.connect(self._on_opacity)
        for label, widget in (("Size", self.size_box), ("Hardness", self.hardness_box), ("Mask", self.opacity)):
            tools.addWidget(QLabel(f" {label} "))
            tools.addWidget(widget)
        self._act(tools, "Invert", self.invert_mask, "Ctrl+I", "Invert the mask (Ctrl+I)")
        self._act(tools, "Clear", self.clear_mask, None, "Clear the mask")

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(files)
        lv.addWidget(tools)
        lv.addWidget(self.files.recovery)
        lv.addWidget(self.view, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(self.form.sizeHint().width() + 20)
        # ControlNet units may take the Canvas's own picture or mask as their control picture
        self.form.tools.set_sources({"Canvas picture": self.control_picture, "Canvas mask": self.control_mask})
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    # --- the brush -----------------------------------------------------------------------------------------
    @Slot()
    def _on_tool(self) -> None:
        for key, action in self.tool_actions.items():
            if action.isChecked():
                self.view.brush.tool = key

    def set_tool(self, key: str) -> None:
        self.tool_actions[key].setChecked(True)
        self.view.brush.tool = key

    @Slot(float)
    def _on_size(self, value: float) -> None:
        self.view.brush.size = value

    @Slot(float)
    def _on_hardness(self, value: float) -> None:
        self.view.brush.hardness = value

    @Slot(int)
    def _on_opacity(self, value: int) -> None:
        self.view.set_mask_opacity(value / 100)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override: [ ] also when the view has no focus
        if event.key() in (Qt.Key.Key_BracketLeft, Qt.Key.Key_BracketRight):
            self.view.brush.resize(-1 if event.key() == Qt.Key.Key_BracketLeft else 1)
            self.size_box.setValue(self.view.brush.size)
            return
        super().keyPressEvent(event)

    # --- mask operations ------------------------------------------------------------------------------------
    @Slot()
    def invert_mask(self) -> None:
        layer = MaskLayer(*self.doc.size)
        layer.image = self.doc.mask.image.copy()
        layer.invert()
        self.undo_stack.push(MaskWholeCommand(self.doc, layer.image, "Invert mask"))

    @Slot()
    def clear_mask(self) -> None:
        layer = MaskLayer(*self.doc.size)
        self.undo_stack.push(MaskWholeCommand(self.doc, layer.image, "Clear mask"))

    # --- the document ---------------------------------------------------------------------------------------------
    def set_document(self, doc: CanvasDocument) -> None:
        """Show ``doc`` (opened, recovered): candidates and undo history go, its settings come back."""
        self.discard_candidates()
        self.undo_stack.clear()
        self.doc.changed.disconnect(self.view.on_changed)
        self.doc.resized.disconnect(self.view.on_resized)
        self.doc = doc
        self.view.set_document(doc)
        if doc.params:
            self.form.set_params(doc.params)
        self.view.fit()

    def set_picture(self, image: QImage, mask: QImage | None = None, name: str = "picture") -> bool:
        """A new document from ``image`` (and its ``mask``); False for a picture larger than the Canvas opens."""
        if max(image.width(), image.height()) > MAX_SIDE:
            self._warn(f"'{name}' is {image.width()}×{image.height()}; the Canvas opens pictures up to {MAX_SIDE} "
                       "pixels a side.")
            return False
        doc = CanvasDocument(image)
        if mask is not None:
            doc.mask.set_grey(mask)
        self.set_document(doc)
        self._say(f"Opened {name} ({image.width()}×{image.height()}).")
        return True

    # --- StudioTab ---------------------------------------------------------------------------------------------
    def refresh_models(self) -> None:
        self.form.model_picker.refresh()

    def open_item(self, saved: SavedItem) -> bool:
        image = read_qimage(saved.path)
        if image.isNull():
            return False
        return self.set_picture(image, mask_from_params(saved.params, image.size()), Path(saved.path).name)

    def reuse_settings(self, saved: SavedItem) -> bool:
        """History → Reuse settings: a saved edit's prompt, model, seed and inpaint settings in the panel
        (the picture on the canvas stays; nothing starts)."""
        p = saved.params if isinstance(saved.params, dict) else {}
        renamed = {"num_inference_steps": "steps", "guidance_scale": "guidance", "scheduler": "sampler",
                   "inpaint_area": "area"}
        self.form.set_params({renamed.get(k, k): v for k, v in p.items()})
        return True

    def receive_image(self, path: str) -> bool:
        return self.files.open_image(path)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        mime = event.mimeData()
        if local_image_paths(mime) or any(u.toLocalFile().endswith(SUFFIX) for u in mime.urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        mime = event.mimeData()
        docs = [u.toLocalFile() for u in mime.urls() if u.toLocalFile().endswith(SUFFIX)]
        targets = docs or local_image_paths(mime)
        if targets:
            self.files.open_path(targets[0])
            event.acceptProposedAction()

    # --- jobs -------------------------------------------------------------------------------------------------------
    @Slot()
    def inpaint(self) -> JobHandle | None:
        if self.doc.mask.is_empty():
            self._warn("Paint the area to change first (brush, rectangle or lasso), or use Outpaint.")
            return None
        return self._submit(outpaint=False)

    @Slot()
    def outpaint(self) -> JobHandle | None:
        if not any(self.form.extends().values()):
            self._warn("Set how many pixels to add on at least one side.")
            return None
        return self._submit(outpaint=True)

    def control_picture(self) -> str:
        """The picture as a file, for a ControlNet unit that uses it as its control picture."""
        path = self.files.work_file("control")
        self.doc.image.save(str(path), "PNG")
        return str(path)

    def control_mask(self) -> str:
        """The mask (white = painted) as a file, for a ControlNet unit that uses it as its control picture."""
        path = self.files.work_file("control-mask")
        self.doc.mask.to_grey().save(str(path), "PNG")
        return str(path)

    @Slot()
    def upscale_dialog(self) -> None:
        model, _ = QFileDialog.getOpenFileName(self, "Upscale with which model?", "",
                                               "Upscalers (*.safetensors *.pth *.pt);;All files (*)")
        if model:
            self.upscale(model)

    def upscale(self, model: str, scale: float = 0.0, tile: int = 512) -> JobHandle | None:
        """Upscale the picture with an upscaler model; the result opens as a new document."""
        picture = self.files.work_file("upscale-in")
        self.doc.image.save(str(picture), "PNG")
        return self.runner.submit(UpscaleRequest(image=str(picture), model=model, scale=scale, tile=tile))

    def _submit(self, outpaint: bool) -> JobHandle | None:
        picture = self.files.work_file("in")
        self.doc.image.save(str(picture), "PNG")
        mask = ""
        if not self.doc.mask.is_empty():
            mask_path = self.files.work_file("mask")
            self.doc.mask.to_grey().save(str(mask_path), "PNG")
            mask = str(mask_path)
        handle = self.runner.submit(self.form.build_request(str(picture), mask, outpaint=outpaint))
        if handle is not None:
            self.discard_candidates()
            self.job_extends = tuple(self.form.extends().values()) if outpaint else (0, 0, 0, 0)
        return handle

    @property
    def job(self) -> JobHandle | None:
        """The running inpaint, None when idle (one at a time: the buttons wait while it runs)."""
        return self.runner.job

    @Slot(object)
    def submit(self, request) -> JobHandle | None:
        """Queue ``request`` (e.g. the failed one again, with permission to load a pickle)."""
        handle = self.runner.submit(request)
        if handle is not None:
            self.discard_candidates()
        return handle

    @Slot(int, int)
    def extend_to_aspect(self, aspect_w: int, aspect_h: int) -> None:
        """Fill the outpaint boxes so the picture grows to ``aspect_w`` : ``aspect_h`` (both sides evenly)."""
        self.form.set_extends(*extends_for_aspect(*self.doc.size, aspect_w, aspect_h))

    @Slot()
    def cancel(self) -> None:
        """Stop the running inpaint within one step; the picture stays as it was."""
        self.runner.cancel()

    @Slot(bool)
    def set_busy(self, busy: bool) -> None:
        self.form.set_running(busy)

    # --- job events: the runner connects each JobHandle signal to the slot of its name -----------------
    @Slot()
    def on_started(self) -> None:
        self._say("Starting…")

    @Slot(object)
    def on_progress(self, p: Progress) -> None:
        if p.total > 0:
            self.form.set_progress(p.step, p.total)

    @Slot(str)
    def on_status(self, message: str) -> None:
        self._say(message)

    @Slot(str)
    def on_notice(self, message: str) -> None:
        self._say(f"ℹ {message}")

    @Slot(object)
    def on_preview(self, preview: Preview) -> None:
        if preview.image is None or self.candidate_images:
            return
        left, right, top, bottom = self.job_extends
        w, h = self.doc.size
        self.view.show_candidate(pil_to_qimage(preview.image), QSize(w + left + right, h + top + bottom))

    @Slot(object)
    def on_output(self, saved: SavedItem) -> None:
        image = read_qimage(saved.path)
        if image.isNull():
            return
        if saved.kind == "upscale":  # a larger picture: a new document (the old one stays in the library)
            self.set_picture(image, None, Path(saved.path).name)
            return
        self.candidate_images.append(image.convertToFormat(QImage.Format.Format_RGB32))
        self.form.add_candidate(image, f"seed {saved.params.get('seed')}")
        if len(self.candidate_images) == 1:
            self.form.candidates.setCurrentRow(0)

    def _end(self, message: str, bar: str) -> None:
        self.form.finish_progress(bar)
        if not self.candidate_images:
            self.view.show_candidate(None)
        if message:
            self._say(message)

    @Slot(object)
    def on_finished(self, result) -> None:
        if isinstance(getattr(self.sender(), "request", None), UpscaleRequest):
            self._end("Upscaled: the larger picture is open as a new document.", "Done")
            return
        n = len(self.candidate_images)
        self._end(f"{n} candidate(s): click one to see it, then Apply or Discard.", "Done")

    @Slot(object)
    def on_cancelled(self, result) -> None:
        self._end("Cancelled; the picture is unchanged.", "Cancelled")

    @Slot(object)
    def on_failed(self, error: JobError) -> None:
        self._end("", "Failed")  # the runner shows the message and its action ("Download…", "Load anyway…")

    # --- candidates -----------------------------------------------------------------------------------------------
    @Slot(int)
    def show_candidate(self, row: int) -> None:
        if 0 <= row < len(self.candidate_images):
            self.view.show_candidate(self.candidate_images[row])
        else:
            self.view.show_candidate(None)

    @Slot()
    def apply_candidate(self) -> bool:
        """Commit the shown candidate as one undo step (an outpainted one also resizes the canvas)."""
        row = self.form.candidates.currentRow()
        if not 0 <= row < len(self.candidate_images):
            return False
        image = self.candidate_images[row]
        mask = self.doc.mask.image.copy() if image.size() == self.doc.image.size() else MaskLayer(
            image.width(), image.height()).image
        entry = {"time": time.time(), "size": [image.width(), image.height()], "params": self.form.params()}
        text = "Apply inpaint" if image.size() == self.doc.image.size() else "Apply outpaint"
        self.undo_stack.push(StateCommand(self.doc, image, mask, [*self.doc.history, entry], text))
        self.discard_candidates()
        self._say("Applied (Ctrl+Z undoes it).")
        return True

    @Slot()
    def discard_candidates(self) -> None:
        self.candidate_images = []
        self.form.clear_candidates()
        self.view.show_candidate(None)

    # --- messages ----------------------------------------------------------------------------------------------------------
    def _warn(self, message: str) -> None:
        self.status_line.warn(message)

    def _say(self, message: str) -> None:
        self.status_line.say(message)

    def status_text(self) -> str:
        return self.status_line.text()
