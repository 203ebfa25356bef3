"""The next step after a failed job, offered next to its message: one button that fits the error's kind.

* ``not_downloaded`` → "Download…": emits ``download_requested(model id)`` (the main window opens
  the Models window and starts that download);
* ``unsafe_file`` that permission can load (``JobError.allowable``), for a request that can carry the
  permission and does not hold it yet (``request.needs_permission()``) → "Load anyway…": asks (a pickle
  can carry code), then emits ``retry_requested(request.with_pickle_allowed())``;
* anything else: no button (the message itself says what to change, e.g. the out-of-memory advice).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from ..jobs import JobError

DOWNLOAD, LOAD_ANYWAY = "download", "load_anyway"


def action_for(error: JobError, request) -> str:
    """'download' | 'load_anyway' | '' — the action that fits ``error`` for ``request``."""
    if error.kind == "not_downloaded" and error.model:
        return DOWNLOAD
    if error.kind == "unsafe_file" and error.allowable and request is not None and request.needs_permission():
        return LOAD_ANYWAY
    return ""


def confirm_pickle(parent: QWidget | None, path: str) -> bool:
    """Ask before loading a pickled file. STUDIO_NO_CONFIRM=1 answers No (tests, scripts)."""
    if os.environ.get("STUDIO_NO_CONFIRM"):
        return False
    name = Path(path).name or path
    answer = QMessageBox.warning(
        parent,
        "Load a pickled file?",
        f"<b>{name}</b> is a pickled checkpoint ({Path(path).suffix or 'pickle'}). Pickles can carry code, so "
        "load only files from people you trust.<br><br>Studio reads just the weights, without running pickled "
        "code, and keeps a converted .safetensors copy.<br><br>Load it?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


class FailureAction(QPushButton):
    """Hidden until :meth:`offer` finds an action for a failed job; click to carry it out."""

    download_requested = Signal(str)  # model id (catalog id or hub id)
    retry_requested = Signal(object)  # the request to submit again
    pickle_confirmed = Signal(str)  # the file the person agreed to load

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("failureAction")
        self.hide()
        self.error: JobError | None = None
        self.request = None
        self.action = ""
        self.clicked.connect(self.trigger)

    def offer(self, error: JobError, request) -> str:
        """Show the button that fits ``error`` (or stay hidden); the action's name or ''."""
        self.error, self.request, self.action = error, request, action_for(error, request)
        if self.action == DOWNLOAD:
            self.setText("Download…")
            self.setToolTip(f"Open Models and download {error.model}")
        elif self.action == LOAD_ANYWAY:
            self.setText("Load anyway…")
            self.setToolTip(f"Load {Path(error.path).name} after you confirm that you trust it")
        self.setVisible(bool(self.action))
        return self.action

    def clear(self) -> None:
        self.error, self.request, self.action = None, None, ""
        self.hide()

    @Slot()
    def trigger(self) -> None:
        error, request, action = self.error, self.request, self.action
        if error is None or not action:
            return
        if action == DOWNLOAD:
            self.clear()
            self.download_requested.emit(error.model)
        elif action == LOAD_ANYWAY and confirm_pickle(self.window(), error.path):
            self.clear()
            self.pickle_confirmed.emit(error.path)
            self.retry_requested.emit(request.with_pickle_allowed())
