"""The Story tab's document: open, save, and the autosave with its recovery offer, as the Canvas does.

:class:`StoryFiles` owns the document's path, whether it has unsaved changes and the autosave timer;
it reads the story from the tab (``tab.current_story()``) and hands an opened one back
(``tab.set_story(story, path, dirty=…)``).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from ...errors import StudioError
from ...story import document

STORY_FILTER = "Studio story (*.studio-story);;Story JSON (*.json)"
AUTOSAVE_DELAY_MS = 1500


class StoryFiles(QObject):
    message = Signal(str)

    def __init__(self, tab) -> None:
        super().__init__(tab)
        self.tab = tab
        self.path: Path | None = None
        self.dirty = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(AUTOSAVE_DELAY_MS)
        self._timer.timeout.connect(self.autosave)
        self.recovery = QWidget()
        self.recovery_label = QLabel("")
        recover, discard = QPushButton("Recover"), QPushButton("Discard")
        recover.clicked.connect(self.recover)
        discard.clicked.connect(self.drop_recovery)
        row = QHBoxLayout(self.recovery)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.recovery_label, 1)
        row.addWidget(recover)
        row.addWidget(discard)
        self.recovery.hide()

    def changed(self) -> None:
        """The story changed: unsaved, autosaved shortly."""
        self.dirty = True
        self._timer.start()

    def opened(self, path: Path | None) -> None:
        self.path, self.dirty = path, False

    @Slot()
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.tab, "Open a story", "", STORY_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> bool:
        try:
            story = document.load(path)
        except StudioError as exc:
            self.message.emit(f"⚠ {exc}")
            return False
        self.tab.set_story(story, Path(path) if str(path).endswith(document.SUFFIX) else None)
        self.message.emit(f"Opened {Path(path).name}: {len(story.scenes)} scene(s).")
        return True

    @Slot()
    def save_dialog(self) -> None:
        story = self.tab.current_story()
        start = str(self.path or Path.home() / f"{story.title or 'story'}{document.SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self.tab, "Save the story", start, STORY_FILTER)
        if path:
            self.save_to(path if path.endswith((document.SUFFIX, ".json")) else path + document.SUFFIX)

    def save_to(self, path: str | Path) -> bool:
        try:
            document.save(self.tab.current_story(), path)
        except (StudioError, OSError) as exc:
            self.message.emit(f"⚠ The story could not be saved: {exc}")
            return False
        self.path, self.dirty = Path(path), False
        self.drop_autosave()
        self.message.emit(f"Saved {Path(path).name}.")
        return True

    @Slot()
    def autosave(self) -> bool:
        if not self.dirty:
            return False
        try:
            document.save(self.tab.current_story(), document.autosave_path())
        except (StudioError, OSError):
            return False
        return True

    def offer_recovery(self) -> None:
        path = document.autosave_path()
        if path.exists():
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
            self.recovery_label.setText(f"A story from {when} was not saved. Recover it?")
            self.recovery.show()

    @Slot()
    def recover(self) -> bool:
        self.recovery.hide()
        try:
            story = document.load(document.autosave_path())
        except StudioError as exc:
            self.message.emit(f"⚠ The autosaved story can't be read: {exc}")
            return False
        self.tab.set_story(story, None, dirty=True)
        self.message.emit("Recovered the autosaved story; save it to keep it.")
        return True

    @Slot()
    def drop_recovery(self) -> None:
        self.recovery.hide()
        self.drop_autosave()

    def drop_autosave(self) -> None:
        document.autosave_path().unlink(missing_ok=True)

    def on_quit(self) -> None:
        """A clean exit: keep the autosave only when there are unsaved changes."""
        if self.dirty:
            self.autosave()
        else:
            self.drop_autosave()
