"""The further IP-Adapter references of the Image tab (the first one is the section's own row): each with its
adapter, its picture and its scale (declared by :class:`~studio.requests.IPAdapterUnit`) and a button that takes
it out; the list of them with its "Add a reference picture" button."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

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


class IPReferenceList(QWidget):
    """The further references of the IP-Adapter section: their boxes and the "Add a reference picture" button.
    ``make_combo()`` makes an adapter chooser; ``value_of`` / ``set_value`` read and set one (the section's helpers)."""

    def __init__(self, make_combo, value_of, set_value, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._make_combo, self._value_of, self._set_value = make_combo, value_of, set_value
        self.boxes: list[IPReferenceBox] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.add_button = QPushButton("Add a reference picture")
        self.add_button.setToolTip("Prompt with several pictures, each with its own scale "
                                   "(the same adapter, or another one with the same image encoder)")
        self.add_button.clicked.connect(self.add)
        self._layout.addWidget(self.add_button)

    @Slot()
    def add(self) -> IPReferenceBox:
        box = IPReferenceBox(len(self.boxes) + 2, self._make_combo())
        box.remove_requested.connect(self.remove)
        self.boxes.append(box)
        self._layout.insertWidget(self._layout.count() - 1, box)
        return box

    @Slot(object)
    def remove(self, box: IPReferenceBox) -> None:
        if box in self.boxes:
            self.boxes.remove(box)
            self._layout.removeWidget(box)
            box.deleteLater()
            for i, ref in enumerate(self.boxes, 2):
                ref.setTitle(f"Reference {i}")

    def units(self, first: str) -> tuple[IPAdapterUnit, ...]:
        """The further references (an empty adapter means the first one's)."""
        return tuple(IPAdapterUnit(self._value_of(box.model) or first, box.image.text().strip(), round(box.scale.value(), 3))
                     for box in self.boxes)

    def restore(self, extra) -> None:
        """The boxes of normalised ``ip_extra`` parameters (a list of dicts); the present ones go."""
        while self.boxes:
            self.remove(self.boxes[0])
        for values in extra if isinstance(extra, list) else []:
            if isinstance(values, dict):
                box = self.add()
                self._set_value(box.model, str(values.get("model", "")))
                box.image.setText(str(values.get("image", "") or ""))
                if isinstance(values.get("scale"), (int, float)):
                    box.scale.setValue(values["scale"])
