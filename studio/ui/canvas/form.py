"""The Canvas's form (on the right, as every tab's): inpaint parameters, outpaint controls, Generate / Cancel
with progress, the status line, and the strip of result candidates with Apply / Discard. It only builds requests and shows state; the tab
(:class:`~studio.ui.canvas.tab.CanvasTab`) runs the jobs and edits the document."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...requests import SCHEDULERS, ImageRequest, InpaintRequest, field_spec
from ..fields import spin_box_for
from ..image.model_defaults import ModelDefaults
from ..model_picker import ModelPicker
from ..image.tools import ImageTools
from ..tab_widgets import SeedField, StatusLine

MODEL_DEFAULT = "Model default"
ASPECTS = ((1, 1), (4, 3), (3, 4), (3, 2), (2, 3), (16, 9), (9, 16))
THUMB = 96


def _spin(cls: type, name: str, value: float | None = None):
    """A spin box from the request field's declaration; ``value`` overrides the default shown."""
    box = spin_box_for(cls, name)
    if value is not None:
        box.setValue(value)
    return box


class InpaintForm(QWidget):
    generate_requested = Signal()
    outpaint_requested = Signal()
    aspect_chosen = Signal(int, int)  # outpaint to this aspect: the tab fills the extend boxes
    cancel_requested = Signal()
    candidate_clicked = Signal(int)  # -1: none (the original)
    apply_requested = Signal()
    discard_requested = Signal()

    def __init__(self, catalog, status_line: StatusLine, parent: QWidget | None = None, *, servers=None) -> None:
        super().__init__(parent)
        self.model_picker = ModelPicker("image", catalog, servers=servers)  # with ComfyUI servers' checkpoints
        self.model_defaults = ModelDefaults(catalog)  # SD-Turbo: 1 step, CFG 0, as in the Image tab
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("What to paint in the masked area (may be empty: remove what is there)")
        self.prompt.setMaximumHeight(72)
        self.negative_prompt = QPlainTextEdit()
        self.negative_prompt.setPlaceholderText("Negative prompt")
        self.negative_prompt.setMaximumHeight(44)
        self.strength = _spin(ImageRequest, "strength", 1.0)  # inpainting redraws the masked area in full
        self.steps = _spin(ImageRequest, "num_inference_steps")
        self.guidance = _spin(ImageRequest, "guidance_scale")
        self.sampler = QComboBox()
        self.sampler.addItem(MODEL_DEFAULT, "")
        for name in SCHEDULERS:
            self.sampler.addItem(name, name)
        self.seed = SeedField(ImageRequest)
        self.mask_blur = _spin(InpaintRequest, "mask_blur")
        self.area = QComboBox()
        for key in field_spec(InpaintRequest, "inpaint_area").choices:
            self.area.addItem({"masked": "Only masked", "whole": "Whole picture"}.get(key, key), key)
        self.area.setToolTip(field_spec(InpaintRequest, "inpaint_area").tooltip())
        self.padding = _spin(InpaintRequest, "padding")
        self.size = _spin(ImageRequest, "width")
        self.size.setToolTip("The resolution the model runs at (its native size is best)")
        self.size.setSingleStep(64)
        self.batch = _spin(ImageRequest, "batch_size", 2)
        self.batch.setToolTip("Candidates per run")

        form = QFormLayout()
        form.addRow("Model", self.model_picker)
        form.addRow(self.prompt)
        form.addRow(self.negative_prompt)
        for label, widget in (("Strength", self.strength), ("Steps", self.steps), ("Guidance", self.guidance),
                              ("Sampler", self.sampler), ("Seed", self.seed), ("Mask blur", self.mask_blur),
                              ("Area", self.area), ("Padding", self.padding), ("Resolution", self.size),
                              ("Candidates", self.batch)):
            form.addRow(label, widget)

        self.extend = {side: _spin(InpaintRequest, f"extend_{side}") for side in ("left", "right", "top", "bottom")}
        out_box = QGroupBox("Outpaint")
        out_form = QFormLayout(out_box)
        row1, row2 = QHBoxLayout(), QHBoxLayout()
        for row, sides in ((row1, ("left", "right")), (row2, ("top", "bottom"))):
            for side in sides:
                row.addWidget(QLabel(side.capitalize()))
                row.addWidget(self.extend[side])
        out_form.addRow(row1)
        out_form.addRow(row2)
        self.aspect = QComboBox()
        self.aspect.addItem("To aspect…", None)
        for w, h in ASPECTS:
            self.aspect.addItem(f"{w}:{h}", (w, h))
        self.aspect.setToolTip("Fill the sides so the picture gets this aspect ratio")
        self.aspect.activated.connect(self._on_aspect)
        out_form.addRow(self.aspect)
        self.outpaint_button = QPushButton("Extend and fill")
        self.outpaint_button.clicked.connect(self.outpaint_requested)
        out_form.addRow(self.outpaint_button)

        self.generate_button = QPushButton("Inpaint")
        self.generate_button.setObjectName("inpaintButton")
        self.generate_button.setMinimumHeight(40)
        self.generate_button.clicked.connect(self.generate_requested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Idle")
        self.status_line = status_line

        self.candidates = QListWidget()
        self.candidates.setViewMode(QListWidget.ViewMode.IconMode)
        self.candidates.setFlow(QListWidget.Flow.LeftToRight)
        self.candidates.setWrapping(False)
        self.candidates.setIconSize(QSize(THUMB, THUMB))
        self.candidates.setFixedHeight(THUMB + 36)
        self.candidates.currentRowChanged.connect(self.candidate_clicked)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Commit the shown candidate to the picture (one undo step)")
        self.apply_button.clicked.connect(self.apply_requested)
        self.discard_button = QPushButton("Discard")
        self.discard_button.setToolTip("Drop the candidates and keep the picture as it was")
        self.discard_button.clicked.connect(self.discard_requested)

        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 3)
        buttons.addWidget(self.cancel_button, 1)
        choose = QHBoxLayout()
        choose.addWidget(self.apply_button)
        choose.addWidget(self.discard_button)
        self.tools = ImageTools(catalog, hires=False)  # ControlNet (the picture or the mask as control) and IP-Adapter
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.tools)
        layout.addWidget(out_box)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_line)
        layout.addWidget(QLabel("Candidates"))
        layout.addWidget(self.candidates)
        layout.addLayout(choose)
        layout.addStretch(1)
        self.set_candidates_enabled(False)
        self.model_picker.spec_changed.connect(self._on_model_changed)
        self._on_model_changed(self.model_picker.current_model_spec())

    @Slot(str)
    def _on_model_changed(self, spec: str) -> None:
        """The picked model's recommended steps, guidance and size (SD-Turbo: 1 step, CFG 0)."""
        size = self.size.value()
        values = self.model_defaults.follow(spec, {"num_inference_steps": self.steps.value(),
                                                   "guidance_scale": self.guidance.value(),
                                                   "width": size, "height": size})
        self.steps.setValue(int(values["num_inference_steps"]))
        self.guidance.setValue(float(values["guidance_scale"]))
        self.size.setValue(int(values["width"]))

    @Slot(int)
    def _on_aspect(self, index: int) -> None:
        ratio = self.aspect.itemData(index)
        if ratio:
            self.aspect_chosen.emit(*ratio)
        self.aspect.setCurrentIndex(0)

    def set_extends(self, left: int, right: int, top: int, bottom: int) -> None:
        for side, value in zip(("left", "right", "top", "bottom"), (left, right, top, bottom)):
            self.extend[side].setValue(value)

    # --- requests ---------------------------------------------------------------------------------------
    def extends(self) -> dict[str, int]:
        return {f"extend_{side}": box.value() for side, box in self.extend.items()}

    def build_request(self, image: str, mask: str, *, outpaint: bool) -> InpaintRequest:
        base = ImageRequest(
            prompt=self.prompt.toPlainText().strip(),
            negative_prompt=self.negative_prompt.toPlainText().strip(),
            model=self.model_picker.current_model_spec(),
            endpoint=self.model_picker.current_endpoint(),
            width=self.size.value() // 8 * 8,
            height=self.size.value() // 8 * 8,
            num_inference_steps=self.steps.value(),
            guidance_scale=self.guidance.value(),
            scheduler=self.sampler.currentData() or "",
            seed=self.seed.value(),
            batch_size=self.batch.value(),
            strength=self.strength.value(),
            **self.tools.request_fields(),
        )
        return InpaintRequest(
            generation=base,
            image=image,
            mask=mask,
            mask_blur=self.mask_blur.value(),
            inpaint_area=self.area.currentData(),
            padding=self.padding.value(),
            **(self.extends() if outpaint else {}),
        )

    def params(self) -> dict:
        """The form's values, for the document file."""
        return {"prompt": self.prompt.toPlainText(), "negative_prompt": self.negative_prompt.toPlainText(),
                "strength": self.strength.value(), "steps": self.steps.value(), "guidance": self.guidance.value(),
                "sampler": self.sampler.currentData() or "", "seed": self.seed.value(),
                "mask_blur": self.mask_blur.value(), "area": self.area.currentData(), "padding": self.padding.value(),
                "size": self.size.value(), "batch": self.batch.value(), "model": self.model_picker.current_model_spec(),
                **self.extends()}

    def set_params(self, params: dict) -> None:
        """Restore the values saved with a document (unknown or bad values are skipped)."""
        def num(box, key):
            value = params.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                box.setValue(value)

        if isinstance(params.get("model"), str) and params["model"]:  # first: its defaults, then the saved values
            self.model_picker.set_model_spec(params["model"])
        if isinstance(params.get("prompt"), str):
            self.prompt.setPlainText(params["prompt"])
        if isinstance(params.get("negative_prompt"), str):
            self.negative_prompt.setPlainText(params["negative_prompt"])
        seed = params.get("seed")  # None (or -1, in documents saved before the seed field): random
        self.seed.setValue(seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else None)
        for box, key in ((self.strength, "strength"), (self.steps, "steps"), (self.guidance, "guidance"),
                         (self.mask_blur, "mask_blur"), (self.padding, "padding"),
                         (self.size, "size"), (self.batch, "batch")):
            num(box, key)
        for side, box in self.extend.items():
            num(box, f"extend_{side}")
        for combo, key in ((self.sampler, "sampler"), (self.area, "area")):
            index = combo.findData(params.get(key))
            if index >= 0:
                combo.setCurrentIndex(index)

    # --- state ------------------------------------------------------------------------------------------------
    def set_running(self, running: bool) -> None:
        self.generate_button.setEnabled(not running)
        self.outpaint_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self.progress.setRange(0, 0)
            self.progress.setFormat("Starting…")

    def set_progress(self, step: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(step)
        self.progress.setFormat(f"Step {step}/{total}")

    def finish_progress(self, text: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if text == "Done" else 0)
        self.progress.setFormat(text)

    def add_candidate(self, image: QImage, tooltip: str) -> None:
        thumb = image.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        item = QListWidgetItem(QIcon(QPixmap.fromImage(thumb)), f"#{self.candidates.count() + 1}")
        item.setToolTip(tooltip)
        self.candidates.addItem(item)
        self.set_candidates_enabled(True)

    def clear_candidates(self) -> None:
        self.candidates.blockSignals(True)
        self.candidates.clear()
        self.candidates.blockSignals(False)
        self.set_candidates_enabled(False)

    def set_candidates_enabled(self, enabled: bool) -> None:
        self.apply_button.setEnabled(enabled)
        self.discard_button.setEnabled(enabled)
