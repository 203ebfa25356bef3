"""The film export off the UI thread: the Qt-free :func:`studio.story.render.export` in a Python
thread, its events handed to the tab through queued signals (emitted from the thread, delivered on
the main thread to the tab's slots)."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from ...cancel import CancelToken
from ...errors import Cancelled, describe
from ...story.render import export


class FilmExport(QObject):
    """One export; ``event`` carries Progress/Status, then exactly one of ``done`` (the film's stats),
    ``cancelled`` or ``failed`` (a message for a person)."""

    event = Signal(object)
    done = Signal(object)
    cancelled = Signal()
    failed = Signal(str)

    def __init__(self, story, made, targets, index, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cancel_token = CancelToken()
        self._args = (story, made, targets, index)
        self._thread = threading.Thread(target=self._run, name="story-export", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        story, made, targets, index = self._args
        try:
            stats, _ = export(story, made, targets, index=index, cancel=self.cancel_token, on_event=self.event.emit)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # a message for the status line, never a traceback
            self.failed.emit(describe(exc))
        else:
            self.done.emit(stats)
