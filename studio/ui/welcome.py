"""The first-run welcome: where the library and the models live, whether a GPU was found (and why
not), and what works offline right now. Shown once (Settings ``welcome_shown``); Help → Welcome…
shows it again. The GPU check imports torch, so it runs on a thread of its own."""

from __future__ import annotations

import html

from PySide6.QtCore import QThread, Signal, Slot
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from ..models.system_report import GpuStatus, gpu_status, locations, offline_now


class _GpuCheck(QThread):
    done = Signal(object)  # GpuStatus

    def run(self) -> None:  # noqa: D401 - QThread entry point
        try:
            status = gpu_status()
        except Exception as exc:  # the dialog must say something, whatever happens
            status = GpuStatus(False, f"The GPU check failed ({exc}); Studio runs on the CPU.")
        self.done.emit(status)


class WelcomeDialog(QDialog):
    def __init__(self, library_root, catalog, parent: QWidget | None = None, *, check_gpu: bool = True) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to Studio")
        self.setObjectName("WelcomeDialog")
        self.setMinimumWidth(560)
        intro = QLabel("<h2>Welcome to Studio</h2>Text, images, speech and music with models that run on this "
                       "computer: no cloud, no account.")
        intro.setWordWrap(True)
        where = "".join(f"<li><b>{html.escape(label)}:</b> {html.escape(path)}</li>"
                        for label, path in locations(library_root, catalog))
        self.where = QLabel(f"<b>Where things live</b><ul>{where}</ul>")
        self.where.setWordWrap(True)
        self.gpu = QLabel("<b>GPU</b><br>Checking for a GPU…")
        self.gpu.setObjectName("welcomeGpu")
        self.gpu.setWordWrap(True)
        offline = "".join(f"<li>{html.escape(line.text())}</li>" for line in offline_now(catalog))
        self.offline = QLabel(f"<b>What works offline right now</b><ul>{offline}</ul>")
        self.offline.setObjectName("welcomeOffline")
        self.offline.setWordWrap(True)
        hint = QLabel("Models → Manage models… downloads more models or uses the folders you already have "
                      "(ComfyUI, AUTOMATIC1111, LM Studio, Ollama). Help → Welcome… shows this again.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #666;")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        for widget in (intro, self.where, self.gpu, self.offline, hint):
            layout.addWidget(widget)
        layout.addWidget(buttons)
        self._check = None
        if check_gpu:
            self._check = _GpuCheck(self)
            self._check.done.connect(self.show_gpu)
            self._check.start()

    @Slot(object)
    def show_gpu(self, status: GpuStatus) -> None:
        mark = "✔" if status.found else "ℹ"
        self.gpu.setText(f"<b>GPU</b><br>{mark} {html.escape(status.text)}")

    def wait(self, ms: int = 60_000) -> bool:
        """Wait for the GPU check (tests; closing)."""
        return self._check is None or self._check.wait(ms)

    def done(self, result: int) -> None:  # noqa: D401 - QDialog override
        if self._check is not None:
            self._check.wait(60_000)  # torch is importing: the thread must not outlive the dialog
        super().done(result)


def show_once(window) -> WelcomeDialog | None:
    """The welcome over ``window`` the first time (``settings.welcome_shown``), never again."""
    if window.settings.welcome_shown:
        return None
    window.settings.welcome_shown = True
    dialog = WelcomeDialog(window.library.root, window.catalog, window)
    dialog.open()
    return dialog
