"""The film writer and the sound mix, from picture and clip files (no models): frames decoded back
with av, the bed's loudness measured under the voice and between, cancel leaves no file."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
from PIL import Image

from studio.cancel import CancelToken
from studio.errors import Cancelled
from studio.story import document
from studio.story.assets import Assets
from studio.story.mix import RATE
from studio.story.render import preflight, export

COLORS = [(220, 30, 30), (30, 200, 40), (40, 60, 230)]


def tone(path: Path, freq: float, seconds: float, rate: int = 22050, amp: float = 0.5) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(str(path), (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate)
    return path


def pictures(tmp_path, sizes=((160, 90), (90, 160), (100, 100))) -> list[Path]:
    out = []
    for i, (color, size) in enumerate(zip(COLORS, sizes)):
        p = tmp_path / f"pic{i}.png"
        Image.new("RGB", size, color).save(p)
        out.append(p)
    return out


def story_with(tmp_path, pics, film=None, music=None, narration=("", "", "")):
    data = {"title": "Colours", "film": {"resolution": 720, "fps": 25, "crossfade": 0.4, "pause": 0.6, **(film or {})},
            "scenes": [{"picture_file": str(p), "narration": n, "length": 1.2} for p, n in zip(pics, narration)]}
    if music:
        data["music"] = music
    return document.parse(data)


def decode(path: Path):
    with av.open(str(path)) as c:
        video = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video)]
    with av.open(str(path)) as c:
        sound = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
        meta = dict(c.metadata)
        codecs = (c.streams.video[0].codec_context.name, c.streams.audio[0].codec_context.name)
        rate = c.streams.audio[0].rate
    return frames, sound, rate, meta, codecs


def test_each_scene_shows_its_own_picture_fitted_without_stretching(tmp_path):
    pics = pictures(tmp_path)
    story = story_with(tmp_path, pics, film={"aspect": "1:1"})
    made = Assets(pics, [None] * 3, [None] * 3)
    targets = preflight(story, tmp_path / "film.mp4")
    stats, timeline = export(story, made, targets)
    frames, sound, rate, meta, codecs = decode(targets.film)
    assert codecs == ("h264", "aac") and rate == RATE
    data = targets.film.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # "fast start": plays while it downloads
    assert len(frames) == stats.frames == round(3 * 1.2 * 25) and frames[0].shape == (720, 720, 3)
    assert sound.shape[1] / rate == pytest.approx(3.6, abs=0.05)
    for shot, color in zip(timeline.shots, COLORS):
        mid = frames[int((shot.start + shot.length * 0.4) * 25)]
        assert np.abs(mid[360, 360].astype(int) - color).max() < 20  # the centre is the scene's picture
    wide, tall = frames[int(0.5 * 25)], frames[int(1.7 * 25)]
    # 160×90 into 720×720: full width, 405 px high, black above and below (no stretching)
    assert wide[100, 360].max() < 20 and wide[360 - 190, 360].max() > 150 and wide[360 + 190, 360].max() > 150
    assert tall[360, 100].max() < 20 and tall[360, 360 - 190].max() > 150  # 90×160: bars left and right
    info = json.loads(meta["comment"])
    assert meta["title"] == "Colours" and info["software"].startswith("Studio ")
    assert [s["picture"]["file"] for s in info["scenes"]] == ["pic0.png", "pic1.png", "pic2.png"]
    assert targets.subtitles.read_text(encoding="utf-8") == ""  # no narration, no cues


@pytest.mark.parametrize("aspect, resolution, fps, size", [("16:9", 720, 24, (1280, 720)), ("9:16", 720, 30, (720, 1280))])
def test_sizes_and_frame_rates(tmp_path, aspect, resolution, fps, size):
    pics = pictures(tmp_path)[:1]
    story = story_with(tmp_path, pics, film={"aspect": aspect, "resolution": resolution, "fps": fps, "ken_burns": True})
    targets = preflight(story, tmp_path / "f.mp4")
    export(story, Assets(pics, [None], [None]), targets)
    with av.open(str(targets.film)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == size and v.average_rate == fps


def test_music_is_ducked_under_the_voice_and_faded_out(tmp_path):
    pics = pictures(tmp_path)
    voice = [tone(tmp_path / f"v{i}.wav", 2000, 1.0) for i in range(3)]
    bed = tone(tmp_path / "bed.wav", 220, 2.0, amp=0.8)  # shorter than the film: it starts again
    story = story_with(tmp_path, pics, narration=("one", "two", "three"),
                       music={"file": str(bed), "volume": 0.5, "duck": 0.25})
    targets = preflight(story, tmp_path / "film.mp4")
    _, timeline = export(story, Assets(pics, voice, [1.0] * 3, bed), targets)
    _, sound, rate, _, _ = decode(targets.film)
    mono = sound.mean(axis=0)

    def level(freq, a, b):  # amplitude of one frequency between a and b seconds
        part = mono[int(a * rate):int(b * rate)]
        t = np.arange(len(part)) / rate
        return 2 * abs(np.dot(part, np.exp(-2j * np.pi * freq * t))) / len(part)

    shot = timeline.shots[1]
    under = level(220, shot.speech_start + 0.35, shot.speech_end - 0.35)  # the bed while the voice speaks
    between = level(220, timeline.shots[0].speech_end + 0.32, timeline.shots[1].speech_start - 0.32)  # nobody speaks
    assert level(2000, shot.speech_start + 0.35, shot.speech_end - 0.35) == pytest.approx(0.5, rel=0.1)
    assert between == pytest.approx(0.8 * 0.5, rel=0.15)
    assert 20 * np.log10(under / between) == pytest.approx(20 * np.log10(0.25), abs=1.5)  # -12 dB under the voice
    assert level(220, timeline.length - 0.1, timeline.length) < 0.1 * between  # faded out at the end
    cues = targets.subtitles.read_text(encoding="utf-8").split("\n\n")
    assert [c.splitlines()[2] for c in cues if c.strip()] == ["one", "two", "three"]


def test_cancel_mid_export_leaves_no_partial_file_and_keeps_the_old_film(tmp_path):
    pics = pictures(tmp_path)
    story = story_with(tmp_path, pics)
    targets = preflight(story, tmp_path / "film.mp4")
    targets.film.write_bytes(b"the previous film")
    cancel = CancelToken()
    seen = []

    def on_event(ev):
        if getattr(ev, "stage", "") == "export":
            seen.append(ev)
            if ev.step >= 20:
                cancel.cancel()

    with pytest.raises(Cancelled):
        export(story, Assets(pics, [None] * 3, [None] * 3), targets, cancel=cancel, on_event=on_event)
    assert seen and seen[0].total == 90 and seen[-1].eta_s is not None and seen[-1].step < 90
    assert targets.film.read_bytes() == b"the previous film" and not targets.subtitles.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp file left


@pytest.mark.parametrize("out, words", [("", "empty"), ("folder", "is a folder"), ("/dev/null", "device"),
                                        ("film.avi", "use .mp4"), ("file.txt/film.mp4", "is a file")])
def test_out_onto_a_folder_a_device_or_a_wrong_name_is_refused_first(tmp_path, out, words):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.txt").write_text("x")
    story = story_with(tmp_path, pictures(tmp_path))
    target = out if out.startswith("/") or not out else str(tmp_path / out)
    with pytest.raises(document.InvalidRequest, match=words):
        preflight(story, target)


def test_burned_in_subtitles_show_only_while_the_scene_speaks(tmp_path):
    from studio.story.film import Frames
    from studio.story.timing import layout

    pics = pictures(tmp_path)[:1]
    story = story_with(tmp_path, pics, narration=("A long line of narration that must wrap onto more lines.",))
    timeline = layout(story, [2.0])
    plain = Frames(timeline, pics, (640, 360), 25)
    burned = Frames(timeline, pics, (640, 360), 25, captions=[story.scenes[0].narration])
    during, before = int(1.0 * 25), 2  # 1 s is inside the narration (0.3 … 2.3 s); 0.08 s is before it
    assert np.array_equal(plain.frame(before), burned.frame(before))
    diff = np.abs(plain.frame(during).astype(int) - burned.frame(during).astype(int)).max(axis=2)
    rows = np.nonzero(diff.max(axis=1) > 60)[0]
    assert len(rows) and rows.min() > 360 // 2  # text drawn, in the lower half only


def test_a_cloned_voice_is_marked_in_the_film(tmp_path):
    from studio.events import SavedItem
    from studio.story.assets import AssetIndex, narration_request, request_key

    pics = pictures(tmp_path)[:1]
    clip = tone(tmp_path / "v.wav", 500, 1.0)
    ref = tone(tmp_path / "ref.wav", 200, 3.0)
    story = document.parse({"voice": {"model": "xtts", "speaker_wav": "ref.wav"},
                            "scenes": [{"picture_file": str(pics[0]), "narration": "Hello."}]}, base=tmp_path)
    assert story.voice.speaker_wav == str(ref) and narration_request(story, 0).speaker_wav == str(ref)
    key = request_key(narration_request(story, 0))
    index = AssetIndex()
    index.put(key, "narration", SavedItem("i", "speech", clip, {"model_name": "XTTS v2", "cloned_voice": True}, 0), 0)
    made = Assets(pics, [clip], [1.0], keys={("narration", 0): key})
    targets = preflight(story, tmp_path / "film.mp4")
    export(story, made, targets, index=index)
    meta = decode(targets.film)[3]
    assert meta["artist"] == "cloned voice (Studio)"
    info = json.loads(meta["comment"])
    assert info["cloned_voice"] is True and info["scenes"][0]["narration"] == {"model": "XTTS v2", "seed": None,
                                                                                "cloned_voice": True}


def test_the_sound_made_piece_by_piece_is_the_sound_made_at_once(tmp_path):
    from studio.story.mix import Mixer, mix
    from studio.story.timing import layout

    pics = pictures(tmp_path)
    voice = [tone(tmp_path / f"v{i}.wav", 300 + 100 * i, 0.7) for i in range(3)]
    bed = tone(tmp_path / "bed.wav", 110, 0.9, rate=32000)
    story = story_with(tmp_path, pics, narration=("a", "", "c"), music={"file": str(bed), "volume": 0.5})
    timeline = layout(story, [0.7, None, 0.7])
    whole = mix(timeline, [voice[0], None, voice[2]], bed, volume=0.5, duck=0.25)
    mixer = Mixer(timeline, [voice[0], None, voice[2]], bed, volume=0.5, duck=0.25)
    pieces = np.concatenate([mixer.chunk(a, a + 1920) for a in range(0, mixer.frames, 1920)])
    assert pieces.shape == whole.shape == (mixer.frames, 2) and np.allclose(pieces, whole, atol=1e-6)
