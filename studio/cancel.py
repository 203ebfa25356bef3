"""The cancel token: a one-way flag set from any thread (the UI, the queue) and checked by the engine.

A leaf module, so that :mod:`studio.models` (downloads) and :mod:`studio.engines` can both use it
without importing each other.
"""

from __future__ import annotations

import threading

from .errors import Cancelled


class CancelToken:
    """A one-way flag set from any thread and checked by the engine between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`~studio.errors.Cancelled` once :meth:`cancel` was called."""
        if self._event.is_set():
            raise Cancelled()
