"""A further IP-Adapter reference of the Image tab (the first one is the section's own row): its adapter, its
picture and its scale (declared by :class:`~studio.requests.IPAdapterUnit`), and a button that takes it out."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLineEdit, QToolButton, QWidget

from ...requests import IPAdapterUnit
from ..fields import spin_box_for


class IPReferenceBox(QGroupBox):
    """One more reference picture; ``combo`` is the adapter chooser the section made (the catalog's IP-Adapters)."""

    remove_requested = Signal(object)

    def __init__(self, number: int, combo: QComboBox, parent: QWidget | None = None) -> None:
        super().__init__(f"Reference {number}", parent)
        self.model = combo
        self.image = QLineEdit()
        self.image.setPlaceholderText("the reference picture")
        browse = QToolButton()
        browse.setText("…")
        browse.clicked.connect(self._choose_image)
        self.scale = spin_box_for(IPAdapterUnit, "scale")
        remove = QToolButton()
        remove.setText("Remove")
        remove.setToolTip("Take this reference picture out")
        remove.clicked.connect(self._remove)
        self.remove_button = remove
        form = QFormLayout(self)
        form.addRow("Adapter", self.model)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.image, 1)
        row.addWidget(browse)
        form.addRow("Picture", row)
        scale_row = QHBoxLayout()
        scale_row.setContentsMargins(0, 0, 0, 0)
        scale_row.addWidget(self.scale, 1)
        scale_row.addWidget(remove)
        form.addRow("Scale", scale_row)

    @Slot()
    def _remove(self) -> None:
        self.remove_requested.emit(self)

    @Slot()
    def _choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the reference picture", "",
                                              "Pictures (*.png *.jpg *.jpeg *.webp *.bmp);;All files (*)")
        if path:
            self.image.setText(path)
