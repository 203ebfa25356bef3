"""What is in the Hugging Face cache, read straight from its folder layout (no network, no
huggingface_hub import: this runs on the UI thread): a repo's folder, its finished snapshot, and
every model repo with its size on disk.

``models--org--name/refs/main`` names the snapshot commit; ``snapshots/<commit>`` holds the files
(links into ``blobs``). Studio's downloader writes ``refs/main`` only once every file is in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..paths import hf_cache_dir
from .sniff import WEIGHT_SUFFIXES as SNIFFED_WEIGHTS


def repo_folder(repo_id: str, cache_dir: Path | None = None) -> Path:
    """``models--org--name`` inside the hub cache (the layout huggingface_hub uses)."""
    return (cache_dir or hf_cache_dir()) / ("models--" + repo_id.replace("/", "--"))


#: files that hold a model's weights (a snapshot without one is not a downloaded model): those Studio
#: reads, and coqui's older ``.pth.tar`` checkpoints
WEIGHT_SUFFIXES = (*SNIFFED_WEIGHTS, ".pth.tar")


def _snapshot_of(folder: Path, revision: str = "main") -> Path | None:
    try:
        commit = (folder / "refs" / revision).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    snapshot = folder / "snapshots" / commit
    try:
        # weights make a download: a snapshot with only config.json (a fetch cut short by another tool,
        # a config-only look-up) is not a model yet, and is not listed as downloaded
        if commit and snapshot.is_dir() and any(f.name.lower().endswith(WEIGHT_SUFFIXES) for f in snapshot.rglob("*")):
            return snapshot
    except OSError:
        pass
    return None


def hub_snapshot(repo_id: str) -> Path | None:
    """The local snapshot folder of a hub repo already in the Hugging Face cache, or None.

    Read straight from the cache layout (``refs/main`` → ``snapshots/<commit>``): no network, no
    huggingface_hub import (this runs on the UI thread). Studio's downloader writes ``refs/main``
    only once every file is in place, so an interrupted download is not taken for a finished one.
    A snapshot fetched by other tools with ``allow_patterns`` counts as downloaded (huggingface_hub's
    own ``local_files_only`` look-up refuses those as "incomplete" because files outside the
    patterns are missing).
    """
    return _snapshot_of(repo_folder(repo_id))


@dataclass(frozen=True)
class CachedRepo:
    """A model repo found in the Hugging Face cache."""

    repo_id: str
    folder: Path  # models--org--name
    snapshot: Path | None  # the snapshot ``refs/main`` points to; None = no finished download
    size_bytes: int  # bytes on disk (blobs, partial downloads included)
    partial_bytes: int = 0  # bytes of unfinished downloads (``*.incomplete``)

    @property
    def complete(self) -> bool:
        return self.snapshot is not None


def scan_hub_cache(cache_dir: Path | None = None) -> dict[str, CachedRepo]:
    """Every model repo in the hub cache, by repo id (no network, no huggingface_hub import)."""
    root = cache_dir or hf_cache_dir()
    found: dict[str, CachedRepo] = {}
    try:
        folders = sorted(p for p in root.iterdir() if p.name.startswith("models--") and p.is_dir())
    except OSError:
        return found
    for folder in folders:
        repo_id = folder.name[len("models--") :].replace("--", "/")
        size = partial = 0
        try:
            for blob in (folder / "blobs").iterdir():
                try:
                    n = blob.stat().st_size
                except OSError:
                    continue
                size += n
                if blob.name.endswith(".incomplete"):
                    partial += n
        except OSError:
            pass
        snapshot = _snapshot_of(folder)
        if size == 0 and snapshot is not None:  # no blobs: files copied into the snapshot (no symlinks)
            size = sum(f.stat().st_size for f in snapshot.rglob("*") if f.is_file())
        found[repo_id] = CachedRepo(repo_id, folder, snapshot, size, partial)
    return found


def cache_fingerprint(root: Path) -> tuple:
    """Cheap signature of the cache (a few stat calls per repo) that changes when a download
    finishes, a blob lands or a repo is deleted — so scans are reused until something changed."""

    def mtime(p: Path) -> int:
        try:
            return p.stat().st_mtime_ns
        except OSError:
            return -1

    try:
        folders = sorted(p for p in root.iterdir() if p.name.startswith("models--"))
    except OSError:
        return (str(root), -1)
    return (
        str(root),
        mtime(root),
        tuple(
            (f.name, mtime(f / "refs"), mtime(f / "refs" / "main"), mtime(f / "blobs"), mtime(f / "snapshots"))
            for f in folders
        ),
    )
