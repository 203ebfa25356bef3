"""Where an output may go, checked before anything is loaded or generated.

``--out`` of ``studio generate text|image``, the Image tab's "Save as…" and the Text tab's exports
all go through :func:`check_output` first and :func:`~studio.library.atomic.atomic_write` after:

* ``""`` is refused; a symlink counts as its target; a FIFO or a character device (``/dev/null``,
  ``/dev/stdout``) is written through; a folder, a socket or a path under a regular file is refused;
* a new file must be creatable in the nearest existing folder (probed with a real temp file, which
  also catches read-only mounts and ``/proc``), so the message comes before any work;
* the extension names the format, from the list each command supports; others are refused with it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .atomic import UnwritableTarget, target_kind, temp_file_in

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
AUDIO_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}  # a device or FIFO without one gets WAV
TEXT_FORMATS = {"": "text", ".txt": "text", ".text": "text", ".md": "text", ".markdown": "text", ".json": "json"}
MAX_OUTPUTS = 10_000  # more file names than any batch can make


@dataclass(frozen=True)
class OutputTarget:
    path: Path  # as given (printed back to the person)
    format: str  # a value of the formats table: 'PNG', 'JPEG', 'WEBP', 'WAV', 'FLAC', 'OGG', 'text', 'json'
    stream: bool = False  # written through (a FIFO or a character device), not replaced

    @property
    def suffix(self) -> str:
        """The suffix of the format written (``.wav`` for a device named without one)."""
        return "." + self.format.lower() if self.format in AUDIO_FORMATS.values() else self.path.suffix.lower()


def _format_list(formats: dict[str, str]) -> str:
    return ", ".join(s for s in formats if s) + (" or no extension" if "" in formats else "")


def check_output(path: str | os.PathLike, formats: dict[str, str], *, flag: str = "--out") -> OutputTarget:
    """The checked target for ``path`` (see the module doc); :class:`UnwritableTarget` says why not."""
    text = os.fspath(path)
    if not text.strip():
        raise UnwritableTarget(f"{flag} is empty: give a file name.")
    kind, real = target_kind(text)
    suffix = Path(text).suffix.lower()
    fmt = formats.get(suffix)
    if kind == "stream":
        return OutputTarget(Path(text), fmt or next(iter(formats.values())), stream=True)
    if fmt is None:
        shown = f"'{suffix}' files" if suffix else "files without an extension"
        raise UnwritableTarget(f"{flag} '{text}': Studio cannot write {shown}; use {_format_list(formats)}.")
    check_folder(real.parent)
    return OutputTarget(Path(text), fmt)


def check_folder(folder: Path) -> None:
    """The nearest existing folder of ``folder`` must accept a new file (it is probed, then cleaned)."""
    probe = Path(folder)
    while True:
        try:
            st = os.stat(probe)
            break
        except FileNotFoundError:
            if probe.parent == probe:
                raise UnwritableTarget(f"'{folder}' cannot be created.") from None
            probe = probe.parent
        except OSError as exc:  # ENOTDIR, ENAMETOOLONG, ELOOP …
            raise UnwritableTarget(f"'{folder}' cannot be used as a folder ({exc.strerror or exc}).") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UnwritableTarget(f"'{probe}' is a file, not a folder: it cannot hold '{folder.name or folder}'.")
    try:
        fd, tmp = temp_file_in(probe, "studio-check")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise UnwritableTarget(f"Cannot write files in '{probe}' ({exc.strerror or exc}).") from None
    check_free_space(probe)


#: a disk with less room than this is full for any result (the 0-byte probe above passes on it)
MIN_FREE_BYTES = 1024 * 1024


def check_free_space(folder: Path, need: int = MIN_FREE_BYTES) -> None:
    """Refuse a folder whose disk has less than ``need`` bytes free, before any work. Only a floor:
    a result larger than what is left still fails when written, and is then kept in the library."""
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs (Windows) or a file system that does not say
        return
    free = st.f_bavail * st.f_frsize
    if st.f_blocks and free < need:
        raise UnwritableTarget(
            f"The disk holding '{folder}' is full ({free:,} bytes free): free some space or choose a folder on "
            "another disk."
        )


def numbered_paths(path: Path, count: int) -> list[Path]:
    """``[path]`` for one output, ``NAME-0.ext``, ``NAME-1.ext`` … for more (at most :data:`MAX_OUTPUTS`)."""
    if count <= 1:
        return [Path(path)]
    if count > MAX_OUTPUTS:
        raise UnwritableTarget(f"{count:,} outputs is more than Studio writes at once ({MAX_OUTPUTS:,}).")
    path = Path(path)
    return [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(count)]


def numbered_targets(target: OutputTarget, count: int) -> list[OutputTarget]:
    """The checked targets of ``count`` outputs for one ``--out`` (see :func:`numbered_paths`);
    a stream takes only one."""
    if count <= 1:
        return [target]
    if target.stream:
        raise UnwritableTarget(
            f"'{target.path}' is not a regular file and takes one output; for {count} give a file name "
            f"(NAME-0, NAME-1 … are written)."
        )
    return [check_output(p, {p.suffix.lower(): target.format}) for p in numbered_paths(target.path, count)]
