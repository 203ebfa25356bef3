"""Files a person names as input (an init image, a LoRA, a PNG to read, a text file), checked
before any work: one line that says what is wrong, never a hang on a FIFO or a raw OSError."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import InvalidRequest


class UnusableInput(InvalidRequest):
    """An input path names nothing, a folder, a special file, or a file that cannot be read."""


def check_input_file(path: str | os.PathLike, what: str, *, max_bytes: int | None = None) -> Path:
    """``path`` (``~`` expanded) when it is a readable regular file of at most ``max_bytes``."""
    text = os.fspath(path)
    if not text.strip():
        raise UnusableInput(f"The {what} path is empty: give a file.")
    p = Path(text).expanduser()
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        raise UnusableInput(f"No {what} at '{text}'.") from None
    except OSError as exc:
        raise UnusableInput(f"Cannot read the {what} '{text}' ({exc.strerror or exc}).") from None
    if stat.S_ISDIR(st.st_mode):
        raise UnusableInput(f"'{text}' is a folder, not a {what} file.")
    if not stat.S_ISREG(st.st_mode):
        raise UnusableInput(f"'{text}' is not a regular file (a pipe, socket or device): give the {what} as a file.")
    if max_bytes is not None and st.st_size > max_bytes:
        raise UnusableInput(f"The {what} '{text}' is too large ({st.st_size:,} bytes; at most {max_bytes:,}).")
    try:
        with open(p, "rb"):
            pass
    except OSError as exc:
        raise UnusableInput(f"Cannot read the {what} '{text}' ({exc.strerror or exc}).") from None
    return p


def read_utf8_file(path: str | os.PathLike, what: str, *, max_bytes: int) -> str:
    """The text of a UTF-8 file (a prompt file …), or one line saying why it cannot be used."""
    p = check_input_file(path, what, max_bytes=max_bytes)
    data = p.read_bytes()[: max_bytes + 1]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnusableInput(
            f"The {what} '{path}' is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8."
        ) from None
