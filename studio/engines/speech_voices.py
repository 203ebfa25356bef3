"""Speech backends (no Qt): the voice contract, coqui-tts models through ``TTS.api``, and loading
(the Piper runtime, ONNX, is :mod:`studio.engines.speech_piper`).

A backend is a loaded voice with one blocking call, :meth:`Voice.say`, that turns one chunk of text
into float32 samples; the engine (:mod:`studio.engines.speech`) runs it on the compute thread chunk
by chunk. :func:`voice_options` reads a model's speakers and languages from its files only (no
torch), for the UI; a loaded :class:`Voice` knows them exactly.

Loading policy. Piper voices are ONNX graphs plus JSON: no pickle at all. coqui checkpoints are
``.pth`` pickles, but coqui-tts 0.28 loads every file Studio uses with ``torch.load(weights_only=True)``
(read in site-packages: ``trainer.io.load_fsspec`` passes ``weights_only=True`` on torch ≥ 2.4 and
does not let callers override it; it loads the model checkpoint of VITS/Tacotron/Glow/XTTS and the
speaker-encoder, ``TTS.tts.utils.managers.load_file`` the speakers/d-vector ``.pth`` files,
``TTS.tts.layers.xtts.xtts_manager`` ``speakers_xtts.pth``, ``xtts.py``/``dvae.py`` ``mel_stats.pth``,
all with ``weights_only=True``; XTTS's legacy fallback only adds its own config dataclasses to the
allow-list). Those are loaded without asking. Bark's loader calls ``torch.load(weights_only=False)``
(full unpickling): it needs the same explicit consent (``allow_pickle``) as a ``.ckpt`` image.
"""

from __future__ import annotations

import json
import pickle
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidRequest, ModelNotFound, UnsafeModelFile
from ..models.resolve import ResolvedModel
from .speech_text import unsayable

#: coqui model types whose loader unpickles fully (``torch.load(weights_only=False)``)
FULL_PICKLE_MODELS = ("bark",)
#: checkpoint names coqui's own ModelManager looks for, in its order
CHECKPOINT_NAMES = ("model_file.pth", "model_file.pth.tar", "model.pth", "checkpoint.pth", "best_model.pth")
DEFAULT_MAX_CHARS = 400
XTTS_MAX_CHARS = 250


@dataclass(frozen=True)
class VoiceOptions:
    """What a person can choose for a model (filled into the Speech tab's pickers)."""

    engine: str  # 'piper' | 'coqui'
    speakers: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    can_clone: bool = False
    sample_rate: int = 0
    notes: str = ""


class Voice:
    """A loaded voice. ``say`` is the one blocking call (it runs on the compute thread)."""

    engine = ""
    sample_rate = 0
    can_clone = False
    speed_supported = True
    seedable = True  # a seed makes the sampling repeatable

    def __init__(self) -> None:
        self.speakers: tuple[str, ...] = ()
        self.languages: tuple[str, ...] = ()

    def options(self) -> VoiceOptions:
        return VoiceOptions(self.engine, self.speakers, self.languages, self.can_clone, self.sample_rate)

    def max_chars(self, language: str) -> int:
        return DEFAULT_MAX_CHARS

    def default_language(self) -> str:
        return self.languages[0] if self.languages else ""

    def unsayable(self, text: str, language: str) -> list[str]:
        return unsayable(text, language or self.default_language())

    def seed(self, seed: int) -> None:
        """Make the sampling of the next ``say`` calls repeatable."""

    def say(self, text: str, *, speaker: str, language: str, clip: str, speed: float) -> np.ndarray:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------
# coqui-tts
# ---------------------------------------------------------------------------------------------
def coqui_config(path: Path) -> dict:
    folder = path if path.is_dir() else path.parent
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelNotFound(f"'{path}' has no readable config.json beside it ({type(exc).__name__}).") from None
    return data if isinstance(data, dict) else {}


def coqui_checkpoint(path: Path, config: dict) -> Path:
    """The checkpoint coqui loads: the file itself, or in a folder the one coqui's ModelManager would pick.

    XTTS (and other models that load themselves from a folder) get the folder."""
    if path.is_file():
        return path
    if str(config.get("model", "")).lower() in ("xtts", "tortoise", "bark"):
        return path
    for name in CHECKPOINT_NAMES:
        if (path / name).is_file():
            return path / name
    candidates = sorted(p for p in path.glob("*.pt*") if p.is_file() and "speaker" not in p.name)
    if len(candidates) == 1:
        return candidates[0]
    raise ModelNotFound(
        f"No coqui checkpoint in '{path}': expected model.pth (or model_file.pth) next to config.json."
    )


def check_pickle_policy(model: ResolvedModel, config: dict, allow_pickle: bool) -> None:
    kind = str(config.get("model", "")).lower()
    if kind in FULL_PICKLE_MODELS and not allow_pickle:
        raise UnsafeModelFile(
            f"'{model.label}' is a {kind} model, whose files coqui unpickles in full (they can run code when "
            "loaded). Load it only if you trust where it came from: confirm in the Speech tab, or pass --allow-pickle.",
            model.path,
            allowable=True,
        )


def _json_names(path: Path) -> tuple[str, ...]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    if isinstance(data, dict):
        return tuple(sorted(data, key=lambda k: data[k] if isinstance(data[k], (int, float)) else 0))
    if isinstance(data, list):
        return tuple(str(x) for x in data)
    return ()


def _coqui_file_options(path: Path, config: dict) -> VoiceOptions:
    folder = path if path.is_dir() else path.parent
    args = config.get("model_args") or {}
    languages = tuple(config.get("languages") or ())
    if not languages:
        for key in ("language_ids_file",):
            value = args.get(key) or config.get(key)
            if value:
                languages = _json_names(folder / Path(value).name) or _json_names(Path(value))
    speakers: tuple[str, ...] = tuple(s for s in (config.get("speakers") or ()) if isinstance(s, str))
    if not speakers:
        for key in ("speakers_file", "speaker_ids_file"):
            value = args.get(key) or config.get(key)
            if value and str(value).endswith(".json"):
                speakers = _json_names(folder / Path(value).name) or _json_names(Path(value))
                if speakers:
                    break
    if len(languages) < 2:
        languages = ()  # a single language is not a choice (the loaded model says the same)
    kind = str(config.get("model", "")).lower()
    can_clone = kind in ("xtts", "tortoise", "bark") or bool(args.get("speaker_encoder_model_path"))
    rate = (config.get("audio") or {}).get("output_sample_rate") or (config.get("audio") or {}).get("sample_rate") or 0
    notes = "Speakers are listed once the model has loaded." if kind == "xtts" else ""
    return VoiceOptions("coqui", speakers, languages, can_clone, int(rate or 0), notes)


class CoquiVoiceBackend(Voice):
    engine = "coqui"

    def __init__(self, model: ResolvedModel, device: str) -> None:
        super().__init__()
        from TTS.api import TTS

        config = coqui_config(model.path)
        self.kind = str(config.get("model", "")).lower()
        checkpoint = coqui_checkpoint(model.path, config)
        folder = model.path if model.path.is_dir() else model.path.parent
        try:
            self.tts = TTS(model_path=str(checkpoint), config_path=str(folder / "config.json"), progress_bar=False)
        except pickle.UnpicklingError:
            raise UnsafeModelFile(
                f"'{model.label}' holds Python objects besides weights, which could run code when loaded; "
                "Studio loads coqui checkpoints as weights only. Use the model's original files.",
                checkpoint,
            ) from None
        if device != "cpu":
            self.tts.to(device)
        synth = self.tts.synthesizer
        self.model = synth.tts_model
        self.sample_rate = int(synth.output_sample_rate)
        self.can_clone = bool(synth.tts_config.supports_cloning)
        self.speakers = tuple(self.tts.speakers or ()) if self.tts.is_multi_speaker else ()
        self.languages = tuple(self.tts.languages or ()) if self.tts.is_multi_lingual else ()
        self.base_length_scale = float(getattr(self.model, "length_scale", 1.0) or 1.0)
        self.speed_supported = self.kind == "xtts" or hasattr(self.model, "length_scale")
        tokenizer = getattr(self.model, "tokenizer", None)
        self._vocab: frozenset[str] | None = None
        self._cleaner = None
        if tokenizer is not None and not getattr(tokenizer, "use_phonemes", True) and hasattr(tokenizer, "characters"):
            self._vocab = frozenset(tokenizer.characters.vocab)
            self._cleaner = getattr(tokenizer, "text_cleaner", None)

    def max_chars(self, language: str) -> int:
        if self.kind == "xtts":
            limits = getattr(getattr(self.model, "tokenizer", None), "char_limits", None) or {}
            return int(limits.get(language, XTTS_MAX_CHARS)) if isinstance(limits, dict) else XTTS_MAX_CHARS
        return DEFAULT_MAX_CHARS

    def unsayable(self, text: str, language: str) -> list[str]:
        if self._vocab is None:
            return unsayable(text, language or self.default_language())
        out: list[str] = []
        for ch in dict.fromkeys(text):
            if ch.isspace():
                continue
            cleaned = self._cleaner(ch) if self._cleaner else ch
            said = "".join(c for c in cleaned if not c.isspace())
            if not said:  # the model's cleaner removes it: fine for punctuation, a loss for anything else
                if unicodedata.category(ch)[0] not in "PZ":
                    out.append(ch)
            elif unsayable(said, "en", vocab=self._vocab):
                out.append(ch)
        return out

    def seed(self, seed: int) -> None:
        import torch

        torch.manual_seed(int(seed))

    def say(self, text: str, *, speaker: str, language: str, clip: str, speed: float) -> np.ndarray:
        from TTS.utils.synthesizer import PAD_SILENCE_SAMPLES

        kwargs: dict[str, Any] = {}
        if self.kind == "xtts":
            kwargs["speed"] = speed
        elif hasattr(self.model, "length_scale"):
            self.model.length_scale = self.base_length_scale / speed
        wav = self.tts.tts(
            text,
            speaker=speaker or None,
            language=language or None,
            speaker_wav=clip or None,
            split_sentences=False,
            **kwargs,
        )
        audio = np.asarray(wav, dtype=np.float32)
        if len(audio) > PAD_SILENCE_SAMPLES and not audio[-PAD_SILENCE_SAMPLES:].any():
            audio = audio[:-PAD_SILENCE_SAMPLES]  # the synthesizer's own pause: Studio adds its own
        return audio


# ---------------------------------------------------------------------------------------------
def load_voice(model: ResolvedModel, device: str, *, allow_pickle: bool = False) -> Voice:
    """Load ``model`` (format 'piper' or 'coqui') on ``device``; runs on the compute thread."""
    if model.format == "piper":
        use_cuda = False
        if device.startswith("cuda"):
            import onnxruntime

            use_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
        from .speech_piper import PiperVoiceBackend  # the backends build on the contract above

        return PiperVoiceBackend(model.path, use_cuda=use_cuda)
    if model.format == "coqui":
        check_pickle_policy(model, coqui_config(model.path), allow_pickle)
        return CoquiVoiceBackend(model, device)
    raise InvalidRequest(
        f"'{model.label}' ({model.format}) is not a speech model Studio can run: use a Piper .onnx voice "
        "or a coqui model (model.pth with config.json)."
    )


def voice_options(model: ResolvedModel) -> VoiceOptions:
    """Speakers, languages and cloning of ``model`` read from its files (no torch, cheap)."""
    if model.format == "piper":
        from .speech_piper import piper_file_options

        return piper_file_options(model.path)
    if model.format == "coqui":
        return _coqui_file_options(model.path, coqui_config(model.path))
    return VoiceOptions(model.format)
