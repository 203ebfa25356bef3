"""Widgets of the Image tab's settings column: the collapsible "Advanced" section, the LoRA list
(a file and a weight each) and the size presets (aspect ratios at the model's native size).

Qt only, no torch; the images themselves (view, drop zones, the init-image box) are in
:mod:`studio.ui.image.widgets`.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...requests import LoraSpec
from ..fields import spin_box_for

# --- size presets ---------------------------------------------------------------------------------

ASPECTS: tuple[tuple[str, int, int], ...] = (
    ("1:1", 1, 1),
    ("4:3", 4, 3),
    ("3:4", 3, 4),
    ("16:9", 16, 9),
    ("9:16", 9, 16),
    ("3:2", 3, 2),
    ("2:3", 2, 3),
)


def preset_size(a: int, b: int, base: int) -> tuple[int, int]:
    """Width and height of aspect ``a:b`` with about ``base²`` pixels (the model's native area).

    Rounded to multiples of 64 for 1024-class models (SDXL's training buckets, e.g. 16:9 → 1344×768)
    and of 32 below (512-class: 16:9 → 672×384); always multiples of 8.
    """
    grid = 64 if base >= 1024 else 32
    ratio = math.sqrt(a / b)
    width = max(grid, round(base * ratio / grid) * grid)
    height = max(grid, round(base / ratio / grid) * grid)
    return width, height


def aspect_of(width: int, height: int, base: int) -> str:
    """The preset name whose size at ``base`` is exactly ``width``×``height``, or ""."""
    for name, a, b in ASPECTS:
        if preset_size(a, b, base) == (width, height):
            return name
    return ""


# --- widgets ---------------------------------------------------------------------------------------


class CollapsibleSection(QWidget):
    """A header button with an arrow that shows or hides ``content``."""

    def __init__(self, title: str, content: QWidget, expanded: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.content = content
        self.header = QToolButton()
        self.header.setText(title)
        self.header.setCheckable(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setStyleSheet("QToolButton { border: none; font-weight: bold; }")
        self.header.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.header.toggled.connect(self.set_expanded)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.header)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(head)
        layout.addWidget(line)
        layout.addWidget(content)
        self.header.setChecked(expanded)
        self.set_expanded(expanded)

    @Slot(bool)
    def set_expanded(self, expanded: bool) -> None:
        self.header.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        if self.header.isChecked() != expanded:
            self.header.setChecked(expanded)
        self.content.setVisible(expanded)


class LoraList(QWidget):
    """LoRA files with a weight each (a small table) and Add…/Remove buttons."""

    changed = Signal()

    def __init__(self, folders=None, parent: QWidget | None = None) -> None:
        """``folders``: a :class:`~studio.models.folders.ModelFolders` whose LoRAs "Add…" offers."""
        super().__init__(parent)
        self.folders = folders
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["LoRA file", "Weight"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(72)
        self.table.setMaximumHeight(120)
        self.table.setSizeAdjustPolicy(QAbstractItemView.SizeAdjustPolicy.AdjustToContents)
        add = QToolButton()
        add.setText("Add…")
        add.setToolTip("Add a LoRA file; the arrow lists the LoRAs of your model folders")
        add.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        add.clicked.connect(self._add_dialog)
        self.folder_menu = FolderFilesMenu(folders, "lora", "No LoRAs in your model folders (Models → Add folder…)", add)
        self.folder_menu.chosen.connect(self.add_path)
        add.setMenu(self.folder_menu)
        self.add_button = add
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(add)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    def add(self, path: str, weight: float = 1.0) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        item = QTableWidgetItem(Path(path).name)
        item.setData(Qt.ItemDataRole.UserRole, str(path))
        item.setToolTip(str(path))
        self.table.setItem(row, 0, item)
        spin = spin_box_for(LoraSpec, "weight")
        spin.setValue(weight)
        spin.valueChanged.connect(self.changed)
        self.table.setCellWidget(row, 1, spin)
        self.changed.emit()

    @Slot(str)
    def add_path(self, path: str) -> None:
        self.add(path)

    @Slot()
    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        if not rows and self.table.rowCount():
            rows = [self.table.rowCount() - 1]
        for row in rows:
            self.table.removeRow(row)
        if rows:
            self.changed.emit()

    def clear(self) -> None:
        self.table.setRowCount(0)
        self.changed.emit()

    def specs(self) -> tuple[LoraSpec, ...]:
        out = []
        for row in range(self.table.rowCount()):
            path = self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)
            weight = self.table.cellWidget(row, 1).value()
            out.append(LoraSpec(path=path, weight=round(weight, 4)))
        return tuple(out)

    def set_specs(self, specs) -> None:
        self.table.setRowCount(0)
        for spec in specs:
            if isinstance(spec, LoraSpec):
                self.add(spec.path, spec.weight)
            elif isinstance(spec, dict) and spec.get("path"):
                try:
                    weight = float(spec.get("weight", 1.0))
                except (TypeError, ValueError):
                    weight = 1.0
                self.add(str(spec["path"]), weight)
        self.changed.emit()

    @Slot()
    def _add_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add LoRA", "", "LoRA (*.safetensors);;All files (*)")
        for path in paths:
            self.add(path)


class FolderFilesMenu(QMenu):
    """The files of one role ('lora', 'vae' …) found in the model folders, read when the menu opens;
    ``chosen(path)`` when one is picked. The files stay where they are."""

    chosen = Signal(str)

    def __init__(self, folders, role: str, empty: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folders = folders
        self.role = role
        self.empty = empty
        self.aboutToShow.connect(self.fill)
        self.triggered.connect(self._picked)

    @Slot()
    def fill(self) -> None:
        self.clear()
        found = self.folders.files(self.role) if self.folders is not None else []
        if not found:
            self.addAction(self.empty).setEnabled(False)
        for m in found[:200]:
            action = self.addAction(m.name)
            action.setData(m.path)
            action.setToolTip(m.path)

    @Slot(QAction)
    def _picked(self, action: QAction) -> None:
        if action.data():
            self.chosen.emit(str(action.data()))


__all__ = ["ASPECTS", "CollapsibleSection", "FolderFilesMenu", "LoraList", "aspect_of", "preset_size"]
