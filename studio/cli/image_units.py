"""The grouped flags of ``studio generate image``: ControlNet units (``--controlnet MODEL`` and the
``--control-*`` flags after it, repeated per unit) and ``--embedding FILE``.

Each ``--control-*`` flag belongs to the ``--controlnet`` before it; a flag before any ``--controlnet``,
or given twice for one unit, is refused while the flags are read (exit 2), naming the unit.
"""

from __future__ import annotations

import argparse

from ..requests import ControlUnit, field_spec
from .common import _argument_type

#: ControlUnit fields offered as flags after --controlnet (the flag names come from the declarations)
UNIT_FIELDS = ("image", "mode", "scale", "start", "end", "low", "high")
DEST = "control_units"


class _StartUnit(argparse.Action):
    def __call__(self, parser, namespace, value, option_string=None):
        units = list(getattr(namespace, DEST, None) or [])
        units.append({"model": value})
        setattr(namespace, DEST, units)


class _UnitFlag(argparse.Action):
    def __call__(self, parser, namespace, value, option_string=None):
        units = getattr(namespace, DEST, None) or []
        if not units:
            parser.error(f"{option_string} belongs to a ControlNet unit: give --controlnet MODEL before it.")
        unit = units[-1]
        if self.dest in unit:
            parser.error(
                f"{option_string} is given twice for ControlNet unit {len(units)} ({unit['model']}); "
                "start the next unit with --controlnet MODEL."
            )
        unit[self.dest] = value


def add_unit_flags(p: argparse.ArgumentParser) -> None:
    spec = field_spec(ControlUnit, "model")
    p.set_defaults(**{DEST: []})
    p.add_argument(spec.flag, metavar=spec.metavar, action=_StartUnit, dest="controlnet",
                   help="a ControlNet unit: " + spec.help + "; the --control-* flags after it belong to it (repeatable)")
    for name in UNIT_FIELDS:
        spec = field_spec(ControlUnit, name)
        p.add_argument(spec.flag, dest=name if name not in ("low", "high") else f"control_{name}",
                       metavar=spec.metavar, type=_argument_type(spec), action=_UnitFlag, help=spec.cli_help())
    p.add_argument("--embedding", metavar="FILE", action="append", default=[], dest="embedding_files",
                   help="a textual-inversion .safetensors file; a prompt naming it (its file name without "
                   ".safetensors) uses it (repeatable; the embeddings folder's files are always available)")


def units_from_args(args: argparse.Namespace) -> tuple[ControlUnit, ...]:
    units = []
    for i, raw in enumerate(getattr(args, DEST, None) or [], 1):
        values = {("low" if k == "control_low" else "high" if k == "control_high" else k): v for k, v in raw.items()}
        if "image" not in values:
            raise argparse.ArgumentTypeError(
                f"ControlNet unit {i} ({values['model']}) has no --control-image: give the picture that guides it."
            )
        units.append(ControlUnit(**values))
    return tuple(units)
