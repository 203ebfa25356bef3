"""Stop sequences (OpenAI's ``stop``): the local engine ends the reply where one appears, never showing any
part of it, and the job finishes normally (not cancelled); the CLI's --stop."""

from __future__ import annotations

import pytest

from studio.cancel import CancelToken
from studio.cli import main
from studio.engines.base import Runtime
from studio.engines.text import TextEngine
from studio.engines.text_common import StopWatcher
from studio.errors import InvalidRequest
from studio.events import Output, Token
from studio.requests import ChatMessage, TextRequest
from studio.testing.events import collect

pytest.importorskip("llama_cpp")


def run(model, **kw):
    request = TextRequest(messages=(ChatMessage("user", "hello world"),), model=model, max_new_tokens=24,
                          temperature=0.0, repetition_penalty=1.0, threads=1, seed=3, **kw)
    return collect(TextEngine().run(request, Runtime(device="cpu"), CancelToken()))


def test_the_reply_ends_before_the_stop_sequence(tiny_gguf):
    events, _ = run(tiny_gguf)
    full = next(e for e in events if isinstance(e, Output)).data
    stop = full[6:9]
    assert len(stop) == 3 and full.find(stop) >= 1
    events, stats = run(tiny_gguf, stop=("never-there", stop))
    reply = next(e for e in events if isinstance(e, Output)).data
    assert reply == full[: full.find(stop)]
    assert "".join(e.text for e in events if isinstance(e, Token)) == reply  # no piece of it was shown
    assert not stats.stopped and stats.tokens < 24


def test_a_stop_sequence_split_across_pieces_is_held_back():
    watcher = StopWatcher(["###"])
    assert watcher.feed("Title #") == "Title "
    assert watcher.feed("#") == ""
    assert watcher.feed("# rest") == "" and watcher.hit
    watcher = StopWatcher(["###"])
    assert watcher.feed("a #") == "a " and watcher.feed("b") == "#b" and not watcher.hit
    assert watcher.feed("##") == "" and watcher.flush() == "##"


def test_stop_sequences_are_checked():
    base = dict(messages=(ChatMessage("user", "hi"),))
    with pytest.raises(InvalidRequest, match="at most 4"):
        TextRequest(stop=("a", "b", "c", "d", "e"), **base).validate()
    with pytest.raises(InvalidRequest, match="1 to 200 characters"):
        TextRequest(stop=("",), **base).validate()


def test_cli_stop(tiny_gguf, capsys):
    events, _ = run(tiny_gguf)
    full = next(e for e in events if isinstance(e, Output)).data
    stop = full[6:9]
    code = main(["generate", "text", "--prompt", "hello world", "--model", tiny_gguf, "--max-new-tokens", "24",
                 "--temperature", "0", "--repetition-penalty", "1", "--threads", "1", "--seed", "3", "--stop", stop,
                 "--no-library", "-q"])
    assert code == 0
    assert capsys.readouterr().out.rstrip("\n") == full[: full.find(stop)]


def test_text_tab_sends_its_stop_field(qtbot, tmp_path, library):
    from PySide6.QtCore import QSettings

    from studio.models.catalog import Catalog
    from studio.ui.main_window import MainWindow
    from studio.ui.settings import Settings

    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"))
    qtbot.addWidget(window)
    tab = window.tab("text")
    assert tab.build_request("hi").stop == ()
    qtbot.keyClicks(tab.stop_text, "###")
    assert tab.build_request("hi").stop == ("###",)
    window.close()
