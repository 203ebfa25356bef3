"""The queue panel: every job with its state and progress; cancel one or all, clear finished, pause
and resume the queue, move queued jobs up and down, retry a failed or interrupted job.

Rows: the running job first, then the queued ones in the order they will run, then the rest,
newest first. The queue itself (and what survives a restart) is :class:`studio.jobs.JobQueue`'s.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..errors import StudioError

STATE_TEXT = {
    "queued": "Queued",
    "running": "Running",
    "finished": "Done",
    "cancelled": "Cancelled",
    "failed": "Failed",
    "interrupted": "Interrupted",
}
RETRYABLE = ("failed", "interrupted", "cancelled")


class QueuePanel(QWidget):
    def __init__(self, jobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.tree = QTreeWidget()
        self.tree.setObjectName("queueTree")
        self.tree.setHeaderLabels(["Job", "State", "Progress"])
        self.tree.setRootIsDecorated(False)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self._items: dict[str, QTreeWidgetItem] = {}
        self.paused_label = QLabel("")
        self.paused_label.setObjectName("queuePaused")
        self.paused_label.setWordWrap(True)
        self.paused_label.setStyleSheet("color: #a60;")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("queuePause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Start no new job (the running one finishes)")
        self.pause_button.toggled.connect(self._pause_toggled)
        self.up_button = QPushButton("▲")
        self.up_button.setToolTip("Run the selected queued job earlier")
        self.up_button.setMaximumWidth(34)
        self.up_button.clicked.connect(self.move_up)
        self.down_button = QPushButton("▼")
        self.down_button.setToolTip("Run the selected queued job later")
        self.down_button.setMaximumWidth(34)
        self.down_button.clicked.connect(self.move_down)
        self.retry_button = QPushButton("Retry")
        self.retry_button.setObjectName("queueRetry")
        self.retry_button.setToolTip("Queue the selected failed or interrupted job again")
        self.retry_button.clicked.connect(self.retry_selected)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel the selected job (queued jobs never start)")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.cancel_all_button = QPushButton("Cancel all")
        self.cancel_all_button.clicked.connect(jobs.cancel_all)
        clear = QPushButton("Clear")
        clear.setToolTip("Remove finished, failed and cancelled jobs from this list")
        clear.clicked.connect(self.clear_finished)
        row1 = QHBoxLayout()
        row1.addWidget(self.pause_button)
        row1.addWidget(self.up_button)
        row1.addWidget(self.down_button)
        row1.addWidget(self.retry_button)
        row2 = QHBoxLayout()
        row2.addWidget(self.cancel_button)
        row2.addWidget(self.cancel_all_button)
        row2.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.paused_label)
        layout.addWidget(self.tree, 1)
        layout.addLayout(row1)
        layout.addLayout(row2)
        jobs.job_changed.connect(self.update_job)
        jobs.job_removed.connect(self.remove_job)
        jobs.order_changed.connect(self.resort)
        jobs.paused_changed.connect(self.show_paused)
        for job in jobs.jobs():  # what came back from the last run
            self.update_job(job.id)
        self.show_paused(jobs.paused)
        self._update_buttons()

    @Slot(str)
    def update_job(self, job_id: str) -> None:
        job = self.jobs.job(job_id)
        if job is None:
            return
        item = self._items.get(job_id)
        if item is None:
            item = QTreeWidgetItem([job.label, "", ""])
            item.setData(0, Qt.ItemDataRole.UserRole, job_id)
            item.setToolTip(0, job.label)
            self.tree.addTopLevelItem(item)
            self._items[job_id] = item
        old_state = item.text(1)
        item.setText(1, STATE_TEXT.get(job.state, job.state))
        step, total = job.progress
        if job.state == "running":
            text = f"{100 * step // total} %" if total else (job.status or "…")
        elif job.state in ("failed", "interrupted"):
            text = job.error
            item.setToolTip(2, job.error)
        else:
            text = ""
        item.setText(2, text)
        if old_state != item.text(1):
            self.resort()
        self._update_buttons()

    @Slot(str)
    def remove_job(self, job_id: str) -> None:
        item = self._items.pop(job_id, None)
        if item is not None:
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        self._update_buttons()

    @Slot()
    def resort(self) -> None:
        """Running first, then queued in run order, then the others newest first."""
        queued = {job_id: i for i, job_id in enumerate(self.jobs.queued_ids())}

        def rank(job_id: str):
            job = self.jobs.job(job_id)
            if job is None:
                return (3, 0.0)
            if job.state == "running":
                return (0, 0.0)
            if job_id in queued:
                return (1, queued[job_id])
            if job.state == "queued":  # handed to the worker, about to start
                return (0, 1.0)
            return (2, -job.created)

        wanted = sorted(self._items, key=rank)
        current = [self.tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) for i in range(self.tree.topLevelItemCount())]
        if wanted == current:
            return
        selected = {job_id for job_id, item in self._items.items() if item.isSelected()}
        for job_id in current:
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(self._items[job_id]))
        for job_id in wanted:
            self.tree.addTopLevelItem(self._items[job_id])
            self._items[job_id].setSelected(job_id in selected)

    def order(self) -> list[str]:
        """Job ids as the rows show them, top to bottom."""
        return [self.tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) for i in range(self.tree.topLevelItemCount())]

    def state_of(self, job_id: str) -> str:
        item = self._items.get(job_id)
        return item.text(1) if item else ""

    def select(self, job_id: str) -> None:
        self.tree.clearSelection()
        item = self._items.get(job_id)
        if item is not None:
            item.setSelected(True)
            self.tree.setCurrentItem(item)

    def _selected_ids(self) -> list[str]:
        return [item.data(0, Qt.ItemDataRole.UserRole) for item in self.tree.selectedItems()]

    @Slot()
    def _update_buttons(self) -> None:
        ids = self._selected_ids()
        states = [getattr(self.jobs.job(j), "state", "") for j in ids]
        self.up_button.setEnabled(any(s == "queued" for s in states))
        self.down_button.setEnabled(any(s == "queued" for s in states))
        self.retry_button.setEnabled(any(s in RETRYABLE for s in states))

    @Slot(bool)
    def show_paused(self, paused: bool) -> None:
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.blockSignals(False)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setToolTip("Start the queued jobs again" if paused else "Start no new job (the running one finishes)")
        message = getattr(self.jobs, "restore_message", "") if paused else ""
        self.paused_label.setText(message or ("The queue is paused: queued jobs wait." if paused else ""))
        self.paused_label.setVisible(paused)

    @Slot(bool)
    def _pause_toggled(self, paused: bool) -> None:
        self.jobs.set_paused(paused)

    @Slot()
    def move_up(self) -> None:
        self._move(-1)

    @Slot()
    def move_down(self) -> None:
        self._move(1)

    def _move(self, offset: int) -> None:
        for job_id in self._selected_ids():
            self.jobs.move(job_id, offset)

    @Slot()
    def retry_selected(self) -> None:
        for job_id in self._selected_ids():
            try:
                handle = self.jobs.retry(job_id)
            except StudioError as exc:  # the request no longer holds (e.g. a file that is gone)
                self.paused_label.setText(f"Cannot retry: {exc}")
                self.paused_label.show()
                continue
            if handle is not None:
                self.select(handle.id)

    @Slot()
    def cancel_selected(self) -> None:
        for job_id in self._selected_ids():
            self.jobs.cancel(job_id)

    @Slot()
    def clear_finished(self) -> None:
        self.jobs.clear_finished()
        for job_id in list(self._items):
            if self.jobs.job(job_id) is None:
                self.remove_job(job_id)
