"""``studio generate speech``: files at the model's rate with tags, exit codes and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main
from studio.library import audio

ROOT = Path(__file__).resolve().parents[1]


def test_tiny_coqui_model_to_flac_with_tags_and_library(tiny_vits, tmp_path, capsys):
    out = tmp_path / "hello.flac"
    code = main(["generate", "speech", "--text", "Hello there. Bye now.", "--model", str(tiny_vits),
                 "--speaker", "alice", "--seed", "3", "--speed", "1.5", "--out", str(out), "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip() == str(out)
    assert "sentence 2 of 2" in captured.err and "16000 Hz" in captured.err
    clip, rate = audio.read(out)
    assert rate == 16000 and len(clip) > 0  # the model's own rate
    params = audio.read_tags(out)["params"]
    assert params["speaker"] == "alice" and params["seed"] == 3 and params["speed"] == 1.5
    assert list((Path(os.environ["STUDIO_HOME"]) / "library" / "outputs").rglob("*-speech.wav"))


def test_text_file_and_the_bundled_voice_in_a_fresh_process(tmp_path):
    text_file = tmp_path / "words.txt"
    text_file.write_text("Studio speaks offline.", encoding="utf-8")
    out = tmp_path / "spoken.ogg"
    result = subprocess.run(
        [sys.executable, "-m", "studio", "generate", "speech", "--text-file", str(text_file), "--out", str(out),
         "--no-library"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ}, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    clip, rate = audio.read(out)
    assert rate == 22050 and len(clip) / rate > 0.5
    assert audio.read_tags(out)["params"]["model"] == "piper-joe-medium"
    assert not (Path(os.environ["STUDIO_HOME"]) / "library").exists()


def cli(args) -> int:
    """``main(args)``'s exit code, argparse's own exits included."""
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code)


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--out", "x.wav"], 2, "one of the arguments --text --text-file is required"),
        (["--text", "hi", "--text-file", "t.txt", "--out", "x.wav"], 2, "not allowed with argument"),
        (["--text", "hi", "--out", "x.mp3"], 2, "use .wav, .flac, .ogg"),
        (["--text-file", "missing.txt", "--out", "x.wav"], 2, "No text file at 'missing.txt'"),
        (["--text-file", "", "--out", "x.wav"], 2, "The text file path is empty"),
        (["--text", "...", "--out", "x.wav"], 2, "nothing to say"),
        (["--text", "hi", "--speed", "9", "--out", "x.wav"], 2, "speed must be between 0.5 and 2"),
        (["--text", "hi", "--seed", "-1", "--out", "x.wav"], 2, "seed must be a whole number"),
        (["--text", "hi", "--model", "/no/such/voice.onnx", "--out", "x.wav"], 1, "No model file or folder"),
        (["--text", "hi", "--model", "tts_models/en/ljspeech/vits", "--out", "x.wav"], 1, "not downloaded"),
    ],
)
def test_bad_input_is_one_line_with_the_right_exit_code(args, code, words, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli(["generate", "speech", *args]) == code
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()
