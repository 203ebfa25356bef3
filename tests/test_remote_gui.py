"""Servers in the window: Models → Add server… (ComfyUI through the fake server, its key in the keyring),
a server's models in the pickers, the Text tab with an OpenAI-compatible server's model (llama.cpp's own
server; top-k and repetition penalty greyed out), and Settings → API server (``studio serve`` over the
window's job queue, its jobs in the queue)."""

from __future__ import annotations

import concurrent.futures
import json

import pytest
from PySide6.QtCore import QObject, QSettings, Qt, Slot

pytest.importorskip("fastapi")
keyring = pytest.importorskip("keyring")
openai = pytest.importorskip("openai")

from studio.models.catalog import Catalog  # noqa: E402
from studio.models.servers import Server  # noqa: E402
from studio.ui.settings import Settings  # noqa: E402
from tests.fake_comfyui import FakeComfy, RunningFake  # noqa: E402
from tests.test_remote_keys import MemoryKeyring  # noqa: E402


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def window(qtbot, tmp_path, library):
    from studio.ui.main_window import MainWindow

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.device = "cpu"
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def add_server(qtbot, window, kind: str, url: str, key: str = ""):
    from studio.ui.server_dialog import ServerDialog

    dialog = ServerDialog(window.services.servers, window.services.keys, window)
    qtbot.addWidget(dialog)
    dialog.kind.setCurrentIndex(dialog.kind.findData(kind))
    qtbot.keyClicks(dialog.url, url)
    if key:
        qtbot.keyClicks(dialog.key, key)
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.connect_button.isEnabled(), timeout=30_000)
    return dialog


def test_add_comfyui_server_its_checkpoints_join_the_image_picker_and_jobs_use_the_key(
        qtbot, window, memory_keyring, tmp_path):
    fake = FakeComfy(token="tok-1")
    with RunningFake(fake) as url:
        wrong = add_server(qtbot, window, "comfyui", url, "bad")
        assert "refused the API key" in wrong.status.text() and not wrong.models.count()
        dialog = add_server(qtbot, window, "comfyui", url, "tok-1")
        assert [dialog.models.item(i).text() for i in range(dialog.models.count())] == ["tiny-sd15.safetensors"]
        dialog.accept()
        assert memory_keyring.items == {("studio", url): "tok-1"}
        assert "tok-1" not in window.services.servers.file.read_text()  # the key is in the keyring only
        window.show_models_window()
        window.models_window.models_changed.emit()

        tab = window.tab("image")
        picker = tab.model_picker
        labels = [picker.itemText(i) for i in range(picker.count())]
        assert any(label.startswith("tiny-sd15.safetensors — 127.0.0.1:") for label in labels)
        assert tab.form.offload.isEnabled()
        picker.set_model_spec("tiny-sd15.safetensors", url)
        assert picker.current_endpoint() == url and picker.is_remote()
        assert not tab.form.offload.isEnabled() and not tab.form.vae.isEnabled()  # the server's own business
        tab.form.prompt.setPlainText("a lighthouse")
        tab.form.width_spin.setValue(64)
        tab.form.height_spin.setValue(64)
        tab.form.steps.setValue(3)
        request = tab.form.build_request()
        assert request.endpoint == url and request.model == "tiny-sd15.safetensors"
        with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000) as done:
            window.jobs.submit(request)
    result = done.args[1]
    assert len(result.items) == 1 and result.items[0].params["endpoint"] == url
    assert len(fake.workflows) == 1  # the worker's runtime sent the keyring's token

    canvas = window.tab("canvas").form  # the Canvas inpaints on the same server
    canvas.model_picker.set_model_spec("tiny-sd15.safetensors", url)
    inpaint = canvas.build_request(str(tmp_path / "p.png"), str(tmp_path / "m.png"), outpaint=False)
    assert inpaint.generation.endpoint == url and inpaint.generation.model == "tiny-sd15.safetensors"
    # Servers → Remove: the server leaves the pickers and its key the keyring
    menu = window.models_window.server_menu
    menu.rebuild()
    remove = [a for a in menu.actions() if a.text().startswith("Remove 127.0.0.1:")]
    assert len(remove) == 1
    remove[0].trigger()
    assert memory_keyring.items == {} and window.services.servers.all() == []
    assert picker.current_endpoint() == "" and not any(" — 127.0.0.1:" in picker.itemText(i)
                                                       for i in range(picker.count()))
    assert "Removed the server" in window.models_window.status.text()


def test_text_tab_with_a_servers_model(qtbot, window, tmp_path):
    from studio.testing.servers import bundled_gguf, start_llama_server

    pytest.importorskip("llama_cpp.server")
    gguf = bundled_gguf()
    if gguf is None:
        pytest.skip("the bundled SmolLM2 GGUF is not installed")
    server = start_llama_server(gguf, tmp_path / "llama.log")
    try:
        window.services.servers.put(Server(server.url, "openai", models=("smollm2",)))
        tab = window.tab("text")
        tab.refresh_models()
        assert tab.top_k.isEnabled() and tab.repetition_penalty.isEnabled()
        tab.model_picker.set_model_spec("smollm2", server.url)
        assert not tab.top_k.isEnabled() and not tab.repetition_penalty.isEnabled()
        assert "server's defaults" in tab.top_k.toolTip()
        tab.max_new_tokens.setValue(8)
        with qtbot.waitSignal(window.jobs.job_finished, timeout=120_000) as done:
            qtbot.keyClicks(tab.input, "Say hello.")
            qtbot.mouseClick(tab.send_button, Qt.MouseButton.LeftButton)
        item = done.args[1].items[0]
        assert item.params["endpoint"] == server.url and item.params["reply"]
        assert tab.last_reply() == item.params["reply"]
        conversation = json.loads(next(window.library.conversations_dir().glob("*.json")).read_text())
        assert conversation["endpoint"] == server.url and conversation["model"] == "smollm2"
        tab.model_picker.set_model_spec("")  # back to the bundled model: everything editable again
        assert tab.top_k.isEnabled()
    finally:
        server.stop()


def test_settings_start_and_stop_the_api_server_over_the_windows_queue(qtbot, window, tiny_gguf):
    from studio.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.settings, window, serve=window.serve)
    qtbot.addWidget(dialog)
    dialog.serve.port.setValue(1)
    window.serve.start(0)  # any free port (the dialog's Start uses the port box)
    url = window.serve.url
    assert dialog.serve.button.text() == "Stop" and url in dialog.serve.label.text()

    def ask() -> str:
        client = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=120)
        out = client.chat.completions.create(model=tiny_gguf, messages=[{"role": "user", "content": "hello"}],
                                             max_tokens=4, temperature=0)
        return out.choices[0].message.content

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(ask)  # the client waits on another thread; this one runs the window's queue
        qtbot.waitUntil(future.done, timeout=120_000)
        assert future.result()
    assert [j.label for j in window.jobs.jobs()] == ["text: hello"]  # the Queue panel's job
    qtbot.mouseClick(dialog.serve.button, Qt.MouseButton.LeftButton)  # Stop
    assert window.serve.url == "" and dialog.serve.button.text() == "Start"
    with pytest.raises(openai.APIConnectionError):
        openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=5).models.list()


class _KillOnSecondToken(QObject):
    def __init__(self, server) -> None:
        super().__init__()
        self.server, self.seen = server, 0

    @Slot(str, object)
    def on_token(self, _job_id, token) -> None:
        self.seen += bool(token.text)
        if self.seen == 2:
            self.server.kill()


def test_a_server_that_dies_mid_reply_leaves_the_partial_reply_in_the_conversation(qtbot, window, tmp_path):
    from studio.testing.servers import bundled_gguf, start_llama_server

    pytest.importorskip("llama_cpp.server")
    gguf = bundled_gguf()
    if gguf is None:
        pytest.skip("the bundled SmolLM2 GGUF is not installed")
    server = start_llama_server(gguf, tmp_path / "llama.log")
    try:
        window.services.servers.put(Server(server.url, "openai", models=("smollm2",)))
        tab = window.tab("text")
        tab.refresh_models()
        tab.model_picker.set_model_spec("smollm2", server.url)
        tab.max_new_tokens.setValue(400)
        killer = _KillOnSecondToken(server)
        window.jobs.job_token.connect(killer.on_token)
        with qtbot.waitSignal(window.jobs.job_failed, timeout=120_000) as failed:
            qtbot.keyClicks(tab.input, "Write a long story about a dog.")
            qtbot.mouseClick(tab.send_button, Qt.MouseButton.LeftButton)
        assert "closed the connection in the middle of the reply" in str(failed.args[1])
        partial = tab.last_reply()
        assert partial and tab.messages[-1] == {"role": "assistant", "content": partial}
        assert not tab.input.toPlainText()  # the message was answered (in part), not handed back
        saved = window.library.items("text")
        assert saved and saved[0].params["reply"] == partial
    finally:
        server.stop()
