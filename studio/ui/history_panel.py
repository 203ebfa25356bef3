"""The History panel: everything saved to the library, newest first, with its kind; activating an
item asks the main window to open it in the tab registered for its kind."""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import QUrl, Qt, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget



def kind_label(kind: str) -> str:
    """'inpaint' → 'Inpaint': how History names a library kind."""
    return kind[:1].upper() + kind[1:]


class HistoryPanel(QWidget):
    item_activated = Signal(object)  # SavedItem: the main window opens it in its tab

    def __init__(self, library, kinds: Sequence[str] = (), parent: QWidget | None = None) -> None:
        """``kinds``: the library kinds the filter offers (the registered tabs' kinds, in tab order)."""
        super().__init__(parent)
        self.library = library
        self.kind = QComboBox()
        self.kind.setObjectName("historyKind")
        self.kind.addItem("All", "")
        for kind in dict.fromkeys(kinds):
            self.kind.addItem(kind_label(kind), kind)
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
            item = QListWidgetItem(f"{when} · {kind_label(saved.kind)} · {text}")
            item.setToolTip(str(saved.path))
            item.setData(Qt.ItemDataRole.UserRole, self.list.count())
            self.list.addItem(item)

    def count(self) -> int:
        return self.list.count()

    def set_kind(self, kind: str) -> bool:
        """Show only items of ``kind`` ("" = all); False when the filter does not offer it."""
        index = self.kind.findData(kind)
        if index >= 0:
            self.kind.setCurrentIndex(index)
        return index >= 0

    def activate(self, row: int) -> None:
        """Open the item in ``row`` as a double-click or Enter does."""
        self._activated(self.list.item(row))

    @Slot(QListWidgetItem)
    def _activated(self, item: QListWidgetItem) -> None:
        self.item_activated.emit(self._items[item.data(Qt.ItemDataRole.UserRole)])

    @Slot()
    def open_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.library.root)))
