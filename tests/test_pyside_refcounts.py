"""PySide6 6.12.0 took a reference away from None on every void Qt call and from True on every signal
emit; CPython 3.11 then aborts the whole process ("none_dealloc", "bool_dealloc") after a few hundred
to a few thousand calls — a long brush stroke or a streamed reply was enough. Studio pins a PySide6
without that bug (6.11.3). This test runs the calls in a child process, so that a PySide6 upgrade that
brings the bug back fails here instead of aborting the test run (or a person's session)."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import sys
from PySide6.QtCore import QObject, QSize, Signal

class Emitter(QObject):
    ping = Signal()
    value = Signal(object)

size, emitter = QSize(1, 1), Emitter()
emitter.value.connect(print)  # a Python slot: the emit crosses into Python and back
emitter.value.disconnect(print)
before = sys.getrefcount(None), sys.getrefcount(True)
for _ in range(100_000):  # far more than None's or True's own count in a fresh process
    size.setWidth(2)
    emitter.ping.emit()
    emitter.value.emit(True)
after = sys.getrefcount(None), sys.getrefcount(True)
print(before[0] - after[0], before[1] - after[1])
"""


def test_many_void_calls_and_emits_keep_none_and_true_alive():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"PySide6 lost references (see the docstring): {out.stderr[-500:]}"
    lost_none, lost_true = (int(v) for v in out.stdout.split())
    assert lost_none < 1000 and lost_true < 1000  # a leak would lose 100,000 (or abort before)
