"""The application's icons, from the top-level ``assets/icons`` folder (see :func:`studio.paths.asset`)."""

from __future__ import annotations

from PySide6.QtGui import QIcon

from .. import paths

#: One icon per tab, by the modality (or ``canvas``) the tab serves.
TAB_ICONS = ("text", "image", "speech", "music", "canvas", "story")


def app_icon() -> QIcon:
    return QIcon(str(paths.asset("icons", "app.svg")))


def tab_icon(kind: str) -> QIcon:
    """The icon of the tab for ``kind`` ('text', 'image', 'speech', 'music', 'canvas', 'story'); an empty icon otherwise."""
    if kind not in TAB_ICONS:
        return QIcon()
    return QIcon(str(paths.asset("icons", f"{kind}.svg")))
