"""Chat templates from model files rendered in a limited sandbox (studio.engines.chat_template): the
same text as jinja2's own sandbox for an ordinary template, and a clear stop for hostile ones."""

from __future__ import annotations

import threading
import time

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from studio.cancel import CancelToken
from studio.engines.chat_template import ChatTemplate, TemplateProblem
from studio.errors import Cancelled
from studio.testing.tiny_llm import CHAT_TEMPLATE

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi <there> & {{ you }}"}]


def test_an_ordinary_template_renders_as_jinja2_renders_it():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    raw = env.from_string(CHAT_TEMPLATE).render(messages=MESSAGES, add_generation_prompt=True, bos_token="<s>",
                                                eos_token="</s>")
    assert ChatTemplate(CHAT_TEMPLATE, bos_token="<s>", eos_token="</s>").render(MESSAGES) == raw


def test_a_long_template_stops_at_once_when_cancelled():
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    cancel = CancelToken()
    threading.Timer(0.3, cancel.cancel).start()
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        ChatTemplate(loops).render(MESSAGES, should_stop=lambda: cancel.cancelled, seconds=60)
    assert time.perf_counter() - t0 < 5


def test_the_template_cannot_change_what_it_is_given():
    with pytest.raises(TemplateProblem, match="failed"):
        ChatTemplate("{{ messages.append(1) }}").render(MESSAGES)
    assert len(MESSAGES) == 2
