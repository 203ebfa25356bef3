"""Files a person names as input — pictures, audio clips, text files, LoRAs, PNGs to read — opened in
one place, with the limits named here, before any model loads.

One rule for every input file:

* ``""`` is refused; a missing file, a folder, a FIFO, a socket or a device each get their own line
  (a FIFO is never opened for reading, so nothing can hang on it; a device is never read until memory
  runs out);
* the file is opened here (``O_NONBLOCK``, then checked with ``fstat`` on the open descriptor, so a
  file swapped for a FIFO between the check and the open is still refused) and the open file is handed
  to the library that decodes it: file names that are not UTF-8 work as the file system allows;
* only what is used is read: a picture's header for its size, the first seconds of a reference clip
  or a melody, the tail of a clip to continue — never a whole 1 GB WAV;
* every size limit is a named constant below (pixels, seconds, bytes, the silence level).

No Qt, no torch: numpy, Pillow and soundfile are imported when a picture or a clip is opened.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import InvalidRequest

# --- the named limits -----------------------------------------------------------------------------
#: the largest picture Studio opens, in pixels (also the Canvas's limit), and its longest side
MAX_PICTURE_PIXELS = 8192 * 8192
MAX_PICTURE_SIDE = 8192
#: inpainting runs the model at about the generation size in the picture's aspect: sides further
#: apart than this would make a generation too long on one side and too short on the other
MAX_INPAINT_ASPECT = 8.0
#: the largest text file read (a text to speak, a prompt file)
MAX_TEXT_FILE_BYTES = 4 * 1024 * 1024
#: a clip whose loudest sample is below this (−60 dBFS) counts as silent, for speech and music alike
SILENCE_PEAK = 1e-3
#: a speaker reference clip: at least this much, and only this much of it is read (models use seconds)
MIN_REFERENCE_CLIP_S = 2.0
REFERENCE_CLIP_S = 60.0
#: a clip to continue: only its last seconds are read and kept (MusicGen conditions on at most 30 s)
CONTINUE_TAIL_S = 30.0
#: a melody: only the piece's length plus one model window of it is read (MusicGen windows are ≤ 30 s)
MELODY_EXTRA_S = 30.0
#: the longest speech made at once, in seconds (its samples are kept until the file is written), and a
#: fast reader's pace, so the estimate of a text's length aloud stays below what any voice takes
MAX_SPEECH_S = 3600.0
FAST_CHARS_PER_S = 20.0
#: the longest music prompt: MusicGen's T5 encoder reads 512 tokens, about this many characters
MAX_MUSIC_PROMPT_CHARS = 2000
#: what a clip may be (soundfile decodes these)
AUDIO_WORDS = "a WAV, FLAC, OGG or MP3 file"


class UnusableInput(InvalidRequest):
    """An input path names nothing, a folder, a special file, or a file that cannot be read."""


def _shown(path: str | os.PathLike) -> str:
    """A path as a message shows it: bytes that are not UTF-8 as escapes, no control characters."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def check_input_file(path: str | os.PathLike, what: str, *, max_bytes: int | None = None) -> Path:
    """``path`` (``~`` expanded) when it is a readable regular file of at most ``max_bytes``."""
    with open_input(path, what, max_bytes=max_bytes):
        pass
    return Path(os.fspath(path)).expanduser()


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def open_input(path: str | os.PathLike, what: str, *, max_bytes: int | None = None) -> BinaryIO:
    """The regular file ``path`` opened for reading (binary); :class:`UnusableInput` says why not."""
    text = os.fspath(path)
    shown = _shown(text)
    if not text.strip():
        raise UnusableInput(f"The {what} path is empty: give a file.")
    p = Path(text).expanduser()
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        raise UnusableInput(f"No {what} at '{shown}'.") from None
    except OSError as exc:
        raise UnusableInput(f"Cannot read the {what} '{shown}' ({exc.strerror or exc}).") from None
    if stat.S_ISDIR(st.st_mode):
        raise UnusableInput(f"'{shown}' is a folder, not a {what} file.")
    if not stat.S_ISREG(st.st_mode):
        raise UnusableInput(
            f"'{shown}' is not a regular file (a {_kind_of(st.st_mode)}): give the {what} as a file."
        )
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UnusableInput(f"Cannot read the {what} '{shown}' ({exc.strerror or exc}).") from None
    try:
        st = os.fstat(fd)  # what was opened, not what was there a moment ago
        if not stat.S_ISREG(st.st_mode):
            raise UnusableInput(
                f"'{shown}' is not a regular file (a {_kind_of(st.st_mode)}): give the {what} as a file."
            )
        if max_bytes is not None and st.st_size > max_bytes:
            raise UnusableInput(
                f"The {what} '{shown}' is too large ({st.st_size:,} bytes; at most {max_bytes:,})."
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# --- text files -----------------------------------------------------------------------------------
def read_text_file(path: str | os.PathLike, what: str = "text file", *, max_bytes: int = MAX_TEXT_FILE_BYTES) -> str:
    """The text of a UTF-8 file (a BOM is dropped), or one line saying why it cannot be used."""
    with open_input(path, what, max_bytes=max_bytes) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew since it was checked
        raise UnusableInput(f"The {what} '{_shown(path)}' is too large (at most {max_bytes:,} bytes).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnusableInput(
            f"The {what} '{_shown(path)}' is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8."
        ) from None


# --- pictures -------------------------------------------------------------------------------------
def _check_picture_size(width: int, height: int, what: str, shown: str) -> None:
    if width < 1 or height < 1:
        raise UnusableInput(f"The {what} '{shown}' is empty ({width}×{height} pixels).")
    if width * height > MAX_PICTURE_PIXELS or max(width, height) > MAX_PICTURE_SIDE:
        raise UnusableInput(
            f"The {what} '{shown}' is {width}×{height} pixels; Studio opens pictures up to {MAX_PICTURE_SIDE} "
            "pixels a side."
        )


def _not_a_picture(what: str, shown: str) -> UnusableInput:
    return UnusableInput(f"Can't read the {what} '{shown}': it is not a picture Studio can read (PNG, JPEG, WEBP …).")


def picture_size(path: str | os.PathLike, what: str) -> tuple[int, int]:
    """(width, height) of a picture from its header only, its size checked against the limits."""
    from PIL import Image

    shown = _shown(path)
    with open_input(path, what) as f:
        try:
            with Image.open(f) as im:
                size = im.size
        except Exception:
            raise _not_a_picture(what, shown) from None
    _check_picture_size(*size, what, shown)
    return size


def open_picture(path: str | os.PathLike, what: str, mode: str | None = None):
    """The picture decoded (a PIL image, converted to ``mode`` when given), after the same checks."""
    from PIL import Image

    shown = _shown(path)
    with open_input(path, what) as f:
        try:
            with Image.open(f) as im:
                _check_picture_size(*im.size, what, shown)
                im.load()
                return im.convert(mode) if mode else im.copy()
        except UnusableInput:
            raise
        except Exception:
            raise _not_a_picture(what, shown) from None


# --- audio clips ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClipInfo:
    frames: int
    sample_rate: int
    channels: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _not_audio(what: str, shown: str) -> UnusableInput:
    return UnusableInput(f"Can't read the {what} '{shown}' as audio: use {AUDIO_WORDS}.")


def _sound_file(f: BinaryIO, what: str, shown: str):
    import soundfile

    try:
        sf = soundfile.SoundFile(f)
    except Exception:  # libsndfile's own words ("possibly a pipe?") would mislead
        raise _not_audio(what, shown) from None
    if sf.samplerate <= 0 or sf.channels <= 0:
        sf.close()
        raise _not_audio(what, shown)
    return sf


def clip_info(path: str | os.PathLike, what: str) -> ClipInfo:
    """Length, rate and channels of a clip from its header (nothing decoded)."""
    shown = _shown(path)
    with open_input(path, what) as f, _sound_file(f, what, shown) as sf:
        info = ClipInfo(int(sf.frames), int(sf.samplerate), int(sf.channels))
    if info.frames <= 0:
        raise UnusableInput(f"The {what} '{shown}' holds no audio (0 samples).")
    return info


def read_clip(
    path: str | os.PathLike,
    what: str,
    *,
    seconds: float | None = None,
    tail: bool = False,
    mono: bool = False,
    min_seconds: float = 0.0,
) -> tuple:
    """(float32 samples ``(frames, channels)`` — ``(frames,)`` with ``mono`` —, sample rate, ClipInfo).

    Only ``seconds`` of the clip are read: its start, or its end with ``tail``. A clip shorter than
    ``min_seconds``, holding NaN or infinity, or silent (below :data:`SILENCE_PEAK`) is refused.
    """
    import numpy as np

    shown = _shown(path)
    with open_input(path, what) as f, _sound_file(f, what, shown) as sf:
        info = ClipInfo(int(sf.frames), int(sf.samplerate), int(sf.channels))
        want = info.frames if seconds is None else min(info.frames, int(math.ceil(seconds * info.sample_rate)))
        try:
            data = _read_part(sf, info, want, tail)
        except Exception:
            raise UnusableInput(f"The {what} '{shown}' is damaged: its audio cannot be decoded.") from None
    if data.shape[0] == 0:
        raise UnusableInput(f"The {what} '{shown}' holds no audio (0 samples).")
    length = info.frames / info.sample_rate
    if length < min_seconds:
        raise UnusableInput(f"The {what} '{shown}' is {length:.1f} s long; it needs at least {min_seconds:g} s.")
    if not np.isfinite(data).all():
        raise UnusableInput(f"The {what} '{shown}' holds invalid samples (NaN or infinity).")
    if data.size == 0 or float(np.abs(data).max()) < SILENCE_PEAK:
        raise UnusableInput(f"The {what} '{shown}' is silent: pick a clip with sound in it.")
    if mono:
        data = data.mean(axis=1)
    return np.ascontiguousarray(data, dtype=np.float32), info.sample_rate, info


def _read_part(sf, info: ClipInfo, want: int, tail: bool):
    """``want`` frames from the start of an open clip, or its last ``want`` with ``tail``: by seeking, or
    where the format cannot seek, by decoding it in blocks and keeping only the last ones."""
    import numpy as np

    if not tail or want >= info.frames:
        return sf.read(want, dtype="float32", always_2d=True)
    try:
        sf.seek(info.frames - want)
        return sf.read(want, dtype="float32", always_2d=True)
    except Exception:  # a stream without a seek table: decode through, holding one block and the tail
        sf.seek(0)
    kept = np.zeros((0, info.channels), np.float32)
    for block in sf.blocks(blocksize=1 << 16, dtype="float32", always_2d=True):
        kept = np.concatenate([kept, block])[-want:]
    return kept
