"""Downloads for real over HTTP (a local fake hub), offline mode, deletion, and the Qt DownloadManager."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from studio.engines.base import CancelToken
from studio.errors import Cancelled, ModelNotFound, NotDownloaded, UnsafeModelFile
from studio.models import download as dl
from studio.models import hub_transfer
from studio.models.catalog import Catalog, ModelEntry
from studio.models.hub_cache import hub_snapshot, repo_folder

from .models_helpers import (  # noqa: F401  (fake_hub is a fixture)
    fake_hub,
    fake_weights,
    hub_cache,
    llama_config,
    make_cached_repo,
    sha256,
)

REPO = "test-org/tiny-llm"
WEIGHTS = fake_weights(600 * 1024, seed=1)
FILES = {
    "config.json": llama_config(),
    "tokenizer.json": b'{"version": "1.0"}',
    "model.safetensors": WEIGHTS,
    "pytorch_model.bin": fake_weights(50_000, seed=2),  # a pickle: never fetched unless asked
    "README.md": b"# tiny",
}


def _entry(repo_id=REPO, patterns=(), **kw) -> ModelEntry:
    return ModelEntry(
        id=kw.pop("id", "tiny-llm"),
        name="Tiny LLM",
        modality="text",
        source="hub",
        repo_id=repo_id,
        format="transformers",
        size_bytes=len(WEIGHTS),
        allow_patterns=tuple(patterns),
        **kw,
    )


# ---------------------------------------------------------------------------------------------
# download(): progress, safetensors only, cache layout
# ---------------------------------------------------------------------------------------------
def test_download_reports_byte_progress_and_writes_a_standard_cache(fake_hub):
    fake_hub.add_repo(REPO, FILES)
    calls = []
    path = dl.download(REPO, progress=lambda d, t, f: calls.append((d, t, f)))

    # safetensors only by default: no pickle, no README
    names = sorted(p.name for p in path.iterdir())
    assert names == ["config.json", "model.safetensors", "tokenizer.json"]
    assert (path / "model.safetensors").read_bytes() == WEIGHTS
    assert (path / "model.safetensors").is_symlink()  # → ../../blobs/<sha256>
    assert os.readlink(path / "model.safetensors").endswith(sha256(WEIGHTS))
    assert not fake_hub.gets("pytorch_model.bin")

    # byte progress: a true total up front, never decreasing, many steps inside the big file
    total = len(FILES["config.json"]) + len(FILES["tokenizer.json"]) + len(WEIGHTS)
    assert {t for _, t, _ in calls} == {total}
    dones = [d for d, _, _ in calls]
    assert dones == sorted(dones) and dones[0] == 0 and dones[-1] == total
    assert sum(1 for _, _, f in calls if f == "model.safetensors") > 10
    # the token went to the hub but not to the CDN host
    assert all("authorization" in {k.lower() for k in h} for m, p, h in fake_hub.requests if m == "HEAD")
    cdn = [h for h in fake_hub.gets("model.safetensors")]
    assert cdn and all("authorization" not in {k.lower() for k in h} for h in cdn)

    # the layout huggingface_hub itself reads, so transformers/diffusers find the files offline
    from huggingface_hub import hf_hub_download, snapshot_download

    assert hub_snapshot(REPO) == path
    assert snapshot_download(REPO, local_files_only=True, cache_dir=hub_cache()) == str(path)
    assert hf_hub_download(REPO, "model.safetensors", local_files_only=True, cache_dir=hub_cache()) == str(
        path / "model.safetensors"
    )
    assert Catalog().state(_entry()) == "downloaded"
    assert dl.cached_repos() == {REPO: sum(len(FILES[n]) for n in names)}

    # a second call finds everything in place and fetches no file again
    before = len(fake_hub.gets())
    assert dl.download(REPO) == path
    assert len(fake_hub.gets()) == before


def test_catalog_patterns_are_respected_and_pickles_only_when_asked(fake_hub):
    fake_hub.add_repo(REPO, FILES)
    path = dl.download(REPO, ["*.json"])
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "tokenizer.json"]
    path = dl.download(REPO, ["*.bin"])  # explicitly asked for
    assert (path / "pytorch_model.bin").exists()


def test_pickle_only_repo_is_refused_without_fetching(fake_hub):
    fake_hub.add_repo("test-org/old", {"config.json": llama_config(), "pytorch_model.bin": b"x" * 100})
    with pytest.raises(UnsafeModelFile, match="safetensors"):
        dl.download("test-org/old")
    assert not fake_hub.gets()
    assert hub_snapshot("test-org/old") is None


def test_unknown_repo_is_a_clear_error(fake_hub):
    with pytest.raises(ModelNotFound, match="No model 'test-org/nope' on the Hugging Face hub"):
        dl.download("test-org/nope")


# ---------------------------------------------------------------------------------------------
# cancel mid-file, then resume with a Range request
# ---------------------------------------------------------------------------------------------
def test_cancel_mid_file_keeps_the_partial_and_the_next_download_resumes(fake_hub):
    fake_hub.add_repo(REPO, FILES)
    fake_hub.delay = 0.002
    token = CancelToken()

    def stop_midway(done, total, name):
        if name == "model.safetensors" and done > total // 3:
            token.cancel()

    with pytest.raises(Cancelled):
        dl.download(REPO, progress=stop_midway, cancel=token)

    folder = repo_folder(REPO)
    partials = list((folder / "blobs").glob("*.incomplete"))
    assert len(partials) == 1
    kept = partials[0].stat().st_size
    assert 0 < kept < len(WEIGHTS)
    assert WEIGHTS.startswith(partials[0].read_bytes())
    # not mistaken for a finished download anywhere
    assert not (folder / "refs" / "main").exists()
    assert hub_snapshot(REPO) is None
    assert Catalog().state(_entry()) == "downloadable"
    assert REPO not in dl.cached_repos()

    fake_hub.delay = 0.0
    calls = []
    path = dl.download(REPO, progress=lambda d, t, f: calls.append((d, f)))
    ranges = [h.get("Range") or h.get("range") for h in fake_hub.gets("model.safetensors")]
    assert ranges[-1] == f"bytes={kept}-"  # only the missing bytes were asked for
    first_weights = next(d for d, f in calls if f == "model.safetensors")
    assert first_weights >= kept  # progress picks up where it stopped
    assert (path / "model.safetensors").read_bytes() == WEIGHTS  # and the sha256 checked out
    assert not list((folder / "blobs").glob("*.incomplete"))
    assert hub_snapshot(REPO) == path


def test_a_connection_dropped_mid_file_is_resumed_within_the_same_download(fake_hub, monkeypatch):
    monkeypatch.setattr(hub_transfer, "RETRY_WAIT_S", 0.01)
    fake_hub.add_repo(REPO, {"model.safetensors": WEIGHTS})
    fake_hub.break_after = 200_000
    path = dl.download(REPO)
    assert (path / "model.safetensors").read_bytes() == WEIGHTS
    ranges = [h.get("Range") for h in fake_hub.gets("model.safetensors")]
    assert ranges[0] is None and ranges[-1] == "bytes=200000-"


def test_cancel_before_start_makes_no_request(fake_hub):
    fake_hub.add_repo(REPO, FILES)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        dl.download(REPO, cancel=token)
    assert fake_hub.requests == []


# ---------------------------------------------------------------------------------------------
# offline: NotDownloaded and not a single connection attempt
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def no_sockets(monkeypatch):
    attempts = []

    def refuse(self, address):
        attempts.append(address)
        raise OSError("offline test: no connection allowed")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a[0] if a else None))
    return attempts


def test_offline_download_raises_not_downloaded_without_connecting(monkeypatch, no_sockets):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # the environment is not what decides: the argument is
    with pytest.raises(NotDownloaded, match="offline"):
        dl.download(REPO, offline=True)  # the configuration's switch
    with pytest.raises(NotDownloaded, match="offline"):
        dl.cli_download(REPO, offline=True)
    # a finished download is still usable offline
    snapshot = make_cached_repo(REPO, {"config.json": llama_config(), "model.safetensors": b"w"})
    assert dl.download(REPO, offline=True) == snapshot
    assert no_sockets == []


def test_online_is_what_the_caller_says_not_the_environment(fake_hub, monkeypatch):
    """Started with HF_HUB_OFFLINE=1 (huggingface_hub froze it at import), then the person switched
    offline mode off: ``offline=False`` downloads, and the environment is left as it was."""
    from huggingface_hub import constants

    fake_hub.add_repo(REPO, FILES)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert dl.download(REPO, ["*.json", "*.safetensors"], offline=False) == hub_snapshot(REPO)
    assert fake_hub.requests  # it did connect
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # never rewritten


def test_resolve_stays_offline_unless_told_otherwise(fake_hub, monkeypatch):
    """resolve() never reads the environment: without ``offline=False`` a hub id not on disk is
    NotDownloaded even with HF_HUB_OFFLINE=0 and a download function at hand; with it, it downloads."""
    from studio.models.resolve import resolve

    fake_hub.add_repo(REPO, FILES)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    fetched = []

    def fetch(repo_id, patterns):
        fetched.append(repo_id)
        return dl.download(repo_id, patterns, offline=False)

    with pytest.raises(NotDownloaded, match="offline"):
        resolve(REPO, "text", download=fetch)
    assert fetched == [] and fake_hub.requests == []
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the environment does not stop an explicit online either
    resolved = resolve(REPO, "text", offline=False, download=fetch)
    assert fetched == [REPO] and resolved.path == hub_snapshot(REPO) and resolved.format == "transformers"


# ---------------------------------------------------------------------------------------------
# delete
# ---------------------------------------------------------------------------------------------
def test_delete_removes_hub_download_and_partials_but_never_local_files(tmp_path):
    make_cached_repo(REPO, {"config.json": llama_config(), "model.safetensors": b"w" * 1000})
    partial_repo = repo_folder("test-org/partial")
    (partial_repo / "blobs").mkdir(parents=True)
    (partial_repo / "blobs" / "abc.incomplete").write_bytes(b"p" * 10)

    catalog = Catalog()
    assert catalog.state(_entry()) == "downloaded"
    freed = dl.delete_model(_entry(), catalog)
    assert freed >= 1000
    assert not repo_folder(REPO).exists()
    assert catalog.state(_entry()) == "downloadable"
    assert dl.delete_model(_entry(repo_id="test-org/partial", id="p"), catalog) == 10
    assert not partial_repo.exists()

    own = tmp_path / "my-model"
    own.mkdir()
    (own / "config.json").write_bytes(llama_config())
    local = catalog.add_local(own, "text")
    assert dl.delete_model(local, catalog) == 0
    assert catalog.find(local.id) is None
    assert (own / "config.json").exists()


# ---------------------------------------------------------------------------------------------
# the CLI downloader
# ---------------------------------------------------------------------------------------------
def test_cli_download_prints_a_progress_line(fake_hub, capsys):
    fake_hub.add_repo(REPO, FILES)
    path = dl.cli_download(REPO, ["*.json", "*.safetensors"])
    assert os.path.isfile(os.path.join(path, "model.safetensors")) and hub_snapshot(REPO) is not None
    err = capsys.readouterr().err
    assert f"Downloading {REPO}" in err


# ---------------------------------------------------------------------------------------------
# DownloadManager (Qt): own threads, signals on the main thread, throttled progress, cancel/resume
# ---------------------------------------------------------------------------------------------
class _Recorder:
    """Collects the manager's signals and the thread each arrived on."""

    def __init__(self, manager):
        from PySide6.QtCore import QThread

        self.events = []
        self.threads = set()
        self._current = QThread.currentThread
        manager.started.connect(lambda mid: self._add("started", mid))
        manager.progress.connect(lambda mid, d, t: self._add("progress", mid, d, t))
        manager.finished.connect(lambda mid, p: self._add("finished", mid, p))
        manager.failed.connect(lambda mid, m: self._add("failed", mid, m))
        manager.cancelled.connect(lambda mid: self._add("cancelled", mid))

    def _add(self, *ev):
        self.threads.add(self._current())
        self.events.append(ev)

    def kinds(self):
        return [e[0] for e in self.events]


def test_manager_downloads_in_its_own_thread_with_throttled_progress(qtbot, fake_hub):
    from PySide6.QtCore import QThread

    from studio.jobs.downloads import DownloadManager

    fake_hub.add_repo(REPO, FILES)
    fake_hub.delay = 0.003  # ~40 chunks × 3 ms: long enough for several progress ticks
    download_threads = []
    real = dl.download

    def spy(*a, **k):
        download_threads.append(threading.current_thread())
        return real(*a, **k)

    manager = DownloadManager(spy)
    rec = _Recorder(manager)
    entry = _entry(patterns=("*.json", "*.safetensors"))
    with qtbot.waitSignal(manager.finished, timeout=20000) as blocker:
        assert manager.start(entry)
        assert manager.is_active(entry.id)
        assert not manager.start(entry)  # already running
    assert blocker.args[0] == entry.id
    assert blocker.args[1] == str(hub_snapshot(REPO))
    assert not manager.is_active(entry.id)

    kinds = rec.kinds()
    assert kinds[0] == "started" and kinds[-1] == "finished" and "progress" in kinds
    progress = [e for e in rec.events if e[0] == "progress"]
    # throttled: far fewer signals than the ~40 chunks, and the last one says "all of it"
    assert len(progress) < 30
    assert progress[-1][2] == progress[-1][3] > len(WEIGHTS)
    assert rec.threads == {QThread.currentThread()}  # every signal delivered on the main thread
    assert download_threads and download_threads[0] is not threading.main_thread()
    assert manager.shutdown()


def test_manager_cancel_then_resume(qtbot, fake_hub):
    from studio.jobs.downloads import DownloadManager

    fake_hub.add_repo(REPO, FILES)
    fake_hub.delay = 0.01
    manager = DownloadManager()
    rec = _Recorder(manager)
    entry = _entry(patterns=("*.json", "*.safetensors"))
    manager.start(entry)
    qtbot.waitUntil(lambda: (manager.progress_of(entry.id) or (0, 1))[0] > 100_000, timeout=10000)
    with qtbot.waitSignal(manager.cancelled, timeout=10000):
        manager.cancel(entry.id)
    assert not manager.is_active(entry.id)
    assert hub_snapshot(REPO) is None
    assert list((repo_folder(REPO) / "blobs").glob("*.incomplete"))

    fake_hub.delay = 0.0
    with qtbot.waitSignal(manager.finished, timeout=20000):
        manager.start(entry)
    assert (hub_snapshot(REPO) / "model.safetensors").read_bytes() == WEIGHTS
    assert fake_hub.gets("model.safetensors")[-1].get("Range", "").startswith("bytes=")
    assert rec.kinds().count("cancelled") == 1 and rec.kinds()[-1] == "finished"


def test_manager_reports_failures_and_offline(qtbot, fake_hub):
    from studio.jobs.downloads import DownloadManager

    manager = DownloadManager()
    with qtbot.waitSignal(manager.failed, timeout=10000) as blocker:
        manager.start_repo("test-org/missing")
    assert blocker.args[0] == "test-org/missing"
    assert "No model 'test-org/missing'" in blocker.args[1]

    offline = DownloadManager(offline=lambda: True)
    before = len(fake_hub.requests)
    with qtbot.waitSignal(offline.failed, timeout=10000) as blocker:
        offline.start(_entry())
    assert "offline" in blocker.args[1]
    assert len(fake_hub.requests) == before
    assert not offline.start(ModelEntry(id="b", name="b", modality="text", source="bundled"))
