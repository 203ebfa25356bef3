"""One long-lived thread per runtime for the heavy torch work (model loads, generate, pipelines).

Why one thread: PyTorch's CPU kernels (and MKL's) run on OpenMP, which keeps a separate thread team
for every thread that calls into it. With two or more teams on a machine with few cores, libgomp
throttles its spin-waiting and every small matrix product pays a sleep/wake: measured here on 2
cores, a 1×576·576×576 product ran 1.4–2.8× slower once a second thread had used torch, and
tokens/s fell by about 20 %. With every heavy call on this one thread there is one team, as in a
plain script. The engine's own thread (the Qt worker, or the CLI's main thread) only tokenizes,
moves small tensors and streams events.

A blocking library call that reports as it goes (tokens, denoising steps, audio chunks) runs through
:meth:`ComputeThread.stream`: an engine writes ``result = yield from runtime.compute.stream(work, cancel)``
and gets every item ``work`` emits, on its own thread, as it comes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import Cancelled

if TYPE_CHECKING:
    from ..cancel import CancelToken

T = TypeVar("T")
Emit = Callable[[Any], None]
_END = object()  # put by the compute thread after ``work`` returned or raised


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

    def stream(self, work: Callable[[Emit], T], cancel: CancelToken | None = None) -> Generator[Any, None, T]:
        """Run ``work(emit)`` on the compute thread and yield, here, every ``emit(item)`` as it arrives.

        Use it as ``result = yield from compute.stream(work, cancel)`` inside an engine generator:

        * items come out in the order ``work`` emitted them, on the calling thread (``emit`` only
          puts them in a queue, so the compute thread never waits for the consumer);
        * when ``work`` returns, the generator returns its value; when it raises, the same exception
          object (original type) is raised here;
        * ``cancel`` set (by anyone, at any moment): no further items are yielded (the rest are
          dropped), the generator waits until ``work`` ends, and then raises
          :class:`~studio.errors.Cancelled` (or ``work``'s own exception, if it raised one). ``work``
          itself must stop early through the library's own hook that reads the token (a
          transformers ``StoppingCriteria``, diffusers' ``callback_on_step_end`` setting
          ``pipe._interrupt``, a check between audio chunks); stream cannot interrupt it;
        * closed early by its consumer (``close()``, or an exception thrown in): sets ``cancel`` and
          waits for ``work`` to end, so the compute thread is free for the next job;
        * called on the compute thread itself (re-entrant): ``work`` runs to its end right there,
          then its items are yielded; nothing deadlocks.
        """
        inbox: queue.SimpleQueue = queue.SimpleQueue()

        def run() -> T:
            try:
                return work(inbox.put)
            finally:
                inbox.put(_END)

        future = self.submit(run)
        ended = False
        try:
            while True:
                item = inbox.get()
                if item is _END:
                    break
                if cancel is not None and cancel.cancelled:
                    continue  # cancelled: drop what is still coming, wait for work to end
                yield item
            ended = True
        finally:
            if not ended:  # the consumer stopped early: stop work too and wait for the compute thread
                if cancel is not None:
                    cancel.cancel()
                future.exception()
        value = future.result()  # re-raises work's exception
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        return value

    def _run(self) -> None:
        while True:
            future, fn, args, kwargs = self._inbox.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the caller through the future
                future.set_exception(exc)
