"""MusicGen through transformers: loading, reading input clips, codec tokens in and out (no Qt).

A loaded model is a :class:`MusicModel`: the transformers model and processor plus the numbers the
window loop needs (sample rate, codec hop, frames per second, codebook delay, the window length).
Everything here that touches torch runs on the runtime's compute thread.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidRequest, UnsafeModelFile, WrongModelKind
from ..models.device import DeviceChoice
from ..models.resolve import ResolvedModel

MUSICGEN_TYPES = ("musicgen", "musicgen_melody")


@dataclass
class MusicModel:
    """A MusicGen (or MusicGen-Melody) model ready to generate."""

    model: Any  # MusicgenForConditionalGeneration | MusicgenMelodyForConditionalGeneration
    processor: Any  # MusicgenProcessor | MusicgenMelodyProcessor
    melody: bool  # takes a melody (chroma) condition
    channels: int  # 1 mono, 2 stereo
    sample_rate: int
    hop: int  # audio samples per codec frame
    num_codebooks: int  # rows of the token stream (stereo: both channels interleaved)
    pad_token_id: int  # also the start token of every codebook row

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    @property
    def delay(self) -> int:
        """Extra generate steps the codebook delay pattern costs (codebook k lags k steps)."""
        return self.num_codebooks // self.channels - 1

    @property
    def window_frames(self) -> int:
        """Frames one ``generate`` call can make: the model's ``max_length`` less start token and delay."""
        max_length = int(self.model.generation_config.max_length or 1500)
        return max(2, max_length - 1 - self.delay)


def _model_type(folder: Path) -> str:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return str(config.get("model_type", "")) if isinstance(config, dict) else ""


def load_music_model(resolved: ResolvedModel, choice: DeviceChoice) -> MusicModel:
    """Model and processor from a MusicGen folder on ``choice``; safetensors only, no remote code."""
    folder = resolved.path
    model_type = _model_type(folder) if resolved.format == "transformers" else ""
    if model_type not in MUSICGEN_TYPES:
        raise WrongModelKind(
            f"'{resolved.label}' is not a MusicGen model ({model_type or resolved.format}); "
            "the Music tab needs one of the musicgen models from the catalog."
        )
    if not any(folder.glob("*.safetensors")):
        if any(folder.glob("*.bin")):
            raise UnsafeModelFile(
                f"'{resolved.label}' only has pickled weights (.bin), which can run code when loaded. "
                "Studio loads .safetensors only: pick a safetensors version of this model."
            )
        raise InvalidRequest(f"'{resolved.label}' has no weights (.safetensors) in {folder}.")
    from transformers import (
        AutoProcessor,
        MusicgenForConditionalGeneration,
        MusicgenMelodyForConditionalGeneration,
    )

    melody = model_type == "musicgen_melody"
    cls = MusicgenMelodyForConditionalGeneration if melody else MusicgenForConditionalGeneration
    model = cls.from_pretrained(folder, dtype=choice.torch_dtype(), use_safetensors=True, trust_remote_code=False)
    model.to(choice.device).eval()
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=False)
    codec = model.config.audio_encoder
    pad = model.generation_config.pad_token_id
    if pad is None:
        pad = model.generation_config.decoder_start_token_id
    return MusicModel(
        model=model,
        processor=processor,
        melody=melody,
        channels=int(model.decoder.config.audio_channels),
        sample_rate=int(codec.sampling_rate),
        hop=int(math.prod(codec.upsampling_ratios)),
        num_codebooks=int(model.decoder.num_codebooks),
        pad_token_id=int(pad),
    )


# --- input clips (melody, continuation) ---------------------------------------------------------


def fit_clip(clip: tuple[np.ndarray, int], sample_rate: int, channels: int) -> np.ndarray:
    """A clip (samples ``(frames, channels)``, rate) as ``(channels, samples)`` at the model's rate and channel count."""
    from ..library import audio as audio_io

    frames, rate = clip
    if frames.shape[1] != channels:  # mono model: mix down; stereo model: copy the one channel
        frames = frames.mean(axis=1, keepdims=True) if channels == 1 else np.repeat(frames[:, :1], channels, axis=1)
    frames = audio_io.resample(frames, rate, sample_rate)
    return np.ascontiguousarray(frames.T, dtype=np.float32)


def is_melody_model(folder: Path) -> bool:
    return _model_type(folder) == "musicgen_melody"


def loop_segment(clip: np.ndarray, start: int, length: int) -> np.ndarray:
    """``length`` samples of ``clip`` from ``start``, repeating it when it is shorter (as AudioCraft does)."""
    positions = (np.arange(length) + start) % clip.shape[-1]
    return clip[..., positions]


# --- codec tokens ---------------------------------------------------------------------------------


def encode_clip(mm: MusicModel, clip: np.ndarray):
    """Codec tokens ``(1, num_codebooks, frames)`` of a ``(channels, samples)`` clip (stereo interleaved)."""
    import torch

    model = mm.model
    device = next(model.audio_encoder.parameters()).device
    dtype = next(model.audio_encoder.parameters()).dtype
    rows = []
    for channel in clip:  # one codec pass per channel, rows interleaved L, R, L, R … as MusicGen stereo
        values = torch.from_numpy(channel[None, None, :]).to(device=device, dtype=dtype)
        rows.append(model.audio_encoder.encode(values).audio_codes[0])  # (1, K, frames)
    codes = torch.stack(rows, dim=2).reshape(1, -1, rows[0].shape[-1])  # (1, K·channels, frames)
    if codes.shape[1] != mm.num_codebooks:
        raise InvalidRequest(
            f"The codec made {codes.shape[1]} codebooks but the model expects {mm.num_codebooks}: "
            "this model's files do not fit together."
        )
    return codes


def decode_codes(mm: MusicModel, codes) -> np.ndarray:
    """Audio ``(samples, channels)`` float32 of codec tokens ``(1, num_codebooks, frames)``."""
    import torch

    channels = []
    for c in range(mm.channels):  # stereo: even rows are the left channel, odd rows the right
        rows = codes[:, c :: mm.channels, :]
        channels.append(mm.model.audio_encoder.decode(rows[None], [None]).audio_values[0, 0])
    return torch.stack(channels, dim=-1).float().cpu().numpy()


def undelay(mm: MusicModel, stream, prompt=None):
    """The codes ``(1, num_codebooks, frames)`` in a finished generate's token stream.

    ``stream`` is the delayed token stream ``(num_codebooks, length)`` as ``generate`` built it: a
    start token, then codebook ``k`` of each channel (rows interleaved L, R, … for stereo) lagging
    ``k`` steps behind the first, so ``delay`` steps past the last frame; ``prompt`` the codes
    ``(1, num_codebooks, frames)`` it began from, if any. Row ``r`` holds its codes at
    ``1 + r // channels`` onwards. Where the delay pushed a prompt code past the columns ``generate``
    started with, the stream holds a sampled token that ``generate``'s delay mask replaces by the
    prompt code (the model is shown the prompt code there too): so the prompt's frames are taken from
    ``prompt``. The same codes as ``generate`` hands its codec, without building the mask.
    """
    import torch

    frames = stream.shape[-1] - 1 - mm.delay
    rows = [stream[r, 1 + r // mm.channels : 1 + r // mm.channels + frames] for r in range(mm.num_codebooks)]
    codes = torch.stack(rows)[None]
    if prompt is not None:
        codes[..., : prompt.shape[-1]] = prompt
    return codes


def as_output_audio(audio: np.ndarray) -> np.ndarray:
    """Mono as ``(samples,)``, stereo as ``(samples, 2)`` — what soundfile writes."""
    return np.ascontiguousarray(audio[:, 0] if audio.shape[1] == 1 else audio, dtype=np.float32)
