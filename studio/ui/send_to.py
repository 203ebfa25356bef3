"""The "Send to …" menu a tab shows: the registered tabs that accept text or an image.

It asks the :class:`~studio.ui.tab_api.TabHost` for the targets each time it opens, so it lists
exactly the tabs registered in :data:`studio.ui.tabs.TABS` that accept what is being sent.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QMenu, QWidget

from .tab_api import TabHost


class SendToMenu(QMenu):
    """``payload()`` gives what to send (text, or an image file's path); "" sends nothing."""

    def __init__(
        self,
        host: TabHost,
        what: str,
        payload: Callable[[], str],
        *,
        exclude: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.host = host
        self.what = what  # 'text' or 'image'
        self.payload = payload
        self.exclude = exclude  # the tab the menu belongs to
        self.aboutToShow.connect(self.rebuild)

    @Slot()
    def rebuild(self) -> None:
        """One entry per tab that accepts ``what``; a disabled line when none does."""
        self.clear()
        targets = self.host.send_targets(self.what, self.exclude)
        for key, title in targets:
            action = self.addAction(title)
            action.setData(key)
            action.triggered.connect(self._on_triggered)
        if not targets:
            self.addAction("No other tab takes this yet").setEnabled(False)

    def targets(self) -> list[str]:
        """The keys the menu offers (after :meth:`rebuild`)."""
        return [a.data() for a in self.actions() if a.data()]

    def send(self, target: str) -> bool:
        value = self.payload()
        if not value:
            return False
        if self.what == "image":
            return self.host.send_image(target, value)
        return self.host.send_text(target, value)

    @Slot()
    def _on_triggered(self) -> None:
        action = self.sender()
        if action is not None:
            self.send(action.data())
