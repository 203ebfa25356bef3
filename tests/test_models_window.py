"""The Models window and the tabs' model pickers, driven with qtbot (downloads over a local fake hub)."""

from __future__ import annotations


import pytest

from studio.models.catalog import Catalog, ModelEntry
from studio.models.hub_cache import hub_snapshot

from .models_helpers import (  # noqa: F401  (fake_hub is a fixture)
    diffusers_index,
    fake_hub,
    fake_weights,
    llama_config,
    make_cached_repo,
)


@pytest.fixture
def manager(qtbot):
    from studio.jobs.downloads import DownloadManager

    m = DownloadManager()
    yield m
    assert m.shutdown()


def _window(qtbot, catalog, manager):
    from studio.ui.models_window import ModelsWindow

    window = ModelsWindow(catalog, manager)
    qtbot.addWidget(window)
    return window


def _picker(qtbot, modality, catalog):
    from studio.ui.model_picker import ModelPicker

    picker = ModelPicker(modality, catalog)
    qtbot.addWidget(picker)
    return picker


def _tiny_model_folder(root, name="my-llm"):
    folder = root / name
    folder.mkdir()
    (folder / "config.json").write_bytes(llama_config())
    (folder / "model.safetensors").write_bytes(b"w" * 2048)
    return folder


def test_window_lists_every_modality_with_state_size_memory_and_licence(qtbot, manager):
    make_cached_repo("stabilityai/sd-turbo", {"model_index.json": diffusers_index(), "unet/w.safetensors": b"u" * 10})
    make_cached_repo("me/found-llm", {"config.json": llama_config(), "model.safetensors": b"w" * 100})
    window = _window(qtbot, Catalog(), manager)

    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Text", "Image", "Speech", "Music", "Image tools"]
    assert window.state_text("smollm2-135m-instruct") == "bundled"
    assert window.state_text("piper-joe-medium") == "bundled"
    assert window.state_text("sd-turbo") == "downloaded"
    assert window.state_text("sdxl-turbo") == "downloadable"
    assert window.state_text("musicgen-small") == "downloadable"
    assert window.cell_text("sdxl-turbo", 2) == "6.9 GB" and window.cell_text("sdxl-turbo", 3) == "8.0 GB"
    assert window.cell_text("musicgen-small", 4).startswith("CC-BY-NC-4.0")
    # a hub model found in the cache, listed under its kind
    assert "me/found-llm" in window.model_ids("text")
    assert window.state_text("me/found-llm") == "downloaded"

    window.select("sdxl-turbo")
    assert window.download_button.isEnabled() and not window.delete_button.isEnabled()
    window.select("sd-turbo")
    assert window.delete_button.isEnabled() and not window.download_button.isEnabled()
    window.select("smollm2-135m-instruct")
    assert not window.delete_button.isEnabled() and not window.download_button.isEnabled()


def test_add_local_folder_shows_in_window_and_picker_and_delete_only_forgets_it(qtbot, manager, tmp_path):
    catalog = Catalog()
    window = _window(qtbot, catalog, manager)
    picker = _picker(qtbot, "text", catalog)
    window.models_changed.connect(picker.refresh)  # what the main window wires
    folder = _tiny_model_folder(tmp_path)

    with qtbot.waitSignal(window.models_changed, timeout=2000):
        entry = window.add_local_path(folder)
    assert entry is not None and entry.modality == "text"
    assert entry.id in window.model_ids("text")
    assert window.state_text(entry.id) == "local"
    assert window.selected_id() == entry.id
    assert picker.label_of(entry.id) == "my-llm — local"
    assert window.delete_button.text() == "Remove from list"

    picker.set_model_spec(entry.id)
    assert picker.current_model_spec() == entry.id
    with qtbot.waitSignal(window.models_changed, timeout=2000):
        assert window.delete_entry(entry.id)
    assert entry.id not in window.model_ids("text")
    assert entry.id not in picker.entry_ids()
    # the picker keeps pointing at the same files, now as a path under "Other…"
    assert picker.current_model_spec() == str(folder.resolve()) and picker.isEditable()
    assert (folder / "config.json").exists() and (folder / "model.safetensors").exists()


def test_add_local_uses_the_kind_the_files_show(qtbot, manager, tmp_path):
    window = _window(qtbot, Catalog(), manager)
    sd = tmp_path / "my-sd"
    sd.mkdir()
    (sd / "model_index.json").write_bytes(diffusers_index())
    window.tabs.setCurrentIndex(0)  # on the Text tab
    entry = window.add_local_path(sd)
    assert entry.modality == "image" and entry.id in window.model_ids("image")
    assert window.current_modality() == "image"

    junk = tmp_path / "notes"
    junk.mkdir()
    (junk / "readme.txt").write_text("hi")
    assert window.add_local_path(junk) is None
    assert "not a model Studio can read" in window.status.text()
    assert window.add_local_path(_tiny_model_folder(tmp_path, "llm2"), modality="music") is None
    assert "looks like a text model" in window.status.text()


def test_delete_a_downloaded_model(qtbot, manager):
    make_cached_repo("stabilityai/sd-turbo", {"model_index.json": diffusers_index(), "unet/w.safetensors": b"u" * 10})
    catalog = Catalog()
    window = _window(qtbot, catalog, manager)
    assert window.state_text("sd-turbo") == "downloaded"
    with qtbot.waitSignal(window.models_changed, timeout=10_000):
        assert window.delete_entry("sd-turbo")
    assert window.state_text("sd-turbo") == "downloadable"
    assert hub_snapshot("stabilityai/sd-turbo") is None
    assert "Deleted" in window.status.text()
    assert not window.delete_entry("smollm2-135m-instruct")  # bundled: refused with a reason
    assert "ships with Studio" in window.status.text()


def test_deleting_runs_off_the_ui_thread_and_the_window_shows_it(qtbot, manager):
    import threading

    from studio.jobs.deletions import ModelDeleter
    from studio.models.download import delete_model

    make_cached_repo("stabilityai/sd-turbo", {"model_index.json": diffusers_index(), "unet/w.safetensors": b"u" * 10})
    release, threads = threading.Event(), []

    def slow_delete(entry, catalog):  # stands for gigabytes leaving the disk
        threads.append(threading.current_thread())
        assert release.wait(10)
        return delete_model(entry, catalog)

    catalog = Catalog()
    deleter = ModelDeleter(catalog, slow_delete)
    from studio.ui.models_window import ModelsWindow

    window = ModelsWindow(catalog, manager, deleter=deleter)
    qtbot.addWidget(window)
    try:
        assert window.delete_entry("sd-turbo")  # returns at once
        assert window.state_text("sd-turbo") == "deleting…" and "Deleting" in window.status.text()
        window.select("sd-turbo")
        assert not window.delete_button.isEnabled() and not window.download_button.isEnabled()
        assert not window.delete_entry("sd-turbo")  # already on its way
        qtbot.wait(100)  # the event loop keeps running meanwhile
        window.refresh()
        assert window.state_text("sd-turbo") == "deleting…"
        assert threads and threads[0] is not threading.main_thread()
    finally:
        release.set()
    with qtbot.waitSignal(window.models_changed, timeout=10_000):
        pass
    assert window.state_text("sd-turbo") == "downloadable" and "Deleted" in window.status.text()
    assert hub_snapshot("stabilityai/sd-turbo") is None


def test_a_failed_deletion_is_shown_and_the_model_stays(qtbot, manager):
    from studio.jobs.deletions import ModelDeleter

    make_cached_repo("stabilityai/sd-turbo", {"model_index.json": diffusers_index(), "unet/w.safetensors": b"u" * 10})

    def refuse(entry, catalog):
        raise PermissionError(13, "Permission denied", "/cache/models--stabilityai--sd-turbo")

    catalog = Catalog()
    from studio.ui.models_window import ModelsWindow

    window = ModelsWindow(catalog, manager, deleter=ModelDeleter(catalog, refuse))
    qtbot.addWidget(window)
    changed = []
    window.models_changed.connect(lambda: changed.append(True))
    with qtbot.waitSignal(window.deleter.failed, timeout=10_000):
        assert window.delete_entry("sd-turbo")
    assert window.status.text().startswith("Could not delete '") and "No permission to use" in window.status.text()
    assert window.state_text("sd-turbo") == "downloaded" and changed == []
    assert hub_snapshot("stabilityai/sd-turbo") is not None


TINY = ModelEntry(
    id="tiny-llm",
    name="Tiny LLM",
    modality="text",
    source="hub",
    repo_id="test-org/tiny-llm",
    format="transformers",
    size_bytes=700 * 1024,
    memory_bytes=1024**3,
    licence="Apache-2.0",
    allow_patterns=("*.json", "*.safetensors"),
)


def test_download_progress_updates_the_row_and_the_picker(qtbot, manager, fake_hub):
    fake_hub.add_repo(TINY.repo_id, {"config.json": llama_config(), "model.safetensors": fake_weights(700 * 1024)})
    fake_hub.delay = 0.01  # ~44 chunks: over 0.4 s, so several throttled progress updates
    catalog = Catalog(builtin=(TINY,))
    window = _window(qtbot, catalog, manager)
    picker = _picker(qtbot, "text", catalog)
    window.models_changed.connect(picker.refresh)
    assert picker.label_of("tiny-llm") == "Tiny LLM — not downloaded"
    assert window.state_text("tiny-llm") == "downloadable"

    seen = []
    manager.progress.connect(lambda *_: seen.append(window.state_text("tiny-llm")))
    window.select("tiny-llm")
    with qtbot.waitSignal(window.models_changed, timeout=20000):
        window.download_selected()
        assert window.cancel_button.isEnabled() and not window.download_button.isEnabled()
    percents = [int(s.split()[1]) for s in seen if s.startswith("downloading")]
    assert len(percents) >= 2 and percents == sorted(percents)
    assert any(0 < p < 100 for p in percents)
    assert window.state_text("tiny-llm") == "downloaded"
    assert picker.label_of("tiny-llm") == "Tiny LLM — downloaded"
    assert not window.cancel_button.isEnabled()


def test_cancel_from_the_window_keeps_the_partial_download(qtbot, manager, fake_hub):
    fake_hub.add_repo(TINY.repo_id, {"config.json": llama_config(), "model.safetensors": fake_weights(700 * 1024)})
    fake_hub.delay = 0.02
    window = _window(qtbot, Catalog(builtin=(TINY,)), manager)
    window.select("tiny-llm")
    window.download_selected()
    qtbot.waitUntil(lambda: window.state_text("tiny-llm") not in ("downloading 0 %", "downloadable"), timeout=10000)
    with qtbot.waitSignal(manager.cancelled, timeout=10000):
        window.cancel_selected()
    assert window.state_text("tiny-llm").startswith("downloadable (")
    assert "resumes" in window.state_text("tiny-llm")
    assert window.download_button.isEnabled()


def test_download_by_hub_id_lists_the_model_under_its_kind(qtbot, manager, fake_hub):
    fake_hub.add_repo("someone/new-llm", {"config.json": llama_config(), "model.safetensors": b"w" * 1000})
    window = _window(qtbot, Catalog(), manager)
    assert not window.download_repo("not a hub id")
    with qtbot.waitSignal(window.models_changed, timeout=20000):
        assert window.download_repo("someone/new-llm")
    assert "someone/new-llm" in window.model_ids("text")
    assert window.state_text("someone/new-llm") == "downloaded"


def test_picker_labels_default_and_other(qtbot):
    catalog = Catalog()
    picker = _picker(qtbot, "image", catalog)
    assert picker.current_model_spec() == "sd-turbo"  # the modality's default
    assert picker.label_of("sd-turbo") == "SD-Turbo (1 step, 512²) — not downloaded"
    assert picker.itemText(picker.count() - 1) == "Other (hub id or path)…"

    text = _picker(qtbot, "text", catalog)
    assert text.current_model_spec() == "smollm2-135m-instruct"
    assert text.currentText() == "SmolLM2 135M Instruct (Q4_1 GGUF, bundled) — bundled"

    changes = []
    picker.spec_changed.connect(changes.append)
    picker.set_model_spec("someone/some-model")
    assert picker.isEditable() and picker.current_model_spec() == "someone/some-model"
    picker.lineEdit().clear()
    qtbot.keyClicks(picker.lineEdit(), "other/model")
    assert picker.current_model_spec() == "other/model"
    picker.set_model_spec("stabilityai/sd-turbo")  # a hub id the catalog knows selects its entry
    assert picker.current_model_spec() == "sd-turbo" and not picker.isEditable()
    assert changes[0] == "someone/some-model" and changes[-1] == "sd-turbo"
    picker.set_model_spec("")
    assert picker.current_model_spec() == "sd-turbo"
