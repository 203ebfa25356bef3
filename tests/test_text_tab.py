"""The Text tab driven with qtbot: type, Send, streamed text, Stop, saved and reopened conversations."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QSettings, Qt

from studio.engines.base import Runtime
from studio.models.catalog import Catalog
from studio.requests import MAX_SEED
from studio.ui.settings import Settings


@pytest.fixture
def window(qtbot, tmp_path, library, tiny_llm):
    from studio.ui.main_window import MainWindow

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"))
    # the tests run on the CPU with the tiny model picked as "other (path)"
    win.jobs._worker._runtime_factory = lambda: Runtime(device="cpu", catalog=win.catalog)
    win.text_tab.model_picker.set_model_spec(tiny_llm)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def send(qtbot, tab, text):
    qtbot.keyClicks(tab.input, text)
    qtbot.mouseClick(tab.send_button, Qt.MouseButton.LeftButton)


def test_type_send_streams_reply_and_saves_conversation(qtbot, window, library):
    tab = window.text_tab
    tab.max_new_tokens.setValue(10)
    tab.random_seed.setChecked(False)
    tab.seed.setValue(MAX_SEED)  # the box holds every seed the request takes (a QSpinBox stops at 2**31-1)
    tokens = []
    window.jobs.job_token.connect(lambda j, t: tokens.append(t.text))  # main thread → main thread
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        send(qtbot, tab, "hello world")
        assert not tab.send_button.isEnabled() and tab.stop_button.isEnabled()
    reply = "".join(tokens)
    assert tab.messages == [{"role": "user", "content": "hello world"}, {"role": "assistant", "content": reply}]
    assert reply.strip() and reply.strip()[:5] in tab.transcript_text()
    assert "10 tokens" in tab.stats_label.text() and "tok/s" in tab.stats_label.text()
    assert tab.send_button.isEnabled() and not tab.stop_button.isEnabled()
    # saved at once: the conversation file and the library index
    saved = library.load_conversation(tab.conversation_id)
    assert saved["messages"][-1]["content"] == reply
    assert tab.conversation_list.count() == 1
    assert window.history_panel.count() == 1
    assert library.items("text")[0].params["seed"] == MAX_SEED


def test_stop_ends_generation_and_keeps_partial_reply(qtbot, window):
    tab = window.text_tab
    tab.max_new_tokens.setValue(5000)
    counts = []
    window.jobs.job_token.connect(lambda j, t: counts.append(t.count))
    send(qtbot, tab, "hello world")
    qtbot.waitUntil(lambda: len(counts) >= 3, timeout=60_000)
    with qtbot.waitSignal(window.jobs.job_cancelled, timeout=30_000):
        qtbot.mouseClick(tab.stop_button, Qt.MouseButton.LeftButton)
    assert counts[-1] < 5000
    assert tab.messages[-1]["role"] == "assistant" and tab.messages[-1]["content"]
    assert "Stopped" in tab.status_label.text()
    assert tab.send_button.isEnabled()


def test_conversation_reopens_and_continues(qtbot, window, library):
    tab = window.text_tab
    tab.max_new_tokens.setValue(4)
    tab.system_prompt.setPlainText("Be brief.")
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        send(qtbot, tab, "first question")
    first_id = tab.conversation_id
    first_messages = list(tab.messages)
    tab.new_conversation()
    assert tab.messages == [] and tab.conversation_id != first_id
    tab.system_prompt.clear()
    tab.open_conversation(first_id)
    assert tab.messages == first_messages
    assert tab.system_prompt.toPlainText() == "Be brief."
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        send(qtbot, tab, "second question")
    saved = library.load_conversation(first_id)
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant", "user", "assistant"]


def test_failed_job_shows_message_and_keeps_typed_text(qtbot, window, tmp_path):
    tab = window.text_tab
    tab.model_picker.set_model_spec(str(tmp_path / "no-such-model"))
    with qtbot.waitSignal(window.jobs.job_failed, timeout=30_000):
        send(qtbot, tab, "are you there?")
    assert "⚠" in tab.status_label.text() and "No model" in tab.status_label.text()
    assert tab.input.toPlainText() == "are you there?"
    assert tab.messages == []
    assert tab.send_button.isEnabled()


def test_empty_message_is_refused_with_a_message(qtbot, window):
    tab = window.text_tab
    qtbot.mouseClick(tab.send_button, Qt.MouseButton.LeftButton)
    assert "empty" in tab.status_label.text()
    assert window.jobs.jobs() == []


def test_export_markdown_and_json(qtbot, window, tmp_path):
    tab = window.text_tab
    tab.messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello *there*"}]
    tab.export(str(tmp_path / "c.md"))
    tab.export(str(tmp_path / "c.json"))
    md = (tmp_path / "c.md").read_text()
    assert "## You\n\nhi" in md and "## Assistant\n\nhello *there*" in md
    assert json.loads((tmp_path / "c.json").read_text())["messages"] == tab.messages


def test_queue_panel_shows_states(qtbot, window):
    tab = window.text_tab
    tab.max_new_tokens.setValue(3)
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        send(qtbot, tab, "hello")
    job = window.jobs.jobs()[-1]
    assert window.queue_panel.state_of(job.id) == "Done"


def test_regenerate_replaces_the_last_reply(qtbot, window, library):
    tab = window.text_tab
    tab.max_new_tokens.setValue(6)
    tab.temperature.setValue(1.5)
    tab.top_k.setValue(0)
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        send(qtbot, tab, "hello world")
    first = tab.messages[-1]["content"]
    replies = {first}
    for _ in range(3):  # random seeds: some retry differs
        with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
            qtbot.mouseClick(tab.regenerate_button, Qt.MouseButton.LeftButton)
        assert [m["role"] for m in tab.messages] == ["user", "assistant"]
        assert tab.messages[0]["content"] == "hello world"
        replies.add(tab.messages[-1]["content"])
    assert len(replies) > 1
    saved = library.load_conversation(tab.conversation_id)
    assert saved["messages"] == tab.messages  # the file holds the latest reply only


def test_gguf_model_on_llama_cpp_streams_and_regenerates(qtbot, window, tiny_gguf):
    pytest.importorskip("llama_cpp")
    tab = window.text_tab
    window.settings.text_threads = 1  # Settings → Preferences → Text threads
    tab.model_picker.set_model_spec(tiny_gguf)
    tab.max_new_tokens.setValue(6)
    tab.temperature.setValue(1.5)
    tab.top_k.setValue(0)
    tokens = []
    window.jobs.job_token.connect(lambda j, t: tokens.append(t.text))
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        send(qtbot, tab, "hello world")
    assert tab.messages[-1] == {"role": "assistant", "content": "".join(tokens)}
    assert "6 tokens" in tab.stats_label.text() and "llama.cpp" in tab.stats_label.text()
    assert "1 thread" in tab.stats_label.text()
    replies = {tab.messages[-1]["content"]}
    for _ in range(3):  # random seeds: some retry differs
        with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
            qtbot.mouseClick(tab.regenerate_button, Qt.MouseButton.LeftButton)
        assert [m["role"] for m in tab.messages] == ["user", "assistant"]
        replies.add(tab.messages[-1]["content"])
    assert len(replies) > 1
