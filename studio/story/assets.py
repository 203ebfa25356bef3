"""What a story is made of: one picture and one narration clip per scene and one music bed, each made
from a request and kept under a hash of that request.

The same request gives the same key, so changing one scene's prompt, seed or narration changes only
that scene's keys, and a re-render makes only those assets again. The requests are run by an injected
``run(request) -> [SavedItem]`` callable: the CLI drives the engines, the Story tab the job queue.
Every asset is a file in the library (saved there with its full parameters by whoever ran it); the
:class:`AssetIndex` only remembers which library file a key produced.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cancel import CancelToken
from ..errors import StudioError
from ..events import Notice, SavedItem, Status
from ..library.atomic import atomic_write_text
from ..library.store import to_json
from ..requests import ImageRequest, MusicRequest, SpeechRequest
from .document import Story

PICTURE, NARRATION, MUSIC = "picture", "narration", "music"
MAX_MUSIC_S = 300.0  # MusicRequest's longest piece

Runner = Callable[[object], list[SavedItem]]


def request_key(request) -> str:
    """A stable hash of everything that decides what ``request`` makes (a permission to load a pickled
    file changes nothing in the result)."""
    params = {k: v for k, v in request.to_dict().items() if k != "allow_pickle"}
    data = json.dumps(params, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(data.encode("ascii")).hexdigest()[:24]


def picture_request(story: Story, index: int) -> ImageRequest | None:
    """Scene ``index``'s picture request (None for a picture of one's own)."""
    scene, s = story.scenes[index], story.image
    if scene.picture_file or not scene.picture.strip():
        return None
    prompt = scene.picture.strip()
    if s.style.strip():
        prompt = f"{prompt}, {s.style.strip()}"
    return ImageRequest(prompt=prompt, negative_prompt=s.negative_prompt, model=s.model, width=s.width,
                        height=s.height, num_inference_steps=s.steps, guidance_scale=s.guidance,
                        seed=scene.image_seed(s, index))


def narration_request(story: Story, index: int) -> SpeechRequest | None:
    text = story.scenes[index].narration.strip()
    if not text:
        return None
    v = story.voice
    return SpeechRequest(text=text, model=v.model, speaker=v.speaker, language=v.language, speed=v.speed, seed=1,
                         speaker_wav=v.speaker_wav)


def music_request(story: Story, length_s: float) -> MusicRequest | None:
    """The bed for a film of ``length_s`` seconds (None: no bed, or a file of one's own)."""
    m = story.music
    if m is None or m.file:
        return None
    duration = min(MAX_MUSIC_S, max(1.0, float(math.ceil(length_s))))
    return MusicRequest(prompt=m.prompt, model=m.model, duration_s=duration, seed=m.seed,
                        window_keep_s=m.window_keep)


def all_requests(story: Story, length_s: float = 10.0) -> list[tuple[str, int | None, object]]:
    """(role, scene, request) of everything the story would generate (music sized for ``length_s``)."""
    out: list[tuple[str, int | None, object]] = []
    for i in range(len(story.scenes)):
        for role, req in ((PICTURE, picture_request(story, i)), (NARRATION, narration_request(story, i))):
            if req is not None:
                out.append((role, i, req))
    music = music_request(story, length_s)
    if music is not None:
        out.append((MUSIC, None, music))
    return out


class AssetIndex:
    """key → the library file made for it, with what made it (model, seed, cloned voice).

    A plain dict, kept in a ``.studio-story`` document (the Story tab) or in a JSON file in the
    library folder (the CLI, :meth:`open`).
    """

    def __init__(self, entries: dict | None = None, path: str | Path | None = None) -> None:
        self.entries: dict[str, dict] = dict(entries or {})
        self.path = Path(path) if path else None

    @classmethod
    def open(cls, path: str | Path) -> AssetIndex:
        """The index saved at ``path``; a missing or damaged file starts an empty one."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        return cls(data if isinstance(data, dict) else {}, path)

    def get(self, key: str) -> Path | None:
        """The file made for ``key``, when it is still there."""
        entry = self.entries.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            return None
        path = Path(entry["path"])
        return path if path.is_file() else None

    def put(self, key: str, role: str, item: SavedItem, scene: int | None) -> Path:
        params = item.params or {}
        self.entries[key] = {
            "path": str(item.path),
            "role": role,
            "scene": scene,
            "model": params.get("model_name") or params.get("model", ""),
            "seed": params.get("seed"),
            "cloned_voice": bool(params.get("cloned_voice")),
        }
        if self.path is not None:
            self.save()
        return Path(item.path)

    def save(self) -> None:
        if self.path is not None:
            atomic_write_text(self.path, to_json(self.entries, indent=1))

    def provenance(self, key: str) -> dict[str, Any]:
        entry = self.entries.get(key) or {}
        return {k: entry[k] for k in ("model", "seed", "cloned_voice") if k in entry}


@dataclass
class Assets:
    """The files a film is cut from, by scene."""

    pictures: list[Path]
    narration: list[Path | None]
    narration_s: list[float | None]
    music: Path | None = None
    keys: dict[tuple[str, int | None], str] | None = None  # (role, scene) → request key, for provenance
    made: int = 0  # how many were generated in this run (the others were reused)


def missing(story: Story, index: AssetIndex) -> list[tuple[str, int, object]]:
    """(role, scene, request) of the pictures and narration clips not made yet (the music bed is sized
    from the narration, so it comes after these)."""
    out = []
    for role, scene, req in all_requests(story):
        if role != MUSIC and index.get(request_key(req)) is None:
            out.append((role, scene, req))
    return out


def narration_length(path: Path) -> float:
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception:
        raise StudioError(f"The narration clip '{path.name}' cannot be read; regenerate it.") from None
    return info.frames / info.samplerate if info.samplerate else 0.0


def _made(run: Runner, request, role: str, scene: int | None) -> SavedItem:
    items = run(request)
    for item in items:
        if item.path and Path(item.path).is_file():
            return item
    where = f"scene {scene + 1}'s {role}" if scene is not None else f"the {role}"
    raise StudioError(f"Nothing was made for {where}; try again.")


def ensure(
    story: Story,
    index: AssetIndex,
    run: Runner,
    *,
    cancel: CancelToken | None = None,
    on_event: Callable[[object], None] | None = None,
) -> Assets:
    """Every picture, narration clip and the music bed of ``story``: reused when the index has its
    key, otherwise made with ``run`` (and recorded). Raises Cancelled between assets on cancel."""
    say = on_event or (lambda ev: None)
    keys: dict[tuple[str, int | None], str] = {}
    made = 0

    def get(role: str, scene: int | None, request, label: str) -> Path:
        nonlocal made
        key = request_key(request)
        keys[(role, scene)] = key
        found = index.get(key)
        if found is not None:
            return found
        if cancel is not None:
            cancel.check()
        say(Status(f"Making {label}…"))
        made += 1
        return index.put(key, role, _made(run, request, role, scene), scene)

    pictures: list[Path] = []
    narration: list[Path | None] = []
    lengths: list[float | None] = []
    for i, scene in enumerate(story.scenes):
        req = picture_request(story, i)
        pictures.append(Path(scene.picture_file) if req is None else get(PICTURE, i, req, f"scene {i + 1}'s picture"))
        speech = narration_request(story, i)
        if speech is None:
            narration.append(None)
            lengths.append(None)
            continue
        clip = get(NARRATION, i, speech, f"scene {i + 1}'s narration")
        narration.append(clip)
        lengths.append(narration_length(clip))
    music: Path | None = None
    if story.music is not None:
        if story.music.file:
            music = Path(story.music.file)
        else:
            from .timing import layout

            length = layout(story, lengths).length
            if length > MAX_MUSIC_S:
                say(Notice(f"The film is {length:.0f} s long; the music bed is {MAX_MUSIC_S:.0f} s and starts again."))
            music = get(MUSIC, None, music_request(story, length), "the music bed")
    return Assets(pictures, narration, lengths, music, keys, made)


def library_index_path(library_root: str | Path) -> Path:
    """Where the CLI keeps the story asset index of a library."""
    return Path(library_root) / "story-assets.json"


__all__ = [
    "AssetIndex", "Assets", "MUSIC", "NARRATION", "PICTURE", "Runner", "all_requests", "ensure", "missing",
    "music_request", "narration_request", "picture_request", "request_key", "library_index_path",
]
