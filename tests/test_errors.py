"""Errors keep their kind; raw out-of-memory errors become advice that names settings that exist."""

from __future__ import annotations

import pytest

from studio import errors
from studio.errors import (
    OOM_CHANGES,
    Cancelled,
    InvalidRequest,
    ModelNotFound,
    NotDownloaded,
    OutOfMemory,
    StudioError,
    UnsafeModelFile,
    WrongModelKind,
    describe,
    is_out_of_memory,
    kind_of,
    user_error,
)


def test_every_error_has_its_kind():
    assert [cls("x").kind for cls in (InvalidRequest, ModelNotFound, NotDownloaded, WrongModelKind, UnsafeModelFile,
                                       OutOfMemory, StudioError)] == [
        "invalid", "not_found", "not_downloaded", "wrong_kind", "unsafe_file", "out_of_memory", "runtime"]
    assert kind_of(KeyError("k")) == "internal"
    assert NotDownloaded("gone", "org/model").model_id == "org/model"
    unsafe = UnsafeModelFile("pickled", "/m/x.pt", allowable=True)
    assert unsafe.path == "/m/x.pt" and unsafe.allowable


class OutOfMemoryError(RuntimeError):  # named as torch.cuda.OutOfMemoryError
    pass


@pytest.mark.parametrize("exc", [OutOfMemoryError("CUDA error"), RuntimeError("MPS backend out of memory")])
def test_raw_out_of_memory_becomes_advice_for_the_modality(exc):
    assert is_out_of_memory(exc)
    image = user_error(exc, "image")
    assert isinstance(image, OutOfMemory) and image.__cause__ is exc
    # advice in request terms: the fields to change, no GUI words (each front end words them)
    assert {c.field for c in image.changes} >= {"width", "height", "batch_size", "offload", "attention_slicing",
                                                "vae_tiling"}
    assert "Advanced" not in str(image) and "Settings" not in str(image)
    text = user_error(exc, "text")
    assert [c.field for c in text.changes] == ["max_new_tokens", "model"] and text.request_kind == "text"
    assert user_error(exc, "speech").changes == ()


def test_out_of_memory_advice_is_worded_from_the_field_declarations():
    from studio.requests import advice_text

    changes = OOM_CHANGES["image"]
    assert advice_text("image", changes, "label") == (
        "Lower Width, Height or Batch size; set Memory plan to 'model'; set Attention slicing to 'on'; "
        "set VAE tiling to 'on'.")
    assert advice_text("image", changes, "flag") == (
        "Lower --width, --height or --batch-size; use --offload model; use --attention-slicing on; "
        "use --vae-tiling on.")
    # an inpaint's size and memory fields are its image request's
    assert advice_text("inpaint", OOM_CHANGES["inpaint"], "flag") == "Lower --width or --height; use --offload model."
    assert advice_text("text", OOM_CHANGES["text"], "label") == "Lower Max new tokens; pick a smaller model."
    assert advice_text("speech", (), "flag") == ""


def test_other_errors_pass_unchanged():
    bug = KeyError("boom")
    assert user_error(bug, "image") is bug and not is_out_of_memory(bug)
    assert describe(bug) == "KeyError: 'boom'"
    invalid = InvalidRequest("width must be a multiple of 8")
    assert user_error(invalid) is invalid and describe(invalid) == "width must be a multiple of 8"
    assert not is_out_of_memory(InvalidRequest("out of memory in the prompt"))  # a person's message, not torch
    cancelled = Cancelled()
    assert user_error(cancelled) is cancelled


def test_no_private_oom_helper_is_left():
    assert not hasattr(errors, "_is_oom")
    assert errors.is_unsupported_pipeline(ValueError("AutoPipeline can't find a pipeline linked to X"))
    assert not errors.is_unsupported_pipeline(RuntimeError("AutoPipeline can't find a pipeline"))
