"""Audio files (no Qt): WAV / FLAC / OGG written and read with soundfile, parameters in the format's own tags.

Shared by Speech and Music. Tags: FLAC and OGG carry Vorbis comments, WAV a ``LIST/INFO`` chunk
(libsndfile writes both). Studio writes

* ``title``    the first words of the text (or prompt)
* ``artist``   the voice or model that made it ("cloned voice" when it was cloned from a clip)
* ``genre``    ``Speech`` / ``Music`` (``Speech (cloned voice)`` for a cloned voice)
* ``software`` ``Studio <version>``
* ``comment``  every parameter as JSON (:func:`read_tags` reads it back)

libsndfile drops the whole INFO chunk on reading when one WAV string is longer than about 2 KB, so
for WAV the JSON is shortened (the text cut, with ``"text_truncated": true``); the library index
always has the full parameters. Channels are kept as they are (stereo stays stereo).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidRequest, StudioError
from .atomic import atomic_write_bytes

#: suffix → (soundfile format, subtype)
FORMATS: dict[str, tuple[str, str]] = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
}
#: what a reference clip or an opened file may be
READABLE_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".oga", ".opus", ".aiff", ".aif")
WAV_TAG_LIMIT = 1800  # bytes of one WAV INFO string that survive libsndfile's reader
#: frames handed to libsndfile per write call. Its Vorbis encoder crashes the process (SIGSEGV) when
#: one write reaches about 2.1 M frames (95 s of 22 kHz speech), so every format is written in
#: blocks of this size; the file is the same as from one call.
WRITE_BLOCK_FRAMES = 1 << 16


class AudioFileError(StudioError):
    """An audio file that cannot be read (missing, truncated, not audio)."""


def format_for(path: str | Path) -> tuple[str, str]:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidRequest(
            f"Can't save audio as '{suffix or Path(path).name}': use .wav, .flac or .ogg."
        )
    return FORMATS[suffix]


def as_frames(audio: Any) -> np.ndarray:
    """float32 samples as (frames,) for mono or (frames, channels); NaN/inf become 0, clipped to ±1."""
    data = np.asarray(audio, dtype=np.float32)
    if data.ndim == 2 and data.shape[0] < data.shape[1] and data.shape[0] <= 8:
        data = data.T  # (channels, frames) as torch-style libraries return it
    if data.ndim > 2:
        raise ValueError(f"audio must be 1-D or 2-D, got shape {data.shape}")
    data = np.nan_to_num(data, nan=0.0, posinf=1.0, neginf=-1.0)  # one copy (an hour of speech is 320 MB) …
    return np.clip(data, -1.0, 1.0, out=data)  # … clipped in place


def _version() -> str:
    from .. import __version__

    return __version__


def audio_tags(params: dict) -> dict[str, str]:
    """The string tags Studio writes for a result with ``params`` (see the module docstring)."""
    kind = str(params.get("kind") or "audio")
    words = " ".join(str(params.get("text") or params.get("prompt") or "").split())
    cloned = bool(params.get("cloned_voice"))
    voice = str(params.get("voice") or params.get("model_name") or params.get("model") or "")
    if cloned:
        voice = f"cloned voice ({voice})" if voice else "cloned voice"
    genre = {"speech": "Speech", "music": "Music"}.get(kind, kind.capitalize())
    tags = {
        "title": words[:80] + ("…" if len(words) > 80 else ""),
        "artist": voice,
        "genre": genre + (" (cloned voice)" if cloned else ""),
        "software": f"Studio {_version()}",
        "comment": _json(params),
    }
    # a model named by a non-UTF-8 folder: its bytes are shown as U+FFFD, the file stays writable
    return {k: v.encode("utf-8", "replace").decode("utf-8") for k, v in tags.items()}


def _json(data: Any) -> str:
    """JSON text that stays valid UTF-8: a file name from non-UTF-8 bytes (lone surrogates) is escaped."""
    text = json.dumps(data, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, ensure_ascii=True, default=str)
    return text


def _wav_comment(params: dict) -> str:
    """The JSON comment, shortened to fit a WAV INFO string (the text cut first)."""
    text = _json(params)
    if len(text.encode("utf-8")) <= WAV_TAG_LIMIT:
        return text
    short = dict(params)
    for key in ("text", "prompt"):
        if isinstance(short.get(key), str):
            short[key] = short[key][:200] + "…"
            short[f"{key}_truncated"] = True
    text = _json(short)
    if len(text.encode("utf-8")) <= WAV_TAG_LIMIT:
        return text
    keep = {k: v for k, v in short.items() if isinstance(v, (int, float, bool)) or (isinstance(v, str) and len(v) < 120)}
    return _json({**keep, "params_truncated": True})[:WAV_TAG_LIMIT]


def encode(audio: Any, sample_rate: int, params: dict | None = None, suffix: str = ".wav") -> bytes:
    """The bytes of an audio file in the format of ``suffix`` with Studio's tags."""
    fmt, subtype = format_for(f"x{suffix}")
    data = as_frames(audio)
    if data.shape[0] == 0:
        raise InvalidRequest("There is no audio to save (0 samples).")
    channels = 1 if data.ndim == 1 else data.shape[1]
    tags = audio_tags(params or {})
    if fmt == "WAV":
        tags["comment"] = _wav_comment(params or {})
        tags = {k: v for k, v in tags.items() if len(v.encode("utf-8")) <= WAV_TAG_LIMIT}
    buf = io.BytesIO()
    with _soundfile().SoundFile(buf, "w", int(sample_rate), channels, format=fmt, subtype=subtype) as f:
        for key, value in tags.items():
            if value:
                setattr(f, key, value)
        write_blocks(f, data)
    return buf.getvalue()


def write_blocks(f, data: np.ndarray) -> None:
    """Write ``data`` to the open soundfile ``f`` in blocks of :data:`WRITE_BLOCK_FRAMES` frames."""
    for start in range(0, data.shape[0], WRITE_BLOCK_FRAMES):
        f.write(data[start : start + WRITE_BLOCK_FRAMES])


def export(path: str | Path, audio: Any, sample_rate: int, params: dict | None = None, *, suffix: str = "") -> Path:
    """Write ``audio`` to ``path`` (.wav/.flac/.ogg from its suffix, or ``suffix`` for a device named
    without one), atomically, with tags; a FIFO or a device is written through."""
    path = Path(path)
    return atomic_write_bytes(path, encode(audio, sample_rate, params, suffix or path.suffix.lower()))


def _soundfile():
    import soundfile

    return soundfile


def read(path: str | Path, *, mono: bool = False) -> tuple[np.ndarray, int]:
    """(float32 samples (frames,) or (frames, channels), sample rate); AudioFileError when unreadable."""
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"The audio file '{path}' does not exist.")
    sf = _soundfile()
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile's errors say little; name the file and the reason
        raise AudioFileError(
            f"Can't read '{path.name}' as audio ({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}): "
            "use a WAV, FLAC, OGG or MP3 file."
        ) from None
    if data.shape[0] == 0:
        raise AudioFileError(f"'{path.name}' holds no audio (0 samples).")
    if mono or data.shape[1] == 1:
        data = data.mean(axis=1)
    return np.ascontiguousarray(data, dtype=np.float32), int(rate)


def read_tags(path: str | Path) -> dict[str, Any]:
    """The tags of an audio file: ``{"title", "artist", …, "params": dict}``; {} when there are none.

    Untrusted input: a broken comment never raises, it only leaves ``params`` out.
    """
    try:
        with _soundfile().SoundFile(str(path)) as f:
            tags: dict[str, Any] = dict(f.copy_metadata())
    except Exception:
        return {}
    try:
        params = json.loads(tags.get("comment", ""))
        if isinstance(params, dict):
            tags["params"] = params
    except ValueError:
        pass
    return tags


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``audio`` (frames[, channels]) at ``target`` Hz (polyphase filter; a no-op when equal)."""
    if rate == target:
        return audio
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(rate), int(target))
    return resample_poly(audio, target // g, rate // g, axis=0).astype(np.float32)


def duration_s(audio: np.ndarray, rate: int) -> float:
    return float(len(audio)) / rate if rate else 0.0
