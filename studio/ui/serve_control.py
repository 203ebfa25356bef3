"""Settings → API server: start and stop ``studio serve`` inside the window, over the window's own job queue
(its jobs show in the Queue panel like the tabs' jobs). The window serves this computer only (127.0.0.1);
serving the network, with a key, is the command line's ``studio serve --host … --api-key-env …``."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QWidget

from ..errors import StudioError, describe

DEFAULT_PORT = 8765


class ServeController(QObject):
    """Owns the running server (one at a time); ``changed(url)`` with "" once stopped."""

    changed = Signal(str)

    def __init__(self, jobs, catalog, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs, self.catalog = jobs, catalog
        self._server = None

    @property
    def url(self) -> str:
        return self._server.url if self._server is not None else ""

    def start(self, port: int = DEFAULT_PORT) -> str:
        """Serve on 127.0.0.1:``port`` (0: any free port); the URL. StudioError when it cannot."""
        from ..serve.server import ServeServer

        self.stop()
        server = ServeServer(self.jobs, host="127.0.0.1", port=port, catalog=self.catalog)
        server.start()
        self._server = server
        self.changed.emit(server.url)
        return server.url

    @Slot()
    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            self.changed.emit("")


class ServeControl(QWidget):
    """The row in Settings: port, Start/Stop, and the URL to give an OpenAI client."""

    def __init__(self, controller: ServeController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(DEFAULT_PORT)
        self.button = QPushButton()
        self.button.clicked.connect(self.toggle)
        self.label = QLabel()
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setWordWrap(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.port)
        row.addWidget(self.button)
        row.addWidget(self.label, 1)
        controller.changed.connect(self.show_state)
        self.show_state(controller.url)

    @Slot(str)
    def show_state(self, url: str) -> None:
        self.button.setText("Stop" if url else "Start")
        self.port.setEnabled(not url)
        self.label.setText(f"Serving on {url} (OpenAI-compatible; this computer only)" if url
                           else "Off: other programs can use Studio's models through an OpenAI-compatible API.")

    @Slot()
    def toggle(self) -> None:
        if self.controller.url:
            self.controller.stop()
            return
        try:
            self.controller.start(self.port.value())
        except StudioError as exc:
            self.label.setText(describe(exc))
