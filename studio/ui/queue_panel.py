"""The queue panel: every job with its state and progress; cancel one or all, clear finished."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

STATE_TEXT = {
    "queued": "Queued",
    "running": "Running",
    "finished": "Done",
    "cancelled": "Cancelled",
    "failed": "Failed",
}


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
        self._items: dict[str, QTreeWidgetItem] = {}
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel the selected job (queued jobs never start)")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.cancel_all_button = QPushButton("Cancel all")
        self.cancel_all_button.clicked.connect(jobs.cancel_all)
        clear = QPushButton("Clear")
        clear.setToolTip("Remove finished, failed and cancelled jobs from this list")
        clear.clicked.connect(self.clear_finished)
        row = QHBoxLayout()
        row.addWidget(self.cancel_button)
        row.addWidget(self.cancel_all_button)
        row.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tree, 1)
        layout.addLayout(row)
        jobs.job_changed.connect(self.update_job)

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
            self.tree.insertTopLevelItem(0, item)
            self._items[job_id] = item
        item.setText(1, STATE_TEXT.get(job.state, job.state))
        step, total = job.progress
        if job.state == "running":
            text = f"{100 * step // total} %" if total else (job.status or "…")
        elif job.state == "failed":
            text = job.error
            item.setToolTip(2, job.error)
        else:
            text = ""
        item.setText(2, text)

    def state_of(self, job_id: str) -> str:
        item = self._items.get(job_id)
        return item.text(1) if item else ""

    @Slot()
    def cancel_selected(self) -> None:
        for item in self.tree.selectedItems():
            self.jobs.cancel(item.data(0, Qt.ItemDataRole.UserRole))

    @Slot()
    def clear_finished(self) -> None:
        self.jobs.clear_finished()
        for job_id in list(self._items):
            if self.jobs.job(job_id) is None:
                item = self._items.pop(job_id)
                self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
