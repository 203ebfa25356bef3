"""``studio generate music``: files in each format (stereo kept, tags), same seed same samples,
exit codes and one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile

from studio.cli import main
from studio.library import audio as audio_files
from studio.testing.tiny_music import SAMPLE_RATE

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def studio(capsys, *args):
    """Run the CLI in this process: (exit code, stdout, stderr)."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own exits (bad flags)
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("suffix", [".flac", ".wav", ".ogg"])
def test_writes_each_format_with_stereo_kept(capsys, tiny_musicgen_stereo, tmp_path, suffix):
    out = tmp_path / f"piece{suffix}"
    code, stdout, err = studio(capsys, "generate", "music", "--prompt", "calm ambient synth pads", "--model",
                               tiny_musicgen_stereo, "--duration", "1.5", "--window-keep", "1", "--seed", "4",
                               "--out", str(out), "--device", "cpu")
    assert code == 0, err
    assert stdout.strip() == str(out)
    info = soundfile.info(str(out))
    assert info.channels == 2 and info.samplerate == SAMPLE_RATE and info.frames == round(1.5 * SAMPLE_RATE)
    tags = audio_files.read_tags(out)
    assert tags["title"] == "calm ambient synth pads" and tags["params"]["seed"] == 4
    assert list((Path(os.environ["STUDIO_HOME"]) / "library" / "outputs").rglob("*.flac"))  # in the library too


def test_same_seed_same_samples(capsys, tiny_musicgen, tmp_path):
    def make(name, seed):
        path = tmp_path / name
        code, _, err = studio(capsys, "generate", "music", "--prompt", "piano", "--model", tiny_musicgen,
                              "--duration", "1", "--seed", seed, "--out", str(path), "--no-library", "-q")
        assert code == 0, err
        return soundfile.read(str(path), dtype="int16")[0]

    first = make("a.wav", "9")
    assert np.array_equal(make("b.wav", "9"), first)
    assert not np.array_equal(make("c.wav", "10"), first)


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["--out", "x.wav"], 2, "--prompt"),
        (["--prompt", "p", "--out", "x.mp3"], 2, "use .wav, .flac, .ogg"),
        (["--prompt", "p", "--duration", "301", "--out", "x.wav"], 2, "duration"),
        (["--prompt", "p", "--duration", "nan", "--out", "x.wav"], 2, "duration"),
        (["--prompt", "p", "--top-k", "lots", "--out", "x.wav"], 2, "top-k"),
        (["--prompt", "p", "--model", "/nowhere/musicgen", "--out", "x.wav"], 1, "No model file"),
        (["--prompt", "p", "--out", "x.wav"], 1, "not downloaded"),  # musicgen-small, offline
    ],
)
def test_user_errors_are_one_line(capsys, tmp_path, args, code, words):
    args = [str(tmp_path / a) if a.startswith("x.") else a for a in args]
    result, _, err = studio(capsys, "generate", "music", *args)
    lines = err.strip().splitlines()
    assert result == code and len(lines) == 1 and words in lines[0], err


def test_bad_melody_file_and_text_model(capsys, tiny_musicgen, tiny_llm, tmp_path):
    bad = tmp_path / "melody.wav"
    bad.write_text("not audio")
    code, _, err = studio(capsys, "generate", "music", "--prompt", "p", "--model", tiny_musicgen, "--continue",
                          str(bad), "--out", str(tmp_path / "x.wav"), "-q")
    assert code == 2 and "Can't read" in err and len(err.strip().splitlines()) == 1
    code, _, err = studio(capsys, "generate", "music", "--prompt", "p", "--model", tiny_llm,
                          "--out", str(tmp_path / "x.wav"), "-q")
    assert code == 1 and "text model" in err
