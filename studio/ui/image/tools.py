"""The Image tab's power tools: ControlNet units, hires fix and IP-Adapter, as collapsible sections of the
settings column (fields from the request declarations: :class:`~studio.requests.ControlUnit` and
:class:`~studio.requests.ImageRequest`).

Each ControlNet unit has its model (the catalog's ControlNets, or a folder), its control picture, the
preprocessor, weight, start, end and the Canny thresholds; "Preview map" runs the preprocessor off the UI
thread and shows the map before generating, "Save map…" writes it. ``source`` lets the Canvas offer its
own picture or mask as the control picture (:meth:`ControlUnitBox.set_sources`).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...jobs.background import Background
from ...requests import CONTROL_MODES, ControlUnit, ImageRequest
from ..fields import spin_box_for
from .form_widgets import CollapsibleSection
from .ip_refs import IPReferenceList

MODE_LABELS = {
    "none": "None (already a map)",
    "canny": "Canny edges",
    "scribble": "Scribble",
    "lineart": "Line art",
    "tile": "Tile",
    "shuffle": "Shuffle",
    "depth": "Depth (Depth Anything)",
}
PREVIEW_SIDE = 160


def _catalog_choices(catalog, fmt: str) -> list[tuple[str, str]]:
    """The catalog's entries of this format, then what the person's model folders hold of it (in place)."""
    try:
        entries = catalog.entries("image-tools", include_cached=True)
    except Exception:
        return []
    out = [(e.name, e.id) for e in entries if e.format == fmt]
    role = {"controlnet": "controlnet"}.get(fmt)
    if role and getattr(catalog, "folders_file", None) is not None:
        try:
            from ...models.folders import ModelFolders

            # diffusers folders, and A1111's single .safetensors files (models/ControlNet); pickles are not offered
            out += [(f"{m.name} (your folder)", m.path) for m in ModelFolders(catalog.folders_file).files(role)
                    if Path(m.path).is_dir() or m.path.lower().endswith(".safetensors")]
        except Exception:  # an unreadable scan must not keep the form from opening
            pass
    return out


def _model_combo(catalog, fmt: str, placeholder: str) -> QComboBox:
    combo = QComboBox()
    _compact(combo)
    combo.setEditable(True)
    combo.lineEdit().setPlaceholderText(placeholder)
    combo.addItem("", "")
    for name, model_id in _catalog_choices(catalog, fmt):
        combo.addItem(name, model_id)
    combo.setCurrentIndex(0)
    return combo


def _compact(combo: QComboBox) -> QComboBox:
    """A combo box that fits the settings column whatever its longest entry (it elides instead)."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(12)
    return combo


def _combo_value(combo: QComboBox) -> str:
    text = combo.currentText().strip()
    index = combo.findText(text)
    return str(combo.itemData(index) or text) if index >= 0 else text


def _set_combo_value(combo: QComboBox, value: str) -> None:
    index = combo.findData(value)
    if index < 0:
        index = next((i for i in range(combo.count()) if Path(str(combo.itemData(i) or "")).name == Path(value).name
                      and value), -1)
    if index >= 0:
        combo.setCurrentIndex(index)
    else:
        combo.setEditText(value)


def _path_row(edit: QLineEdit, button: QToolButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row


def make_control_map(path: str, mode: str, low: int, high: int, device: str = "auto"):
    """The control map of a picture file (what "Preview map" shows): runs off the UI thread."""
    from ...engines import control_maps, image_control
    from ...engines.base import Runtime

    image = control_maps.read_control_image(path)
    depth = None
    if mode == "depth":
        runtime = Runtime(device=device)
        model = runtime.resolve(image_control.DEPTH_MODEL, "")
        estimator = image_control.load_depth_estimator(model, runtime.choice())

        def depth(picture):
            return control_maps.depth_map(picture, estimator)

    return control_maps.preprocess(image, mode, low=low, high=high, depth=depth)


class ControlUnitBox(QGroupBox):
    """One ControlNet unit's inputs, with its map's preview."""

    remove_requested = Signal(object)
    message = Signal(str)

    def __init__(self, number: int, catalog, parent: QWidget | None = None) -> None:
        super().__init__(f"ControlNet unit {number}", parent)
        self.background = Background(self)
        self.map_image = None  # PIL image of the last preview
        self._sources: dict[str, object] = {}  # label → callable giving a picture path (the Canvas)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.model = _model_combo(catalog, "controlnet", "catalog ControlNet or a folder")
        self.model.setToolTip(ControlUnit.__dataclass_fields__["model"].metadata["studio.spec"]["help"])
        model_browse = QToolButton()
        model_browse.setText("…")
        model_browse.setToolTip("Choose a ControlNet folder (config.json + .safetensors)")
        model_browse.clicked.connect(self._choose_model)
        self.source = _compact(QComboBox())
        self.source.addItem("A picture file", "file")
        self.source.currentIndexChanged.connect(self._on_source_changed)
        self.image = QLineEdit()
        self.image.setPlaceholderText("the control picture")
        image_browse = QToolButton()
        image_browse.setText("…")
        image_browse.setToolTip("Choose the control picture")
        image_browse.clicked.connect(self._choose_image)
        self.image_browse = image_browse
        self.mode = _compact(QComboBox())
        for mode in CONTROL_MODES:
            self.mode.addItem(MODE_LABELS[mode], mode)
        self.scale = spin_box_for(ControlUnit, "scale")
        self.start = spin_box_for(ControlUnit, "start")
        self.end = spin_box_for(ControlUnit, "end")
        self.low = spin_box_for(ControlUnit, "low")
        self.high = spin_box_for(ControlUnit, "high")
        when = QHBoxLayout()
        when.addWidget(self.start)
        when.addWidget(QLabel("to"))
        when.addWidget(self.end)
        thresholds = QHBoxLayout()
        thresholds.addWidget(self.low)
        thresholds.addWidget(self.high)
        self.preview = QLabel("no map yet")
        self.preview.setObjectName("controlMapPreview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(PREVIEW_SIDE, 90)
        self.preview_button = QPushButton("Preview map")
        self.preview_button.setToolTip("Run the preprocessor now and show the control map")
        self.preview_button.clicked.connect(self.make_preview)
        self.save_button = QPushButton("Save map…")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._save_map)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._on_remove)
        buttons = QHBoxLayout()
        buttons.addWidget(self.preview_button)
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        buttons.addWidget(remove)
        form.addRow("Model", _path_row(self.model, model_browse))
        form.addRow("Control picture", self.source)
        form.addRow("", _path_row(self.image, image_browse))
        form.addRow("Preprocessor", self.mode)
        form.addRow("Weight", self.scale)
        form.addRow("Start / end", when)
        form.addRow("Canny low / high", thresholds)
        form.addRow(self.preview)
        form.addRow(buttons)
        self.mode.currentIndexChanged.connect(self._on_mode_changed)
        self._on_mode_changed()

    # --- values -----------------------------------------------------------------------------------
    def image_path(self) -> str:
        source = self.source.currentData()
        if source != "file" and source in self._sources:
            return str(self._sources[source]() or "")
        return self.image.text().strip()

    def unit(self) -> ControlUnit:
        return ControlUnit(
            model=_combo_value(self.model),
            image=self.image_path(),
            mode=self.mode.currentData(),
            scale=round(self.scale.value(), 3),
            start=round(self.start.value(), 3),
            end=round(self.end.value(), 3),
            low=self.low.value(),
            high=self.high.value(),
        )

    def set_unit(self, values: dict) -> None:
        _set_combo_value(self.model, str(values.get("model", "")))
        if values.get("image"):
            self.source.setCurrentIndex(0)
            self.image.setText(str(values["image"]))
        self.mode.setCurrentIndex(max(0, self.mode.findData(values.get("mode", "none"))))
        for key, spin in (("scale", self.scale), ("start", self.start), ("end", self.end), ("low", self.low),
                          ("high", self.high)):
            if isinstance(values.get(key), (int, float)):
                spin.setValue(values[key])

    def set_sources(self, sources: dict[str, object]) -> None:
        """Other control pictures to offer (label → a callable that writes the picture and returns its path)."""
        self._sources = dict(sources)
        for label in sources:
            if self.source.findData(label) < 0:
                self.source.addItem(label, label)

    # --- preview ------------------------------------------------------------------------------------
    @Slot()
    def make_preview(self) -> None:
        path = self.image_path()
        if not path:
            self.message.emit("Choose a control picture first.")
            return
        self.preview.setText("making the map…")
        self.preview_button.setEnabled(False)
        self.background.start(make_control_map, path, self.mode.currentData(), self.low.value(), self.high.value(),
                              key=path, returned=self._on_map, errored=self._on_map_failed)

    @Slot(object)
    def _on_map(self, image) -> None:
        self.preview_button.setEnabled(True)
        self.map_image = image
        data = image.convert("RGB").tobytes()
        qimage = QImage(data, image.width, image.height, image.width * 3, QImage.Format.Format_RGB888).copy()
        pixmap = QPixmap.fromImage(qimage).scaled(PREVIEW_SIDE, PREVIEW_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                                                  Qt.TransformationMode.SmoothTransformation)
        self.preview.setPixmap(pixmap)
        self.save_button.setEnabled(True)
        self.message.emit(f"{self.title()}: {MODE_LABELS[self.mode.currentData()]} map, {image.width}×{image.height}.")

    @Slot(object)
    def _on_map_failed(self, error) -> None:
        self.preview_button.setEnabled(True)
        self.preview.setText("no map")
        self.message.emit(f"{self.title()}: {error}")

    @Slot()
    def _save_map(self) -> None:
        if self.map_image is None:
            return
        target, _ = QFileDialog.getSaveFileName(self, "Save the control map", "control-map.png", "PNG (*.png)")
        if target:
            self.save_map(target)

    def save_map(self, target: str) -> bool:
        from ...library.atomic import atomic_write_bytes
        from ...library.targets import check_output

        try:
            out = check_output(target, {".png": "PNG"})
            import io

            buf = io.BytesIO()
            self.map_image.save(buf, format="PNG")
            atomic_write_bytes(out.path, buf.getvalue())
        except Exception as exc:  # a bad target: said, nothing lost
            self.message.emit(f"Could not save the map: {exc}")
            return False
        self.message.emit(f"Control map saved as {target}.")
        return True

    # --- slots --------------------------------------------------------------------------------------
    @Slot()
    def _on_mode_changed(self) -> None:
        canny = self.mode.currentData() == "canny"
        self.low.setEnabled(canny)
        self.high.setEnabled(canny)

    @Slot()
    def _on_source_changed(self) -> None:
        is_file = self.source.currentData() == "file"
        self.image.setEnabled(is_file)
        self.image_browse.setEnabled(is_file)

    @Slot()
    def _choose_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a ControlNet folder")
        if folder:
            self.model.setEditText(folder)

    @Slot()
    def _choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the control picture", "",
                                              "Pictures (*.png *.jpg *.jpeg *.webp *.bmp);;All files (*)")
        if path:
            self.image.setText(path)

    @Slot()
    def _on_remove(self) -> None:
        self.remove_requested.emit(self)


class ImageTools(QWidget):
    """ControlNet, hires fix and IP-Adapter sections; ``message(text)`` reports what they did."""

    message = Signal(str)

    def __init__(self, catalog, parent: QWidget | None = None, *, hires: bool = True, ip_adapter: bool = True) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.units: list[ControlUnitBox] = []
        self._sources: dict[str, object] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        control = QWidget()
        self.unit_layout = QVBoxLayout(control)
        self.unit_layout.setContentsMargins(0, 0, 0, 0)
        self.add_unit_button = QPushButton("Add a ControlNet unit")
        self.add_unit_button.setToolTip("Guide the composition with edges, a sketch, depth … (several units add up)")
        self.add_unit_button.clicked.connect(self.add_unit)
        self.unit_layout.addWidget(self.add_unit_button)
        self.controlnet_section = CollapsibleSection("ControlNet", control, expanded=False)
        layout.addWidget(self.controlnet_section)

        self.hires_section = None
        if hires:
            box = QWidget()
            form = QFormLayout(box)
            form.setContentsMargins(0, 0, 0, 0)
            self.hires_on = QCheckBox("Upscale, then refine with image-to-image")
            self.hires_scale = spin_box_for(ImageRequest, "hires_scale")
            self.hires_scale.setMinimum(1.05)
            self.hires_scale.setValue(2.0)
            self.hires_strength = spin_box_for(ImageRequest, "hires_strength")
            self.hires_steps = spin_box_for(ImageRequest, "hires_steps")
            self.hires_steps.setSpecialValueText("same as steps")
            self.upscaler = QLineEdit()
            self.upscaler.setPlaceholderText("Lanczos (no model)")
            self.upscaler.setToolTip("An upscaler model file (.safetensors / .pth: Real-ESRGAN, SwinIR …); empty = Lanczos")
            browse = QToolButton()
            browse.setText("…")
            browse.clicked.connect(self._choose_upscaler)
            form.addRow(self.hires_on)
            form.addRow("Upscale by", self.hires_scale)
            form.addRow("Denoising strength", self.hires_strength)
            form.addRow("Hires steps", self.hires_steps)
            form.addRow("Upscaler", _path_row(self.upscaler, browse))
            self.hires_on.toggled.connect(self._on_hires_toggled)
            self._on_hires_toggled(False)
            self.hires_section = CollapsibleSection("Hires fix", box, expanded=False)
            layout.addWidget(self.hires_section)

        self.ip_section = None
        if ip_adapter:
            box = QWidget()
            form = QFormLayout(box)
            form.setContentsMargins(0, 0, 0, 0)
            self.ip_model = _model_combo(catalog, "ip-adapter", "none")
            self.ip_model.setToolTip("An IP-Adapter from the catalog, or a .safetensors file with image_encoder/ beside it")
            self.ip_image = QLineEdit()
            self.ip_image.setPlaceholderText("the reference picture")
            browse = QToolButton()
            browse.setText("…")
            browse.clicked.connect(self._choose_ip_image)
            self.ip_scale = spin_box_for(ImageRequest, "ip_scale")
            form.addRow("Adapter", self.ip_model)
            form.addRow("Picture", _path_row(self.ip_image, browse))
            form.addRow("Scale", self.ip_scale)
            self.ip_more = IPReferenceList(partial(_model_combo, catalog, "ip-adapter", "the same adapter as above"),
                                           _combo_value, _set_combo_value)
            form.addRow(self.ip_more)
            self.ip_section = CollapsibleSection("IP-Adapter (prompt with a picture)", box, expanded=False)
            layout.addWidget(self.ip_section)

    # --- ControlNet units -----------------------------------------------------------------------------
    @Slot()
    def add_unit(self) -> ControlUnitBox:
        box = ControlUnitBox(len(self.units) + 1, self.catalog)
        box.remove_requested.connect(self.remove_unit)
        box.message.connect(self.message)
        box.set_sources(self._sources)
        self.units.append(box)
        self.unit_layout.insertWidget(self.unit_layout.count() - 1, box)
        self.controlnet_section.set_expanded(True)
        return box

    @Slot(object)
    def remove_unit(self, box: ControlUnitBox) -> None:
        if box in self.units:
            self.units.remove(box)
            self.unit_layout.removeWidget(box)
            box.deleteLater()
            for i, unit in enumerate(self.units, 1):
                unit.setTitle(f"ControlNet unit {i}")

    def set_sources(self, sources: dict[str, object]) -> None:
        """Control pictures besides files (the Canvas: its picture and its mask)."""
        self._sources = dict(sources)
        for box in self.units:
            box.set_sources(sources)

    def controlnets(self) -> tuple[ControlUnit, ...]:
        return tuple(box.unit() for box in self.units)

    # --- request fields -----------------------------------------------------------------------------------
    def request_fields(self) -> dict:
        """The tools' ImageRequest fields."""
        fields: dict = {"controlnets": self.controlnets()}
        if self.hires_section is not None and self.hires_on.isChecked():
            fields.update(hires_scale=round(self.hires_scale.value(), 2), hires_strength=round(self.hires_strength.value(), 3),
                          hires_steps=self.hires_steps.value(), upscaler=self.upscaler.text().strip())
        if self.ip_section is not None and _combo_value(self.ip_model):
            first = _combo_value(self.ip_model)
            fields.update(ip_adapter=first, ip_image=self.ip_image.text().strip(),
                          ip_scale=round(self.ip_scale.value(), 3), ip_extra=self.ip_more.units(first))
        return fields

    def restore(self, params: dict) -> list[str]:
        """Fill the sections from normalised parameters; returns the labels restored."""
        done = []
        units = params.get("controlnets")
        if isinstance(units, list):
            while self.units:
                self.remove_unit(self.units[0])
            for values in units:
                if isinstance(values, dict):
                    self.add_unit().set_unit(values)
            if units:
                done.append("ControlNet")
        if self.hires_section is not None and isinstance(params.get("hires_scale"), (int, float)):
            on = params["hires_scale"] > 1
            self.hires_on.setChecked(on)
            if on:
                self.hires_scale.setValue(params["hires_scale"])
                for key, spin in (("hires_strength", self.hires_strength), ("hires_steps", self.hires_steps)):
                    if isinstance(params.get(key), (int, float)):
                        spin.setValue(params[key])
                self.upscaler.setText(str(params.get("upscaler", "") or ""))
                self.hires_section.set_expanded(True)
                done.append("hires fix")
        if self.ip_section is not None and isinstance(params.get("ip_adapter"), str) and params["ip_adapter"]:
            _set_combo_value(self.ip_model, params["ip_adapter"])
            self.ip_image.setText(str(params.get("ip_image", "") or ""))
            if isinstance(params.get("ip_scale"), (int, float)):
                self.ip_scale.setValue(params["ip_scale"])
            self.ip_more.restore(params.get("ip_extra"))
            done.append("IP-Adapter")
        return done

    # --- slots -----------------------------------------------------------------------------------------
    @Slot(bool)
    def _on_hires_toggled(self, on: bool) -> None:
        for widget in (self.hires_scale, self.hires_strength, self.hires_steps, self.upscaler):
            widget.setEnabled(on)

    @Slot()
    def _choose_upscaler(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose an upscaler model", "",
                                              "Upscalers (*.safetensors *.pth *.pt);;All files (*)")
        if path:
            self.upscaler.setText(path)

    @Slot()
    def _choose_ip_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the reference picture", "",
                                              "Pictures (*.png *.jpg *.jpeg *.webp *.bmp);;All files (*)")
        if path:
            self.ip_image.setText(path)
