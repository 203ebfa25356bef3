"""The Image tab's gallery: a strip of thumbnails of saved images (this session's results first, then
the library's recent ones), with thumbnails decoded off the UI thread, and the result actions
(copy to clipboard, save as, send to canvas, reuse seed, reuse all settings).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QColor, QDesktopServices, QGuiApplication, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QMenu, QWidget

from ...events import SavedItem
from ...jobs.background import Background
from .widgets import read_qimage

THUMB = 112  # thumbnail side in pixels
_HAS_THUMB = Qt.ItemDataRole.UserRole + 1

# The actions a result offers: (name, label). The gallery's context menu and the tab's buttons use them.
ACTIONS = (
    ("copy", "Copy image"),
    ("save_as", "Save as…"),
    ("canvas", "Send to Canvas"),
    ("reuse_seed", "♻ Reuse seed"),
    ("reuse_all", "Reuse all settings"),
    ("folder", "Show in folder"),
)


def copy_image_to_clipboard(path: str | Path) -> bool:
    image = QImage(str(path))
    if image.isNull():
        return False
    QGuiApplication.clipboard().setImage(image)
    return True


def save_image_as(source: str | Path, target: str | Path) -> Path:
    """Write a copy of the saved PNG ``source`` as ``target``: a .png byte for byte (all its metadata),
    .jpg/.jpeg/.webp converted with the A1111 text in EXIF; no extension means .png. Same rules as
    the CLI's --out (symlinks followed, devices written through, folders and other formats refused).

    Raises OSError or StudioError with a readable message on failure.
    """
    from PIL import Image

    from ...library.atomic import atomic_write_bytes
    from ...library.metadata import image_file_bytes
    from ...library.targets import IMAGE_FORMATS, check_output
    from ...library.png_info import read_png_json

    target = Path(target)
    if not target.suffix and not target.is_dir():
        target = target.with_suffix(".png")
    out = check_output(target, IMAGE_FORMATS, flag="Save as")
    if out.format == "PNG":
        data = Path(source).read_bytes()
    else:
        with Image.open(source) as im:
            im.load()
            data = image_file_bytes(im, read_png_json(source), out.format)
    return atomic_write_bytes(out.path, data)


def _thumbnail(path: str) -> QImage:
    return read_qimage(path, THUMB * 2)


class Gallery(QListWidget):
    """Thumbnails of saved images, newest first. Each item carries its :class:`SavedItem`.

    ``chosen(SavedItem)`` when one is clicked or selected with the keyboard; ``action(name, SavedItem)``
    from the context menu (names in :data:`ACTIONS`).
    """

    chosen = Signal(object)
    action = Signal(str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("gallery")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 12, THUMB + 12))
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(THUMB + 12 + self.horizontalScrollBar().sizeHint().height() + 2 * self.frameWidth() + 4)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.currentItemChanged.connect(self._on_current_changed)
        self.itemClicked.connect(self._on_clicked)
        self._background = Background(self)  # thumbnails are decoded off the UI thread
        self._by_path: dict[str, QListWidgetItem] = {}
        self._placeholder = _placeholder_icon()

    # --- contents ---
    def add_saved(self, saved: SavedItem, *, front: bool = True, load: bool = True) -> QListWidgetItem:
        """Add (or move to the front) a saved image. ``load=False``: the caller hands the decoded
        image to :meth:`set_image` later (no second decode)."""
        key = str(saved.path)
        old = self._by_path.pop(key, None)
        if old is not None:
            self.takeItem(self.row(old))
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, saved)
        item.setToolTip(_tooltip(saved))
        item.setSizeHint(QSize(THUMB + 8, THUMB + 8))
        item.setIcon(self._placeholder)
        if load:
            self._background.start(_thumbnail, key, key=key, returned=self._on_thumbnail_read)
        if front:
            self.insertItem(0, item)
        else:
            self.addItem(item)
        self._by_path[key] = item
        return item

    def load_recent(self, items: list[SavedItem]) -> None:
        """Append the library's recent images (newest first) that are still on disk."""
        for saved in items:
            if str(saved.path) not in self._by_path and Path(saved.path).is_file():
                self.add_saved(saved, front=False)

    def saved_items(self) -> list[SavedItem]:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())]

    def select_saved(self, saved: SavedItem) -> None:
        item = self._by_path.get(str(saved.path))
        if item is not None:
            self.blockSignals(True)
            self.setCurrentItem(item)
            self.blockSignals(False)
            self.scrollToItem(item)

    def set_image(self, path: str | Path, image: QImage) -> None:
        """Make the thumbnail of ``path`` from an already decoded image."""
        self._on_thumbnail(str(path), image)

    def thumbnail(self, saved: SavedItem) -> QPixmap | None:
        """The thumbnail shown for ``saved`` (None while it is still loading)."""
        item = self._by_path.get(str(saved.path))
        if item is None or not item.data(_HAS_THUMB):
            return None
        return item.icon().pixmap(QSize(THUMB, THUMB))

    def wait_for_thumbnails(self, ms: int = 5000) -> bool:
        return self._background.wait(ms)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().paintEvent(event)
        if self.count() == 0:
            p = QPainter(self.viewport())
            p.setPen(QColor("#8a8d93"))
            p.drawText(
                self.viewport().rect().adjusted(12, 0, -12, 0),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                "Your results (and the library's recent images) collect here. "
                "Right-click one to copy it, save it, or reuse its settings.",
            )

    # --- slots ---
    @Slot(object)
    def _on_thumbnail_read(self, image: object) -> None:
        self._on_thumbnail(self.sender().key, image)

    @Slot(str, QImage)
    def _on_thumbnail(self, path: str, image: QImage) -> None:
        item = self._by_path.get(path)
        if item is not None and not image.isNull():
            item.setIcon(QIcon(QPixmap.fromImage(_thumb(image))))
            item.setData(_HAS_THUMB, True)

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current_changed(self, current, _previous) -> None:
        if current is not None:
            self.chosen.emit(current.data(Qt.ItemDataRole.UserRole))

    @Slot(QListWidgetItem)
    def _on_clicked(self, item) -> None:
        self.chosen.emit(item.data(Qt.ItemDataRole.UserRole))

    @Slot()
    def _context_menu(self, pos) -> None:
        item = self.itemAt(pos)
        if item is None:
            return
        saved = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        for name, label in ACTIONS:
            act = menu.addAction(label)
            act.triggered.connect(lambda _=False, n=name, s=saved: self.action.emit(n, s))
        menu.exec(self.viewport().mapToGlobal(pos))


def open_folder_of(path: str | Path) -> None:
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))


def _thumb(image: QImage) -> QImage:
    if max(image.width(), image.height()) <= THUMB:
        return image
    return image.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


def _placeholder_icon() -> QIcon:
    pixmap = QPixmap(THUMB, THUMB)
    pixmap.fill(QColor("#2b2d31"))
    return QIcon(pixmap)


def _tooltip(saved: SavedItem) -> str:
    p = saved.params or {}
    prompt = str(p.get("prompt", ""))
    if len(prompt) > 120:
        prompt = prompt[:119] + "…"
    facts = []
    if p.get("width") and p.get("height"):
        facts.append(f"{p['width']}×{p['height']}")
    if p.get("seed") is not None:
        facts.append(f"seed {p['seed']}")
    if p.get("sampler"):
        facts.append(str(p["sampler"]))
    lines = [prompt or Path(saved.path).name]
    if facts:
        lines.append(" · ".join(facts))
    lines.append(Path(saved.path).name)
    return "\n".join(lines)
