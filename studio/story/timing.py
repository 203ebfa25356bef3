"""When each scene starts and ends, where its narration sits, the cross-fades and the subtitle cues.

A scene with narration lasts ``LEAD_S`` + its narration + the film's pause; one without lasts its set
``length`` (or :data:`~.document.DEFAULT_LENGTH_S`). The cross-fade to the next picture takes the
last ``crossfade`` seconds of a scene (inside its pause, so no narration is ever under a blend); it
is shortened to half the shortest scene so a picture is always fully shown for a while.
"""

from __future__ import annotations

from dataclasses import dataclass

from .document import DEFAULT_LENGTH_S, Story

LEAD_S = 0.3  # silence before a scene's narration starts


@dataclass(frozen=True)
class Shot:
    """One scene placed on the film's timeline (seconds)."""

    index: int
    start: float
    end: float
    speech_start: float
    speech_end: float  # == speech_start when the scene has no narration

    @property
    def length(self) -> float:
        return self.end - self.start

    @property
    def spoken(self) -> bool:
        return self.speech_end > self.speech_start


@dataclass(frozen=True)
class Timeline:
    shots: tuple[Shot, ...]
    crossfade: float

    @property
    def length(self) -> float:
        return self.shots[-1].end if self.shots else 0.0

    def frame_count(self, fps: int) -> int:
        return max(1, round(self.length * fps))

    def at(self, t: float) -> tuple[int, int | None, float]:
        """(scene, next scene or None, blend 0…1 toward the next) at ``t`` seconds."""
        shots = self.shots
        lo, hi = 0, len(shots) - 1
        while lo < hi:  # the last shot whose start ≤ t
            mid = (lo + hi + 1) // 2
            if shots[mid].start <= t:
                lo = mid
            else:
                hi = mid - 1
        shot = shots[lo]
        if self.crossfade > 0 and lo + 1 < len(shots) and t > shot.end - self.crossfade:
            return lo, lo + 1, min(1.0, (t - (shot.end - self.crossfade)) / self.crossfade)
        return lo, None, 0.0


def layout(story: Story, narration_s: list[float | None]) -> Timeline:
    """The timeline of ``story`` given each scene's narration length (None = no narration)."""
    shots = []
    t = 0.0
    pause = story.film.pause
    for i, scene in enumerate(story.scenes):
        spoken = narration_s[i] if i < len(narration_s) else None
        if spoken:
            length = LEAD_S + spoken + pause
            shots.append(Shot(i, t, t + length, t + LEAD_S, t + LEAD_S + spoken))
        else:
            length = scene.length or DEFAULT_LENGTH_S
            shots.append(Shot(i, t, t + length, t, t))
        t += length
    shortest = min((s.length for s in shots), default=0.0)
    crossfade = min(story.film.crossfade, shortest / 2, max(pause, 0.0) if any(s.spoken for s in shots) else shortest)
    return Timeline(tuple(shots), max(0.0, crossfade))


@dataclass(frozen=True)
class Cue:
    number: int
    start: float
    end: float
    text: str


def cues(story: Story, timeline: Timeline) -> list[Cue]:
    """One cue per narrated scene, timed to its narration, its text the narration."""
    out = []
    for shot in timeline.shots:
        text = " ".join(story.scenes[shot.index].narration.split())
        if shot.spoken and text:
            out.append(Cue(len(out) + 1, shot.speech_start, shot.speech_end, text))
    return out


def _stamp(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def srt(cue_list: list[Cue], line_chars: int = 42) -> str:
    """SubRip text: number, ``start --> end``, the text wrapped to lines of about ``line_chars``."""
    import textwrap

    blocks = []
    for cue in cue_list:
        lines = textwrap.wrap(cue.text, line_chars) or [""]
        blocks.append(f"{cue.number}\n{_stamp(cue.start)} --> {_stamp(cue.end)}\n" + "\n".join(lines) + "\n")
    return "\n".join(blocks)
