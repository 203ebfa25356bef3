"""Reading a PNG's generation settings ("PNG info"), bounded in time and memory on any file.

The input is untrusted. The chunks are walked without decoding the image, and only the text keys
Studio understands are read (:data:`WANTED_KEYS`: our ``studio`` JSON, AUTOMATIC1111's
``parameters``, ComfyUI's ``prompt`` and ``workflow``), each once. What is read is capped: chunks
walked (:data:`MAX_CHUNKS`), raw bytes per text chunk (:data:`MAX_CHUNK_BYTES`), inflated bytes per
chunk and in total (:data:`MAX_TEXT_BYTES`, :data:`MAX_TOTAL_TEXT_BYTES`); every parser is linear in
its input. :func:`scan_png` reports the work done (:class:`PngScan`), so tests measure the bounds.
Garbage, truncated files, special files, wrong types or absurd values give ``{}`` or a partial
dict, never an exception.
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .metadata import comfy_api, comfy_workflow, normalize, parse_a1111

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WANTED_KEYS = ("studio", "parameters", "prompt", "workflow")
MAX_CHUNKS = 100_000  # chunk headers walked (large images split IDAT into many chunks)
MAX_CHUNK_BYTES = 8 * 1024 * 1024  # raw bytes of one wanted text chunk
MAX_TEXT_BYTES = 8 * 1024 * 1024  # one chunk, once inflated
MAX_TOTAL_TEXT_BYTES = 16 * 1024 * 1024  # all chunks together, once inflated
_KEY_BYTES = 80  # PNG keywords are 1-79 bytes, then a NUL

Source = str | os.PathLike | bytes | bytearray | memoryview


@dataclass
class PngScan:
    """What :func:`scan_png` found, and how much work it took."""

    texts: dict[str, str] = field(default_factory=dict)  # wanted key → text
    is_png: bool = False
    chunks: int = 0  # chunk headers read
    bytes_read: int = 0  # bytes read from the file (seeks over skipped data not counted)
    bytes_inflated: int = 0  # bytes produced by decompression, all chunks together
    complete: bool = False  # reached IEND (False: truncated, or a cap stopped the walk)


def _inflate(data: bytes, scan: PngScan) -> bytes | None:
    """``data`` inflated, or None when corrupt or larger than what the caps leave (no more than that
    plus one byte is ever produced; the work is added to ``scan.bytes_inflated``)."""
    budget = max(0, min(MAX_TEXT_BYTES, MAX_TOTAL_TEXT_BYTES - scan.bytes_inflated))
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, budget + 1)
    except zlib.error:
        return None
    scan.bytes_inflated += len(out)
    return out if len(out) <= budget and not d.unconsumed_tail else None


def _text_value(ctype: bytes, body: bytes, scan: PngScan) -> str | None:
    """The text of a tEXt/zTXt/iTXt chunk body (after its keyword and NUL)."""
    if ctype == b"tEXt":
        return body.decode("latin-1")
    if ctype == b"zTXt":
        value = _inflate(body[1:], scan) if body[:1] == b"\0" else None
        return value.decode("latin-1") if value is not None else None
    if len(body) < 2:  # iTXt: compressed flag, method, language\0, translated keyword\0, text
        return None
    compressed, method, rest = body[0], body[1], body[2:]
    _lang, _, rest = rest.partition(b"\0")
    _translated, _, value = rest.partition(b"\0")
    if compressed:
        inflated = _inflate(value, scan) if method == 0 else None
        if inflated is None:
            return None
        value = inflated
    return value.decode("utf-8", errors="replace")


def _open(source: Source):
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    path = os.fspath(source)
    if not path or not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block, a folder fails
        return None
    return open(path, "rb")  # noqa: SIM115 - the caller closes it


def scan_png(source: Source, keys: tuple[str, ...] = WANTED_KEYS) -> PngScan:
    """The texts under ``keys`` (the first chunk of each key is the only one read), within the caps;
    never raises."""
    scan = PngScan()
    try:
        stream = _open(source)
    except (OSError, TypeError, ValueError):
        return scan
    if stream is None:
        return scan
    wanted = {k.encode("latin-1") for k in keys}
    try:
        with stream:
            scan.is_png = stream.read(8) == PNG_SIGNATURE
            scan.bytes_read = 8
            while scan.is_png and scan.chunks < MAX_CHUNKS:
                head = stream.read(8)
                scan.bytes_read += len(head)
                if len(head) < 8:
                    return scan
                scan.chunks += 1
                length, ctype = struct.unpack(">I4s", head)
                if ctype == b"IEND":
                    scan.complete = True
                    return scan
                skip = length + 4  # data and CRC
                if ctype in (b"tEXt", b"zTXt", b"iTXt"):
                    start = stream.read(min(length, _KEY_BYTES))
                    scan.bytes_read += len(start)
                    skip -= len(start)
                    key, nul, rest = start.partition(b"\0")
                    if nul and key in wanted and length <= MAX_CHUNK_BYTES:
                        wanted.discard(key)  # the first chunk of a key is the only one read, usable or not
                        more = stream.read(length - len(start))
                        scan.bytes_read += len(more)
                        if len(more) < length - len(start):
                            return scan  # truncated
                        skip -= len(more)
                        value = _text_value(ctype, rest + more, scan)
                        if value is not None:
                            scan.texts[key.decode("latin-1")] = value
                stream.seek(skip, io.SEEK_CUR)
    except (OSError, ValueError, struct.error, MemoryError):
        pass
    return scan


def png_text_chunks(source: Source) -> dict[str, str]:
    """The text chunks Studio understands (see :data:`WANTED_KEYS`); {} when not a PNG."""
    return scan_png(source).texts


def _json(text: str | None) -> Any:
    if not isinstance(text, str) or len(text) > MAX_TEXT_BYTES:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def settings_from_texts(texts: dict[str, str]) -> tuple[str, dict]:
    """(where the settings came from: 'studio' | 'a1111' | 'comfyui' | '', normalised request fields)."""
    try:
        ours = _json(texts.get("studio"))
        if isinstance(ours, dict) and (found := normalize(ours)):
            return "studio", found
        if "parameters" in texts and (found := parse_a1111(texts["parameters"])):
            return "a1111", found
        api = _json(texts.get("prompt"))
        if isinstance(api, dict) and (found := comfy_api(api)):
            return "comfyui", found
        workflow = _json(texts.get("workflow"))
        if isinstance(workflow, dict) and (found := comfy_workflow(workflow)):
            return "comfyui", found
    except Exception:  # untrusted input: a bug in a parser must not take the app down
        return "", {}
    return "", {}


def read_png_parameters(source: Source) -> dict:
    """Normalised request fields (prompt, negative_prompt, num_inference_steps, guidance_scale, scheduler,
    seed, width, height, model, strength) from a PNG's metadata: ours, A1111's or ComfyUI's. Never raises."""
    return settings_from_texts(png_text_chunks(source))[1]


def studio_json(texts: dict[str, str]) -> dict:
    """Our full ``studio`` JSON from the texts of :func:`scan_png` (every parameter as saved), or {}."""
    data = _json(texts.get("studio"))
    return data if isinstance(data, dict) else {}


def read_png_json(source: Source) -> dict:
    """Our full ``studio`` JSON (every parameter as saved), or {}."""
    return studio_json(scan_png(source, ("studio",)).texts)
