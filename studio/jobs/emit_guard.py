"""Work-around for reference-count bugs in PySide6 6.12.0 on CPython 3.11.

* Every Python-side ``SignalInstance.emit()`` drops one reference to ``True`` (it returns ``Py_True``
  without taking a new reference).
* Every call of a Qt method that returns ``void`` (``QPainter.setPen``, ``QImage.fill``,
  ``QSize.setWidth`` …) drops one reference to ``None`` the same way.

Once such a count reaches zero CPython aborts the whole process with "Fatal Python error:
bool_dealloc" or "none_dealloc". A bare process holds a few hundred to a few thousand references;
streaming a reply emits two or three signals per token, and a brush stroke on the Canvas makes
several void calls per mouse event (the 4096² stroke benchmark aborted after about 400 events), so a
session would crash. Holding Python references does not help (they are given back at exit, and the
count still ends below zero), so the guard raises the counts of ``True``, ``False`` and ``None`` once,
by 2**40, and never gives them back. These objects are never deallocated anyway; CPython 3.12+ makes
them immortal, so nothing is done there. Remove this module when the pinned PySide6 no longer has the
bug (``tests/test_jobs.py`` and ``tests/test_pyside_refcounts.py`` show it: without the guard the
process aborts).
"""

from __future__ import annotations

import ctypes
import platform
import sys

_done = False


def hold_true() -> None:
    """Raise the reference counts of True, False and None far from zero (once per process; CPython < 3.12)."""
    global _done
    if _done or sys.version_info >= (3, 12) or platform.python_implementation() != "CPython":
        return
    _done = True
    for obj in (True, False, None):
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40  # ob_refcnt is the object's first field
