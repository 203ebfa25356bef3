"""``studio models list|download|delete|add`` through the real CLI entry point."""

from __future__ import annotations

import argparse
import json
import shutil
import socket

import pytest

from studio import cli
from studio.cli.common import make_runtime
from studio.config import Config
from studio.errors import NotDownloaded
from studio.models.catalog import Catalog
from studio.models.hub_cache import hub_snapshot

from .models_helpers import (  # noqa: F401  (fake_hub is a fixture)
    diffusers_index,
    fake_hub,
    llama_config,
    make_cached_repo,
)


def run(*argv) -> int:
    return cli.main(["models", *argv])


def _llm_folder(root, name="my-llm"):
    folder = root / name
    folder.mkdir()
    (folder / "config.json").write_bytes(llama_config())
    return folder


def test_list_shows_every_state_per_modality(capsys, tmp_path):
    make_cached_repo("stabilityai/sd-turbo", {"model_index.json": diffusers_index(), "unet/w.safetensors": b"u"})
    make_cached_repo("me/found-llm", {"config.json": llama_config(), "model.safetensors": b"w"})
    make_cached_repo("stable-diffusion-v1-5/stable-diffusion-v1-5", {"model_index.json": diffusers_index()})  # config only
    Catalog().add_local(_llm_folder(tmp_path), "text")
    gone = _llm_folder(tmp_path, "gone")
    Catalog().add_local(gone, "text")
    shutil.rmtree(gone)

    assert run("list") == 0
    out = capsys.readouterr().out
    sections = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert sections == ["TEXT", "IMAGE", "SPEECH", "MUSIC", "IMAGE-TOOLS"]
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert lines["smollm2-135m-instruct"].split()[1] == "bundled"
    assert lines["sd-turbo"].split()[1] == "downloaded"
    assert lines["sd-1.5"].split()[1] == "downloadable"  # a partial cache (no weights) is not a download
    assert lines["sdxl-turbo"].split()[1] == "downloadable" and "6.9 GB" in lines["sdxl-turbo"]
    assert "needs 8.0 GB" in lines["sdxl-turbo"]
    assert lines["me/found-llm"].split()[1] == "downloaded"
    assert lines[f"local:{(tmp_path / 'my-llm').resolve()}"].split()[1] == "local"
    assert lines[f"local:{gone.resolve()}"].split()[1] == "missing"

    assert run("list", "--modality", "image", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert {d["modality"] for d in data} == {"image"}
    assert {d["id"]: d["state"] for d in data}["sd-turbo"] == "downloaded"


def test_download_a_hub_id_and_a_catalog_id(fake_hub, capsys):
    fake_hub.add_repo("someone/new-llm", {"config.json": llama_config(), "model.safetensors": b"w" * 5000})
    assert run("download", "someone/new-llm") == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(hub_snapshot("someone/new-llm"))
    assert "Downloading someone/new-llm" in captured.err
    assert run("list", "--modality", "text", "--json") == 0
    states = {d["id"]: d["state"] for d in json.loads(capsys.readouterr().out)}
    assert states["someone/new-llm"] == "downloaded"

    # a catalog id downloads its repo with the catalog's patterns; --include overrides
    fake_hub.add_repo(
        "HuggingFaceTB/SmolLM2-360M-Instruct",
        {"config.json": llama_config(), "model.safetensors": b"s" * 100, "onnx/model.onnx": b"o", "README.md": b"r"},
    )
    assert run("download", "smollm2-360m-instruct") == 0
    snapshot = hub_snapshot("HuggingFaceTB/SmolLM2-360M-Instruct")
    assert sorted(p.name for p in snapshot.rglob("*") if p.is_file()) == ["config.json", "model.safetensors"]
    assert run("download", "smollm2-360m-instruct", "--include", "README.md") == 0
    assert (snapshot / "README.md").exists()
    assert run("download", "smollm2-135m-instruct") == 0  # bundled: nothing to do
    assert "ships with Studio" in capsys.readouterr().err


def test_download_offline_or_unknown_fails_with_one_line(monkeypatch, capsys):
    attempts = []
    monkeypatch.setattr(
        socket.socket, "connect", lambda self, a: attempts.append(a) or (_ for _ in ()).throw(OSError())
    )
    assert run("download", "sd-turbo") == 1
    err = capsys.readouterr().err
    assert err.startswith("studio: error: 'stabilityai/sd-turbo' is not downloaded and Studio is offline")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert run("download", "no such thing") == 1
    assert "not a catalog id or a hub id" in capsys.readouterr().err
    assert attempts == []


def test_delete_and_add(capsys, tmp_path):
    make_cached_repo("stabilityai/sd-turbo", {"model_index.json": diffusers_index(), "unet/w.safetensors": b"u" * 100})
    assert run("delete", "sd-turbo") == 0
    assert "Deleted 'SD-Turbo" in capsys.readouterr().out
    assert hub_snapshot("stabilityai/sd-turbo") is None
    assert run("delete", "sd-turbo") == 0  # already gone: says so, no error
    assert "not downloaded" in capsys.readouterr().err
    assert run("delete", "nope") == 1
    assert "No model 'nope' to delete" in capsys.readouterr().err

    folder = _llm_folder(tmp_path)
    assert run("add", str(folder), "--modality", "text", "--name", "Mine") == 0
    assert capsys.readouterr().out.startswith(f"Added local:{folder.resolve()} (text, transformers")
    entry = Catalog().find(f"local:{folder.resolve()}")
    assert entry.name == "Mine" and entry.modality == "text"
    assert run("add", str(folder), "--modality", "image") == 1
    assert "looks like a text model" in capsys.readouterr().err
    junk = tmp_path / "junk"
    junk.mkdir()
    assert run("add", str(junk)) == 1
    assert "not a model Studio can read" in capsys.readouterr().err

    assert run("delete", str(folder)) == 0  # by path works too
    assert "its files stay" in capsys.readouterr().out
    assert Catalog().find(entry.id) is None and (folder / "config.json").exists()


def test_offline_is_read_once_at_start_and_passed_down(fake_hub, monkeypatch, capsys):
    """The CLI builds its Config from the environment when it starts and hands ``offline`` down;
    below it nothing looks at HF_HUB_OFFLINE (huggingface_hub's frozen copy included)."""
    from huggingface_hub import constants

    fake_hub.add_repo("someone/llm", {"config.json": llama_config(), "model.safetensors": b"w" * 100})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert run("download", "someone/llm") == 1
    assert "Studio is offline" in capsys.readouterr().err and fake_hub.requests == []
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # the hub client froze "1" at import
    assert run("download", "someone/llm") == 0
    assert capsys.readouterr().out.strip() == str(hub_snapshot("someone/llm"))


def test_the_cli_runtime_takes_offline_from_its_config_not_the_environment(fake_hub, monkeypatch):
    fake_hub.add_repo("someone/llm", {"config.json": llama_config(), "model.safetensors": b"w" * 100})
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    offline = make_runtime(argparse.Namespace(config=Config(device="cpu", offline=True)))
    assert (offline.device, offline.offline) == ("cpu", True)
    with pytest.raises(NotDownloaded, match="offline"):
        offline.resolve("someone/llm", "text")
    assert fake_hub.requests == []
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    online = make_runtime(argparse.Namespace(config=Config(offline=False)))
    resolved = online.resolve("someone/llm", "text")  # downloaded through the CLI's downloader
    assert resolved.path == hub_snapshot("someone/llm") and resolved.format == "transformers"
    assert fake_hub.requests
