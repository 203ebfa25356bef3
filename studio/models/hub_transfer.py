"""Fetching one file of a hub repo into the Hugging Face cache: the transfer under
:func:`studio.models.download.download` (no Qt).

:func:`fetch_file` resolves the file's ETag and location (``get_hf_file_metadata``), takes a file
lock (another Studio process may fetch the same blob), streams the file into
``blobs/<etag>.incomplete`` — a stable name, continued with an HTTP ``Range`` request next time —
checks its size (and its sha256 where the ETag is one, as for LFS files), moves it to
``blobs/<etag>`` and links ``snapshots/<commit>/<file>`` to it (a copy where symlinks are not
allowed). Broken connections and 429/5xx answers are retried a few times, resuming;
``cancel.cancelled`` is checked between chunks and the partial file kept. A signed CDN url never
gets the hub token. :func:`explain_hub_error` turns hub/network exceptions into errors a person
can act on.

Why Studio transfers files itself: huggingface_hub (1.x, and 2.4 as installed here) downloads every
file into a process-unique temporary file and *deletes* it when the download fails or is
interrupted, so a broken multi-gigabyte download always starts again from zero. Once
``hf_hub_download`` keeps a stable partial file that it continues with a ``Range`` request (as
1.0's ``.incomplete`` files did), this module can go and :mod:`studio.models.download` can call
``hf_hub_download`` per file with its progress. It imports ``httpx2`` and ``filelock`` directly
(declared in pyproject.toml, the versions huggingface_hub itself requires).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..errors import Cancelled, ModelNotFound, NotDownloaded, StudioError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_RETRIES = 5
_RETRY_STATUS = (408, 429, 500, 502, 503, 504)
RETRY_WAIT_S = 1.0  # first wait before retrying a broken download (doubles each time, at most 8 s)

ProgressFn = Callable[[int, int, str], None]  # (done_bytes, total_bytes, filename)


class DownloadFailed(StudioError):
    """The hub could not be reached or refused the download; the message says what to do."""


class CancelFlag(Protocol):
    """What a download polls between chunks (e.g. :class:`studio.cancel.CancelToken`)."""

    @property
    def cancelled(self) -> bool: ...


def check_cancel(cancel: CancelFlag | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled()


class ByteProgress:
    """Bytes done of the whole download, reported as ``callback(done, total, filename)``."""

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


def fetch_file(repo_id: str, name: str, commit: str, folder: Path, endpoint, token, state: ByteProgress, cancel) -> int:
    """One file into ``blobs/<etag>`` (resuming ``<etag>.incomplete``), linked from the snapshot.
    Returns its size."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(repo_id, name, revision=commit, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, token=token, endpoint=endpoint, retry_on_errors=True)
    except Exception as exc:
        raise explain_hub_error(exc, repo_id, name) from exc
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
            check_cancel(self._cancel)
            try:
                self._lock.acquire(timeout=0.25)
                return self
            except Timeout:
                continue

    def __exit__(self, *exc):
        self._lock.release()


def _stream_to_blob(
    location, blob: Path, etag, expected, hub_url, token, name, state: ByteProgress, cancel, relocate=None
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
        check_cancel(cancel)
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
                raise explain_hub_error(exc, "", name) from exc
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
            raise explain_hub_error(exc, "", name) from exc

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
        check_cancel(cancel)
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


def explain_hub_error(exc: Exception, repo_id: str, filename: str = "") -> Exception:
    """A hub/network exception as a StudioError a person can act on."""
    import httpx2
    from huggingface_hub import errors as hf

    what = f"'{filename}' of '{repo_id}'" if filename and repo_id else f"'{filename or repo_id}'"
    if isinstance(exc, (StudioError, Cancelled)):
        return exc
    if isinstance(exc, hf.OfflineModeIsEnabled):
        return NotDownloaded(
            f"{what} is not downloaded and downloads are switched off (HF_HUB_OFFLINE is set). Switch offline mode "
            "off in Settings, or unset HF_HUB_OFFLINE, to download.",
            repo_id,
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

