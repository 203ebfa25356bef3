"""The main window: the tabs, the queue and history panels, menus and the status bar.

It composes the pieces and routes between them; each tab owns its own layout and job handling.
The tabs come from one registration list (:data:`studio.ui.tabs.TABS`); the window is their
:class:`~studio.ui.tab_api.TabHost` (Send to, the Models window, the status bar) and never names a tab.
Nothing here imports torch: the worker thread imports it with the first job.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox, QTabWidget, QWidget

from .. import __version__
from ..app import Services, compose
from ..config import Config
from ..jobs.folder_scans import FolderScanner
from ..models.catalog import Catalog
from ..models.folders import ModelFolders
from .history_panel import HistoryPanel
from .icons import tab_icon
from .queue_panel import QueuePanel
from .serve_control import ServeController
from .settings_dialog import SettingsDialog
from .tab_api import TabContext, TabSpec
from .tabs import TABS


class MainWindow(QMainWindow):
    """``tabs`` defaults to :data:`studio.ui.tabs.TABS`; tests pass their own registration list."""

    def __init__(
        self,
        settings,
        library,
        catalog: Catalog | None = None,
        parent: QWidget | None = None,
        *,
        tabs: Sequence[TabSpec] | None = None,
        services: Services | None = None,
        engine_factory=None,
        queue_file=None,
    ) -> None:
        """``services``: what :func:`studio.app.compose` built from the configuration (the job queue, the
        downloads, the catalog); without them (tests) the window composes its own from ``settings`` and the
        environment, with ``engine_factory`` (request kind → engine) replacing the real engines, e.g. with a
        scripted fake, and ``queue_file`` where the queue is written down (None: not kept). ``settings`` store
        the configuration; a changed preference reconfigures the services."""
        super().__init__(parent)
        self.setWindowTitle("Studio")
        self.resize(1280, 820)
        self.settings = settings
        self.library = library
        if services is None:
            # the environment is read once, here as in studio.app (HF_HUB_OFFLINE=1 at launch means offline)
            services = compose(settings.config().with_environment(), library, catalog, engine_factory=engine_factory,
                               queue_file=queue_file, parent=self)
        else:
            services.jobs.setParent(self)
            services.downloads.setParent(self)
        #: offline at launch though the preference is not (the environment said so): holds until the
        #: person flips the Offline preference
        self._forced_offline = services.config.offline and not settings.offline
        self.services = services
        self.catalog = services.catalog
        self.jobs = services.jobs
        self.downloads = services.downloads
        self._models_window = None
        self._warmed = False
        self.serve = ServeController(self.jobs, self.catalog, self)  # Settings → API server

        # tabs, from the one registration list
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tab_specs: tuple[TabSpec, ...] = tuple(TABS if tabs is None else tabs)
        self._tabs: dict[str, QWidget] = {}
        self.servers = services.servers
        context = TabContext(jobs=self.jobs, library=library, catalog=self.catalog, settings=settings, host=self,
                             current_config=self.config, servers=self.servers)
        for spec in self.tab_specs:
            widget = spec.build(context)
            widget.setObjectName(f"{spec.key}Tab")
            self._tabs[spec.key] = widget
            self.tabs.addTab(widget, tab_icon(spec.key), spec.title)
        self.setCentralWidget(self.tabs)
        self.tabs.currentChanged.connect(self._on_tab_changed)

        # panels
        self.queue_panel = QueuePanel(self.jobs)
        kinds = [kind for spec in self.tab_specs for kind in spec.kinds]
        self.history_panel = HistoryPanel(library, kinds)
        self.queue_dock = self._dock("Queue", self.queue_panel, "queueDock")
        self.history_dock = self._dock("History", self.history_panel, "historyDock")
        self.tabifyDockWidget(self.queue_dock, self.history_dock)
        self.queue_dock.raise_()

        self._build_menus()
        self.device_label = QLabel(f"Device: {services.config.device} · {services.config.dtype}")
        self.statusBar().addPermanentWidget(self.device_label)
        if self.jobs.restore_message:  # a crash or a damaged queue file: say so (the Queue panel does too)
            self.statusBar().showMessage(self.jobs.restore_message, 20000)
        else:
            self.statusBar().showMessage("Ready. Models load in the background on first use.", 5000)

        self.downloads.models_changed.connect(self._refresh_pickers)
        # model folders used in place (ComfyUI, A1111, LM Studio, Ollama …): rescanned once the window is up
        self.folder_scanner = FolderScanner(ModelFolders(self.catalog.folders_file), parent=self)
        self.folder_scanner.finished.connect(self._on_folders_rescanned)
        self.jobs.job_output.connect(self._on_output)
        self.jobs.job_failed.connect(self._on_failed)
        self.jobs.job_notice.connect(self._on_notice)
        self.jobs.worker_message.connect(self._on_worker_message)
        self.jobs.job_finished.connect(self._on_finished)
        self.history_panel.item_activated.connect(self.open_saved)
        self.history_panel.reuse_requested.connect(self.reuse_saved)
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
            self.jobs.warm_up()
            if self.folder_scanner.folders.folders():
                self.folder_scanner.rescan()

    @Slot(str, object)
    def _on_folders_rescanned(self, _folder: str, _scans: object) -> None:
        self.catalog.refresh()
        self._refresh_pickers()

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
        self._action(help_menu, "Welcome…", self.show_welcome, tip="Where things live, the GPU, what works offline")
        self._action(help_menu, "About Studio", self.show_about)

    # --- the tabs (studio.ui.tab_api.TabHost) ---
    def tab(self, key: str) -> QWidget | None:
        """The tab registered as ``key`` ('text', 'image', …), or None."""
        return self._tabs.get(key)

    def spec(self, key: str) -> TabSpec | None:
        return next((s for s in self.tab_specs if s.key == key), None)

    def show_tab(self, key: str) -> bool:
        widget = self._tabs.get(key)
        if widget is not None:
            self.tabs.setCurrentWidget(widget)
        return widget is not None

    def send_targets(self, what: str, exclude: str = "") -> list[tuple[str, str]]:
        return [(s.key, s.title) for s in self.tab_specs if what in s.accepts and s.key != exclude]

    def send_text(self, target: str, text: str) -> bool:
        spec = self.spec(target)
        if spec is None or "text" not in spec.accepts or not self._tabs[target].receive_text(text):
            return False
        return self.show_tab(target)

    def send_image(self, target: str, path: str) -> bool:
        spec = self.spec(target)
        if spec is None or "image" not in spec.accepts or not self._tabs[target].receive_image(path):
            return False
        return self.show_tab(target)

    def show_models(self, model_id: str = "") -> None:
        self.show_models_window()
        if model_id:
            self._models_window.select(model_id)

    def current_spec(self) -> TabSpec | None:
        key = next((k for k, w in self._tabs.items() if w is self.tabs.currentWidget()), "")
        return self.spec(key)

    def show_message(self, message: str, timeout_ms: int = 5000) -> None:
        self.statusBar().showMessage(message, timeout_ms)

    @property
    def models_window(self):
        """The Models window once opened (Models → Manage models…), else None."""
        return self._models_window

    # --- actions ---
    @Slot()
    def show_models_window(self) -> None:
        from .models_window import ModelsWindow

        if self._models_window is None:
            self._models_window = ModelsWindow(self.catalog, self.downloads, self, servers=self.services.servers,
                                               keys=self.services.keys)
            self._models_window.models_changed.connect(self._refresh_pickers)
        spec = self.current_spec()
        if spec is not None and spec.modality:  # the models of the tab in front
            self._models_window.show_modality(spec.modality)
        self._models_window.show()
        self._models_window.raise_()

    @Slot(str)
    def download_model(self, model_id: str) -> None:
        """"Download…" after a job failed on a model that is not here: the Models window, downloading it."""
        self.show_models_window()
        window = self._models_window
        if window.select(model_id):
            window.download_selected()
        else:  # a hub id that is not in the catalog
            window.download_repo(model_id)

    @Slot()
    def _refresh_pickers(self) -> None:
        for widget in self._tabs.values():
            widget.refresh_models()

    @Slot()
    def unload_models(self) -> None:
        self.jobs.unload_models()
        self.statusBar().showMessage("Models unloaded; memory freed.", 4000)

    @Slot()
    def show_settings(self) -> None:
        SettingsDialog(self.settings, self, serve=self.serve).exec()

    @Slot()
    def open_output_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.library.root)))

    @Slot()
    def show_welcome(self):
        from .welcome import WelcomeDialog

        dialog = WelcomeDialog(self.library.root, self.catalog, self)
        dialog.open()
        return dialog

    def welcome_first_run(self):
        """The welcome dialog, the first time Studio starts (never again); None when already shown."""
        from .welcome import show_once

        return show_once(self)

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About Studio",
            f"<b>Studio {__version__}</b><br>Text, images, speech and music with models that run on this "
            f"computer. No cloud, no account.<br><br>Outputs: {self.library.root}",
        )

    @Slot(object)
    def open_saved(self, saved) -> bool:
        """History → the tab registered for the item's kind; the system's viewer when no tab can.
        True when a tab opened it."""
        spec = next((s for s in self.tab_specs if saved.kind in s.kinds), None)
        if spec is not None and self._tabs[spec.key].open_item(saved):
            return self.show_tab(spec.key)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(saved.path)))
        return False

    @Slot(object)
    def reuse_saved(self, saved) -> bool:
        """History → "Reuse settings": the item's settings back into the form of its tab, which is shown."""
        spec = next((s for s in self.tab_specs if saved.kind in s.kinds), None)
        if spec is not None and self._tabs[spec.key].reuse_settings(saved):
            self.show_tab(spec.key)
            self.show_message(f"Settings of {saved.path.name} restored in the {spec.title} tab.")
            return True
        self.show_message("Those settings cannot be restored here" + (f" (the {spec.title} tab is busy)." if spec else "."))
        return False

    @Slot(int)
    def _on_tab_changed(self, index: int) -> None:
        """A message in the status bar belongs to the tab it came from (each tab keeps its own in its status line)."""
        self.statusBar().clearMessage()

    # --- job notifications ---
    @Slot(str, object)
    def _on_finished(self, job_id: str, result) -> None:
        stats = getattr(result, "stats", None)
        device = stats.device if stats is not None else ""
        if device:  # what "auto" turned out to be
            self.device_label.setText(f"Device: {device}" + (" (auto)" if self.config().device == "auto" else ""))

    @Slot(str, object)
    def _on_output(self, job_id: str, item) -> None:
        self.history_panel.refresh()
        self.statusBar().showMessage(f"Saved {item.path.name}", 4000)

    @Slot(str, object)
    def _on_failed(self, job_id: str, error) -> None:
        self.statusBar().showMessage(f"Failed: {error}", 10000)

    @Slot(str, str)
    def _on_notice(self, job_id: str, message: str) -> None:
        self.statusBar().showMessage(message, 10000)

    @Slot(str)
    def _on_worker_message(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)

    @Slot(str)
    def _on_setting_changed(self, key: str) -> None:
        if key == "welcome_shown":  # nothing for the worker
            return
        if key == "offline":
            self._forced_offline = False  # the person's own choice now wins over the launch environment
        config = self.settings.config()
        if self._forced_offline:
            config = config.replace(offline=True)
        self.services.reconfigure(config)
        if key == "output_folder":
            self.library.relocate(config.library_folder)
            self.history_panel.refresh()
        self.device_label.setText(f"Device: {config.device} · {config.dtype}")

    def config(self) -> Config:
        """The configuration in force now (what the tabs read through ``TabContext.config``)."""
        return self.services.config

    # --- closing ---
    @Slot(int)
    def quit_for_signal(self, signum: int) -> None:
        """SIGINT, SIGTERM or SIGHUP (:mod:`studio.ui.stop_signals`): quit as a person would (jobs
        cancelled, the worker stopped, child processes ended), without asking."""
        self._ask_before_quit = False
        self.close()

    def closeEvent(self, event) -> None:
        active = self.jobs.active()
        if active and getattr(self, "_ask_before_quit", True) and not os.environ.get("STUDIO_NO_CONFIRM"):
            answer = QMessageBox.question(
                self,
                "Quit Studio?",
                f"{len(active)} job(s) still queued or running. Quit anyway? "
                "Everything already finished is saved in the library"
                + ("; the queued and running jobs come back the next time Studio starts." if self.jobs.persistent
                   else "."),
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.serve.stop()
        self.downloads.shutdown()
        self.folder_scanner.wait()
        if self._models_window is not None:
            self._models_window.deleter.wait()  # a model being deleted is deleted completely
            self._models_window.scanner.wait()
        self.worker_stopped = self.jobs.shutdown(wait_ms=5000)
        super().closeEvent(event)
