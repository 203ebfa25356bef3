"""The catalog's view of the disk: HF cache discovery, states, and the cheap cached scan."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from studio.errors import WrongModelKind
from studio.models import catalog as catalog_mod
from studio.models.catalog import Catalog, hf_cache_dir
from studio.models.hub_cache import hub_snapshot, repo_folder
from studio.models.resolve import resolve

from .models_helpers import commit_for, diffusers_index, hub_cache, llama_config, make_cached_repo, musicgen_config


def test_hf_cache_dir_is_read_from_the_environment_at_call_time(monkeypatch, tmp_path):
    assert hf_cache_dir() == hub_cache()
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "elsewhere"))
    assert hf_cache_dir() == tmp_path / "elsewhere" / "hub"
    assert repo_folder("a/b") == tmp_path / "elsewhere" / "hub" / "models--a--b"


def test_cached_models_are_discovered_per_modality():
    make_cached_repo("me/tiny-llama", {"config.json": llama_config(), "model.safetensors": b"w" * 300})
    make_cached_repo("me/tiny-music", {"config.json": musicgen_config(), "model.safetensors": b"m" * 10})
    make_cached_repo("me/tiny-sd", {"model_index.json": diffusers_index(), "unet/x.safetensors": b"u"})
    make_cached_repo("me/encoder", {"config.json": json.dumps({"model_type": "bert"}).encode()})
    make_cached_repo("me/half-done", {"config.json": llama_config()}, ref=False)  # interrupted download
    make_cached_repo("stabilityai/sd-turbo", {"model_index.json": diffusers_index(), "unet/w.safetensors": b"u"})  # in the catalog
    make_cached_repo("me/config-only", {"config.json": llama_config()})  # a fetch cut short: not a model yet

    catalog = Catalog()
    text = {e.id: e for e in catalog.entries("text", include_cached=True)}
    assert "me/tiny-llama" in text and "me/tiny-llama" not in {e.id for e in catalog.entries("text")}
    found = text["me/tiny-llama"]
    assert (found.source, found.repo_id, found.format) == ("hub", "me/tiny-llama", "transformers")
    assert found.size_bytes == len(llama_config()) + 300
    assert catalog.state(found) == "downloaded"
    assert [e.id for e in catalog.entries("music", include_cached=True) if e.source == "hub"][-1] == "me/tiny-music"
    image_ids = [e.id for e in catalog.entries("image", include_cached=True)]
    assert "me/tiny-sd" in image_ids
    assert image_ids.count("stabilityai/sd-turbo") == 0  # listed once, as the catalog's own entry
    assert catalog.state(catalog.find("sd-turbo")) == "downloaded"
    all_ids = {e.id for e in catalog.entries(include_cached=True)}
    assert "me/encoder" not in all_ids  # not a kind of model Studio runs
    assert "me/half-done" not in all_ids  # not finished
    assert "me/config-only" not in all_ids  # no weights

    repos = catalog.cached_repos()
    assert repos["me/half-done"].complete is False and repos["me/tiny-llama"].complete is True


def test_states_follow_the_disk_without_an_explicit_refresh():
    catalog = Catalog()
    entry = catalog.find("smollm2-360m-instruct")
    assert catalog.state(entry) == "downloadable"
    make_cached_repo(entry.repo_id, {"config.json": llama_config(), "model.safetensors": b"w"})
    assert catalog.state(entry) == "downloaded"
    shutil.rmtree(repo_folder(entry.repo_id))
    assert catalog.state(entry) == "downloadable"


def test_the_cache_scan_is_reused_until_something_changes(monkeypatch):
    calls = []
    real = catalog_mod.scan_hub_cache
    monkeypatch.setattr(catalog_mod, "scan_hub_cache", lambda root=None: calls.append(root) or real(root))
    make_cached_repo("me/tiny-llama", {"config.json": llama_config(), "model.safetensors": b"w"})
    catalog = Catalog()
    for _ in range(3):
        states = [catalog.state(e) for e in catalog.entries(include_cached=True)]
    assert len(calls) == 1
    assert "downloaded" in states
    make_cached_repo("me/other", {"config.json": llama_config(), "model.safetensors": b"w"})
    assert "me/other" in {e.id for e in catalog.entries("text", include_cached=True)}
    assert len(calls) == 2
    catalog.refresh()
    catalog.cached_repos()
    assert len(calls) == 3


def test_bundled_and_local_states(tmp_path):
    catalog = Catalog()
    assert catalog.state(catalog.find("smollm2-135m-instruct")) == "bundled"
    assert catalog.state(catalog.find("piper-joe-medium")) == "bundled"
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.json").write_bytes(llama_config())
    entry = catalog.add_local(folder, "text")
    assert catalog.state(entry) == "local"
    assert entry in catalog.entries("text")
    shutil.rmtree(folder)
    assert catalog.state(entry) == "missing"


def test_a_pattern_download_by_another_tool_counts_as_downloaded():
    """huggingface_hub's own ``snapshot_download(..., allow_patterns=...)`` records the full repo tree;
    its ``local_files_only`` look-up then calls the snapshot "incomplete" (the .bin it skipped is
    missing). Studio must still find the model."""
    from huggingface_hub import snapshot_download
    from huggingface_hub._tree_cache import TreeCacheEntry, write_tree_cache

    repo = "me/tiny-llama"
    snapshot = make_cached_repo(repo, {"config.json": llama_config(), "model.safetensors": b"w"})
    tree = {
        "config.json": TreeCacheEntry(size=10, blob_id="a" * 40),
        "model.safetensors": TreeCacheEntry(size=1, blob_id="b" * 40, lfs_sha256="c" * 64, lfs_size=1),
        "pytorch_model.bin": TreeCacheEntry(size=1, blob_id="d" * 40, lfs_sha256="e" * 64, lfs_size=1),
    }
    write_tree_cache(str(repo_folder(repo)), commit_for(repo), tree)
    with pytest.raises(Exception, match="incomplete"):
        snapshot_download(repo, local_files_only=True, cache_dir=hub_cache())
    assert hub_snapshot(repo) == snapshot
    assert Catalog().state(next(e for e in Catalog().entries(include_cached=True) if e.id == repo)) == "downloaded"


def test_discovered_models_resolve_offline_and_keep_their_kind():
    snapshot = make_cached_repo("me/tiny-llama", {"config.json": llama_config(), "model.safetensors": b"w"})
    make_cached_repo("me/tiny-music", {"config.json": musicgen_config(), "model.safetensors": b"w"})
    resolved = resolve("me/tiny-llama", "text", offline=True)
    assert resolved.path == snapshot and resolved.modality == "text" and resolved.format == "transformers"
    with pytest.raises(WrongModelKind, match="music model"):
        resolve("me/tiny-music", "text", offline=True)


def test_find_is_the_one_look_up_by_id_hub_id_or_local_path(tmp_path):
    make_cached_repo("me/tiny-llama", {"config.json": llama_config(), "model.safetensors": b"w"})
    catalog = Catalog()
    turbo = catalog.find("sd-turbo")
    assert turbo is not None and turbo.repo_id == "stabilityai/sd-turbo"
    assert catalog.find("stabilityai/sd-turbo") == turbo == catalog.find("  sd-turbo ")
    assert catalog.find("me/tiny-llama").source == "hub"  # a finished download the catalog does not list
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.json").write_bytes(llama_config())
    local = catalog.add_local(folder, "text")
    assert catalog.find(str(folder)) == local == catalog.find(local.id) == catalog.find(str(folder / ".." / "mine"))
    assert catalog.find("sd-turbo", "text") is None and catalog.find(str(folder), "text") == local
    for unknown in ("", "nobody/nothing", str(tmp_path / "elsewhere"), "bad\x00path"):
        assert catalog.find(unknown) is None
    # the resolver uses it: a listed model's hub id resolves to its catalog entry (with its download patterns)
    make_cached_repo("stabilityai/sd-turbo", {"model_index.json": diffusers_index(), "unet/w.safetensors": b"u"})
    resolved = resolve("stabilityai/sd-turbo", "image", offline=True, catalog=catalog)
    assert resolved.id == "sd-turbo" and resolved.entry == turbo
    assert resolve(str(folder), "text", catalog=catalog).entry == local


def test_formats_are_sniffed_in_one_module(tmp_path, tiny_gguf):
    from studio.models.formats import detect_format, modality_of

    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    (tmp_path / "v.ckpt").write_bytes(b"x")
    music = tmp_path / "music"
    music.mkdir()
    (music / "config.json").write_bytes(musicgen_config())
    assert [detect_format(tmp_path / n) for n in ("m.gguf", "v.ckpt", "music")] == ["gguf", "single_file", "transformers"]
    assert modality_of(music, "transformers") == "music" and modality_of(Path(tiny_gguf), "gguf") == "text"
    # a GGUF too short to read could be a language model or a picture transformer: the engine that opens it says why
    assert modality_of(tmp_path / "m.gguf", "gguf") == ""
