"""Model folders used in place: each layout (ComfyUI, A1111/Forge, LM Studio/GPT4All, Ollama, a Hugging
Face cache) built here with tiny models, found with the kind read from the files, run without copies;
missing files, link loops, unreadable folders and 10,000 empty files handled."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from studio import cli
from studio.models.catalog import Catalog
from studio.models.folders import ModelFolders, scan_folder
from studio.models.resolve import resolve

ONE = np.zeros((1,), dtype=np.float32)


def weights(path: Path, keys) -> Path:
    """A .safetensors file whose tensor names are those of a real model of its kind (tiny tensors)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: ONE for k in keys}, str(path))
    return path


SDXL_KEYS = ["model.diffusion_model.input_blocks.0.0.weight", "conditioner.embedders.0.transformer.text_model.x",
             "conditioner.embedders.1.model.ln_final.weight", "first_stage_model.decoder.conv_in.weight"]
SD2_KEYS = ["model.diffusion_model.input_blocks.0.0.weight", "cond_stage_model.model.ln_final.weight"]
LORA_KEYS = ["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight",
             "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight", "lora_unet_down_blocks_0_attentions_0_proj_in.alpha"]
VAE_KEYS = ["encoder.conv_in.weight", "decoder.conv_out.weight", "quant_conv.weight", "post_quant_conv.weight"]
CONTROLNET_KEYS = ["control_model.input_hint_block.0.weight", "control_model.zero_convs.0.0.weight"]
ESRGAN_KEYS = ["conv_first.weight", "RRDB_trunk.0.RDB1.conv1.weight", "upconv1.weight", "conv_last.weight"]
EMBEDDING_KEYS = ["emb_params"]


def _by_name(scan):
    return {Path(m.path).name if m.layout != "ollama" else m.name: m for m in scan.models}


def _kinds(scan):
    return {name: (m.modality, m.role) for name, m in _by_name(scan).items()}


def comfyui(root: Path, single: Path, tiny_sd: Path, gguf: str) -> Path:
    models = root / "ComfyUI" / "models"
    (models / "checkpoints").mkdir(parents=True)
    shutil.copy(single, models / "checkpoints" / "tiny-sd15.safetensors")
    weights(models / "checkpoints" / "sdxl-base.safetensors", SDXL_KEYS)
    shutil.copytree(tiny_sd, models / "diffusers" / "tiny-sd-pipeline")
    # names and folders lie: the kind comes from the files
    weights(models / "loras" / "realistic-checkpoint-v5.safetensors", LORA_KEYS)
    weights(models / "vae" / "vae-ft-mse.safetensors", VAE_KEYS)
    weights(models / "controlnet" / "control_canny.safetensors", CONTROLNET_KEYS)
    weights(models / "upscale_models" / "4x-UltraSharp.safetensors", ESRGAN_KEYS)
    weights(models / "embeddings" / "easynegative.safetensors", EMBEDDING_KEYS)
    (models / "checkpoints" / "put_checkpoints_here").write_text("")
    (models / "checkpoints" / "notes.txt").write_text("not a model")
    (models / "checkpoints" / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    return models


def test_comfyui_layout(tmp_path, tiny_sd, tiny_sd_single_file, tiny_gguf):
    models = comfyui(tmp_path, tiny_sd_single_file, tiny_sd, tiny_gguf)
    scan = scan_folder(models.parent)  # ComfyUI/ or ComfyUI/models both work
    assert _kinds(scan) == {
        "tiny-sd15.safetensors": ("image", "model"),
        "sdxl-base.safetensors": ("image", "model"),
        "tiny-sd-pipeline": ("image", "model"),
        "realistic-checkpoint-v5.safetensors": ("", "lora"),
        "vae-ft-mse.safetensors": ("", "vae"),
        "control_canny.safetensors": ("", "controlnet"),
        "4x-UltraSharp.safetensors": ("", "upscaler"),
        "easynegative.safetensors": ("", "embedding"),
    }
    found = _by_name(scan)
    assert found["tiny-sd15.safetensors"].family == "sd1" and found["sdxl-base.safetensors"].family == "sdxl"
    from studio.engines.image_loading import family_from_folder

    pipeline = found["tiny-sd-pipeline"]  # the same family the image loader reads from the folder
    assert pipeline.format == "diffusers" and pipeline.family == family_from_folder(Path(pipeline.path))


def test_a1111_layout_with_a_yaml_config_and_a_pickled_checkpoint(tmp_path, tiny_sd, monkeypatch):
    import pickle

    import torch

    from studio.testing.tiny_sd import export_single_file

    webui = tmp_path / "stable-diffusion-webui"
    sd = webui / "models" / "Stable-diffusion"
    sd.mkdir(parents=True)
    export_single_file(tiny_sd, sd / "tiny.ckpt", pickle=True)
    weights(sd / "v2-768.safetensors", SD2_KEYS)
    (sd / "v2-768.yaml").write_text('model:\n  params:\n    parameterization: "v"\n')
    weights(webui / "models" / "Lora" / "style.safetensors", LORA_KEYS)
    weights(webui / "models" / "VAE" / "kl-f8.safetensors", VAE_KEYS)
    weights(webui / "models" / "ControlNet" / "openpose.safetensors", CONTROLNET_KEYS)
    weights(webui / "models" / "ESRGAN" / "RealESRGAN.safetensors", ESRGAN_KEYS)
    weights(webui / "embeddings" / "bad-hands.safetensors", EMBEDDING_KEYS)

    def never(*a, **k):
        raise AssertionError("a scan must not unpickle anything")

    monkeypatch.setattr(pickle, "load", never)
    monkeypatch.setattr(pickle, "loads", never)
    monkeypatch.setattr(torch, "load", never)
    scan = scan_folder(webui)
    assert _kinds(scan) == {
        "tiny.ckpt": ("image", "model"), "v2-768.safetensors": ("image", "model"),
        "style.safetensors": ("", "lora"), "kl-f8.safetensors": ("", "vae"),
        "openpose.safetensors": ("", "controlnet"), "RealESRGAN.safetensors": ("", "upscaler"),
        "bad-hands.safetensors": ("", "embedding"),
    }
    found = _by_name(scan)
    assert found["tiny.ckpt"].family == "sd1" and "pickled" in found["tiny.ckpt"].note
    assert found["v2-768.safetensors"].family == "sd2"
    assert found["v2-768.safetensors"].config == str(sd / "v2-768.yaml")


def _ollama(root: Path, gguf: str) -> Path:
    blob_bytes = Path(gguf).read_bytes()
    digest = hashlib.sha256(blob_bytes).hexdigest()
    (root / "blobs").mkdir(parents=True)
    (root / "blobs" / f"sha256-{digest}").write_bytes(blob_bytes)
    template = b"{{ .Prompt }}"
    tdigest = hashlib.sha256(template).hexdigest()
    (root / "blobs" / f"sha256-{tdigest}").write_bytes(template)
    manifest = {"schemaVersion": 2, "layers": [
        {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}", "size": len(blob_bytes)},
        {"mediaType": "application/vnd.ollama.image.template", "digest": f"sha256:{tdigest}", "size": len(template)}]}
    tag = root / "manifests" / "registry.ollama.ai" / "library" / "tinyllama" / "latest"
    tag.parent.mkdir(parents=True)
    tag.write_text(json.dumps(manifest))
    other = root / "manifests" / "registry.ollama.ai" / "me" / "broken" / "v1"
    other.parent.mkdir(parents=True)
    other.write_text("{not json")
    return root / "blobs" / f"sha256-{digest}"


def _hf_cache(root: Path, tiny_sd: Path, gguf: str) -> None:
    repo = root / "models--someone--tiny-sd"
    snap = repo / "snapshots" / "abc123"
    shutil.copytree(tiny_sd, snap)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    grepo = root / "models--someone--tiny-gguf"
    (grepo / "snapshots" / "def456").mkdir(parents=True)
    (grepo / "blobs").mkdir()
    shutil.copy(gguf, grepo / "blobs" / "0123abcd")
    os.symlink(grepo / "blobs" / "0123abcd", grepo / "snapshots" / "def456" / "tiny-Q8_0.gguf")


def test_text_layouts_ollama_and_hf_cache(tmp_path, tiny_gguf, tiny_sd):
    lmstudio = tmp_path / "lmstudio" / "models"
    (lmstudio / "someone" / "tiny-GGUF").mkdir(parents=True)
    shutil.copy(tiny_gguf, lmstudio / "someone" / "tiny-GGUF" / "tiny-Q4_K_M.gguf")
    shutil.copy(tiny_gguf, lmstudio / "someone" / "tiny-GGUF" / "big-00001-of-00002.gguf")
    shutil.copy(tiny_gguf, lmstudio / "someone" / "tiny-GGUF" / "big-00002-of-00002.gguf")
    (lmstudio / "someone" / "tiny-GGUF" / "fake.gguf").write_bytes(b"not a gguf at all")
    assert _kinds(scan_folder(lmstudio)) == {"tiny-Q4_K_M.gguf": ("text", "model"),
                                             "big-00001-of-00002.gguf": ("text", "model")}

    ollama = tmp_path / ".ollama" / "models"
    blob = _ollama(ollama, tiny_gguf)
    scan = scan_folder(ollama)
    assert [(m.name, m.modality, m.format, m.path) for m in scan.models] == [("tinyllama:latest", "text", "gguf",
                                                                            str(blob))]
    hub = tmp_path / "hf" / "hub"
    _hf_cache(hub, tiny_sd, tiny_gguf)
    scan = scan_folder(hub)
    assert sorted((m.name, m.modality, m.format, m.layout) for m in scan.models) == [
        ("someone/tiny-gguf/tiny-Q8_0", "text", "gguf", "hf-cache"),
        ("someone/tiny-sd", "image", "diffusers", "hf-cache")]


def test_folder_models_run_in_place_and_a_removed_one_shows_missing(tmp_path, tiny_gguf, capsys):
    from studio.engines.base import CancelToken, Runtime
    from studio.engines.text import TextEngine
    from studio.events import Output
    from studio.requests import ChatMessage, TextRequest
    from studio.testing.events import collect

    lmstudio = tmp_path / "lmstudio"
    (lmstudio / "pub" / "repo").mkdir(parents=True)
    model = lmstudio / "pub" / "repo" / "tiny.gguf"
    shutil.copy(tiny_gguf, model)
    ollama = tmp_path / "ollama"
    blob = _ollama(ollama, tiny_gguf)
    def listing():
        return sorted([*lmstudio.rglob("*"), *ollama.rglob("*")])

    before = listing()

    assert cli.main(["models", "add-folder", str(lmstudio)]) == 0
    assert "1 text model" in capsys.readouterr().out
    assert cli.main(["models", "add-folder", str(ollama), "--json"]) == 0
    (found,) = json.loads(capsys.readouterr().out)["models"]
    assert found["name"] == "tinyllama:latest" and found["id"] == f"folder:{blob}"

    catalog = Catalog()
    ids = {e.id: e for e in catalog.entries("text")}
    assert f"folder:{model}" in ids and f"folder:{blob}" in ids
    assert catalog.state(ids[f"folder:{model}"]) == "local"
    for model_id, path in ((f"folder:{model}", model), (f"folder:{blob}", blob)):
        resolved = resolve(model_id, "text", catalog=catalog)
        assert resolved.path == path and resolved.format == "gguf"  # the file itself, where it is
        request = TextRequest(messages=(ChatMessage("user", "hi"),), model=model_id, max_new_tokens=4, threads=1,
                              seed=1)
        events, stats = collect(TextEngine().run(request, Runtime(device="cpu"), CancelToken()))
        assert stats.tokens == 4 and any(isinstance(e, Output) for e in events)
    assert listing() == before  # nothing copied, nothing written beside them
    assert not (Path(os.environ["STUDIO_HOME"]) / "cache" / "gguf").exists()

    assert cli.main(["models", "list", "--modality", "text", "--json"]) == 0
    states = {r["id"]: r["state"] for r in json.loads(capsys.readouterr().out)}
    assert states[f"folder:{model}"] == "local"
    model.unlink()
    assert cli.main(["models", "list", "--modality", "text", "--json"]) == 0
    assert {r["id"]: r["state"] for r in json.loads(capsys.readouterr().out)}[f"folder:{model}"] == "missing"
    assert cli.main(["models", "rescan", "--json"]) == 0
    scans = json.loads(capsys.readouterr().out)
    assert [m["state"] for m in scans[0]["models"]] == ["missing"]  # still listed, as missing
    assert cli.main(["models", "remove-folder", str(lmstudio)]) == 0
    assert f"folder:{model}" not in {e.id for e in Catalog().entries("text")}


def test_a1111_checkpoint_runs_in_place(tmp_path, tiny_family):
    from studio.engines.base import CancelToken, Runtime
    from studio.engines.image import ImageEngine
    from studio.events import Output
    from studio.requests import ImageRequest
    from studio.testing.events import collect

    _folder, single, config_root = tiny_family("sd1")
    sd = tmp_path / "webui" / "models" / "Stable-diffusion"
    sd.mkdir(parents=True)
    shutil.copy(single, sd / "tiny.safetensors")
    ModelFolders().add(tmp_path / "webui")
    (entry,) = [e for e in Catalog().entries("image") if e.id.startswith("folder:")]
    assert entry.family == "sd1" and entry.format == "single_file" and entry.path == str(sd / "tiny.safetensors")

    def make(model):
        request = ImageRequest(prompt="a fox", model=model, width=64, height=64, num_inference_steps=2, seed=3)
        events, _ = collect(ImageEngine(config_root=config_root).run(request, Runtime(device="cpu"), CancelToken()))
        return next(e for e in events if isinstance(e, Output)).data

    assert np.array_equal(np.asarray(make(entry.id)), np.asarray(make(str(single))))


def test_link_loops_unreadable_folders_and_10000_empty_files(tmp_path, tiny_gguf):
    root = tmp_path / "models"
    (root / "a" / "b").mkdir(parents=True)
    os.symlink(root, root / "a" / "b" / "loop")  # a loop back to the top
    os.symlink(root / "a", root / "a" / "b" / "up")
    shutil.copy(tiny_gguf, root / "a" / "model.gguf")
    secret = root / "secret"
    secret.mkdir()
    shutil.copy(tiny_gguf, secret / "hidden.gguf")
    empty = root / "empty"
    empty.mkdir()
    for i in range(10_000):
        suffix = (".safetensors", ".gguf", ".ckpt", ".txt")[i % 4]
        (empty / f"f{i}{suffix}").touch()
    secret.chmod(0)
    try:
        readable = os.access(secret, os.R_OK)  # root reads anything: then it is just another folder
        scan = scan_folder(root)
    finally:
        secret.chmod(0o755)
    names = sorted(Path(m.path).name for m in scan.models)
    assert names == (["model.gguf"] if not readable else ["hidden.gguf", "model.gguf"])
    assert scan.files_seen >= 10_000
    assert any("loop" in p or "already scanned" in p for p in scan.problems)
    if not readable:
        assert any("secret" in p for p in scan.problems)


def test_add_folder_refuses_what_is_not_a_folder(tmp_path, capsys):
    assert cli.main(["models", "add-folder", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("studio: error:") and "No folder" in err
    (tmp_path / "file").write_text("x")
    assert cli.main(["models", "add-folder", str(tmp_path / "file")]) == 1
    assert cli.main(["models", "folders"]) == 0
    assert "No model folders yet" in capsys.readouterr().out


def test_models_window_add_folder_and_missing(qtbot, tmp_path, tiny_gguf):
    from studio.jobs.downloads import DownloadManager
    from studio.ui.models_window import ModelsWindow

    gpt4all = tmp_path / "GPT4All"
    gpt4all.mkdir()
    model = gpt4all / "tiny-chat.Q4_0.gguf"
    shutil.copy(tiny_gguf, model)
    weights(gpt4all / "not-a-model.safetensors", VAE_KEYS)
    manager = DownloadManager()
    window = ModelsWindow(Catalog(tmp_path / "user_models.json"), manager)
    qtbot.addWidget(window)
    window.show()
    try:
        with qtbot.waitSignal(window.models_changed, timeout=30_000):
            assert window.add_model_folder(gpt4all)
        model_id = f"folder:{model}"
        assert model_id in window.model_ids("text")
        assert window.state_text(model_id) != "" and "issing" not in window.state_text(model_id)
        assert "1 model(s)" in window.status.text() and "nothing copied" in window.status.text()
        assert not window.delete_entry(model_id) and "used in place" in window.status.text()
        model.unlink()
        window.refresh()
        assert "issing" in window.state_text(model_id)
        assert not window.add_model_folder(tmp_path / "nope") and "not a folder" in window.status.text()
    finally:
        window.scanner.wait()
        manager.shutdown()


def test_image_tab_offers_the_folders_loras_and_vaes(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from studio.library.store import Library
    from studio.ui.main_window import MainWindow
    from studio.ui.settings import Settings

    comfy = tmp_path / "ComfyUI" / "models"
    lora = weights(comfy / "loras" / "ink-style.safetensors", LORA_KEYS)
    vae = weights(comfy / "vae" / "kl-f8-anime.safetensors", VAE_KEYS)
    catalog = Catalog(tmp_path / "user_models.json")
    ModelFolders(catalog.folders_file).add(comfy)
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings, Library(tmp_path / "lib"), catalog)
    qtbot.addWidget(window)
    form = window.tab("image").form
    form.loras.folder_menu.fill()
    (action,) = [a for a in form.loras.folder_menu.actions() if a.data()]
    assert action.text() == "ink-style"
    action.trigger()
    assert [s.path for s in form.build_request().loras] == [str(lora)]  # used where it is
    form.vae_menu.fill()
    (action,) = [a for a in form.vae_menu.actions() if a.data()]
    action.trigger()
    assert form.build_request().vae == str(vae)
    lora.unlink()
    form.loras.folder_menu.fill()
    assert [a.data() for a in form.loras.folder_menu.actions()] == [None]  # gone: only the "none" line
    window.close()


def test_folders_are_rescanned_when_the_window_starts(qtbot, tmp_path, tiny_gguf):
    from PySide6.QtCore import QSettings

    from studio.library.store import Library
    from studio.ui.main_window import MainWindow
    from studio.ui.settings import Settings

    folder = tmp_path / "gguf"
    folder.mkdir()
    catalog = Catalog(tmp_path / "user_models.json")
    ModelFolders(catalog.folders_file).add(folder)  # empty when registered
    shutil.copy(tiny_gguf, folder / "arrived-later.gguf")
    assert not any(e.id.startswith("folder:") for e in catalog.entries("text"))
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings, Library(tmp_path / "lib"), catalog, engine_factory=lambda kind: None)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.folder_scanner.finished, timeout=30_000):
        window.show()
    assert f"folder:{folder / 'arrived-later.gguf'}" in {e.id for e in catalog.entries("text")}
    picker = window.tab("text").model_picker
    assert any(str(folder / "arrived-later.gguf") in str(picker.itemData(i)) for i in range(picker.count()))
    window.close()
