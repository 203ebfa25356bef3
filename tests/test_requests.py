"""Request fields declared once: the specs, validate() built from them (each class of bad value), the
CLI flags built from them, and InpaintRequest by composition."""

from __future__ import annotations

import argparse
import dataclasses
import math

import pytest

from studio.cli import build_parser
from studio.cli.common import add_request_arguments, positive_int, request_kwargs_from_args
from studio.errors import InvalidRequest
from studio.requests import (
    MAX_PROMPT_CHARS,
    MAX_SEED,
    SCHEDULERS,
    ChatMessage,
    ImageRequest,
    InpaintRequest,
    LoraSpec,
    MusicRequest,
    SpeechRequest,
    TextRequest,
    field_spec,
    field_specs,
)

HI = (ChatMessage("user", "hi"),)
VALID = {
    TextRequest: TextRequest(messages=HI),
    ImageRequest: ImageRequest(prompt="a cat"),
    InpaintRequest: InpaintRequest(image="in.png", mask="mask.png"),
    SpeechRequest: SpeechRequest(text="Hello there."),
    MusicRequest: MusicRequest(prompt="calm piano"),
}
NUMERIC = [(cls, spec) for cls in VALID for spec in field_specs(cls) if spec.type in (int, float)]
TEXTS = [(cls, spec) for cls in VALID for spec in field_specs(cls) if spec.type is str]


def ids(case) -> str:
    return f"{case[0].__name__}.{case[1].name}"


# --- the declarations -------------------------------------------------------------------------------


def test_field_spec_reports_what_was_declared():
    seed = field_spec(ImageRequest, "seed")
    assert (seed.default, seed.minimum, seed.maximum, seed.optional) == (None, 0, MAX_SEED, True)
    assert (seed.flag, seed.metavar) == ("--seed", "X") and "seed + i" in seed.help
    steps = field_spec(ImageRequest, "num_inference_steps")
    assert (steps.default, steps.minimum, steps.maximum, steps.flag, steps.metavar) == (25, 1, 500, "--steps", "S")
    top_p = field_spec(TextRequest, "top_p")
    assert top_p.exclusive_minimum and top_p.decimals == 2 and top_p.step == 0.01
    assert field_spec(ImageRequest, "scheduler").choices == ("", *SCHEDULERS)
    assert field_spec(ImageRequest, "prompt").required and not field_spec(ImageRequest, "model").required
    assert (field_spec(TextRequest, "threads").default, field_spec(TextRequest, "gpu_layers").default) == (0, -1)
    assert field_spec(MusicRequest, "continue_from").flag == "--continue"
    assert field_spec(MusicRequest, "duration_s").flag == "--duration"
    assert field_spec(SpeechRequest, "speaker_wav").flag == "--speaker-wav"
    with pytest.raises(KeyError, match="no declared field 'nope'"):
        field_spec(TextRequest, "nope")


@pytest.mark.parametrize("cls", [*VALID, LoraSpec, ChatMessage], ids=lambda c: c.__name__)
def test_every_field_is_declared_with_help_and_defaults_match_the_dataclass(cls):
    specs = field_specs(cls)
    assert [s.name for s in specs] == [f.name for f in dataclasses.fields(cls)]
    for spec in specs:
        assert spec.help and spec.label, spec.name
        if not spec.required and spec.type in (int, float, str, bool):
            spec.check(spec.default)  # every default is itself valid
    flags = [s.flag for s in specs if s.flag]
    assert len(flags) == len(set(flags))


def test_valid_requests_and_their_defaults_validate():
    for request in VALID.values():
        request.validate()


# --- validate() from the specs: each class of bad value -----------------------------------------------


def bad_numbers(spec) -> list:
    values = ["3", None, True, math.nan, math.inf, -math.inf]
    values += [spec.minimum - 1, spec.maximum + 1] if spec.type is int else [spec.minimum - 0.5, spec.maximum + 0.5]
    if spec.type is int:
        values.append(spec.minimum + 0.5)
    if spec.exclusive_minimum:
        values.append(spec.minimum)
    if spec.optional:
        values.remove(None)
    return values


def with_value(cls, name, value):
    return dataclasses.replace(VALID[cls], **{name: value})


@pytest.mark.parametrize("case", NUMERIC, ids=ids)
def test_numbers_out_of_range_of_the_wrong_type_or_not_finite_are_refused(case):
    cls, spec = case
    for value in bad_numbers(spec):
        with pytest.raises(InvalidRequest, match=spec.label.replace("(", r"\(").replace(")", r"\)")) as err:
            with_value(cls, spec.name, value).validate()
        assert str(err.value).count("\n") == 0
    with_value(cls, spec.name, spec.maximum if spec.type is int else float(spec.maximum)).validate()


@pytest.mark.parametrize("case", TEXTS, ids=ids)
def test_texts_paths_and_choices_must_be_strings_of_the_right_kind(case):
    cls, spec = case
    bad = [None, 3, b"bytes"]
    if spec.choices is not None:
        bad.append("no-such-choice")
    elif spec.is_path:
        bad += ["dir/\x00file", "x" * 5000]
    else:
        bad.append("x" * (spec.max_chars + 1))
    for value in bad:
        with pytest.raises(InvalidRequest, match=r"must be|unknown|too long|not a valid file path"):
            with_value(cls, spec.name, value).validate()


def test_the_seed_takes_every_32_bit_value_and_none():
    for seed in (0, MAX_SEED, None):
        for cls in VALID:
            if cls is not InpaintRequest:
                with_value(cls, "seed", seed).validate()
    with pytest.raises(InvalidRequest, match=f"from 0 to {MAX_SEED}, or empty for a random seed"):
        ImageRequest(prompt="x", seed=MAX_SEED + 1).validate()


def test_request_specific_rules():
    with pytest.raises(InvalidRequest, match="empty"):
        TextRequest(messages=(ChatMessage("user", "   "),)).validate()
    with pytest.raises(InvalidRequest, match="last message must be the user's"):
        TextRequest(messages=(ChatMessage("assistant", "hi"),)).validate()
    with pytest.raises(InvalidRequest, match="unknown message role"):
        TextRequest(messages=(ChatMessage("robot", "hi"), *HI)).validate()
    with pytest.raises(InvalidRequest, match="messages is empty"):
        TextRequest(messages=()).validate()
    with pytest.raises(InvalidRequest, match="chat messages"):
        TextRequest(messages=("hi",)).validate()
    with pytest.raises(InvalidRequest, match="message is too long"):
        TextRequest(messages=(ChatMessage("user", "x" * (MAX_PROMPT_CHARS + 1)),)).validate()
    with pytest.raises(InvalidRequest, match="prompt is empty"):
        ImageRequest(prompt=" ").validate()
    ImageRequest(prompt="", init_image="in.png").validate()  # image-to-image needs no prompt
    with pytest.raises(InvalidRequest, match="multiple of 8 .got 100; try 96"):
        ImageRequest(prompt="x", width=100).validate()
    with pytest.raises(InvalidRequest, match="LoRA weight must be between -5 and 5"):
        ImageRequest(prompt="x", loras=(LoraSpec("a.safetensors", math.nan),)).validate()
    with pytest.raises(InvalidRequest, match="text is empty"):
        SpeechRequest(text="  ").validate()
    with pytest.raises(InvalidRequest, match="prompt is empty"):
        MusicRequest(prompt="").validate()
    with pytest.raises(InvalidRequest, match="allow pickle must be true or false"):
        SpeechRequest(text="hi", allow_pickle="yes").validate()


# --- InpaintRequest: composition ---------------------------------------------------------------------


def test_inpaint_holds_an_image_request_with_the_one_strength():
    assert not issubclass(InpaintRequest, ImageRequest)
    names = {f.name for f in dataclasses.fields(InpaintRequest)}
    assert "strength" not in names and "init_image" not in names and "generation" in names
    request = InpaintRequest(image="in.png", generation=ImageRequest(prompt="", seed=3, strength=0.6), extend_left=64)
    request.validate()  # an empty prompt is fine (remove an object); outpaint needs no mask
    assert (request.prompt, request.generation.strength, request.extends) == ("", 0.6, (64, 0, 0, 0))
    data = request.to_dict()
    assert data["kind"] == "inpaint" and data["strength"] == 0.6 and data["seed"] == 3 and data["image"] == "in.png"
    assert "init_image" not in data and "generation" not in data
    assert InpaintRequest(image="in.png").generation.strength == 1.0


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"image": ""}, "image is missing"),
        ({"mask": ""}, "mask is empty"),
        ({"generation": ImageRequest(prompt="", init_image="x.png")}, "not from the image request's init_image"),
        ({"generation": ImageRequest(prompt="", strength=0.0)}, "strength must be above 0"),
        ({"generation": ImageRequest(prompt="", width=100)}, "multiple of 8"),
        ({"generation": "a cat"}, "must be a ImageRequest"),
        ({"inpaint_area": "outside"}, "unknown inpaint area"),
        ({"mask_blur": 65}, "mask blur must be a whole number from 0 to 64"),
        ({"padding": -1}, "padding"),
        ({"extend_bottom": 2049}, "extend bottom"),
        ({"mask": 5}, "mask must be a file path"),
    ],
)
def test_inpaint_validation(changes, words):
    with pytest.raises(InvalidRequest, match=words):
        dataclasses.replace(VALID[InpaintRequest], **changes).validate()


# --- the CLI built from the specs ---------------------------------------------------------------------


def parser_for(cls, names, **kwargs) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_request_arguments(parser, cls, names, **kwargs)
    return parser


def test_cli_flags_come_from_the_specs_and_read_back_as_request_fields():
    names = [s.name for s in field_specs(MusicRequest) if s.flag]
    parser = parser_for(MusicRequest, names)
    defaults = parser.parse_args(["--prompt", "piano"])
    assert request_kwargs_from_args(MusicRequest, defaults, names) == {
        s.name: ("piano" if s.name == "prompt" else s.default) for s in field_specs(MusicRequest) if s.flag
    }
    args = parser.parse_args(["--prompt", "piano", "--duration", "30", "--guidance", "4.5", "--top-k", "0",
                              "--seed", str(MAX_SEED), "--continue", "take.wav", "--variations", "3"])
    request = MusicRequest(**request_kwargs_from_args(MusicRequest, args, names))
    request.validate()
    assert (request.duration_s, request.guidance_scale, request.top_k, request.seed) == (30.0, 4.5, 0, MAX_SEED)
    assert (request.continue_from, request.variations) == ("take.wav", 3)
    help_text = " ".join(parser.format_help().split())
    assert "--duration S" in help_text and "(default 10)" in help_text and "random seed" in help_text


def test_speech_flags_and_bool_flags():
    names = ["text", "model", "speaker", "language", "speaker_wav", "speed", "seed", "allow_pickle"]
    with pytest.raises(ValueError, match="no CLI flag"):
        parser_for(SpeechRequest, names)
    names.remove("allow_pickle")
    args = parser_for(SpeechRequest, names).parse_args(["--text", "hi", "--speaker-wav", "me.wav", "--speed", "1.5"])
    request = SpeechRequest(**request_kwargs_from_args(SpeechRequest, args, names))
    assert (request.speaker_wav, request.speed, request.seed) == ("me.wav", 1.5, None)


def test_cli_keeps_the_documented_flags():
    image = build_parser().parse_args(["generate", "image", "--prompt", "p", "--model", "m", "--out", "o.png",
                                       "--steps", "3", "--guidance", "2", "--scheduler", "euler A", "--seed", "0",
                                       "--init-image", "in.png", "--strength", "0.5", "--batch-size", "2"])
    assert (image.num_inference_steps, image.guidance_scale, image.scheduler, image.seed) == (3, 2.0, "Euler a", 0)
    assert (image.init_image, image.strength, image.batch_size, image.width) == ("in.png", 0.5, 2, 512)
    text = build_parser().parse_args(["generate", "text", "--prompt", "p", "--system", "be brief", "--top-p", "0.5",
                                      "--threads", "4", "--gpu-layers", "0"])
    assert (text.system_prompt, text.top_p, text.threads, text.gpu_layers, text.seed) == ("be brief", 0.5, 4, 0, None)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["generate", "text", "--prompt", "hi", "--top-k", "many"], "expected a whole number, got 'many'"),
        (["generate", "text", "--prompt", "hi", "--temperature", "warm"], "expected a number, got 'warm'"),
        (["generate", "image", "--prompt", "p", "--out", "o.png"], "--model"),
    ],
)
def test_cli_type_errors_exit_2(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2 and words in capsys.readouterr().err


def test_positive_int_refuses_zero_and_negatives():
    assert positive_int("1") == 1
    for text in ("0", "-3", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_int(text)


def test_requests_know_their_permissions():
    image = ImageRequest(prompt="a fox", model="m")
    assert image.needs_permission() and not image.with_pickle_allowed().needs_permission()
    assert image.with_pickle_allowed() == image.replace(allow_pickle=True)
    speech = SpeechRequest(text="hi")
    assert speech.needs_permission() and speech.with_pickle_allowed().allow_pickle is True
    # an inpaint holds its permission inside its image-generation parameters
    inpaint = InpaintRequest(image="p.png", mask="m.png", generation=ImageRequest(prompt="a fox", model="m"))
    allowed = inpaint.with_pickle_allowed()
    assert inpaint.needs_permission() and not allowed.needs_permission()
    assert allowed.generation.allow_pickle is True and allowed.allow_pickle is True and allowed.model == "m"
    assert allowed.to_dict()["allow_pickle"] is True and "generation" not in allowed.to_dict()
    # text and music load no pickles: nothing to ask
    text = TextRequest(messages=(ChatMessage("user", "hi"),))
    assert not text.needs_permission() and not MusicRequest(prompt="calm").needs_permission()
    with pytest.raises(ValueError):
        text.with_pickle_allowed()
