"""Prompt weights in AUTOMATIC1111's syntax, encoded with compel (no Qt).

The syntax, read as A1111 reads it (:func:`parse_attention`):

* ``(word)`` multiplies the weight by 1.1, ``[word]`` divides it by 1.1, ``(word:1.3)`` multiplies by 1.3;
  brackets nest (``((word))`` = 1.21);
* ``\\(`` ``\\)`` ``\\[`` ``\\]`` ``\\\\`` are the characters themselves;
* ``BREAK`` (upper case, a word of its own) ends the current 75-token chunk: what follows starts a new one;
* unbalanced brackets are never an error: a ``)`` or ``]`` that closes nothing is text, and a ``(`` or
  ``[`` that is never closed weights everything after it (as A1111 does).

A prompt without weights, without ``BREAK`` and within 75 tokens is handed to the pipeline as plain text
(:func:`plain_text`), so it gives exactly the picture it gave before weights existed, and ``(word:1.0)``
gives exactly the picture of ``word``. Anything else is encoded by compel's ``EmbeddingsProvider`` from the
parsed (text, weight) fragments: longer prompts in chunks of 75 tokens (split at the last comma or full
stop before the limit, like A1111), each ``BREAK`` section padded to its own chunks; positive and negative
padded to the same length with empty chunks. SD 1.x/2.x use the last hidden state; SDXL the penultimate
hidden states of both encoders plus the second encoder's pooled output, as its pipeline does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROUND = 1.1  # what ( ) multiplies by
SQUARE = 1 / 1.1  # what [ ] multiplies by

_TOKENS = re.compile(
    r"""
    \\\(|\\\)|\\\[|\\]|\\\\|\\|   # escapes, and a lone backslash
    \(|\[|                        # openers
    :\s*([+-]?[.\d]+)\s*\)|       # an explicit weight closing a round bracket
    \)|]|                         # closers
    [^\\()\[\]:]+|                # plain text
    :
    """,
    re.X,
)
_BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)

#: a (text, weight) pair; a BREAK is (``BREAK_TEXT``, -1)
Fragment = tuple[str, float]
BREAK_TEXT = "BREAK"


def parse_attention(text: str) -> list[Fragment]:
    """A1111's reading of a prompt: (text, weight) fragments, consecutive equal weights merged, BREAK
    as ``("BREAK", -1)``. Never raises: whatever cannot be read as syntax is text."""
    res: list[list] = []
    round_open: list[int] = []
    square_open: list[int] = []

    def multiply(start: int, factor: float) -> None:
        for item in res[start:]:
            if item[1] >= 0:  # not a BREAK
                item[1] *= factor

    for m in _TOKENS.finditer(text):
        token, weight = m.group(0), m.group(1)
        if token.startswith("\\"):
            res.append([token[1:] if len(token) > 1 else "\\", 1.0])
        elif token == "(":
            round_open.append(len(res))
        elif token == "[":
            square_open.append(len(res))
        elif weight is not None and round_open:
            try:
                factor = float(weight)
            except ValueError:  # "(a:1.2.3)": not a number, so the whole thing is text
                res.append([token, 1.0])
                continue
            multiply(round_open.pop(), factor)
        elif token == ")" and round_open:
            multiply(round_open.pop(), ROUND)
        elif token == "]" and square_open:
            multiply(square_open.pop(), SQUARE)
        else:
            parts = _BREAK.split(token)
            for i, part in enumerate(parts):
                if i > 0:
                    res.append([BREAK_TEXT, -1.0])
                res.append([part, 1.0])
    for start in round_open:  # never closed: A1111 weights the rest
        multiply(start, ROUND)
    for start in square_open:
        multiply(start, SQUARE)
    if not res:
        return [("", 1.0)]
    merged: list[list] = []
    for item in res:
        if merged and merged[-1][1] == item[1] and item[1] >= 0:
            merged[-1][0] += item[0]
        else:
            merged.append(item)
    return [(t, float(w)) for t, w in merged if t or w < 0] or [("", 1.0)]


def sections(fragments: list[Fragment]) -> list[list[Fragment]]:
    """The fragments between BREAKs (each section starts a new chunk)."""
    out: list[list[Fragment]] = [[]]
    for text, weight in fragments:
        if weight < 0:
            out.append([])
        else:
            out[-1].append((text, weight))
    return [s or [("", 1.0)] for s in out]


def plain_text(prompt: str) -> str | None:
    """The prompt as plain text when it carries no weight other than 1 and no BREAK (escapes resolved:
    ``\\(`` becomes ``(``), else None."""
    fragments = parse_attention(prompt)
    if any(w != 1.0 for _, w in fragments):
        return None
    return "".join(t for t, _ in fragments)


@dataclass
class Conditioning:
    """What to hand the pipeline instead of its ``prompt`` / ``negative_prompt`` texts."""

    kwargs: dict
    weighted: bool  # False: the pipeline encodes plain texts itself


def _provider(pipe, family: str):
    import torch
    from compel.embeddings_provider import (
        EmbeddingsProvider,
        EmbeddingsProviderMulti,
        ReturnedEmbeddingsType,
        SplitLongTextMode,
    )

    from compel import DiffusersTextualInversionManager

    device = pipe._execution_device
    dtype = pipe.text_encoder.dtype if pipe.text_encoder is not None else torch.float32
    common = dict(
        textual_inversion_manager=DiffusersTextualInversionManager(pipe),
        dtype_for_device_getter=lambda _device: dtype,
        truncate=False,
        split_long_text_mode=SplitLongTextMode.PHRASES,
    )
    if family == "sdxl":
        provider = EmbeddingsProviderMulti(
            tokenizers=[pipe.tokenizer, pipe.tokenizer_2],
            text_encoders=[pipe.text_encoder, pipe.text_encoder_2],
            returned_embeddings_type=ReturnedEmbeddingsType.PENULTIMATE_HIDDEN_STATES_NON_NORMALIZED,
            requires_pooled_mask=[False, True],
            **common,
        )
    else:
        provider = EmbeddingsProvider(
            pipe.tokenizer,
            pipe.text_encoder,
            returned_embeddings_type=ReturnedEmbeddingsType.LAST_HIDDEN_STATES_NORMALIZED,
            **common,
        )
    return provider, device


def _encode(provider, fragments: list[Fragment], device):
    """Embeddings of one prompt: each BREAK section in its own chunks, concatenated."""
    import torch

    parts = []
    for section in sections(fragments):
        texts = [t for t, _ in section]
        weights = [w for _, w in section]
        parts.append(provider.get_embeddings_for_weighted_prompt_fragments([texts], [weights], device=device))
    return torch.cat(parts, dim=1)


def _pad_to(embeds, length: int, empty):
    import torch

    while embeds.shape[1] < length:
        embeds = torch.cat([embeds, empty], dim=1)
    return embeds


def token_count(pipe, text: str) -> int:
    """Tokens of ``text`` (without start/end markers), textual-inversion names expanded."""
    tokenizer = pipe.tokenizer
    if hasattr(pipe, "maybe_convert_prompt"):
        text = pipe.maybe_convert_prompt(text, tokenizer)
    return len(tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])


def conditioning(pipe, family: str, prompt: str, negative: str | None) -> Conditioning:
    """The pipeline inputs for ``prompt`` / ``negative`` (see the module doc)."""
    from ..models import families

    if family == "flux":  # distilled guidance: a negative prompt would need "true CFG" (and Fill takes none)
        return Conditioning({"prompt": prompt}, weighted=False)
    if families.is_flow(family) or getattr(pipe, "tokenizer", None) is None:  # SD 3.x: T5 prompts as written
        return Conditioning({"prompt": prompt, "negative_prompt": negative}, weighted=False)
    negative = negative or ""
    limit = pipe.tokenizer.model_max_length - 2
    plain = [plain_text(prompt), plain_text(negative)]
    if all(p is not None and token_count(pipe, p) <= limit for p in plain):
        return Conditioning({"prompt": plain[0], "negative_prompt": plain[1] or None}, weighted=False)
    import torch

    provider, device = _provider(pipe, family)
    with torch.no_grad():
        positive = _encode(provider, parse_attention(prompt), device)
        negative_embeds = _encode(provider, parse_attention(negative), device)
        empty = _encode(provider, [("", 1.0)], device)
        length = max(positive.shape[1], negative_embeds.shape[1])
        positive = _pad_to(positive, length, empty)
        negative_embeds = _pad_to(negative_embeds, length, empty)
        kwargs = {"prompt_embeds": positive, "negative_prompt_embeds": negative_embeds}
        if family == "sdxl":
            kwargs["pooled_prompt_embeds"] = provider.get_pooled_embeddings([_joined(prompt)], device=device)
            if not negative.strip() and getattr(pipe.config, "force_zeros_for_empty_prompt", False):
                kwargs["negative_prompt_embeds"] = torch.zeros_like(positive)
                kwargs["negative_pooled_prompt_embeds"] = torch.zeros_like(kwargs["pooled_prompt_embeds"])
            else:
                kwargs["negative_pooled_prompt_embeds"] = provider.get_pooled_embeddings(
                    [_joined(negative)], device=device
                )
    return Conditioning(kwargs, weighted=True)


def _joined(prompt: str) -> str:
    """The prompt's words without syntax (what the pooled embedding of SDXL sees)."""
    return " ".join(t for t, w in parse_attention(prompt) if w >= 0)
