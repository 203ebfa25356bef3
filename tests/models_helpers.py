"""Shared helpers for the model catalog / download / Models window tests.

- :func:`make_cached_repo` writes a repo into a Hugging Face cache folder exactly as huggingface_hub
  lays it out (``models--org--name/{blobs,snapshots/<commit>,refs/main}``, snapshot files being
  relative symlinks to content-addressed blobs).
- :class:`FakeHub` is a real HTTP server on 127.0.0.1 that answers the hub endpoints a download
  uses: ``GET /api/models/<repo>/revision/<rev>?blobs=True`` (file list with sizes and LFS sha256),
  ``HEAD /<repo>/resolve/<rev>/<file>`` (ETag, X-Repo-Commit, size; LFS files redirect to a
  "CDN" on another host name, like the real hub) and ``GET`` with ``Range`` (206) for resuming.
  It streams in small chunks with a delay so progress and cancel mid-file can be observed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def commit_for(repo_id: str, salt: str = "") -> str:
    return hashlib.sha1(f"{repo_id}{salt}".encode()).hexdigest()


def hub_cache() -> Path:
    """The cache folder the code under test uses (conftest points HF_HUB_CACHE at tmp)."""
    return Path(os.environ["HF_HUB_CACHE"])


def make_cached_repo(
    repo_id: str,
    files: dict[str, bytes],
    *,
    cache: Path | None = None,
    commit: str | None = None,
    ref: bool = True,
) -> Path:
    """Write ``files`` as a downloaded snapshot of ``repo_id``; returns the snapshot folder."""
    cache = cache or hub_cache()
    commit = commit or commit_for(repo_id)
    folder = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = folder / "snapshots" / commit
    for name, data in files.items():
        etag = sha256(data) if name.endswith(".safetensors") else git_blob_sha1(data)
        blob = folder / "blobs" / etag
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        pointer = snapshot / name
        pointer.parent.mkdir(parents=True, exist_ok=True)
        if not pointer.exists():
            os.symlink(os.path.relpath(blob, pointer.parent), pointer)
    snapshot.mkdir(parents=True, exist_ok=True)
    if ref:
        (folder / "refs").mkdir(parents=True, exist_ok=True)
        (folder / "refs" / "main").write_text(commit)
    return snapshot


def llama_config() -> bytes:
    return json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}).encode()


def musicgen_config() -> bytes:
    return json.dumps({"architectures": ["MusicgenForConditionalGeneration"], "model_type": "musicgen"}).encode()


def diffusers_index() -> bytes:
    return json.dumps({"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.30.0"}).encode()


def fake_weights(n: int, seed: int = 0) -> bytes:
    """Deterministic bytes standing in for a weights file (content is irrelevant to downloads)."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


# ---------------------------------------------------------------------------------------------
# a local stand-in for the hub
# ---------------------------------------------------------------------------------------------
class FakeHub:
    def __init__(self, *, chunk: int = 16 * 1024, delay: float = 0.0) -> None:
        self.chunk = chunk
        self.delay = delay
        self.break_after: int | None = None  # drop the next body connection after this many bytes
        self.repos: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- content ---
    def add_repo(self, repo_id: str, files: dict[str, bytes], *, lfs=(".safetensors", ".bin", ".ckpt", ".gguf")) -> str:
        commit = commit_for(repo_id, "fake-hub")
        self.repos[repo_id] = {"sha": commit, "files": dict(files), "lfs": tuple(lfs)}
        return commit

    def is_lfs(self, repo_id: str, name: str) -> bool:
        return name.endswith(self.repos[repo_id]["lfs"])

    def etag(self, repo_id: str, name: str) -> str:
        data = self.repos[repo_id]["files"][name]
        return sha256(data) if self.is_lfs(repo_id, name) else git_blob_sha1(data)

    # --- server ---
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cdn(self) -> str:  # another host name: huggingface_hub does not follow the redirect there
        return f"http://localhost:{self.port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="FakeHub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def gets(self, suffix: str = "") -> list[dict[str, str]]:
        """Headers of the GET requests for file bodies (optionally only those ending in ``suffix``)."""
        return [h for m, p, h in self.requests if m == "GET" and not p.startswith("/api/") and p.endswith(suffix)]


_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/?]+))?$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<name>.+)$")
_CDN = re.compile(r"^/cdn/(?P<repo>[^/]+/[^/]+)/(?P<name>.+)$")


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _record(self) -> str:
        path = self.path.split("?", 1)[0]
        self.hub.requests.append((self.command, path, {k: v for k, v in self.headers.items()}))
        return path

    def _empty(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", headers.get("Content-Length", "0"))
        self.end_headers()

    def _not_found(self, code: str) -> None:
        body = json.dumps({"error": code}).encode()
        self.send_response(404)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        path = self._record()
        hub = self.hub
        m = _INFO.match(path)
        if m and not head:
            repo = hub.repos.get(m["repo"])
            if repo is None:
                return self._not_found("RepoNotFound")
            siblings = []
            for name, data in repo["files"].items():
                item = {"rfilename": name, "size": len(data), "blobId": git_blob_sha1(data)}
                if hub.is_lfs(m["repo"], name):
                    item["lfs"] = {"size": len(data), "sha256": sha256(data), "pointerSize": 134}
                siblings.append(item)
            body = json.dumps({"id": m["repo"], "sha": repo["sha"], "siblings": siblings}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        m = _RESOLVE.match(path)
        if m:
            repo = hub.repos.get(m["repo"])
            if repo is None:
                return self._not_found("RepoNotFound")
            if m["rev"] not in ("main", repo["sha"]):
                return self._not_found("RevisionNotFound")
            data = repo["files"].get(m["name"])
            if data is None:
                return self._not_found("EntryNotFound")
            etag = hub.etag(m["repo"], m["name"])
            common = {"X-Repo-Commit": repo["sha"], "Accept-Ranges": "bytes"}
            if hub.is_lfs(m["repo"], m["name"]):
                # like the real hub: redirect to a signed CDN url on another host, metadata on the 302
                return self._empty(
                    302,
                    {
                        **common,
                        "Location": f"{hub.cdn}/cdn/{m['repo']}/{m['name']}",
                        "X-Linked-Etag": f'"{etag}"',
                        "X-Linked-Size": str(len(data)),
                        "ETag": '"pointer-etag"',
                    },
                )
            return self._body(data, {**common, "ETag": f'"{etag}"'}, head)
        m = _CDN.match(path)
        if m:
            repo = hub.repos.get(m["repo"])
            data = repo and repo["files"].get(m["name"])
            if data is None:
                return self._not_found("EntryNotFound")
            return self._body(data, {"ETag": f'"{sha256(data)}"', "Accept-Ranges": "bytes"}, head)
        self._not_found("NotFound")

    def _body(self, data: bytes, headers: dict[str, str], head: bool) -> None:
        start = 0
        rng = self.headers.get("Range")
        status = 200
        if rng:
            m = re.match(r"bytes=(\d+)-$", rng)
            if m:
                start = int(m.group(1))
                if start >= len(data):
                    return self._empty(416, {"Content-Range": f"bytes */{len(data)}"})
                status = 206
                headers = {**headers, "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
        part = data[start:]
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        if head:
            return
        limit, self.hub.break_after = self.hub.break_after, None
        if limit is not None:  # a connection that dies mid-file
            self.wfile.write(part[:limit])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        try:
            for i in range(0, len(part), self.hub.chunk):
                self.wfile.write(part[i : i + self.hub.chunk])
                self.wfile.flush()
                if self.hub.delay:
                    time.sleep(self.hub.delay)
        except (BrokenPipeError, ConnectionResetError):  # the client cancelled
            self.close_connection = True


@pytest.fixture
def fake_hub(monkeypatch):
    """A running FakeHub; HF_ENDPOINT points at it and Studio (and huggingface_hub) are online."""
    from huggingface_hub import constants

    hub = FakeHub().start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # frozen at import from conftest's "1"
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_not_real")  # so the auth header is exercised
    yield hub
    hub.stop()
