"""Models → Add server…: an OpenAI-compatible text server or a ComfyUI server, its optional API key, and
the list of its models (``GET /v1/models`` or ComfyUI's ``/object_info``), asked off the UI thread.

On OK the server (URL, kind, models) goes into :class:`~studio.models.servers.ServerList` and the key
into the :class:`~studio.engines.remote.keys.KeyStore` (the OS keyring; this session only where there
is none, which :attr:`ServerDialog.notice` then says). The pickers list its models after that.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QMenu,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..errors import describe
from ..jobs.background import Background
from ..models.servers import KIND_LABELS, Server, ServerList

PLACEHOLDERS = {"openai": "http://127.0.0.1:8080/v1", "comfyui": "http://127.0.0.1:8188"}


class ServerDialog(QDialog):
    def __init__(self, servers: ServerList, keys, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add server")
        self.setObjectName("ServerDialog")
        self.servers, self.keys = servers, keys
        self.notice = ""  # what the person should know after OK (a key kept for this session only)
        self.background = Background(self)
        self.kind = QComboBox()
        for kind, label in KIND_LABELS.items():
            self.kind.addItem(label, kind)
        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        self.url = QLineEdit()
        self.url.textEdited.connect(self._on_edited)
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("API key or token (optional; kept in the system keyring)")
        self.key.textEdited.connect(self._on_edited)
        self.connect_button = QPushButton("List models")
        self.connect_button.clicked.connect(self.list_models)
        row = QHBoxLayout()
        row.addWidget(self.url, 1)
        row.addWidget(self.connect_button)
        self.models = QListWidget()
        self.status = QLabel("Type the server's address, then List models.")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Kind", self.kind)
        form.addRow("Address", row)
        form.addRow("API key", self.key)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.models, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self._on_kind_changed()
        self._listed: list[str] = []
        self._set_ok()

    def server_kind(self) -> str:
        return self.kind.currentData()

    @Slot()
    def _on_kind_changed(self, _index: int = 0) -> None:
        self.url.setPlaceholderText(PLACEHOLDERS[self.server_kind()])
        self._on_edited()

    @Slot()
    def _on_edited(self, _text: str = "") -> None:
        self._listed = []
        self.models.clear()
        self._set_ok()

    def _set_ok(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(getattr(self, "_listed", [])))

    @Slot()
    def list_models(self) -> None:
        from ..engines.remote.servers import fetch_models
        from ..requests import check_endpoint

        url = self.url.text().strip().rstrip("/")
        try:
            check_endpoint(url, "the address")
        except Exception as exc:
            self.status.setText(describe(exc))
            return
        self.connect_button.setEnabled(False)
        self.status.setText(f"Asking {url}…")
        self.background.start(fetch_models, self.server_kind(), url, self.key.text().strip() or None, key=url,
                              returned=self._on_listed, errored=self._on_failed, finished=self._on_finished)

    @Slot(object)
    def _on_listed(self, names: list) -> None:
        self._listed = list(names)
        self.models.clear()
        self.models.addItems(self._listed)
        if self._listed:
            self.status.setText(f"{len(self._listed)} model(s). OK adds the server; its models join the pickers.")
        else:
            self.status.setText("The server answered but lists no models.")
        self._set_ok()

    @Slot(object)
    def _on_failed(self, error: object) -> None:
        self.status.setText(describe(error) if isinstance(error, BaseException) else str(error))

    @Slot()
    def _on_finished(self) -> None:
        self.connect_button.setEnabled(True)

    def accept(self) -> None:
        if not self._listed:
            return
        url = self.url.text().strip().rstrip("/")
        self.servers.put(Server(url, self.server_kind(), models=tuple(self._listed)))
        key = self.key.text().strip()
        if key:
            saved = self.keys.set(url, key)
            self.notice = saved.message
        else:
            self.keys.delete(url)
        super().accept()

    def done(self, result: int) -> None:
        self.background.cancel_all()
        super().done(result)


class ServerMenu(QMenu):
    """The Models window's Servers menu: Add server…, and Remove for each server added (its key leaves the
    keyring too). ``changed(message)`` after either, for the window's status line and the pickers."""

    changed = Signal(str)

    def __init__(self, servers: ServerList, keys, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.servers, self.keys = servers, keys
        self.aboutToShow.connect(self.rebuild)
        self.rebuild()

    @Slot()
    def rebuild(self) -> None:
        self.clear()
        self.addAction("Add server…").triggered.connect(self.add)
        listed = self.servers.all()
        if listed:
            self.addSeparator()
        for server in listed:
            action = self.addAction(f"Remove {server.label} ({len(server.models)} model(s))")
            action.setData(server.url)
            action.triggered.connect(self._remove_triggered)

    @Slot()
    def add(self) -> None:
        dialog = ServerDialog(self.servers, self.keys, self.parentWidget())
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.changed.emit(dialog.notice or "Server added: its models are in the pickers.")

    @Slot()
    def _remove_triggered(self) -> None:
        self.remove(self.sender().data())

    def remove(self, url: str) -> None:
        self.servers.remove(url)
        self.keys.delete(url)
        self.changed.emit(f"Removed the server {url} and its key.")
