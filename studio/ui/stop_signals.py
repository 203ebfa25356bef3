"""SIGINT, SIGTERM and SIGHUP in the GUI: the window closes as when a person quits, without asking.

Qt's event loop runs in C++, so a Python signal handler alone would wait for the next Python call
(possibly forever in an idle window). :func:`signal.set_wakeup_fd` makes the interpreter write the
signal's number to a socket, and a :class:`QSocketNotifier` on the other end wakes the event loop.
Closing the window cancels every job (an engine stops at its next step, the first-time GGUF check's
child process is killed), waits for the worker, and ends downloads, so no temp file and no child
process outlives the app. The exit status is then 128 + the signal's number, as for a CLI job.
"""

from __future__ import annotations

import signal
import socket

from PySide6.QtCore import QObject, QSocketNotifier, Signal, Slot

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def _note(signum: int, _frame) -> None:
    """The Python-level handler: nothing to do here, the wakeup socket carries the number."""


class StopSignals(QObject):
    """Emits :attr:`received` (the signal's number) on the GUI thread for SIGINT, SIGTERM and SIGHUP.
    Create it on the main thread; :meth:`uninstall` puts the previous handlers back."""

    received = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        self._previous = {signum: signal.signal(signum, _note) for signum in STOP_SIGNALS}
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_wakeup)
        self.signum = 0  # the first stop signal received (0: none)

    @Slot()
    def _on_wakeup(self) -> None:
        try:
            data = self._reader.recv(64)
        except BlockingIOError:
            return
        for signum in data:
            if signum in STOP_SIGNALS:
                self.signum = self.signum or signum
                self.received.emit(signum)

    def uninstall(self) -> None:
        self._notifier.setEnabled(False)
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        signal.set_wakeup_fd(self._previous_fd)
        self._reader.close()
        self._writer.close()
