"""Chunking text for speech: sentence ends, abbreviations, numbers, paragraphs, over-long sentences,
and the characters a voice cannot say."""

from __future__ import annotations

import time

import pytest

from studio.engines.speech_text import (
    NONE,
    PARAGRAPH,
    SENTENCE,
    describe_characters,
    drop_characters,
    has_words,
    split_sentences,
    split_text,
    unsayable,
)


def texts(chunks):
    return [c.text for c in chunks]


def test_sentence_ends_and_closing_quotes():
    assert split_sentences('It rained! Did it stop? No… "Not yet." She left.') == [
        "It rained!", "Did it stop?", "No…", '"Not yet."', "She left."
    ]
    assert split_sentences("lower case text. still a new sentence.") == ["lower case text.", "still a new sentence."]


def test_abbreviations_initials_and_numbers_do_not_end_sentences():
    text = ("Dr. Smith met Mrs. Jones at 3 p.m. on Main St. near No. 5. "
            "J. R. R. Tolkien wrote it, e.g. in 1937. Pi is 3.14159 and it costs $2.50 today. "
            "They sold books, pens, etc. Then they closed.")
    assert split_sentences(text) == [
        "Dr. Smith met Mrs. Jones at 3 p.m. on Main St. near No. 5.",
        "J. R. R. Tolkien wrote it, e.g. in 1937.",
        "Pi is 3.14159 and it costs $2.50 today.",
        "They sold books, pens, etc.",
        "Then they closed.",
    ]


def test_paragraphs_and_the_pause_after_each_chunk():
    chunks = split_text("First one. Second one.\n\n  Next paragraph\nwraps here.\n\n\nLast.")
    assert texts(chunks) == ["First one.", "Second one.", "Next paragraph wraps here.", "Last."]
    assert [c.pause for c in chunks] == [SENTENCE, PARAGRAPH, PARAGRAPH, NONE]
    assert [c.paragraph for c in chunks] == [0, 0, 1, 2]
    assert split_text("   \n\n  ") == []


def test_a_3000_character_sentence_without_punctuation_is_cut_between_words():
    words = " ".join(f"word{i}" for i in range(500))
    assert len(words) > 3000
    chunks = split_text(words, max_chars=250)
    assert all(len(c.text) <= 250 for c in chunks) and len(chunks) >= 12
    assert " ".join(texts(chunks)) == words  # nothing lost, no word split
    assert [c.pause for c in chunks[:-1]] == [NONE] * (len(chunks) - 1)  # parts of one sentence: no pause


def test_long_sentences_prefer_clause_marks_and_unbroken_text_is_cut_anyway():
    clause = "this part goes on for quite a while, " * 12
    chunks = split_text(clause.strip() + ".", max_chars=100)
    assert all(c.text.endswith(",") for c in chunks[:-1]) and all(len(c.text) <= 100 for c in chunks)
    blob = split_text("x" * 1000, max_chars=250)
    assert [len(c.text) for c in blob] == [250, 250, 250, 250]


def test_twenty_thousand_characters_split_in_linear_time():
    text = ("A sentence of some length goes here. " * 600)[:20_000]
    start = time.perf_counter()
    chunks = split_text(text, max_chars=250)
    assert time.perf_counter() - start < 2.0
    assert len(chunks) == 541 and all(len(c.text) <= 250 for c in chunks)


def test_text_with_nothing_to_say():
    assert not has_words("?! … -- ...")
    assert has_words("42") and has_words("é")


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Hello 😀 world ✨", "en", ["😀", "✨"]),
        ("Hello Жук and 漢字", "en_US", ["Ж", "у", "к", "漢", "字"]),
        ("Привет, John! 😀", "ru", ["😀"]),
        ("Café naïve, 5 % for $3 & more.", "fr", []),
        ("日本語とカタカナ", "ja", []),
    ],
)
def test_characters_a_voice_cannot_say(text, language, expected):
    assert unsayable(text, language) == expected


def test_model_vocabulary_and_dropping():
    assert unsayable("hello, wörld!", "en", vocab="abcdefghijklmnopqrstuvwxyz") == ["ö"]
    assert drop_characters("a😀b", ["😀"]) == "a b"
    assert describe_characters(["😀"]) == "'😀' (GRINNING FACE)"
    assert describe_characters([chr(0x10FFFD)] * 10).endswith("and 2 more")
