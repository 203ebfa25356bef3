"""Between the HTTP server's event loop and the job queue on the Qt main thread.

The job queue lives on the main thread (as in the GUI: it is the GUI's own queue when the window runs the
server). The HTTP handlers run on uvicorn's event loop, on another thread. :class:`JobBridge` crosses
over with queued Qt signals in one direction and ``loop.call_soon_threadsafe`` in the other:

- :meth:`JobBridge.submit` (event-loop thread) emits a queued signal; on the main thread the request
  goes through ``JobQueue.submit`` like a tab's, and a :class:`_Relay` connects the job handle's
  signals to its slots, which put each event into that request's ``asyncio.Queue``;
- :meth:`Subscription.cancel` (a client that went away) asks the main thread to cancel the job.

Each subscription has its own queue fed by its own job's handle, so replies cannot cross.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Qt, Signal, Slot

from ..errors import StudioError
from ..jobs import JobError, JobHandle, JobQueue

#: what a subscription's queue carries: (kind, payload); kinds: 'started', 'status', 'token', 'output',
#: 'finished', 'cancelled', 'failed' (the last three end the job)
ENDINGS = ("finished", "cancelled", "failed")


@dataclass
class Subscription:
    """One submitted request as the HTTP handler sees it: ``events`` (an asyncio.Queue of (kind, payload))."""

    request: object
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    job_id: str = ""
    cancelled: bool = False
    bridge: JobBridge | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def push(self, kind: str, payload: object = None) -> None:
        """From any thread: hand an event to the handler's loop."""
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, payload))
        except RuntimeError:  # the loop is closed: the server is shutting down
            pass

    def cancel(self) -> None:
        """The client went away: cancel the job (queued or running). Safe from any thread, any time."""
        with self.lock:
            if self.cancelled:
                return
            self.cancelled = True
            job_id = self.job_id
        if job_id and self.bridge is not None:
            self.bridge.cancel_requested.emit(job_id)


class _Relay(QObject):
    """Main thread: one job's handle signals → its subscription (QObject slots, never lambdas)."""

    def __init__(self, sub: Subscription, handle: JobHandle, bridge: JobBridge) -> None:
        super().__init__()
        self.sub, self.handle, self.bridge = sub, handle, bridge
        handle.started.connect(self.on_started)
        handle.status.connect(self.on_status)
        handle.token.connect(self.on_token)
        handle.output.connect(self.on_output)
        handle.finished.connect(self.on_finished)
        handle.cancelled.connect(self.on_cancelled)
        handle.failed.connect(self.on_failed)

    @Slot()
    def on_started(self) -> None:
        self.sub.push("started")

    @Slot(str)
    def on_status(self, message: str) -> None:
        self.sub.push("status", message)

    @Slot(object)
    def on_token(self, token) -> None:
        self.sub.push("token", token)

    @Slot(object)
    def on_output(self, item) -> None:
        self.sub.push("output", item)

    @Slot(object)
    def on_finished(self, result) -> None:
        self._end("finished", result)

    @Slot(object)
    def on_cancelled(self, result) -> None:
        self._end("cancelled", result)

    @Slot(object)
    def on_failed(self, error) -> None:
        self._end("failed", error)

    def _end(self, kind: str, payload) -> None:
        self.sub.push(kind, payload)
        self.bridge.release(self)


class JobBridge(QObject):
    """Lives on the main thread beside the :class:`~studio.jobs.JobQueue` it feeds."""

    submit_requested = Signal(object)  # Subscription (emitted on the event-loop thread, delivered queued)
    cancel_requested = Signal(str)  # job id

    def __init__(self, jobs: JobQueue, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self._relays: set[_Relay] = set()
        self.submit_requested.connect(self._on_submit, Qt.ConnectionType.QueuedConnection)
        self.cancel_requested.connect(self._on_cancel, Qt.ConnectionType.QueuedConnection)

    # --- the event-loop thread ---
    def submit(self, request, loop: asyncio.AbstractEventLoop) -> Subscription:
        sub = Subscription(request, loop, bridge=self)
        self.submit_requested.emit(sub)
        return sub

    # --- the main thread ---
    @Slot(object)
    def _on_submit(self, sub: Subscription) -> None:
        with sub.lock:
            if sub.cancelled:  # the client left before the job was queued
                sub.push("cancelled", None)
                return
        try:
            handle = self.jobs.submit(sub.request)
        except StudioError as exc:  # invalid, or the queue is shutting down
            sub.push("failed", JobError.from_exception(exc, getattr(sub.request, "kind", "")))
            return
        self._relays.add(_Relay(sub, handle, self))
        with sub.lock:
            sub.job_id = handle.id
            cancelled = sub.cancelled
        if cancelled:
            handle.cancel()

    @Slot(str)
    def _on_cancel(self, job_id: str) -> None:
        self.jobs.cancel(job_id)

    def release(self, relay: _Relay) -> None:
        self._relays.discard(relay)
        relay.deleteLater()
