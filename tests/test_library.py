"""The library: atomic saves with parameters, the history index, conversations, bad files."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from studio.events import Output
from studio.library.atomic import atomic_write_bytes
from studio.library.store import Library


def test_outputs_are_saved_with_their_parameters(library):
    text = library.save(Output("text", "hello", {"prompt": "hi", "seed": 3}), job_id="job-1")
    image = library.save(Output("image", Image.new("RGB", (8, 8), "red"), {"prompt": "red", "seed": 1}))
    import numpy as np

    audio = library.save(Output("audio", (np.zeros(800, dtype="float32"), 16000), {"kind": "speech", "text": "x"}))
    assert text.path.read_text() == "hello" and text.path.suffix == ".md"
    assert Image.open(image.path).size == (8, 8)
    assert audio.path.suffix == ".wav" and audio.kind == "speech"
    items = library.items()
    assert [i.id for i in items] == [audio.id, image.id, text.id]  # newest first
    assert library.items("text")[0].params == {"prompt": "hi", "seed": 3}
    assert library.items("text")[0].job_id == "job-1"
    # a fresh Library on the same folder reads the same index
    assert [i.id for i in Library(library.root).items()] == [i.id for i in items]


def test_atomic_write_leaves_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_bytes(target, b"old")

    from studio.library.atomic import atomic_write

    def explode(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, explode)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]  # no temp file left behind


def test_conversations_round_trip_and_bad_files_are_skipped(library):
    library.save_conversation({"id": "abc", "title": "t", "messages": [{"role": "user", "content": "hi"}]})
    (library.conversations_dir() / "broken.json").write_text("{not json")
    (library.conversations_dir() / "wrong.json").write_text(json.dumps([1, 2]))
    convs = library.conversations()
    assert [c["id"] for c in convs] == ["abc"]
    assert library.load_conversation("abc")["messages"][0]["content"] == "hi"
    # ids cannot escape the folder
    path = library.save_conversation({"id": "../../evil", "messages": []})
    assert path.parent == library.conversations_dir()


def test_delete_and_relocate(library, tmp_path):
    item = library.save(Output("text", "x", {}))
    library.delete(item.id)
    assert not item.path.exists() and library.items() == []
    library.relocate(tmp_path / "elsewhere")
    moved = library.save(Output("text", "y", {}))
    assert str(moved.path).startswith(str(tmp_path / "elsewhere"))


def test_an_items_kind_is_its_requests_kind(library):
    from studio.requests import ImageRequest, InpaintRequest, TextRequest, ChatMessage

    image = library.save(Output("image", Image.new("RGB", (8, 8)), ImageRequest(prompt="a").to_dict(), index=2))
    edit = library.save(Output("image", Image.new("RGB", (8, 8)), InpaintRequest(prompt="b", image="x.png").to_dict()))
    reply = library.save(Output("text", "yo", TextRequest(messages=(ChatMessage("user", "hi"),)).to_dict()))
    assert (image.kind, edit.kind, reply.kind) == ("image", "inpaint", "text")
    assert image.path.name.endswith("-image-2.png") and edit.path.name.endswith("-inpaint-0.png")
    assert reply.path.name.endswith("-text.md")  # only numbered output types carry the batch index
    assert [i.id for i in library.items("inpaint")] == [edit.id]
    assert [i.id for i in library.items("image")] == [image.id]


@pytest.mark.parametrize("media, suffix", [("audio", ".wav"), ("audio/wav", ".wav"), ("audio/flac", ".flac"), ("audio/ogg", ".ogg")])
def test_audio_formats_carry_their_parameters_in_tags(library, media, suffix):
    import numpy as np
    import soundfile

    params = {"kind": "music", "prompt": "calm  piano\nat night", "seed": 7, "duration_s": 0.1}
    clip = np.sin(np.linspace(0, 300, 1600, dtype="float32")) * 0.5
    saved = library.save(Output(media, (clip, 16000), params))
    assert saved.kind == "music" and saved.path.suffix == suffix and saved.path.name.endswith(f"-music{suffix}")
    with soundfile.SoundFile(saved.path) as f:
        assert (f.samplerate, f.frames) == (16000, 1600)
        assert f.title == "calm piano at night"
        assert json.loads(f.comment) == params
    assert library.items("music")[0].params == params


def test_long_parameters_stay_in_the_index_when_the_format_cannot_hold_them(library):
    import numpy as np
    import soundfile

    params = {"kind": "speech", "text": "word " * 2000}
    saved = library.save(Output("audio/wav", (np.zeros(160, dtype="float32"), 16000), params))
    with soundfile.SoundFile(saved.path) as f:
        assert f.comment == "" and f.title.startswith("word word")
    assert library.items("speech")[0].params == params


def test_unknown_output_types_and_odd_kinds(library):
    with pytest.raises(ValueError, match="unknown output type 'video/mp4'"):
        library.save(Output("video/mp4", b"", {"kind": "video"}))
    assert library.items() == [] and not (library.root / "outputs").exists()
    # a kind that could not be part of a file name falls back to the output type's own
    odd = library.save(Output("text", "x", {"kind": "../../x"}))
    assert odd.kind == "text" and odd.path.parent.parent == library.root / "outputs"
