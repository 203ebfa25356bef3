"""The main window: the tabs, the queue and history panels, menus and the status bar.

It composes the pieces and routes between them; each tab owns its own layout and job handling.
Nothing here imports torch: the worker thread imports it with the first job.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from .. import __version__
from ..engines.base import Runtime
from ..jobs import JobQueue
from ..jobs.downloads import DownloadManager
from ..models.cache import ModelCache
from ..models.catalog import Catalog
from .history_panel import HistoryPanel
from .image.tab import ImageTab
from .queue_panel import QueuePanel
from .settings_dialog import SettingsDialog
from .text.tab import TextTab


class RuntimeFactory:
    """Builds the worker's Runtime from a snapshot of the settings (taken on the main thread)."""

    def __init__(self, catalog: Catalog, device: str, dtype: str, budget_gb: float, offline: bool) -> None:
        self.catalog = catalog
        self.device, self.dtype, self.budget_gb, self.offline = device, dtype, budget_gb, offline

    def __call__(self) -> Runtime:  # runs on the worker thread
        runtime = Runtime(cache=ModelCache(), catalog=self.catalog)
        self.apply(runtime)
        return runtime

    def apply(self, runtime: Runtime) -> None:  # runs on the worker thread
        from ..models.device import auto_budget, choose

        if (runtime.device, runtime.dtype) != (self.device, self.dtype):
            runtime.cache.unload()  # models on the old device would only hold memory
        runtime.device, runtime.dtype = self.device, self.dtype
        runtime.offline = self.offline or None
        if self.budget_gb > 0:
            runtime.cache.budget_bytes = int(self.budget_gb * 1024**3)
        else:
            runtime.cache.budget_bytes = auto_budget(choose(self.device, self.dtype).device)


def warm_up_libraries(runtime: Runtime) -> None:
    """Runs on the worker thread: import the heavy libraries before the first job needs them."""
    import importlib

    for name in ("torch", "transformers", "studio.engines.text"):
        importlib.import_module(name)
    importlib.import_module("studio.engines.text_llama").import_llama()  # GGUF models (the bundled one)


class ComingSoon(QWidget):
    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        label = QLabel(text)
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setStyleSheet("color: #777; font-size: 14px;")
        layout = QVBoxLayout(self)
        layout.addWidget(label)


class MainWindow(QMainWindow):
    def __init__(self, settings, library, catalog: Catalog | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Studio")
        self.resize(1280, 820)
        self.settings = settings
        self.library = library
        self.catalog = catalog or Catalog()
        if settings.offline:
            os.environ["HF_HUB_OFFLINE"] = "1"
        self._factory = RuntimeFactory(
            self.catalog, settings.device, settings.dtype, settings.memory_budget_gb, settings.offline
        )
        self.jobs = JobQueue(library, self._factory, parent=self)
        self.downloads = DownloadManager(parent=self)
        self._models_window = None
        self._warmed = False

        # tabs
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.text_tab = TextTab(self.jobs, library, self.catalog, settings=settings)
        self.tabs.addTab(self.text_tab, "Text")
        self.image_tab = ImageTab(self.jobs, library, self.catalog)
        self.tabs.addTab(self.image_tab, "Image")
        self.tabs.addTab(
            ComingSoon("Speech: text to speech with the bundled Piper voice and Coqui XTTS arrives in the next release."),
            "Speech",
        )
        self.tabs.addTab(ComingSoon("Music: text to music with MusicGen arrives in a later release."), "Music")
        self.tabs.addTab(
            ComingSoon("Canvas: paint a mask to inpaint or extend the picture to outpaint — coming next."), "Canvas"
        )
        self.setCentralWidget(self.tabs)
        self.text_tab.send_to.connect(self.route_text)
        self.text_tab.set_send_targets({"image"})

        # panels
        self.queue_panel = QueuePanel(self.jobs)
        self.history_panel = HistoryPanel(library)
        self.queue_dock = self._dock("Queue", self.queue_panel, "queueDock")
        self.history_dock = self._dock("History", self.history_panel, "historyDock")
        self.tabifyDockWidget(self.queue_dock, self.history_dock)
        self.queue_dock.raise_()

        self._build_menus()
        self.device_label = QLabel(f"Device: {settings.device} · {settings.dtype}")
        self.statusBar().addPermanentWidget(self.device_label)
        self.statusBar().showMessage("Ready. Models load in the background on first use.", 5000)

        self.downloads.models_changed.connect(self._refresh_pickers)
        self.jobs.job_output.connect(self._on_output)
        self.jobs.job_failed.connect(self._on_failed)
        self.jobs.job_notice.connect(self._on_notice)
        self.jobs.worker_message.connect(self._on_worker_message)
        self.jobs.job_finished.connect(self._on_finished)
        self.history_panel.item_activated.connect(self.open_saved)
        self.settings.changed.connect(self._on_setting_changed)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._warmed:
            self._warmed = True
            self.resizeDocks([self.queue_dock], [230], Qt.Orientation.Horizontal)  # the tabs get the room
            # once the window is up, let the worker import torch & co. so the first job starts sooner
            QTimer.singleShot(1500, self._warm_up)

    @Slot()
    def _warm_up(self) -> None:
        if self.isVisible():  # not when the window was closed before the timer fired
            self.jobs.run_in_worker(warm_up_libraries)

    def _dock(self, title: str, widget: QWidget, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        if tip:
            action.setToolTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "Open output folder", self.open_output_folder)
        file_menu.addSeparator()
        self._action(file_menu, "Quit", self.close, QKeySequence.StandardKey.Quit)

        models_menu = bar.addMenu("&Models")
        self._action(models_menu, "Manage models…", self.show_models_window, QKeySequence("Ctrl+M"))
        self._action(models_menu, "Unload all models", self.unload_models, tip="Free the memory held by loaded models")

        settings_menu = bar.addMenu("&Settings")
        self._action(settings_menu, "Preferences…", self.show_settings, QKeySequence("Ctrl+,"))

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "About Studio", self.show_about)

    # --- actions ---
    @Slot()
    def show_models_window(self) -> None:
        from .models_window import ModelsWindow

        if self._models_window is None:
            self._models_window = ModelsWindow(self.catalog, self.downloads, self)
            self._models_window.models_changed.connect(self._refresh_pickers)
        self._models_window.show()
        self._models_window.raise_()

    @Slot()
    def _refresh_pickers(self) -> None:
        for tab in (self.text_tab, self.image_tab):
            tab.model_picker.refresh()

    @Slot()
    def unload_models(self) -> None:
        self.jobs.unload_models()
        self.statusBar().showMessage("Models unloaded; memory freed.", 4000)

    @Slot()
    def show_settings(self) -> None:
        SettingsDialog(self.settings, self).exec()

    @Slot()
    def open_output_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.library.root)))

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About Studio",
            f"<b>Studio {__version__}</b><br>Text, images, speech and music with models that run on this "
            f"computer. No cloud, no account.<br><br>Outputs: {self.library.root}",
        )

    @Slot(str, str)
    def route_text(self, target: str, text: str) -> None:
        """"Send to …" from the Text tab."""
        if target == "image":
            self.image_tab.set_prompt(text)
            self.tabs.setCurrentWidget(self.image_tab)

    @Slot(object)
    def open_saved(self, saved) -> None:
        """History → the tab that made it: images in the Image tab, replies in their conversation."""
        conv_id = (saved.params.get("conversation") or {}).get("id") or saved.params.get("conversation_id")
        if saved.kind == "image":
            self.image_tab.show_saved(saved)
            self.tabs.setCurrentWidget(self.image_tab)
        elif saved.kind == "text" and conv_id and self.text_tab.current_job is None:
            self.text_tab.open_conversation(conv_id)
            self.tabs.setCurrentWidget(self.text_tab)
        else:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(saved.path)))

    # --- job notifications ---
    @Slot(str, object)
    def _on_finished(self, job_id: str, result) -> None:
        device = (getattr(result, "stats", None) or {}).get("device")
        if device:  # what "auto" turned out to be
            self.device_label.setText(f"Device: {device}" + (" (auto)" if self.settings.device == "auto" else ""))

    @Slot(str, object)
    def _on_output(self, job_id: str, item) -> None:
        self.history_panel.refresh()
        self.statusBar().showMessage(f"Saved {item.path.name}", 4000)

    @Slot(str, str)
    def _on_failed(self, job_id: str, message: str) -> None:
        self.statusBar().showMessage(f"Failed: {message}", 10000)

    @Slot(str, str)
    def _on_notice(self, job_id: str, message: str) -> None:
        self.statusBar().showMessage(message, 10000)

    @Slot(str)
    def _on_worker_message(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)

    @Slot(str)
    def _on_setting_changed(self, key: str) -> None:
        s = self.settings
        if key == "output_folder":
            self.library.relocate(s.output_folder)
            self.history_panel.refresh()
            return
        if key == "offline":
            if s.offline:
                os.environ["HF_HUB_OFFLINE"] = "1"
            else:
                os.environ.pop("HF_HUB_OFFLINE", None)
        self._factory = RuntimeFactory(self.catalog, s.device, s.dtype, s.memory_budget_gb, s.offline)
        self.jobs.run_in_worker(self._factory.apply)
        self.device_label.setText(f"Device: {s.device} · {s.dtype}")

    # --- closing ---
    def closeEvent(self, event) -> None:
        active = self.jobs.active()
        if active and not os.environ.get("STUDIO_NO_CONFIRM"):
            answer = QMessageBox.question(
                self,
                "Quit Studio?",
                f"{len(active)} job(s) still queued or running. Quit anyway? "
                "Everything already finished is saved in the library.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.downloads.shutdown()
        self.worker_stopped = self.jobs.shutdown(wait_ms=5000)
        super().closeEvent(event)
