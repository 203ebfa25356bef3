"""The film export off the UI thread: the Qt-free :func:`studio.story.render.export` as one-shot work
through :class:`~studio.jobs.background.Background`; :class:`FilmExporter` is what the tab holds: one
export at a time, its progress and how it ended, in words for the status line."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from ...errors import Cancelled, describe
from ...jobs.background import Background
from ...story.render import export


def _export(task, story, made, targets, index):
    """On a pool thread: the film, cancellable through the task, its events reported to the UI thread."""
    stats, _ = export(story, made, targets, index=index, cancel=task.cancel_token, on_event=task.report)
    return stats


class FilmExporter(QObject):
    progress = Signal(int, int)  # frame, of frames
    message = Signal(str)  # what is happening, with the time left
    ended = Signal(str)  # how it ended (a ⚠ line when it failed)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.background = Background(self)
        self.task = None
        self.path = None  # the film being written

    def running(self) -> bool:
        return self.task is not None

    def start(self, story, made, targets, index) -> None:
        self.path = targets.film
        self.message.emit("Writing the film…")
        self.task = self.background.start(_export, story, made, targets, index, with_task=True,
                                          returned=self._on_returned, errored=self._on_errored,
                                          progressed=self._on_event)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.message.emit("Cancelling…")

    def wait(self, timeout_s: float) -> None:
        self.background.wait(int(timeout_s * 1000))

    @Slot(object)
    def _on_event(self, ev) -> None:
        if getattr(ev, "stage", "") == "export" and ev.total:
            self.progress.emit(ev.step, ev.total)
            left = f" · {ev.eta_s:.0f} s left" if ev.eta_s is not None else ""
            self.message.emit(f"Writing the film: frame {ev.step} of {ev.total}{left}")
        elif hasattr(ev, "message"):
            self.message.emit(ev.message)

    @Slot(object)
    def _on_returned(self, stats) -> None:
        self.task = None
        self.ended.emit(f"Exported {self.path.name} and {self.path.with_suffix('.srt').name}: "
                        f"{stats.seconds:.1f} s of film in {stats.wall_seconds:.1f} s.")

    @Slot(object)
    def _on_errored(self, exc) -> None:
        self.task = None
        if isinstance(exc, Cancelled):
            self.ended.emit("Export cancelled; no film was written.")
        else:
            self.ended.emit(f"⚠ The film could not be written: {describe(exc)}")
