"""Chat editing: edit an earlier message of yours, regenerate from there, the old branch kept and
switchable (‹ 1/2 ›), saved conversations keep their branches."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QSettings, Qt, QUrl

from studio.library.chat_tree import ChatTree
from studio.models.catalog import Catalog
from studio.ui.settings import Settings


def msgs(*pairs):
    return [{"role": r, "content": c} for r, c in pairs]


U1, A1, U2, A2 = ("user", "hi"), ("assistant", "hello"), ("user", "a poem"), ("assistant", "roses")


def test_follow_branches_and_switches():
    tree = ChatTree.from_messages(msgs(U1, A1, U2, A2))
    edited = msgs(U1, A1, ("user", "a song"), ("assistant", "la la"))
    tree.follow(edited)
    assert tree.path() == edited
    assert tree.siblings(edited, 2) == (2, 2) and tree.siblings(edited, 0) == (1, 1)
    back = tree.switch(edited, 2, -1)
    assert back == msgs(U1, A1, U2, A2)  # the old branch, with what followed it
    assert tree.switch(back, 2, -1) == back  # no version before the first
    assert tree.switch(back, 2, +1) == edited
    # a regenerated reply is a version of the reply
    tree.follow(msgs(U1, A1, ("user", "a song"), ("assistant", "tra la")))
    assert tree.siblings(tree.path(), 3) == (2, 2)
    again = ChatTree.from_dict(json.loads(json.dumps(tree.to_dict())))
    assert again.path() == tree.path() and again.siblings(again.path(), 2) == (2, 2)


def test_damaged_or_deep_trees():
    fallback = msgs(U1, A1)
    for damaged in (None, {"nodes": "x"}, {"nodes": [{"role": "user", "content": "x", "parent": 5}]},
                    {"nodes": [{"role": "user"}]}, [1, 2]):
        assert ChatTree.from_dict(damaged, fallback).path() == fallback
    long = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(5000)]
    tree = ChatTree.from_messages(long)
    text = json.dumps(tree.to_dict())  # flat: no recursion however long the chat
    assert ChatTree.from_dict(json.loads(text)).path() == long


def test_saved_conversations_keep_branches(library):
    library.save_conversation({"id": "c1", "title": "t", "messages": msgs(U1, A1, U2, A2)})
    library.save_conversation({"id": "c1", "title": "t", "messages": msgs(U1, A1, ("user", "a song"), ("assistant", "x"))})
    saved = library.load_conversation("c1")
    assert saved["messages"][-1]["content"] == "x"
    tree = ChatTree.from_dict(saved["tree"], saved["messages"])
    assert tree.switch(saved["messages"], 2, -1) == msgs(U1, A1, U2, A2)
    # a conversation saved before branches existed gains its tree on the next save
    (library.conversations_dir() / "old.json").write_text(json.dumps({"id": "old", "messages": msgs(U1, A1)}))
    library.save_conversation({"id": "old", "messages": msgs(("user", "other"), ("assistant", "y"))})
    old = library.load_conversation("old")
    assert ChatTree.from_dict(old["tree"], old["messages"]).siblings(old["messages"], 0) == (2, 2)


@pytest.fixture
def window(qtbot, tmp_path, library, tiny_llm):
    from studio.ui.main_window import MainWindow

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.device = "cpu"
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"))
    win.tab("text").model_picker.set_model_spec(tiny_llm)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def send(qtbot, window, tab, text):
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        tab.input.setPlainText(text)
        qtbot.mouseClick(tab.send_button, Qt.MouseButton.LeftButton)


def test_edit_an_earlier_message_and_switch_back(qtbot, window, library):
    tab = window.tab("text")
    tab.max_new_tokens.setValue(4)
    send(qtbot, window, tab, "first question")
    send(qtbot, window, tab, "second question")
    old = [dict(m) for m in tab.messages]
    assert [m["role"] for m in old] == ["user", "assistant", "user", "assistant"]
    assert "✎ Edit" in tab.transcript_text()

    tab.transcript.anchorClicked.emit(QUrl("edit:0"))  # "✎ Edit" under the first message
    assert tab.editing == 0 and tab.input.toPlainText() == "first question"
    assert "(editing…)" in tab.transcript_text()
    tab.input.setPlainText("first question, asked better")
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        qtbot.mouseClick(tab.send_button, Qt.MouseButton.LeftButton)
    request = window.jobs.jobs()[-1].request
    assert [m.content for m in request.messages] == ["first question, asked better"]  # answered from there
    assert [m["content"] for m in tab.messages][:1] == ["first question, asked better"] and len(tab.messages) == 2
    assert "2/2" in tab.transcript_text() and tab.editing is None

    tab.transcript.anchorClicked.emit(QUrl("prev:0"))  # ‹: the old branch, whole
    assert tab.messages == old and "1/2" in tab.transcript_text()
    saved = library.load_conversation(tab.conversation_id)
    assert saved["messages"] == old  # the branch shown is saved

    # reopened later (a new tab state): both branches are there
    tab.new_conversation()
    tab.open_conversation(saved["id"])
    assert tab.messages == old
    assert tab.switch_branch(0, +1) and tab.messages[0]["content"] == "first question, asked better"


def test_escape_cancels_an_edit_and_a_reply_cannot_be_edited(qtbot, window):
    tab = window.tab("text")
    tab.max_new_tokens.setValue(3)
    send(qtbot, window, tab, "only question")
    assert not tab.edit_message(1)  # the assistant's reply
    assert tab.edit_message(0)
    qtbot.keyClick(tab.input, Qt.Key.Key_Escape)
    assert tab.editing is None and tab.input.toPlainText() == "" and len(tab.messages) == 2
