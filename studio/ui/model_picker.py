"""The model picker each tab shows: the catalog's models of one modality with their state, the models of
the servers the person added (Models → Add server…; as each listed them when last asked), plus
"Other (hub id or path)…" for anything else.

Qt widgets only; the catalog is read from disk (no network, no torch). States come from
:meth:`Catalog.state`, whose Hugging Face cache scan is reused until the cache changes, so a
refresh is cheap enough for the UI thread.
"""

from __future__ import annotations


from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QWidget

from ..models.catalog import Catalog, ModelEntry, human_size
from ..models.servers import ServerList

# What a state is called in a picker (the Models window shows the raw state names).
STATE_WORDS = {
    "bundled": "bundled",
    "downloaded": "downloaded",
    "downloadable": "not downloaded",
    "local": "local",
    "missing": "missing",
}
OTHER = "\x00other"  # item data of the "Other…" entry
REMOTE = "\x00remote\x00"  # item data of a server's model: REMOTE + url + NUL + model name
OTHER_LABEL = "Other (hub id or path)…"


def remote_key(url: str, model: str) -> str:
    return f"{REMOTE}{url}\x00{model}"


def entry_label(entry: ModelEntry, state: str) -> str:
    return f"{entry.name} — {STATE_WORDS.get(state, state)}"


def entry_tooltip(entry: ModelEntry, state: str) -> str:
    lines = [entry.name]
    if entry.description:
        lines.append(entry.description)
    where = entry.repo_id or entry.path or entry.package
    if where:
        lines.append(where)
    facts = [f"State: {state}"]
    if entry.size_bytes:
        facts.append(f"size {human_size(entry.size_bytes)}")
    if entry.memory_bytes:
        facts.append(f"needs about {human_size(entry.memory_bytes)} of memory")
    lines.append(", ".join(facts))
    if entry.licence:
        lines.append(f"Licence: {entry.licence}")
    return "\n".join(lines)


class ModelPicker(QComboBox):
    """A combo box of the models of one modality.

    ``current_model_spec()`` is what a request's ``model`` field takes: a catalog id, a hub id or a
    path ("" never: the modality's default entry is selected at start). Call :meth:`refresh` when
    models change (download finished, local model added or deleted).
    """

    spec_changed = Signal(str)  # the person picked another model (or typed another hub id / path)

    def __init__(self, modality: str, catalog: Catalog, parent: QWidget | None = None, *,
                 servers: ServerList | None = None) -> None:
        super().__init__(parent)
        self.modality = modality
        self.catalog = catalog
        self.servers = servers
        self._other_text = ""
        self._last_spec: tuple[str, str] = ("", "")
        self._listed: dict[str, ModelEntry] = {}
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(24)
        self.setToolTip("The model to use. Download more in Models → Manage models… (Ctrl+M).")
        self.currentIndexChanged.connect(self._on_index_changed)
        self.refresh()
        default = catalog.default(modality)
        self.set_model_spec(default.id if default else "")

    # --- public API ---
    def current_model_spec(self) -> str:
        """The request's ``model``: a catalog id, hub id or path, or a server's model name."""
        data = self.itemData(self.currentIndex())
        if data == OTHER:
            return self.currentText().strip() if self.isEditable() else self._other_text
        if isinstance(data, str) and data.startswith(REMOTE):
            return data[len(REMOTE):].split("\x00", 1)[1]
        return data or ""

    def current_endpoint(self) -> str:
        """The request's ``endpoint``: the server of the selected model ("" for a model on this machine)."""
        data = self.itemData(self.currentIndex())
        if isinstance(data, str) and data.startswith(REMOTE):
            return data[len(REMOTE):].split("\x00", 1)[0]
        return ""

    def is_remote(self) -> bool:
        return bool(self.current_endpoint())

    def set_model_spec(self, spec: str, endpoint: str = "") -> None:
        """Select a catalog id, a hub id or a path (or a server's model, with ``endpoint``); anything
        unknown goes into "Other…"."""
        if endpoint:
            index = self.findData(remote_key(endpoint, spec))
            if index >= 0:
                self.setCurrentIndex(index)
                self._emit_if_changed()
                return
        spec = (spec or "").strip()
        if not spec:
            default = self.catalog.default(self.modality)
            spec = default.id if default else ""
        index = self._index_of(spec)
        if index >= 0:
            self.setCurrentIndex(index)
        elif spec:
            self._other_text = spec
            other = self.findData(OTHER)
            if self.currentIndex() == other:
                self.setEditText(spec)
            else:
                self.setCurrentIndex(other)
        self._emit_if_changed()

    @Slot()
    def refresh(self) -> None:
        """Re-read the catalog and the states, keeping the selection."""
        spec = self.current_model_spec() if self.count() else ""
        data = self.itemData(self.currentIndex()) if self.count() else None
        remote = data if isinstance(data, str) and data.startswith(REMOTE) else ""
        previous = self._listed.get(spec)
        self.blockSignals(True)
        try:
            self.setEditable(False)
            self.clear()
            self._listed = {}
            for entry in self.catalog.entries(self.modality, include_cached=True):
                self._listed[entry.id] = entry
                state = self.catalog.state(entry)
                self.addItem(entry_label(entry, state), entry.id)
                self.setItemData(self.count() - 1, entry_tooltip(entry, state), Qt.ItemDataRole.ToolTipRole)
            for server in self.servers.all(self.modality) if self.servers is not None else ():
                for name in server.models:
                    self.addItem(f"{name} — {server.label}", remote_key(server.url, name))
                    self.setItemData(self.count() - 1, f"{name} on the server {server.url}",
                                     Qt.ItemDataRole.ToolTipRole)
            self.addItem(OTHER_LABEL, OTHER)
            self.setItemData(
                self.count() - 1,
                "A Hugging Face hub id (org/name) or a model file or folder on this computer.",
                Qt.ItemDataRole.ToolTipRole,
            )
            if spec and previous is not None and spec not in self._listed:
                # the entry went away (forgotten local model, deleted download): keep pointing at the
                # same files where they still are, rather than at an id nothing resolves any more
                spec = previous.path or previous.repo_id or spec
            if remote:
                spec = ""
                index = self.findData(remote)
                if index >= 0:
                    self.setCurrentIndex(index)
                else:
                    default = self.catalog.default(self.modality)
                    spec = default.id if default else ""  # the server went away: back to a local model
            if spec:
                index = self._index_of(spec)
                if index < 0:
                    self._other_text = spec
                    index = self.findData(OTHER)
                self.setCurrentIndex(index)
                self._sync_editable()
        finally:
            self.blockSignals(False)
        self._emit_if_changed()

    def entry_ids(self) -> list[str]:
        """Ids of the listed local models, in order (without servers' models and "Other…")."""
        return [d for d in (self.itemData(i) for i in range(self.count())) if d != OTHER and not d.startswith(REMOTE)]

    def label_of(self, spec: str) -> str:
        index = self.findData(spec)
        return self.itemText(index) if index >= 0 else ""

    # --- internals ---
    def _index_of(self, spec: str) -> int:
        index = self.findData(spec)
        if index >= 0:
            return index
        entry = self.catalog.find(spec, self.modality)  # a listed entry's hub id or local path
        return self.findData(entry.id) if entry is not None else -1

    @Slot(int)
    def _on_index_changed(self, _index: int) -> None:
        self._sync_editable()
        self._emit_if_changed()

    def _sync_editable(self) -> None:
        other = self.itemData(self.currentIndex()) == OTHER
        if other and not self.isEditable():
            self.setEditable(True)
            self.lineEdit().setPlaceholderText("org/name or /path/to/model")
            self.lineEdit().textEdited.connect(self._on_text_edited)
            self.setEditText(self._other_text)
        elif not other and self.isEditable():
            self.setEditable(False)

    @Slot(str)
    def _on_text_edited(self, text: str) -> None:
        self._other_text = text.strip()
        self._emit_if_changed()

    def _emit_if_changed(self) -> None:
        spec = self.current_model_spec()
        key = (self.current_endpoint(), spec)  # the same name on a server is another model
        if key != self._last_spec:
            self._last_spec = key
            if not self.signalsBlocked():
                self.spec_changed.emit(spec)
