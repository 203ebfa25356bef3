"""Hostile but realistic input through the CLI, as a table: input → exit code and a fragment of the
one-line message → no side effect (no output written, nothing in the library, no file left behind).

Every case is rejected before a model is loaded (most before one is even resolved), so the table
runs in seconds; the few that reach a loader fail in it at once. The cases are grouped by class of
defect (issue 11): special and impossible output paths, validation before work, non-UTF-8 text,
library exceptions, mistyped commands, hostile input files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.numpy import save_file

from studio.cli import main
from studio.errors import StudioError

ROOT = Path(__file__).resolve().parents[1]
BAD_UTF8 = b"caf\xe9 \xff".decode("utf-8", "surrogateescape")  # what Python makes of such argv bytes


def _files(tmp_path: Path) -> Path:
    """The hostile fixtures every case may name, under ``tmp_path / 'w'``."""
    import numpy as np

    w = tmp_path / "w"
    w.mkdir()
    (w / "folder").mkdir()
    (w / "file.txt").write_text("a file, not a folder")
    os.mkfifo(w / "fifo")
    (w / "random.safetensors").write_bytes(os.urandom(3000))
    save_file({"encoder.weight": np.zeros((4, 4), np.float32)}, str(w / "notlora.safetensors"))
    save_file(
        {
            "unet.a.attn1.to_q.lora_A.weight": np.zeros((4, 8), np.float32),
            "unet.a.attn1.to_q.lora_B.weight": np.zeros((8, 3), np.float32),  # rank 3 ≠ 4
        },
        str(w / "badrank.safetensors"),
    )
    (w / "loop.png").symlink_to(w / "loop.png")
    (w / "truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    # a "model" whose config.json is a JSON list, and one with a wrongly typed field
    for name, config in (("listconfig", []), ("typedconfig", {"architectures": "LlamaForCausalLM", "model_type": 7,
                                                             "vocab_size": "many", "hidden_size": -3})):
        folder = w / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(config))
        save_file({"x": np.zeros(1, np.float32)}, str(folder / "model.safetensors"))
    # a well-formed config next to garbage weights and no tokenizer: the library's own error, as one line
    (w / "garbage").mkdir()
    (w / "garbage" / "config.json").write_text('{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}')
    (w / "garbage" / "model.safetensors").write_bytes(os.urandom(500))
    # a diffusers folder whose text encoder holds only pickled weights
    sd = w / "binte"
    for part in ("unet", "vae", "text_encoder"):
        (sd / part).mkdir(parents=True)
    (sd / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline", "text_encoder": ["t", "C"]}')
    for part in ("unet", "vae"):
        save_file({"x": np.zeros(1, np.float32)}, str(sd / part / "diffusion_pytorch_model.safetensors"))
    (sd / "text_encoder" / "pytorch_model.bin").write_bytes(b"not even a pickle")
    return w


IMG = ["generate", "image", "--prompt", "a cat", "--model", "{w}/binte", "--width", "64", "--height", "64"]
TXT = ["generate", "text", "--prompt", "hi", "--model", "{w}/listconfig"]

CASES = [
    # --- a mistyped command never opens a window -------------------------------------------------
    ("typo-command", ["genrate", "text", "--prompt", "hi"], 2, "invalid choice: 'genrate'"),
    ("typo-subcommand", ["generate", "txt", "--prompt", "hi"], 2, "invalid choice: 'txt'"),
    ("typo-models", ["models", "lst"], 2, "invalid choice: 'lst'"),
    ("typo-pasted-page", ["x" * 100_000], 2, "invalid choice"),
    # --- where the output goes: checked before any work ------------------------------------------
    ("out-empty", [*IMG, "--out", ""], 2, "the path is empty"),
    ("out-folder", [*IMG, "--out", "{w}/folder"], 2, "is a folder"),
    ("out-under-file", [*IMG, "--out", "{w}/file.txt/x.png"], 2, "not a folder"),
    ("out-under-file-deep", [*IMG, "--out", "{w}/file.txt/a/b/x.png"], 2, "not a folder"),
    ("out-symlink-loop", [*IMG, "--out", "{w}/loop.png"], 2, "Too many levels of symbolic links"),
    ("out-proc", [*IMG, "--out", "/proc/studio-test.png"], 2, "Cannot write files in '/proc'"),
    ("out-unknown-ext", [*IMG, "--out", "{w}/x.gif"], 2, "use .png, .jpg, .jpeg, .webp"),
    ("out-no-ext", [*IMG, "--out", "{w}/x"], 2, "files without an extension"),
    ("out-text-as-image", [*TXT, "--out", "{w}/reply.png"], 2, "cannot write '.png' files"),
    ("out-stream-batch", [*IMG, "--out", "/dev/null", "--batch-size", "2"], 2, "takes one output"),
    ("out-batch-folder", [*IMG, "--out", "{w}/b.png", "--batch-size", "2"], 2, "is a folder"),  # b-1.png below
    # --- every value validated before anything is built from it -----------------------------------
    ("huge-batch", [*IMG, "--out", "{w}/x.png", "--batch-size", "1000000000"], 2, "batch size must be"),
    ("huge-int-text", [*TXT, "--max-new-tokens", "9" * 5000], 2, "expected a whole number"),
    ("huge-steps", [*IMG, "--out", "{w}/x.png", "--steps", "10000000"], 2, "steps must be"),
    ("negative-size", [*IMG, "--out", "{w}/x.png", "--width", "-64"], 2, "width must be"),
    ("nan-strength-no-init", [*IMG, "--out", "{w}/x.png", "--strength", "nan"], 2, "strength must be"),
    ("inf-guidance", [*IMG, "--out", "{w}/x.png", "--guidance", "inf"], 2, "guidance"),
    ("nan-lora-weight", [*IMG, "--out", "{w}/x.png", "--lora", "{w}/badrank.safetensors:nan"], 2, "LoRA weight"),
    ("nan-temperature", [*TXT, "--temperature", "nan"], 2, "temperature"),
    ("neg-top-p", [*TXT, "--top-p", "-1"], 2, "top-p"),
    ("huge-seed", [*TXT, "--seed", "99999999999999999999"], 2, "seed"),
    ("huge-sampler-name", [*IMG, "--out", "{w}/x.png", "--scheduler", "x" * 100_000], 2, "unknown sampler"),
    ("model-name-too-long", ["generate", "text", "--prompt", "hi", "--model", "m" * 3000], 1, "File name too long"),
    # --- text that is not UTF-8: one line before anything loads -----------------------------------
    ("bad-utf8-prompt", ["generate", "text", "--prompt", BAD_UTF8, "--model", "{w}/listconfig"], 2, "not valid UTF-8"),
    ("bad-utf8-system", [*TXT, "--system", BAD_UTF8], 2, "system prompt is not valid UTF-8"),
    ("bad-utf8-image-prompt", ["generate", "image", "--prompt", BAD_UTF8, "--model", "m", "--out", "{w}/x.png"], 2,
     "prompt is not valid UTF-8"),
    ("bad-utf8-negative", [*IMG, "--out", "{w}/x.png", "--negative-prompt", BAD_UTF8], 2,
     "negative prompt is not valid UTF-8"),
    ("bad-utf8-model-name", ["models", "add", "{w}/listconfig", "--modality", "text", "--name", BAD_UTF8], 2,
     "--name is not valid UTF-8"),
    ("multiline-model-name", ["models", "add", "{w}/listconfig", "--modality", "text", "--name", "a\nb"], 2,
     "one line"),
    # --- input files: missing, folders, FIFOs, garbage — same mistake, same code -------------------
    ("init-missing", [*IMG, "--out", "{w}/x.png", "--init-image", "{w}/nope.png"], 2, "No image-to-image picture"),
    ("lora-missing", [*IMG, "--out", "{w}/x.png", "--lora", "{w}/nope.safetensors"], 2, "No LoRA file"),
    ("init-fifo", [*IMG, "--out", "{w}/x.png", "--init-image", "{w}/fifo"], 2, "not a regular file"),
    ("init-folder", [*IMG, "--out", "{w}/x.png", "--init-image", "{w}/folder"], 2, "is a folder"),
    ("init-truncated", [*IMG, "--out", "{w}/x.png", "--init-image", "{w}/truncated.png"], 2, "Can't read"),
    ("lora-fifo", [*IMG, "--out", "{w}/x.png", "--lora", "{w}/fifo"], 2, "not a regular file"),
    ("lora-random-bytes", [*IMG, "--out", "{w}/x.png", "--lora", "{w}/random.safetensors"], 2,
     "not a readable .safetensors"),
    ("lora-not-a-lora", [*IMG, "--out", "{w}/x.png", "--lora", "{w}/notlora.safetensors"], 2, "holds no LoRA layers"),
    ("lora-wrong-shapes", [*IMG, "--out", "{w}/x.png", "--lora", "{w}/badrank.safetensors"], 2, "do not match in rank"),
    ("info-missing", ["info", "{w}/nope.png"], 2, "No PNG at"),
    ("info-fifo", ["info", "{w}/fifo"], 2, "not a regular file"),
    ("info-folder", ["info", "{w}/folder"], 2, "is a folder"),
    ("info-not-png", ["info", "{w}/file.txt"], 2, "is not a PNG"),
    ("info-device", ["info", "/dev/null"], 2, "not a regular file"),
    ("models-add-fifo", ["models", "add", "{w}/fifo"], 1, "not a model Studio can read"),
    ("models-add-wrong-kind", ["models", "add", "{w}/binte", "--modality", "text"], 1,
     "looks like an image model, not a text model"),
    # --- library failures become one line naming the model ----------------------------------------
    ("config-is-a-list", [*TXT, "-q"], 1, "config.json holds a list"),
    ("config-wrong-types", ["generate", "text", "--prompt", "hi", "--model", "{w}/typedconfig", "-q"], 1,
     "model_type is not text; architectures is not a list"),
    ("garbage-weights", ["generate", "text", "--prompt", "hi", "--model", "{w}/garbage", "-q"], 1,
     "'garbage' could not be loaded"),
    ("text-encoder-bin-only", [*IMG, "--out", "{w}/x.png", "-q"], 1, "pickled weights (.bin) in text_encoder"),
]


@pytest.mark.parametrize("name, args, code, fragment", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_is_one_line_with_no_side_effect(name, args, code, fragment, tmp_path, capsys, monkeypatch):
    w = _files(tmp_path)
    (w / "b-1.png").mkdir()  # for out-batch-folder: the second numbered name is taken by a folder
    monkeypatch.chdir(w)
    before = sorted(w.rglob("*"))
    try:
        got = main([a.replace("{w}", str(w)) for a in args])
    except SystemExit as exc:  # argparse's own errors
        got = exc.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert got == code, err
    assert len(lines) == 1 and fragment in lines[0], err
    assert "Traceback" not in err and len(lines[0]) < 600
    # no side effect: nothing new next to the inputs (no output, no temp file), nothing in the library
    assert sorted(w.rglob("*")) == before
    home = tmp_path / "studio-home"
    assert not home.exists() or not [p for p in home.rglob("*") if p.suffix in (".png", ".md", ".wav")]


def test_the_window_opens_only_for_studio_alone_or_gui(tmp_path):
    """A mistyped first word is the CLI's error in a real process (it used to start Qt and hang)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "STUDIO_HOME": str(tmp_path)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "studio", *a], capture_output=True, text=True,  # noqa: E731
                                    cwd=ROOT, env=env, timeout=60)
    typo = run("genrate", "text", "--prompt", "hi")
    assert typo.returncode == 2 and "invalid choice: 'genrate'" in typo.stderr
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("studio ")
    assert run("--help").stdout.count("gui") >= 1


def test_an_unusable_library_folder_is_one_line_before_loading(tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "afile"))
    assert main(["generate", "text", "--prompt", "hi", "--model", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "library folder" in err[0] and "--no-library" in err[0]


def test_studio_alone_or_gui_launches_the_window_and_nothing_else_does(monkeypatch):
    import studio.__main__ as entry
    import studio.app

    launched: list[list[str]] = []
    monkeypatch.setattr(studio.app, "run_gui", lambda argv=None: launched.append(list(argv or [])) or 0)
    assert entry.main([]) == 0 and entry.main(["gui", "-platform", "offscreen"]) == 0
    assert launched == [[], ["-platform", "offscreen"]]
    with pytest.raises(SystemExit) as typo:
        entry.main(["gnerate"])
    assert typo.value.code == 2 and len(launched) == 2


def test_a_poisoned_model_list_still_prints(tmp_path):
    """A name stored from non-UTF-8 bytes (lone surrogates), wrongly typed fields and junk entries in the
    user's model list: `studio models list` prints the rest, even to a strict UTF-8 stdout."""
    from studio import paths

    folder = tmp_path / "m\udcff"  # a folder whose name is not UTF-8
    folder.mkdir()
    entries = [
        {"id": f"local:{folder}", "name": "caf\udce9", "modality": "text", "path": str(folder), "format": "gguf",
         "size_bytes": "huge", "memory_bytes": -5, "bogus": 1},
        ["not", "an", "entry"],
        {"id": 7, "path": None},
    ]
    user_file = paths.user_models_file()
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text(json.dumps(entries))  # json escapes the surrogates as \udce9
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "PYTHONUTF8": "1"}
    for extra in ([], ["--json"]):
        listed = subprocess.run([sys.executable, "-m", "studio", "models", "list", "--modality", "text", *extra],
                                capture_output=True, cwd=ROOT, env=env, timeout=60)
        assert listed.returncode == 0, listed.stderr
        assert "caf\ufffd".encode() in listed.stdout or b"caf\\ufffd" in listed.stdout


def test_a_lora_for_another_family_is_named_before_loading():
    from studio.engines.lora_files import check_lora_shapes

    xl = {"unet.mid.attn2.to_k.lora_A.weight": [4, 2048], "unet.mid.attn2.to_k.lora_B.weight": [640, 4]}
    with pytest.raises(StudioError, match="made for Stable Diffusion XL; the model is Stable Diffusion 1.x"):
        check_lora_shapes("xl.safetensors", xl, "sd1")
    check_lora_shapes("xl.safetensors", xl, "sdxl")  # fits
    check_lora_shapes("xl.safetensors", xl, "")  # family unknown (a tiny test model): not judged here


def test_the_image_tab_never_blocks_on_special_files(qtbot, tmp_path):
    """A FIFO dropped as init image or on "PNG info" (or a huge hostile PNG) must not freeze the window:
    the image reader refuses non-regular files, and PNG info is read off the UI thread."""
    from PySide6.QtCore import QObject, Slot

    from studio.jobs.background import Background
    from studio.library.png_info import read_png_parameters
    from studio.ui.image.widgets import read_qimage

    class Got(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.got = []

        @Slot(object)
        def add(self, params) -> None:
            self.got.append((self.sender().key, params))

    os.mkfifo(tmp_path / "fifo")
    assert read_qimage(tmp_path / "fifo").isNull() and read_qimage(tmp_path).isNull()
    background, got = Background(), Got()
    paths = [str(p) for p in (tmp_path / "fifo", tmp_path, tmp_path / "missing.png")]
    for path in paths:
        background.start(read_png_parameters, path, key=path, returned=got.add)
    qtbot.waitUntil(lambda: len(got.got) == 3, timeout=10_000)
    assert got.got == [(path, {}) for path in paths]
    assert background.wait()


def test_a_second_ctrl_c_quits_even_when_nothing_checks_for_cancel():
    """The first Ctrl+C cancels at the next step; a second one interrupts a call that never checks
    (a write blocked on a pipe without a reader used to ignore every Ctrl+C)."""
    from studio.cli.common import InterruptHandler
    from studio.engines.base import CancelToken

    cancel = CancelToken()
    handler = InterruptHandler(cancel)
    handler()
    assert cancel.cancelled
    with pytest.raises(KeyboardInterrupt):
        handler()


def test_a_damaged_library_index_is_set_aside_not_fatal(tmp_path):
    from studio.library.store import Library

    (tmp_path / "index.sqlite").write_bytes(b"this is not a database" * 100)
    library = Library(tmp_path)
    assert library.items() == []
    assert [p.name.startswith("index.sqlite.broken-") for p in tmp_path.iterdir()].count(True) == 1
