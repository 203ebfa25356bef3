"""Preferences: device, precision, output folder, memory budget, offline mode, llama.cpp threads and GPU layers;
and the API server (start/stop ``studio serve`` over the window's job queue)."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from ..models.device import DEVICE_CHOICES, DTYPE_CHOICES
from ..requests import TextRequest
from .fields import spin_box_for

#: how the choices of studio.models.device read in the dialog (a choice without a label shows its name)
DEVICE_LABELS = {"auto": "Automatic (CUDA → MPS → CPU)", "cuda": "NVIDIA GPU (CUDA)", "mps": "Apple GPU (MPS)",
                 "cpu": "CPU"}
DTYPE_LABELS = {"auto": "Automatic (bf16/fp16 on GPU, fp32 on CPU)"}
DEVICES = tuple((DEVICE_LABELS.get(choice, choice), choice) for choice in DEVICE_CHOICES)
DTYPES = tuple((DTYPE_LABELS.get(choice, choice), choice) for choice in DTYPE_CHOICES)


class SettingsDialog(QDialog):
    def __init__(self, settings, parent: QWidget | None = None, *, serve=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.device = _combo(DEVICES, settings.device)
        self.dtype = _combo(DTYPES, settings.dtype)
        self.output = QLineEdit(str(settings.output_folder))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.output, 1)
        out_row.addWidget(browse)
        self.budget = QDoubleSpinBox()
        self.budget.setRange(0, 1024)
        self.budget.setSuffix(" GB")
        self.budget.setSpecialValueText("Automatic")
        self.budget.setValue(settings.memory_budget_gb)
        self.budget.setToolTip("Models kept loaded at once; the least recently used is unloaded past this")
        self.offline = QCheckBox("Never connect to the internet (models must already be on disk)")
        self.offline.setChecked(settings.offline)
        # ranges and tooltips from TextRequest's own declarations (the Text tab sends these values)
        self.text_threads = spin_box_for(TextRequest, "threads")
        self.text_threads.setSpecialValueText("Automatic")
        self.text_threads.setValue(settings.text_threads)
        self.text_gpu_layers = spin_box_for(TextRequest, "gpu_layers")
        self.text_gpu_layers.setSpecialValueText("All")
        self.text_gpu_layers.setValue(settings.text_gpu_layers)
        form = QFormLayout(self)
        form.addRow("Device", self.device)
        form.addRow("Precision", self.dtype)
        form.addRow("Output folder", out_row)
        form.addRow("Memory budget", self.budget)
        form.addRow("Offline", self.offline)
        form.addRow("Text threads (GGUF)", self.text_threads)
        form.addRow("Text GPU layers (GGUF)", self.text_gpu_layers)
        if serve is not None:  # the window's ServeController: `studio serve` over its own job queue
            from .serve_control import ServeControl

            self.serve = ServeControl(serve)
            form.addRow("API server", self.serve)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    @Slot()
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.output.text())
        if folder:
            self.output.setText(folder)

    def apply(self) -> None:
        self.settings.device = self.device.currentData()
        self.settings.dtype = self.dtype.currentData()
        self.settings.output_folder = self.output.text().strip()
        self.settings.memory_budget_gb = self.budget.value()
        self.settings.offline = self.offline.isChecked()
        self.settings.text_threads = self.text_threads.value()
        self.settings.text_gpu_layers = self.text_gpu_layers.value()

    def accept(self) -> None:
        self.apply()
        super().accept()


def _combo(options, current: str) -> QComboBox:
    box = QComboBox()
    for label, value in options:
        box.addItem(label, value)
    index = box.findData(current)
    box.setCurrentIndex(max(index, 0))
    return box
