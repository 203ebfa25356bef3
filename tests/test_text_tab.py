"""The Text tab driven with qtbot: type, Send, streamed text, Stop, saved and reopened conversations."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QSettings, Qt

from studio.models.catalog import Catalog
from studio.requests import MAX_SEED
from studio.ui.settings import Settings


@pytest.fixture
def window(qtbot, tmp_path, library, tiny_llm):
    from studio.ui.main_window import MainWindow

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.device = "cpu"  # the tests run on the CPU with the tiny model picked as "other (path)"
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"))
    win.tab("text").model_picker.set_model_spec(tiny_llm)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def transcript_blocks(tab) -> list[tuple[str, bool]]:
    """(text, any of it bold) of each non-empty block of the transcript document."""
    from PySide6.QtGui import QFont

    out = []
    block = tab.transcript.document().begin()
    while block.isValid():
        if block.text().strip():
            bold, it = False, block.begin()
            while not it.atEnd():
                bold = bold or it.fragment().charFormat().fontWeight() >= QFont.Weight.Bold
                it += 1
            out.append((block.text(), bold))
        block = block.next()
    return out


def send(qtbot, tab, text):
    qtbot.keyClicks(tab.input, text)
    qtbot.mouseClick(tab.send_button, Qt.MouseButton.LeftButton)


def test_type_send_streams_reply_and_saves_conversation(qtbot, window, library):
    tab = window.tab("text")
    tab.max_new_tokens.setValue(10)
    tab.seed.setValue(MAX_SEED)  # the box holds every seed the request takes (a QSpinBox stops at 2**31-1)
    tokens = []
    window.jobs.job_token.connect(lambda j, t: tokens.append(t.text))  # main thread → main thread
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        send(qtbot, tab, "hello world")
        assert not tab.send_button.isEnabled() and tab.cancel_button.isEnabled()
    reply = "".join(tokens)
    assert tab.messages == [{"role": "user", "content": "hello world"}, {"role": "assistant", "content": reply}]
    assert reply.strip() and reply.strip()[:5] in tab.transcript_text()
    assert "10 tokens" in tab.stats_label.text() and "tok/s" in tab.stats_label.text()
    assert tab.send_button.isEnabled() and not tab.cancel_button.isEnabled()
    # saved at once: the conversation file and the library index
    saved = library.load_conversation(tab.conversation_id)
    assert saved["messages"][-1]["content"] == reply
    assert tab.conversation_list.count() == 1
    assert window.history_panel.count() == 1
    assert library.items("text")[0].params["seed"] == MAX_SEED


def test_stop_ends_generation_and_keeps_partial_reply(qtbot, window):
    tab = window.tab("text")
    tab.max_new_tokens.setValue(5000)
    counts = []
    window.jobs.job_token.connect(lambda j, t: counts.append(t.count))
    send(qtbot, tab, "hello world")
    qtbot.waitUntil(lambda: len(counts) >= 3, timeout=60_000)

    def streamed_blocks():
        blocks = transcript_blocks(tab)
        heading = max(i for i, (text, _) in enumerate(blocks) if text == "Assistant")
        assert blocks[heading][1] is True  # the heading is bold
        return blocks[heading + 1 :]

    # while it streams, the reply is a plain block of its own under the "Assistant" heading (the random
    # tiny model may begin with white space, so wait for visible text)
    qtbot.waitUntil(lambda: bool("".join(text for text, _ in streamed_blocks()).strip()), timeout=60_000)
    assert window.jobs.active()  # still streaming
    assert not any(bold for _, bold in streamed_blocks())
    with qtbot.waitSignal(window.jobs.job_cancelled, timeout=30_000):
        qtbot.mouseClick(tab.cancel_button, Qt.MouseButton.LeftButton)
    assert counts[-1] < 5000
    assert tab.messages[-1]["role"] == "assistant" and tab.messages[-1]["content"]
    assert "Stopped" in tab.status_line.text()
    assert tab.send_button.isEnabled()


def test_conversation_reopens_and_continues(qtbot, window, library):
    tab = window.tab("text")
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
    tab = window.tab("text")
    tab.model_picker.set_model_spec(str(tmp_path / "no-such-model"))
    with qtbot.waitSignal(window.jobs.job_failed, timeout=30_000):
        send(qtbot, tab, "are you there?")
    assert "⚠" in tab.status_line.text() and "No model" in tab.status_line.text()
    assert tab.input.toPlainText() == "are you there?"
    assert tab.messages == []
    assert tab.send_button.isEnabled()


def test_empty_message_is_refused_with_a_message(qtbot, window):
    tab = window.tab("text")
    qtbot.mouseClick(tab.send_button, Qt.MouseButton.LeftButton)
    assert "empty" in tab.status_line.text()
    assert window.jobs.jobs() == []


def test_export_markdown_and_json(qtbot, window, tmp_path):
    tab = window.tab("text")
    tab.messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello *there*"}]
    tab.export(str(tmp_path / "c.md"))
    tab.export(str(tmp_path / "c.json"))
    md = (tmp_path / "c.md").read_text()
    assert "## You\n\nhi" in md and "## Assistant\n\nhello *there*" in md
    assert json.loads((tmp_path / "c.json").read_text())["messages"] == tab.messages


def test_queue_panel_shows_states(qtbot, window):
    tab = window.tab("text")
    tab.max_new_tokens.setValue(3)
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        send(qtbot, tab, "hello")
    job = window.jobs.jobs()[-1]
    assert window.queue_panel.state_of(job.id) == "Done"


def test_regenerate_replaces_the_last_reply(qtbot, window, library):
    tab = window.tab("text")
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


def test_a_streaming_reply_is_its_own_plain_block_under_the_heading(qtbot, tmp_path, library):
    """With the scripted engine: "Aleph, ahem…" arrives token by token and never joins the heading."""
    from studio.events import Token
    from studio.ui.main_window import MainWindow
    from tests.fake_engine import FakeEngine, Script

    words = ["Aleph", ", ahem", "…"]
    tokens = [(0.01, Token(w, i + 1, 10.0, 5 + i, 256)) for i, w in enumerate(words)]
    fake = FakeEngine(default=Script(tokens, wait_s=30))
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.memory_budget_gb = 1.0  # a set budget: the worker has no reason to import torch
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"), engine_factory=fake)
    qtbot.addWidget(win)
    tab = win.tab("text")
    seen = []
    win.jobs.job_token.connect(lambda j, t: seen.append(t.text))  # runs after the tab's own slot
    send(qtbot, tab, "**hi**")
    qtbot.waitUntil(lambda: len(seen) == 3, timeout=10_000)
    blocks = transcript_blocks(tab)
    assert blocks[-2:] == [("Assistant", True), ("Aleph, ahem…", False)]
    assert ("**hi**", False) in blocks  # the person's text as typed
    with qtbot.waitSignal(win.jobs.job_cancelled, timeout=10_000):
        tab.cancel()
    win.close()


def test_gguf_model_on_llama_cpp_streams_and_regenerates(qtbot, window, tiny_gguf):
    pytest.importorskip("llama_cpp")
    tab = window.tab("text")
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
