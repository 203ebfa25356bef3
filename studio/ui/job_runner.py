"""The one way a tab runs jobs: :class:`JobRunner` owns the tab's running job(s).

A tab makes one runner with its :class:`~studio.ui.tab_widgets.StatusLine` and hands it requests::

    self.status_line = StatusLine()
    self.runner = JobRunner(self, ctx.jobs, self.status_line, ctx.host)
    self.runner.busy_changed.connect(self.set_busy)
    ...
    self.runner.submit(self.build_request())   # None (and a ⚠ message) when refused

The runner

* submits with **one guard**: a request the queue refuses (validation, preflight) is a ⚠ line in the
  status line and nothing is queued;
* connects every signal of the job's :class:`~studio.jobs.JobHandle` to the tab's slot of the same
  name with an ``on_`` prefix (``handle.progress`` → ``tab.on_progress``), **by name**, to QObject
  slots (a tab leaves out the slots it does not need);
* says "Queued…" / "Queued behind N job(s)…", and on failure shows the message with the failure
  action that fits it (:class:`~studio.ui.job_errors.FailureAction`: "Download…", "Load anyway…", the
  out-of-memory advice is the message itself); "Load anyway…" resubmits the failed request with
  permission, through the same guard;
* cancels (:meth:`cancel`: every job of the tab, the running one within a step).

A job's end (finished, cancelled, failed) reaches the runner's own bookkeeping first, so the tab's
``on_finished`` / ``on_cancelled`` / ``on_failed`` already see :attr:`busy` without that job.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QWidget

from ..errors import StudioError
from ..jobs import JobError, JobHandle

#: every signal of a JobHandle, in the order a job emits them; the tab's slot for ``x`` is ``on_x``
HANDLE_SIGNALS = ("started", "progress", "status", "notice", "token", "preview", "voices", "output", "finished", "cancelled",
                  "failed")
ENDS = ("finished", "cancelled", "failed")


class JobRunner(QObject):
    """A tab's jobs. ``queue=True`` (the Image tab): Generate again queues another job behind the
    first; otherwise one job at a time (a submit while one runs is ignored)."""

    busy_changed = Signal(bool)  # the tab has a job queued or running (enable Cancel, disable Generate)

    def __init__(self, tab: QWidget, jobs, status_line, host=None, *, queue: bool = False) -> None:
        super().__init__(tab)
        self._tab = tab
        self._jobs = jobs
        self.status_line = status_line
        self.queue = queue
        self._running: list[JobHandle] = []  # oldest first
        #: pickled files the person agreed to load this session (resolved paths)
        self.confirmed_pickles: set[str] = set()
        action = status_line.action
        if host is not None:
            action.download_requested.connect(host.download_model)
        # "Load anyway…": the failed request again, with permission, through the tab's own submit when it has one
        action.retry_requested.connect(getattr(tab, "submit", self.submit))
        action.pickle_confirmed.connect(self._on_pickle_confirmed)

    # --- state ---------------------------------------------------------------------------------------
    @property
    def job(self) -> JobHandle | None:
        """The tab's job that runs now (or runs next), None when idle."""
        return self._running[0] if self._running else None

    @property
    def jobs(self) -> list[JobHandle]:
        """The tab's jobs not ended yet (queued or running), oldest first."""
        return list(self._running)

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def owns(self, handle) -> bool:
        return handle in self._running

    # --- submit / cancel -----------------------------------------------------------------------------
    @Slot(object)
    def submit(self, request) -> JobHandle | None:
        """Queue ``request``; its handle, or None when refused (the reason is a ⚠ line) or busy."""
        if self._running and not self.queue:
            return None
        try:
            handle = self._jobs.submit(request)
        except StudioError as exc:
            self.status_line.warn(str(exc))
            return None
        self.status_line.action.clear()
        for name in ENDS:  # the runner's bookkeeping first: the tab's slots see the job ended
            getattr(handle, name).connect(getattr(self, f"_on_{name}"))
        for name in HANDLE_SIGNALS:
            slot = getattr(self._tab, f"on_{name}", None)
            if slot is not None:
                getattr(handle, name).connect(slot)
        self._running.append(handle)
        ahead = len(self._jobs.active()) - 1
        self.status_line.say(f"Queued behind {ahead} job(s)…" if ahead > 0 else "Queued…")
        if len(self._running) == 1:
            self.busy_changed.emit(True)
        return handle

    @Slot()
    def cancel(self) -> None:
        """Cancel every job of the tab: the queued ones at once, the running one within a step."""
        for handle in list(self._running):
            handle.cancel()

    # --- ends --------------------------------------------------------------------------------------------
    def _end(self) -> JobHandle | None:
        handle = self.sender()
        if handle not in self._running:
            return None
        self._running.remove(handle)
        if not self._running:
            self.busy_changed.emit(False)
        return handle

    @Slot(object)
    def _on_finished(self, result) -> None:
        self._end()

    @Slot(object)
    def _on_cancelled(self, result) -> None:
        self._end()

    @Slot(object)
    def _on_failed(self, error: JobError) -> None:
        handle = self._end()
        if handle is None:
            return
        self.status_line.fail(error, handle.request)

    @Slot(str)
    def _on_pickle_confirmed(self, path: str) -> None:
        self.confirmed_pickles.add(str(Path(path).expanduser().resolve()))  # a Yes holds for the session
