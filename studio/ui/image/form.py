"""The Image tab's form: model, prompts and the column of parameters, turned into an ImageRequest.

:class:`ImageForm` owns every input widget. The prompts and the model picker are laid out by the
tab (top row); the rest is this widget: size with aspect presets at the model's native size, steps,
CFG, sampler, seed (random / fixed, ♻ reuse, the seed used), batch, image-to-image with strength,
the collapsible "Advanced" section (LoRAs, VAE, offload, attention slicing, VAE tiling) and the
"PNG info" drop zone. Picking a catalog model applies its recommended defaults. Filling the fields
back from a saved image or a PNG's metadata is :mod:`studio.ui.image.restore`.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...models.folders import ModelFolders
from ...models.resolve import is_pickle
from ...requests import SCHEDULERS, ImageRequest
from ...models import families
from .model_defaults import ModelDefaults, model_family
from .form_widgets import ASPECTS, CollapsibleSection, FolderFilesMenu, LoraList, aspect_of, preset_size
from .tools import ImageTools
from .widgets import DropFrame, InitImageBox, read_qimage
from ..fields import spin_box_for
from ..model_picker import ModelPicker
from ..tab_widgets import SeedField

MODEL_DEFAULT = "Model default"
OFFLOAD_CHOICES = (
    ("auto", "Auto (by free VRAM)"),
    ("none", "Off (all on the GPU)"),
    ("model", "Model CPU offload"),
    ("group", "Group offload"),
    ("sequential", "Sequential offload (least VRAM)"),
)
T5_CHOICES = (
    ("auto", "Auto"),
    ("device", "With the rest"),
    ("cpu", "On the CPU"),
    ("off", "Left out (SD 3.x)"),
)
QUANTIZE_CHOICES = (
    ("none", "None"),
    ("gguf", "GGUF file"),
    ("nf4", "NF4 (CUDA)"),
    ("fp8", "fp8"),
)
AUTO_ON_OFF = (("auto", "Auto"), ("on", "On"), ("off", "Off"))

def pickle_key(path: str) -> str:
    """A pickled file (.ckpt/.pt/.pth/.bin) as an absolute path (how permissions are remembered); '' for others."""
    path = (path or "").strip()
    if not path or not is_pickle(Path(path)):
        return ""
    return str(Path(path).expanduser().resolve())


class ImageForm(QWidget):
    """All inputs of an image generation. ``message(text)`` / ``warning(text)`` report what a restore,
    paste or drop did; ``init_changed(path)`` when the image-to-image input changes ("" = none);
    ``png_chosen(path)`` when a PNG is dropped on or opened in the "PNG info" box, to restore from."""

    message = Signal(str)
    warning = Signal(str)
    init_changed = Signal(str)
    png_chosen = Signal(str)

    def __init__(self, catalog, inputs_dir, parent: QWidget | None = None, *, servers=None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.base = 512  # the model's native side, for the aspect presets
        self.model_defaults = ModelDefaults(catalog)  # the picked model's recommended settings

        # laid out by the tab
        self.model_picker = ModelPicker("image", catalog, servers=servers)  # with ComfyUI servers' checkpoints
        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("imagePrompt")
        self.prompt.setPlaceholderText("Prompt: what to see (Ctrl+Enter generates)")
        self.prompt.setTabChangesFocus(True)
        self.negative_prompt = QPlainTextEdit()
        self.negative_prompt.setObjectName("negativePrompt")
        self.negative_prompt.setPlaceholderText("Negative prompt: what to avoid (optional)")
        self.negative_prompt.setTabChangesFocus(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.addWidget(self._build_basic())
        layout.addWidget(self._build_img2img(inputs_dir))
        self.tools = ImageTools(catalog)  # ControlNet, hires fix, IP-Adapter
        self.tools.message.connect(self.message)
        layout.addWidget(self.tools)
        layout.addWidget(self._build_advanced())
        layout.addWidget(self._build_png_info())
        layout.addStretch(1)

        self.model_picker.spec_changed.connect(self._on_model_changed)
        self._on_model_changed(self.model_picker.current_model_spec())

    # --- layout -----------------------------------------------------------------------------------
    def _build_basic(self) -> QGroupBox:
        box = QGroupBox("Generation")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.width_spin = spin_box_for(ImageRequest, "width")
        self.height_spin = spin_box_for(ImageRequest, "height")
        for size in (self.width_spin, self.height_spin):
            size.setSuffix(" px")
        self.swap_button = QToolButton()
        self.swap_button.setText("⇄")
        self.swap_button.setToolTip("Swap width and height")
        self.swap_button.clicked.connect(self.swap_size)
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_spin, 1)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_spin, 1)
        size_row.addWidget(self.swap_button)
        self.aspect = QComboBox()
        self.aspect.activated.connect(self._on_aspect_chosen)
        self.width_spin.valueChanged.connect(self._sync_aspect)
        self.height_spin.valueChanged.connect(self._sync_aspect)

        self.steps = spin_box_for(ImageRequest, "num_inference_steps")
        self.guidance = spin_box_for(ImageRequest, "guidance_scale")
        self.sampler = QComboBox()
        self.sampler.addItem(MODEL_DEFAULT, "")
        for name in SCHEDULERS:
            self.sampler.addItem(name, name)
        self.sampler.setToolTip("The sampler (scheduler). Model default uses the one the model ships with.")

        self.seed = SeedField(ImageRequest)
        self.seed.reused.connect(self._on_seed_reused)

        self.batch_count = spin_box_for(ImageRequest, "batch_count")
        self.batch_size = spin_box_for(ImageRequest, "batch_size")
        batch_row = QHBoxLayout()
        batch_row.addWidget(self.batch_count, 1)
        batch_row.addWidget(QLabel("× size"))
        batch_row.addWidget(self.batch_size, 1)

        form.addRow("Size", size_row)
        form.addRow("Aspect", self.aspect)
        form.addRow("Steps", self.steps)
        form.addRow("CFG scale", self.guidance)
        form.addRow("Sampler", self.sampler)
        form.addRow("Seed", self.seed)
        form.addRow("Batches", batch_row)
        self._fill_aspects()
        return box

    def _build_img2img(self, inputs_dir) -> QGroupBox:
        box = QGroupBox("Image to image")
        v = QVBoxLayout(box)
        self.init_image = InitImageBox(inputs_dir)
        self.init_image.changed.connect(self._on_init_changed)
        self.init_image.error.connect(self.warning)
        self.strength_slider = QSlider(Qt.Orientation.Horizontal)
        self.strength_slider.setRange(1, 100)
        self.strength = spin_box_for(ImageRequest, "strength")
        self.strength_slider.setValue(round(self.strength.value() * 100))
        self.strength_slider.setToolTip(self.strength.toolTip())
        self.strength_slider.valueChanged.connect(lambda v: self.strength.setValue(v / 100))
        self.strength.valueChanged.connect(lambda v: self.strength_slider.setValue(round(v * 100)))
        self.use_init_size = QToolButton()
        self.use_init_size.setText("Use its size")
        self.use_init_size.setToolTip("Set width and height to the picture's size (multiples of 8)")
        self.use_init_size.clicked.connect(self.use_init_image_size)
        row = QHBoxLayout()
        row.addWidget(QLabel("Strength"))
        row.addWidget(self.strength_slider, 1)
        row.addWidget(self.strength)
        row.addWidget(self.use_init_size)
        v.addWidget(self.init_image)
        v.addLayout(row)
        self._on_init_changed("")
        return box

    def _build_advanced(self) -> CollapsibleSection:
        content = QWidget()
        form = QFormLayout(content)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.model_folders = ModelFolders(self.catalog.folders_file)  # their LoRAs and VAEs, used in place
        self.loras = LoraList(self.model_folders)
        self.vae = QLineEdit()
        self.vae.setPlaceholderText("the model's own")
        self.vae.setToolTip("A VAE to use instead of the model's: a folder, a hub id or a .safetensors file")
        vae_browse = QToolButton()
        vae_browse.setText("…")
        vae_browse.setToolTip("Choose a VAE file; the arrow lists the VAEs of your model folders")
        vae_browse.clicked.connect(self._choose_vae)
        vae_browse.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.vae_menu = FolderFilesMenu(self.model_folders, "vae", "No VAEs in your model folders (Models → Add folder…)",
                                        vae_browse)
        self.vae_menu.chosen.connect(self.vae.setText)
        vae_browse.setMenu(self.vae_menu)
        vae_row = QHBoxLayout()
        vae_row.addWidget(self.vae, 1)
        vae_row.addWidget(vae_browse)
        self.offload = _choice_combo(
            OFFLOAD_CHOICES,
            "The memory plan: Auto picks the first that fits the free VRAM (the job says which and why); "
            "offloading keeps parts of the model in CPU memory: less GPU memory, slower",
        )
        self.quantize = _choice_combo(
            QUANTIZE_CHOICES,
            "Shrink an SD 3.x / FLUX transformer: GGUF files come quantized; NF4 needs bitsandbytes and a CUDA GPU; "
            "fp8 stores weights in 8 bits. (torchao is not available: no release fits torch 2.8 and diffusers.)",
        )
        self.attention_slicing = _choice_combo(AUTO_ON_OFF, "Compute attention in slices: less memory, a little slower")
        self.vae_tiling = _choice_combo(AUTO_ON_OFF, "Decode the image in tiles: less memory at large sizes")
        form.addRow("LoRAs", self.loras)
        form.addRow("VAE", vae_row)
        form.addRow("Memory plan", self.offload)
        form.addRow("Quantize", self.quantize)
        self.t5 = _choice_combo(T5_CHOICES, "Where the T5 text encoder of SD 3.x / FLUX runs: Auto lets the memory plan decide; on the CPU it saves "
            "~9.5 GB of VRAM; SD 3.x can leave it out (less memory, prompts followed a little less closely)")
        form.addRow("T5 encoder", self.t5)
        form.addRow("Attention slicing", self.attention_slicing)
        form.addRow("VAE tiling", self.vae_tiling)
        self.advanced = CollapsibleSection("Advanced", content, expanded=False)
        return self.advanced

    def _build_png_info(self) -> DropFrame:
        self.png_drop = DropFrame()
        self.png_drop.setToolTip("Restores prompt, negative prompt, steps, CFG, sampler, seed, size and model")
        label = QLabel("<b>PNG info</b> — drop a PNG here (Studio, AUTOMATIC1111, ComfyUI) to restore its settings")
        label.setWordWrap(True)
        button = QPushButton("Open PNG info…")
        button.clicked.connect(self._open_png_info)
        h = QHBoxLayout(self.png_drop)
        h.setContentsMargins(8, 6, 8, 6)
        h.addWidget(label, 1)
        h.addWidget(button)
        self.png_drop.file_dropped.connect(self.png_chosen)
        return self.png_drop

    # --- the request ------------------------------------------------------------------------------
    def pickle_paths(self) -> list[str]:
        """The pickled files (model, VAE) these settings would load, as :func:`pickle_key` s."""
        keys = (pickle_key(self.model_picker.current_model_spec()), pickle_key(self.vae.text()))
        return [k for k in keys if k]

    def build_request(self, confirmed_pickles: set[str] = frozenset()) -> ImageRequest:
        """The request these settings describe (``jobs.submit`` validates it). ``allow_pickle`` is
        set only when every pickled file involved is in ``confirmed_pickles`` (:func:`pickle_key` s)."""
        pickles = self.pickle_paths()
        return ImageRequest(
            prompt=self.prompt.toPlainText().strip(),
            negative_prompt=self.negative_prompt.toPlainText().strip(),
            model=self.model_picker.current_model_spec(),
            endpoint=self.model_picker.current_endpoint(),
            width=self.width_spin.value(),
            height=self.height_spin.value(),
            num_inference_steps=self.steps.value(),
            guidance_scale=round(self.guidance.value(), 2),
            scheduler=self.sampler.currentData() or "",
            seed=self.seed.value(),
            batch_count=self.batch_count.value(),
            batch_size=self.batch_size.value(),
            init_image=self.init_image.path(),
            strength=round(self.strength.value(), 3),
            loras=self.loras.specs(),
            vae=self.vae.text().strip(),
            allow_pickle=bool(pickles) and all(p in confirmed_pickles for p in pickles),
            offload=self.offload.currentData(),
            quantize=self.quantize.currentData(),
            t5=self.t5.currentData(),
            attention_slicing=self.attention_slicing.currentData(),
            vae_tiling=self.vae_tiling.currentData(),
            **self.tools.request_fields(),
        )

    # --- seeds ------------------------------------------------------------------------------------
    def set_seed_used(self, seed: int | None) -> None:
        """Show the seed of the image shown / just made, and arm ♻."""
        self.seed.show_used(seed)

    def reuse_seed(self, seed: int | None = None) -> None:
        """Put ``seed`` (default: the seed used for the image shown) into the seed box, fixed."""
        self.seed.reuse(seed)

    @Slot(object)
    def _on_seed_reused(self, seed: int) -> None:
        self.message.emit(f"Seed {seed} reused.")

    # --- PNG info ---------------------------------------------------------------------------------
    @Slot()
    def _open_png_info(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Restore settings from a PNG", "", "PNG images (*.png);;All files (*)")
        if path:
            self.png_chosen.emit(path)

    # --- image-to-image ---------------------------------------------------------------------------
    def set_init_image(self, path: str) -> bool:
        """What a drop or Open… calls: use the image file at ``path`` for image-to-image."""
        return self.init_image.set_path(path)

    @Slot()
    def paste_init_image(self) -> bool:
        """Ctrl+V: an image (or image file) from the clipboard becomes the image-to-image input."""
        return self.init_image.paste()

    @Slot(str)
    def _on_init_changed(self, path: str) -> None:
        on = bool(path)
        for widget in (self.strength, self.strength_slider, self.use_init_size):
            widget.setEnabled(on)
        if on:
            self.message.emit(f"Image-to-image from {Path(path).name}.")
        self.init_changed.emit(path)

    @Slot()
    def use_init_image_size(self) -> None:
        image = read_qimage(self.init_image.path()) if self.init_image.path() else QImage()
        if image.isNull():
            return
        w, h = image.width(), image.height()
        scale = min(4096 / max(w, h), max(1.0, 64 / min(w, h)))  # 64 … 4096 pixels a side, same aspect
        self.width_spin.setValue(max(64, int(w * scale) // 8 * 8))
        self.height_spin.setValue(max(64, int(h * scale) // 8 * 8))

    # --- model defaults and size presets ----------------------------------------------------------
    def _values(self) -> dict:
        return {
            "num_inference_steps": self.steps.value(),
            "guidance_scale": round(self.guidance.value(), 2),
            "width": self.width_spin.value(),
            "height": self.height_spin.value(),
        }

    @Slot(str)
    def _on_model_changed(self, spec: str) -> None:
        """The picked model's recommended settings (:class:`~studio.ui.image.model_defaults.ModelDefaults`)."""
        values = self.model_defaults.follow(spec, self._values())
        self.base = self.model_defaults.base
        self._fill_samplers(model_family(self.model_defaults.catalog, spec))
        self.steps.setValue(int(values["num_inference_steps"]))
        self.guidance.setValue(float(values["guidance_scale"]))
        self.width_spin.setValue(int(values["width"]))
        self.height_spin.setValue(int(values["height"]))
        self._fill_aspects()
        remote = self.model_picker.is_remote()  # a ComfyUI server's checkpoint: its memory is the server's
        for widget in (self.vae, self.offload, self.quantize, self.attention_slicing, self.vae_tiling):
            widget.setEnabled(not remote)

    def _fill_samplers(self, family: str) -> None:
        """Every sampler for SD 1/2/XL; for a flow-matching model (SD 3.x, FLUX) only those that fit it."""
        names = families.samplers_for(family, SCHEDULERS)
        current = self.sampler.currentData() or ""
        self.sampler.clear()
        self.sampler.addItem(MODEL_DEFAULT, "")
        for name in names:
            self.sampler.addItem(name, name)
        index = self.sampler.findData(current)
        self.sampler.setCurrentIndex(max(index, 0))

    def _fill_aspects(self) -> None:
        self.aspect.blockSignals(True)
        self.aspect.clear()
        self.aspect.addItem("Custom", "")
        for name, a, b in ASPECTS:
            w, h = preset_size(a, b, self.base)
            self.aspect.addItem(f"{name}  —  {w} × {h}", name)
        self.aspect.setToolTip(f"Aspect presets at this model's native size ({self.base}×{self.base})")
        self.aspect.blockSignals(False)
        self._sync_aspect()

    def choose_aspect(self, name: str) -> None:
        for n, a, b in ASPECTS:
            if n == name:
                w, h = preset_size(a, b, self.base)
                self.width_spin.setValue(w)
                self.height_spin.setValue(h)

    @Slot(int)
    def _on_aspect_chosen(self, index: int) -> None:
        self.choose_aspect(self.aspect.itemData(index))

    @Slot()
    def _sync_aspect(self) -> None:
        name = aspect_of(self.width_spin.value(), self.height_spin.value(), self.base)
        self.aspect.blockSignals(True)
        self.aspect.setCurrentIndex(max(0, self.aspect.findData(name)))
        self.aspect.blockSignals(False)

    @Slot()
    def swap_size(self) -> None:
        w, h = self.width_spin.value(), self.height_spin.value()
        self.width_spin.setValue(h)
        self.height_spin.setValue(w)

    @Slot()
    def _choose_vae(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "VAE", "", "VAE weights (*.safetensors *.ckpt *.pt *.pth *.bin);;All files (*)")
        if path:
            self.vae.setText(path)


def _choice_combo(choices, tip: str) -> QComboBox:
    box = QComboBox()
    for value, label in choices:
        box.addItem(label, value)
    box.setToolTip(tip)
    # the column stays as wide as the form's other rows: a long choice is shown in full in the open list
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(14)
    return box
