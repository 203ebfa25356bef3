"""The contract between the main window and its tabs: what a tab receives, what it offers.

A tab is registered once, in :data:`studio.ui.tabs.TABS`, with a :class:`TabSpec` (its key,
title, the library kinds it opens, what other tabs may send it, the catalog modality of its model
picker) and a ``build`` callable, normally the tab class itself::

    TabSpec("speech", "Speech", SpeechTab, kinds=("speech",), accepts=TEXT, modality="speech")

The main window builds every tab with ``build(ctx)`` where ``ctx`` is a :class:`TabContext`
(job queue, library, catalog, the current configuration, the preferences storage, and the
:class:`TabHost` to reach other tabs, the Models window and the status bar), so a tab class's constructor is ``__init__(self, ctx, parent=None)``
and needs nothing else. The main window, History "open", the "Send to" menus and the model-picker
refresh all read the registration; none of them names a tab.

A tab widget implements the five :class:`StudioTab` methods (inherit the mixin for the defaults:
nothing to refresh, nothing opened, nothing accepted, no settings to reuse), and runs its jobs the one way
every tab does: a :class:`~studio.ui.job_runner.JobRunner` with a :class:`~studio.ui.tab_widgets.StatusLine`
and a :class:`~studio.ui.tab_widgets.SeedField` (docs/design.md, "A tab's shape": a new tab copies it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..config import Config

if TYPE_CHECKING:  # only for annotations: the UI layer imports these modules anyway
    from PySide6.QtWidgets import QWidget

    from ..events import SavedItem
    from ..jobs import JobQueue
    from ..library.store import Library
    from ..models.catalog import Catalog
    from ..models.servers import ServerList
    from .settings import Settings

#: what a tab accepts from other tabs ("Send to …"): text (a prompt, a reply) or an image file
TEXT = frozenset({"text"})
IMAGE = frozenset({"image"})


class TabHost(Protocol):
    """What a tab may ask of the window around it (the main window implements it)."""

    def send_text(self, target: str, text: str) -> bool:
        """Hand ``text`` to the tab registered as ``target`` and show it; False when no such tab accepts text."""

    def send_image(self, target: str, path: str) -> bool:
        """Hand the image file at ``path`` to the tab ``target`` and show it; False when it does not accept images."""

    def send_targets(self, what: str, exclude: str = "") -> list[tuple[str, str]]:
        """``(key, title)`` of the tabs that accept ``what`` ('text' or 'image'), in tab order, minus ``exclude``."""

    def show_models(self, model_id: str = "") -> None:
        """Open the Models window (Models → Manage models…), with ``model_id`` selected when given."""

    def download_model(self, model_id: str) -> None:
        """"Download…" (e.g. after a job failed on a model that is not here): the Models window, downloading it."""

    def show_message(self, message: str, timeout_ms: int = 5000) -> None:
        """A short line in the window's status bar."""


@dataclass(frozen=True)
class TabContext:
    """Everything a tab receives: ``build(ctx)`` is the only way a tab is made.

    A tab reads what the person configured (device, precision, output folder, llama.cpp threads and
    GPU layers …) from :attr:`config`, the :class:`~studio.config.Config` in force now (a changed
    preference makes a new one; read it when a job is built, do not keep it). ``settings`` is the
    preferences *storage* (QSettings), for what only the GUI keeps (e.g. a tab's own remembered
    choices); it is not where configuration is read.
    """

    jobs: JobQueue  # submit requests, cancel them, follow their signals
    library: Library  # saved results and conversations
    catalog: Catalog  # the models its picker lists
    settings: Settings  # the preferences storage (QSettings); read configuration from ``config``
    host: TabHost  # other tabs, the Models window, the status bar
    current_config: Callable[[], Config] = Config  # the configuration in force (the window's services)
    servers: ServerList | None = None  # the servers the person added (their models join the pickers)

    @property
    def config(self) -> Config:
        """The configuration in force now (device, dtype, output folder, text threads, GPU layers …)."""
        return self.current_config()


@dataclass(frozen=True)
class TabSpec:
    """One registration line of a tab."""

    key: str  # 'text', 'image', 'speech', 'music', 'canvas': the name Send to and History use
    title: str  # the label on the tab
    build: Callable[[TabContext], QWidget]  # the tab class (``Tab(ctx)``) or a factory
    kinds: tuple[str, ...] = ()  # the library kinds (request kinds) its open_item() opens
    accepts: frozenset[str] = frozenset()  # what other tabs may send it: TEXT, IMAGE or TEXT | IMAGE
    modality: str = ""  # the catalog modality its picker lists; Models… opens on it ("" = none)


class StudioTab:
    """The methods the main window calls on a tab; a mixin with do-nothing defaults.

    All run on the main thread. None of them may block: start a job instead.
    """

    def refresh_models(self) -> None:
        """Models changed (download finished, model added or deleted): re-read the model picker."""

    def open_item(self, saved: SavedItem) -> bool:
        """Show a saved library item of one of the tab's ``kinds`` (History → open); False when it cannot
        (the main window then opens the file with the system's viewer)."""
        return False

    def reuse_settings(self, saved: SavedItem) -> bool:
        """History → "Reuse settings": put a saved item's settings (prompt or text, model, seed, the
        rest of the form) back into the form; nothing starts. False when it cannot (busy, unknown)."""
        return False

    def receive_text(self, text: str) -> bool:
        """Text sent from another tab (a reply becomes a prompt); False when refused."""
        return False

    def receive_image(self, path: str) -> bool:
        """An image file sent from another tab (a result to edit or reuse); False when refused."""
        return False
