"""studio.jobs.background: one-shot work off the UI thread, results and errors delivered on the UI thread."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QThread, Slot

from studio.errors import Cancelled
from studio.jobs.background import Background


class Recorder(QObject):
    """Slots for a task's signals, recording (task key, value, the thread that delivered it)."""

    def __init__(self) -> None:
        super().__init__()
        self.returned, self.errored, self.progressed, self.finished = [], [], [], []
        self.threads = set()

    def _note(self, into: list, value) -> None:
        into.append((self.sender().key, value))
        self.threads.add(QThread.currentThread())

    @Slot(object)
    def on_returned(self, value) -> None:
        self._note(self.returned, value)

    @Slot(object)
    def on_errored(self, exc) -> None:
        self._note(self.errored, exc)

    @Slot(object)
    def on_progressed(self, value) -> None:
        self._note(self.progressed, value)

    @Slot()
    def on_finished(self) -> None:
        self._note(self.finished, None)


def where(x: int) -> tuple[int, bool]:
    return x * 2, threading.current_thread() is threading.main_thread()


def broken(x: int) -> None:
    raise ValueError(f"bad {x}")


def counting(task, n: int, gate: threading.Event) -> int:
    for i in range(n):
        task.report(i)
    gate.wait(10)
    task.cancel_token.check()  # raises Cancelled once cancel() was asked
    return n


def test_results_and_errors_arrive_on_the_ui_thread_in_order(qtbot):
    background, rec = Background(threads=2), Recorder()
    for x in (1, 2, 3):
        background.start(where, x, key=x, returned=rec.on_returned, finished=rec.on_finished)
    background.start(broken, 4, key="broken", errored=rec.on_errored, finished=rec.on_finished)
    qtbot.waitUntil(lambda: len(rec.finished) == 4, timeout=10_000)
    assert sorted(rec.returned) == [(1, (2, False)), (2, (4, False)), (3, (6, False))]  # computed off the UI thread
    ((key, exc),) = rec.errored
    assert key == "broken" and isinstance(exc, ValueError) and str(exc) == "bad 4"
    assert rec.threads == {QThread.currentThread()}  # every slot ran on the UI thread
    assert background.wait()
    qtbot.waitUntil(lambda: background.tasks() == [], timeout=10_000)  # finished tasks are forgotten


def test_progress_and_cancel(qtbot):
    background, rec = Background(), Recorder()
    gate = threading.Event()
    task = background.start(counting, 3, gate, key="c", with_task=True, returned=rec.on_returned,
                            errored=rec.on_errored, progressed=rec.on_progressed)
    qtbot.waitUntil(lambda: len(rec.progressed) == 3, timeout=10_000)
    assert [v for _, v in rec.progressed] == [0, 1, 2] and background.tasks() == [task]
    task.cancel()
    gate.set()
    qtbot.waitUntil(lambda: len(rec.errored) == 1, timeout=10_000)
    assert isinstance(rec.errored[0][1], Cancelled) and rec.returned == []
    assert background.wait()
