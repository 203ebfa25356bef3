"""A story made into a film, in order: check everything → make the missing assets → lay out the
timeline → mix the sound → stream the frames to the MP4 → write the SRT beside it.

:func:`preflight` runs before any model loads (the CLI calls it first; the Story tab before it
submits anything). :func:`export` is the Qt-free last step the Story tab runs in the background once
its assets exist; :func:`render` is the whole way for the CLI and the benchmark.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..cancel import CancelToken
from ..errors import InvalidRequest
from ..events import Progress, Status
from ..library.atomic import UnwritableTarget, atomic_write_text
from ..library.targets import check_output
from . import assets as assets_mod
from .assets import AssetIndex, Assets, Runner
from .document import Story
from .film import FilmStats, Frames, write_mp4
from .mix import Mixer
from .timing import Timeline, cues, layout, srt

FILM_FORMATS = {".mp4": "MP4"}


@dataclass(frozen=True)
class Targets:
    film: Path
    subtitles: Path


def _validate(request) -> None:
    request.validate()


def preflight(story: Story, out: str | os.PathLike, *, flag: str = "--out",
              check: Callable[[object], None] = _validate) -> Targets:
    """Where the film and its ``.srt`` go, and every request the story makes, checked before any work.

    A folder, a device or a pipe is refused: the film is written to a temp file and renamed, which
    needs a regular file name. ``check(request)`` is the engines' preflight where the caller may use
    it (the CLI); by default each request's values are validated.
    """
    text = os.fspath(out)
    target = check_output(text, FILM_FORMATS, flag=flag)
    if target.stream:
        raise UnwritableTarget(f"{flag} '{text}' is a device or a pipe; the film is written as a file: "
                               "give a file name ending in .mp4.")
    subtitles = Path(text).with_suffix(".srt")
    sub_target = check_output(subtitles, {".srt": "SRT"}, flag="the subtitles file")
    if sub_target.stream:
        raise UnwritableTarget(f"'{subtitles}' (the subtitles beside the film) is a device or a pipe; "
                               "choose another film name.")
    for role, scene, request in assets_mod.all_requests(story):
        try:
            check(request)
        except InvalidRequest as exc:
            where = f"scene {scene + 1}'s {role}" if scene is not None else f"the {role}"
            raise InvalidRequest(f"{where}: {exc}") from None
    return Targets(Path(text), subtitles)


def provenance(story: Story, made: Assets, index: AssetIndex, timeline: Timeline) -> dict:
    """What made what: per scene the picture's model and seed (or its file), the voice; the music."""
    keys = made.keys or {}
    scenes = []
    for i, scene in enumerate(story.scenes):
        entry: dict = {"scene": i + 1, "start": round(timeline.shots[i].start, 3),
                       "end": round(timeline.shots[i].end, 3)}
        if scene.picture_file:
            entry["picture"] = {"file": Path(scene.picture_file).name}
        elif (pic := keys.get((assets_mod.PICTURE, i))):
            entry["picture"] = {"prompt": scene.picture, **index.provenance(pic)}
        if (voice := keys.get((assets_mod.NARRATION, i))):
            entry["narration"] = index.provenance(voice)
        scenes.append(entry)
    data: dict = {"software": f"Studio {__version__}", "title": story.title, "scenes": scenes}
    if story.music is not None:
        data["music"] = ({"file": Path(story.music.file).name} if story.music.file else
                         {"prompt": story.music.prompt, **index.provenance(keys.get((assets_mod.MUSIC, None), ""))})
    data["cloned_voice"] = any(s.get("narration", {}).get("cloned_voice") for s in scenes)
    return data


def export(
    story: Story,
    made: Assets,
    targets: Targets,
    *,
    index: AssetIndex | None = None,
    cancel: CancelToken | None = None,
    on_event: Callable[[object], None] | None = None,
) -> tuple[FilmStats, Timeline]:
    """Cut the film from ``made`` into ``targets`` (MP4, then the SRT once the film is complete)."""
    say = on_event or (lambda ev: None)
    index = index or AssetIndex()
    timeline = layout(story, made.narration_s)
    volume = story.music.volume if story.music else 0.0
    duck = story.music.duck if story.music else 1.0
    sound = Mixer(timeline, list(made.narration), made.music, volume=volume, duck=duck)  # made as the frames go
    film = story.film
    captions = [s.narration for s in story.scenes] if film.subtitles else None
    frames = Frames(timeline, made.pictures, film.size, film.fps, ken_burns=film.ken_burns, captions=captions)
    info = provenance(story, made, index, timeline)
    metadata = {"title": story.title or "Story", "comment": json.dumps(info, ensure_ascii=False),
                "artist": "cloned voice (Studio)" if info["cloned_voice"] else "Studio",
                "encoder": f"Studio {__version__}"}

    def progress(done: int, total: int, eta: float | None) -> None:
        say(Progress(done, total, "export", eta_s=eta))

    say(Status("Writing the film…"))
    stats = write_mp4(targets.film, frames, sound, metadata=metadata, cancel=cancel, on_progress=progress)
    atomic_write_text(targets.subtitles, srt(cues(story, timeline)))
    return stats, timeline


@dataclass(frozen=True)
class Rendered:
    film: Path
    subtitles: Path
    stats: FilmStats
    timeline: Timeline
    assets: Assets


def render(
    story: Story,
    out: str | os.PathLike,
    run: Runner,
    index: AssetIndex,
    *,
    cancel: CancelToken | None = None,
    on_event: Callable[[object], None] | None = None,
) -> Rendered:
    """Everything from the story to FILM.mp4 + FILM.srt; only the assets not in ``index`` are made."""
    targets = preflight(story, out)
    made = assets_mod.ensure(story, index, run, cancel=cancel, on_event=on_event)
    stats, timeline = export(story, made, targets, index=index, cancel=cancel, on_event=on_event)
    return Rendered(targets.film, targets.subtitles, stats, timeline, made)
