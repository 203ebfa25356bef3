"""The one list of the main window's tabs, in the order they appear.

Each line registers a tab (see :mod:`studio.ui.tab_api`): the main window builds the tabs from it,
History "open" routes a saved item to the tab whose ``kinds`` hold the item's kind, the "Send to"
menus list the tabs that accept text or images, and the model pickers refresh through it.
A placeholder line says what is coming; a real tab replaces that one line.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .audio.music_tab import MusicTab
from .audio.speech_tab import SpeechTab
from .canvas.tab import CanvasTab
from .image.tab import ImageTab
from .story.tab import StoryTab
from .tab_api import IMAGE, TEXT, StudioTab, TabContext, TabSpec
from .text.tab import TextTab


class PlaceholderTab(QWidget, StudioTab):
    """A tab that is not in this version yet: one centred line saying what is coming."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(text)
        self.label.setObjectName("placeholderText")
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setStyleSheet("color: #777; font-size: 14px;")
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)


class placeholder:  # noqa: N801 - reads as a function in the registration list
    """``build`` for a tab that is still to come: ``placeholder("Speech: … arrives in …")``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __call__(self, ctx: TabContext) -> PlaceholderTab:
        return PlaceholderTab(self.text)


TABS: tuple[TabSpec, ...] = (
    TabSpec("text", "Text", TextTab, kinds=("text",), accepts=TEXT, modality="text"),
    TabSpec("image", "Image", ImageTab, kinds=("image",), accepts=TEXT | IMAGE, modality="image"),
    TabSpec("speech", "Speech", SpeechTab, kinds=("speech",), accepts=TEXT, modality="speech"),
    TabSpec("music", "Music", MusicTab, kinds=("music",), accepts=TEXT, modality="music"),
    TabSpec("canvas", "Canvas", CanvasTab, kinds=("inpaint",), accepts=IMAGE, modality="image"),
    TabSpec("story", "Story", StoryTab, accepts=TEXT | IMAGE),
)
