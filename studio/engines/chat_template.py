"""Chat templates from model files, rendered with limits (no Qt, no torch).

A GGUF file carries its chat template as Jinja source: code from the file's author that runs on every
reply. It is rendered in jinja2's immutable sandbox (no attribute games, no mutation of the messages)
with three limits, so a hostile or broken template cannot hang the worker or eat the memory:

* time: :data:`TEMPLATE_SECONDS` per rendering (two nested loops of 100,000 stop there), checked on
  every line the template's code runs, together with the cancel token when one is given;
* size: every ``*`` of strings or lists, every number handed to a method (``'x'.center(…)``) and the
  output itself stay under :data:`MAX_TEMPLATE_CHARS` characters;
* a syntax error is named as one, with its line, when the model loads.

Options follow llama-cpp-python's and transformers' chat-template environments (trim_blocks,
lstrip_blocks, loop controls, ``{% generation %}`` passed through, ``tojson`` without ASCII escapes,
``raise_exception`` and ``strftime_now``).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..errors import StudioError

#: the longest one rendering may run, in seconds
TEMPLATE_SECONDS = 5.0
#: the largest string a template may build or output, in characters
MAX_TEMPLATE_CHARS = 4_000_000
_TEMPLATE_FILE = "<chat template>"


class TemplateProblem(StudioError):
    """The model's chat template is broken, too slow, or builds too much."""


def _environment(name: str):
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class IgnoreGenerationTags(jinja2.ext.Extension):
        """Pass-through for Hugging Face's ``{% generation %}`` tag."""

        tags = {"generation"}

        def parse(self, parser):
            parser.stream.skip(1)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    class LimitedSandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset(["*", "**"])

        def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
            if operator == "*":
                for seq, times in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                        if len(seq) * max(times, 0) > MAX_TEMPLATE_CHARS:
                            raise TemplateProblem(
                                f"The chat template of {name} builds a value of {len(seq) * times:,} items "
                                f"(at most {MAX_TEMPLATE_CHARS:,})."
                            )
            if operator == "**" and isinstance(right, int) and abs(right) > 1000:
                raise TemplateProblem(f"The chat template of {name} raises a number to a huge power.")
            return super().call_binop(context, operator, left, right)

        def call(__self, __context, __obj, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - jinja2's signature
            for value in (*args, *kwargs.values()):
                if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_TEMPLATE_CHARS:
                    raise TemplateProblem(
                        f"The chat template of {name} calls a function with {value:,} (at most {MAX_TEMPLATE_CHARS:,})."
                    )
            return super().call(__context, __obj, *args, **kwargs)

    env = LimitedSandbox(
        loader=jinja2.BaseLoader(),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[IgnoreGenerationTags, jinja2.ext.loopcontrols],
    )
    env.filters["tojson"] = _tojson
    return env


def _tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None, separators=None, sort_keys: bool = False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _raise_exception(message: str):
    raise TemplateProblem(f"The model's chat template refused the conversation: {message}")


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class ChatTemplate:
    """A compiled chat template; :meth:`render` with limits. Compiling raises :class:`TemplateProblem`
    for a syntax error, naming its line."""

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "", name: str = "the model") -> None:
        import jinja2

        self.bos_token, self.eos_token, self.name = bos_token, eos_token, name
        env = _environment(name)
        try:
            code = env.compile(source, filename=_TEMPLATE_FILE)
            self.template = env.template_class.from_code(env, code, env.make_globals(None), None)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem(
                f"The chat template of {name} has a syntax error (line {exc.lineno}: {exc.message}); "
                "the model's file needs a fixed template."
            ) from None

    def render(
        self,
        messages: list[dict],
        *,
        add_generation_prompt: bool = True,
        should_stop: Callable[[], bool] | None = None,
        seconds: float | None = None,
    ) -> str:
        """The prompt text; :class:`TemplateProblem` when the template fails or passes a limit, and
        :class:`~studio.errors.Cancelled` when ``should_stop()`` turns true. ``seconds``: the time limit
        (:data:`TEMPLATE_SECONDS` when not given, read at each call)."""
        import jinja2

        from ..errors import Cancelled

        if seconds is None:
            seconds = TEMPLATE_SECONDS
        deadline = time.monotonic() + seconds
        count = 0

        def local(frame, event, arg):
            nonlocal count
            count += 1
            if count % 256 == 0:
                if should_stop is not None and should_stop():
                    raise Cancelled()
                if time.monotonic() > deadline:
                    raise TemplateProblem(
                        f"The chat template of {self.name} did not finish within {seconds:g} s "
                        "(it loops too long); the model's file needs a fixed template."
                    )
            return local

        def trace(frame, event, arg):  # only the template's own code is watched
            return local if frame.f_code.co_filename == _TEMPLATE_FILE else None

        parts: list[str] = []
        size = 0
        previous = sys.gettrace()
        sys.settrace(trace)
        try:
            for piece in self.template.generate(
                messages=messages,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                add_generation_prompt=add_generation_prompt,
                raise_exception=_raise_exception,
                strftime_now=_strftime_now,
            ):
                size += len(piece)
                if size > MAX_TEMPLATE_CHARS:
                    raise TemplateProblem(
                        f"The chat template of {self.name} writes more than {MAX_TEMPLATE_CHARS:,} characters; "
                        "the model's file needs a fixed template."
                    )
                parts.append(piece)
        except (TemplateProblem, Cancelled):
            raise
        except jinja2.TemplateError as exc:
            raise TemplateProblem(f"The chat template of {self.name} failed: {exc}") from None
        except Exception as exc:  # a template that divides by zero, indexes past a list …
            raise TemplateProblem(f"The chat template of {self.name} failed ({exc or 'no message'}).") from None
        finally:
            sys.settrace(previous)
        return "".join(parts)
