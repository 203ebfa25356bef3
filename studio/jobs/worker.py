"""The model worker: one QThread that owns the runtime (model cache, device) and runs engines.

The UI talks to :class:`JobQueue` only (main thread). The worker thread emits private signals that
Qt delivers, queued and in order, to JobQueue slots on the main thread; JobQueue updates the job's
state there and re-emits the public signals. A failing job never stops the worker.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from PySide6.QtCore import QThread, Signal

from ..cancel import CancelToken
from ..engines.base import Runtime, drive
from ..errors import Cancelled, is_out_of_memory
from ..events import JobResult, Notice, Output
from ..library.store import LibrarySaveError
from .handle import JobError

log = logging.getLogger(__name__)

_STOP = object()


class WorkItem:
    """What the worker needs to run one job (shared between the two threads under ``lock``)."""

    def __init__(self, job_id: str, request) -> None:
        self.job_id = job_id
        self.request = request
        self.cancel = CancelToken()
        self.taken = False  # set by the worker when it starts the job
        self.lock = threading.Lock()


class ModelWorker(QThread):
    """Runs jobs one at a time. Commands (unload, settings) run between jobs on the same thread."""

    started_job = Signal(str)
    event = Signal(str, object)  # job id, studio.events.* (Output already replaced by SavedItem)
    output = Signal(str, object)  # job id, SavedItem
    done = Signal(str, str, object)  # job id, 'finished' | 'cancelled' | 'failed', JobResult | JobError
    command_failed = Signal(str)

    def __init__(self, runtime_factory: Callable[[], Runtime], library, engine_factory, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("ModelWorker")
        self._runtime_factory = runtime_factory
        self._engine_factory = engine_factory  # request kind → engine (studio.engines.engine_for)
        self._library = library
        self._inbox: queue.Queue = queue.Queue()
        self.runtime: Runtime | None = None  # created in the worker thread, touched only there

    # --- called from the main thread ---
    def post(self, item: WorkItem) -> None:
        self._inbox.put(item)

    def post_call(self, fn: Callable[[Runtime], None]) -> None:
        """Run ``fn(runtime)`` on the worker thread between jobs (unload, change device …)."""
        self._inbox.put(fn)

    def stop(self) -> None:
        self._inbox.put(_STOP)

    # --- the worker thread ---
    def run(self) -> None:  # noqa: D401 - QThread entry point
        while True:
            item = self._inbox.get()
            if item is _STOP:
                break
            try:
                if self.runtime is None:
                    self.runtime = self._runtime_factory()
            except Exception as exc:  # a broken runtime must not kill the thread
                log.exception("could not create the runtime")
                if isinstance(item, WorkItem):
                    self.done.emit(item.job_id, "failed", JobError.from_exception(exc, item.request.kind))
                continue
            if callable(item) and not isinstance(item, WorkItem):
                try:
                    item(self.runtime)
                except Exception as exc:
                    log.exception("worker command failed")
                    self.command_failed.emit(JobError.from_exception(exc).message)
                continue
            self._run_job(item)
        if self.runtime is not None:
            self.runtime.cache.unload()

    def _run_job(self, item: WorkItem) -> None:
        with item.lock:
            if item.cancel.cancelled:  # cancelled while queued: never started, JobQueue already said so
                self.done.emit(item.job_id, "cancelled", JobResult())  # the queue hands over the next job
                return
            item.taken = True
        self.started_job.emit(item.job_id)
        result = JobResult()
        try:
            engine = self._engine_factory(item.request.kind)

            def handle(ev) -> None:
                if isinstance(ev, Output):
                    try:
                        saved = self._library.save(ev, job_id=item.job_id)
                    except LibrarySaveError as exc:
                        if exc.item is None:
                            raise  # nothing was written: the job fails with the library's sentence
                        saved = exc.item  # written but not indexed (a locked index): show it, say so
                        self.event.emit(item.job_id, Notice(str(exc)))
                    result.items.append(saved)
                    self.output.emit(item.job_id, saved)
                else:
                    self.event.emit(item.job_id, ev)

            result.stats = drive(engine.run(item.request, self.runtime, item.cancel), handle)
        except Cancelled:
            self.done.emit(item.job_id, "cancelled", result)
            return
        except Exception as exc:
            log.exception("job %s failed", item.job_id)
            if is_out_of_memory(exc) and self.runtime is not None:
                self.runtime.cache.unload()  # give the memory back so the next job can run
            self.done.emit(item.job_id, "failed", JobError.from_exception(exc, item.request.kind))
            return
        self.done.emit(item.job_id, "finished", result)
