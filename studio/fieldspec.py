"""One declaration per request field: default, range or choices, help, CLI flag.

A request dataclass declares each field with one of the constructors below (:func:`int_field`,
:func:`float_field`, :func:`text_field`, …). The declaration is stored in the field's metadata and
read back as a :class:`FieldSpec` by :func:`field_specs` / :func:`field_spec`. From it

* ``validate()`` checks the field (:meth:`FieldSpec.check`, one clear message per bad class:
  wrong type, bool given for a number, NaN/inf, out of range, not a multiple, unknown choice,
  empty or too long text, bad path);
* the CLI builds its flags (:func:`studio.cli.common.add_request_arguments`);
* the UI builds its spin boxes (:func:`studio.ui.fields.spin_box_for`).

A leaf module: it imports nothing of Studio's but :mod:`studio.errors`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequest

MAX_PROMPT_CHARS = 100_000
MAX_PATH_CHARS = 4096
MAX_SEED = 2**32 - 1

_SPEC = "studio.spec"  # the metadata key


@dataclass(frozen=True)
class FieldSpec:
    """What a request field accepts and how it is offered to people.

    ``type`` is the value's Python type (``int``, ``float``, ``str``, ``bool`` or ``tuple`` for
    lists of sub-records such as chat messages). ``default`` is the dataclass default (``None``
    when ``required``). ``optional`` means ``None`` is accepted too (a seed: ``None`` = random).
    ``flag``/``metavar`` are the CLI spelling (``flag`` is ``None`` for fields the CLI does not
    offer). ``step``/``decimals`` are for spin boxes.
    """

    name: str
    type: type
    default: Any = None
    required: bool = False
    label: str = ""
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False  # e.g. top-p: above 0, not 0
    multiple_of: int | None = None
    unit: str = ""  # e.g. "pixels", for messages
    step: float | None = None
    decimals: int | None = None
    choices: tuple[str, ...] | None = None
    optional: bool = False
    empty_means: str = ""  # what None means, for messages and help ("a random seed")
    not_empty: bool = False  # texts that must have visible characters
    max_chars: int | None = None
    is_path: bool = False
    flag: str | None = None
    metavar: str | None = None

    # --- validation -------------------------------------------------------------------------------
    def check(self, value: Any) -> None:
        """Raise :class:`InvalidRequest` naming the field and the fix when ``value`` is not allowed."""
        if value is None and self.optional:
            return
        if self.type is bool:
            _require(isinstance(value, bool), f"{self.label} must be true or false (got {value!r}).")
        elif self.type is int:
            self._check_int(value)
        elif self.type is float:
            self._check_float(value)
        elif self.type is str:
            self._check_str(value)
        else:  # a tuple of sub-records, or a nested request
            _require(
                isinstance(value, self.type),
                f"{self.label} must be a {self.type.__name__} (got {type(value).__name__}).",
            )

    def _range_text(self) -> str:
        lo, hi = _fmt(self.minimum), _fmt(self.maximum)
        unit = f" {self.unit}" if self.unit else ""
        empty = f", or empty for {self.empty_means}" if self.empty_means else ""
        if self.type is int:
            return f"a whole number from {lo} to {hi}{unit}{empty}"
        if self.exclusive_minimum:
            return f"above {lo} and at most {hi}{unit}{empty}"
        return f"between {lo} and {hi}{unit}{empty}"

    def _check_int(self, value: Any) -> None:
        ok = isinstance(value, int) and not isinstance(value, bool)
        ok = ok and _in_range(value, self.minimum, self.maximum, self.exclusive_minimum)
        _require(ok, f"{self.label} must be {self._range_text()} (got {value!r}).")
        if self.multiple_of:
            fix = max(int(self.minimum or 0), value // self.multiple_of * self.multiple_of)
            _require(
                value % self.multiple_of == 0,
                f"{self.label} must be a multiple of {self.multiple_of} (got {value}; try {fix}).",
            )

    def _check_float(self, value: Any) -> None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and _in_range(value, self.minimum, self.maximum, self.exclusive_minimum)
        _require(ok, f"{self.label} must be {self._range_text()} (got {value!r}).")

    def _check_str(self, value: Any) -> None:
        what = "a file path" if self.is_path else "text"
        _require(isinstance(value, str), f"{self.label} must be {what} (got {type(value).__name__}).")
        if self.choices is not None:
            named = ", ".join(c for c in self.choices if c)
            _require(value in self.choices, f"unknown {self.label} {value!r}; choose one of: {named}.")
            return
        if self.not_empty:
            _require(bool(value.strip()), f"{self.label} is empty: type something first.")
        limit = self.max_chars
        if limit is not None:
            _require(
                len(value) <= limit,
                f"{self.label} is too long ({len(value):,} characters; the limit is {limit:,}).",
            )
        if self.is_path:
            _require("\x00" not in value, f"{self.label} is not a valid file path (it contains a NUL character).")

    # --- presentation ------------------------------------------------------------------------------
    @property
    def dest(self) -> str:
        """The argparse destination: the field's own name."""
        return self.name

    def cli_help(self) -> str:
        """The help text with the default appended, as ``--help`` shows it (lower-case start)."""
        text = self.help if self.help[1:2].isupper() else self.help[:1].lower() + self.help[1:]
        if self.required or self.default == "" or self.type in (bool, tuple):
            return text
        if self.default is None:
            return f"{text} (default: {self.empty_means})" if self.empty_means else text
        return f"{text} (default {_fmt(self.default)})"

    def tooltip(self) -> str:
        """The help text as a sentence (upper-case start), for the UI."""
        return self.help[:1].upper() + self.help[1:]


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise InvalidRequest(message)


def _in_range(value: float, lo: float | None, hi: float | None, exclusive_lo: bool) -> bool:
    if lo is not None and (value <= lo if exclusive_lo else value < lo):
        return False
    return hi is None or value <= hi


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# --- declaring fields --------------------------------------------------------------------------------


def _field(default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING, **spec: Any):
    kwargs: dict[str, Any] = {"metadata": {_SPEC: spec}}
    if factory is not dataclasses.MISSING:
        kwargs["default_factory"] = factory
    elif default is not dataclasses.MISSING:
        kwargs["default"] = default
    return dataclasses.field(**kwargs)


def int_field(default: int | None, minimum: int, maximum: int, *, help: str, **spec: Any):
    """A whole number in ``minimum … maximum`` (``bool`` is refused: it is not a number here)."""
    return _field(default, type=int, minimum=minimum, maximum=maximum, step=spec.pop("step", 1), help=help, **spec)


def float_field(default: float, minimum: float, maximum: float, *, help: str, decimals: int = 2,
                step: float = 0.05, **spec: Any):
    """A finite number in ``minimum … maximum`` (NaN and infinities are refused)."""
    return _field(default, type=float, minimum=minimum, maximum=maximum, decimals=decimals, step=step,
                  help=help, **spec)


def seed_field(*, help: str, **spec: Any):
    """``None`` (a random seed, drawn and recorded) or 0 … 2³²−1."""
    spec.setdefault("flag", "--seed")
    spec.setdefault("metavar", "X")
    return int_field(None, 0, MAX_SEED, help=help, optional=True, empty_means="a random seed", label="seed", **spec)


def text_field(default: str | None = "", *, help: str, not_empty: bool = False, **spec: Any):
    """Free text up to :data:`MAX_PROMPT_CHARS` characters; ``default=None`` makes it required."""
    return _field(_required_if_none(default), type=str, help=help, not_empty=not_empty,
                  max_chars=spec.pop("max_chars", MAX_PROMPT_CHARS), **spec)


def path_field(default: str | None = "", *, help: str, **spec: Any):
    """A file or folder path as text; "" = none; ``default=None`` makes it required."""
    spec.setdefault("metavar", "FILE")
    return _field(_required_if_none(default), type=str, is_path=True, max_chars=MAX_PATH_CHARS, help=help, **spec)


def choice_field(default: str | None, choices: tuple[str, ...], *, help: str, **spec: Any):
    """One of ``choices`` (matched exactly; the CLI matches without regard to case)."""
    return _field(_required_if_none(default), type=str, choices=tuple(choices), help=help, **spec)


def bool_field(default: bool = False, *, help: str, **spec: Any):
    return _field(default, type=bool, help=help, **spec)


def records_field(*, help: str, required: bool = False, **spec: Any):
    """A tuple of sub-records (chat messages, LoRAs), checked by the request's own ``validate``."""
    if required:
        return _field(type=tuple, help=help, **spec)
    return _field(factory=tuple, type=tuple, help=help, **spec)


def nested_field(cls: type, factory: Any, *, help: str, **spec: Any):
    """Another request held whole (composition), e.g. an inpaint's image-generation parameters."""
    return _field(factory=factory, type=cls, help=help, **spec)


def _required_if_none(default: Any) -> Any:
    return dataclasses.MISSING if default is None else default


# --- reading them back ------------------------------------------------------------------------------------


@functools.cache
def field_specs(cls: type) -> list[FieldSpec]:
    """Every declared field of the request class ``cls``, in declaration order."""
    specs = []
    for f in dataclasses.fields(cls):
        declared = f.metadata.get(_SPEC)
        if declared is None:
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        declared = dict(declared)
        declared.setdefault("label", f.name.replace("_", " "))
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        specs.append(FieldSpec(name=f.name, default=default, required=required, **declared))
    return specs


def field_spec(cls: type, name: str) -> FieldSpec:
    """The declaration of field ``name`` of ``cls`` (``KeyError`` names the known fields)."""
    for spec in field_specs(cls):
        if spec.name == name:
            return spec
    known = ", ".join(s.name for s in field_specs(cls))
    raise KeyError(f"{cls.__name__} has no declared field {name!r} (known: {known})")


def check_fields(obj: Any) -> None:
    """Check every declared field of the dataclass instance ``obj`` against its spec."""
    for spec in field_specs(type(obj)):
        spec.check(getattr(obj, spec.name))
