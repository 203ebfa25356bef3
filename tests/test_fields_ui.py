"""Spin boxes built from the request fields' declarations: range, step, default and tooltip are the
spec's, and a seed box holds every seed up to 2**32-1."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox

from studio.models.catalog import Catalog
from studio.requests import MAX_SEED, ImageRequest, LoraSpec, MusicRequest, SpeechRequest, TextRequest, field_specs
from studio.ui.fields import spin_box_for

RANGED = [
    (cls, spec)
    for cls in (TextRequest, ImageRequest, SpeechRequest, MusicRequest, LoraSpec)
    for spec in field_specs(cls)
    if spec.type in (int, float)
]


@pytest.mark.parametrize("case", RANGED, ids=lambda c: f"{c[0].__name__}.{c[1].name}")
def test_spin_box_takes_range_default_and_help_from_the_spec(qtbot, case):
    cls, spec = case
    box = spin_box_for(cls, spec.name)
    qtbot.addWidget(box)
    assert isinstance(box, QSpinBox if spec.type is int and spec.maximum < 2**31 else QDoubleSpinBox)
    assert box.maximum() == spec.maximum and box.toolTip().lower() == spec.help.lower()
    if spec.exclusive_minimum:
        assert spec.minimum < box.minimum() < spec.minimum + 0.1
    else:
        assert box.minimum() == spec.minimum
    assert box.value() == (spec.default if spec.default is not None else spec.minimum)
    # whatever the box can hold, the request accepts: its ends are valid values of the field
    spec.check(spec.type(box.minimum()))
    spec.check(spec.type(box.maximum()))


def test_seed_boxes_round_trip_the_largest_seed(qtbot):
    for cls in (TextRequest, ImageRequest, SpeechRequest, MusicRequest):
        box = spin_box_for(cls, "seed")
        qtbot.addWidget(box)
        box.setValue(MAX_SEED)
        assert box.value() == MAX_SEED and isinstance(box.value(), int)
        box.setValue(3141592653)
        assert box.value() == 3141592653


def test_image_settings_build_a_request_with_a_seed_above_2_31(qtbot, tmp_path):
    from studio.ui.image.form import ImageForm

    form = ImageForm(Catalog(tmp_path / "user_models.json"), tmp_path / "inputs")
    qtbot.addWidget(form)
    assert form.strength.minimum() == 0.01 and form.seed.maximum() == MAX_SEED
    form.prompt.setPlainText("a cat")
    form.seed.setValue(MAX_SEED)
    request = form.build_request()
    request.validate()
    assert request.seed == MAX_SEED


def test_a_field_without_a_range_has_no_spin_box():
    with pytest.raises(TypeError, match="not a number with a range"):
        spin_box_for(ImageRequest, "prompt")
