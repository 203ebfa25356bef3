"""Downloads from the Hugging Face hub into its standard cache, with byte progress, cancel and resume.

No Qt. :func:`download` runs in whatever thread calls it (the GUI's DownloadManager gives each
download its own thread; the CLI runs it in the main thread with a progress bar on stderr).

Why not ``snapshot_download``: since huggingface_hub 1.x every file goes to a process-unique
temporary file that is *deleted* when the download fails or is interrupted, so nothing can resume,
and its ``tqdm_class`` only sees an aggregate without file names. So this module asks the hub for
the file list (``model_info(files_metadata=True)``: sizes up front, hence a true byte total), then
for each file resolves its ETag and location (``get_hf_file_metadata``) and streams it itself into
``blobs/<etag>.incomplete`` — a stable name, continued with an HTTP ``Range`` request next time —
before moving it to ``blobs/<etag>`` and linking ``snapshots/<commit>/<file>`` to it, which is the
cache layout huggingface_hub, transformers and diffusers read. ``refs/main`` is written last, so a
half-finished download never looks finished (:func:`studio.models.catalog.hub_snapshot`).

Offline (``HF_HUB_OFFLINE=1`` or the Settings switch), nothing touches the network: a model that
is not on disk raises :class:`~studio.errors.NotDownloaded`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from ..errors import Cancelled, ModelNotFound, NotDownloaded, StudioError, UnsafeModelFile
from .catalog import Catalog, ModelEntry, hf_cache_dir, human_size, hub_snapshot, repo_folder, scan_hub_cache
from .resolve import PICKLE_SUFFIXES, is_offline

# What a hub id without a catalog entry downloads: configs, tokenizers and safetensors weights.
# Pickled checkpoints (.bin/.ckpt/.pt/.pth) can run code when loaded: only when asked for by name.
DEFAULT_ALLOW_PATTERNS: tuple[str, ...] = ("*.json", "*.txt", "*.model", "*.jinja", "*.tiktoken", "*.safetensors")
PICKLE_PATTERNS: tuple[str, ...] = tuple(f"*{s}" for s in PICKLE_SUFFIXES) + ("*.pkl", "*.pickle", "*.msgpack", "*.h5")

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_RETRIES = 5
_RETRY_STATUS = (408, 429, 500, 502, 503, 504)
RETRY_WAIT_S = 1.0  # first wait before retrying a broken download (doubles each time, at most 8 s)

ProgressFn = Callable[[int, int, str], None]  # (done_bytes, total_bytes, filename)


class DownloadFailed(StudioError):
    """The hub could not be reached or refused the download; the message says what to do."""


class _Cancel(Protocol):
    @property
    def cancelled(self) -> bool: ...


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
    cancel: _Cancel | None = None,
    offline: bool | None = None,
    revision: str = "main",
    token: str | bool | None = None,
) -> Path:
    """Download ``repo_id`` (the files matching ``allow_patterns``) into the hub cache; returns the
    snapshot folder.

    ``allow_patterns``: glob patterns (``*.safetensors``); None = :data:`DEFAULT_ALLOW_PATTERNS`
    (safetensors only, never pickles). ``progress(done_bytes, total_bytes, filename)`` is called
    from this thread after every received chunk. ``cancel.cancelled`` is checked between chunks:
    :class:`~studio.errors.Cancelled` is raised and the partial file kept, so the next call resumes
    it. ``offline`` (None = :func:`~studio.models.resolve.is_offline`) makes no network call: an
    already finished snapshot is returned, anything else raises NotDownloaded.
    """
    offline = is_offline() if offline is None else offline
    if offline:
        local = hub_snapshot(repo_id) if revision == "main" else None
        if local is not None:
            return local
        raise NotDownloaded(
            f"'{repo_id}' is not downloaded and Studio is offline. Switch offline mode off in Settings "
            f"(or unset HF_HUB_OFFLINE), then download it from the Models window or with "
            f"`studio models download {repo_id}`."
        )
    _check(cancel)
    _follow_offline_switch()
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
    state = _Progress(total, progress)
    state.report("")
    for name, size in chosen:
        _check(cancel)
        pointer = snapshot / name
        if pointer.exists():
            state.add(size, name)
            continue
        got = _fetch_file(repo_id, name, commit, folder, endpoint, token, state, cancel)
        if got != size:  # the listing was off or had no size: keep the total honest
            state.total += got - size
            state.report(name)
    # 4. Only now is the download visible as finished.
    if not _COMMIT.match(revision):
        from ..library.atomic import atomic_write_text

        atomic_write_text(folder / "refs" / revision, commit)
    state.finish()
    return snapshot


def _follow_offline_switch() -> None:
    """huggingface_hub reads HF_HUB_OFFLINE once, at import, and then refuses every request. When
    Studio started offline and the person switched offline mode off since (Settings clears the
    variable), let the library follow the variable as it is now. An explicit ``offline=False``
    while HF_HUB_OFFLINE is still set is left alone (and reported as NotDownloaded)."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE and not is_offline() and not os.environ.get("TRANSFORMERS_OFFLINE"):
        constants.HF_HUB_OFFLINE = False


def _check(cancel: _Cancel | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled()


class _Progress:
    def __init__(self, total: int, callback: ProgressFn | None) -> None:
        self.total = total
        self.done = 0
        self._callback = callback

    def report(self, filename: str) -> None:
        if self._callback is not None:
            self._callback(self.done, max(self.total, self.done), filename)

    def add(self, n: int, filename: str) -> None:
        self.done += n
        self.report(filename)

    def finish(self) -> None:
        self.done = max(self.done, self.total)
        self.report("")


def _list_files(repo_id: str, revision: str, endpoint, token) -> tuple[str, list[tuple[str, int]]]:
    from huggingface_hub import HfApi

    try:
        info = HfApi(endpoint=endpoint, token=token).model_info(repo_id, revision=revision, files_metadata=True)
    except Exception as exc:
        raise _explain(exc, repo_id) from exc
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


def _fetch_file(repo_id: str, name: str, commit: str, folder: Path, endpoint, token, state: _Progress, cancel) -> int:
    """One file into ``blobs/<etag>`` (resuming ``<etag>.incomplete``), linked from the snapshot.
    Returns its size."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(repo_id, name, revision=commit, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, token=token, endpoint=endpoint, retry_on_errors=True)
    except Exception as exc:
        raise _explain(exc, repo_id, name) from exc
    if not meta.etag:
        raise DownloadFailed(f"The hub gave no checksum for '{name}' of '{repo_id}'; try again later.")
    blob = folder / "blobs" / meta.etag
    pointer = folder / "snapshots" / commit / name
    blob.parent.mkdir(parents=True, exist_ok=True)
    lock_path = folder.parent / ".locks" / folder.name / f"{meta.etag}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(lock_path, cancel):
        if not blob.exists():

            def relocate() -> str:  # a fresh signed url for a retry (they expire)
                return get_hf_file_metadata(url, token=token, endpoint=endpoint, retry_on_errors=True).location

            _stream_to_blob(meta.location or url, blob, meta.etag, meta.size, url, token, name, state, cancel, relocate)
        else:
            state.add(blob.stat().st_size, name)
        _link(blob, pointer)
    return blob.stat().st_size


class _locked:
    """A file lock (another Studio process may fetch the same blob), waited for cancellably."""

    def __init__(self, path: Path, cancel) -> None:
        from filelock import FileLock

        self._lock = FileLock(str(path))
        self._cancel = cancel

    def __enter__(self):
        from filelock import Timeout

        while True:
            _check(self._cancel)
            try:
                self._lock.acquire(timeout=0.25)
                return self
            except Timeout:
                continue

    def __exit__(self, *exc):
        self._lock.release()


def _stream_to_blob(
    location, blob: Path, etag, expected, hub_url, token, name, state: _Progress, cancel, relocate=None
) -> None:
    """Stream ``location`` into ``blob.incomplete`` (continuing what is there), check it, move it
    to ``blob``. Broken connections and 429/5xx answers are retried a few times, resuming."""
    import httpx2
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    partial = blob.with_name(blob.name + ".incomplete")
    headers = build_hf_headers(token=token)
    headers["Accept-Encoding"] = "identity"  # sizes and ranges are about the bytes on disk
    hasher = hashlib.sha256() if _SHA256.match(etag) else None

    have = partial.stat().st_size if partial.exists() else 0
    if expected is not None and have > expected:  # not ours / corrupt: start over
        partial.unlink()
        have = 0
    if hasher is not None and have:
        with partial.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                hasher.update(block)
    state.add(have, name)

    attempts = 0
    while expected is None or have < expected:
        _check(cancel)
        if attempts and relocate is not None:
            try:
                location = relocate() or location
            except Exception:  # keep the old url; the request below reports what is wrong
                pass
        request_headers = dict(headers)
        if _origin(location) != _origin(hub_url):
            request_headers.pop("authorization", None)  # a signed CDN url: the token stays on the hub
        if have:
            request_headers["Range"] = f"bytes={have}-"
        try:
            with get_session().stream(
                "GET", location, headers=request_headers, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT
            ) as response:
                if response.status_code == 416 and have:  # range past the end: the partial is unusable
                    raise _RestartFile()
                hf_raise_for_status(response)
                mode = "ab"
                if have and response.status_code == 200:  # the server ignored Range: whole file again
                    state.add(-have, name)
                    have, mode = 0, "wb"
                    hasher = hashlib.sha256() if hasher is not None else None
                if expected is None:
                    length = response.headers.get("Content-Length")
                    expected = have + int(length) if length and length.isdigit() else None
                with partial.open(mode) as f:
                    for chunk in response.iter_bytes():
                        if cancel is not None and cancel.cancelled:
                            raise Cancelled()
                        if not chunk:
                            continue
                        f.write(chunk)
                        if hasher is not None:
                            hasher.update(chunk)
                        have += len(chunk)
                        attempts = 0  # data arrived: the connection works
                        state.add(len(chunk), name)
            if expected is None:
                break  # no length known: the stream ended normally, take it as complete
        except _RestartFile:
            partial.unlink(missing_ok=True)
            state.add(-have, name)
            have = 0
            hasher = hashlib.sha256() if hasher is not None else None
        except (httpx2.TransportError, httpx2.StreamError, HfHubHTTPError) as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if isinstance(exc, HfHubHTTPError) and (status not in _RETRY_STATUS or attempts >= _RETRIES):
                raise _explain(exc, "", name) from exc
            if isinstance(exc, httpx2.ProxyError) or attempts >= _RETRIES:
                raise DownloadFailed(
                    f"The download of '{name}' broke off ({type(exc).__name__}). Check the connection and "
                    "try again: it continues where it stopped."
                ) from exc
            attempts += 1
            _sleep(min(RETRY_WAIT_S * 2 ** (attempts - 1), 8), cancel)  # then resume from what is on disk
        except (Cancelled, StudioError):
            raise
        except Exception as exc:
            raise _explain(exc, "", name) from exc

    if expected is not None and have != expected:
        raise DownloadFailed(f"'{name}' arrived with {have} bytes instead of {expected}; try again.")
    if hasher is not None and hasher.hexdigest() != etag:
        partial.unlink(missing_ok=True)
        raise DownloadFailed(f"'{name}' arrived corrupted (checksum mismatch) and was discarded; try again.")
    os.replace(partial, blob)


class _RestartFile(Exception):
    pass


def _origin(url: str) -> tuple:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _sleep(seconds: float, cancel) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        _check(cancel)
        time.sleep(0.05)


def _link(blob: Path, pointer: Path) -> None:
    """``snapshots/<commit>/<file>`` → ``../../blobs/<etag>`` (a copy where symlinks are not allowed)."""
    if pointer.exists():
        return
    pointer.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(os.path.relpath(blob, pointer.parent), pointer)
    except OSError:
        shutil.copyfile(blob, pointer)


def _explain(exc: Exception, repo_id: str, filename: str = "") -> Exception:
    """A hub/network exception as a StudioError a person can act on."""
    import httpx2
    from huggingface_hub import errors as hf

    what = f"'{filename}' of '{repo_id}'" if filename and repo_id else f"'{filename or repo_id}'"
    if isinstance(exc, (StudioError, Cancelled)):
        return exc
    if isinstance(exc, hf.OfflineModeIsEnabled):
        return NotDownloaded(
            f"{what} is not downloaded and downloads are switched off (HF_HUB_OFFLINE is set). Switch offline mode "
            "off in Settings, or unset HF_HUB_OFFLINE, to download."
        )
    if isinstance(exc, hf.GatedRepoError):
        return DownloadFailed(
            f"'{repo_id}' is gated: accept its licence on https://huggingface.co/{repo_id} and log in with "
            "`hf auth login`, then try again."
        )
    if isinstance(exc, hf.RepositoryNotFoundError):
        return ModelNotFound(
            f"No model '{repo_id}' on the Hugging Face hub. Check the spelling (org/name); a private model needs "
            "`hf auth login` first."
        )
    if isinstance(exc, hf.RevisionNotFoundError):
        return ModelNotFound(f"'{repo_id}' has no such version on the hub.")
    if isinstance(exc, (hf.EntryNotFoundError, hf.RemoteEntryNotFoundError)):
        return ModelNotFound(f"{what} is not on the hub any more; try again to fetch the current version.")
    if isinstance(exc, hf.HfHubHTTPError):
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        return DownloadFailed(f"The hub refused {what} (HTTP {status}). Try again later.")
    if isinstance(exc, (httpx2.TransportError, httpx2.StreamError, OSError)):
        return DownloadFailed(
            f"Could not reach the Hugging Face hub for {what} ({type(exc).__name__}). Check the connection and try "
            "again; a started download continues where it stopped."
        )
    return exc


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


def cli_download(repo_id: str, allow_patterns: Sequence[str] | None = None) -> str:
    """:func:`download` with a progress bar on stderr; Ctrl+C stops it (partial files kept, so
    running the command again resumes) and raises KeyboardInterrupt. Used as ``Runtime.download``."""
    from ..engines.base import CancelToken

    token = CancelToken()
    bar = _CliBar(repo_id)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: token.cancel()) if in_main else None
    try:
        path = download(repo_id, list(allow_patterns) if allow_patterns else None, progress=bar, cancel=token)
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
