"""Speech engine: text to speech with Piper voices and coqui-tts models, chunk by chunk.

``SpeechEngine().run(request, runtime, cancel)`` (see :mod:`studio.engines.base`):

1. checks the request, the text (something sayable), the model, speaker, language and clip;
2. loads the voice (cached across jobs) on the compute thread;
3. drops characters the voice cannot say (a :class:`Notice` names them);
4. splits the text into sentences and paragraphs within the model's limit
   (:func:`studio.engines.speech_text.split_text`) and says them one by one on the compute thread
   (one hand-off for the whole text: the compute thread goes on to the next chunk while this one is
   handed out): after each chunk a :class:`Preview` carries its audio (followed by its pause), so
   playback can start with the first sentence, and :class:`Progress` counts sentences ("sentence 12 of 60");
5. yields one ``Output("audio", (samples, rate), params)``.

Cancel is checked between chunks: what was said so far (the chunk being said when Cancel came is
finished and kept) is still yielded as an Output whose params say ``partial: true`` (and how many
chunks it holds), then :class:`~studio.errors.Cancelled` is raised.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import time
from collections.abc import Generator
from pathlib import Path

import numpy as np

from ..errors import Cancelled, InvalidRequest
from ..events import Event, Notice, Output, Preview, Progress, SpeechStats, Status, VoiceList
from ..library import audio as audio_files
from ..library.inputs import MAX_SPEECH_S
from ..models.resolve import ResolvedModel
from ..requests import SpeechRequest
from .base import CancelToken, Runtime
from .preflight import preflight_speech, reference_clip
from .speech_text import NONE, PARAGRAPH, describe_characters, drop_characters, has_words, split_text
from .speech_voices import Voice, load_voice


def _choose(value: str, valid: tuple[str, ...], what: str, model: str) -> str:
    """``value`` as the model spells it (case-insensitive), or InvalidRequest listing the valid ones."""
    if not value:
        return ""
    for v in valid:
        if v.lower() == value.lower():
            return v
    if not valid:
        raise InvalidRequest(f"'{model}' has a single {what}: leave {what} empty (got {value!r}).")
    shown = ", ".join(valid[:40]) + (f" … ({len(valid)} in all)" if len(valid) > 40 else "")
    raise InvalidRequest(f"'{model}' has no {what} {value!r}; choose one of: {shown}.")


def _match_language(value: str, valid: tuple[str, ...]) -> str:
    """'en' matches 'en_US' / 'en-us' of a single-language voice."""
    for v in valid:
        norm = v.lower().replace("-", "_")
        if value.lower().replace("-", "_") in (norm, norm.split("_")[0]):
            return v
    return value


def prepare_clip(path: str, rate: int, folder: Path, clip=None) -> tuple[str, float]:
    """The reference clip as a mono 16-bit WAV at ``rate`` in ``folder``; (path, seconds of the file).

    Any format soundfile reads (WAV/FLAC/OGG/MP3), any rate and channel count; only the first
    :data:`~studio.library.inputs.REFERENCE_CLIP_S` seconds are read. A missing, broken, silent, NaN
    or too-short clip gets a clear InvalidRequest (the preflight's own check); ``clip``: what
    :func:`~studio.engines.preflight.reference_clip` read already."""
    samples, clip_rate, info = clip or reference_clip(path)
    samples = audio_files.resample(samples, clip_rate, rate)
    out = folder / "reference.wav"
    out.write_bytes(audio_files.encode(samples, rate, None, ".wav"))
    return str(out), info.seconds


class SpeechEngine:
    kind = "speech"
    #: the cheap checks before any model loads (the job queue and the CLI run them too)
    preflight = staticmethod(preflight_speech)

    def load(self, request: SpeechRequest, runtime: Runtime, model: ResolvedModel | None = None) -> tuple[Voice, str, str]:
        """The loaded voice for ``request`` (cached); (voice, device, notice)."""
        model = model or runtime.resolve(request.model, "speech")
        voice, choice, notice = runtime.load(
            model,
            lambda c: load_voice(model, c.device, allow_pickle=request.allow_pickle),
            variant="speech",
        )
        return voice, choice.device, notice

    # ---------------------------------------------------------------------------------------------
    def run(self, request: SpeechRequest, runtime: Runtime, cancel: CancelToken) -> Generator[Event, None, SpeechStats]:
        # 1. What can be checked before loading.
        preflight_speech(request, clips=False)  # the text's length …
        reference = reference_clip(request.speaker_wav) if request.speaker_wav else None  # … and the clip,
        # read once, before the voice loads
        model = runtime.resolve(request.model, "speech")
        if model.format not in ("piper", "coqui"):
            raise InvalidRequest(
                f"'{model.label}' ({model.format}) is not a speech model: use a Piper .onnx voice or a coqui model."
            )
        cancel.check()

        # 2. Load (cached across jobs).
        fresh = (model.id,) not in {k[:1] for k in runtime.cache.keys()}
        if fresh:
            yield Status(f"Loading {model.label}…")
        t_load = time.perf_counter()
        voice, device, notice = self.load(request, runtime, model)
        load_s = time.perf_counter() - t_load
        if notice:
            yield Notice(notice)
        yield VoiceList(model.id, tuple(voice.speakers), tuple(voice.languages), bool(voice.can_clone))

        # 3. Speaker, language, clip, speed: against what this model has.
        speaker = _choose(request.speaker, voice.speakers, "speaker", model.label)
        language = _choose(_match_language(request.language, voice.languages), voice.languages, "language", model.label)
        if voice.languages and not language and voice.engine == "coqui" and len(voice.languages) > 1:
            language = voice.default_language()
            yield Notice(f"No language chosen: speaking {language} ({model.label} speaks {', '.join(voice.languages)}).")
        if voice.speakers and not speaker and not request.speaker_wav and voice.engine == "coqui":
            speaker = voice.speakers[0]
        if request.speaker_wav and not voice.can_clone:
            raise InvalidRequest(
                f"'{model.label}' cannot clone a voice from a clip: pick a model that can (XTTS v2, YourTTS) "
                "or clear the reference clip."
            )
        if request.speed != 1.0 and not voice.speed_supported:
            yield Notice(f"'{model.label}' has no speed control; speaking at normal speed.")
        seed = request.seed if request.seed is not None else secrets.randbelow(2**32)
        if not voice.seedable:
            if request.seed is not None:
                yield Notice(f"'{model.label}' cannot be seeded: each run sounds slightly different.")
            seed = None

        # 4. Text: drop what the voice cannot say, then chunk within the model's limit.
        text = request.text
        dropped = voice.unsayable(text, language)
        if dropped:
            yield Notice(f"Left out characters this voice cannot say: {describe_characters(dropped)}.")
            text = drop_characters(text, dropped)
            if not has_words(text):
                raise InvalidRequest("Nothing is left to say once the characters this voice cannot say are left out.")
        chunks = split_text(text, voice.max_chars(language))
        total = len(chunks)
        rate = voice.sample_rate
        pauses = {
            PARAGRAPH: np.zeros(int(round(request.paragraph_pause_s * rate)), np.float32),
            NONE: np.zeros(0, np.float32),
        }
        sentence_pause = np.zeros(int(round(request.sentence_pause_s * rate)), np.float32)

        # a folder for the prepared reference clip, only when there is one (3 ms a job otherwise)
        with tempfile.TemporaryDirectory(prefix="studio-speech-") if reference else contextlib.nullcontext("") as tmp:
            clip, clip_s = prepare_clip(request.speaker_wav, rate, Path(tmp), reference) if reference else ("", 0.0)
            # 5. Say it, chunk by chunk, on the compute thread: one hand-off for the whole text, each
            # chunk's audio handed back as soon as it is said, while the next one is being said.
            pieces: list[np.ndarray] = []
            t0 = time.perf_counter()
            first_audio_s = None
            done = 0
            made, limit = 0, int(MAX_SPEECH_S * rate)
            stop = CancelToken()  # set when this loop stops early (the limit, or closed)

            def say_all(emit) -> None:
                if seed is not None:
                    voice.seed(seed)
                for chunk in chunks:
                    if cancel.cancelled or stop.cancelled:  # Cancel is read between chunks
                        return
                    emit(voice.say(chunk.text, speaker=speaker, language=language, clip=clip, speed=request.speed))

            said_chunks = runtime.compute.stream(say_all, stop)
            try:
                for i, said in enumerate(said_chunks):
                    chunk = chunks[i]
                    piece = np.concatenate([said, pauses.get(chunk.pause, sentence_pause)]) if i < total - 1 else said
                    pieces.append(piece)
                    done = i + 1
                    made += len(piece)
                    if first_audio_s is None:
                        first_audio_s = time.perf_counter() - t0
                    yield Preview(audio=piece, sample_rate=rate, step=done, index=i)
                    elapsed = time.perf_counter() - t0
                    yield Progress(done, total, "generate", eta_s=elapsed / done * (total - done))
                    if made > limit and done < total:  # a slow voice: the preflight's estimate was low
                        yield Notice(
                            f"Stopped after {done} of {total} sentences: the speech reached the limit of "
                            f"{MAX_SPEECH_S / 60:.0f} minutes made at once. Split the text for the rest."
                        )
                        break
            finally:
                said_chunks.close()  # stopped early: the compute thread ends the chunk it is saying, no more
            if cancel.cancelled and done < total:
                if pieces:
                    yield self._output(request, model, voice, pieces, rate, seed, speaker, language, dropped,
                                       clip_s, done, total, partial=True)
                raise Cancelled()
        seconds = time.perf_counter() - t0
        yield self._output(request, model, voice, pieces, rate, seed, speaker, language, dropped, clip_s, done, total,
                           partial=done < total)
        return SpeechStats(
            seconds=seconds,
            load_seconds=load_s,
            device=device,
            seed=seed,
            model=model.id,
            audio_seconds=sum(len(p) for p in pieces) / rate,
            sample_rate=rate,
            chunks=total,
            first_audio_seconds=first_audio_s or 0.0,
        )

    @staticmethod
    def _output(request, model, voice, pieces, rate, seed, speaker, language, dropped, clip_s, done, total,
                partial: bool = False) -> Output:
        audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        pieces[:] = [audio] if pieces else []  # the sentences are held once, as the whole
        params = request.to_dict()
        params.update(
            model=model.id,
            model_name=model.label,
            voice=model.label + (f" · {speaker}" if speaker else ""),
            engine=voice.engine,
            licence=model.entry.licence if model.entry else "",
            speaker=speaker,
            language=language,
            seed=seed,
            sample_rate=rate,
            audio_seconds=round(len(audio) / rate, 3),
            chunks=total,
            chunks_done=done,
            partial=partial,
            cloned_voice=bool(request.speaker_wav),
            reference_clip_s=round(clip_s, 2) if request.speaker_wav else None,
            dropped_characters="".join(dropped),
        )
        if partial:
            params["note"] = f"Partial result: cancelled after {done} of {total} sentences."
        return Output("audio", (audio, rate), params)
