"""One long-lived thread per runtime for the heavy torch work (model loads, generate, pipelines).

Why one thread: PyTorch's CPU kernels (and MKL's) run on OpenMP, which keeps a separate thread team
for every thread that calls into it. With two or more teams on a machine with few cores, libgomp
throttles its spin-waiting and every small matrix product pays a sleep/wake: measured here on 2
cores, a 1×576·576×576 product ran 1.4–2.8× slower once a second thread had used torch, and
tokens/s fell by about 20 %. With every heavy call on this one thread there is one team, as in a
plain script. The engine's own thread (the Qt worker, or the CLI's main thread) only tokenizes,
moves small tensors and streams events.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class ComputeThread:
    """Runs callables one at a time, in order, on one daemon thread started on first use."""

    def __init__(self, name: str = "studio-compute") -> None:
        self.name = name
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        if threading.current_thread() is self._thread:  # re-entrant call: run it here, do not deadlock
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)
            return future
        with self._lock:
            if self._thread is None:
                # a daemon thread: a model load that cannot be interrupted must not keep the app alive
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        self._inbox.put((future, fn, args, kwargs))
        return future

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` on the compute thread and wait for its result (exceptions are re-raised here)."""
        return self.submit(fn, *args, **kwargs).result()

    def _run(self) -> None:
        while True:
            future, fn, args, kwargs = self._inbox.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the caller through the future
                future.set_exception(exc)
