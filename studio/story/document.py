"""The story document: what ``studio story render STORY.json`` reads and the Story tab saves.

A story file is UTF-8 JSON::

    {"title": "…",
     "image": {"model": "…", "width": 1024, "height": 576, "steps": 4, "seed": 1},
     "voice": {"model": "", "speaker": ""},
     "music": {"model": "…", "prompt": "…", "volume": 0.3},
     "film":  {"fps": 25, "aspect": "16:9", "resolution": 720, "crossfade": 0.5, "pause": 0.8,
               "ken_burns": false, "subtitles": false},
     "scenes": [{"narration": "…", "picture": "a prompt"}, {"narration": "…", "picture_file": "scene2.png"}]}

``music`` and ``film`` may be left out; ``"model": ""`` means the default of that kind. The Story
tab's ``.studio-story`` documents add ``format``, ``version``, ``idea`` and ``assets`` (what each
scene's picture, narration and the music were made from, see :mod:`.assets`); both are read here.

Reading is strict and happens before anything runs: an unknown key is refused by name (a typo like
``"narattion"`` must not silently make a film without a voice), as are wrong types, negative or
absurd lengths, more than :data:`MAX_SCENES` scenes, text that is not valid Unicode and files that are
not UTF-8. Paths are resolved against the story file's folder.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import InvalidRequest
from ..fieldspec import MAX_PATH_CHARS, MAX_PROMPT_CHARS, MAX_SEED
from ..library.inputs import check_input_file

FORMAT = "studio-story"
VERSION = 1
SUFFIX = ".studio-story"
MAX_SCENES = 500
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_NARRATION_CHARS = 5000
MAX_SCENE_S = 600.0
MAX_TITLE_CHARS = 300
FPS = (24, 25, 30)
ASPECTS = ("16:9", "1:1", "9:16")
RESOLUTIONS = (720, 1080)


class StoryError(InvalidRequest):
    """A story file that cannot be used; the message names the key and the fix."""


@dataclass(frozen=True)
class ImageSettings:
    model: str = ""
    width: int = 1024
    height: int = 576
    steps: int = 4
    seed: int | None = 1  # None: a random seed for each picture (the Story tab's "Random")
    guidance: float = 0.0
    negative_prompt: str = ""
    style: str = ""  # one shared style line added to every picture prompt


@dataclass(frozen=True)
class VoiceSettings:
    model: str = ""  # the bundled Piper voice
    speaker: str = ""
    language: str = ""
    speed: float = 1.0
    speaker_wav: str = ""  # a clip of a voice to clone (XTTS); the film is then marked "cloned voice"


@dataclass(frozen=True)
class MusicSettings:
    model: str = ""
    prompt: str = ""
    file: str = ""  # a music file of one's own instead of generating
    volume: float = 0.3  # the bed's level where nobody speaks
    duck: float = 0.25  # its level under the voice, relative to ``volume``
    seed: int = 1
    window_keep: float = 12.0  # past the model's window: seconds kept as context (as the Music tab)


@dataclass(frozen=True)
class FilmSettings:
    fps: int = 25
    aspect: str = "16:9"
    resolution: int = 720  # the short side
    crossfade: float = 0.5
    pause: float = 0.8  # after each scene's narration
    ken_burns: bool = False
    subtitles: bool = False  # burned into the picture (the .srt is always written)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, even numbers (H.264's 4:2:0 needs them)."""
        short = self.resolution
        if self.aspect == "1:1":
            return short, short
        long = int(round(short * 16 / 9 / 2)) * 2
        return (long, short) if self.aspect == "16:9" else (short, long)


@dataclass(frozen=True)
class Scene:
    narration: str = ""
    picture: str = ""  # a prompt
    picture_file: str = ""  # or a picture of one's own (absolute once read)
    length: float = 0.0  # seconds, for a scene without narration; 0 = the default length
    seed: int | None = None  # None: the story's image seed + the scene's index

    def image_seed(self, settings: ImageSettings, index: int) -> int | None:
        """Its own seed, else the story's seed + its index (None: random, when the story's is)."""
        if self.seed is not None:
            return self.seed
        return None if settings.seed is None else (settings.seed + index) % (MAX_SEED + 1)


@dataclass(frozen=True)
class Story:
    title: str = ""
    scenes: tuple[Scene, ...] = ()
    image: ImageSettings = field(default_factory=ImageSettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    music: MusicSettings | None = None
    film: FilmSettings = field(default_factory=FilmSettings)
    idea: str = ""
    assets: dict = field(default_factory=dict)  # key → {"path", "kind", "params"} (GUI documents)

    def to_dict(self) -> dict[str, Any]:
        """The ``.studio-story`` form; :func:`parse` reads it back."""
        data: dict[str, Any] = {"format": FORMAT, "version": VERSION, "title": self.title}
        if self.idea:
            data["idea"] = self.idea
        data["image"] = asdict(self.image)
        data["voice"] = asdict(self.voice)
        if self.music is not None:
            data["music"] = asdict(self.music)
        data["film"] = asdict(self.film)
        unset = asdict(Scene())
        data["scenes"] = [
            {k: v for k, v in asdict(s).items() if k == "narration" or v != unset[k]} for s in self.scenes
        ]
        if self.assets:
            data["assets"] = self.assets
        return data

    def with_scene(self, index: int, **changes: Any) -> Story:
        scenes = list(self.scenes)
        scenes[index] = replace(scenes[index], **changes)
        return replace(self, scenes=tuple(scenes))


DEFAULT_LENGTH_S = 4.0


# --- reading -----------------------------------------------------------------------------------

def load(path: str | Path) -> Story:
    """Read and check a story file (see the module doc); :class:`StoryError` says what is wrong."""
    p = check_input_file(path, "story", max_bytes=MAX_FILE_BYTES)
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StoryError(
            f"The story file '{path}' is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
            "save it as UTF-8."
        ) from None
    return loads(text, base=p.parent, name=str(path))


def loads(text: str, *, base: str | Path | None = None, name: str = "the story") -> Story:
    try:
        raw = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        if isinstance(exc, StoryError):
            raise
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        raise StoryError(f"{name} is not valid JSON{where}: {getattr(exc, 'msg', exc)}.") from None
    return parse(raw, base=base)


def _no_constant(word: str):
    raise StoryError(f"The story holds {word}, which is not a number; write a number.")


_TOP = ("format", "version", "title", "idea", "image", "voice", "music", "film", "scenes", "assets")


def parse(raw: Any, *, base: str | Path | None = None) -> Story:
    """A :class:`Story` from parsed JSON (see the module doc)."""
    if not isinstance(raw, dict):
        raise StoryError("A story file must hold one JSON object with 'scenes' (a list of scenes).")
    _known(raw, _TOP, "the story")
    if "format" in raw and raw["format"] != FORMAT:
        raise StoryError(f"'format' must be '{FORMAT}' (got {_shown(raw['format'])}).")
    if "version" in raw and raw["version"] != VERSION:
        raise StoryError(f"This story was saved by a newer Studio (version {_shown(raw['version'])}); update Studio.")
    if "scenes" not in raw:
        raise StoryError("The story has no 'scenes': add a list of scenes, e.g. [{\"narration\": \"…\", \"picture\": \"…\"}].")
    scenes_raw = raw["scenes"]
    if not isinstance(scenes_raw, list) or not scenes_raw:
        raise StoryError("'scenes' must be a list with at least one scene.")
    if len(scenes_raw) > MAX_SCENES:
        raise StoryError(f"The story has {len(scenes_raw):,} scenes; Studio makes films of at most {MAX_SCENES} scenes.")
    base_dir = Path(base) if base is not None else None
    title = _text(raw, "title", "the story", MAX_TITLE_CHARS)
    idea = _text(raw, "idea", "the story", MAX_PROMPT_CHARS)
    image = _section(raw, "image", ImageSettings, _IMAGE_RULES)
    voice = _section(raw, "voice", VoiceSettings, _VOICE_RULES)
    music = _section(raw, "music", MusicSettings, _MUSIC_RULES) if raw.get("music") is not None else None
    film = _section(raw, "film", FilmSettings, _FILM_RULES)
    if voice.speaker_wav:
        voice = replace(voice, speaker_wav=str(_input_path(voice.speaker_wav, base_dir, "voice clip", "voice")))
    if music is not None:
        if music.file:
            music = replace(music, file=str(_input_path(music.file, base_dir, "music file", "music")))
        elif not music.prompt.strip():
            raise StoryError("music: give a 'prompt' for the music to make, or a 'file' to use; leave 'music' out for no bed.")
    scenes = tuple(_scene(s, i, base_dir) for i, s in enumerate(scenes_raw))
    if any(s.picture for s in scenes) and "image" not in raw:
        first = next(i for i, s in enumerate(scenes) if s.picture) + 1
        raise StoryError(f"scene {first} asks for a picture from a prompt, but the story has no 'image' settings "
                         "(model, width, height, steps, seed).")
    assets = raw.get("assets", {})
    if not isinstance(assets, dict):
        raise StoryError("'assets' must be an object (it is written by the Story tab).")
    return Story(title=title, scenes=scenes, image=image, voice=voice, music=music, film=film, idea=idea,
                 assets=assets)


# A rule: (type, minimum, maximum) for numbers, (str, max_chars) for text, ("choice", values).
_IMAGE_RULES = {
    "model": (str, MAX_PATH_CHARS), "width": (int, 64, 4096), "height": (int, 64, 4096), "steps": (int, 1, 500),
    "seed": (int, 0, MAX_SEED), "guidance": (float, 0.0, 30.0), "negative_prompt": (str, MAX_PROMPT_CHARS),
    "style": (str, 1000),
}
_VOICE_RULES = {
    "model": (str, MAX_PATH_CHARS), "speaker": (str, 200), "language": (str, 32), "speed": (float, 0.5, 2.0),
    "speaker_wav": (str, MAX_PATH_CHARS),
}
_MUSIC_RULES = {
    "model": (str, MAX_PATH_CHARS), "prompt": (str, MAX_PROMPT_CHARS), "file": (str, MAX_PATH_CHARS),
    "volume": (float, 0.0, 1.0), "duck": (float, 0.0, 1.0), "seed": (int, 0, MAX_SEED),
    "window_keep": (float, 1.0, 25.0),
}
_FILM_RULES = {
    "fps": ("choice", FPS), "aspect": ("choice", ASPECTS), "resolution": ("choice", RESOLUTIONS),
    "crossfade": (float, 0.0, 5.0), "pause": (float, 0.0, 30.0), "ken_burns": (bool,), "subtitles": (bool,),
}
_SCENE_RULES = {
    "narration": (str, MAX_NARRATION_CHARS), "picture": (str, MAX_PROMPT_CHARS), "picture_file": (str, MAX_PATH_CHARS),
    "length": (float, 0.0, MAX_SCENE_S), "seed": (int, 0, MAX_SEED),
}


def _section(raw: dict, key: str, cls: type, rules: dict):
    value = raw.get(key, {})
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise StoryError(f"'{key}' must be an object like {{\"model\": \"…\"}} (got {_type_word(value)}).")
    _known(value, tuple(rules), f"'{key}'")
    kwargs = {k: None if (k == "seed" and v is None and key == "image") else _value(v, rules[k], f"{key}: '{k}'")
              for k, v in value.items()}
    if key == "image":
        for side in ("width", "height"):
            if side in kwargs and kwargs[side] % 8:
                raise StoryError(f"image: '{side}' must be a multiple of 8 (got {kwargs[side]}).")
    return cls(**kwargs)


def _scene(raw: Any, index: int, base: Path | None) -> Scene:
    where = f"scene {index + 1}"
    if not isinstance(raw, dict):
        raise StoryError(f"{where} must be an object like {{\"narration\": \"…\", \"picture\": \"…\"}}.")
    _known(raw, tuple(_SCENE_RULES), where)
    kwargs = {k: _value(v, _SCENE_RULES[k], f"{where}: '{k}'") for k, v in raw.items() if v is not None}
    if kwargs.get("picture") and kwargs.get("picture_file"):
        raise StoryError(f"{where} has both 'picture' (a prompt) and 'picture_file'; keep one.")
    if not (kwargs.get("picture", "").strip() or kwargs.get("picture_file")):
        raise StoryError(f"{where} has no picture: add 'picture' (a prompt) or 'picture_file' (a file).")
    if kwargs.get("picture_file"):
        kwargs["picture_file"] = str(_input_path(kwargs["picture_file"], base, "picture", where))
        check_picture(kwargs["picture_file"], where)
    return Scene(**kwargs)


def _input_path(text: str, base: Path | None, what: str, where: str) -> Path:
    p = Path(text).expanduser()
    if not p.is_absolute() and base is not None:
        p = base / p
    try:
        return check_input_file(p, what)
    except InvalidRequest as exc:
        raise StoryError(f"{where}: {exc}") from None


def check_picture(path: str | Path, where: str = "the picture") -> tuple[int, int]:
    """The picture's (width, height), after the input module's checks (a regular file, a picture, within
    the size limits) and a check that its data is whole (a truncated PNG fails here, not mid-export)."""
    from PIL import Image

    from ..library import inputs

    try:
        size = inputs.picture_size(path, "picture")
    except InvalidRequest as exc:
        raise StoryError(f"{where}: {exc}") from None
    try:
        with Image.open(path) as im:
            im.verify()
    except Exception:
        raise StoryError(f"{where}: the picture '{Path(path).name}' is damaged (its data is incomplete); "
                         "save it again or use another.") from None
    return size


def _value(value: Any, rule: tuple, where: str) -> Any:
    kind = rule[0]
    if kind == "choice":
        if value not in rule[1]:
            raise StoryError(f"{where} must be one of {', '.join(map(str, rule[1]))} (got {_shown(value)}).")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise StoryError(f"{where} must be true or false (got {_shown(value)}).")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise StoryError(f"{where} must be text (got {_type_word(value)}).")
        _check_unicode(value, where)
        if len(value) > rule[1]:
            raise StoryError(f"{where} is too long ({len(value):,} characters; at most {rule[1]:,}).")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StoryError(f"{where} must be a number (got {_type_word(value)}).")
    if kind is int and not (isinstance(value, int) or float(value).is_integer()):
        raise StoryError(f"{where} must be a whole number (got {value}).")
    if not math.isfinite(value):
        raise StoryError(f"{where} must be a finite number.")
    lo, hi = rule[1], rule[2]
    if value < lo:
        raise StoryError(f"{where} must not be negative (got {value})." if lo == 0 else
                         f"{where} must be at least {lo} (got {value}).")
    if value > hi:
        raise StoryError(f"{where} must be at most {hi} (got {value}).")
    return int(value) if kind is int else float(value)


def _check_unicode(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise StoryError(f"{where} holds an invalid character at position {exc.start} (a lone surrogate, "
                         "e.g. from text that was not UTF-8); retype it.") from None
    if "\x00" in text:
        raise StoryError(f"{where} holds a NUL character; remove it.")


def _known(raw: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        names = ", ".join(repr(_cut(str(k))) for k in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        raise StoryError(f"{where} has unknown key{'s' if len(unknown) > 1 else ''} {names}; "
                         f"known keys: {', '.join(allowed)}.")


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _shown(value: Any) -> str:
    return repr(_cut(value)) if isinstance(value, str) else _cut(json.dumps(value, default=str))


def _type_word(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def _text(raw: dict, key: str, where: str, limit: int) -> str:
    return _value(raw[key], (str, limit), f"{where}: '{key}'") if key in raw else ""


def save(story: Story, path: str | Path) -> Path:
    """Write ``story`` as a ``.studio-story`` document (atomically: a crash keeps the previous one)."""
    from ..library.atomic import atomic_write_text
    from ..library.store import to_json

    return atomic_write_text(path, to_json(story.to_dict(), indent=1))


def autosave_path() -> Path:
    """Where the Story tab autosaves the open story (offered back after a crash)."""
    from .. import paths

    return paths.data_dir() / "story" / f"autosave{SUFFIX}"


def from_outline(text: str, base: Story | None = None) -> Story:
    """One scene per paragraph of ``text`` (blank lines separate paragraphs); the paragraph is the
    narration, the picture prompts of ``base``'s scenes are kept by position."""
    paragraphs = [" ".join(p.split()) for p in text.replace("\r\n", "\n").split("\n\n")]
    paragraphs = [p for p in paragraphs if p][:MAX_SCENES]
    base = base or Story()
    old = list(base.scenes)
    scenes = []
    for i, narration in enumerate(paragraphs):
        prev = old[i] if i < len(old) else Scene()
        scenes.append(replace(prev, narration=narration[:MAX_NARRATION_CHARS],
                              picture=prev.picture or ("" if prev.picture_file else narration[:200])))
    return replace(base, scenes=tuple(scenes))
