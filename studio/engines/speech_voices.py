"""Speech backends (no Qt): the Piper runtime (ONNX) and coqui-tts models through ``TTS.api``.

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
import logging
import pickle
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidRequest, ModelNotFound, UnsafeModelFile
from ..models.device import LoadWatch, physical_cores
from ..models.resolve import ResolvedModel
from .speech_text import unsayable

log = logging.getLogger(__name__)

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
# Piper
# ---------------------------------------------------------------------------------------------
def piper_config_path(onnx: Path) -> Path:
    config = onnx.with_name(onnx.name + ".json")
    if not config.is_file():
        raise ModelNotFound(
            f"The Piper voice '{onnx.name}' has no '{config.name}' beside it: put the voice's .onnx.json next to the .onnx."
        )
    return config


def piper_session_options(threads: int = 0, *, spin: bool = False):
    """onnxruntime options for a Piper voice: ``threads`` intra-op threads (0: this machine's physical
    cores) that, with ``spin``, spin between operators while a sentence is said (never after: the
    spinning stops when each run ends), or else sleep whenever they wait.

    A Piper voice is many short operators, and each one wakes the pool. Measured with
    benchmarks/bench_speech.py's pairs on this 2-core machine (README "Speech speed"): spinning made a
    sentence about 7 % faster on an idle machine, and about 20 % slower once another program kept a
    core busy (the spinning thread shares that core, and every operator waits for it). So a voice
    holds one session of each kind and picks per sentence (:class:`PiperVoiceBackend`)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or physical_cores()
    allow = "1" if spin else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", allow)
    options.add_session_config_entry("session.inter_op.allow_spinning", allow)
    # onnxruntime's own default spins on for 2**20 pauses after a run ends, tens of milliseconds
    # of a core taken from whatever runs next: stop when the run does
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return options


#: cores other programs may keep busy before a Piper voice stops spinning (a browser tab idles at a few %)
PIPER_SPIN_BELOW_CORES = 0.5


def _piper_language(config: dict) -> str:
    code = (config.get("language") or {}).get("code") or (config.get("espeak") or {}).get("voice") or ""
    return str(code)


#: the most phonemes Piper says in one call (a 400-character English sentence has about 460)
MAX_PIPER_PHONEMES = 600


def _nearest(text: str, mark: str, middle: int) -> int | None:
    """The index of the ``mark`` nearest to ``middle`` in ``text`` (None when there is none)."""
    left, right = text.rfind(mark, 0, middle), text.find(mark, middle)
    found = [i for i in (left, right) if i > 0]
    return min(found, key=lambda i: abs(i - middle)) if found else None


#: sample rates a Piper voice config may give (Piper voices are 16 000 or 22 050 Hz)
PIPER_RATES = (4_000, 192_000)
#: what a Piper voice's ONNX graph takes (plus ``sid`` for a voice with several speakers)
PIPER_INPUTS = frozenset({"input", "input_lengths", "scales"})


def piper_config(onnx: Path) -> dict:
    """The voice's ``.onnx.json``, checked where a bad value would only fail deep in synthesis (a
    sample rate of 0 or 10^12, a speaker map that is not a map); ModelNotFound says what is wrong."""
    path = piper_config_path(onnx)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not JSON text"
        raise ModelNotFound(f"The Piper voice config '{path.name}' cannot be read ({reason}).") from None
    audio = raw.get("audio") if isinstance(raw, dict) else None
    if not isinstance(audio, dict) or not isinstance(raw.get("phoneme_id_map"), dict):
        raise ModelNotFound(
            f"'{path.name}' is not a Piper voice config (it has no 'audio' and 'phoneme_id_map' sections)."
        )
    rate = audio.get("sample_rate")
    low, high = PIPER_RATES
    if isinstance(rate, bool) or not isinstance(rate, int) or not low <= rate <= high:
        raise ModelNotFound(
            f"'{path.name}' gives the sample rate {rate!r}; a Piper voice's is a whole number of Hz between "
            f"{low:,} and {high:,} (usually 22050). Download the voice's config again."
        )
    ids = raw.get("speaker_id_map") or {}
    numbers = isinstance(ids, dict) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in ids.values())
    if not numbers:
        raise ModelNotFound(f"'{path.name}' has a 'speaker_id_map' that is not a map of speaker names to numbers.")
    for section in ("espeak", "language", "inference"):
        if raw.get(section) is not None and not isinstance(raw[section], dict):
            raise ModelNotFound(f"'{path.name}' has a '{section}' entry that is not a section of settings.")
    speakers = raw.get("num_speakers", 1)
    if isinstance(speakers, bool) or not isinstance(speakers, int) or speakers < 0:
        raise ModelNotFound(f"'{path.name}' gives num_speakers {speakers!r}; it must be a whole number.")
    return raw


def check_piper_voice(voice, onnx: Path, raw: dict, espeak_voice: str) -> None:
    """The loaded graph must be a Piper voice and agree with its config about speakers, and espeak-ng
    must know the config's voice; ModelNotFound with the fix otherwise (checked once, at load)."""
    names = {i.name for i in voice.session.get_inputs()}
    if not PIPER_INPUTS <= names:
        raise ModelNotFound(
            f"'{onnx.name}' is not a Piper voice: its graph takes {', '.join(sorted(names)) or 'nothing'}, "
            "not Piper's input, input_lengths and scales."
        )
    many = int(voice.config.num_speakers) > 1
    if many and "sid" not in names:
        raise ModelNotFound(
            f"'{onnx.name}.json' lists {voice.config.num_speakers} speakers, but the voice has one: its config "
            "belongs to another voice (remove num_speakers and speaker_id_map, or download the config again)."
        )
    if not many and "sid" in names:
        raise ModelNotFound(
            f"'{onnx.name}' has several speakers, but '{onnx.name}.json' lists none: its config belongs to "
            "another voice. Download the voice's config again."
        )
    if raw.get("speaker_id_map") and not many:
        raise ModelNotFound(
            f"'{onnx.name}.json' has a speaker_id_map, but the voice has one speaker (num_speakers 1): "
            "remove the map or download the config again."
        )
    if str(getattr(voice.config, "phoneme_type", "espeak")).lower().endswith("espeak"):
        try:
            voice.phonemize("a")
        except Exception:  # espeak-ng's own error ("failed to set voice") says nothing of the config
            raise ModelNotFound(
                f"'{onnx.name}.json' names the espeak voice '{espeak_voice}', which espeak-ng does not know: "
                "fix espeak.voice (e.g. 'en-us') or download the config again."
            ) from None


#: the speaking-length factors a voice's config may hold (Piper voices use about 1)
LENGTH_SCALE_RANGE = (0.1, 10.0)


def check_length_scale(value, name: str) -> None:
    """A Piper config's ``length_scale`` must make audio of a sane length (0 made 11 ms of audio)."""
    low, high = LENGTH_SCALE_RANGE
    try:
        ok = low <= float(value) <= high
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ModelNotFound(
            f"The Piper voice '{name}' has length_scale {value!r} in its .onnx.json (a voice needs "
            f"{low:g} to {high:g}, usually 1): fix the file or download the voice again."
        )


class PiperVoiceBackend(Voice):
    engine = "piper"
    # the ONNX graph draws its noise with RandomNormalLike, which onnxruntime.set_seed does not fix
    seedable = False

    def __init__(self, onnx: Path, use_cuda: bool = False) -> None:
        super().__init__()
        from piper import PiperConfig, PiperVoice

        raw = piper_config(onnx)
        # PiperVoice.load's own steps, with Studio's session options (piper_session_options)
        providers: list = (
            [("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"})] if use_cuda else ["CPUExecutionProvider"]
        )
        try:
            config = PiperConfig.from_dict(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a field piper needs is missing or mistyped
            raise ModelNotFound(
                f"'{onnx.name}.json' is not a Piper voice config piper can read (the field {exc} is missing or "
                "wrong). Download the voice's config again."
            ) from None
        check_length_scale(config.length_scale, onnx.name)
        self._onnx, self._providers, self._config = onnx, providers, config
        #: the voice on a session that spins while it works (idle machine); the one that sleeps is made
        #: the first time other programs keep a core busy (piper_session_options says why)
        self.voice = PiperVoice(session=self._session(spin=not use_cuda), config=config)
        self._sleeping_voice = None
        self._load = LoadWatch() if not use_cuda else None
        self.language = _piper_language(raw)
        self.espeak_language = str((raw.get("espeak") or {}).get("voice") or self.language)
        check_piper_voice(self.voice, onnx, raw, self.espeak_language)
        self.sample_rate = int(self.voice.config.sample_rate)
        ids = self.voice.config.speaker_id_map or {}
        self.speaker_ids = dict(ids)
        self.speakers = tuple(sorted(ids, key=lambda s: ids[s]))
        self.languages = (self.language,) if self.language else ()

    def unsayable(self, text: str, language: str) -> list[str]:
        return unsayable(text, self.espeak_language)

    def _session(self, spin: bool):
        import onnxruntime

        try:
            return onnxruntime.InferenceSession(
                str(self._onnx), sess_options=piper_session_options(spin=spin), providers=self._providers
            )
        except Exception as exc:  # onnxruntime: not an ONNX file, a damaged one
            if isinstance(exc, (MemoryError, OSError)):
                raise
            log.info("onnxruntime could not load %s: %s", self._onnx, exc)
            raise ModelNotFound(
                f"'{self._onnx.name}' is not an ONNX voice onnxruntime can load: the file is damaged or not an "
                "ONNX model. Download the voice again."
            ) from None

    def voice_for_now(self):
        """The PiperVoice to say the next sentence with: the spinning session while other programs
        leave the cores alone, the sleeping one (made on first need) while they keep a core busy."""
        busy = self._load.busy_elsewhere() if self._load is not None else None
        if busy is None or busy < PIPER_SPIN_BELOW_CORES:
            return self.voice
        if self._sleeping_voice is None:
            from piper import PiperVoice

            self._sleeping_voice = PiperVoice(session=self._session(spin=False), config=self._config)
        return self._sleeping_voice

    def say(self, text: str, *, speaker: str, language: str, clip: str, speed: float) -> np.ndarray:
        from piper import SynthesisConfig

        config = SynthesisConfig(
            speaker_id=self.speaker_ids.get(speaker) if speaker else None,
            length_scale=self.voice.config.length_scale / speed,
        )
        voice = self.voice_for_now()
        pieces = [
            chunk.audio_float_array
            for part in self.parts(text)
            for chunk in voice.synthesize(part, syn_config=config)
        ]
        return np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, np.float32)

    def parts(self, text: str) -> list[str]:
        """``text`` cut (between words, else at commas, else anywhere) until no part is longer than
        :data:`MAX_PIPER_PHONEMES` phonemes: a sentence's memory grows with its phonemes, and 396
        characters of "123,123,…" (1,391 phonemes, said as numbers) took 1.7–2.2 GB in one call."""
        longest = max((len(p) for p in self.voice.phonemize(text)), default=0)
        if longest <= MAX_PIPER_PHONEMES or len(text) < 2:
            return [text]
        middle = len(text) // 2
        for mark in (" ", ",", None):
            cut = middle if mark is None else _nearest(text, mark, middle)
            if cut is not None and 0 < cut < len(text):
                head, tail = text[:cut].strip(" ,"), text[cut:].strip(" ,")
                if head and tail:
                    return self.parts(head) + self.parts(tail)
        return [text]


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
        try:
            raw = piper_config(model.path)
        except ModelNotFound:  # the job says what is wrong when the voice loads
            return VoiceOptions("piper")
        ids = raw.get("speaker_id_map") or {}
        speakers = tuple(sorted(ids, key=lambda s: ids[s])) if isinstance(ids, dict) else ()
        language = _piper_language(raw)
        rate = int((raw.get("audio") or {}).get("sample_rate") or 0)
        return VoiceOptions("piper", speakers, (language,) if language else (), False, rate)
    if model.format == "coqui":
        return _coqui_file_options(model.path, coqui_config(model.path))
    return VoiceOptions(model.format)
