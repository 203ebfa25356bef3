"""The story file: what it holds, and every hostile row refused by name before anything runs."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from studio.story import document
from studio.story.assets import AssetIndex, all_requests, missing, picture_request, request_key
from studio.story.document import StoryError
from studio.story.timing import cues, layout, srt


def write(tmp_path, data, name="story.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def minimal(**extra) -> dict:
    return {"title": "T", "image": {"model": "m", "width": 64, "height": 64, "steps": 1, "seed": 5},
            "scenes": [{"narration": "One.", "picture": "a red fox"}, {"picture": "a blue lake", "length": 2.5}],
            **extra}


def test_the_issue_example_reads_with_defaults_and_relative_picture_files(tmp_path):
    Image.new("RGB", (32, 16), (0, 200, 0)).save(tmp_path / "scene2.png")
    story = document.load(write(tmp_path, {
        "title": "Fox", "image": {"model": "sd", "width": 1024, "height": 576, "steps": 4, "seed": 1},
        "voice": {"model": "", "speaker": ""},
        "music": {"model": "mg", "prompt": "calm piano", "volume": 0.3},
        "scenes": [{"narration": "A fox woke.", "picture": "a fox"}, {"narration": "It ran.", "picture_file": "scene2.png"}]}))
    assert story.title == "Fox" and len(story.scenes) == 2
    assert story.scenes[1].picture_file == str(tmp_path / "scene2.png")  # resolved against the story's folder
    assert story.music.prompt == "calm piano" and story.music.volume == 0.3
    assert story.film.size == (1280, 720) and story.film.fps == 25
    req = picture_request(story, 0)
    assert (req.prompt, req.seed, req.width, req.num_inference_steps) == ("a fox", 1, 1024, 4)
    assert picture_request(story, 1) is None  # one's own picture


def test_round_trip_of_a_gui_document_keeps_everything(tmp_path):
    story = document.parse(minimal(film={"aspect": "9:16", "resolution": 1080, "fps": 30, "ken_burns": True},
                                   music={"prompt": "drums", "seed": 3}))
    story = story.with_scene(1, seed=0)  # a seed of 0 is a seed, not "unset"
    again = document.parse(json.loads(json.dumps(story.to_dict())))
    assert again == story
    assert again.film.size == (1080, 1920) and again.scenes[1].seed == 0 and again.scenes[0].seed is None


@pytest.mark.parametrize("data, words", [
    ({"title": "x"}, ["no 'scenes'"]),
    ({"scenes": [{"picture": "p"}], "image": {}, "sound": {}}, ["unknown key", "'sound'"]),
    ({"scenes": [{"picture": "p", "narattion": "typo"}], "image": {}}, ["scene 1", "'narattion'"]),
    ({"scenes": [{"picture": "p"}], "image": {"modle": "x"}}, ["'image'", "'modle'"]),
    ({"scenes": [{"picture": "p", "length": -2}], "image": {}}, ["scene 1", "'length'", "negative"]),
    ({"scenes": [{"narration": "hi"}]}, ["scene 1", "no picture"]),
    ({"scenes": [{"picture": "p"}]}, ["no 'image' settings"]),
    ({"scenes": [{"picture": "p"}] * 10_000, "image": {}}, ["10,000 scenes", "at most"]),
    ({"scenes": [{"picture": "p", "narration": "\ud800"}], "image": {}}, ["scene 1", "'narration'", "invalid character"]),
    ({"scenes": [{"picture": "p"}], "image": {"width": 100}}, ["'width'", "multiple of 8"]),
    ({"scenes": [{"picture": "p"}], "image": {}, "film": {"fps": 60}}, ["'fps'", "24, 25, 30"]),
    ({"scenes": [{"picture": "p"}], "image": {}, "music": {"volume": 0.2}}, ["music", "'prompt'"]),
    ({"scenes": [{"picture": "p", "length": "long"}], "image": {}}, ["'length'", "must be a number"]),
    ([1, 2], ["one JSON object"]),
])
def test_hostile_story_files_get_one_clear_message(tmp_path, data, words):
    with pytest.raises(StoryError) as info:
        document.load(write(tmp_path, data))
    message = str(info.value)
    assert all(w in message for w in words), message
    assert "Traceback" not in message and "Error" not in message


def test_file_level_problems(tmp_path):
    raw = tmp_path / "latin1.json"
    raw.write_bytes(b'{"scenes": [{"narration": "caf\xe9", "picture": "p"}], "image": {}}')
    with pytest.raises(StoryError, match="not UTF-8 text .*byte 0xe9 on line 1"):
        document.load(raw)
    (tmp_path / "broken.json").write_text('{"scenes": [', encoding="utf-8")
    with pytest.raises(StoryError, match="not valid JSON"):
        document.load(tmp_path / "broken.json")
    with pytest.raises(StoryError, match="NaN"):
        document.loads('{"scenes": [{"picture": "p", "length": NaN}], "image": {}}')
    with pytest.raises(document.InvalidRequest, match="folder"):
        document.load(tmp_path)


def test_a_picture_file_that_is_not_a_picture(tmp_path):
    (tmp_path / "fake.png").write_bytes(b"this is text, not a PNG")
    with pytest.raises(StoryError, match="scene 1: Can't read the picture .*fake.png.* not a picture"):
        document.load(write(tmp_path, {"scenes": [{"picture_file": "fake.png"}]}))
    Image.new("RGB", (64, 64), (1, 2, 3)).save(tmp_path / "whole.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "whole.png").read_bytes()[:-30])
    with pytest.raises(StoryError, match="scene 1: the picture 'cut.png' is damaged"):
        document.load(write(tmp_path, {"scenes": [{"picture_file": "cut.png"}]}))
    with pytest.raises(StoryError, match="scene 1: No picture"):
        document.load(write(tmp_path, {"scenes": [{"picture_file": "gone.png"}]}))


def test_keys_change_only_with_their_scene_and_the_index_knows_what_is_missing(tmp_path):
    story = document.parse(minimal())
    before = {(r, s): request_key(q) for r, s, q in all_requests(story)}
    changed = story.with_scene(1, picture="a green lake")
    after = {(r, s): request_key(q) for r, s, q in all_requests(changed)}
    assert before[("picture", 0)] == after[("picture", 0)] and before[("narration", 0)] == after[("narration", 0)]
    assert before[("picture", 1)] != after[("picture", 1)]
    clip = tmp_path / "a.wav"
    clip.write_bytes(b"x")
    index = AssetIndex({before[("picture", 0)]: {"path": str(clip)}, before[("picture", 1)]: {"path": str(clip)}})
    assert [(r, s) for r, s, _ in missing(changed, index)] == [("narration", 0), ("picture", 1)]
    clip.unlink()  # a deleted library file is missing again
    assert len(missing(changed, index)) == 3


def test_timing_follows_narration_and_cues_sit_inside_the_film():
    story = document.parse({**minimal(film={"pause": 0.5, "crossfade": 0.4}),
                            "scenes": [{"narration": "One.", "picture": "a"}, {"picture": "b", "length": 2.0},
                                       {"narration": "Three, the end.", "picture": "c"}]})
    timeline = layout(story, [1.5, None, 2.0])
    lengths = [round(s.length, 3) for s in timeline.shots]
    assert lengths == [0.3 + 1.5 + 0.5, 2.0, 0.3 + 2.0 + 0.5]
    assert timeline.length == pytest.approx(sum(lengths)) and timeline.crossfade == 0.4
    assert timeline.at(0.1) == (0, None, 0.0)
    scene, following, blend = timeline.at(timeline.shots[0].end - 0.2)
    assert (scene, following) == (0, 1) and blend == pytest.approx(0.5)
    cue_list = cues(story, timeline)
    assert [c.text for c in cue_list] == ["One.", "Three, the end."]
    assert cue_list[1].start == pytest.approx(2.3 + 2.0 + 0.3) and cue_list[1].end <= timeline.length
    text = srt(cue_list)
    assert text.startswith("1\n00:00:00,300 --> 00:00:01,800\nOne.\n\n2\n00:00:04,600 --> 00:00:06,600\n")


def test_outline_paragraphs_become_scenes_and_numbered_replies_become_prompts():
    from studio.story.writing import parse_prompts

    base = document.parse(minimal())
    story = document.from_outline("The fox woke.\nIt was cold.\n\n\nIt ran.\n\nThe end.", base)
    assert [s.narration for s in story.scenes] == ["The fox woke. It was cold.", "It ran.", "The end."]
    assert story.scenes[0].picture == "a red fox" and story.scenes[2].picture == "The end."  # kept, or the text
    reply = "Here you go:\n1. A red fox in snow, dawn light\n3) A quiet den\n2 - fox running by a river\n9. extra"
    assert parse_prompts(reply, 3) == ["A red fox in snow, dawn light", "fox running by a river", "A quiet den"]
    assert parse_prompts("a fox\n\na river", 3) == ["a fox", "a river", ""]


def test_random_seeds_and_permissions_in_keys():
    story = document.parse(minimal(image={"model": "m", "width": 64, "height": 64, "seed": None}))
    assert picture_request(story, 1).seed is None  # random: the picture is made with any seed, once
    fixed = story.with_scene(1, seed=7)
    assert picture_request(fixed, 1).seed == 7 and picture_request(fixed, 0).seed is None
    req = picture_request(fixed, 1)
    assert request_key(req) == request_key(req.with_pickle_allowed())  # a permission is not a new picture
