"""A conversation with its branches: editing an earlier message or regenerating a reply starts a new
branch beside the old one, and either can be shown again (‹ 1/2 ›).

No Qt. The tree is a flat list of messages, each naming its parent (``-1``: the start), plus which
child each message continues with (``current``), so a very long chat never nests deeply in JSON::

    {"nodes": [{"role": "user", "content": "hi", "parent": -1}, ...], "current": {"-1": 0, "0": 1}}

A saved conversation keeps ``messages`` (the branch shown, what every older reader uses) and
``tree`` (all branches). :meth:`ChatTree.follow` merges any linear list of messages into the tree:
messages already there are reused, the first one that differs starts a branch. That is how the
library saves a turn (:meth:`studio.library.store.Library.save_conversation`): nothing is lost,
whichever side wrote the turn.
"""

from __future__ import annotations

from typing import Any

ROOT = -1
MAX_NODES = 100_000


class ChatTree:
    def __init__(self) -> None:
        self.nodes: list[dict] = []  # {"role", "content", "parent"}
        self.children: dict[int, list[int]] = {ROOT: []}
        self.current: dict[int, int] = {}  # parent → the child shown

    # --- building ---
    @classmethod
    def from_messages(cls, messages: list[dict]) -> ChatTree:
        tree = cls()
        tree.follow(messages)
        return tree

    @classmethod
    def from_dict(cls, data: Any, messages: list[dict] | None = None) -> ChatTree:
        """The tree saved by :meth:`to_dict`; a damaged one falls back to ``messages`` (linear)."""
        tree = cls()
        try:
            nodes = data["nodes"] if isinstance(data, dict) else None
            if not isinstance(nodes, list) or len(nodes) > MAX_NODES:
                raise ValueError("no nodes")
            for i, node in enumerate(nodes):
                parent = int(node["parent"])
                if not (ROOT <= parent < i):  # parents come first: no cycles, no dangling links
                    raise ValueError("bad parent")
                tree._add(str(node["role"]), str(node["content"]), parent)
            for key, child in (data.get("current") or {}).items():
                parent, child = int(key), int(child)
                if child in tree.children.get(parent, ()):
                    tree.current[parent] = child
        except (KeyError, TypeError, ValueError):
            return cls.from_messages(messages or [])
        if messages:
            tree.follow(messages)  # the branch shown is the one ``messages`` names
        return tree

    def to_dict(self) -> dict:
        return {"nodes": [dict(n) for n in self.nodes], "current": {str(k): v for k, v in self.current.items()}}

    def _add(self, role: str, content: str, parent: int) -> int:
        self.nodes.append({"role": role, "content": content, "parent": parent})
        node = len(self.nodes) - 1
        self.children.setdefault(parent, []).append(node)
        self.children[node] = []
        return node

    # --- the branch shown ---
    def path_ids(self) -> list[int]:
        ids, parent = [], ROOT
        while self.children.get(parent):
            kids = self.children[parent]
            parent = self.current.get(parent, kids[-1])
            ids.append(parent)
        return ids

    def path(self) -> list[dict]:
        """The messages of the branch shown, first to last."""
        return [{"role": self.nodes[i]["role"], "content": self.nodes[i]["content"]} for i in self.path_ids()]

    def follow(self, messages: list[dict]) -> list[int]:
        """Make ``messages`` the branch shown, adding what the tree lacks (a new branch where they
        first differ); their node ids."""
        ids, parent = [], ROOT
        for m in messages:
            role, content = str(m.get("role", "")), str(m.get("content", ""))
            kids = self.children.get(parent, [])
            chosen = self.current.get(parent)
            candidates = ([chosen] if chosen is not None else []) + kids
            node = next((k for k in candidates if self.nodes[k]["role"] == role and self.nodes[k]["content"] == content),
                        None)
            if node is None:
                node = self._add(role, content, parent)
            self.current[parent] = node
            ids.append(node)
            parent = node
        return ids

    def _locate(self, messages: list[dict], index: int) -> tuple[int, int] | None:
        """(parent, node) of ``messages[index]`` in the tree, walking ``messages`` from the start."""
        parent = ROOT
        for i, m in enumerate(messages[: index + 1]):
            kids = self.children.get(parent, [])
            chosen = self.current.get(parent)
            candidates = ([chosen] if chosen is not None else []) + kids
            node = next((k for k in candidates if self.nodes[k]["role"] == m.get("role")
                         and self.nodes[k]["content"] == m.get("content")), None)
            if node is None:
                return None
            if i == index:
                return parent, node
            parent = node
        return None

    def siblings(self, messages: list[dict], index: int) -> tuple[int, int]:
        """(position from 1, count) of ``messages[index]`` among the versions at that point; (1, 1)
        when it has none (or is not in the tree yet)."""
        found = self._locate(messages, index)
        if found is None:
            return 1, 1
        parent, node = found
        kids = self.children[parent]
        return kids.index(node) + 1, len(kids)

    def switch(self, messages: list[dict], index: int, step: int) -> list[dict]:
        """Show the previous (``step`` -1) or next (+1) version of ``messages[index]``, with the branch
        that follows it as it was last shown; the new path (unchanged at either end)."""
        found = self._locate(messages, index)
        if found is None:
            return list(messages)
        parent, node = found
        kids = self.children[parent]
        target = kids.index(node) + step
        if not 0 <= target < len(kids):
            return list(messages)
        self.follow(messages[:index])
        self.current[parent] = kids[target]
        return self.path()
