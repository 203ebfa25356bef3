"""Downloads from the Hugging Face hub into its standard cache, with byte progress, cancel and resume.

No Qt. :func:`download` runs in whatever thread calls it (the GUI's DownloadManager gives each
download its own thread; the CLI runs it in the main thread with a progress bar on stderr:
:func:`cli_download`). :func:`cached_repos` and :func:`delete_model` manage what is on disk.

Why not ``snapshot_download``: since huggingface_hub 1.x every file goes to a process-unique
temporary file that is *deleted* when the download fails or is interrupted, so nothing can resume,
and its ``tqdm_class`` only sees an aggregate without file names. So this module asks the hub for
the file list (``model_info(files_metadata=True)``: sizes up front, hence a true byte total),
chooses the files (safetensors, never pickles unless asked for by name), checks the disk space,
and has :func:`studio.models.hub_transfer.fetch_file` stream each missing file into
``blobs/<etag>`` (resumable) and link ``snapshots/<commit>/<file>`` to it, which is the cache
layout huggingface_hub, transformers and diffusers read. ``refs/main`` is written last, so a
half-finished download never looks finished (:func:`studio.models.hub_cache.hub_snapshot`).

Offline is an argument (``offline``: the configuration's switch, :class:`studio.config.Config`),
never read from the environment here. Offline, nothing touches the network: a model that is not on
disk raises :class:`~studio.errors.NotDownloaded`.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import Cancelled, ModelNotFound, NotDownloaded, StudioError, UnsafeModelFile
from .catalog import Catalog, ModelEntry, hf_cache_dir, human_size
from .hub_cache import hub_snapshot, repo_folder, scan_hub_cache
from .hub_transfer import (
    ByteProgress,
    CancelFlag,
    DownloadFailed,
    ProgressFn,
    check_cancel,
    explain_hub_error,
    fetch_file,
)
from .formats import PICKLE_SUFFIXES

# What a hub id without a catalog entry downloads: configs, tokenizers and safetensors weights.
# Pickled checkpoints (.bin/.ckpt/.pt/.pth) can run code when loaded: only when asked for by name.
DEFAULT_ALLOW_PATTERNS: tuple[str, ...] = ("*.json", "*.txt", "*.model", "*.jinja", "*.tiktoken", "*.safetensors")
PICKLE_PATTERNS: tuple[str, ...] = tuple(f"*{s}" for s in PICKLE_SUFFIXES) + ("*.pkl", "*.pickle", "*.msgpack", "*.h5")

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def hub_endpoint() -> str | None:
    """``HF_ENDPOINT`` read at call time (huggingface_hub freezes it at import)."""
    return (os.environ.get("HF_ENDPOINT") or "").rstrip("/") or None


# ---------------------------------------------------------------------------------------------
# download
# ---------------------------------------------------------------------------------------------
def download(
    repo_id: str,
    allow_patterns: Sequence[str] | str | None = None,
    *,
    progress: ProgressFn | None = None,
    cancel: CancelFlag | None = None,
    offline: bool = False,
    revision: str = "main",
    token: str | bool | None = None,
) -> Path:
    """Download ``repo_id`` (the files matching ``allow_patterns``) into the hub cache; returns the
    snapshot folder.

    ``allow_patterns``: glob patterns (``*.safetensors``); None = :data:`DEFAULT_ALLOW_PATTERNS`
    (safetensors only, never pickles). ``progress(done_bytes, total_bytes, filename)`` is called
    from this thread after every received chunk. ``cancel.cancelled`` is checked between chunks:
    :class:`~studio.errors.Cancelled` is raised and the partial file kept, so the next call resumes
    it. ``offline=True`` (the caller's configuration) makes no network call: an already finished
    snapshot is returned, anything else raises NotDownloaded.
    """
    if offline:
        local = hub_snapshot(repo_id) if revision == "main" else None
        if local is not None:
            return local
        raise NotDownloaded(
            f"'{repo_id}' is not downloaded and Studio is offline. Switch offline mode off in Settings "
            f"(or unset HF_HUB_OFFLINE), then download it from the Models window or with "
            f"`studio models download {repo_id}`.",
            repo_id,
        )
    check_cancel(cancel)
    _hub_client_online()
    cache = hf_cache_dir()
    folder = repo_folder(repo_id, cache)
    endpoint = hub_endpoint()

    # 1. The file list with sizes, and the commit it belongs to.
    commit, files = _list_files(repo_id, revision, endpoint, token)
    explicit = bool(allow_patterns)
    patterns = [allow_patterns] if isinstance(allow_patterns, str) else list(allow_patterns or DEFAULT_ALLOW_PATTERNS)
    chosen = _select(files, patterns, explicit, repo_id)
    total = sum(size for _name, size in chosen)
    snapshot = folder / "snapshots" / commit

    # 2. Enough room for what is left?
    remaining = sum(size for name, size in chosen if not (snapshot / name).exists())
    _check_disk_space(cache, remaining, repo_id)

    # 3. Each file: skip the ones already there, resume the partial one, fetch the rest.
    state = ByteProgress(total, progress)
    state.report("")
    for name, size in chosen:
        check_cancel(cancel)
        pointer = snapshot / name
        if pointer.exists():
            state.add(size, name)
            continue
        got = fetch_file(repo_id, name, commit, folder, endpoint, token, state, cancel)
        if got != size:  # the listing was off or had no size: keep the total honest
            state.total += got - size
            state.report(name)
    # 4. Only now is the download visible as finished.
    if not _COMMIT.match(revision):
        from ..library.atomic import atomic_write_text

        atomic_write_text(folder / "refs" / revision, commit)
    state.finish()
    return snapshot


def _hub_client_online() -> None:
    """huggingface_hub reads HF_HUB_OFFLINE once, at import, and then refuses every request. Studio
    decides offline itself (the configuration, which read the environment once at start): a caller
    that passed ``offline=False`` means it, e.g. the person switched offline mode off in Settings
    after starting Studio with HF_HUB_OFFLINE=1. So the hub client follows that decision (its
    module setting, not the environment: nobody writes environment variables)."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        constants.HF_HUB_OFFLINE = False


def _list_files(repo_id: str, revision: str, endpoint, token) -> tuple[str, list[tuple[str, int]]]:
    from huggingface_hub import HfApi

    try:
        info = HfApi(endpoint=endpoint, token=token).model_info(repo_id, revision=revision, files_metadata=True)
    except Exception as exc:
        raise explain_hub_error(exc, repo_id) from exc
    if not info.sha:
        raise DownloadFailed(f"The hub did not say which version of '{repo_id}' to download; try again later.")
    files = [(s.rfilename, int((s.lfs.size if s.lfs is not None else s.size) or 0)) for s in (info.siblings or [])]
    return info.sha, files


def _select(files: list[tuple[str, int]], patterns: list[str], explicit: bool, repo_id: str) -> list[tuple[str, int]]:
    from huggingface_hub.utils import filter_repo_objects

    ignore = None if explicit else list(PICKLE_PATTERNS)
    names = set(filter_repo_objects([n for n, _ in files], allow_patterns=patterns, ignore_patterns=ignore))
    chosen = sorted(((n, s) for n, s in files if n in names), key=lambda f: (f[1], f[0]))
    if not explicit and not any(n.endswith(".safetensors") for n, _ in chosen):
        if any(n.lower().endswith(PICKLE_SUFFIXES) for n, _ in files):
            raise UnsafeModelFile(
                f"'{repo_id}' has no .safetensors weights, only pickled checkpoints (.bin/.ckpt/.pt), which can run "
                "code when loaded. Studio downloads safetensors only; pick a safetensors version of this model."
            )
        if any(n.lower().endswith(".gguf") for n, _ in files):
            raise ModelNotFound(
                f"'{repo_id}' holds GGUF files in several sizes: choose one, e.g. "
                f"`studio models download {repo_id} --include '*Q4_K_M.gguf'`."
            )
        raise ModelNotFound(f"'{repo_id}' has no model weights Studio can use (no .safetensors files).")
    if not chosen:
        raise ModelNotFound(f"No file of '{repo_id}' matches {', '.join(patterns)}.")
    return chosen


def _check_disk_space(cache: Path, needed: int, repo_id: str) -> None:
    probe = cache
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return
    if needed > free:
        raise DownloadFailed(
            f"Not enough disk space for '{repo_id}': it needs {human_size(needed)} more and "
            f"{human_size(free)} is free in {cache}. Delete models you no longer use (Models window) and try again."
        )


# ---------------------------------------------------------------------------------------------
# the CLI's downloader (Runtime.download) with a one-line progress bar
# ---------------------------------------------------------------------------------------------
class _CliBar:
    def __init__(self, label: str, stream=None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._shown = False

    def __call__(self, done: int, total: int, filename: str) -> None:
        now = time.monotonic()
        if not self.tty:
            if not self._shown:
                print(f"Downloading {self.label} ({human_size(total)})…", file=self.stream, flush=True)
                self._shown = True
            return
        if now - self._last < 0.1 and done < total:
            return
        self._last = now
        self._shown = True
        frac = done / total if total else 0.0
        width = 24
        filled = int(frac * width)
        bar = "█" * filled + "·" * (width - filled)
        line = f"\r{self.label} {bar} {frac * 100:5.1f}%  {human_size(done)}/{human_size(total)}  {filename[-40:]}"
        self.stream.write(line.ljust(100)[:120])
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._shown:
            self.stream.write("\n")
            self.stream.flush()


def cli_download(repo_id: str, allow_patterns: Sequence[str] | None = None, *, offline: bool = False) -> str:
    """:func:`download` with a progress bar on stderr; Ctrl+C stops it (partial files kept, so
    running the command again resumes) and raises KeyboardInterrupt. Used as ``Runtime.download``
    (with the CLI configuration's ``offline``: :func:`studio.cli.common.make_runtime`)."""
    from ..cancel import CancelToken

    token = CancelToken()
    bar = _CliBar(repo_id)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: token.cancel()) if in_main else None
    try:
        path = download(repo_id, list(allow_patterns) if allow_patterns else None, progress=bar, cancel=token,
                        offline=offline)
    except Cancelled:
        bar.close()
        raise KeyboardInterrupt from None
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    bar.close()
    return str(path)


# ---------------------------------------------------------------------------------------------
# what is on disk
# ---------------------------------------------------------------------------------------------
def cached_repos() -> dict[str, int]:
    """Finished model downloads in the Hugging Face cache: ``{repo_id: bytes on disk}``.

    Includes repos Studio's catalog does not know (downloaded by other tools);
    :meth:`Catalog.discovered` turns those into entries of the right modality.
    """
    return {rid: repo.size_bytes for rid, repo in scan_hub_cache().items() if repo.complete}


def delete_model(entry: ModelEntry, catalog: Catalog | None = None) -> int:
    """Remove a model: a hub download leaves the HF cache (all its revisions and any partial
    download); a local entry is only forgotten — the person's own files are never touched.
    Returns the bytes freed on disk."""
    if entry.source == "bundled":
        raise StudioError(f"'{entry.name}' ships with Studio and cannot be deleted.")
    if entry.source == "local":
        (catalog or Catalog()).remove_local(entry.id)
        return 0
    cache = hf_cache_dir()
    folder = repo_folder(entry.repo_id, cache)
    if not folder.exists():
        return 0
    freed = 0
    from huggingface_hub import scan_cache_dir

    try:
        info = scan_cache_dir(cache)
        repo = next((r for r in info.repos if r.repo_type == "model" and r.repo_id == entry.repo_id), None)
        if repo is not None and repo.revisions:
            strategy = info.delete_revisions(*[rev.commit_hash for rev in repo.revisions])
            freed = strategy.expected_freed_size
            strategy.execute()
    except Exception:  # an odd cache layout: fall through to removing the folder itself
        pass
    if folder.exists():  # partial downloads, or a repo the scan could not read
        left = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())
        shutil.rmtree(folder, ignore_errors=True)
        freed += left
    shutil.rmtree(cache / ".locks" / folder.name, ignore_errors=True)
    if catalog is not None:
        catalog.refresh()
    return freed
