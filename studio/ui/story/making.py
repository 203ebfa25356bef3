"""What the Story tab is making: a list of (role, scene, request) run one after another through the
tab's :class:`~studio.ui.job_runner.JobRunner`, and what follows when all are made (the music bed,
sized to the narration; then a preview or the export)."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLE_WORDS = {"picture": "picture", "narration": "narration", "music": "music bed"}


def what(role: str, scene: int | None) -> str:
    return f"scene {scene + 1}'s {ROLE_WORDS[role]}" if scene is not None else f"the {ROLE_WORDS[role]}"


@dataclass
class AssetChain:
    items: list = field(default_factory=list)  # (role, scene, request) still to submit
    current: tuple | None = None  # the one running
    after: str = ""  # "" | "all" | "preview" | "export"
    last: tuple | None = None  # the last one submitted (a failed one is retried from it)

    def start(self, items: list, after: str) -> None:
        self.items, self.after, self.current = list(items), after, None

    def pop(self) -> tuple | None:
        self.current = self.last = self.items.pop(0) if self.items else None
        return self.current

    def stop(self) -> None:
        self.items, self.current, self.after = [], None, ""

    def describe(self) -> str:
        item = self.current or self.last
        return what(item[0], item[1]) if item else "the story"
