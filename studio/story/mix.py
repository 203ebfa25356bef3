"""The film's sound: each scene's narration at its place, over a music bed that is ducked under the
voice (lowered while someone speaks, with short fades) and faded out at the end.

:class:`Mixer` makes the sound a piece at a time (float32 stereo at ``rate``), as the film writer
asks for it: only the music bed (at most :data:`~.assets.MAX_MUSIC_S` long; a longer film loops it)
and the narration clips around the piece asked for are held, never the whole film's sound.
:func:`mix` is the whole of it at once (short previews, tests).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..library import audio as audio_io
from .timing import Timeline

RATE = 48_000
DUCK_FADE_S = 0.3  # the bed goes down this long before a voice and comes back this long after
END_FADE_S = 2.0


def _stereo(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        return np.repeat(audio[:, None], 2, axis=1)
    if audio.shape[1] == 1:
        return np.repeat(audio, 2, axis=1)
    return audio[:, :2]


def fit_length(audio: np.ndarray, frames: int) -> np.ndarray:
    """``audio`` cut or looped to ``frames`` (a bed shorter than the film starts again)."""
    if len(audio) == 0:
        return np.zeros((frames, 2), np.float32)
    if len(audio) >= frames:
        return audio[:frames]
    reps = -(-frames // len(audio))
    return np.concatenate([audio] * reps)[:frames]


def _clip(source) -> tuple[np.ndarray, int] | None:
    """(samples, rate) of a clip given as a file or already read."""
    if source is None:
        return None
    if isinstance(source, (str, Path)):
        return audio_io.read(source)
    return source


class Mixer:
    """The sound of a film laid out by ``timeline``; ``narration[i]`` is scene i's clip (a file, or
    (samples, rate); None: silent), ``music`` the bed (the same, or None)."""

    def __init__(self, timeline: Timeline, narration: list, music=None, *, volume: float = 0.3,
                 duck: float = 0.25, rate: int = RATE) -> None:
        self.timeline, self.narration, self.rate = timeline, list(narration), rate
        self.volume, self.duck = volume, duck
        self.frames = max(1, int(round(timeline.length * rate)))
        bed = _clip(music)
        self.bed = None if bed is None else _stereo(audio_io.resample(bed[0], bed[1], rate))
        if self.bed is not None and len(self.bed) == 0:
            self.bed = None
        self._voices: dict[int, np.ndarray] = {}  # scene → its clip at ``rate`` (only those near the piece)
        self._starts = [shot.start for shot in timeline.shots]

    def _near(self, start: int, end: int):
        """The shots that may sound (or duck the bed) between samples ``start`` and ``end``."""
        import bisect

        first = max(0, bisect.bisect_right(self._starts, start / self.rate - DUCK_FADE_S) - 1)
        last = bisect.bisect_right(self._starts, end / self.rate + DUCK_FADE_S)
        return self.timeline.shots[first:last]

    def _voice(self, index: int) -> np.ndarray | None:
        if index not in self._voices:
            clip = _clip(self.narration[index]) if index < len(self.narration) else None
            self._voices[index] = None if clip is None else _stereo(audio_io.resample(clip[0], clip[1], self.rate))
        return self._voices[index]

    def gain(self, start: int, end: int) -> np.ndarray:
        """The bed's gain for samples ``start``…``end``: ``volume`` where nobody speaks, ``volume × duck``
        under the voice, linear ramps of :data:`DUCK_FADE_S` around each narration, faded to 0 over the
        last seconds."""
        rate, fade = self.rate, max(1, int(DUCK_FADE_S * self.rate))
        idx = np.arange(start, end, dtype=np.float64)
        speech = np.zeros(end - start, np.float32)
        for shot in self._near(start, end):
            if not shot.spoken:
                continue
            a, b = int(shot.speech_start * rate), int(shot.speech_end * rate)
            if b + fade <= start or a - fade >= end:
                continue
            ramp = np.minimum(np.clip((idx - (a - fade)) / fade, 0, 1), np.clip(((b + fade) - idx) / fade, 0, 1))
            np.maximum(speech, ramp.astype(np.float32), out=speech)
        gain = self.volume * (1.0 - (1.0 - self.duck) * speech)
        tail = min(self.frames, int(min(END_FADE_S, self.timeline.length / 4) * rate))
        if tail > 0:
            fade_from = self.frames - tail
            gain *= np.clip((self.frames - idx) / tail, 0.0, 1.0).astype(np.float32) if end > fade_from else 1.0
        return gain.astype(np.float32)

    def chunk(self, start: int, end: int) -> np.ndarray:
        """Samples ``start``…``end`` of the film's sound, (end - start, 2) float32 within ±1."""
        end = min(end, self.frames)
        out = np.zeros((max(0, end - start), 2), np.float32)
        if end <= start:
            return out
        if self.bed is not None:
            positions = np.arange(start, end) % len(self.bed)  # a bed shorter than the film starts again
            out += self.bed[positions] * self.gain(start, end)[:, None]
        for shot in self._near(start, end):
            a = int(round(shot.speech_start * self.rate))
            if not shot.spoken or a >= end or int(round(shot.speech_end * self.rate)) + self.rate < start:
                continue
            voice = self._voice(shot.index)
            if voice is None:
                continue
            lo, hi = max(start, a), min(end, a + len(voice))
            if hi > lo:
                out[lo - start:hi - start] += voice[lo - a:hi - a]
        for index in [i for i in self._voices if self.timeline.shots[i].end * self.rate + self.rate < start]:
            del self._voices[index]  # scenes already past
        np.clip(out, -1.0, 1.0, out=out)
        return out


def mix(timeline: Timeline, narration: list, music=None, *, volume: float = 0.3, duck: float = 0.25,
        rate: int = RATE) -> np.ndarray:
    """(frames, 2) float32: the whole film's sound at once (see :class:`Mixer`)."""
    mixer = Mixer(timeline, narration, music, volume=volume, duck=duck, rate=rate)
    return mixer.chunk(0, mixer.frames)


def rms_db(audio: np.ndarray) -> float:
    """Loudness of ``audio`` as RMS in dBFS (-inf for silence)."""
    power = float(np.mean(np.square(audio, dtype=np.float64))) if len(audio) else 0.0
    return 10 * np.log10(power) if power > 0 else float("-inf")
