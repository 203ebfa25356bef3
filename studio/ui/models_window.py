"""The Models window: every model Studio knows, per modality, with its state on this computer.

One table per modality (Text, Image, Speech, Music): name, state (bundled / downloaded /
downloadable / local / missing / downloading 42 %), size, memory needed and licence. Actions:
Download, Cancel, Delete, Add a local file or folder, Open folder, and download any hub id.

Qt widgets only: the catalog reads the disk (no network, no torch); downloads run in the
:class:`~studio.jobs.downloads.DownloadManager`'s own threads and deletions in the
:class:`~studio.jobs.deletions.ModelDeleter`'s, both reporting back through signals, so the window
stays responsive while gigabytes arrive or leave.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..errors import StudioError
from ..jobs.deletions import ModelDeleter
from ..jobs.folder_scans import FolderScanner
from ..models.catalog import MODALITIES, Catalog, ModelEntry, bundled_path, human_size
from ..models.hub_cache import hub_snapshot
from ..models.entry import restricted_licence
from ..models.folders import ModelFolders

COLUMNS = ("Name", "State", "Size", "Memory", "Licence")
COL_NAME, COL_STATE, COL_SIZE, COL_MEMORY, COL_LICENCE = range(len(COLUMNS))
TAB_TITLES = {"text": "Text", "image": "Image", "speech": "Speech", "music": "Music", "image-tools": "Image tools"}


def _percent(done: int, total: int) -> int:
    return int(100 * done / total) if total > 0 else 0


class ModelsWindow(QDialog):
    """Lists the catalog per modality and manages downloads and local models.

    ``models_changed`` fires after a download finished, a local model was added or a model was
    deleted: connect each tab's :meth:`ModelPicker.refresh` to it.
    """

    models_changed = Signal()

    def __init__(
        self, catalog: Catalog, download_manager, parent: QWidget | None = None, *, deleter: ModelDeleter | None = None,
        servers=None, keys=None,
    ) -> None:
        super().__init__(parent)
        self.servers, self.keys = servers, keys  # Add server…: the servers list and the API keys
        self.setWindowTitle("Models")
        self.setObjectName("ModelsWindow")
        self.resize(980, 560)
        self.catalog = catalog
        self.downloads = download_manager
        self.deleter = deleter if deleter is not None else ModelDeleter(catalog, parent=self)
        self._entries: dict[str, ModelEntry] = {}
        self._rows: dict[str, tuple[str, int]] = {}  # model id -> (modality, row)

        # --- tables, one per modality ---
        self.tabs = QTabWidget()
        self.tables: dict[str, QTableWidget] = {}
        for modality in MODALITIES:
            table = QTableWidget(0, len(COLUMNS))
            table.setObjectName(f"models_{modality}")
            table.setHorizontalHeaderLabels(COLUMNS)
            table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.verticalHeader().setVisible(False)
            header = table.horizontalHeader()
            header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
            for col in (COL_STATE, COL_SIZE, COL_MEMORY, COL_LICENCE):
                header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
            table.itemSelectionChanged.connect(self._on_selection_changed)
            self.tables[modality] = table
            self.tabs.addTab(table, TAB_TITLES.get(modality, modality.title()))
        self.tabs.currentChanged.connect(self._on_tab_changed)

        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setMinimumHeight(48)

        # --- actions ---
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip("Download the selected model from the Hugging Face hub (resumes if stopped)")
        self.download_button.clicked.connect(self.download_selected)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the download; what arrived is kept and the next download resumes")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip(
            "Delete a downloaded model from the disk, or remove a local model from the list (its files stay)"
        )
        self.delete_button.clicked.connect(self._on_delete_clicked)
        self.add_button = QPushButton("Add local file or folder…")
        add_menu = QMenu(self.add_button)
        add_menu.addAction("Model file (.gguf, .safetensors, .onnx)…", self._choose_file)
        add_menu.addAction("Model folder (transformers, diffusers)…", self._choose_folder)
        add_menu.addAction("Embedding (textual inversion, .safetensors)…", self._choose_embedding)
        add_menu.addSeparator()
        add_menu.addAction("Rescan model folders", self.rescan_folders)
        self.add_button.setMenu(add_menu)
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.setObjectName("addModelFolder")
        self.add_folder_button.setToolTip(
            "Use the models you already have where they are: a ComfyUI, AUTOMATIC1111/Forge, LM Studio, GPT4All "
            "or Ollama folder, or a Hugging Face cache. Nothing is copied; rescanned at every start.")
        self.add_folder_button.clicked.connect(self._choose_library_folder)
        self.scanner = FolderScanner(ModelFolders(catalog.folders_file), parent=self)
        self.scanner.finished.connect(self._on_scan_finished)
        self.scanner.failed.connect(self._on_scan_failed)
        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip("Show the model's files")
        self.open_button.clicked.connect(self.open_selected_folder)
        buttons = QHBoxLayout()
        for b in (self.download_button, self.cancel_button, self.delete_button, self.open_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.add_folder_button)
        buttons.addWidget(self.add_button)
        self.server_button = QPushButton("Servers")
        self.server_button.setToolTip("Add an OpenAI-compatible text server or a ComfyUI server (its models join the "
                                      "pickers), or remove one")
        self.server_button.setVisible(servers is not None)
        if servers is not None:
            from .server_dialog import ServerMenu

            self.server_menu = ServerMenu(servers, keys, self)
            self.server_menu.changed.connect(self._on_servers_changed)
            self.server_button.setMenu(self.server_menu)
        buttons.addWidget(self.server_button)

        self.hub_id_edit = QLineEdit()
        self.hub_id_edit.setPlaceholderText("Any model on the Hugging Face hub: org/name")
        self.hub_id_edit.returnPressed.connect(self._on_hub_download_clicked)
        self.hub_button = QPushButton("Download from hub")
        self.hub_button.clicked.connect(self._on_hub_download_clicked)
        hub_row = QHBoxLayout()
        hub_row.addWidget(self.hub_id_edit, 1)
        hub_row.addWidget(self.hub_button)

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("models_status")

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.details)
        layout.addLayout(buttons)
        layout.addLayout(hub_row)
        layout.addWidget(self.status)

        # --- downloads report here (queued to the main thread by the manager) ---
        self.downloads.started.connect(self._on_download_started)
        self.downloads.progress.connect(self._on_download_progress)
        self.downloads.finished.connect(self._on_download_finished)
        self.downloads.failed.connect(self._on_download_failed)
        self.downloads.cancelled.connect(self._on_download_cancelled)
        self.deleter.started.connect(self._on_delete_started)
        self.deleter.finished.connect(self._on_delete_finished)
        self.deleter.failed.connect(self._on_delete_failed)

        self.refresh()

    # --- listing ---
    @Slot()
    def refresh(self) -> None:
        """Re-read the catalog and every state (the cache scan is reused unless the disk changed)."""
        selected = self.selected_id()
        self._entries.clear()
        self._rows.clear()
        for modality, table in self.tables.items():
            entries = self.catalog.entries(modality, include_cached=True)
            table.setRowCount(len(entries))
            for row, entry in enumerate(entries):
                self._entries[entry.id] = entry
                self._rows[entry.id] = (modality, row)
                self._fill_row(table, row, entry)
        if selected in self._rows:
            self.select(selected)
        self._update_buttons()
        if self.catalog.damaged:
            self._say(self.catalog.damaged)

    def _fill_row(self, table: QTableWidget, row: int, entry: ModelEntry) -> None:
        name = QTableWidgetItem(entry.name)
        name.setData(Qt.ItemDataRole.UserRole, entry.id)
        name.setToolTip(entry.description or entry.repo_id or entry.path)
        size = entry.size_bytes or self._disk_bytes(entry)
        cells = {
            COL_NAME: name,
            COL_STATE: QTableWidgetItem(self._state_text(entry)),
            COL_SIZE: QTableWidgetItem(human_size(size) if size else "?"),
            COL_MEMORY: QTableWidgetItem(human_size(entry.memory_bytes) if entry.memory_bytes else "?"),
            COL_LICENCE: QTableWidgetItem(entry.licence or "—"),
        }
        if entry.licence:
            cells[COL_LICENCE].setToolTip(entry.licence)
        for col, item in cells.items():
            table.setItem(row, col, item)

    def _disk_bytes(self, entry: ModelEntry) -> int:
        repo = self.catalog.cached_repos().get(entry.repo_id) if entry.repo_id else None
        return repo.size_bytes if repo is not None else 0

    def _state_text(self, entry: ModelEntry) -> str:
        if self.deleter.is_active(entry.id):
            return "deleting…"
        if self.downloads.is_active(entry.id):
            done, total = self.downloads.progress_of(entry.id) or (0, 0)
            return f"downloading {_percent(done, total)} %"
        state = self.catalog.state(entry)
        if state == "downloadable":
            repo = self.catalog.cached_repos().get(entry.repo_id)
            if repo is not None and repo.size_bytes:
                return f"downloadable ({human_size(repo.size_bytes)} kept, resumes)"
        return state

    # --- selection ---
    def current_modality(self) -> str:
        return MODALITIES[self.tabs.currentIndex()]

    def selected_id(self) -> str:
        table = self.tables[self.current_modality()]
        rows = table.selectionModel().selectedRows() if table.selectionModel() else []
        if not rows:
            return ""
        item = table.item(rows[0].row(), COL_NAME)
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else ""

    def selected_entry(self) -> ModelEntry | None:
        return self._entries.get(self.selected_id())

    def show_modality(self, modality: str) -> bool:
        """Show the list of one modality ('text', 'image', …); False when there is none."""
        if modality not in MODALITIES:
            return False
        self.tabs.setCurrentIndex(MODALITIES.index(modality))
        return True

    def select(self, model_id: str) -> bool:
        """Show the model's tab and select its row."""
        where = self._rows.get(model_id)
        if where is None:
            return False
        modality, row = where
        self.tabs.setCurrentIndex(MODALITIES.index(modality))
        self.tables[modality].selectRow(row)
        self._update_buttons()
        return True

    # --- what tests and the main window read ---
    def model_ids(self, modality: str) -> list[str]:
        table = self.tables[modality]
        return [table.item(r, COL_NAME).data(Qt.ItemDataRole.UserRole) for r in range(table.rowCount())]

    def cell_text(self, model_id: str, column: int) -> str:
        modality, row = self._rows[model_id]
        item = self.tables[modality].item(row, column)
        return item.text() if item is not None else ""

    def state_text(self, model_id: str) -> str:
        return self.cell_text(model_id, COL_STATE)

    # --- actions ---
    @Slot()
    def download_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or entry.source != "hub" or self.deleter.is_active(entry.id):
            return
        if restricted_licence(entry) and not os.environ.get("STUDIO_NO_CONFIRM"):
            answer = QMessageBox.question(
                self,
                "Licence",
                f"{entry.name} comes under its own licence:\n\n{entry.licence}\n\n"
                "Its results may not be free to use for everything (e.g. commercially), and a gated repository "
                "must be accepted on the hub first. Download it?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        if self.downloads.start(entry):
            self._say(f"Downloading {entry.name}…")

    @Slot()
    def cancel_selected(self) -> None:
        entry = self.selected_entry()
        if entry is not None and self.downloads.is_active(entry.id):
            self.downloads.cancel(entry.id)
            self._set_state_cell(entry.id, "cancelling…")

    @Slot()
    def _on_delete_clicked(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            return
        if not os.environ.get("STUDIO_NO_CONFIRM"):
            if entry.source == "local":
                question = f"Remove '{entry.name}' from Studio's list? Its files stay where they are:\n{entry.path}"
            else:
                question = f"Delete '{entry.name}' from the disk? You can download it again later."
            answer = QMessageBox.question(self, "Delete model", question)
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.delete_entry(entry.id)

    def delete_entry(self, model_id: str) -> bool:
        """Start deleting a downloaded model, or forgetting a local one (never touching the person's
        files), off the UI thread; True when it started. ``models_changed`` follows when done."""
        entry = self._entries.get(model_id) or self.catalog.find(model_id)
        if entry is None:
            return False
        if self.downloads.is_active(model_id):
            self._say(f"'{entry.name}' is downloading: cancel the download first.")
            return False
        if entry.source == "bundled":
            self._say(f"'{entry.name}' ships with Studio and cannot be deleted.")
            return False
        if entry.id.startswith("folder:"):
            self._say(f"'{entry.name}' is used in place from a model folder: Studio does not delete its files.")
            return False
        return self.deleter.start(entry)

    # --- deletion signals (main thread) ---
    @Slot(str)
    def _on_delete_started(self, model_id: str) -> None:
        self._set_state_cell(model_id, "deleting…")
        self._say(f"Deleting {self._name(model_id)}…")
        self._update_buttons()

    @Slot(str, object)
    def _on_delete_finished(self, model_id: str, freed: object) -> None:
        entry = self._entries.get(model_id)
        self.refresh()
        if entry is not None and entry.source == "local":
            self._say(f"Removed '{entry.name}' from the list; its files were not touched.")
        else:
            self._say(f"Deleted '{self._name(model_id)}' ({human_size(int(freed))} freed).")
        self.models_changed.emit()

    @Slot(str, str)
    def _on_delete_failed(self, model_id: str, message: str) -> None:
        self.refresh()
        self._say(f"Could not delete '{self._name(model_id)}': {message}")

    def _name(self, model_id: str) -> str:
        entry = self._entries.get(model_id)
        return entry.name if entry is not None else model_id

    def add_local_path(self, path: str | os.PathLike, modality: str | None = None) -> ModelEntry | None:
        """Add a model file or folder from this computer. Its kind is read from its files; when
        they do not say, ``modality`` (default: the current tab) decides."""
        from ..models.formats import KIND_WORDS, detect_format, modality_of

        p = Path(path).expanduser()
        if not p.exists():
            self._say(f"Nothing at {p}.")
            return None
        p = p.resolve()
        fmt = detect_format(p)
        if fmt == "unknown":
            self._say(
                f"'{p.name}' is not a model Studio can read: choose a .gguf / .safetensors / .onnx file, a "
                "transformers folder (config.json) or a diffusers folder (model_index.json)."
            )
            return None
        detected = modality_of(p, fmt)
        if modality and detected and modality != detected:
            self._say(f"'{p.name}' looks like {KIND_WORDS[detected]}, not {KIND_WORDS[modality]}; it was not added.")
            return None
        modality = modality or detected or self.current_modality()
        try:
            entry = self.catalog.add_local(p, modality)
        except (StudioError, OSError) as exc:
            self._say(f"Could not add '{p.name}': {exc}")
            return None
        self.refresh()
        self.select(entry.id)
        self._say(f"Added '{entry.name}' to the {TAB_TITLES.get(modality, modality)} models. {self.catalog.notice}".strip())
        self.models_changed.emit()
        return entry

    def add_embedding(self, path: str | os.PathLike) -> ModelEntry | None:
        """Register a textual-inversion embedding where it is (nothing is copied): a prompt that names it (its
        file name without .safetensors) uses it from then on, as in A1111. Its header is checked first."""
        from ..engines.embeddings import check_embedding

        p = Path(path).expanduser()
        try:
            emb = check_embedding(p)
        except StudioError as exc:
            self._say(f"Could not add the embedding: {exc}")
            return None
        try:
            entry = self.catalog.add_local(emb.path, "image-tools", name=f"{emb.name} (embedding)", fmt="embedding")
        except (StudioError, OSError) as exc:
            self._say(f"Could not add '{p.name}': {exc}")
            return None
        self.refresh()
        self.select(entry.id)
        widths = "/".join(str(w) for w in emb.widths.values())
        self._say(f"Added the embedding '{emb.name}' ({emb.vectors} vector(s), {widths} wide): write {emb.name} "
                  "in a prompt to use it.")
        self.models_changed.emit()
        return entry

    def download_repo(self, repo_id: str) -> bool:
        """Download any hub model by id; it appears in its modality's tab once finished."""
        from ..models.resolve import looks_like_hub_id

        repo_id = repo_id.strip()
        if not looks_like_hub_id(repo_id):
            self._say(
                f"'{repo_id}' is not a hub id: it looks like org/name (e.g. HuggingFaceTB/SmolLM2-360M-Instruct)."
            )
            return False
        known = next((e for e in self.catalog.entries() if e.repo_id == repo_id), None)
        started = self.downloads.start(known) if known is not None else self.downloads.start_repo(repo_id)
        if started:
            self._say(f"Downloading {repo_id}…")
        return started

    @Slot()
    def _on_hub_download_clicked(self) -> None:
        if self.download_repo(self.hub_id_edit.text()):
            self.hub_id_edit.clear()

    @Slot()
    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Add a model file", "", "Models (*.gguf *.safetensors *.onnx);;All files (*)"
        )
        if path:
            self.add_local_path(path)

    @Slot()
    def _choose_embedding(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Add a textual-inversion embedding", "", "Embeddings (*.safetensors);;All files (*)"
        )
        if path:
            self.add_embedding(path)

    @Slot()
    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a model folder")
        if path:
            self.add_local_path(path)

    # --- model folders used in place ---
    @Slot()
    def _choose_library_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Use the models in a folder (nothing is copied)")
        if path:
            self.add_model_folder(path)

    def add_model_folder(self, path: str | os.PathLike) -> bool:
        """Use the models of a ComfyUI, A1111/Forge, LM Studio, GPT4All, Ollama or Hugging Face cache
        folder where they are; scanned in the background (``models_changed`` follows)."""
        p = Path(path).expanduser()
        if not p.is_dir():
            self._say(f"{p} is not a folder.")
            return False
        if not self.scanner.add(p):
            self._say("A folder scan is already running; try again when it is done.")
            return False
        self._say(f"Looking for models in {p}… (nothing is copied)")
        return True

    @Slot()
    def rescan_folders(self) -> bool:
        if not self.scanner.rescan():
            return False
        self._say("Rescanning the model folders…")
        return True

    @Slot(str, object)
    def _on_scan_finished(self, folder: str, scans: object) -> None:
        scans = list(scans or [])
        runnable = sum(1 for s in scans for m in s.models if m.runnable and not m.missing)
        extras = sum(1 for s in scans for m in s.models if not m.runnable and not m.missing)
        missing = sum(1 for s in scans for m in s.models if m.missing)
        files = sum(s.files_seen for s in scans)
        seconds = sum(s.seconds for s in scans)
        where = folder or f"{len(scans)} model folder(s)"
        text = f"{where}: {runnable} model(s)"
        if extras:
            text += f" and {extras} LoRA/VAE/ControlNet/upscaler/embedding file(s)"
        text += f" found in {files} files ({seconds:.2f} s); used in place, nothing copied."
        if missing:
            text += f" {missing} are missing."
        problems = [p for s in scans for p in s.problems]
        if problems:
            text += f" Skipped: {problems[0]}" + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
        self.refresh()
        self._say(text)
        self.models_changed.emit()

    @Slot(str, str)
    def _on_scan_failed(self, folder: str, message: str) -> None:
        self._say(f"Could not read {folder or 'the model folders'}: {message}")

    def folder_of(self, entry: ModelEntry) -> Path | None:
        if entry.source == "hub":
            snapshot = hub_snapshot(entry.repo_id)
            if snapshot is not None:
                return snapshot
            repo = self.catalog.cached_repos().get(entry.repo_id)
            return repo.folder if repo is not None else None
        path = Path(entry.path) if entry.source == "local" else bundled_path(entry)
        if path is None or not path.exists():
            return None
        return path if path.is_dir() else path.parent

    @Slot()
    def open_selected_folder(self) -> None:
        entry = self.selected_entry()
        folder = self.folder_of(entry) if entry is not None else None
        if folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    # --- download signals (main thread) ---
    @Slot(str)
    def _on_download_started(self, model_id: str) -> None:
        self._set_state_cell(model_id, "downloading 0 %")
        self._update_buttons()

    @Slot(str, object, object)
    def _on_download_progress(self, model_id: str, done: object, total: object) -> None:
        done, total = int(done), int(total)
        self._set_state_cell(model_id, f"downloading {_percent(done, total)} %")
        self._say(f"Downloading {self._name(model_id)}: {human_size(done)} of {human_size(total)}")

    @Slot(str, str)
    def _on_download_finished(self, model_id: str, _path: str) -> None:
        name = self._entries[model_id].name if model_id in self._entries else model_id
        self.catalog.refresh()
        self.refresh()
        if model_id not in self._rows:  # a hub id Studio does not know the kind of
            self._say(f"Downloaded {name}, but Studio cannot tell which kind of model it is; use it via “Other…”.")
        else:
            self._say(f"Downloaded {name}.")
        self.models_changed.emit()

    @Slot(str, str)
    def _on_download_failed(self, model_id: str, message: str) -> None:
        self.refresh()
        self._say(message)

    @Slot(str)
    def _on_download_cancelled(self, model_id: str) -> None:
        self.refresh()
        self._say(f"Download of {self._name(model_id)} cancelled; what arrived is kept and the next download resumes.")

    # --- helpers ---
    def _set_state_cell(self, model_id: str, text: str) -> None:
        where = self._rows.get(model_id)
        if where is None:
            return
        modality, row = where
        item = self.tables[modality].item(row, COL_STATE)
        if item is not None:
            item.setText(text)

    def _say(self, text: str) -> None:
        self.status.setText(text)

    @Slot()
    def _on_selection_changed(self) -> None:
        self._update_buttons()

    @Slot(int)
    def _on_tab_changed(self, _index: int) -> None:
        self._update_buttons()

    @Slot(str)
    def _on_servers_changed(self, message: str) -> None:
        self.status.setText(message)
        self.models_changed.emit()

    def _update_buttons(self) -> None:
        entry = self.selected_entry()
        downloading = entry is not None and self.downloads.is_active(entry.id)
        active = downloading or (entry is not None and self.deleter.is_active(entry.id))
        state = self.catalog.state(entry) if entry is not None else ""
        repo = self.catalog.cached_repos().get(entry.repo_id) if entry is not None and entry.repo_id else None
        self.download_button.setEnabled(
            entry is not None and entry.source == "hub" and state != "downloaded" and not active
        )
        self.cancel_button.setEnabled(downloading)
        self.delete_button.setEnabled(
            entry is not None
            and not active
            and (entry.source == "local" or (entry.source == "hub" and repo is not None))
        )
        self.delete_button.setText("Remove from list" if entry is not None and entry.source == "local" else "Delete")
        self.open_button.setEnabled(entry is not None and self.folder_of(entry) is not None)
        if entry is None:
            self.details.setText("Select a model to see what it is and what it needs.")
        else:
            where = entry.repo_id or entry.path or (f"package {entry.package}" if entry.package else "")
            facts = [f"<b>{html.escape(entry.name)}</b>"]
            if entry.description:
                facts.append(html.escape(entry.description))
            if where:
                fmt = entry.format or "format unknown"
                facts.append(f"<span style='color:#888'>{html.escape(where)} · {html.escape(fmt)}</span>")
            self.details.setText("<br>".join(facts))

    def showEvent(self, event) -> None:  # the cache may have changed meanwhile (CLI, other tools)
        self.refresh()
        super().showEvent(event)
