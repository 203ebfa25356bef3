"""``studio generate … --json``: one JSON object on stdout, and nothing else there, for every kind; its
values are those of the files written (sizes, sample rates, lengths) and of the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile
from PIL import Image

from studio.cli import main

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_torch_thread")

COMMON = {"kind", "model", "device", "seed", "seconds", "outputs"}


def studio(capsys, *args) -> tuple[int, dict, str]:
    """Run the CLI here: (exit code, the JSON object on stdout, stderr). Fails if stdout holds anything else."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.endswith("\n") and out.count("\n") == 1, out  # one line: the object, nothing else
    return code, json.loads(out), err


def test_image_json_names_the_files_and_their_size(tiny_sd, tmp_path, capsys):
    out = tmp_path / "cat.png"
    _code, data, err = studio(capsys, "generate", "image", "--prompt", "a cat", "--model", tiny_sd, "--width", "64",
                              "--height", "72", "--steps", "3", "--scheduler", "Euler", "--seed", "7", "--batch-size", "2",
                              "--device", "cpu",
                              "--out", out, "--json")
    assert COMMON <= data.keys() and data["kind"] == "image"
    assert data["outputs"] == [str(tmp_path / "cat-0.png"), str(tmp_path / "cat-1.png")]
    assert all(Image.open(p).size == (64, 72) for p in data["outputs"])
    assert (data["width"], data["height"], data["steps"], data["seed"]) == (64, 72, 3, 7)
    assert data["device"].startswith("cpu") and data["seconds"] > 0 and data["model"]
    assert "step " in err  # progress still on stderr


def test_image_json_refuses_a_stream_as_out(tiny_sd, tmp_path, capsys):
    pipe = tmp_path / "pipe.png"
    os.mkfifo(pipe)
    try:
        code = main(["generate", "image", "--prompt", "a cat", "--model", str(tiny_sd), "--out", str(pipe), "--json"])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "--json" in err


def test_speech_json_real_time_factor_is_compute_over_audio(tiny_vits, tmp_path, capsys):
    out = tmp_path / "hello.wav"
    _code, data, _err = studio(capsys, "generate", "speech", "--text", "Hello there. Bye now.", "--model", tiny_vits,
                               "--speaker", "alice", "--seed", "3", "--out", out, "--device", "cpu", "--json")
    assert COMMON <= data.keys() and data["kind"] == "speech" and data["outputs"] == [str(out)]
    info = soundfile.info(str(out))
    assert data["sample_rate"] == info.samplerate == 16000
    assert data["audio_seconds"] == pytest.approx(info.frames / info.samplerate, abs=1e-3)
    assert data["real_time_factor"] == pytest.approx(data["seconds"] / data["audio_seconds"])
    assert data["seed"] == 3


def test_music_json_names_every_variation(tiny_musicgen, tmp_path, capsys):
    out = tmp_path / "piece.wav"
    _code, data, _err = studio(capsys, "generate", "music", "--prompt", "calm synth", "--model", tiny_musicgen,
                               "--duration", "1.0", "--variations", "2", "--seed", "4", "--out", out,
                               "--device", "cpu", "--json")
    assert COMMON <= data.keys() and data["kind"] == "music"
    assert data["outputs"] == [str(tmp_path / "piece-0.wav"), str(tmp_path / "piece-1.wav")]
    info = soundfile.info(data["outputs"][0])
    assert data["sample_rate"] == info.samplerate and data["seed"] == 4
    assert data["audio_seconds"] == pytest.approx(2 * info.frames / info.samplerate, abs=0.05)  # both takes
    assert data["real_time_factor"] == pytest.approx(data["seconds"] / data["audio_seconds"])


def test_text_json_in_a_fresh_process_has_nothing_else_on_stdout(tiny_llm, tmp_path):
    out = tmp_path / "reply.txt"
    result = subprocess.run(
        [sys.executable, "-m", "studio", "generate", "text", "--prompt", "hello", "--model", tiny_llm,
         "--max-new-tokens", "6", "--seed", "5", "--out", str(out), "--device", "cpu", "--json"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ}, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)  # the whole of stdout is one object: no streamed reply before it
    assert COMMON <= data.keys() and data["kind"] == "text" and data["seed"] == 5
    assert data["tokens"] == 6 and data["tokens_per_s"] > 0
    assert data["reply"] == out.read_text() and data["outputs"][0] == str(out)
    assert len(data["outputs"]) == 2 and Path(data["outputs"][1]).exists()  # and the library's copy
