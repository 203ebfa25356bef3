"""The PNG-info reader on hostile files, bounded by the work it does (chunks walked, bytes inflated,
characters scanned) rather than by the clock; plus ``studio info`` on real files."""

from __future__ import annotations

import json
import os
import struct
import zlib

import pytest
from PIL import Image

from studio.cli import main
from studio.library import png_info
from studio.library.metadata import a1111_settings, parse_a1111, png_bytes
from studio.library.png_info import MAX_CHUNKS, MAX_TEXT_BYTES, scan_png

SIG = b"\x89PNG\r\n\x1a\n"


def chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)


def base_png() -> bytes:
    return png_bytes(Image.new("RGB", (8, 8)), {"prompt": "ours", "seed": 3, "kind": "image"})


def with_chunks(*chunks: bytes) -> bytes:
    data = base_png()
    return data[:-12] + b"".join(chunks) + data[-12:]  # before IEND


class CountingStr(str):
    """A str that counts the characters its find/rfind calls look at."""

    scanned = 0

    def find(self, sub, start=0, end=None):
        found = super().find(sub, start, end)
        CountingStr.scanned += (found + len(sub) if found >= 0 else len(self) if end is None else end) - start
        return found

    def rfind(self, sub, start=0, end=None):
        found = super().rfind(sub, start, end)
        CountingStr.scanned += (len(self) if end is None else end) - max(found, start)
        return found


@pytest.mark.parametrize(
    "line",
    [
        "a" * 300_000,  # no colon at all
        "a, " * 100_000 + "Steps: 3",  # many commas before one colon
        "k: " + '"' + "\\a" * 150_000,  # an unterminated quote full of escapes
        "k: " + '"' + "\\a" * 100_000 + '", Steps: 3',
        ("Steps: 3, " * 30_000),
        ": ," * 100_000,
    ],
)
def test_the_a1111_settings_scanner_is_linear(line):
    CountingStr.scanned = 0
    pairs = a1111_settings(CountingStr(line))
    assert CountingStr.scanned <= 4 * len(line) + 100  # each character looked at a bounded number of times
    assert isinstance(pairs, list)


def test_a1111_parsing_is_unchanged_for_real_texts():
    text = (
        'a castle, "quoted"\nNegative prompt: blurry\nSteps: 12, Sampler: DPM++ 2M, Schedule type: Karras, '
        'CFG scale: 5.5, Seed: 42, Size: 640x448, Lora hashes: "a: 1, b: 2", Model: sd15, Version: v1'
    )
    assert parse_a1111(text) == {
        "prompt": 'a castle, "quoted"', "negative_prompt": "blurry", "num_inference_steps": 12,
        "guidance_scale": 5.5, "scheduler": "DPM++ 2M Karras", "seed": 42, "width": 640, "height": 448,
        "model": "sd15",
    }
    assert dict(a1111_settings('A: 1, B: "x, \\"y\\"", C: z'))["B"] == '"x, \\"y\\""'


def test_only_wanted_keys_are_inflated_once_within_the_caps(tmp_path):
    bomb = zlib.compress(b"a" * (16 * 2**20), 9)  # 16 MB of text in ~16 KB, reused for every chunk
    hostile = with_chunks(
        *[chunk(b"zTXt", f"junk{i}".encode() + b"\0\0" + bomb) for i in range(200)],  # keys Studio never reads
        *[chunk(b"zTXt", b"parameters\0\0" + bomb) for _ in range(50)],  # a wanted key, over the cap, repeated
        *[chunk(b"iTXt", b"workflow\0\1\0\0\0" + bomb) for _ in range(50)],
    )
    path = tmp_path / "bomb.png"
    path.write_bytes(hostile)
    scan = scan_png(path)
    # our own chunks are read; later 'parameters' copies are skipped unread, 'workflow' inflates once
    # up to the cap and is dropped; the junk keys are never inflated
    assert scan.texts.keys() == {"studio", "parameters"} and scan.complete
    assert 0 < scan.bytes_inflated <= MAX_TEXT_BYTES + 1
    assert png_info.read_png_parameters(path) == {"prompt": "ours", "seed": 3}


def test_a_total_cap_holds_across_wanted_keys(monkeypatch):
    monkeypatch.setattr(png_info, "MAX_TOTAL_TEXT_BYTES", 1000)
    small = zlib.compress(b'{"k": "' + b"x" * 700 + b'"}')
    scan = scan_png(SIG + chunk(b"zTXt", b"prompt\0\0" + small) + chunk(b"zTXt", b"workflow\0\0" + small))
    assert "prompt" in scan.texts and "workflow" not in scan.texts and scan.bytes_inflated <= 1001


def test_chunk_count_truncation_and_garbage_are_bounded(tmp_path):
    many = SIG + chunk(b"tIME", b"1234567") * (MAX_CHUNKS + 50) + chunk(b"IEND", b"")
    scan = scan_png(many)
    assert scan.chunks == MAX_CHUNKS and not scan.complete
    good = base_png()
    for cut in (9, 20, 33, len(good) // 2, len(good) - 5):
        assert isinstance(png_info.read_png_parameters(good[:cut]), dict)
    huge_length = SIG + struct.pack(">I", 2**31) + b"tEXt" + b"parameters\0" + b"x" * 10
    assert scan_png(huge_length).texts == {} and scan_png(huge_length).bytes_read < 100
    os.mkfifo(tmp_path / "fifo")
    assert scan_png(tmp_path / "fifo").is_png is False  # returns at once instead of blocking
    assert scan_png(tmp_path).is_png is False and scan_png("").is_png is False
    assert scan_png(tmp_path / "missing.png").is_png is False


def test_studio_info_prints_and_emits_json(tmp_path, capsys):
    ours = tmp_path / "ours.png"
    ours.write_bytes(png_bytes(Image.new("RGB", (8, 8)), {"prompt": "a fox", "seed": 11, "num_inference_steps": 4,
                                                             "kind": "image"}))
    a1111 = tmp_path / "a1111.png"
    a1111.write_bytes(SIG + chunk(b"tEXt", b"parameters\0a tree\nSteps: 5, Sampler: Euler, Seed: 9, Size: 64x64")
                      + chunk(b"IEND", b""))
    assert main(["info", str(ours)]) == 0
    out = capsys.readouterr().out
    assert "Studio settings" in out and "Prompt: a fox" in out and "Seed: 11" in out
    assert main(["info", str(ours), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == "studio" and data["settings"]["seed"] == 11 and data["studio"]["prompt"] == "a fox"
    assert main(["info", str(a1111), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == "a1111" and data["settings"]["prompt"] == "a tree" and "studio" not in data
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    assert main(["info", str(plain)]) == 0 and "no generation settings" in capsys.readouterr().out
