"""PySide6 6.12.0 takes a reference away from None on every void Qt call and from True on every signal
emit; the guard (studio.jobs.emit_guard, run when studio.ui is imported) keeps the interpreter from
aborting once the count runs out ("none_dealloc", "bool_dealloc"), e.g. after a long brush stroke."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QSize, Signal

import studio.ui  # noqa: F401 - the guard runs on import


class Emitter(QObject):
    ping = Signal()


def test_many_void_calls_and_emits_do_not_abort_the_interpreter():
    size, emitter = QSize(1, 1), Emitter()
    for _ in range(100_000):  # far more than None's or True's own count in a fresh process
        size.setWidth(2)
        emitter.ping.emit()
    assert sys.getrefcount(None) > 100_000 and sys.getrefcount(True) > 100_000
