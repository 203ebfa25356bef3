"""The scene list: one row per scene with its picture's thumbnail, narration, picture prompt and length.

Edits in the cells go back to the tab as ``scene_edited(row, field, value)``; the tab owns the story.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from ...story.document import MAX_SCENE_S, Story

COLUMNS = ("Picture", "Narration", "Picture prompt", "Length (s)")
THUMB = QSize(96, 54)


class SceneTable(QTableWidget):
    scene_edited = Signal(int, str, object)  # row, 'narration' | 'picture' | 'length', value

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setObjectName("storyScenes")
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setIconSize(THUMB)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setWordWrap(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        self.setColumnWidth(0, THUMB.width() + 12)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.verticalHeader().setDefaultSectionSize(THUMB.height() + 10)
        self._filling = False
        self.itemChanged.connect(self._on_item_changed)

    def show_story(self, story: Story, thumbnails: list[str | None], lengths: list[float | None]) -> None:
        """Rows for ``story``'s scenes; ``thumbnails[i]`` the picture file (None: not made yet);
        ``lengths[i]`` the narration's length when known."""
        self._filling = True
        current = self.currentRow()
        self.setRowCount(len(story.scenes))
        for row, scene in enumerate(story.scenes):
            thumb = QTableWidgetItem()
            thumb.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
            path = thumbnails[row] if row < len(thumbnails) else None
            if path and Path(path).is_file():
                thumb.setIcon(QIcon(QPixmap(str(path)).scaled(THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                                             Qt.TransformationMode.SmoothTransformation)))
                thumb.setToolTip(str(path))
            else:
                thumb.setText("missing")
            self.setItem(row, 0, thumb)
            self.setItem(row, 1, QTableWidgetItem(scene.narration))
            prompt = QTableWidgetItem(scene.picture if not scene.picture_file else f"(file) {Path(scene.picture_file).name}")
            if scene.picture_file:
                prompt.setFlags(prompt.flags() & ~Qt.ItemFlag.ItemIsEditable)
                prompt.setToolTip(scene.picture_file)
            self.setItem(row, 2, prompt)
            spoken = lengths[row] if row < len(lengths) else None
            length = QTableWidgetItem(f"{spoken:.1f} (voice)" if spoken else f"{scene.length or 4.0:g}")
            if spoken:
                length.setFlags(length.flags() & ~Qt.ItemFlag.ItemIsEditable)
                length.setToolTip("The scene lasts as long as its narration plus the pause.")
            self.setItem(row, 3, length)
        if 0 <= current < self.rowCount():
            self.selectRow(current)
        elif self.rowCount():
            self.selectRow(0)
        self._filling = False

    @Slot(QTableWidgetItem)
    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling:
            return
        row, col = item.row(), item.column()
        if col == 1:
            self.scene_edited.emit(row, "narration", item.text())
        elif col == 2:
            self.scene_edited.emit(row, "picture", item.text())
        elif col == 3:
            try:
                value = float(item.text().split()[0])
            except (ValueError, IndexError):
                value = -1.0
            if not 0 < value <= MAX_SCENE_S:
                value = None  # the tab says why and puts the old value back
            self.scene_edited.emit(row, "length", value)
