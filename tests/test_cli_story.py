"""``studio story render``: a film from tiny SD, tiny MusicGen and the bundled Piper voice, decoded back
with av; only a changed scene re-renders; hostile story files refused before anything runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
from PIL import Image

from studio.cli import main
from studio.story.film import fit
from studio.story.timing import LEAD_S

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NARRATION = ["A small fox wakes up in the snow.", "It runs down to the river.", "The end."]
PAUSE = 0.4


def studio(capsys, *args):
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def library_files(pattern: str) -> dict[Path, float]:
    root = Path(os.environ["STUDIO_HOME"]) / "library" / "outputs"
    return {p: p.stat().st_mtime_ns for p in root.rglob(pattern)}


def index_entries() -> dict:
    return json.loads((Path(os.environ["STUDIO_HOME"]) / "library" / "story-assets.json").read_text(encoding="utf-8"))


@pytest.fixture
def story_file(tmp_path, tiny_sd, tiny_musicgen):
    Image.new("RGB", (96, 64), (20, 200, 60)).save(tmp_path / "river.png")
    data = {
        "title": "The fox",
        "image": {"model": str(tiny_sd), "width": 64, "height": 64, "steps": 2, "seed": 3},
        "voice": {"model": "", "speaker": ""},
        "music": {"model": tiny_musicgen, "prompt": "calm ambient synth pads", "volume": 0.4, "window_keep": 1},
        "film": {"fps": 24, "resolution": 720, "pause": PAUSE, "crossfade": 0.3},
        "scenes": [{"narration": NARRATION[0], "picture": "a fox in the snow"},
                   {"narration": NARRATION[1], "picture_file": "river.png"},
                   {"narration": NARRATION[2], "picture": "a river at dusk"}],
    }
    path = tmp_path / "story.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    def seconds(stamp: str) -> float:
        h, m, rest = stamp.split(":")
        s, ms = rest.split(",")
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000

    out = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        start, end = lines[1].split(" --> ")
        out.append((seconds(start), seconds(end), " ".join(lines[2:])))
    return out


def test_render_a_film_then_rerender_only_the_changed_scene(story_file, tmp_path, capsys):
    film = tmp_path / "out" / "fox.mp4"
    code, out, err = studio(capsys, "story", "render", story_file, "--out", film, "--device", "cpu")
    assert code == 0, err
    assert out.split() == [str(film), str(film.with_suffix(".srt"))]
    pictures, clips, music = library_files("*-image-0.png"), library_files("*-speech.wav"), library_files("*-music.flac")
    assert (len(pictures), len(clips), len(music)) == (2, 3, 1)  # every generated asset is in the library

    # the film's length follows the narration: lead + each clip + the pause
    entries = index_entries()
    voice = sorted((e["scene"], e["path"]) for e in entries.values() if e["role"] == "narration")
    spoken = [soundfile.info(p).duration for _, p in voice]
    expected = sum(LEAD_S + s + PAUSE for s in spoken)
    with av.open(str(film)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        meta = dict(c.metadata)
    assert len(frames) / 24 == pytest.approx(expected, abs=1 / 24 + 1e-6)

    # SRT: one cue per scene, in order, inside the film, the narration as text, timed to its clip
    cues = parse_srt(film.with_suffix(".srt").read_text(encoding="utf-8"))
    assert [c[2] for c in cues] == NARRATION
    assert all(a < b <= c for (a, b, _), (c, _, _) in zip(cues, cues[1:]))
    assert cues[-1][1] <= expected
    assert [round(b - a, 2) for a, b, _ in cues] == pytest.approx([round(s, 2) for s in spoken], abs=0.011)

    # each scene shows its own picture: the frame in the middle of each scene is nearest to that picture
    pics = [Image.open(p).convert("RGB") for p in (
        next(e["path"] for e in entries.values() if e["role"] == "picture" and e["scene"] == 0),
        tmp_path / "river.png",
        next(e["path"] for e in entries.values() if e["role"] == "picture" and e["scene"] == 2))]
    fitted = [fit(p, (1280, 720)).astype(np.int16) for p in pics]
    starts = [c[0] - LEAD_S for c in cues]
    for scene, (start, (_, end, _)) in enumerate(zip(starts, cues)):
        frame = frames[int((start + end) / 2 * 24)].astype(np.int16)
        distances = [np.abs(frame - f).mean() for f in fitted]
        assert int(np.argmin(distances)) == scene, distances

    # provenance: which model made what
    info = json.loads(meta["comment"])
    assert info["scenes"][0]["picture"]["seed"] == 3 and info["scenes"][2]["picture"]["seed"] == 5
    assert info["scenes"][1]["picture"] == {"file": "river.png"} and info["cloned_voice"] is False
    assert "joe" in info["scenes"][0]["narration"]["model"].lower() and info["music"]["prompt"]

    # change scene 3's narration: only its clip (and the bed, sized to the new length) is made again
    data = json.loads(story_file.read_text(encoding="utf-8"))
    data["scenes"][2]["narration"] = "And then, at last, the fox slept."
    story_file.write_text(json.dumps(data), encoding="utf-8")
    code, out, err = studio(capsys, "story", "render", story_file, "--out", film, "--device", "cpu", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["outputs"] == [str(film), str(film.with_suffix(".srt"))] and report["assets_made"] == 2  # + the bed
    assert "Making scene 3's narration" in err and "scene 1" not in err and "scene 2" not in err
    assert library_files("*-image-0.png") == pictures  # untouched: same files, same times
    again = library_files("*-speech.wav")
    assert len(again) == 4 and all(again[p] == t for p, t in clips.items())
    assert parse_srt(film.with_suffix(".srt").read_text(encoding="utf-8"))[2][2] == "And then, at last, the fox slept."


def hostile(tmp_path, data) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("data, words", [
    ({"scenes": [{"picture": "p"}], "image": {}, "musik": {}}, "unknown key 'musik'"),
    ({"image": {}}, "no 'scenes'"),
    ({"scenes": [{"picture": "p"}] * 10_000, "image": {}}, "10,000 scenes"),
    ({"scenes": [{"picture": "p", "length": -1}], "image": {}}, "must not be negative"),
])
def test_hostile_story_files_exit_2_before_anything_runs(tmp_path, capsys, data, words):
    code, out, err = studio(capsys, "story", "render", hostile(tmp_path, data), "--out", tmp_path / "f.mp4")
    assert code == 2 and out == "" and words in err and err.startswith("studio: error:") and "Traceback" not in err
    assert not (Path(os.environ["STUDIO_HOME"]) / "library").exists()  # nothing ran, nothing was written
    assert not (tmp_path / "f.mp4").exists()


def test_out_onto_a_folder_or_a_device_and_a_fake_picture_are_refused(tmp_path, capsys):
    (tmp_path / "fake.png").write_text("not a picture")
    bad_pic = hostile(tmp_path, {"scenes": [{"picture_file": "fake.png"}]})
    code, _, err = studio(capsys, "story", "render", bad_pic, "--out", tmp_path / "f.mp4")
    assert code == 2 and "scene 1: Can't read the picture" in err and "fake.png' : it is not a picture" not in err
    assert "fake.png': it is not a picture" in err
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    good = hostile(tmp_path, {"scenes": [{"picture_file": "ok.png"}]})
    (tmp_path / "dir.mp4").mkdir()
    for out, words in ((tmp_path / "dir.mp4", "is a folder"), ("/dev/null", "device or a pipe")):
        code, _, err = studio(capsys, "story", "render", good, "--out", out)
        assert code == 2 and words in err, err
    raw = tmp_path / "latin1.json"
    raw.write_bytes(b'{"scenes": [{"narration": "\xe9t\xe9", "picture_file": "ok.png"}]}')
    code, _, err = studio(capsys, "story", "render", raw, "--out", tmp_path / "f.mp4")
    assert code == 2 and "not UTF-8" in err
    assert not (Path(os.environ["STUDIO_HOME"]) / "library").exists()


def test_ctrl_c_mid_export_leaves_no_partial_film(tmp_path):
    """A real process: the first Ctrl+C stops the export at the next frame, exit 130, no film, no .srt."""
    import signal
    import subprocess
    import sys
    import time

    for i in range(2):
        Image.new("RGB", (64, 36), (200 * i, 80, 40)).save(tmp_path / f"p{i}.png")
    story = hostile(tmp_path, {"scenes": [{"picture_file": f"p{i}.png", "length": 60} for i in range(2)]})
    film = tmp_path / "long.mp4"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "studio", "story", "render", str(story), "--out", str(film)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=root, env={**os.environ})
    seen = b""
    os.set_blocking(proc.stderr.fileno(), False)
    end = time.monotonic() + 120
    while b"frame " not in seen and proc.poll() is None and time.monotonic() < end:
        time.sleep(0.05)
        seen += proc.stderr.read() or b""
    assert b"frame " in seen, seen
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (seen + (err or b"")).decode()
    assert b"cancelled" in (seen + err) and out == b""
    assert not film.exists() and not film.with_suffix(".srt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_a_narration_that_says_nothing_is_refused_by_the_speech_preflight_first(tmp_path, capsys):
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    story = hostile(tmp_path, {"scenes": [{"picture_file": "ok.png", "narration": "… — …"}]})
    code, out, err = studio(capsys, "story", "render", story, "--out", tmp_path / "f.mp4")
    assert code == 2 and out == "" and "scene 1's narration" in err, err
    assert not (Path(os.environ["STUDIO_HOME"]) / "library").exists()


def test_a_story_tab_document_renders_from_its_own_assets_without_a_model(tmp_path, capsys):
    from studio.story import document
    from studio.story.assets import narration_request, request_key

    Image.new("RGB", (32, 18), (250, 200, 0)).save(tmp_path / "sun.png")
    t = np.arange(22050) / 22050
    soundfile.write(str(tmp_path / "voice.wav"), (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050)
    story = document.parse({"scenes": [{"picture_file": "sun.png", "narration": "The sun rose."}]}, base=tmp_path)
    key = request_key(narration_request(story, 0))
    doc = {**story.to_dict(), "assets": {key: {"path": str(tmp_path / "voice.wav"), "role": "narration", "scene": 0}}}
    (tmp_path / "sun.studio-story").write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = studio(capsys, "story", "render", tmp_path / "sun.studio-story", "--out", tmp_path / "sun.mp4",
                            "--no-library", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["assets_made"] == 0 and report["film_seconds"] == pytest.approx(LEAD_S + 1.0 + 0.8, abs=0.01)
    assert "The sun rose." in (tmp_path / "sun.srt").read_text(encoding="utf-8")
