"""The Piper runtime (no Qt): a Piper voice (an ONNX graph plus its .onnx.json) behind the
:class:`~studio.engines.speech_voices.Voice` contract, on onnxruntime.

Piper voices hold no pickle at all. Their config is checked where a bad value would only fail deep in
synthesis; a sentence Piper would read as hundreds of phonemes is said in parts; and a voice holds a
session that spins between operators and one that sleeps, picked per sentence by the load other
programs put on the machine (:func:`piper_session_options` says why).
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import numpy as np

from ..errors import ModelNotFound
from ..models.device import LoadWatch, physical_cores
from .speech_text import unsayable
from .speech_voices import Voice, VoiceOptions

log = logging.getLogger(__name__)


def piper_config_path(onnx: Path) -> Path:
    config = onnx.with_name(onnx.name + ".json")
    if not config.is_file():
        raise ModelNotFound(
            f"The Piper voice '{onnx.name}' has no '{config.name}' beside it: put the voice's .onnx.json next to the .onnx."
        )
    return config


def piper_session_options(threads: int = 0, *, spin: bool = False):
    """onnxruntime options for a Piper voice: ``threads`` intra-op threads (0: one per physical core)
    that, with ``spin``, spin between operators while a sentence is said (never after: the spinning
    stops when each run ends), or else sleep whenever they wait. Spinning ones are also pinned one per
    core, as onnxruntime's default pool is (a plain ``PiperVoice.load``); sleeping ones are not.

    A Piper voice is many short operators, and each one wakes the pool. Measured with
    benchmarks/bench_speech.py's pairs on this 2-core machine (README "Speech speed"): spinning made a
    sentence about 7 % faster on an idle machine, and about 20 % slower once another program kept a
    core busy (the spinning thread shares that core, and every operator waits for it). So a voice
    holds one session of each kind and picks per sentence (:class:`PiperVoiceBackend`)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # spinning (an idle machine): onnxruntime's own default count, which also pins each worker to a
    # core, as a plain PiperVoice.load does; sleeping (other programs busy): no pinning, so that
    # the scheduler can move a worker away from a core another program keeps busy
    options.intra_op_num_threads = threads or (0 if spin else physical_cores())
    allow = "1" if spin else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", allow)
    options.add_session_config_entry("session.inter_op.allow_spinning", allow)
    # onnxruntime's own default spins on for 2**20 pauses after a run ends, tens of milliseconds
    # of a core taken from whatever runs next: stop when the run does
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return options


#: cores other programs may keep busy before a Piper voice stops spinning (a browser tab idles at a few %)
PIPER_SPIN_BELOW_CORES = 0.5


def piper_language(config: dict) -> str:
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


@functools.cache
def _phonemizing_once():
    """PiperVoice, keeping the phonemes of the last text (the class is made once piper is imported)."""
    from piper import PiperVoice

    class PhonemizingOnce(PiperVoice):
        _last: tuple[str, list] | None = None

        def phonemize(self, text: str) -> list[list[str]]:
            last = self._last
            if last is not None and last[0] == text:
                return last[1]
            phonemes = super().phonemize(text)
            self._last = (text, phonemes)
            return phonemes

    return PhonemizingOnce


def _piper_voice(session, config):
    """A PiperVoice that keeps the phonemes of the last text it phonemized: Studio phonemizes each
    sentence to check its length (:meth:`PiperVoiceBackend.parts`), and ``synthesize`` then
    phonemizes the same text again (about 0.3 ms of espeak-ng a sentence, now done once)."""
    return _phonemizing_once()(session=session, config=config)


class PiperVoiceBackend(Voice):
    engine = "piper"
    # the ONNX graph draws its noise with RandomNormalLike, which onnxruntime.set_seed does not fix
    seedable = False

    def __init__(self, onnx: Path, use_cuda: bool = False) -> None:
        super().__init__()
        from piper import PiperConfig

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
        self.voice = _piper_voice(session=self._session(spin=not use_cuda), config=config)
        self._sleeping_voice = None
        self._load = LoadWatch() if not use_cuda else None
        self.language = piper_language(raw)
        self.espeak_language = str((raw.get("espeak") or {}).get("voice") or self.language)
        check_piper_voice(self.voice, onnx, raw, self.espeak_language)
        self.sample_rate = int(self.voice.config.sample_rate)
        ids = self.voice.config.speaker_id_map or {}
        self.speaker_ids = dict(ids)
        self.speakers = tuple(sorted(ids, key=lambda s: ids[s]))
        self.languages = (self.language,) if self.language else ()

    @property
    def memory_bytes(self) -> int:
        """What the model cache counts: the weights once per session this voice may hold (each
        onnxruntime session keeps its own copy): two on the CPU, where the sleeping one may be made
        at any sentence, counted from the start; one on a GPU."""
        try:
            size = self._onnx.stat().st_size
        except OSError:
            size = 0
        return size * (2 if self._load is not None else 1)

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
            self._sleeping_voice = _piper_voice(session=self._session(spin=False), config=self._config)
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
            for part in self.parts(text, voice)
            for chunk in voice.synthesize(part, syn_config=config)  # phonemized once, by parts (_piper_voice)
        ]
        return np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, np.float32)

    def parts(self, text: str, voice=None) -> list[str]:
        """``text`` cut (between words, else at commas, else anywhere) until no part is longer than
        :data:`MAX_PIPER_PHONEMES` phonemes: a sentence's memory grows with its phonemes, and 396
        characters of "123,123,…" (1,391 phonemes, said as numbers) took 1.7–2.2 GB in one call.
        ``voice``: the PiperVoice that will say the parts (it keeps the last text's phonemes)."""
        voice = voice or self.voice
        longest = max((len(p) for p in voice.phonemize(text)), default=0)
        if longest <= MAX_PIPER_PHONEMES or len(text) < 2:
            return [text]
        middle = len(text) // 2
        for mark in (" ", ",", None):
            cut = middle if mark is None else _nearest(text, mark, middle)
            if cut is not None and 0 < cut < len(text):
                head, tail = text[:cut].strip(" ,"), text[cut:].strip(" ,")
                if head and tail:
                    return self.parts(head, voice) + self.parts(tail, voice)
        return [text]


def piper_file_options(onnx: Path) -> VoiceOptions:
    """Speakers, language and rate of a Piper voice from its .onnx.json only (no onnxruntime)."""
    try:
        raw = piper_config(onnx)
    except ModelNotFound:  # the job says what is wrong when the voice loads
        return VoiceOptions("piper")
    ids = raw.get("speaker_id_map") or {}
    speakers = tuple(sorted(ids, key=lambda s: ids[s])) if isinstance(ids, dict) else ()
    language = piper_language(raw)
    rate = int((raw.get("audio") or {}).get("sample_rate") or 0)
    return VoiceOptions("piper", speakers, (language,) if language else (), False, rate)
