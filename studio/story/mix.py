"""The film's sound: each scene's narration at its place, over a music bed that is ducked under the
voice (lowered while someone speaks, with short fades) and faded out at the end.

Everything is float32 stereo at :data:`RATE`; the result is what the MP4's AAC track gets.
"""

from __future__ import annotations

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


def duck_gain(timeline: Timeline, frames: int, volume: float, duck: float, rate: int = RATE) -> np.ndarray:
    """The bed's gain per sample: ``volume`` where nobody speaks, ``volume × duck`` under the voice,
    linear ramps of :data:`DUCK_FADE_S` around each narration, faded to 0 over the last seconds."""
    speech = np.zeros(frames, np.float32)
    fade = max(1, int(DUCK_FADE_S * rate))
    for shot in timeline.shots:
        if not shot.spoken:
            continue
        a, b = int(shot.speech_start * rate), int(shot.speech_end * rate)
        lo, hi = max(0, a - fade), min(frames, b + fade)
        if hi <= lo:
            continue
        idx = np.arange(lo, hi, dtype=np.float32)
        ramp = np.minimum(np.clip((idx - (a - fade)) / fade, 0, 1), np.clip(((b + fade) - idx) / fade, 0, 1))
        speech[lo:hi] = np.maximum(speech[lo:hi], ramp)
    gain = volume * (1.0 - (1.0 - duck) * speech)
    tail = min(frames, int(min(END_FADE_S, timeline.length / 4) * rate))
    if tail > 0:
        gain[frames - tail:] *= np.linspace(1.0, 0.0, tail, dtype=np.float32)
    return gain


def mix(
    timeline: Timeline,
    narration: list[tuple[np.ndarray, int] | None],
    music: tuple[np.ndarray, int] | None = None,
    *,
    volume: float = 0.3,
    duck: float = 0.25,
    rate: int = RATE,
) -> np.ndarray:
    """(frames, 2) float32: the narration clips at their scenes' places over the ducked bed."""
    frames = max(1, int(round(timeline.length * rate)))
    out = np.zeros((frames, 2), np.float32)
    if music is not None:
        bed = fit_length(_stereo(audio_io.resample(music[0], music[1], rate)), frames)
        out += bed * duck_gain(timeline, frames, volume, duck, rate)[:, None]
    for shot in timeline.shots:
        clip = narration[shot.index] if shot.index < len(narration) else None
        if clip is None or not shot.spoken:
            continue
        voice = _stereo(audio_io.resample(clip[0], clip[1], rate))
        start = int(round(shot.speech_start * rate))
        end = min(frames, start + len(voice))
        out[start:end] += voice[: end - start]
    np.clip(out, -1.0, 1.0, out=out)
    return out


def rms_db(audio: np.ndarray) -> float:
    """Loudness of ``audio`` as RMS in dBFS (-inf for silence)."""
    power = float(np.mean(np.square(audio, dtype=np.float64))) if len(audio) else 0.0
    return 10 * np.log10(power) if power > 0 else float("-inf")
