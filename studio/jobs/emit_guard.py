"""Work-around for a reference-count bug in PySide6 6.12.0 on CPython 3.11.

Every Python-side ``SignalInstance.emit()`` drops one reference to ``True`` (it returns ``Py_True``
without taking a new reference). Once True's count reaches zero CPython aborts the whole process with
"Fatal Python error: bool_dealloc: deallocating True or False". A bare process has about 600
references, the app with torch loaded about 26,000, and streaming a reply emits two or three signals
per token: a long session would crash, and any process that emitted more than it ever held crashes
at exit. Holding Python references does not help (they are given back at exit, and the count still
ends below zero), so the guard raises True's count once, by 2**40, and never gives it back. True is
never deallocated anyway; CPython 3.12+ makes it immortal, so nothing is done there.
Remove this module when the pinned PySide6 no longer has the bug (``tests/test_jobs.py`` shows it:
without the guard the process aborts at exit).
"""

from __future__ import annotations

import ctypes
import platform
import sys

_done = False


def hold_true() -> None:
    """Raise True's reference count far from zero (once per process; CPython < 3.12 only)."""
    global _done
    if _done or sys.version_info >= (3, 12) or platform.python_implementation() != "CPython":
        return
    _done = True
    ctypes.c_ssize_t.from_address(id(True)).value += 1 << 40  # ob_refcnt is the object's first field
