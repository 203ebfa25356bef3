"""The History panel: everything saved to the library, newest first, searchable by prompt or text,
model and seed (SQLite FTS5, :meth:`studio.library.store.Library.search`), filtered by kind and date.

Activating an item asks the main window to open it in the tab registered for its kind; "Reuse
settings" asks it to put the item's settings back into that tab's form (nothing is started).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import QTimer, QUrl, Qt, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..library.search import Query, search_fields

#: how long typing may pause before the search runs (ms)
SEARCH_DELAY_MS = 200
PAGE = 300
#: the "When" filter: label → how many days back (None: any time; 0: since midnight)
WHEN = (("Any time", None), ("Today", 0), ("Last 7 days", 7), ("Last 30 days", 30), ("Last year", 365))


def kind_label(kind: str) -> str:
    """'inpaint' → 'Inpaint': how History names a library kind."""
    return kind[:1].upper() + kind[1:]


class HistoryPanel(QWidget):
    item_activated = Signal(object)  # SavedItem: the main window opens it in its tab
    reuse_requested = Signal(object)  # SavedItem: the main window restores its settings into its tab

    def __init__(self, library, kinds: Sequence[str] = (), parent: QWidget | None = None) -> None:
        """``kinds``: the library kinds the filter offers (the registered tabs' kinds, in tab order)."""
        super().__init__(parent)
        self.library = library
        self.search = QLineEdit()
        self.search.setObjectName("historySearch")
        self.search.setPlaceholderText("Search prompts, text, models, seeds…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip('Every word must be found. "Quotes" for a phrase, word* for a prefix.')
        self._delay = QTimer(self)
        self._delay.setSingleShot(True)
        self._delay.setInterval(SEARCH_DELAY_MS)
        self._delay.timeout.connect(self.refresh)
        self.search.textChanged.connect(self._typed)
        self.search.returnPressed.connect(self.refresh)
        self.kind = QComboBox()
        self.kind.setObjectName("historyKind")
        self.kind.addItem("All", "")
        for kind in dict.fromkeys(kinds):
            self.kind.addItem(kind_label(kind), kind)
        self.kind.currentIndexChanged.connect(self.refresh)
        self.when = QComboBox()
        self.when.setObjectName("historyWhen")
        for label, days in WHEN:
            self.when.addItem(label, days)
        self.when.currentIndexChanged.connect(self.refresh)
        self.list = QListWidget()
        self.list.setObjectName("historyList")
        self.list.itemActivated.connect(self._activated)
        self.list.currentRowChanged.connect(self._selection_changed)
        self.empty = QLabel("")
        self.empty.setObjectName("historyEmpty")
        self.empty.setStyleSheet("color: #777;")
        self.empty.setWordWrap(True)
        self.reuse_button = QPushButton("Reuse settings")
        self.reuse_button.setObjectName("historyReuse")
        self.reuse_button.setToolTip("Put this result's settings back into its tab (nothing starts)")
        self.reuse_button.setEnabled(False)
        self.reuse_button.clicked.connect(self.reuse_selected)
        self.open_button = QPushButton("Open")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.open_selected)
        open_folder = QPushButton("Open folder")
        open_folder.clicked.connect(self.open_folder)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        filters = QHBoxLayout()
        filters.addWidget(self.kind, 1)
        filters.addWidget(self.when, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.reuse_button)
        bottom.addWidget(self.open_button)
        bottom.addStretch(1)
        bottom.addWidget(open_folder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addLayout(filters)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty)
        layout.addLayout(bottom)
        self._items: list = []
        self.refresh()

    @Slot(str)
    def _typed(self, _text: str) -> None:
        self._delay.start()

    def query(self) -> Query:
        days = self.when.currentData()
        since = None
        if days is not None:
            midnight = time.mktime(time.localtime()[:3] + (0, 0, 0, 0, 0, -1))
            since = midnight - days * 86400
        return Query(text=self.search.text(), kind=self.kind.currentData() or "", since=since, limit=PAGE)

    @Slot()
    def refresh(self) -> None:
        self._delay.stop()
        self.list.clear()
        query = self.query()
        try:
            self._items = self.library.search(query)
        except Exception as exc:  # an unreadable index must not break the window
            self._items = []
            self.empty.setText(f"The history cannot be read: {exc}")
            self.empty.show()
            return
        for saved in self._items:
            when = time.strftime("%d %b %H:%M", time.localtime(saved.created))
            prompt, _, model, seed = search_fields(saved.params)
            text = saved.params.get("reply") if saved.kind == "text" and not prompt else prompt
            text = " ".join(str(text or "").split())[:70]
            item = QListWidgetItem(f"{when} · {kind_label(saved.kind)} · {text}")
            tip = [str(saved.path)]
            if model:
                tip.append(f"Model: {model}")
            if seed is not None:
                tip.append(f"Seed: {seed}")
            if not saved.path.exists():
                item.setForeground(Qt.GlobalColor.gray)
                tip.append("The file is no longer there.")
            item.setToolTip("\n".join(tip))
            item.setData(Qt.ItemDataRole.UserRole, self.list.count())
            self.list.addItem(item)
        searching = bool(query.text.strip()) or bool(query.kind) or query.since is not None
        self.empty.setText("Nothing matches." if searching else "Nothing saved yet: results appear here.")
        self.empty.setVisible(not self._items)
        self._selection_changed(self.list.currentRow())

    def count(self) -> int:
        return self.list.count()

    def items(self) -> list:
        """The SavedItems listed, top to bottom."""
        return list(self._items)

    def set_kind(self, kind: str) -> bool:
        """Show only items of ``kind`` ("" = all); False when the filter does not offer it."""
        index = self.kind.findData(kind)
        if index >= 0:
            self.kind.setCurrentIndex(index)
        return index >= 0

    def set_when(self, label: str) -> bool:
        """The "When" filter by its label ("Any time", "Today", "Last 7 days" …)."""
        index = self.when.findText(label)
        if index >= 0:
            self.when.setCurrentIndex(index)
        return index >= 0

    def set_search(self, text: str) -> None:
        """Search for ``text`` now (as typing it and pausing does)."""
        self.search.setText(text)
        self.refresh()

    def activate(self, row: int) -> None:
        """Open the item in ``row`` as a double-click or Enter does."""
        self._activated(self.list.item(row))

    def selected(self):
        row = self.list.currentRow()
        return self._items[row] if 0 <= row < len(self._items) else None

    @Slot(int)
    def _selection_changed(self, row: int) -> None:
        ok = 0 <= row < len(self._items)
        self.reuse_button.setEnabled(ok)
        self.open_button.setEnabled(ok)

    @Slot()
    def reuse_selected(self) -> None:
        saved = self.selected()
        if saved is not None:
            self.reuse_requested.emit(saved)

    @Slot()
    def open_selected(self) -> None:
        saved = self.selected()
        if saved is not None:
            self.item_activated.emit(saved)

    @Slot(QListWidgetItem)
    def _activated(self, item: QListWidgetItem) -> None:
        self.item_activated.emit(self._items[item.data(Qt.ItemDataRole.UserRole)])

    @Slot()
    def open_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.library.root)))
