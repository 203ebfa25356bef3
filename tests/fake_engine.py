"""A scripted engine for tests of the job queue and the tabs without a model.

The test says what each job does: which events it yields, after how long, and whether it returns
stats or raises. ``FakeEngine`` is an ``engine_factory`` (``JobQueue(..., engine_factory=fake)``); a
request's ``model`` field picks its script (``"slow"``, ``"broken"`` …), so a test can queue jobs that
behave differently; a script may also be a function of the request. It honours cancel the way real engines do: ``cancel.check()`` between events and
every few milliseconds while it waits, so a running job stops within one "step".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field

from studio.cancel import CancelToken
from studio.events import Event, Stats


@dataclass
class Script:
    """``events``: each an Event, or ``(seconds, Event)`` to wait that long before yielding it, or
    ``(threading.Event, Event)`` to wait until the test sets it (a job held at a known point, no guessed delay).
    Then ``error`` is raised when given, else ``result`` (the job's :class:`~studio.events.Stats`) is returned."""

    events: list = field(default_factory=list)
    result: Stats | None = None
    error: BaseException | None = None
    wait_s: float = 0.0  # waited (checking cancel) after the last event


class FakeEngine:
    """``engine_factory`` for :class:`studio.jobs.JobQueue`: every kind gets this scripted engine."""

    kind = "fake"

    def __init__(self, scripts: dict[str, Script] | None = None, default: Script | None = None) -> None:
        self.scripts = dict(scripts or {})
        self.default = default or Script()
        self.ran: list[str] = []  # request models, in the order their jobs started
        self.requests: list = []  # the requests themselves, in the same order
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, kind: str) -> FakeEngine:
        return self

    def run(self, request, runtime, cancel: CancelToken) -> Generator[Event, None, Stats | None]:
        with self._lock:
            self.ran.append(request.model)
            self.requests.append(request)
            self.threads.add(threading.current_thread().name)
        script = self.scripts.get(request.model, self.default)
        if callable(script):  # a function of the request (e.g. refuse until allow_pickle)
            script = script(request)
        cancel.check()
        for entry in script.events:
            delay, event = entry if isinstance(entry, tuple) else (0.0, entry)
            _sleep(delay, cancel)
            yield event
            cancel.check()
        _sleep(script.wait_s, cancel)
        if script.error is not None:
            raise script.error
        return script.result


def _sleep(seconds: float | threading.Event, cancel: CancelToken) -> None:
    if isinstance(seconds, threading.Event):  # held until the test lets it go (or the job is cancelled)
        while not seconds.wait(0.005):
            cancel.check()
        cancel.check()
        return
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        cancel.check()
        time.sleep(min(0.005, max(0.0, end - time.monotonic())))
    cancel.check()
