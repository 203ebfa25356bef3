"""Input widgets built from a request field's declaration (:mod:`studio.fieldspec`).

:func:`spin_box_for` gives a spin box whose range, step, decimals, default value and tooltip are the
field's own, so the UI can never offer a value the request refuses, nor stop short of one it allows.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox, QWidget

from ..requests import field_spec

INT32_MAX = 2**31 - 1


class LargeIntSpinBox(QDoubleSpinBox):
    """A whole-number box for ranges a QSpinBox (32-bit signed) cannot hold, e.g. seeds up to 2³²−1.

    A double holds every integer below 2⁵³ exactly; ``value()`` returns an ``int``.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(0)
        self.setSingleStep(1)
        self.setGroupSeparatorShown(False)

    def value(self) -> int:  # type: ignore[override]
        return int(round(super().value()))


def spin_box_for(cls: type, name: str, parent: QWidget | None = None) -> QSpinBox | QDoubleSpinBox:
    """A spin box for field ``name`` of request class ``cls``, configured from its spec.

    Whole numbers get a :class:`QSpinBox` (a :class:`LargeIntSpinBox` past 2³¹−1), other numbers a
    :class:`QDoubleSpinBox`. A field whose default is ``None`` (a seed: random) starts at its minimum.
    An exclusive minimum (top-p above 0) starts one step of the shown precision above it.
    """
    spec = field_spec(cls, name)
    if spec.type not in (int, float) or spec.minimum is None or spec.maximum is None:
        raise TypeError(f"{cls.__name__}.{name} is not a number with a range")
    if spec.type is int:
        box = QSpinBox(parent) if spec.maximum <= INT32_MAX else LargeIntSpinBox(parent)
        low = spec.minimum + (1 if spec.exclusive_minimum else 0)
        box.setRange(int(low), int(spec.maximum))
        box.setSingleStep(int(spec.step or 1))
    else:
        box = QDoubleSpinBox(parent)
        decimals = spec.decimals if spec.decimals is not None else 2
        box.setDecimals(decimals)
        low = spec.minimum + (10**-decimals if spec.exclusive_minimum else 0)
        box.setRange(low, spec.maximum)
        box.setSingleStep(spec.step or 10**-decimals)
    box.setValue(spec.default if spec.default is not None else box.minimum())
    box.setToolTip(spec.tooltip())
    return box
