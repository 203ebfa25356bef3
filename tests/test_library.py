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
