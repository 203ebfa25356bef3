"""One-shot work off the UI thread, in the spirit of superqt's ``thread_worker``: a download, a deletion,
decoding a picture, reading a voice's files.

:class:`Background` owns a thread pool; :meth:`Background.start` runs ``fn(*args, **kwargs)`` on it and
hands back a :class:`Task` whose signals arrive on the UI thread::

    self.background = Background(self)                        # one per owner, e.g. a widget
    self.background.start(read_png_parameters, path, key=path,
                          returned=self._on_png_read)          # a QObject slot, never a lambda

The slots are connected before the work starts, so no result is ever lost. ``returned(result)`` or
``errored(exception)`` then ``finished()``; ``progressed(value)`` whenever the work calls
``task.report(value)``; ``task.cancel()`` sets ``task.cancel_token`` for work that checks it. The
model worker (one long-lived thread that owns the models) and the engines' compute thread are not
one-shot work and stay as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from ..cancel import CancelToken

log = logging.getLogger(__name__)


class Task(QObject):
    """One piece of work started by :meth:`Background.start`; ``key`` says which (a path, a model id)."""

    returned = Signal(object)  # what the work returned
    errored = Signal(object)  # the exception it raised
    progressed = Signal(object)  # a value passed to report()
    finished = Signal()  # after returned or errored

    def __init__(self, key: object = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.cancel_token = CancelToken()

    def report(self, value: object) -> None:
        """From the work's thread: ``progressed(value)`` on the UI thread."""
        try:
            self.progressed.emit(value)
        except RuntimeError:  # the owner went away meanwhile
            pass

    def cancel(self) -> None:
        """Ask the work to stop (it checks ``cancel_token``)."""
        self.cancel_token.cancel()


class _Run(QRunnable):
    def __init__(self, task: Task, fn: Callable, args: tuple, kwargs: dict, with_task: bool) -> None:
        super().__init__()
        self.task, self.fn, self.args, self.kwargs = task, fn, args, kwargs
        self.with_task = with_task

    def run(self) -> None:  # a pool thread
        task = self.task
        try:
            try:
                args = (task, *self.args) if self.with_task else self.args
                result = self.fn(*args, **self.kwargs)
            except BaseException as exc:  # any failure reaches the owner as a value, never kills the pool
                log.debug("background task %r failed: %s", task.key, exc)
                task.errored.emit(exc)
            else:
                task.returned.emit(result)
            task.finished.emit()
        except RuntimeError:  # the task's owner was deleted meanwhile: nobody is waiting for it
            pass


class Background(QObject):
    """A pool of ``threads`` threads for one-shot work; its tasks' signals arrive on the UI thread."""

    def __init__(self, parent: QObject | None = None, *, threads: int = 1) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, threads))
        self._tasks: set[Task] = set()

    def start(
        self,
        fn: Callable,
        *args,
        key: object = None,
        returned: Callable | None = None,
        errored: Callable | None = None,
        progressed: Callable | None = None,
        finished: Callable | None = None,
        with_task: bool = False,
        **kwargs,
    ) -> Task:
        """Run ``fn(*args, **kwargs)`` on the pool (``fn(task, *args, **kwargs)`` with ``with_task``: work that
        reports progress or checks ``task.cancel_token``); the given slots are connected first."""
        task = Task(key, self)
        for signal, slot in ((task.returned, returned), (task.errored, errored), (task.progressed, progressed),
                             (task.finished, finished)):
            if slot is not None:
                signal.connect(slot)
        task.finished.connect(self._forget)
        self._tasks.add(task)
        self._pool.start(_Run(task, fn, args, kwargs, with_task))
        return task

    def tasks(self) -> list[Task]:
        """The tasks not finished yet."""
        return list(self._tasks)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def wait(self, ms: int = 5000) -> bool:
        """Wait for every task to finish (tests; closing); True when none is left running."""
        return self._pool.waitForDone(ms)

    @Slot()
    def _forget(self) -> None:
        task = self.sender()
        if task in self._tasks:
            self._tasks.discard(task)
            task.deleteLater()
