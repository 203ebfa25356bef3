"""Model downloads in the background: one QThread per download, never the model worker's thread,
so a download never waits for a generation and a generation never waits for a download.

Each :class:`_DownloadThread` runs :func:`studio.models.download.download` and emits private signals
from its thread; Qt queues them to :class:`DownloadManager` slots on the main thread, which keeps
the book-keeping and re-emits the public signals there. Progress is throttled to about 10 per second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..engines.base import CancelToken
from ..errors import Cancelled, describe
from ..models.catalog import ModelEntry

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.1  # at most ~10 progress signals a second per download

DownloadFn = Callable[..., object]  # download(repo_id, allow_patterns, *, progress, cancel, offline) -> path


class _DownloadThread(QThread):
    progressed = Signal(str, object, object)  # model id, done bytes, total bytes
    ended = Signal(str, str, str)  # model id, 'finished' | 'cancelled' | 'failed', path or message

    def __init__(self, model_id: str, repo_id: str, patterns, download_fn: DownloadFn, offline, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName(f"Download {repo_id}")
        self.model_id = model_id
        self.repo_id = repo_id
        self.patterns = patterns
        self.cancel_token = CancelToken()
        self._download = download_fn
        self._offline = offline
        self._last = 0.0

    def _on_progress(self, done: int, total: int, _filename: str) -> None:  # download thread
        now = time.monotonic()
        if now - self._last >= PROGRESS_INTERVAL_S or (total and done >= total):
            self._last = now
            self.progressed.emit(self.model_id, int(done), int(total))

    def run(self) -> None:  # noqa: D401 - QThread entry point
        try:
            path = self._download(
                self.repo_id,
                self.patterns,
                progress=self._on_progress,
                cancel=self.cancel_token,
                offline=self._offline() if callable(self._offline) else self._offline,
            )
        except Cancelled:
            self.ended.emit(self.model_id, "cancelled", "")
        except Exception as exc:  # a failed download must reach the UI as a message, not kill anything
            log.warning("download of %s failed: %s", self.repo_id, exc)
            self.ended.emit(self.model_id, "failed", describe(exc))
        else:
            self.ended.emit(self.model_id, "finished", str(path))


class DownloadManager(QObject):
    """Starts, tracks and cancels model downloads. All public signals arrive on the main thread.

    ``download_fn`` defaults to :func:`studio.models.download.download`; ``offline`` is a bool or a
    callable returning one (e.g. the Settings switch), None = follow ``HF_HUB_OFFLINE``.
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
        self._threads: dict[str, _DownloadThread] = {}
        self._progress: dict[str, tuple[int, int]] = {}

    # --- public API (main thread) ---
    def start(self, entry: ModelEntry) -> bool:
        """Download a hub entry in the background; False when it is not a hub model or is already running."""
        if entry.source != "hub" or not entry.repo_id or entry.id in self._threads:
            return False
        patterns = list(entry.allow_patterns) or None
        thread = _DownloadThread(entry.id, entry.repo_id, patterns, self._download_fn, self._offline, parent=self)
        thread.progressed.connect(self._on_progress)
        thread.ended.connect(self._on_ended)
        self._threads[entry.id] = thread
        self._progress[entry.id] = (0, entry.size_bytes)
        thread.start()
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

    def cancel(self, model_id: str) -> None:
        """Ask a running download to stop; ``cancelled`` follows once it has."""
        thread = self._threads.get(model_id)
        if thread is not None:
            thread.cancel_token.cancel()

    def cancel_all(self) -> None:
        for model_id in list(self._threads):
            self.cancel(model_id)

    def is_active(self, model_id: str) -> bool:
        return model_id in self._threads

    def active(self) -> list[str]:
        return list(self._threads)

    def progress_of(self, model_id: str) -> tuple[int, int] | None:
        """(done, total) bytes of a running download, or None."""
        return self._progress.get(model_id) if model_id in self._threads else None

    def shutdown(self, wait_ms: int = 5000) -> bool:
        """Cancel every download and wait for the threads; True when all stopped in time."""
        self.cancel_all()
        deadline = time.monotonic() + wait_ms / 1000
        ok = True
        for thread in list(self._threads.values()):
            ok = thread.wait(max(0, int((deadline - time.monotonic()) * 1000))) and ok
        return ok

    # --- thread slots (main thread) ---
    @Slot(str, object, object)
    def _on_progress(self, model_id: str, done: object, total: object) -> None:
        if model_id not in self._threads:
            return
        self._progress[model_id] = (int(done), int(total))
        self.progress.emit(model_id, done, total)

    @Slot(str, str, str)
    def _on_ended(self, model_id: str, outcome: str, payload: str) -> None:
        thread = self._threads.pop(model_id, None)
        self._progress.pop(model_id, None)
        if thread is not None:
            thread.wait(2000)  # run() has returned or is about to
            thread.deleteLater()
        if outcome == "finished":
            self.finished.emit(model_id, payload)
            self.models_changed.emit()
        elif outcome == "cancelled":
            self.cancelled.emit(model_id)
        else:
            self.failed.emit(model_id, payload)
