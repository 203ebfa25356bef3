"""PNG-info reader benchmark: time and peak memory on the hostile files of issue 11 (one long A1111
line, a zTXt bomb of 200 chunks, many chunks). It prints, it does not assert; the tests check the
bounds by the work done (tests/test_png_info.py).

    python benchmarks/bench_png_info.py
"""

from __future__ import annotations

import resource
import struct
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.library.metadata import parse_a1111  # noqa: E402
from studio.library.png_info import scan_png  # noqa: E402

SIG = b"\x89PNG\r\n\x1a\n"


def chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)


def timed(label: str, fn) -> None:
    t = time.perf_counter()
    result = fn()
    print(f"{label:<48} {time.perf_counter() - t:8.3f} s   {result}")


def main() -> None:
    for n in (40_000, 300_000, 3_000_000):
        line = "prompt\n" + "a, " * (n // 3) + "Steps: 3"
        timed(f"A1111 parameters, one {n:,}-character line", lambda line=line: len(parse_a1111(line)))
        quoted = 'prompt\nk: "' + "\\a" * (n // 2)
        timed(f"A1111, an unterminated quote of {n:,} characters", lambda q=quoted: len(parse_a1111(q)))
    bomb = zlib.compress(b"a" * (16 * 2**20), 9)
    data = SIG + b"".join(chunk(b"zTXt", b"parameters\0\0" + bomb) for _ in range(200)) + chunk(b"IEND", b"")
    timed(f"200 zTXt chunks of 16 MB each ({len(data) / 2**20:.1f} MB file)",
          lambda: f"inflated {scan_png(data).bytes_inflated / 2**20:.1f} MB")
    many = SIG + chunk(b"tIME", b"1234567") * 200_000 + chunk(b"IEND", b"")
    timed("200,000 small chunks", lambda: f"walked {scan_png(many).chunks:,} chunks")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
