"""Model downloads in the background: each one a :class:`~studio.jobs.background.Background` task (never
the model worker's thread), so a download never waits for a generation and a generation never waits for a
download.

Each task runs :func:`studio.models.download.download`; its signals reach :class:`DownloadManager`'s slots
on the main thread, which keeps the book-keeping and re-emits the public signals there. Progress is
throttled to about 10 per second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from ..errors import Cancelled, describe
from ..models.catalog import ModelEntry
from .background import Background, Task

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.1  # at most ~10 progress signals a second per download
MAX_PARALLEL = 8  # downloads at once; more wait for a free thread

DownloadFn = Callable[..., object]  # download(repo_id, allow_patterns, *, progress, cancel, offline) -> path


class _Throttle:
    """The download's progress callback (its thread): at most ~10 reports a second, and the last one."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.last = 0.0

    def __call__(self, done: int, total: int, _filename: str = "") -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_INTERVAL_S or (total and done >= total):
            self.last = now
            self.task.report((int(done), int(total)))


def _run_download(task: Task, download_fn: DownloadFn, repo_id: str, patterns, offline: bool | None) -> str:
    return str(download_fn(repo_id, patterns, progress=_Throttle(task), cancel=task.cancel_token, offline=offline))


class DownloadManager(QObject):
    """Starts, tracks and cancels model downloads. All public signals arrive on the main thread.

    ``download_fn`` defaults to :func:`studio.models.download.download`; ``offline`` is a bool or a
    callable returning one (the configuration's switch, asked as each download starts); None = the download
    function's default (the CLI's: ``HF_HUB_OFFLINE``). The GUI always passes it (``studio.app.compose``).
    """

    started = Signal(str)  # model id
    progress = Signal(str, object, object)  # model id, done bytes, total bytes (ints; may exceed 2**31)
    finished = Signal(str, str)  # model id, snapshot folder
    failed = Signal(str, str)  # model id, a message for a person
    cancelled = Signal(str)  # model id (the partial download is kept and resumes next time)
    models_changed = Signal()  # a download finished: pickers and lists should refresh

    def __init__(
        self,
        download_fn: DownloadFn | None = None,
        *,
        offline: bool | Callable[[], bool] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        if download_fn is None:
            from ..models.download import download as download_fn
        self._download_fn = download_fn
        self._offline = offline
        self._background = Background(self, threads=MAX_PARALLEL)
        self._tasks: dict[str, Task] = {}
        self._progress: dict[str, tuple[int, int]] = {}

    # --- public API (main thread) ---
    def start(self, entry: ModelEntry) -> bool:
        """Download a hub entry in the background; False when it is not a hub model or is already running."""
        if entry.source != "hub" or not entry.repo_id or entry.id in self._tasks:
            return False
        patterns = list(entry.allow_patterns) or None
        self._tasks[entry.id] = self._background.start(
            _run_download, self._download_fn, entry.repo_id, patterns, self.offline(), key=entry.id, with_task=True,
            returned=self._on_returned, errored=self._on_errored, progressed=self._on_progress,
        )
        self._progress[entry.id] = (0, entry.size_bytes)
        self.started.emit(entry.id)
        return True

    def start_repo(self, repo_id: str, allow_patterns=None) -> bool:
        """Download a hub id that is not in the catalog (model id = repo id)."""
        entry = ModelEntry(
            id=repo_id,
            name=repo_id,
            modality="",
            source="hub",
            repo_id=repo_id,
            allow_patterns=tuple(allow_patterns or ()),
        )
        return self.start(entry)

    def set_offline(self, offline: bool | Callable[[], bool] | None) -> None:
        """The offline switch: a bool, or a callable asked when each download starts (the configuration)."""
        self._offline = offline

    def offline(self) -> bool | None:
        """Whether downloads are off now (None: the download function's own default)."""
        return self._offline() if callable(self._offline) else self._offline

    def cancel(self, model_id: str) -> None:
        """Ask a running download to stop; ``cancelled`` follows once it has."""
        task = self._tasks.get(model_id)
        if task is not None:
            task.cancel()

    def cancel_all(self) -> None:
        for model_id in list(self._tasks):
            self.cancel(model_id)

    def is_active(self, model_id: str) -> bool:
        return model_id in self._tasks

    def active(self) -> list[str]:
        return list(self._tasks)

    def progress_of(self, model_id: str) -> tuple[int, int] | None:
        """(done, total) bytes of a running download, or None."""
        return self._progress.get(model_id) if model_id in self._tasks else None

    def shutdown(self, wait_ms: int = 5000) -> bool:
        """Cancel every download and wait for the threads; True when all stopped in time."""
        self.cancel_all()
        return self._background.wait(wait_ms)

    # --- the tasks' slots (main thread) ---
    @Slot(object)
    def _on_progress(self, value: object) -> None:
        model_id = self.sender().key
        if model_id not in self._tasks:
            return
        done, total = value
        self._progress[model_id] = (int(done), int(total))
        self.progress.emit(model_id, done, total)

    def _end(self) -> str:
        model_id = self.sender().key
        self._tasks.pop(model_id, None)
        self._progress.pop(model_id, None)
        return model_id

    @Slot(object)
    def _on_returned(self, path: object) -> None:
        model_id = self._end()
        self.finished.emit(model_id, str(path))
        self.models_changed.emit()

    @Slot(object)
    def _on_errored(self, exc: object) -> None:
        model_id = self._end()
        if isinstance(exc, Cancelled):
            self.cancelled.emit(model_id)
            return
        log.warning("download of %s failed: %s", model_id, exc)
        self.failed.emit(model_id, describe(exc))
