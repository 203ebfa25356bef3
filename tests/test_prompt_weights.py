"""Prompt weights in A1111's syntax (parsed here, encoded by compel) and textual-inversion embeddings, on tiny
SD 1.x / SDXL pipelines: weight 1 is exactly the plain prompt, weights equal compel's own encoding, long
prompts are not cut, BREAK and unbalanced brackets work, embeddings are used when named and taken out after."""

from __future__ import annotations

import numpy as np
import pytest

from studio.engines import prompt_weights as pw
from studio.engines.base import CancelToken, Runtime
from studio.engines.image import ImageEngine
from studio.errors import InvalidRequest, UnsafeModelFile
from studio.events import Output
from studio.requests import ImageRequest
from studio.testing.events import collect
from studio.testing.tiny_tools import build_tiny_embedding

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a cat", [("a cat", 1.0)]),
        ("(word:1.0)", [("word", 1.0)]),
        ("a (b:1.0) c", [("a b c", 1.0)]),
        ("(word)", [("word", 1.1)]),
        ("[word]", [("word", 1 / 1.1)]),
        ("((word))", [("word", 1.1 * 1.1)]),
        ("(a (b:1.5) c:1.2)", [("a ", 1.2), ("b", 1.5 * 1.2), (" c", 1.2)]),
        (r"\(x\) \[y\] \\", [("(x) [y] \\", 1.0)]),
        ("oops)", [("oops)", 1.0)]),  # closes nothing: text
        ("a]", [("a]", 1.0)]),
        ("(open", [("open", 1.1)]),  # never closed: A1111 weights the rest
        ("a BREAK b", [("a", 1.0), ("BREAK", -1.0), ("b", 1.0)]),
        ("aBREAKb", [("aBREAKb", 1.0)]),  # not a word of its own
        ("", [("", 1.0)]),
        ("key: value, (x:0.5)", [("key: value, ", 1.0), ("x", 0.5)]),
    ],
)
def test_parse_attention_reads_a1111_syntax(prompt, expected):
    got = pw.parse_attention(prompt)
    assert [t for t, _ in got] == [t for t, _ in expected]
    assert [w for _, w in got] == pytest.approx([w for _, w in expected])


def test_plain_text_only_without_weights():
    assert pw.plain_text("(a cat:1.0), \\(b\\)") == "a cat, (b)"
    assert pw.plain_text("(a cat)") is None
    assert pw.plain_text("a BREAK b") is None


def _request(model, **kw) -> ImageRequest:
    kw.setdefault("prompt", "a cat")
    return ImageRequest(model=str(model), width=64, height=64, num_inference_steps=4, seed=3, **kw)


def _pixels(request, runtime) -> np.ndarray:
    events, _ = collect(ImageEngine().run(request, runtime, CancelToken()))
    out = [e for e in events if isinstance(e, Output)]
    assert len(out) == 1
    return np.asarray(out[0].data, dtype=np.int16)


@pytest.fixture
def runtime():
    return Runtime(device="cpu")


def test_weight_one_is_exactly_the_plain_prompt_and_weights_change_it(tiny_sd, runtime):
    plain = _pixels(_request(tiny_sd, prompt="a cat"), runtime)
    assert np.array_equal(_pixels(_request(tiny_sd, prompt="(a cat:1.0)"), runtime), plain)
    assert np.array_equal(_pixels(_request(tiny_sd, prompt="[(a cat)]", negative_prompt="(dog:1)"), runtime),
                          _pixels(_request(tiny_sd, prompt="a cat", negative_prompt="dog"), runtime))
    assert not np.array_equal(_pixels(_request(tiny_sd, prompt="(a cat:1.6)"), runtime), plain)


def test_weighted_prompt_equals_compels_own_encoding(tiny_sd, runtime):
    import torch
    from compel import Compel
    from diffusers import StableDiffusionPipeline

    got = _pixels(_request(tiny_sd, prompt="a (cat:1.4) [dog]", negative_prompt="(the:0.7)"), runtime)
    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_sd), local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    compel = Compel(tokenizer=pipe.tokenizer, text_encoder=pipe.text_encoder, truncate_long_prompts=False)
    positive = compel("a (cat)1.4 (dog)0.9090909090909091")
    negative = compel("(the)0.7")
    raw = pipe(prompt_embeds=positive, negative_prompt_embeds=negative, num_inference_steps=4, guidance_scale=7.0,
               width=64, height=64, generator=torch.Generator("cpu").manual_seed(3)).images[0]
    assert np.abs(np.asarray(raw, dtype=np.int16) - got).max() <= 1


def test_long_prompts_are_not_cut_and_break_and_unbalanced_brackets_work(tiny_sd, runtime):
    long = ", ".join(["the cat"] * 20)  # far beyond 75 tokens of the tiny (byte-level) tokenizer
    a = _pixels(_request(tiny_sd, prompt=long + ", dog"), runtime)
    b = _pixels(_request(tiny_sd, prompt=long + ", the"), runtime)
    assert not np.array_equal(a, b)  # the words after token 75 count (a plain pipeline cuts them off)
    plain = _pixels(_request(tiny_sd, prompt="a cat"), runtime)
    assert not np.array_equal(_pixels(_request(tiny_sd, prompt="a BREAK cat"), runtime), plain)
    for prompt in ("(a cat", "a cat)", "[[a (cat", "a cat:1.2)", "(a cat:1.2.3)"):
        _pixels(_request(tiny_sd, prompt=prompt), runtime)  # text, never an error


def test_sdxl_weights(tiny_family, runtime):
    folder = tiny_family("sdxl")[0]
    plain = _pixels(_request(folder, prompt="a cat"), runtime)
    assert np.array_equal(_pixels(_request(folder, prompt="(a cat:1.0)"), runtime), plain)
    weighted = _pixels(_request(folder, prompt="(a cat:1.5)", negative_prompt="[dog]"), runtime)
    assert not np.array_equal(weighted, plain)


# --- textual-inversion embeddings ------------------------------------------------------------------


def test_embedding_in_the_folder_is_used_when_named_and_taken_out_after(tiny_sd, runtime, tmp_path):
    import torch
    from diffusers import StableDiffusionPipeline

    from studio import paths

    folder = paths.embeddings_dir()
    folder.mkdir(parents=True)
    emb = build_tiny_embedding(folder / "my-style.safetensors", width=32)
    plain = _pixels(_request(tiny_sd, prompt="a cat"), runtime)
    styled = _pixels(_request(tiny_sd, prompt="a my-style cat"), runtime)
    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_sd), local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    from safetensors.torch import load_file

    pipe.load_textual_inversion(load_file(str(emb))["emb_params"], token="my-style")
    raw = pipe(prompt="a my-style cat", num_inference_steps=4, guidance_scale=7.0, width=64, height=64,
               generator=torch.Generator("cpu").manual_seed(3)).images[0]
    assert np.array_equal(np.asarray(raw, dtype=np.int16), styled)
    assert not np.array_equal(styled, plain)
    # the model in the cache is as before: the same plain prompt gives the same picture again
    assert np.array_equal(_pixels(_request(tiny_sd, prompt="a cat"), runtime), plain)
    # weighted, through compel (the multi-vector token is expanded there too)
    _pixels(_request(tiny_sd, prompt="a (my-style:1.2) cat"), runtime)


def test_embedding_given_explicitly_and_wrong_dimension(tiny_sd, runtime, tmp_path):
    wrong = build_tiny_embedding(tmp_path / "xl-thing.safetensors", width=48)
    with pytest.raises(InvalidRequest, match="48 wide.*needs 32-wide"):
        collect(ImageEngine().run(_request(tiny_sd, embeddings=(str(wrong),)), runtime, CancelToken()))
    # a model of a known family refuses it before loading, from the file's header only
    from studio.engines.embeddings import check_embedding, check_fits

    with pytest.raises(InvalidRequest, match="made for Stable Diffusion 1.x"):
        check_fits(check_embedding(build_tiny_embedding(tmp_path / "sd15.safetensors", width=768)), "sdxl")
    pickled = tmp_path / "old.pt"
    pickled.write_bytes(b"not really")
    with pytest.raises(UnsafeModelFile):
        collect(ImageEngine().run(_request(tiny_sd, embeddings=(str(pickled),)), runtime, CancelToken()))
    good = build_tiny_embedding(tmp_path / "mine.safetensors", width=32)
    assert not np.array_equal(_pixels(_request(tiny_sd, prompt="mine cat", embeddings=(str(good),)), runtime),
                              _pixels(_request(tiny_sd, prompt="mine cat"), runtime))


def test_embeddings_of_a_registered_model_folder_are_used_when_named(tiny_sd, runtime, tmp_path):
    from studio.models.folders import ModelFolders

    a1111 = tmp_path / "webui"
    (a1111 / "embeddings").mkdir(parents=True)
    build_tiny_embedding(a1111 / "embeddings" / "old-style.safetensors", width=32)
    ModelFolders(runtime.catalog.folders_file).add(a1111)
    events, _ = collect(ImageEngine().run(_request(tiny_sd, prompt="an old-style cat"), runtime, CancelToken()))
    params = [e for e in events if isinstance(e, Output)][0].params
    assert params["embeddings_used"] == ["old-style"]  # A1111's embeddings folder, used in place


def test_embedding_added_with_the_models_window_is_used_when_named(qtbot, tiny_sd, runtime, tmp_path):
    """"Add embedding…" of the Models window registers the file where it is (nothing copied); a prompt naming it
    then uses it, the same picture as giving the file explicitly. Files that are not embeddings are refused."""
    from studio.jobs.downloads import DownloadManager
    from studio.ui.models_window import ModelsWindow

    manager = DownloadManager()
    window = ModelsWindow(runtime.catalog, manager)
    qtbot.addWidget(window)
    (tmp_path / "mine").mkdir()
    emb = build_tiny_embedding(tmp_path / "mine" / "ink-wash.safetensors", width=32)
    with qtbot.waitSignal(window.models_changed, timeout=2000):
        entry = window.add_embedding(emb)
    assert entry is not None and entry.format == "embedding" and entry.path == str(emb.resolve())
    assert "write ink-wash in a prompt" in window.status.text()
    assert entry.id in window.model_ids("image-tools") and window.selected_id() == entry.id
    from studio import paths

    assert [p.name for p in emb.parent.iterdir()] == ["ink-wash.safetensors"]  # used where it is, nothing copied
    assert not paths.embeddings_dir().exists() or not any(paths.embeddings_dir().iterdir())
    events, _ = collect(ImageEngine().run(_request(tiny_sd, prompt="an ink-wash cat"), runtime, CancelToken()))
    out = [e for e in events if isinstance(e, Output)][0]
    assert out.params["embeddings_used"] == ["ink-wash"]
    explicit = _pixels(_request(tiny_sd, prompt="an ink-wash cat", embeddings=(str(emb),)), runtime)
    assert np.array_equal(np.asarray(out.data, dtype=np.int16), explicit)
    # hostile files: a pickle, a .safetensors that is not an embedding
    pickled = tmp_path / "old.pt"
    pickled.write_bytes(b"not really")
    assert window.add_embedding(pickled) is None and "pickled embeddings" in window.status.text()
    from safetensors.torch import save_file
    import torch

    other = tmp_path / "lora.safetensors"
    save_file({"a.weight": torch.zeros(2, 2), "b.weight": torch.zeros(2, 2)}, str(other))
    assert window.add_embedding(other) is None and "not a textual-inversion embedding" in window.status.text()
    assert [e.id for e in runtime.catalog.entries("image-tools") if e.source == "local"] == [entry.id]
    assert manager.shutdown()
