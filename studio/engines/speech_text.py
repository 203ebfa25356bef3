"""Text preparation for speech (no Qt, no torch): sentence/paragraph chunking and unsayable characters.

:func:`split_text` cuts a text into :class:`Chunk` s a voice can say in one call: paragraphs (blank
lines), then sentences (``.``, ``!``, ``?``, ``…`` followed by a space; abbreviations such as "Dr." or
"e.g.", initials and decimal numbers are not sentence ends), then, for a sentence longer than the
model's limit, clauses (``, ; : –``) and finally words. Each chunk says which pause follows it.

:func:`unsayable` lists the characters a voice of a given language cannot say (emoji, pictographs,
letters of another script), so the engine can drop them and say which.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

#: Words that end in a period without ending the sentence (compared lower-case, without the period).
ABBREVIATIONS = frozenset(
    """mr mrs ms mx dr prof sr jr st mt vs etc e.g i.e cf al fig figs no nos vol vols approx ca
    dept est inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat
    sun gen col lt sgt capt rev hon p pp ed eds op ch sec""".split()
)
#: Abbreviations that may also end a sentence: a capitalised next word means a new sentence.
_SOFT_ABBREVIATIONS = frozenset({"etc", "al", "inc", "ltd", "co", "corp"})

_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n\s*")
# a sentence end: terminal punctuation (and closing quotes/brackets) followed by whitespace. Linear in
# the text's length: a match may only start where a run of punctuation starts (the lookbehind), and
# the runs are possessive, so 100 kB of dots or "!?" are scanned once, not once per position.
_SENTENCE_END = re.compile(r"""(?<![.!?…])([.!?…]++|[。！？])(["'”’»)\]]*+)(\s+)""")
_CLAUSE = re.compile(r"[,;:–—](?=\s)")

SENTENCE, PARAGRAPH, NONE = "sentence", "paragraph", "none"


@dataclass(frozen=True)
class Chunk:
    """A piece of text said in one call, and the pause that follows it."""

    text: str
    pause: str = SENTENCE  # 'sentence' | 'paragraph' | 'none' (a long sentence cut in parts, or the end)
    paragraph: int = 0  # which paragraph it comes from


def _sentence_ends(paragraph: str) -> Iterable[int]:
    """Offsets just after each sentence end in ``paragraph``."""
    for m in _SENTENCE_END.finditer(paragraph):
        punct = m.group(1)
        if punct == ".":
            before = paragraph[max(0, m.start() - 40) : m.start()]  # a window: linear in the text's length
            word = re.search(r"([\w.]+)$", before)
            token = word.group(1).lower() if word else ""
            after = paragraph[m.end() : m.end() + 1]
            if token in ABBREVIATIONS or token.rstrip(".") in ABBREVIATIONS:
                if not (token in _SOFT_ABBREVIATIONS and after[:1].isupper()):
                    continue
            elif len(token) == 1 and token.isalpha() and before[-1:].isupper():
                continue  # an initial: "J. R. R. Tolkien"
            elif re.fullmatch(r"(\w\.)+\w", token) and not after[:1].isupper():
                continue  # "3 p.m. and", "the U.S. economy": dotted abbreviations inside a sentence
        yield m.end()


def split_sentences(paragraph: str) -> list[str]:
    out, start = [], 0
    for end in _sentence_ends(paragraph):
        piece = paragraph[start:end].strip()
        if piece:
            out.append(piece)
        start = end
    tail = paragraph[start:].strip()
    if tail:
        out.append(tail)
    return out


def _cut(sentence: str, max_chars: int) -> list[str]:
    """A sentence longer than ``max_chars`` in parts: at clause marks, else between words, else anywhere."""
    parts: list[str] = []
    rest = sentence.strip()
    while len(rest) > max_chars:
        window = rest[: max_chars + 1]
        cut = -1
        clauses = [m.end() for m in _CLAUSE.finditer(window) if m.end() >= max_chars // 3]
        if clauses:
            cut = clauses[-1]
        else:
            space = window.rfind(" ")
            cut = space if space >= max_chars // 3 else max_chars
        parts.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        parts.append(rest)
    return [p for p in parts if p]


def split_text(text: str, max_chars: int = 400) -> list[Chunk]:
    """The chunks of ``text``, in order, none longer than ``max_chars``. Empty text gives no chunk."""
    if max_chars < 8:
        raise ValueError("max_chars must be at least 8")
    chunks: list[Chunk] = []
    paragraphs = [p for p in _PARAGRAPH.split(text.replace("\r\n", "\n")) if p.strip()]
    for pi, paragraph in enumerate(paragraphs):
        flat = " ".join(paragraph.split())
        for sentence in split_sentences(flat):
            parts = _cut(sentence, max_chars)
            for i, part in enumerate(parts):
                chunks.append(Chunk(part, SENTENCE if i == len(parts) - 1 else NONE, pi))
        if chunks:
            chunks[-1] = Chunk(chunks[-1].text, PARAGRAPH, pi)
    if chunks:
        chunks[-1] = Chunk(chunks[-1].text, NONE, chunks[-1].paragraph)
    return chunks


def has_words(text: str) -> bool:
    """True when ``text`` has at least one letter or digit (punctuation alone cannot be said)."""
    return any(unicodedata.category(c)[0] in "LN" for c in text)


# --- characters a voice cannot say -----------------------------------------------------------
#: Unicode script words (as they start character names) each language's voices read.
_SCRIPTS = {
    "ru": ("CYRILLIC",), "uk": ("CYRILLIC",), "bg": ("CYRILLIC",), "sr": ("CYRILLIC", "LATIN"), "kk": ("CYRILLIC",),
    "mk": ("CYRILLIC",), "be": ("CYRILLIC",), "mn": ("CYRILLIC",),
    "el": ("GREEK",), "ka": ("GEORGIAN",), "hy": ("ARMENIAN",), "he": ("HEBREW",), "ar": ("ARABIC",),
    "fa": ("ARABIC",), "ur": ("ARABIC",), "hi": ("DEVANAGARI",), "ne": ("DEVANAGARI",), "mr": ("DEVANAGARI",),
    "bn": ("BENGALI",), "ta": ("TAMIL",), "te": ("TELUGU",), "ml": ("MALAYALAM",), "th": ("THAI",),
    "zh": ("CJK",), "zh-cn": ("CJK",), "ja": ("CJK", "HIRAGANA", "KATAKANA"), "ko": ("HANGUL", "CJK"),
}


def _scripts_for(language: str) -> tuple[str, ...]:
    lang = (language or "en").lower().replace("_", "-")
    scripts = _SCRIPTS.get(lang) or _SCRIPTS.get(lang.split("-")[0]) or ("LATIN",)
    # Latin letters (names, brands) are said by nearly every espeak/BPE voice as well
    return scripts + ("LATIN",) if "LATIN" not in scripts else scripts


def _sayable(ch: str, scripts: tuple[str, ...], vocab: frozenset[str] | None) -> bool:
    if ch.isspace():
        return True
    if vocab is not None:
        return ch in vocab or ch.lower() in vocab
    cat = unicodedata.category(ch)
    if cat[0] in "PNZ" or cat in ("Sc", "Sm") or ch in "&@%#°":
        return True
    if cat[0] == "M":  # combining accents
        return True
    if cat[0] == "L":
        name = unicodedata.name(ch, "")
        return any(name.startswith(s) for s in scripts)
    return False  # emoji and other symbols, control characters


def unsayable(text: str, language: str = "en", vocab: Iterable[str] | None = None) -> list[str]:
    """The distinct characters of ``text`` a voice cannot say, in order of first appearance.

    ``vocab``: the model's own character set (character-based coqui models); otherwise the
    characters are judged by script for ``language``.
    """
    scripts = _scripts_for(language)
    allowed = frozenset(vocab) if vocab is not None else None
    seen: dict[str, None] = {}
    for ch in dict.fromkeys(text):  # each distinct character once, in order of first appearance
        if not _sayable(ch, scripts, allowed):
            seen[ch] = None
    if allowed is not None:  # punctuation the vocabulary lacks is harmless: the tokenizer skips it
        return [c for c in seen if unicodedata.category(c)[0] not in "PZ"]
    return list(seen)


def drop_characters(text: str, chars: Iterable[str]) -> str:
    drop = set(chars)
    if not drop:
        return text
    return "".join(" " if c in drop else c for c in text)


def describe_characters(chars: list[str], limit: int = 8) -> str:
    """``'😀' (GRINNING FACE), 'Ж' (CYRILLIC CAPITAL LETTER ZHE) …`` for a notice."""
    named = [_describe_character(c) for c in chars[:limit]]
    more = f" and {len(chars) - limit} more" if len(chars) > limit else ""
    return ", ".join(named) + more


def _describe_character(c: str) -> str:
    """``'😀' (GRINNING FACE)``; a control or other unprintable character by its code only (a BEL or
    an ESC echoed to a terminal would ring or rewrite it)."""
    code = "U+%04X" % ord(c)
    if not c.isprintable() or unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn"):
        return f"{code} ({unicodedata.name(c, 'a control character')})"
    return f"'{c}' ({unicodedata.name(c, code)})"
