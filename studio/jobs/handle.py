"""One job as the UI sees it: a :class:`JobHandle` with that job's own signals, and :class:`JobError`.

``JobQueue.submit(request)`` returns the handle; a tab connects to its signals (as to a superqt
worker's) instead of filtering every queue signal by job id. All signals are emitted on the main
thread, in the order the worker produced the events, and always before the queue's global signal
for the same event. Exactly one of ``finished``, ``cancelled`` or ``failed`` ends a job.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from ..errors import NotDownloaded, OutOfMemory, UnsafeModelFile, describe, kind_of, user_error
from ..requests import advice_text

#: what the GUI adds to any out-of-memory advice: the settings outside the request that free memory
GUI_MEMORY_ADVICE = (
    "Models → Unload all models frees what other models hold, and Settings → Preferences → Device 'CPU' "
    "runs it in main memory."
)


@dataclass(frozen=True)
class JobError:
    """Why a job failed, in a form the UI can act on (no exception object crosses threads).

    ``kind``: 'invalid' | 'not_found' | 'not_downloaded' | 'wrong_kind' | 'unsafe_file' |
    'out_of_memory' | 'server' | 'runtime' | 'internal' (see :mod:`studio.errors`); ``message``: one line for a
    person; ``error_type``: the exception's class name; ``model``: what to download (not_downloaded);
    ``path``: the refused file (unsafe_file) and ``allowable``: whether ``allow_pickle=True`` loads it;
    ``modality``: the request's kind.
    """

    kind: str
    message: str
    error_type: str = ""
    model: str = ""
    path: str = ""
    modality: str = ""
    allowable: bool = False
    next_plan: str = ""  # out_of_memory: the leaner memory plan the advice names ('model', 'group' …), if any

    @classmethod
    def from_exception(cls, exc: BaseException, modality: str = "") -> JobError:
        exc = user_error(exc, modality)
        message = describe(exc, modality)
        if isinstance(exc, OutOfMemory):  # the fields to change, by the labels the tab shows them with
            advice = advice_text(exc.request_kind or modality, exc.changes, "label")
            message = " ".join(p for p in (message, advice, GUI_MEMORY_ADVICE) if p)
        return cls(
            kind=kind_of(exc),
            message=message,
            error_type=type(exc).__name__,
            model=exc.model_id if isinstance(exc, NotDownloaded) else "",
            path=exc.path if isinstance(exc, UnsafeModelFile) else "",
            modality=modality,
            allowable=exc.allowable if isinstance(exc, UnsafeModelFile) else False,
            next_plan=next((c.to for c in exc.changes if c.field == "offload"), "") if isinstance(exc, OutOfMemory) else "",
        )

    def __str__(self) -> str:
        return self.message


class JobHandle(QObject):
    """A submitted job: its id, its request, ``cancel()`` and its own signals."""

    started = Signal()
    progress = Signal(object)  # studio.events.Progress
    status = Signal(str)  # what is happening now
    notice = Signal(str)  # something worth telling (e.g. CPU fallback)
    token = Signal(object)  # studio.events.Token
    preview = Signal(object)  # studio.events.Preview
    voices = Signal(object)  # studio.events.VoiceList: what the loaded voice offers
    output = Signal(object)  # studio.events.SavedItem, already on disk
    finished = Signal(object)  # studio.events.JobResult
    cancelled = Signal(object)  # JobResult with what finished before the cancel
    failed = Signal(object)  # JobError

    def __init__(self, job_id: str, request, queue) -> None:
        super().__init__()
        self._id = job_id
        self._request = request
        self._queue = weakref.ref(queue)  # no cycle: the queue holds its handles

    @property
    def id(self) -> str:
        return self._id

    @property
    def request(self):
        return self._request

    @property
    def state(self) -> str:
        """'queued' | 'running' | 'finished' | 'cancelled' | 'failed' ('' once the queue forgot it)."""
        queue = self._queue()
        job = queue.job(self._id) if queue is not None else None
        return job.state if job is not None else ""

    def cancel(self) -> None:
        """Queued: cancelled at once. Running: asked to stop; ``cancelled`` follows when it did."""
        queue = self._queue()
        if queue is not None:
            queue.cancel(self._id)

    def __repr__(self) -> str:
        return f"<JobHandle {self._id} {self.state}>"
