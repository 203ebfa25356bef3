"""What the Story tab asks the text model, and how its replies become scenes and picture prompts.

Qt-free and model-free: the tab sends these prompts as ordinary text requests through the job queue.
"""

from __future__ import annotations

import re

from .document import MAX_SCENES

DRAFT_SYSTEM = ("You write short illustrated stories. Write the story in 4 to 8 short paragraphs separated by a "
                "blank line; each paragraph is one scene of two or three sentences. No title, no headings, "
                "no lists.")
PROMPTS_SYSTEM = ("You write picture prompts for an image generator. For each numbered scene write one line: the "
                  "number, a dot, and a short visual description of the scene (subjects, setting, light). "
                  "No other text.")


def draft_prompt(idea: str) -> str:
    return f"Write a short story about: {' '.join(idea.split())}"


def prompts_prompt(narrations: list[str]) -> str:
    scenes = "\n".join(f"{i + 1}. {' '.join(n.split())}" for i, n in enumerate(narrations))
    return f"Scenes:\n{scenes}\n\nOne picture prompt per scene, numbered the same way:"


_NUMBERED = re.compile(r"^\s*(?:scene\s*)?(\d{1,4})\s*[.):\-]\s*(.+?)\s*$", re.IGNORECASE)


def parse_prompts(reply: str, count: int) -> list[str]:
    """The picture prompt of each of ``count`` scenes from a reply of numbered lines ('' where the
    reply gave none); unnumbered lines fill the scenes in order when nothing is numbered."""
    found: dict[int, str] = {}
    plain = []
    for line in reply.splitlines():
        m = _NUMBERED.match(line)
        if m and 1 <= int(m.group(1)) <= min(count, MAX_SCENES):
            found.setdefault(int(m.group(1)) - 1, m.group(2).strip(" *\"'"))
        elif line.strip():
            plain.append(line.strip(" -*\"'"))
    if not found:
        found = dict(enumerate(plain[:count]))
    return [found.get(i, "") for i in range(count)]
