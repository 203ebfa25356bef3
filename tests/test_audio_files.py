"""Audio files: export WAV/FLAC/OGG with tags and read them back; bad files; the library's audio items."""

from __future__ import annotations

import numpy as np
import pytest

from studio.errors import InvalidRequest
from studio.library import audio


def _tone(seconds=0.5, rate=22050, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    mono = (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return mono if channels == 1 else np.stack([mono, -mono], axis=1)


PARAMS = {"kind": "speech", "text": "Hello there, world.", "voice": "joe", "model": "piper-joe-medium", "speed": 1.25}


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
def test_export_reads_back_with_tags_and_channels(tmp_path, suffix):
    clip = _tone(channels=2)
    path = audio.export(tmp_path / f"clip{suffix}", clip, 22050, PARAMS)
    data, rate = audio.read(path)
    assert rate == 22050
    assert data.shape == clip.shape  # stereo kept
    tolerance = 0.05 if suffix == ".ogg" else 1e-3  # Vorbis is lossy
    assert np.abs(data - clip).mean() < tolerance
    tags = audio.read_tags(path)
    assert tags["params"] == PARAMS
    assert tags["title"] == "Hello there, world."
    assert tags["artist"] == "joe"
    assert tags["genre"] == "Speech"
    assert tags["software"].startswith("Studio ")


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
def test_cloned_voice_is_said_in_the_tags(tmp_path, suffix):
    path = audio.export(tmp_path / f"c{suffix}", _tone(), 22050, {**PARAMS, "cloned_voice": True})
    tags = audio.read_tags(path)
    assert "cloned voice" in tags["artist"] and tags["genre"] == "Speech (cloned voice)"
    assert tags["params"]["cloned_voice"] is True


def test_long_text_survives_in_flac_and_is_cut_in_wav(tmp_path):
    params = {**PARAMS, "text": "A long sentence. " * 1000}
    flac = audio.read_tags(audio.export(tmp_path / "long.flac", _tone(), 22050, params))
    assert flac["params"]["text"] == params["text"]
    wav = audio.read_tags(audio.export(tmp_path / "long.wav", _tone(), 22050, params))
    assert wav["params"]["text_truncated"] is True
    assert wav["params"]["voice"] == "joe" and wav["params"]["speed"] == 1.25
    assert params["text"].startswith(wav["params"]["text"].rstrip("…"))


def test_unknown_suffix_and_empty_audio_are_refused(tmp_path):
    with pytest.raises(InvalidRequest, match=r"\.wav, \.flac or \.ogg"):
        audio.export(tmp_path / "clip.mp4", _tone(), 22050, PARAMS)
    with pytest.raises(InvalidRequest, match="no audio"):
        audio.export(tmp_path / "clip.wav", np.zeros(0, np.float32), 22050, PARAMS)
    assert not (tmp_path / "clip.wav").exists()


def test_broken_and_missing_files_give_clear_errors(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    with pytest.raises(audio.AudioFileError, match="bad.wav"):
        audio.read(bad)
    with pytest.raises(audio.AudioFileError, match="does not exist"):
        audio.read(tmp_path / "nope.flac")
    assert audio.read_tags(bad) == {}
    good = audio.export(tmp_path / "t.wav", _tone(), 22050, None)
    truncated = tmp_path / "truncated.flac"
    truncated.write_bytes(audio.encode(_tone(), 22050, PARAMS, ".flac")[:200])
    with pytest.raises(audio.AudioFileError):
        audio.read(truncated)
    assert audio.read(good)[1] == 22050


def test_nan_samples_are_written_as_silence(tmp_path):
    clip = _tone()
    clip[:100] = np.nan
    data, _ = audio.read(audio.export(tmp_path / "n.wav", clip, 22050, PARAMS))
    assert np.isfinite(data).all() and np.abs(data[:100]).max() == 0


def test_resample_and_mono(tmp_path):
    path = audio.export(tmp_path / "s.flac", _tone(1.0, 44100, channels=2), 44100, None)
    mono, rate = audio.read(path, mono=True)
    assert mono.ndim == 1 and rate == 44100
    resampled = audio.resample(mono, 44100, 16000)
    assert abs(len(resampled) - 16000) <= 1


def test_library_saves_speech_with_tags(library):
    from studio.events import Output

    saved = library.save(Output("audio", (_tone(), 22050), PARAMS))
    assert saved.kind == "speech" and saved.path.suffix == ".wav" and saved.path.exists()
    assert audio.read_tags(saved.path)["params"]["text"] == PARAMS["text"]
    assert library.items("speech")[0].params["voice"] == "joe"
