"""Deleting models in the background: removing gigabytes from the Hugging Face cache takes a
while, so it runs as a :class:`~studio.jobs.background.Background` task and the Models window stays
responsive.

:class:`ModelDeleter` runs :func:`studio.models.download.delete_model` off the UI thread (never the model
worker's thread, never a download's); its public signals arrive on the main thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from ..errors import describe
from ..models.catalog import Catalog, ModelEntry
from .background import Background, Task

log = logging.getLogger(__name__)

DeleteFn = Callable[[ModelEntry, Catalog], int]  # delete_model(entry, catalog) -> bytes freed


class ModelDeleter(QObject):
    """Deletes models off the UI thread. ``delete_fn`` defaults to ``delete_model``."""

    started = Signal(str)  # model id
    finished = Signal(str, object)  # model id, bytes freed (an int; may exceed 2**31)
    failed = Signal(str, str)  # model id, a message for a person

    def __init__(self, catalog: Catalog, delete_fn: DeleteFn | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if delete_fn is None:
            from ..models.download import delete_model as delete_fn
        self._catalog = catalog
        self._delete_fn = delete_fn
        self._background = Background(self, threads=2)
        self._tasks: dict[str, Task] = {}

    def start(self, entry: ModelEntry) -> bool:
        """Delete ``entry`` in the background; False when its deletion is already running."""
        if entry.id in self._tasks:
            return False
        self._tasks[entry.id] = self._background.start(
            self._delete_fn, entry, self._catalog, key=entry.id, returned=self._on_returned, errored=self._on_errored
        )
        self.started.emit(entry.id)
        return True

    def is_active(self, model_id: str) -> bool:
        return model_id in self._tasks

    def active(self) -> list[str]:
        return list(self._tasks)

    def wait(self, wait_ms: int = 30_000) -> bool:
        """Wait for running deletions (closing); True when none is left running."""
        return self._background.wait(wait_ms)

    def _end(self) -> str:
        model_id = self.sender().key
        self._tasks.pop(model_id, None)
        self._catalog.refresh()
        return model_id

    @Slot(object)
    def _on_returned(self, freed: object) -> None:
        model_id = self._end()
        self.finished.emit(model_id, int(freed or 0))

    @Slot(object)
    def _on_errored(self, exc: object) -> None:
        model_id = self._end()
        log.warning("deleting %s failed: %s", model_id, exc)  # a failed deletion reaches the window as a message
        self.failed.emit(model_id, describe(exc))
