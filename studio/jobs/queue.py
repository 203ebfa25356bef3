"""The job queue the UI uses: submit requests, cancel them, watch their state through signals.

States: ``queued → running → finished | cancelled | failed``, and ``queued → cancelled``; a job that
was running when Studio died comes back ``interrupted``. Failed and interrupted jobs can be retried.
``submit`` returns a :class:`~studio.jobs.handle.JobHandle` whose signals concern that job only (what
a tab listens to). The queue's own signals carry the job id first and cover every job (what the queue
panel and the status bar listen to); for each event the handle's signal comes first. All are emitted
on the main thread, in the order the worker produced the events. Finished jobs are kept in a bounded
history (oldest dropped first).

Jobs wait in the queue's own list and go to the worker one at a time, so the queue can be paused
(the running job finishes; nothing new starts) and queued jobs reordered. With a ``state_file``
the queue is written down (atomically) at every change and read back at start
(:mod:`studio.jobs.persist`): after a crash it starts paused with the job that was running marked
interrupted, so a job that crashes Studio cannot crash it again in a loop.

Engines are injected: ``JobQueue(library, runtime_factory, engine_factory=engine_for)``; tests pass
a scripted fake engine (``tests/fake_engine.py``).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot

from ..engines import engine_for
from ..engines.preflight import preflight
from ..engines.base import Runtime
from ..errors import StudioError
from ..events import JobResult, Notice, Preview, Progress, SavedItem, Status, Token, VoiceList
from ..requests import summary
from .handle import JobError, JobHandle
from .persist import INTERRUPTED, KEPT_STATES, QueueFile, encode_request
from .runtime import warm_up_libraries
from .worker import ModelWorker, WorkItem

QUEUED, RUNNING, FINISHED, CANCELLED, FAILED = "queued", "running", "finished", "cancelled", "failed"
TERMINAL = (FINISHED, CANCELLED, FAILED, INTERRUPTED)
RETRYABLE = (FAILED, INTERRUPTED, CANCELLED)

log = logging.getLogger(__name__)


@dataclass
class Job:
    id: str
    request: object
    state: str = QUEUED
    label: str = ""
    created: float = field(default_factory=time.time)
    started: float = 0.0
    ended: float = 0.0
    error: str = ""  # the failure's message, for a person
    failure: JobError | None = None
    progress: tuple[int, int] = (0, 0)
    status: str = ""
    result: JobResult = field(default_factory=JobResult)


class JobQueue(QObject):
    job_added = Signal(str)
    job_started = Signal(str)
    job_progress = Signal(str, object)  # Progress
    job_status = Signal(str, str)  # what is happening now
    job_notice = Signal(str, str)  # something worth telling (e.g. CPU fallback)
    job_token = Signal(str, object)  # Token
    job_preview = Signal(str, object)  # Preview
    job_output = Signal(str, object)  # SavedItem, already on disk
    job_finished = Signal(str, object)  # JobResult
    job_cancelled = Signal(str, object)  # JobResult with what finished before the cancel
    job_failed = Signal(str, object)  # JobError (str() gives the message for a person)
    job_changed = Signal(str)  # any state change (queue panel)
    job_removed = Signal(str)  # left the list (cleared, retried, dropped from the history)
    order_changed = Signal()  # queued jobs reordered (queue panel)
    paused_changed = Signal(bool)
    worker_message = Signal(str)  # a worker command failed
    _refused = Signal(str, str, object)  # a job its preflight refused: delivered after submit returned

    def __init__(
        self,
        library,
        runtime_factory: Callable[[], Runtime] = Runtime,
        *,
        engine_factory: Callable[[str], object] | None = engine_for,
        history: int = 200,
        state_file: str | Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        """``state_file``: where the queue is written down and read back from (None: kept in memory)."""
        super().__init__(parent)
        self.library = library
        self._history = history
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._items: dict[str, WorkItem] = {}
        self._handles: dict[str, JobHandle] = {}
        self._pending: list[str] = []  # queued job ids in the order they will run
        self._dispatched = ""  # the job handed to the worker and not yet done ("" = worker idle)
        self._paused = False
        self._file = QueueFile(state_file) if state_file is not None else None
        self.restore_message = ""  # what the restore found worth telling (crash, damaged file)
        self._ids = itertools.count(1)
        self._real_engines = engine_factory in (None, engine_for)
        self._worker = ModelWorker(runtime_factory, library, engine_factory or engine_for)
        self._worker.started_job.connect(self._on_started)
        self._worker.event.connect(self._on_event)
        self._worker.output.connect(self._on_output)
        self._worker.done.connect(self._on_done)
        self._worker.command_failed.connect(self.worker_message)
        self._refused.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        self._started = False
        self._closed = False  # after shutdown() the worker never starts again
        if self._file is not None:
            self._restore()

    # --- public API ---
    def submit(self, request) -> JobHandle:
        """Validate and enqueue; the job's handle. Raises InvalidRequest (with a message to show) at
        once when the request's values are invalid, StudioError after :meth:`shutdown`.

        Then the request's preflight runs here, before the worker (or any model) sees it: an input
        file that cannot be used (a FIFO as a picture, a silent reference clip, a text too long to
        say …) makes the job fail at once with that message — ``failed`` is emitted from the event
        loop right after this returns, so the caller has connected the handle by then.
        """
        request.validate()
        if self._closed:
            raise StudioError("Studio is shutting down; the job was not started.")
        try:
            preflight(request, clips=False)  # on the UI thread: clips' headers only (the engine reads them)
            refusal = None
        except StudioError as exc:
            refusal = JobError.from_exception(exc, request.kind)
        handle = self._add(Job(self._new_id(), request, label=summary(request)), pending=refusal is None)
        if refusal is not None:
            self._refused.emit(handle.id, FAILED, refusal)
        self._trim()
        self._save()
        self._dispatch()
        return handle

    def _new_id(self) -> str:
        while True:
            job_id = f"job-{next(self._ids)}"
            if job_id not in self._jobs:
                return job_id

    def _add(self, job: Job, pending: bool = True) -> JobHandle:
        """Keep ``job`` (and queue it to run when it is queued and ``pending``: a refused one is not)."""
        self._jobs[job.id] = job
        handle = self._handles[job.id] = JobHandle(job.id, job.request, self)
        if job.state == QUEUED and pending:
            self._items[job.id] = WorkItem(job.id, job.request)
            self._pending.append(job.id)
        self.job_added.emit(job.id)
        self.job_changed.emit(job.id)
        return handle

    def _dispatch(self) -> None:
        """Hand the next queued job to the worker when it is idle and the queue is not paused."""
        if self._dispatched or self._paused or self._closed or not self._pending:
            return
        job_id = self._pending.pop(0)
        item = self._items.get(job_id)
        if item is None:
            self._dispatch()
            return
        self._dispatched = job_id
        self._start_worker()
        self._worker.post(item)

    @property
    def persistent(self) -> bool:
        """Whether the queue is written down (and comes back after a restart)."""
        return self._file is not None

    # --- pause, order, retry ---
    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        """Start nothing new (the running job finishes)."""
        self.set_paused(True)

    def resume(self) -> None:
        self.set_paused(False)

    def set_paused(self, paused: bool) -> None:
        if paused == self._paused:
            return
        self._paused = paused
        self._save()
        self.paused_changed.emit(paused)
        self._dispatch()

    def queued_ids(self) -> list[str]:
        """The queued jobs, in the order they will run."""
        return list(self._pending)

    def move(self, job_id: str, offset: int) -> bool:
        """Move a queued job ``offset`` places (-1: one earlier); False when it is not queued."""
        if job_id not in self._pending:
            return False
        index = self._pending.index(job_id)
        target = max(0, min(len(self._pending) - 1, index + offset))
        if target == index:
            return False
        self._pending.insert(target, self._pending.pop(index))
        self._save()
        self.order_changed.emit()
        return True

    def retry(self, job_id: str) -> JobHandle | None:
        """Queue a failed, interrupted or cancelled job's request again, as a new job at the end of the
        queue (the old entry is dropped); its handle, or None when it cannot be retried."""
        job = self._jobs.get(job_id)
        if job is None or job.state not in RETRYABLE:
            return None
        handle = self.submit(job.request)  # validates again: a request that no longer holds raises
        self._forget(job_id)
        self._save()
        return handle

    # --- written down ---
    def _restore(self) -> None:
        if not self._file.lock():  # another Studio runs with this queue: it stays that one's
            self._file = None
            self.restore_message = ("Another Studio window is running and keeps the saved queue; the jobs of "
                                    "this window are not kept after it closes.")
            log.warning("%s", self.restore_message)
            return
        restored = self._file.load()
        self._paused = restored.paused
        self.restore_message = restored.message
        for saved in restored.jobs:
            job = Job(saved.id, saved.request, state=saved.state, label=saved.label, created=saved.created,
                      error=saved.error)
            if job.state == QUEUED:
                try:  # the rules, or the input files, may have changed since it was written down
                    job.request.validate()
                    preflight(job.request)
                except StudioError as exc:
                    job.state, job.error = FAILED, str(exc)
            if job.state in (FAILED, INTERRUPTED):
                job.failure = JobError("runtime", job.error, modality=getattr(saved.request, "kind", ""))
            self._add(job)
        if restored.message:
            log.warning("%s", restored.message)
        self._save()
        if self._pending and not self._paused:
            self._dispatch()

    def _records(self, clean_exit: bool = False) -> list[dict]:
        records = []
        for job in self._jobs.values():
            if job.state not in KEPT_STATES:
                continue
            state = job.state
            if clean_exit and state == RUNNING:
                state = QUEUED  # closed by the person, not a crash: run it again next time
            records.append({"id": job.id, "state": state, "label": job.label, "created": job.created,
                            "error": job.error, "request": encode_request(job.request)})
        # failed and interrupted jobs first (as they were), then the running one and the queue in order
        order = {job_id: i for i, job_id in enumerate([self._dispatched, *self._pending]) if job_id}
        records.sort(key=lambda r: order.get(r["id"], -1))
        return records

    def _save(self, clean_exit: bool = False) -> None:
        if self._file is None or (self._closed and not clean_exit):
            return
        try:
            self._file.save(self._records(clean_exit), self._paused, clean_exit=clean_exit)
        except (OSError, TypeError, ValueError) as exc:  # a full disk must not stop the queue
            log.warning("could not write the queue down: %s", exc)

    def handle(self, job_id: str) -> JobHandle | None:
        """The handle ``submit`` returned for ``job_id`` (None once the job left the history)."""
        return self._handles.get(job_id)

    def cancel(self, job_id: str) -> None:
        """Queued: cancelled at once, never started. Running: asked to stop; ``job_cancelled`` follows."""
        job, item = self._jobs.get(job_id), self._items.get(job_id)
        if job is None or item is None or job.state in TERMINAL:
            return
        with item.lock:
            item.cancel.cancel()
            started = item.taken
        handle = self._handles[job_id]
        if not started:
            if job_id in self._pending:
                self._pending.remove(job_id)
            self._end(job, CANCELLED)
            handle.cancelled.emit(job.result)
            self.job_cancelled.emit(job_id, job.result)
        else:
            job.status = "Cancelling…"
            handle.status.emit(job.status)
            self.job_status.emit(job_id, job.status)
        self.job_changed.emit(job_id)
        self._save()

    def cancel_all(self) -> None:
        for job_id in list(self._jobs):
            self.cancel(job_id)

    def job(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        return list(self._jobs.values())

    def active(self) -> list[Job]:
        return [j for j in self._jobs.values() if j.state not in TERMINAL]

    def clear_finished(self) -> None:
        for job_id in [j.id for j in self._jobs.values() if j.state in TERMINAL]:
            self._forget(job_id)
        self._save()

    def run_in_worker(self, fn: Callable[[Runtime], None]) -> None:
        """Run ``fn(runtime)`` on the worker thread between jobs (settings, unload); ignored after shutdown."""
        if self._closed:
            return
        self._start_worker()
        self._worker.post_call(fn)

    def _start_worker(self) -> None:
        if not self._started:  # the thread starts with the first job or command, not with the window
            self._worker.start()
            self._started = True

    def warm_up(self) -> None:
        """Import the real engines' heavy libraries on the worker thread before the first job needs them
        (nothing to do for injected engines)."""
        if self._real_engines:
            self.run_in_worker(warm_up_libraries)

    def unload_models(self) -> None:
        self.run_in_worker(_unload_all)

    def shutdown(self, wait_ms: int = 5000) -> bool:
        """Cancel everything and stop the worker; True when it stopped within ``wait_ms``. With a
        state file, the queue is written down first: queued jobs, and the running one, come back
        queued on the next start."""
        if not self._closed:
            self._save(clean_exit=True)
            if self._file is not None:
                self._file.unlock()
        self._closed = True
        self.cancel_all()
        if not self._started:
            return True
        self._worker.stop()
        return self._worker.wait(wait_ms)

    def __del__(self) -> None:
        # A QThread destroyed while running aborts the process: stop the worker if nobody did.
        try:
            if self._started and self._worker.isRunning():
                self.shutdown(wait_ms=10_000)
        except RuntimeError:  # the C++ side is already gone
            pass

    @property
    def worker(self) -> ModelWorker:
        return self._worker

    # --- worker slots (main thread) ---
    @Slot(str)
    def _on_started(self, job_id: str) -> None:
        job = self._jobs.get(job_id)
        if job is None or job.state in TERMINAL:
            return
        job.state = RUNNING
        job.started = time.time()
        self._save()
        self._handles[job_id].started.emit()
        self.job_started.emit(job_id)
        self.job_changed.emit(job_id)

    @Slot(str, object)
    def _on_event(self, job_id: str, ev: object) -> None:
        job = self._jobs.get(job_id)
        if job is None or job.state in TERMINAL:
            return
        handle = self._handles[job_id]
        if isinstance(ev, Progress):
            job.progress = (ev.step, ev.total)
            handle.progress.emit(ev)
            self.job_progress.emit(job_id, ev)
            self.job_changed.emit(job_id)
        elif isinstance(ev, Token):
            handle.token.emit(ev)
            self.job_token.emit(job_id, ev)
        elif isinstance(ev, Preview):
            handle.preview.emit(ev)
            self.job_preview.emit(job_id, ev)
        elif isinstance(ev, Status):
            job.status = ev.message
            handle.status.emit(ev.message)
            self.job_status.emit(job_id, ev.message)
            self.job_changed.emit(job_id)
        elif isinstance(ev, Notice):
            handle.notice.emit(ev.message)
            self.job_notice.emit(job_id, ev.message)
        elif isinstance(ev, VoiceList):
            handle.voices.emit(ev)

    @Slot(str, object)
    def _on_output(self, job_id: str, item: SavedItem) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        job.result.items.append(item)
        self._handles[job_id].output.emit(item)
        self.job_output.emit(job_id, item)

    @Slot(str, str, object)
    def _on_done(self, job_id: str, state: str, payload: object) -> None:
        if job_id == self._dispatched:
            self._dispatched = ""
        try:
            self._job_done(job_id, state, payload)
        finally:
            self._save()
            self._dispatch()

    def _job_done(self, job_id: str, state: str, payload: object) -> None:
        job = self._jobs.get(job_id)
        if job is None or job.state in TERMINAL:
            return
        handle = self._handles[job_id]
        if state == FAILED:
            job.failure = payload if isinstance(payload, JobError) else JobError("internal", str(payload))
            job.error = job.failure.message
            self._end(job, FAILED)
            handle.failed.emit(job.failure)
            self.job_failed.emit(job_id, job.failure)
        else:
            job.result.stats = getattr(payload, "stats", None)
            self._end(job, state)
            (handle.finished if state == FINISHED else handle.cancelled).emit(job.result)
            (self.job_finished if state == FINISHED else self.job_cancelled).emit(job_id, job.result)
        self.job_changed.emit(job_id)

    def _end(self, job: Job, state: str) -> None:
        job.state = state
        job.ended = time.time()
        job.status = ""
        self._items.pop(job.id, None)

    def _trim(self) -> None:
        done = [j.id for j in self._jobs.values() if j.state in TERMINAL]
        for job_id in done[: max(0, len(self._jobs) - self._history)]:
            self._forget(job_id)

    def _forget(self, job_id: str) -> None:
        if job_id in self._pending:
            self._pending.remove(job_id)
        known = self._jobs.pop(job_id, None) is not None
        self._items.pop(job_id, None)
        self._handles.pop(job_id, None)
        if known:
            self.job_removed.emit(job_id)


def _unload_all(runtime: Runtime) -> None:
    runtime.cache.unload()
