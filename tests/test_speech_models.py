"""Speech models in the catalog and the resolver: coqui files, folders and names, Piper voices of a
shared hub repo, voice options read from files, and the loading policy for pickled checkpoints."""

from __future__ import annotations

import shutil

import pytest

from studio.engines.base import CancelToken, Runtime, drive
from studio.engines.speech import SpeechEngine
from studio.engines.speech_voices import voice_options
from studio.errors import NotDownloaded
from studio.events import Output
from studio.models.catalog import Catalog
from studio.models.formats import detect_format
from studio.models.resolve import resolve
from studio.requests import SpeechRequest
from tests.models_helpers import make_cached_repo


@pytest.fixture
def catalog(tmp_path):
    return Catalog(tmp_path / "user_models.json")


def test_coqui_files_and_folders_are_recognised(tiny_vits, tmp_path):
    assert detect_format(tiny_vits) == "coqui"
    assert detect_format(tiny_vits / "model.pth") == "coqui"
    lone = tmp_path / "lone.pth"
    lone.write_bytes(b"x")
    assert detect_format(lone) == "single_file"  # an image checkpoint: no coqui config beside it
    resolved = resolve(str(tiny_vits / "model.pth"), "speech")
    assert (resolved.format, resolved.modality) == ("coqui", "speech")


def test_voice_options_come_from_the_files(tiny_vits, catalog):
    options = voice_options(resolve(str(tiny_vits), "speech"))
    assert options.speakers == ("alice", "bob") and options.languages == () and options.sample_rate == 16000
    joe = voice_options(resolve("", "speech", catalog=catalog))
    assert (joe.engine, joe.languages, joe.sample_rate, joe.can_clone) == ("piper", ("en_US",), 22050, False)


def test_piper_voices_of_the_shared_repo_are_downloaded_one_by_one(catalog):
    entry = catalog.find("piper-fr_FR-siwis-medium")
    other = catalog.find("piper-de_DE-thorsten-medium")
    assert entry.repo_id == other.repo_id == "rhasspy/piper-voices"
    assert set(entry.allow_patterns) >= {entry.filename, entry.filename + ".json"}
    make_cached_repo(entry.repo_id, {entry.filename: b"onnx", entry.filename + ".json": b"{}"})
    catalog.refresh()
    assert catalog.state(entry) == "downloaded" and catalog.state(other) == "downloadable"
    resolved = resolve(entry.id, "speech", catalog=catalog)
    assert resolved.path.name == "fr_FR-siwis-medium.onnx" and resolved.format == "piper"
    with pytest.raises(NotDownloaded, match="not downloaded yet"):
        resolve(other.id, "speech", catalog=catalog)


def test_catalog_lists_coqui_models_with_licences(catalog):
    xtts = catalog.find("xtts-v2")
    assert "non-commercial" in xtts.licence and "model.pth" in xtts.allow_patterns
    your_tts = catalog.find("coqui-your-tts")
    assert your_tts.source == "coqui" and "non-commercial" in your_tts.licence
    with pytest.raises(NotDownloaded, match="XTTS v2"):
        resolve("tts_models/multilingual/multi-dataset/xtts_v2", "speech", catalog=catalog)
    with pytest.raises(NotDownloaded, match="run it once while online"):
        resolve(your_tts.id, "speech", catalog=catalog)


def test_a_coqui_model_name_runs_from_coquis_own_folder(tiny_vits, tmp_path, monkeypatch):
    monkeypatch.setenv("TTS_HOME", str(tmp_path / "coqui"))
    shutil.copytree(tiny_vits, tmp_path / "coqui" / "tts" / "tts_models--en--tiny--vits")
    events = []
    drive(SpeechEngine().run(SpeechRequest(text="hello", model="tts_models/en/tiny/vits"), Runtime(), CancelToken()),
          events.append)
    (out,) = [e for e in events if isinstance(e, Output)]
    assert out.params["model"] == "tts_models/en/tiny/vits" and out.data[1] == 16000
