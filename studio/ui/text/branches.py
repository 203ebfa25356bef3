"""Chat branches in the Text tab's transcript: the links under each message ("✎ Edit" on yours,
"‹ 1/2 ›" where a message has other versions) and what a clicked link asks for.

The tree itself is :class:`studio.library.chat_tree.ChatTree` (no Qt). A link is ``edit:N``,
``prev:N`` or ``next:N`` for the message at index N of the branch shown.
"""

from __future__ import annotations

from PySide6.QtCore import QUrl

from ...library.chat_tree import ChatTree

ACTIONS = ("edit", "prev", "next")


def controls(tree: ChatTree, messages: list[dict], index: int, editable: bool) -> str:
    """The Markdown line of links under ``messages[index]`` ("" when there is nothing to offer)."""
    parts = []
    position, count = tree.siblings(messages, index)
    if count > 1:
        prev = f"[‹](prev:{index})" if position > 1 else "‹"
        nxt = f"[›](next:{index})" if position < count else "›"
        parts.append(f"{prev} {position}/{count} {nxt}")
    if editable and messages[index].get("role") == "user":
        parts.append(f"[✎ Edit](edit:{index})")
    return " · ".join(parts)


def parse(url: QUrl) -> tuple[str, int] | None:
    """``(action, index)`` of a clicked transcript link, None for any other link."""
    action, _, number = url.toString().partition(":")
    if action not in ACTIONS or not number.isdigit():
        return None
    return action, int(number)
