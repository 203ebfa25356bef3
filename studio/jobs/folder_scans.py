"""Scanning model folders in the background (:mod:`studio.models.folders`): adding a folder or
rescanning them all reads headers of many files, so it runs on a QThread of its own; the
Models window and the main window (rescan at start) stay responsive. Signals arrive on the main thread.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..errors import describe
from ..models.folders import ModelFolders

log = logging.getLogger(__name__)


class _ScanThread(QThread):
    ended = Signal(str, bool, object)  # folder ('' = rescan all), ok?, list[FolderScan] or a message

    def __init__(self, folders: ModelFolders, folder: str, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("Model folder scan")
        self._folders = folders
        self.folder = folder

    def run(self) -> None:  # noqa: D401 - QThread entry point
        try:
            result = [self._folders.add(self.folder)] if self.folder else self._folders.rescan()
        except Exception as exc:  # an unreadable folder reaches the window as a message
            log.warning("scanning %s failed: %s", self.folder or "the model folders", exc)
            self.ended.emit(self.folder, False, describe(exc))
        else:
            self.ended.emit(self.folder, True, result)


class FolderScanner(QObject):
    """``add(folder)`` registers and scans one folder, ``rescan()`` reads them all again; one scan at a time."""

    finished = Signal(str, object)  # folder ('' = all), list[FolderScan]
    failed = Signal(str, str)  # folder, a message for a person

    def __init__(self, folders: ModelFolders | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folders = folders or ModelFolders()
        self._thread: _ScanThread | None = None

    def add(self, folder: str | Path) -> bool:
        return self._start(str(folder))

    def rescan(self) -> bool:
        return self._start("")

    def busy(self) -> bool:
        return self._thread is not None

    def wait(self, wait_ms: int = 30_000) -> bool:
        return self._thread is None or self._thread.wait(wait_ms)

    def _start(self, folder: str) -> bool:
        if self._thread is not None:
            return False
        self._thread = _ScanThread(self.folders, folder, parent=self)
        self._thread.ended.connect(self._on_ended)
        self._thread.start()
        return True

    @Slot(str, bool, object)
    def _on_ended(self, folder: str, ok: bool, payload: object) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.wait(2000)
            thread.deleteLater()
        if ok:
            self.finished.emit(folder, payload)
        else:
            self.failed.emit(folder, str(payload))
