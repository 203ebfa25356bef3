"""The film export off the UI thread: the Qt-free :func:`studio.story.render.export` in a Python
thread (:class:`FilmExport`), its events handed over through queued signals (emitted from the thread,
delivered on the main thread); :class:`FilmExporter` is what the tab holds: one export at a time, its
progress and its end in words."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal, Slot

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


class FilmExporter(QObject):
    """The tab's film export: at most one :class:`FilmExport` at a time, its progress and its end in
    words for the status line."""

    progress = Signal(int, int)  # frame, of frames
    message = Signal(str)  # what is happening, with the time left
    ended = Signal(str)  # how it ended (a ⚠ line when it failed)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job: FilmExport | None = None
        self.path = None  # the film being written

    def running(self) -> bool:
        return self.job is not None

    def start(self, story, made, targets, index) -> None:
        self.path = targets.film
        job = self.job = FilmExport(story, made, targets, index, self)
        job.event.connect(self._on_event)
        job.done.connect(self._on_done)
        job.cancelled.connect(self._on_cancelled)
        job.failed.connect(self._on_failed)
        self.message.emit("Writing the film…")
        job.start()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.message.emit("Cancelling…")

    def wait(self, timeout: float) -> None:
        if self.job is not None:
            self.job.wait(timeout)

    @Slot(object)
    def _on_event(self, ev) -> None:
        if getattr(ev, "stage", "") == "export" and ev.total:
            self.progress.emit(ev.step, ev.total)
            left = f" · {ev.eta_s:.0f} s left" if ev.eta_s is not None else ""
            self.message.emit(f"Writing the film: frame {ev.step} of {ev.total}{left}")
        elif hasattr(ev, "message"):
            self.message.emit(ev.message)

    @Slot(object)
    def _on_done(self, stats) -> None:
        self.job = None
        self.ended.emit(f"Exported {self.path.name} and {self.path.with_suffix('.srt').name}: "
                        f"{stats.seconds:.1f} s of film in {stats.wall_seconds:.1f} s.")

    @Slot()
    def _on_cancelled(self) -> None:
        self.job = None
        self.ended.emit("Export cancelled; no film was written.")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.job = None
        self.ended.emit(f"⚠ The film could not be written: {message}")
