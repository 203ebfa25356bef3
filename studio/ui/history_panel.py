"""The History panel: everything saved to the library, newest first; open the file or its folder."""

from __future__ import annotations

import time

from PySide6.QtCore import QUrl, Qt, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

KINDS = (("All", ""), ("Text", "text"), ("Images", "image"), ("Speech", "speech"), ("Music", "music"))


class HistoryPanel(QWidget):
    item_activated = Signal(object)  # SavedItem: the main window opens it in its tab

    def __init__(self, library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.kind = QComboBox()
        for label, kind in KINDS:
            self.kind.addItem(label, kind)
        self.kind.currentIndexChanged.connect(self.refresh)
        self.list = QListWidget()
        self.list.setObjectName("historyList")
        self.list.itemActivated.connect(self._activated)
        open_folder = QPushButton("Open folder")
        open_folder.clicked.connect(self.open_folder)
        top = QHBoxLayout()
        top.addWidget(self.kind, 1)
        top.addWidget(open_folder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)
        self._items: list = []
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        self.list.clear()
        self._items = self.library.items(self.kind.currentData() or None, limit=300)
        for saved in self._items:
            when = time.strftime("%d %b %H:%M", time.localtime(saved.created))
            text = saved.params.get("prompt") or saved.params.get("text") or saved.params.get("reply") or ""
            text = " ".join(str(text).split())[:70]
            item = QListWidgetItem(f"{when} · {saved.kind} · {text}")
            item.setToolTip(str(saved.path))
            item.setData(Qt.ItemDataRole.UserRole, self.list.count())
            self.list.addItem(item)

    def count(self) -> int:
        return self.list.count()

    @Slot(QListWidgetItem)
    def _activated(self, item: QListWidgetItem) -> None:
        self.item_activated.emit(self._items[item.data(Qt.ItemDataRole.UserRole)])

    @Slot()
    def open_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.library.root)))
