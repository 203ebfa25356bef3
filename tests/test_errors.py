"""Errors keep their kind; raw out-of-memory errors become advice that names settings that exist."""

from __future__ import annotations

import pytest

from studio import errors
from studio.errors import (
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
    # the Image tab's Advanced section has Offload, Attention slicing and VAE tiling
    assert "Advanced" in str(image) and "Offload" in str(image) and "Settings" not in str(image)
    text = describe(exc, "text")
    assert "Max new tokens" in text and "Settings → Preferences → Device" in text
    assert "Settings → Preferences → Device" in describe(exc, "speech")


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
