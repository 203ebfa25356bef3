"""Speech engine on real models: a tiny coqui VITS built from a config (loaded like a downloaded model)
and the bundled Piper voice. Chunking, pauses, previews, progress, cancel with a partial result, bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from studio.engines.base import CancelToken, Runtime, drive
from studio.engines.speech import SpeechEngine, prepare_clip
from studio.errors import Cancelled, InvalidRequest, UnsafeModelFile
from studio.events import Notice, Output, Preview, Progress, VoiceList
from studio.library import audio
from studio.requests import SpeechRequest


@pytest.fixture(scope="module")
def runtime():
    return Runtime()  # one per module: the voice stays loaded between tests, as in the app


def run(runtime, request, cancel_after=0, on_event=None):
    cancel = CancelToken()
    events = []

    def handle(ev):
        events.append(ev)
        if on_event:
            on_event(ev)
        if cancel_after and isinstance(ev, Preview) and ev.step >= cancel_after:
            cancel.cancel()

    stats = drive(SpeechEngine().run(request, runtime, cancel), handle)
    return events, stats


def outputs(events):
    return [e for e in events if isinstance(e, Output)]


def test_tiny_vits_says_each_sentence_with_previews_progress_and_pauses(runtime, tiny_vits):
    text = "Hello there. How are you?\n\nA new paragraph here."
    request = SpeechRequest(text=text, model=str(tiny_vits), speaker="bob", seed=7, sentence_pause_s=0.25,
                            paragraph_pause_s=0.5)
    events, stats = run(runtime, request)
    previews = [e for e in events if isinstance(e, Preview)]
    progress = [(e.step, e.total) for e in events if isinstance(e, Progress)]
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert [p.step for p in previews] == [1, 2, 3] and {p.sample_rate for p in previews} == {16000}
    (out,) = outputs(events)
    clip, rate = out.data
    assert rate == 16000
    assert len(clip) == sum(len(p.audio) for p in previews)  # the result is the previews in order
    # each symbol of the fixture's model lasts two frames of 256 samples: the pauses are exact
    assert not previews[0].audio[-4000:].any() and previews[0].audio[-4001] != 0  # 0.25 s sentence pause
    assert not previews[1].audio[-8000:].any()  # 0.5 s paragraph pause
    assert previews[2].audio[-1] != 0  # nothing after the last sentence
    assert np.abs(clip).max() > 0.01
    assert out.params["speaker"] == "bob" and out.params["seed"] == 7 and out.params["partial"] is False
    assert out.params["text"] == text and out.params["engine"] == "coqui" and out.params["chunks"] == 3
    assert stats.chunks == 3 and stats.sample_rate == 16000 and stats.seed == 7
    assert stats.audio_seconds == pytest.approx(len(clip) / rate)
    assert stats.real_time_factor == pytest.approx(stats.seconds / stats.audio_seconds)  # compute ÷ audio
    (voices,) = [e for e in events if isinstance(e, VoiceList)]
    assert voices.speakers == ("alice", "bob") and voices.model == stats.model
    again, _ = run(runtime, request)
    assert np.array_equal(outputs(again)[0].data[0], clip)  # same seed, same audio


def test_model_file_path_speed_and_speaker_names(runtime, tiny_vits):
    slow, _ = run(runtime, SpeechRequest(text="hello world", model=str(tiny_vits / "model.pth"), speaker="Alice",
                                         speed=0.5, seed=1))
    fast, _ = run(runtime, SpeechRequest(text="hello world", model=str(tiny_vits / "model.pth"), speaker="alice",
                                         speed=2.0, seed=1))
    assert outputs(slow)[0].params["speaker"] == "alice"  # matched without regard to case
    assert len(outputs(slow)[0].data[0]) > 3 * len(outputs(fast)[0].data[0])


def test_cancel_between_chunks_keeps_a_partial_result(runtime, tiny_vits, library):
    request = SpeechRequest(text="One. Two. Three. Four. Five.", model=str(tiny_vits), sentence_pause_s=0.1)
    saved = []
    with pytest.raises(Cancelled):
        run(runtime, request, cancel_after=2,
            on_event=lambda ev: saved.append(library.save(ev)) if isinstance(ev, Output) else None)
    (item,) = saved
    # the chunks said by the time Cancel was read: the two seen, and any the compute thread had gone on to
    done = item.params["chunks_done"]
    assert item.params["partial"] is True and 2 <= done < 5 and item.params["chunks"] == 5
    assert f"cancelled after {done} of 5" in item.params["note"]
    clip, rate = audio.read(item.path)
    assert rate == 16000 and len(clip) > 0
    assert audio.read_tags(item.path)["params"]["partial"] is True
    assert library.items("speech")[0].id == item.id


def test_closing_a_job_mid_text_frees_the_compute_thread_and_the_next_job_runs(runtime, tiny_vits, monkeypatch):
    """What the worker does when the app closes mid-job: the generator is closed at a Preview. The
    compute thread ends the sentence it is saying and starts no other; the next job runs as usual."""
    import threading

    from studio.engines.speech_voices import CoquiVoiceBackend

    real_say = CoquiVoiceBackend.say
    started, gate = [], threading.Event()

    def gated(self, text, **kwargs):
        started.append(text)
        if len(started) == 2:  # the second sentence is still being said when the job is closed
            gate.wait(10)
        return real_say(self, text, **kwargs)

    monkeypatch.setattr(CoquiVoiceBackend, "say", gated)
    events = SpeechEngine().run(SpeechRequest(text="One. Two. Three. Four. Five. Six.", model=str(tiny_vits)),
                                runtime, CancelToken())
    for ev in events:
        if isinstance(ev, Preview):
            threading.Timer(0.3, gate.set).start()
            events.close()  # waits until the compute thread is free
            break
    assert len(started) == 2  # the one in progress was finished; no third was started
    monkeypatch.setattr(CoquiVoiceBackend, "say", real_say)
    again, _ = run(runtime, SpeechRequest(text="Seven. Eight.", model=str(tiny_vits)))
    assert outputs(again)[0].params["chunks_done"] == 2


def test_a_voice_failing_mid_text_fails_the_job_and_the_next_job_runs(runtime, tiny_vits, monkeypatch):
    """A sentence that fails (out of memory, a broken graph) ends the job with that error, raised where
    the job is driven; the compute thread is free for the next job."""
    from studio.engines.speech_voices import CoquiVoiceBackend

    real_say = CoquiVoiceBackend.say
    count = [0]

    def failing_second(self, text, **kwargs):
        count[0] += 1
        if count[0] == 2:
            raise MemoryError("out of memory while saying the second sentence")
        return real_say(self, text, **kwargs)

    monkeypatch.setattr(CoquiVoiceBackend, "say", failing_second)
    events = []
    with pytest.raises(MemoryError, match="second sentence"):
        drive(SpeechEngine().run(SpeechRequest(text="One. Two. Three.", model=str(tiny_vits)), runtime, CancelToken()),
              events.append)
    assert [e.step for e in events if isinstance(e, Preview)] == [1]
    monkeypatch.setattr(CoquiVoiceBackend, "say", real_say)
    again, _ = run(runtime, SpeechRequest(text="Seven. Eight.", model=str(tiny_vits)))
    assert outputs(again)[0].params["chunks_done"] == 2


def test_a_20000_character_text_is_split_and_streamed(runtime, tiny_vits):
    sentence = "This sentence is about forty characters. "
    text = (sentence * 500)[:20_000]
    events = []
    with pytest.raises(Cancelled):
        run(runtime, SpeechRequest(text=text, model=str(tiny_vits)), cancel_after=1, on_event=events.append)
    first = next(e for e in events if isinstance(e, Progress))
    assert first.step == 1 and first.total == 488
    assert outputs(events)[0].params["partial"] is True


def test_characters_the_voice_cannot_say_are_dropped_with_a_notice(runtime, tiny_vits):
    events, _ = run(runtime, SpeechRequest(text="hello 😀 world Жук", model=str(tiny_vits)))
    (notice,) = [e.message for e in events if isinstance(e, Notice)]
    assert "GRINNING FACE" in notice and "CYRILLIC CAPITAL LETTER ZHE" in notice
    assert outputs(events)[0].params["dropped_characters"] == "😀Жук"
    with pytest.raises(InvalidRequest, match="Nothing is left to say"):
        run(runtime, SpeechRequest(text="😀 Жук", model=str(tiny_vits)))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"text": "   "}, "text is empty"),
        ({"text": "?! … --"}, "nothing to say"),
        ({"speaker": "carol"}, "no speaker 'carol'; choose one of: alice, bob"),
        ({"language": "fr"}, "single language"),
        ({"speed": 3.0}, "speed must be between 0.5 and 2"),
        ({"sentence_pause_s": float("nan")}, "sentence pause"),
        ({"speaker_wav": "clip.wav"}, "No speaker reference clip at 'clip.wav'"),  # before the voice loads
    ],
)
def test_bad_requests_get_clear_messages(runtime, tiny_vits, changes, message):
    request = SpeechRequest(**{"text": "hello", "model": str(tiny_vits), **changes})
    with pytest.raises(InvalidRequest, match=message):
        run(runtime, request)


def _write_clip(path, seconds, rate=44100, channels=2, amplitude=0.3):
    t = np.arange(int(seconds * rate)) / rate
    mono = (amplitude * np.sin(2 * np.pi * 180 * t)).astype(np.float32)
    audio.export(path, mono if channels == 1 else np.stack([mono, mono * 0.5], axis=1), rate)
    return path


def test_reference_clips_any_rate_and_channels_and_bad_ones(tmp_path):
    path, seconds = prepare_clip(str(_write_clip(tmp_path / "ref.flac", 3.0)), 24000, tmp_path)
    clip, rate = audio.read(path)
    assert rate == 24000 and clip.ndim == 1 and abs(len(clip) - 72000) <= 2 and seconds == pytest.approx(3.0)
    import soundfile

    mp3 = tmp_path / "ref.mp3"  # MP3 at 44.1 kHz stereo, as phones and recorders make them
    soundfile.write(mp3, audio.read(tmp_path / "ref.flac")[0], 44100, format="MP3", subtype="MPEG_LAYER_III")
    path, seconds = prepare_clip(str(mp3), 22050, tmp_path)
    assert audio.read(path)[1] == 22050 and seconds == pytest.approx(3.0, abs=0.1)
    with pytest.raises(InvalidRequest, match="0.5 s long; it needs at least 2 s"):
        prepare_clip(str(_write_clip(tmp_path / "short.ogg", 0.5)), 24000, tmp_path)
    with pytest.raises(InvalidRequest, match="silent"):
        prepare_clip(str(_write_clip(tmp_path / "quiet.wav", 3.0, amplitude=0.0)), 24000, tmp_path)
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3\x03\x00\x00\x00" + b"\x00" * 64)
    with pytest.raises(InvalidRequest, match="Can't read the speaker reference clip '.*broken.mp3' as audio"):
        prepare_clip(str(broken), 24000, tmp_path)


class _RunsCode:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(MARKER),))


MARKER = ""


def test_checkpoints_are_loaded_as_weights_only(tmp_path, tiny_vits):
    """A model.pth that would run code when unpickled is refused, and the code does not run."""
    global MARKER
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "config.json").write_text((tiny_vits / "config.json").read_text())
    MARKER = str(tmp_path / "pwned")
    with open(folder / "model.pth", "wb") as f:
        pickle.dump({"model": _RunsCode()}, f)
    with pytest.raises(UnsafeModelFile, match="weights only"):
        run(Runtime(), SpeechRequest(text="hello", model=str(folder)))
    assert not (tmp_path / "pwned").exists()


def test_models_coqui_unpickles_in_full_need_consent(tmp_path):
    folder = tmp_path / "bark"
    folder.mkdir()
    (folder / "config.json").write_text('{"model": "bark", "audio": {"sample_rate": 24000}}')
    with pytest.raises(UnsafeModelFile, match="--allow-pickle"):
        run(Runtime(), SpeechRequest(text="hello", model=str(folder)))


@pytest.mark.slow
def test_the_bundled_piper_voice_says_a_sentence(runtime):
    request = SpeechRequest(text="Hello from Studio.", seed=5)
    events, stats = run(runtime, request)
    (out,) = outputs(events)
    clip, rate = out.data
    assert rate == 22050 and out.params["model"] == "piper-joe-medium" and out.params["engine"] == "piper"
    assert 0.6 < len(clip) / rate < 4.0
    assert float(np.sqrt(np.mean(clip**2))) > 0.02  # not silent
    assert out.params["seed"] is None  # Piper's noise cannot be seeded: the result says so
    assert any("cannot be seeded" in e.message for e in events if isinstance(e, Notice))
    with pytest.raises(InvalidRequest, match="has a single speaker: leave speaker empty"):
        run(runtime, SpeechRequest(text="Hi.", speaker="x"))


def _busy_child():
    """Another program keeping one core busy (a shell loop), until killed."""
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def test_load_watch_sees_another_program_busy_since_the_last_look():
    import time

    from studio.models.device import LoadWatch

    watch = LoadWatch()
    assert watch.busy_elsewhere() is None  # nothing to compare with yet
    child = _busy_child()
    try:
        time.sleep(0.6)
        watch.busy_elsewhere()  # from here on the child has been running all along
        time.sleep(0.5)
        assert watch.busy_elsewhere() >= 0.6
    finally:
        child.kill()
        child.wait()


@pytest.mark.slow
def test_piper_spins_on_an_idle_machine_and_sleeps_while_another_program_keeps_a_core_busy():
    """The voice says each sentence on a session that spins between operators (faster when the cores
    are free) unless other programs kept a core busy since the last sentence: then on one that sleeps."""
    import time

    from studio.engines.speech_piper import PiperVoiceBackend
    from studio.models.catalog import Catalog, bundled_path

    from studio.models.cache import module_bytes

    onnx = bundled_path(Catalog().find("piper-joe-medium"))
    voice = PiperVoiceBackend(onnx)
    assert onnx.stat().st_size > 1_000_000 and module_bytes(voice) == 2 * onnx.stat().st_size  # both sessions

    def spins(piper_voice) -> str:
        return piper_voice.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")

    assert voice.voice_for_now() is voice.voice and spins(voice.voice) == "1"  # first look: no reading yet
    options = voice.voice.session.get_session_options()
    assert options.get_session_config_entry("session.force_spinning_stop") == "1"  # never after a run
    child = _busy_child()
    try:
        time.sleep(0.6)
        voice.voice_for_now()
        time.sleep(0.4)
        sleeping = voice.voice_for_now()
        assert sleeping is not voice.voice and spins(sleeping) == "0"
        busy_audio = voice.say("Hello from a busy machine.", speaker="", language="", clip="", speed=1.0)
    finally:
        child.kill()
        child.wait()
    assert float(np.sqrt(np.mean(busy_audio**2))) > 0.02 and 0.8 < len(busy_audio) / voice.sample_rate < 4.0


def test_piper_phonemizes_each_sentence_once(monkeypatch):
    """Studio phonemizes a sentence to check its length before Piper says it; Piper's own
    ``synthesize`` reuses those phonemes instead of running espeak-ng on the same text again."""
    from piper import PiperVoice

    from studio.engines.speech_piper import PiperVoiceBackend
    from studio.models.catalog import Catalog, bundled_path

    voice = PiperVoiceBackend(bundled_path(Catalog().find("piper-joe-medium")))
    real = PiperVoice.phonemize
    calls = []

    def counting(self, text):
        calls.append(text)
        return real(self, text)

    monkeypatch.setattr(PiperVoice, "phonemize", counting)
    sentences = ["The lighthouse keeper climbed the stairs.", "Ships passed far out at sea."]
    audio = [voice.say(s, speaker="", language="", clip="", speed=1.0) for s in sentences]
    assert calls == sentences
    assert all(0.8 < len(a) / voice.sample_rate < 5.0 and float(np.abs(a).max()) > 0.05 for a in audio)
