"""A guard against PySide6 6.12.0's reference leaks on ``None`` and ``True`` (imported by :mod:`studio.ui`).

With PySide6 6.12.0 on CPython 3.11, every call of a Qt method that returns ``void`` hands Python a
``None`` without taking a reference to it, and every ``Signal.emit`` does the same with ``True``: each
call *removes* one reference. After a few thousand calls (a brush stroke makes several per mouse
event; a generation emits a signal per step) the count reaches zero and CPython aborts with "Fatal
Python error: none_dealloc" (or "bool_dealloc"). CPython 3.12 made these objects immortal; :func:`guard`
does the same here, once, when the leak is detected, by giving ``None``, ``True`` and ``False`` a
reference count no session can use up. Nothing changes on a PySide6 that does not leak. Remove this
module once the pinned PySide6 is fixed.
"""

from __future__ import annotations

import ctypes
import sys

RESERVE = 1 << 60  # references added: more leaking calls than any session makes


def leaks() -> bool:
    """True when a void Qt call or a signal emit takes a reference away from None or True."""
    from PySide6.QtCore import QObject, QSize, Signal

    class _Probe(QObject):
        ping = Signal()

    size, probe = QSize(1, 1), _Probe()
    before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(8):
        size.setWidth(1)
        probe.ping.emit()
    after = sys.getrefcount(None), sys.getrefcount(True)
    return after[0] < before[0] - 4 or after[1] < before[1] - 4


def guard() -> bool:
    """Make None, True and False immortal when PySide6 leaks them; True when it did."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython" or not leaks():
        return False
    for obj in (None, True, False):
        refcnt = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the object's first field
        if refcnt.value < RESERVE:
            refcnt.value += RESERVE
    return True
