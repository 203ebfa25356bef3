"""File writes that never leave a half-written file and never replace what they should not.

A regular file (or a new one) is written to a temp file in the same folder, fsynced, then renamed
over the target, so readers see either the old file or the whole new one. A symlink is followed and
its target written. A FIFO or a character device (``/dev/null``, ``/dev/stdout``, a named pipe) is
written through, as Unix tools do: renaming over it would replace the device. A folder or any other
kind of file is refused with :class:`UnwritableTarget`. New files get the usual permissions
(0666 minus the umask); a replaced file keeps its mode.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..errors import InvalidRequest


class UnwritableTarget(InvalidRequest):
    """The chosen output path cannot be written (a folder, a socket, a path under a file …)."""


def target_kind(path: str | os.PathLike) -> tuple[str, Path]:
    """('new' | 'file' | 'stream', where to write) for ``path``, symlinks followed.

    'stream' means write through (FIFO, character device); raises :class:`UnwritableTarget` for a
    folder or another kind of special file.
    """
    if not os.fspath(path):
        raise UnwritableTarget("The output path is empty: give a file name.")
    path = Path(path)
    try:
        st = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        return "new", Path(os.path.realpath(path))  # a dangling symlink: create its target
    except NotADirectoryError:
        raise UnwritableTarget(f"'{path}' cannot be created: a part of that path is a file, not a folder.") from None
    except OSError as exc:
        raise UnwritableTarget(f"'{path}' cannot be used as output ({exc.strerror or exc}).") from None
    if stat.S_ISREG(st.st_mode):
        return "file", Path(os.path.realpath(path))
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
        return "stream", path  # open() follows the link itself (/dev/stdout → /proc/self/fd/1 → pipe)
    if stat.S_ISDIR(st.st_mode):
        raise UnwritableTarget(f"'{path}' is a folder: give a file name inside it.")
    raise UnwritableTarget(f"'{path}' is not a regular file (a socket or block device); choose a file name.")


def temp_file_in(folder: Path, name: str) -> tuple[int, Path]:
    """A new, exclusive temp file next to the target; 0666 & ~umask like any new file."""
    for _ in range(100):
        tmp = folder / f".{name[:80]}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temp file name in {folder}")


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(f)`` on a temp file next to ``path``, then move it into place (see the module doc).

    Returns the path written (the symlink's target for a symlink). Any failure or interruption
    (KeyboardInterrupt, SIGTERM turned into one) removes the temp file; only a hard kill can leave a
    stray ``.tmp`` file behind. An ``OSError`` (a full or read-only disk …) names ``path``, not the
    temp file, so the message a person sees says which output failed.
    """
    try:
        return _atomic_write(path, write)
    except OSError as exc:
        if exc.filename is None or ".tmp" in os.fsdecode(exc.filename):
            exc.filename = os.fspath(path)
        raise


def _atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    kind, target = target_kind(path)
    if kind == "stream":
        with open(os.open(target, os.O_WRONLY | getattr(os, "O_NOCTTY", 0)), "wb") as f:
            write(f)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file_in(target.parent, target.name)
    try:
        with os.fdopen(fd, "wb") as f:
            if kind == "file":
                os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))  # a replaced file keeps its mode
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))
