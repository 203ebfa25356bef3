"""Searchable history: FTS5 over the library index, the migration from the old index, hostile queries."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from studio.events import Output
from studio.library.search import SCHEMA_VERSION, Query, fts_query
from studio.library.store import Library

# The index as Studio wrote it before search existed (schema version 0): what migration starts from.
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    created REAL NOT NULL,
    job_id TEXT NOT NULL DEFAULT '',
    params TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_created ON items(created);
"""


def _old_index(root, rows):
    root.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(root / "index.sqlite")
    db.executescript(OLD_SCHEMA)
    for i, (kind, params) in enumerate(rows):
        db.execute("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)",
                   (f"id{i}", kind, str(root / f"f{i}"), 1000.0 + i, "", params if isinstance(params, str)
                    else json.dumps(params)))
    db.commit()
    db.close()


def _ids(items):
    return [i.id for i in items]


def test_the_old_index_is_migrated_in_place_and_searchable(tmp_path):
    root = tmp_path / "lib"
    _old_index(root, [
        ("image", {"kind": "image", "prompt": "a red fox in snow", "model": "stabilityai/sd-turbo", "seed": 42}),
        ("speech", {"kind": "speech", "text": "Once upon a time", "model": "piper:en_US-joe-medium", "seed": None}),
        ("text", {"kind": "text", "messages": [{"role": "user", "content": "write a haiku about foxes"}],
                  "reply": "Quiet orange tail", "model": "smollm2", "seed": 7}),
        ("music", "{not json"),  # a damaged row stays listed, just with nothing to find
    ])
    library = Library(root)
    db = sqlite3.connect(root / "index.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()
    assert len(library.items()) == 4
    assert _ids(library.search("fox")) == ["id0"]  # words are whole tokens; 'fox*' below finds 'foxes'
    assert _ids(library.search("fox*")) == ["id2", "id0"]  # newest first
    assert _ids(library.search("orange")) == ["id2"]  # the reply is found too
    assert _ids(library.search("upon", kind="speech")) == ["id1"]
    assert _ids(library.search("upon", kind="image")) == []
    assert _ids(library.search("", model="sd-turbo")) == ["id0"]
    assert _ids(library.search("", seed=7)) == ["id2"]
    assert _ids(library.search("42")) == ["id0"]  # a seed typed as a word
    # opened again: nothing migrated twice, still the same answers
    again = Library(root)
    assert _ids(again.search("fox*")) == ["id2", "id0"]
    # new saves and deletions keep the search table in step
    saved = again.save(Output("text", "hi", {"kind": "text", "prompt": "zebra stripes", "model": "m", "seed": 1}))
    assert _ids(again.search("zebra")) == [saved.id]
    again.delete(saved.id)
    assert again.search("zebra") == []


def test_search_by_date(library):
    first = library.save(Output("text", "a", {"prompt": "alpha", "model": "m"}))
    with sqlite3.connect(library.root / "index.sqlite") as db:  # made two days ago
        db.execute("UPDATE items SET created = ? WHERE id = ?", (time.time() - 2 * 86400, first.id))
    second = library.save(Output("text", "b", {"prompt": "alpha", "model": "m"}))
    assert _ids(library.search("alpha", since=time.time() - 86400)) == [second.id]
    assert _ids(library.search("alpha", until=time.time() - 86400)) == [first.id]


@pytest.mark.parametrize("typed", [
    '"', '""', '"unclosed phrase', 'a"b', "*", "**", "fox OR", "NOT", "AND fox", "(fox", "fox)", "prompt:fox",
    "NEAR(fox snow)", "^fox", "-fox", "+", "fox\x00snow", "\udcff\udcfe", "caf\udce9", "x" * 10_000,
    " ".join(["fox"] * 5000), "'; DROP TABLE items; --", "{prompt}: fox", "fox*snow",
])
def test_anything_typed_is_a_search_not_syntax(library, typed):
    library.save(Output("text", "a", {"prompt": "a red fox in snow", "model": "m", "seed": 5}))
    found = library.search(typed)  # never raises
    assert isinstance(found, list)
    assert len(library.items()) == 1  # nothing typed changes the index


def test_quotes_stars_and_operators_mean_what_a_person_expects(library):
    fox = library.save(Output("text", "a", {"prompt": "a red fox in snow", "model": "m"}))
    sky = library.save(Output("text", "b", {"prompt": "red sky at night, fox nowhere", "model": "m"}))
    assert _ids(library.search('"red fox"')) == [fox.id]  # a phrase
    assert _ids(library.search("red fox")) == [sky.id, fox.id]  # every word, anywhere
    assert _ids(library.search("sno*")) == [fox.id]  # a prefix
    assert library.search("fox OR cat") == []  # OR is a word to find here, not an operator
    assert library.search("NOT fox") == []
    assert library.search("prompt:fox") == []  # not a column filter: the words "prompt fox"
    assert library.search("x" * 10_000) == []
    assert library.search("*") == [] and library.search('"') == []  # nothing to find, not everything


def test_text_that_is_not_utf8_is_found(library):
    saved = library.save(Output("text", "a", {"prompt": "caf\udce9 au lait", "model": "m"}))  # a non-UTF-8 argument
    assert _ids(library.search("lait")) == [saved.id]
    assert _ids(library.search("caf\udce9")) == [saved.id]


def test_fts_query_quotes_everything():
    assert fts_query('sunset "red sky" cat*') == '"sunset" AND "red sky" AND "cat"*'
    assert fts_query('a"b') == '"a b"'
    assert fts_query("*") == ""
    assert fts_query("x" * 10_000).count('"') == 2
    assert fts_query(" ".join(f"w{i}" for i in range(1000))).count(" AND ") < 40


def test_query_objects_and_limits(library):
    for i in range(5):
        library.save(Output("text", "a", {"prompt": f"item {i}", "model": "m"}))
    assert len(library.search(Query(text="item", limit=3))) == 3
    assert len(library.search(Query(kind="text", limit=10))) == 5


# --- studio library search ---
def _cli_library():
    from studio import paths

    return Library(paths.library_dir())


def test_cli_search_json_lists_what_was_saved(capsys):
    from studio import cli

    lib = _cli_library()
    image = lib.save(Output("image", _png(), {"kind": "image", "prompt": "lighthouse at dawn", "model": "sd-turbo",
                                             "seed": 11}))
    speech = lib.save(Output("text", "x", {"kind": "speech", "text": "The lighthouse keeper spoke.", "model": "piper",
                                          "seed": None}))
    lib.save(Output("text", "reply", {"kind": "text", "messages": [{"role": "user", "content": "a poem"}],
                                      "model": "smollm2", "seed": 3}))
    assert cli.main(["library", "search", "lighthouse", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["path"] for r in records] == [str(speech.path), str(image.path)]
    assert records[1] == {**records[1], "kind": "image", "prompt": "lighthouse at dawn", "model": "sd-turbo",
                          "seed": 11, "exists": True}
    assert records[0]["kind"] == "speech" and records[0]["prompt"] == "The lighthouse keeper spoke."
    assert all({"kind", "path", "created", "prompt", "model"} <= set(r) for r in records)
    assert cli.main(["library", "search", "lighthouse", "--kind", "image", "--json"]) == 0
    assert [r["path"] for r in json.loads(capsys.readouterr().out)] == [str(image.path)]
    assert cli.main(["library", "search", "", "--model", "smollm2", "--json"]) == 0
    (text,) = json.loads(capsys.readouterr().out)
    assert text["kind"] == "text" and text["prompt"] == "a poem"
    # human-readable output; a vanished file is said to be missing
    image.path.unlink()
    assert cli.main(["library", "search", "dawn"]) == 0
    out = capsys.readouterr().out
    assert "lighthouse at dawn" in out and "(file missing)" in out


def test_cli_search_bad_input_is_one_line(capsys):
    from studio import cli

    assert cli.main(["library", "search", "x", "--since", "yesterday"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("studio: error:") and "YYYY-MM-DD" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exited:  # argparse's own refusal, exit 2
        cli.main(["library", "search", "x", "--kind", "video"])
    assert exited.value.code == 2 and "invalid choice" in capsys.readouterr().err
    for typed in ['"', "*", "\udcff", "y" * 10_000, "a OR (b"]:
        assert cli.main(["library", "search", typed, "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == []


def _png():
    from PIL import Image

    return Image.new("RGB", (8, 8), "blue")
