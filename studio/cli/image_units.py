"""The grouped flags of ``studio generate image``: ControlNet units (``--controlnet MODEL`` and the
``--control-*`` flags after it, repeated per unit), IP-Adapter references (``--ip-adapter MODEL --ip-image FILE
[--ip-scale F]``, repeated per reference picture) and ``--embedding FILE``.

Each ``--control-*`` flag belongs to the ``--controlnet`` before it; a flag before any ``--controlnet``,
or given twice for one unit, is refused while the flags are read (exit 2), naming the unit.
"""

from __future__ import annotations

import argparse

from ..requests import ControlUnit, ImageRequest, IPAdapterUnit, field_spec
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


IP_DEST = "ip_groups"
#: the flags of one IP-Adapter reference: ImageRequest's declarations (the first reference is those fields)
IP_FLAGS = {"ip_image": "image", "ip_scale": "scale"}


class _StartReference(argparse.Action):
    def __call__(self, parser, namespace, value, option_string=None):
        groups = list(getattr(namespace, IP_DEST, None) or [])
        groups.append({"model": value})
        setattr(namespace, IP_DEST, groups)


class _ReferenceFlag(argparse.Action):
    def __call__(self, parser, namespace, value, option_string=None):
        groups = getattr(namespace, IP_DEST, None) or []
        if not groups:
            parser.error(f"{option_string} belongs to an IP-Adapter: give --ip-adapter MODEL before it.")
        group = groups[-1]
        key = IP_FLAGS[self.dest]
        if key in group:
            parser.error(
                f"{option_string} is given twice for IP-Adapter {len(groups)} ({group['model']}); "
                "start the next reference with --ip-adapter MODEL."
            )
        group[key] = value


def add_ip_flags(p: argparse.ArgumentParser) -> None:
    p.set_defaults(**{IP_DEST: []})
    spec = field_spec(ImageRequest, "ip_adapter")
    p.add_argument(spec.flag, metavar=spec.metavar, action=_StartReference, dest="ip_adapter",
                   help=spec.help + "; --ip-image and --ip-scale after it belong to it; repeat the group for more "
                   "reference pictures (the same adapter may come again)")
    for name in IP_FLAGS:
        spec = field_spec(ImageRequest, name)
        p.add_argument(spec.flag, dest=name, metavar=spec.metavar, type=_argument_type(spec), action=_ReferenceFlag,
                       help=spec.cli_help())


def ip_fields_from_args(args: argparse.Namespace) -> dict:
    """``ip_adapter`` / ``ip_image`` / ``ip_scale`` (the first reference) and ``ip_extra`` (the others)."""
    units = []
    for i, raw in enumerate(getattr(args, IP_DEST, None) or [], 1):
        if "image" not in raw:
            raise argparse.ArgumentTypeError(
                f"IP-Adapter {i} ({raw['model']}) has no --ip-image: give both the adapter (--ip-adapter) and its "
                "reference picture (--ip-image) after it."
            )
        units.append(IPAdapterUnit(**raw))
    if not units:
        return {}
    first = units[0]
    return {"ip_adapter": first.model, "ip_image": first.image, "ip_scale": first.scale, "ip_extra": tuple(units[1:])}


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
