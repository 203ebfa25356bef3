"""Making a story's assets through the job queue: a list of (role, scene, request) submitted one after
another, each finished result reported as ``made`` for the tab to record; one failure or a cancel
stops the rest."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from ...errors import StudioError

#: the JobHandle signals followed (to ``_on_<signal>``)
HANDLE_SIGNALS = ("status", "progress", "finished", "cancelled", "failed")
ROLE_WORDS = {"picture": "picture", "narration": "narration", "music": "music bed"}


def what(role: str, scene: int | None) -> str:
    return f"scene {scene + 1}'s {ROLE_WORDS[role]}" if scene is not None else f"the {ROLE_WORDS[role]}"


class AssetJobs(QObject):
    made = Signal(str, object, object, object)  # role, scene (None: the music), request, SavedItem
    status = Signal(str)
    progress = Signal(object)  # Progress of the running job
    done = Signal()  # every item was made
    stopped = Signal(str)  # cancelled, failed or refused: the message for the status line
    failed = Signal(object, object)  # JobError, request (for the failure actions)

    def __init__(self, jobs, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.handle = None
        self._items: list = []
        self._current: tuple | None = None

    @property
    def busy(self) -> bool:
        return self.handle is not None

    def start(self, items: list) -> None:
        """Make ``items`` in order; ``done`` at once when there is nothing to make."""
        self._items = list(items)
        self._next()

    def cancel(self) -> None:
        self._items = []
        if self.handle is not None:
            self.handle.cancel()

    def _next(self) -> None:
        if not self._items:
            self.done.emit()
            return
        self._current = self._items.pop(0)
        role, scene, request = self._current
        try:
            handle = self.jobs.submit(request)
        except StudioError as exc:
            self._items = []
            self.stopped.emit(f"⚠ {what(role, scene)}: {exc}")
            return
        for name in HANDLE_SIGNALS:
            getattr(handle, name).connect(getattr(self, f"_on_{name}"))
        self.handle = handle
        self.status.emit(f"Making {what(role, scene)}…")

    @Slot(str)
    def _on_status(self, message: str) -> None:
        role, scene, _ = self._current
        self.status.emit(f"{what(role, scene)[0].upper()}{what(role, scene)[1:]}: {message}")

    @Slot(object)
    def _on_progress(self, progress) -> None:
        self.progress.emit(progress)

    @Slot(object)
    def _on_finished(self, result) -> None:
        role, scene, request = self._current
        self.handle = None
        item = next((i for i in result.items if i.path), None)
        if item is None:
            self._items = []
            self.stopped.emit(f"⚠ Nothing was made for {what(role, scene)}.")
            return
        self.made.emit(role, scene, request, item)
        self._next()

    @Slot(object)
    def _on_cancelled(self, result) -> None:
        self.handle, self._items = None, []
        self.stopped.emit("Cancelled.")

    @Slot(object)
    def _on_failed(self, error) -> None:
        role, scene, request = self._current
        self.handle, self._items = None, []
        self.stopped.emit(f"⚠ {what(role, scene)}: {error.message}")
        self.failed.emit(error, request)
