"""Deleting models in the background: removing gigabytes from the Hugging Face cache takes a
while, so it runs on a QThread of its own and the Models window stays responsive.

:class:`ModelDeleter` starts one thread per deletion (never the model worker's thread, never a
download's) running :func:`studio.models.download.delete_model`; its public signals arrive on the
main thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..errors import describe
from ..models.catalog import Catalog, ModelEntry

log = logging.getLogger(__name__)

DeleteFn = Callable[[ModelEntry, Catalog], int]  # delete_model(entry, catalog) -> bytes freed


class _DeleteThread(QThread):
    ended = Signal(str, bool, object)  # model id, deleted?, bytes freed (int) or a message

    def __init__(self, entry: ModelEntry, catalog: Catalog, delete_fn: DeleteFn, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName(f"Delete {entry.id}")
        self.entry = entry
        self._catalog = catalog
        self._delete = delete_fn

    def run(self) -> None:  # noqa: D401 - QThread entry point
        try:
            freed = self._delete(self.entry, self._catalog)
        except Exception as exc:  # a failed deletion reaches the window as a message
            log.warning("deleting %s failed: %s", self.entry.id, exc)
            self.ended.emit(self.entry.id, False, describe(exc))
        else:
            self.ended.emit(self.entry.id, True, int(freed or 0))


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
        self._threads: dict[str, _DeleteThread] = {}

    def start(self, entry: ModelEntry) -> bool:
        """Delete ``entry`` in the background; False when its deletion is already running."""
        if entry.id in self._threads:
            return False
        thread = _DeleteThread(entry, self._catalog, self._delete_fn, parent=self)
        thread.ended.connect(self._on_ended)
        self._threads[entry.id] = thread
        thread.start()
        self.started.emit(entry.id)
        return True

    def is_active(self, model_id: str) -> bool:
        return model_id in self._threads

    def active(self) -> list[str]:
        return list(self._threads)

    def wait(self, wait_ms: int = 30_000) -> bool:
        """Wait for running deletions (closing); True when none is left running."""
        return all(thread.wait(wait_ms) for thread in list(self._threads.values()))

    @Slot(str, bool, object)
    def _on_ended(self, model_id: str, ok: bool, payload: object) -> None:
        thread = self._threads.pop(model_id, None)
        if thread is not None:
            thread.wait(2000)  # run() has returned or is about to
            thread.deleteLater()
        self._catalog.refresh()
        if ok:
            self.finished.emit(model_id, payload)
        else:
            self.failed.emit(model_id, str(payload))
