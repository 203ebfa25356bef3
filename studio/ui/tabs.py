"""The one list of the main window's tabs, in the order they appear.

Each line registers a tab (see :mod:`studio.ui.tab_api`): the main window builds the tabs from it,
History "open" routes a saved item to the tab whose ``kinds`` hold the item's kind, the "Send to"
menus list the tabs that accept text or images, and the model pickers refresh through it.
A new tab is one more line (its class follows the template in docs/design.md).
"""

from __future__ import annotations

from .audio.music_tab import MusicTab
from .audio.speech_tab import SpeechTab
from .canvas.tab import CanvasTab
from .image.tab import ImageTab
from .story.tab import StoryTab
from .tab_api import IMAGE, TEXT, TabSpec
from .text.tab import TextTab

TABS: tuple[TabSpec, ...] = (
    TabSpec("text", "Text", TextTab, kinds=("text",), accepts=TEXT, modality="text"),
    TabSpec("image", "Image", ImageTab, kinds=("image",), accepts=TEXT | IMAGE, modality="image"),
    TabSpec("speech", "Speech", SpeechTab, kinds=("speech",), accepts=TEXT, modality="speech"),
    TabSpec("music", "Music", MusicTab, kinds=("music",), accepts=TEXT, modality="music"),
    TabSpec("canvas", "Canvas", CanvasTab, kinds=("inpaint",), accepts=IMAGE, modality="image"),
    TabSpec("story", "Story", StoryTab, accepts=TEXT | IMAGE),
)
