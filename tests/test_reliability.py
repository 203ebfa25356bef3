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
    # --- image power tools (issue 15): refused before any model loads, naming the ControlNet unit -----------
    ("control-flag-without-unit", [*IMG, "--out", "{w}/x.png", "--control-scale", "0.5"], 2,
     "--control-scale belongs to a ControlNet unit"),
    ("control-image-fifo", [*IMG, "--out", "{w}/x.png", "--controlnet", "cn", "--control-image", "{w}/fifo"], 2,
     "ControlNet unit 1 (cn)"),
    ("control-image-truncated", [*IMG, "--out", "{w}/x.png", "--controlnet", "cn", "--control-image",
                                 "{w}/truncated.png"], 2, "ControlNet unit 1 (cn)"),
    ("embedding-random-bytes", [*IMG, "--out", "{w}/x.png", "--embedding", "{w}/random.safetensors"], 2,
     "is not a readable .safetensors file"),
    ("ip-image-folder", [*IMG, "--out", "{w}/x.png", "--ip-adapter", "ip", "--ip-image", "{w}/folder"], 2, "is a folder"),
    ("upscale-fifo", ["upscale", "{w}/fifo", "--model", "m", "--out", "{w}/x.png"], 2, "not a regular file"),
    ("upscale-not-a-model", ["upscale", "{w}/truncated.png", "--model", "{w}/file.txt", "--out", "{w}/x.png"], 2,
     "picture to upscale"),
    # --- studio story render: the story file itself (issue 18; its keys and values: tests/test_cli_story.py) ---
    ("story-fifo", ["story", "render", "{w}/fifo", "--out", "{w}/f.mp4"], 2, "not a regular file"),
    ("story-folder", ["story", "render", "{w}/folder", "--out", "{w}/f.mp4"], 2, "is a folder, not a story file"),
    ("story-binary", ["story", "render", "{w}/random.safetensors", "--out", "{w}/f.mp4"], 2, "is not UTF-8 text"),
    ("story-missing", ["story", "render", "{w}/nope.json", "--out", "{w}/f.mp4"], 2, "No story at"),
    # --- servers (issue 17): addresses and keys checked before anything connects -------------------
    ("endpoint-file-url", ["generate", "text", "--prompt", "hi", "--endpoint", "file:///etc/passwd", "--model", "m"],
     2, "endpoint must be a server URL"),
    ("endpoint-with-password", ["generate", "text", "--prompt", "hi", "--endpoint", "http://u:pw@h/v1", "--model",
                                "m"], 2, "must not hold a user name or password"),
    ("endpoint-no-model", ["generate", "text", "--prompt", "hi", "--endpoint", "http://127.0.0.1:9/v1"], 2,
     "model is empty"),
    ("endpoint-key-variable-unset", ["generate", "text", "--prompt", "hi", "--endpoint", "http://127.0.0.1:9/v1",
                                     "--model", "m", "--api-key-env", "STUDIO_TEST_UNSET_KEY"], 1,
     "STUDIO_TEST_UNSET_KEY', which is not set"),
    ("comfyui-bad-url", [*IMG, "--out", "{w}/x.png", "--comfyui", "comfy:8188"], 2, "ComfyUI server must be a server URL"),
    ("serve-network-without-key", ["serve", "--host", "0.0.0.0"], 2, "without an API key"),
    ("serve-bad-port", ["serve", "--port", "70000"], 2, "--port must be between 1 and 65535"),
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


# ---------------------------------------------------------------------------------------------
# round 3 — faults (issue 20 classes 1, 4, 5, 6, 8): long OGG files, the result kept when the library
# or the disk fails, a damaged user_models.json, OS errors and broken voice configs as sentences,
# SIGTERM / SIGHUP handled like Ctrl+C. Each row: input → exit code, one message without class
# names or tracebacks, and no side effect (no temp file, no orphaned process, nothing lost).
# ---------------------------------------------------------------------------------------------
import errno  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402

CLASS_NAMES = ("Error:", "Errno", "Traceback", "OSError", "FileNotFoundError", "ZeroDivision", "RuntimeError",
               "InvalidArgument", "MemoryError", "UnicodeEncodeError", "sqlite3")
SPEAK = ["generate", "speech", "--text", "Hi there.", "-q"]  # the bundled Piper voice


def _one_clean_line(err: str, kind: str = "error") -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("studio:")]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"studio: {kind}:"), err
    assert not any(name in err for name in CLASS_NAMES), err
    return lines[0]


def _temp_files(*folders: Path) -> list[Path]:
    return [p for f in folders if f.exists() for p in f.rglob("*.tmp")]


def _library_files() -> list[Path]:
    from studio import paths

    outputs = paths.library_dir() / "outputs"
    return sorted(p for p in outputs.rglob("*") if p.is_file()) if outputs.exists() else []


def _library_items():
    from studio import paths
    from studio.library.store import Library

    return Library(paths.library_dir()).items()


# --- class 1: long OGG output (libsndfile's Vorbis encoder crashed on one write of ~2.1 M frames)
_LONG_OGG = r"""
import sys
import numpy as np
from studio.events import Output
from studio.library import audio
from studio.library.store import Library
rate = 22050
samples = (np.random.default_rng(0).standard_normal(10 * 60 * rate) * 0.1).astype(np.float32)  # 10 minutes
audio.export(sys.argv[1], samples, rate, {"kind": "speech", "text": "Hi. " * 200})
item = Library(sys.argv[2]).save(Output("audio/ogg", (samples, rate), {"kind": "speech"}))
print(item.path)
"""


def test_ten_minutes_of_audio_write_as_ogg_in_blocks(tmp_path):
    """The CLI's --out, the library and the GUI's "Export as OGG" all write through library.audio:
    10 minutes (13.2 M frames, six times what crashed libsndfile in one call) in a separate process,
    so a crash would show as a signal instead of taking the test run down."""
    import soundfile

    out = tmp_path / "long.ogg"
    done = subprocess.run([sys.executable, "-c", _LONG_OGG, str(out), str(tmp_path / "lib")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    for path in (out, Path(done.stdout.strip())):
        info = soundfile.info(str(path))
        assert (info.format, info.samplerate, info.frames) == ("OGG", 22050, 10 * 60 * 22050)
    assert not _temp_files(tmp_path)


_GUI_EXPORT = r"""
import sys
import numpy as np
from PySide6.QtWidgets import QApplication
from studio.ui.audio.clip_view import ClipView
from studio.ui.audio.player import AudioPlayer
app = QApplication([])
view = ClipView(player=AudioPlayer(sink_factory=lambda rate, channels: None))
rate = 22050
view.set_clip(np.zeros(4 * 60 * rate, np.float32), rate, {"kind": "speech", "text": "Hi. " * 200})
print(view.export_to(sys.argv[1]))
"""


def test_the_guis_export_as_ogg_writes_four_minutes(tmp_path):
    """The Speech and Music tabs' "Export…" as OGG (4 minutes: twice what crashed), in its own process."""
    import soundfile

    out = tmp_path / "export.ogg"
    done = subprocess.run([sys.executable, "-c", _GUI_EXPORT, str(out)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, timeout=600)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert soundfile.info(str(out)).frames == 4 * 60 * 22050 and not _temp_files(tmp_path)


def test_audio_is_handed_to_libsndfile_in_blocks(tmp_path, monkeypatch):
    """Every write call stays far below the frame count that crashed the Vorbis encoder."""
    import soundfile

    import numpy as np

    from studio.library import audio

    sizes: list[int] = []
    real_write = soundfile.SoundFile.write
    monkeypatch.setattr(soundfile.SoundFile, "write", lambda self, data: sizes.append(len(data)) or real_write(self, data))
    samples = np.zeros(300_000, np.float32)
    audio.export(tmp_path / "x.ogg", samples, 22050, {})
    assert sum(sizes) == 300_000 and max(sizes) <= audio.WRITE_BLOCK_FRAMES < 2_000_000


# --- class 4: --out first, then the library; a library failure is a warning that says where the result is
def test_a_studio_home_that_is_not_utf8_keeps_every_result(tmp_path, monkeypatch, capsys):
    home = tmp_path / os.fsdecode(b"caf\xe9-home")
    monkeypatch.setenv("STUDIO_HOME", str(home))
    out = tmp_path / "hi.wav"
    assert main([*SPEAK, "--out", str(out)]) == 0, capsys.readouterr().err
    assert out.is_file()
    items = _library_items()
    assert len(items) == 1 and items[0].path.is_file() and str(home) in str(items[0].path)


def test_a_locked_library_index_is_a_warning_and_the_result_is_in_out(tmp_path, monkeypatch, capsys):
    """Another process holds the index locked past the wait: --out is written, the warning names it,
    the library's file is still there (History just cannot list it)."""
    from studio import paths
    from studio.library import store

    store.Library(paths.library_dir())  # the index exists
    holder = _hold_index_locked(paths.library_dir())
    try:
        monkeypatch.setattr(store.Library, "INDEX_TIMEOUT_S", 0.5)  # the real wait is 10 s
        out = tmp_path / "hi.wav"
        code = main([*SPEAK, "--out", str(out)])
        err = capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert code == 0, err
    line = _one_clean_line(err, "warning")
    assert "database is locked" in line and f"The result is in {out}" in line
    assert out.is_file() and len(_library_files()) == 1  # the library's copy is kept too


def test_a_full_library_disk_is_a_warning_and_the_result_is_in_out(tmp_path, monkeypatch, capsys):
    """The library's disk is full (simulated: its write raises ENOSPC; --out is on another disk)."""
    from studio.library import store

    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(store, "atomic_write_bytes", full)
    out = tmp_path / "hi.flac"
    assert main([*SPEAK, "--out", str(out)]) == 0
    line = _one_clean_line(capsys.readouterr().err, "warning")
    assert "could not save the result" in line and "No space left on device" in line and str(out) in line
    assert out.is_file() and _library_files() == [] and not _temp_files(tmp_path)


# --- class 5: a hand-edited user_models.json that cannot be read is said, kept, never overwritten
def test_a_damaged_user_models_file_is_reported_kept_and_never_overwritten(tiny_gguf, tmp_path, capsys):
    from studio import paths

    user_file = paths.user_models_file()
    user_file.parent.mkdir(parents=True, exist_ok=True)
    damaged = ('[\n  {"id": "local:/models/mine", "name": "mine", "modality": "text", "path": "/models/mine",'
               ' "format": "gguf"},\n]\n')  # a stray trailing comma
    user_file.write_text(damaged)
    assert main(["models", "list", "--modality", "text"]) == 0
    line = _one_clean_line(capsys.readouterr().err, "warning")
    assert str(user_file) in line and "is damaged (line 3, column 1" in line
    assert user_file.read_text() == damaged  # reading never rewrites it

    assert main(["models", "add", str(tiny_gguf), "--modality", "text", "--name", "new"]) == 0
    line = _one_clean_line(capsys.readouterr().err, "warning")
    kept = [p for p in user_file.parent.iterdir() if p.name.startswith("user_models.json.broken-")]
    assert len(kept) == 1 and kept[0].read_text() == damaged and str(kept[0]) in line
    assert [e["name"] for e in json.loads(user_file.read_text())] == ["new"]


def test_a_user_models_file_that_cannot_be_read_is_left_alone(tmp_path, monkeypatch):
    from studio.models.catalog import Catalog

    user_file = tmp_path / "user_models.json"
    user_file.write_bytes(b'[{"id": "local:/x", "path": "/x", "name": "caf\xe9"}]')  # not UTF-8
    catalog = Catalog(user_file)
    assert catalog.entries("text") is not None and "cannot be read (it is not UTF-8 text)" in catalog.damaged
    with pytest.raises(StudioError, match="leaves it as it is"):
        catalog.add_local(tmp_path, "text")
    assert user_file.read_bytes().startswith(b'[{"id"')


# --- class 6: OS errors after the work is done: one sentence naming the path, the result kept elsewhere
def test_a_full_out_disk_names_the_path_and_keeps_the_result_in_the_library(tmp_path, capsys):
    """/dev/full answers every write with ENOSPC, as a full disk does (--out is written through)."""
    (tmp_path / "out.wav").symlink_to("/dev/full")
    assert main([*SPEAK, "--out", str(tmp_path / "out.wav")]) == 1
    line = _one_clean_line(capsys.readouterr().err)
    assert f"The disk is full: '{tmp_path / 'out.wav'}' could not be written" in line
    kept = _library_files()
    assert len(kept) == 1 and f"kept in the library: {kept[0]}" in line


def test_a_read_only_out_disk_names_the_path_and_keeps_the_result(tmp_path, monkeypatch, capsys):
    """A read-only mount (simulated: the --out write raises EROFS, as on a real one)."""
    from studio.library import audio as audio_files

    def read_only(path, data):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(audio_files, "atomic_write_bytes", read_only)
    assert main([*SPEAK, "--out", str(tmp_path / "x.wav")]) == 1
    line = _one_clean_line(capsys.readouterr().err)
    assert f"'{tmp_path / 'x.wav'}' is on a read-only disk" in line and "kept in the library" in line
    assert len(_library_files()) == 1


def test_out_under_proc_self_is_a_sentence_before_any_work(tmp_path, capsys):
    assert main([*SPEAK, "--out", "/proc/self/studio-test.wav"]) == 2
    assert "Cannot write files in '/proc/" in _one_clean_line(capsys.readouterr().err)
    assert _library_files() == []


@pytest.mark.parametrize("errno_, words", [
    (errno.ENOSPC, "The disk is full"), (errno.EROFS, "read-only disk"), (errno.EACCES, "No permission"),
    (errno.ENOENT, "does not exist"), (errno.EDQUOT, "quota"), (errno.EIO, "input/output error"),
])
def test_every_os_error_is_one_sentence_for_the_gui_and_the_cli(errno_, words):
    """The one place (errors.user_error) words OS errors for every modality: the GUI's job errors and
    the CLI read it alike."""
    from studio.errors import describe
    from studio.jobs.handle import JobError

    exc = OSError(errno_, os.strerror(errno_), "/data/out.wav")
    for modality in ("text", "image", "inpaint", "speech", "music"):
        message = JobError.from_exception(exc, modality).message
        assert message == describe(exc) and words in message and "/data/out.wav" in message
        assert not any(name in message for name in CLASS_NAMES)


def _joe(tmp_path: Path, **changes) -> Path:
    """A copy of the bundled Piper voice with its config changed (``None`` removes a key)."""
    from studio.models.catalog import Catalog, bundled_path

    onnx = bundled_path(Catalog().find("piper-joe-medium"))
    folder = tmp_path / "voice"
    folder.mkdir(exist_ok=True)
    copy = folder / "joe.onnx"
    if not copy.exists():  # a copy, not a link: a link resolves to the bundled voice and its own config
        try:
            os.link(onnx, copy)
        except OSError:
            import shutil

            shutil.copyfile(onnx, copy)
    config = json.loads(Path(f"{onnx}.json").read_text())
    for key, value in changes.items():
        section, _, field = key.partition("__")
        target = config[section] if field else config
        name = field or section
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value
    Path(f"{copy}.json").write_text(json.dumps(config))
    return copy


@pytest.mark.parametrize("changes, words", [
    ({"audio__sample_rate": 0}, "gives the sample rate 0"),
    ({"audio__sample_rate": -22050}, "gives the sample rate -22050"),
    ({"audio__sample_rate": 10**12}, "gives the sample rate 1000000000000"),
    ({"espeak__voice": "xx-nowhere"}, "names the espeak voice 'xx-nowhere', which espeak-ng does not know"),
    ({"speaker_id_map": {"a": 0, "b": 1}}, "has a speaker_id_map, but the voice has one speaker"),
    ({"speaker_id_map": {"a": 0, "b": 1}, "num_speakers": 2}, "lists 2 speakers, but the voice has one"),
    ({"phoneme_id_map": None}, "is not a Piper voice config"),
])
def test_a_broken_piper_config_is_one_sentence_before_speaking(changes, words, tmp_path, capsys):
    voice = _joe(tmp_path, **changes)
    out = tmp_path / "x.wav"
    assert main([*SPEAK, "--model", str(voice), "--out", str(out)]) == 1
    assert words in _one_clean_line(capsys.readouterr().err)
    assert not out.exists() and _library_files() == []


def _onnx_identity() -> bytes:
    """A valid ONNX model that is no voice: y = Identity(x), float[1] (protobuf written by hand,
    as the onnx package is not installed)."""

    def varint(n: int) -> bytes:
        out = b""
        while True:
            out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
            n >>= 7
            if not n:
                return out

    def num(field: int, n: int) -> bytes:
        return varint(field << 3) + varint(n)

    def msg(field: int, payload: bytes | str) -> bytes:
        data = payload.encode() if isinstance(payload, str) else payload
        return varint(field << 3 | 2) + varint(len(data)) + data

    tensor = msg(1, num(1, 1) + msg(2, msg(1, num(1, 1))))  # TypeProto{tensor_type{float, shape [1]}}
    graph = (msg(1, msg(1, "x") + msg(2, "y") + msg(4, "Identity")) + msg(2, "g")
             + msg(11, msg(1, "x") + msg(2, tensor)) + msg(12, msg(1, "y") + msg(2, tensor)))
    return num(1, 8) + msg(8, msg(1, "") + num(2, 13)) + msg(7, graph)


@pytest.mark.parametrize("graph, words", [
    (_onnx_identity(), "is not a Piper voice: its graph takes x"),
    (b"\x00not onnx" * 400, "is not an ONNX voice onnxruntime can load"),
])
def test_a_piper_config_beside_another_graph_is_refused(graph, words, tmp_path, capsys):
    """Another file under a Piper voice's name: another ONNX graph, or bytes that are none."""
    voice = _joe(tmp_path)
    voice.unlink()
    voice.write_bytes(graph)
    assert main([*SPEAK, "--model", str(voice), "--out", str(tmp_path / "x.wav")]) == 1
    assert words in _one_clean_line(capsys.readouterr().err)


def test_a_gguf_check_marker_that_cannot_be_written_is_not_an_error(tiny_gguf, tmp_path, monkeypatch, capsys):
    """STUDIO_HOME's cache cannot take the marker (here a file where its folder should be): the check
    passes, the reply comes, the next run checks again."""
    import shutil

    from studio import paths

    model = tmp_path / "mine.gguf"
    shutil.copy(tiny_gguf, model)
    paths.cache_dir().parent.mkdir(parents=True, exist_ok=True)
    paths.cache_dir().write_text("not a folder")
    assert main(["generate", "text", "--prompt", "hi", "--model", str(model), "--max-new-tokens", "2", "-q"]) == 0
    assert "studio: error" not in capsys.readouterr().err


# --- class 8: SIGTERM and SIGHUP handled like Ctrl+C, the first-time GGUF check ends with the app
def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


_SLOW_CHECK = r"""
import sys
import studio.engines.text_llama as text_llama
# the first-time check's child process takes a minute to load (a big model): the real machinery around it
text_llama._PROBE = text_llama._PROBE.replace("import llama_cpp\n", "import time; time.sleep(120)\nimport llama_cpp\n")
from studio.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _start_slow_check(tiny_gguf: str, tmp_path: Path):
    import psutil

    model = tmp_path / "first-time.gguf"
    model.write_bytes(Path(tiny_gguf).read_bytes())
    cli = subprocess.Popen([sys.executable, "-c", _SLOW_CHECK, "generate", "text", "--prompt", "hi", "--model",
                            str(model), "--out", str(tmp_path / "reply.md")],
                           cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        children = [c for c in psutil.Process(cli.pid).children() if "time.sleep(120)" in " ".join(c.cmdline())]
        if children:
            return cli, children[0].pid
        assert cli.poll() is None, cli.stderr.read()
        time.sleep(0.2)
    raise AssertionError("the GGUF check never started")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_during_the_gguf_check_ends_the_check_and_the_cli(signum, tiny_gguf, tmp_path):
    cli, check = _start_slow_check(tiny_gguf, tmp_path)
    try:
        time.sleep(0.5)
        cli.send_signal(signum)
        code = cli.wait(timeout=30)
        err = cli.stderr.read()
    finally:
        if cli.poll() is None:
            cli.kill()
    assert code == 128 + signum, err
    assert "studio: cancelled" in err and "Traceback" not in err
    assert not _alive(check)
    assert not (tmp_path / "reply.md").exists() and not _temp_files(tmp_path)


def test_the_gguf_check_dies_with_an_app_that_is_killed_outright(tiny_gguf, tmp_path):
    cli, check = _start_slow_check(tiny_gguf, tmp_path)
    cli.kill()  # SIGKILL: no handler runs; the child goes through PR_SET_PDEATHSIG
    cli.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _alive(check) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(check)


_SLOW_SPEECH = r"""
import sys, time
import studio.engines.speech_piper as voices
say = voices.PiperVoiceBackend.say
def slow_say(self, text, **kw):  # a slow machine: each sentence takes a while
    time.sleep(0.3)
    return say(self, text, **kw)
voices.PiperVoiceBackend.say = slow_say
from studio.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_during_speech_keeps_what_was_said_and_leaves_no_temp_file(signum, tmp_path):
    """Like Ctrl+C: the sentences said so far are written (to --out and the library), no hidden
    .NAME.wav.xxxx.tmp stays next to --out or in the library, exit 128 + the signal."""
    from studio import paths
    from studio.library import audio as audio_files

    out = tmp_path / "long.wav"
    cli = subprocess.Popen([sys.executable, "-c", _SLOW_SPEECH, "generate", "speech", "--text", "Hi. " * 60,
                            "--out", str(out)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    seen = ""
    try:
        while "sentence 3 of" not in seen:
            chunk = cli.stderr.read(1)
            assert chunk, seen
            seen += chunk
        cli.send_signal(signum)
        code = cli.wait(timeout=60)
        seen += cli.stderr.read()
    finally:
        if cli.poll() is None:
            cli.kill()
    assert code == 128 + signum, seen
    assert "sentences said so far are in" in seen and "Traceback" not in seen
    params = audio_files.read_tags(out)["params"]
    assert params["partial"] is True and 3 <= params["chunks_done"] < 60
    assert len(_library_files()) == 1
    assert not _temp_files(tmp_path, paths.library_dir())


@pytest.mark.parametrize("signum, first_launch", [(signal.SIGTERM, False), (signal.SIGHUP, False),
                                                  (signal.SIGINT, True)])
def test_the_window_closes_on_a_stop_signal(signum, first_launch, tmp_path):
    """On the first launch the welcome's GPU check is still importing torch (closing waits for it);
    on a later launch there is no welcome."""
    if not first_launch:
        from PySide6.QtCore import QSettings

        from studio.ui.settings import Settings

        Settings(QSettings(str(Path(os.environ["STUDIO_HOME"]) / "settings.ini"), QSettings.Format.IniFormat)
                 ).welcome_shown = True
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "STUDIO_LOG": "INFO"}
    gui = subprocess.Popen([sys.executable, "-m", "studio"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        seen = ""
        while "window shown" not in seen:
            line = gui.stderr.readline()
            assert line, seen
            seen += line
        gui.send_signal(signum)
        code = gui.wait(timeout=60)
    finally:
        if gui.poll() is None:
            gui.kill()
    assert code == 128 + signum


def _hold_index_locked(library_root: Path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
         "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)",
         str(library_root / "index.sqlite")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_in_the_gui_a_locked_index_still_shows_the_result_and_says_so(qtbot, tmp_path, monkeypatch):
    """The Output reaches the tab with its file (History cannot list it) and a notice says why."""
    from studio.engines.base import Runtime
    from studio.events import Output
    from studio.jobs import JobQueue
    from studio.library.store import Library
    from studio.requests import ChatMessage, TextRequest
    from tests.fake_engine import FakeEngine, Script
    from tests.test_jobs import HandleLog

    library = Library(tmp_path / "lib")
    monkeypatch.setattr(Library, "INDEX_TIMEOUT_S", 0.5)
    fake = FakeEngine(default=Script([Output("text", "Hello", {"reply": "Hello", "kind": "text"})]))
    jobs = JobQueue(library, lambda: Runtime(device="cpu"), engine_factory=fake)
    holder = _hold_index_locked(tmp_path / "lib")
    try:
        handle = jobs.submit(TextRequest(messages=(ChatMessage("user", "hi"),), model="m"))
        log = HandleLog(handle)
        with qtbot.waitSignal(handle.finished, timeout=20_000):
            pass
    finally:
        holder.kill()
        holder.wait()
        assert jobs.shutdown(10_000)
    assert log.names() == ["started", "notice", "output", "finished"]
    assert "could not add it to its index (database is locked)" in log.payload("notice")
    assert log.payload("output").path.read_text() == "Hello"


def test_a_full_disk_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    """The 0-byte probe passes on a full disk; the free space is checked too (statvfs simulated)."""
    real = os.statvfs

    class Full:
        def __init__(self, st):
            self.f_blocks, self.f_frsize, self.f_bavail = st.f_blocks or 1, st.f_frsize, 0

    monkeypatch.setattr(os, "statvfs", lambda path: Full(real(path)))
    out = tmp_path / "x.png"
    assert main(["generate", "image", "--prompt", "a cat", "--model", "sd-turbo", "--out", str(out)]) == 2
    assert f"The disk holding '{tmp_path}' is full (0 bytes free)" in _one_clean_line(capsys.readouterr().err)
    assert not out.exists() and not _temp_files(tmp_path)


def test_a_full_out_disk_after_a_text_reply_keeps_the_reply_in_the_library(tiny_gguf, tmp_path, capsys):
    (tmp_path / "reply.md").symlink_to("/dev/full")
    assert main(["generate", "text", "--prompt", "hi", "--model", str(tiny_gguf), "--max-new-tokens", "3",
                 "--out", str(tmp_path / "reply.md"), "-q"]) == 1
    line = _one_clean_line(capsys.readouterr().err)
    assert f"The disk is full: '{tmp_path / 'reply.md'}' could not be written" in line
    kept = _library_files()
    assert len(kept) == 1 and f"kept in the library: {kept[0]}" in line


def test_the_models_window_says_the_user_models_file_is_damaged_and_keeps_it(qtbot, tiny_gguf, tmp_path):
    from studio.jobs.downloads import DownloadManager
    from studio.models.catalog import Catalog
    from studio.ui.models_window import ModelsWindow

    user_file = tmp_path / "user_models.json"
    damaged = '[{"id": "local:/m", "path": "/m", "name": "m", "modality": "text"},]'
    user_file.write_text(damaged)
    manager = DownloadManager()
    window = ModelsWindow(Catalog(user_file), manager)
    qtbot.addWidget(window)
    try:
        assert "is damaged (line 1, column" in window.status.text() and str(user_file) in window.status.text()
        assert window.add_local_path(tiny_gguf, "text") is not None
        assert "kept as" in window.status.text()
    finally:
        assert manager.shutdown()
    kept = list(tmp_path.glob("user_models.json.broken-*"))
    assert len(kept) == 1 and kept[0].read_text() == damaged


# round 3 — inputs ---------------------------------------------------------------------------------
# Issue 20, classes 2, 3, 7, 9, 10, 11 and 12: every input file goes through the one input module
# (studio.library.inputs) and the engine's preflight, before any model loads.

def _r3_files(tmp_path: Path) -> Path:
    """Hostile inputs for the round-3 rows, under ``tmp_path / 'r3'``."""
    import numpy as np
    import soundfile
    from PIL import Image

    w = tmp_path / "r3"
    w.mkdir()
    (w / "folder").mkdir()
    os.mkfifo(w / "fifo")
    (w / "file.txt").write_text("a file")
    (w / "latin1.txt").write_bytes("café".encode("latin-1"))
    (w / "dots.txt").write_text("." * 100_000)
    (w / "bangs.txt").write_text("!?" * 50_000)
    (w / "pauses.txt").write_text("Hi.\n\n" * 2000)
    (w / "random.mp3").write_bytes(os.urandom(4000))
    rate = 8000
    tone = (0.3 * np.sin(np.arange(rate * 3) * 0.2)).astype(np.float32)
    soundfile.write(w / "nan.wav", np.full(rate * 3, np.nan, np.float32), rate, subtype="FLOAT")
    soundfile.write(w / "silent.wav", np.zeros(rate * 3, np.float32), rate)
    soundfile.write(w / "tone.wav", tone, rate)
    soundfile.write(os.fsencode(w) + b"/caf\xe9.wav", np.zeros(rate * 3, np.float32), rate)  # a non-UTF-8 name
    Image.new("RGB", (64, 64), "white").save(w / "pic.png")
    Image.new("L", (64, 64), 255).save(w / "mask.png")
    Image.new("L", (32, 64), 255).save(w / "mask-32.png")
    Image.new("RGB", (8191, 1)).save(w / "line.png")
    Image.new("L", (8191, 1), 255).save(w / "line-mask.png")
    Image.new("1", (9000, 9000)).save(w / "huge.png")
    (w / "b-1.wav").mkdir()  # the second of three variations is taken by a folder
    return w


SPEECH = ["generate", "speech", "--text", "Hello there."]
MUSIC = ["generate", "music", "--prompt", "calm piano", "--model", "{w}/nomodel"]
PAINT = ["generate", "image", "--prompt", "a cat", "--model", "{w}/nomodel"]
R3_NAME = "caf" + b"\xe9".decode("utf-8", "surrogateescape")

R3_CASES = [
    # --- class 3: text files through the FIFO- and device-safe open; a linear sentence splitter --------
    ("text-file-fifo", ["generate", "speech", "--text-file", "{w}/fifo", "--out", "{w}/x.wav"], 2,
     "not a regular file (a pipe (FIFO))"),
    ("text-file-device", ["generate", "speech", "--text-file", "/dev/zero", "--out", "{w}/x.wav"], 2,
     "not a regular file (a device)"),
    ("text-file-folder", ["generate", "speech", "--text-file", "{w}/folder", "--out", "{w}/x.wav"], 2, "is a folder"),
    ("text-file-not-utf8", ["generate", "speech", "--text-file", "{w}/latin1.txt", "--out", "{w}/x.wav"], 2,
     "is not UTF-8 text (byte 0xe9"),
    ("text-file-100k-dots", ["generate", "speech", "--text-file", "{w}/dots.txt", "--out", "{w}/x.wav"], 2,
     "nothing to say"),
    ("text-file-100k-bangs", ["generate", "speech", "--text-file", "{w}/bangs.txt", "--out", "{w}/x.wav"], 2,
     "nothing to say"),
    # --- class 2: a bounded speech length (2,000 paragraphs with 10 s pauses) ----------------------------
    ("speech-long-pauses", ["generate", "speech", "--text-file", "{w}/pauses.txt", "--paragraph-pause", "10",
                            "--out", "{w}/x.wav"], 2, "5.6 hours of audio (5.6 hours of it pauses); Studio makes at most 60 minutes"),
    # --- class 2: a music prompt longer than the text encoder reads ---------------------------------------
    ("music-prompt-10k", ["generate", "music", "--prompt", "x" * 10_000, "--out", "{w}/x.wav"], 2,
     "The prompt is 10,000 characters"),
    # --- class 7: the audio --out contract is the image one, variations included --------------------------
    ("speech-out-folder", [*SPEECH, "--out", "{w}/folder"], 2, "is a folder"),
    ("speech-out-under-file", [*SPEECH, "--out", "{w}/file.txt/x.wav"], 2, "not a folder"),
    ("speech-out-proc", [*SPEECH, "--out", "/proc/studio-test.wav"], 2, "Cannot write files in '/proc'"),
    ("speech-out-mp3", [*SPEECH, "--out", "{w}/x.mp3"], 2, "cannot write '.mp3' files; use .wav, .flac, .ogg"),
    ("music-out-proc", [*MUSIC, "--out", "/proc/studio-test.wav"], 2, "Cannot write files in '/proc'"),
    ("music-variation-folder", [*MUSIC, "--out", "{w}/b.wav", "--variations", "3"], 2, "is a folder"),
    ("music-variations-device", [*MUSIC, "--out", "/dev/null", "--variations", "2"], 2, "takes one output"),
    # --- class 9 and 12: special files named as clips and masks; the clip checked before the voice loads ---
    ("speaker-wav-folder", [*SPEECH, "--speaker-wav", "{w}/folder", "--out", "{w}/x.wav"], 2,
     "is a folder, not a speaker reference clip"),
    ("speaker-wav-fifo", [*SPEECH, "--speaker-wav", "{w}/fifo", "--out", "{w}/x.wav"], 2, "a pipe (FIFO)"),
    ("speaker-wav-device", [*SPEECH, "--speaker-wav", "/dev/zero", "--out", "{w}/x.wav"], 2, "(a device)"),
    ("speaker-wav-random-mp3", [*SPEECH, "--speaker-wav", "{w}/random.mp3", "--out", "{w}/x.wav"], 2,
     "as audio: use a WAV, FLAC, OGG or MP3 file"),
    ("melody-folder", [*MUSIC, "--melody", "{w}/folder", "--out", "{w}/x.wav"], 2, "is a folder, not a melody"),
    ("melody-fifo", [*MUSIC, "--melody", "{w}/fifo", "--out", "{w}/x.wav"], 2, "a pipe (FIFO)"),
    ("continue-device", [*MUSIC, "--continue", "/dev/zero", "--out", "{w}/x.wav"], 2, "(a device)"),
    ("mask-folder", [*PAINT, "--init-image", "{w}/pic.png", "--mask", "{w}/folder", "--out", "{w}/x.png"], 2,
     "is a folder, not a mask"),
    ("mask-fifo", [*PAINT, "--init-image", "{w}/pic.png", "--mask", "{w}/fifo", "--out", "{w}/x.png"], 2,
     "a pipe (FIFO)"),
    ("mask-other-size", [*PAINT, "--init-image", "{w}/pic.png", "--mask", "{w}/mask-32.png", "--out", "{w}/x.png"],
     2, "The mask is 32×64 but the picture is 64×64"),
    ("inpaint-8191x1", [*PAINT, "--init-image", "{w}/line.png", "--mask", "{w}/line-mask.png", "--out", "{w}/x.png"],
     2, "8191×1: one side is more than 8 times the other"),
    ("init-9000x9000", [*PAINT, "--init-image", "{w}/huge.png", "--out", "{w}/x.png"], 2,
     "is 9000×9000 pixels; Studio opens pictures up to 8192 pixels a side"),
    # --- class 10: clips that would give silently wrong results --------------------------------------------
    ("speaker-wav-nan", [*SPEECH, "--speaker-wav", "{w}/nan.wav", "--out", "{w}/x.wav"], 2,
     "holds invalid samples (NaN or infinity)"),
    ("speaker-wav-silent", [*SPEECH, "--speaker-wav", "{w}/silent.wav", "--out", "{w}/x.wav"], 2, "is silent"),
    ("melody-nan", [*MUSIC, "--melody", "{w}/nan.wav", "--out", "{w}/x.wav"], 2, "invalid samples"),
    # --- class 11: file names that are not UTF-8 are read like any other (the clip's content is judged) -----
    ("speaker-wav-non-utf8-name", [*SPEECH, "--speaker-wav", f"{{w}}/{R3_NAME}.wav", "--out", "{w}/x.wav"], 2,
     "caf\\xe9.wav' is silent"),
    ("continue-non-utf8-name", [*MUSIC, "--continue", f"{{w}}/{R3_NAME}.wav", "--out", "{w}/x.wav"], 2,
     "caf\\xe9.wav' is silent"),
    ("melody-non-utf8-name", [*MUSIC, "--melody", f"{{w}}/{R3_NAME}.wav", "--out", "{w}/x.wav"], 2, "is silent"),
]


@pytest.mark.parametrize("name, args, code, fragment", R3_CASES, ids=[c[0] for c in R3_CASES])
def test_round3_inputs_are_refused_before_any_model_loads(name, args, code, fragment, tmp_path, capsys, monkeypatch):
    import time

    w = _r3_files(tmp_path)
    monkeypatch.chdir(w)
    before = sorted(w.rglob("*"))
    t0 = time.perf_counter()
    try:
        got = main([a.replace("{w}", str(w)) for a in args])
    except SystemExit as exc:  # argparse's own errors
        got = exc.code
    seconds = time.perf_counter() - t0
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert got == code, err
    assert len(lines) == 1 and fragment in lines[0], err
    assert "Traceback" not in err and "Error:" not in err and len(lines[0]) < 600
    assert "\x07" not in err and "\x1b" not in err
    assert seconds < 20, f"{name} took {seconds:.1f} s"  # 100 kB of dots used to take 134–150 s
    assert sorted(w.rglob("*")) == before  # nothing written next to the inputs
    home = tmp_path / "studio-home"
    assert not home.exists() or not [p for p in home.rglob("*") if p.suffix in (".png", ".wav", ".flac", ".ogg")]


def _peak_rss_mb(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``studio ARGS`` in a child and return it with its peak memory (MB), measured from a parent
    of its own, so no other child of the test run counts."""
    runner = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run([sys.executable, '-m', 'studio', *sys.argv[1:]], capture_output=True, text=True)\n"
        "sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + '\\n')\n"
        "sys.stderr.write(r.stderr)\n"
        "sys.exit(r.returncode)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", runner, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)
    return done, int(done.stdout.strip().splitlines()[-1]) / 1024


def _long_wav(path: Path, seconds: int, rate: int, loud_from: float, loud_to: float) -> Path:
    """A mono 16-bit WAV of ``seconds``, written in blocks (no big array), loud only in [from, to)."""
    import numpy as np
    import soundfile

    with soundfile.SoundFile(path, "w", rate, 1, subtype="PCM_16") as f:
        block = rate * 60
        for start in range(0, seconds * rate, block):
            t = np.arange(start, min(start + block, seconds * rate)) / rate
            f.write(np.where((t >= loud_from) & (t < loud_to), 0.5 * np.sin(2 * np.pi * 220 * t), 0.0))
    return path


def test_a_one_hour_clip_to_continue_is_read_from_its_tail_only(tmp_path):
    """--continue on a 1-hour WAV read 11.5 GB: now only the last 30 s are read. The clip is loud only
    in its first minute, so "silent" proves the rest was never decoded; the peak memory says the same."""
    clip = _long_wav(tmp_path / "hour.wav", 3600, 16000, 0, 60)
    done, peak = _peak_rss_mb(["generate", "music", "--prompt", "piano", "--continue", str(clip),
                               "--model", str(tmp_path / "nomodel"), "--out", str(tmp_path / "x.wav")], tmp_path)
    assert done.returncode == 2 and "hour.wav' is silent" in done.stderr, done.stderr
    assert peak < 600, f"{peak:.0f} MB"
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("flag", ["--speaker-wav", "--melody"])
def test_a_long_reference_or_melody_is_read_only_as_far_as_it_is_used(tmp_path, flag):
    """A long WAV as --speaker-wav or --melody (4.1–4.7 GB before it was called silent): only the first
    60 s (the reference) or the piece's length plus 30 s (the melody) are read."""
    clip = _long_wav(tmp_path / "long.wav", 1800, 16000, 600, 1800)  # silent for its first 10 minutes
    if flag == "--speaker-wav":
        args = ["generate", "speech", "--text", "Hello.", flag, str(clip), "--out", str(tmp_path / "x.wav")]
    else:
        args = ["generate", "music", "--prompt", "piano", "--model", str(tmp_path / "nomodel"), flag, str(clip),
                "--out", str(tmp_path / "x.wav")]
    done, peak = _peak_rss_mb(args, tmp_path)
    assert done.returncode == 2 and "long.wav' is silent" in done.stderr, done.stderr
    assert peak < 600, f"{peak:.0f} MB"


def test_the_sentence_splitter_is_linear_on_runs_of_punctuation():
    import time

    from studio.engines.speech_text import split_text

    for text in ("." * 100_000 + " Hi.", "!?" * 50_000 + " Hi.", "Hi. " + "…" * 100_000, '"' * 100_000 + ". Yes."):
        t0 = time.perf_counter()
        chunks = split_text(text, 400)
        assert time.perf_counter() - t0 < 2.0 and chunks
    assert [c.text for c in split_text("Dr. Smith came. He said: “Go!” Then… nothing?! Fine.")] == [
        "Dr. Smith came.", "He said: “Go!”", "Then…", "nothing?!", "Fine."]


def test_control_characters_are_named_not_echoed():
    from studio.engines.speech_text import describe_characters

    shown = describe_characters(["\x07", "\x1b", "😀"])
    assert "\x07" not in shown and "\x1b" not in shown and "U+0007" in shown and "'😀' (GRINNING FACE)" in shown


@pytest.mark.parametrize(
    "template, fragment",
    [
        ("{% for m in messages %}{{ m['content'] }", "has a syntax error (line 1"),
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "did not finish within 1 s"),
        ("{{ 'x' * 3000000000 }}", "builds a value of 3,000,000,000 items"),
        ("{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}", "writes more than 4,000,000 characters"),
    ],
    ids=["syntax-error", "nested-loops", "huge-string", "huge-output"],
)
def test_a_hostile_chat_template_is_one_line_not_a_hang(tmp_path, capsys, monkeypatch, template, fragment):
    """GGUF chat templates run in a sandbox with a time and size limit (a nested loop never returned,
    {{ 'x' * 3000000000 }} took 5.9 GB); a syntax error is named as one, not as a llama.cpp log line.
    The time limit is 1 s here instead of 5 s: the same stop, without waiting out the real limit."""
    import time

    from studio.engines import chat_template
    from tests.tiny_gguf import build_tiny_gguf

    monkeypatch.setattr(chat_template, "TEMPLATE_SECONDS", 1.0)

    model = build_tiny_gguf(tmp_path / "hostile.gguf", chat_template=template)
    t0 = time.perf_counter()
    code = main(["generate", "text", "--prompt", "hi", "--model", model, "--max-new-tokens", "2", "-q", "--no-library"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and fragment in lines[0] and "'hostile.gguf'" in lines[0], lines
    assert time.perf_counter() - t0 < 60


def test_a_gguf_header_claiming_two_billion_tokens_of_context_stays_small(tmp_path):
    """llama.cpp keeps 4 bytes per token of the header's trained context: 7.7 GB for a 2-billion-token
    claim, in the checking process and again in the app. The claim is overridden with the context used."""
    from tests.tiny_gguf import build_tiny_gguf

    model = build_tiny_gguf(tmp_path / "claims.gguf", context=2_000_000_000)
    done, peak = _peak_rss_mb(["generate", "text", "--prompt", "hi", "--model", model, "--max-new-tokens", "2",
                               "--no-library"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "claims a 2,000,000,000-token context in its header; using 8,192 tokens" in done.stderr
    assert peak < 600, f"{peak:.0f} MB"


def test_a_reply_cut_by_a_full_context_says_so(tmp_path, capsys):
    from tests.tiny_gguf import build_tiny_gguf

    model = build_tiny_gguf(tmp_path / "short.gguf", context=64)
    assert main(["generate", "text", "--prompt", "hi", "--model", model, "--max-new-tokens", "500", "--seed", "1",
                 "--no-library"]) == 0
    err = capsys.readouterr().err
    assert "The reply stopped because the context is full (64 of 64 tokens)" in err, err


def _piper_copy(tmp_path: Path, **inference) -> Path:
    """The bundled Piper voice with its .onnx.json's ``inference`` values changed."""
    import shutil

    from studio.models.catalog import Catalog, bundled_path

    onnx = bundled_path(Catalog().find("piper-joe-medium"))
    config = json.loads(onnx.with_name(onnx.name + ".json").read_text(encoding="utf-8"))
    config.setdefault("inference", {}).update(inference)
    copy = tmp_path / "voice.onnx"  # a copy: a link would resolve to the bundled voice and its own config
    shutil.copyfile(onnx, copy)
    (tmp_path / "voice.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    return copy


def test_a_piper_voice_with_length_scale_zero_is_refused(tmp_path, capsys):
    """length_scale 0 made 11 ms of audio and exit 0."""
    voice = _piper_copy(tmp_path, length_scale=0)
    code = main(["generate", "speech", "--text", "Hello there.", "--model", str(voice), "--out", str(tmp_path / "x.wav")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and "has length_scale 0 in its .onnx.json" in lines[-1], lines
    assert not (tmp_path / "x.wav").exists()


def test_a_long_run_of_numbers_is_said_in_parts_piper_can_hold():
    """396 characters of "123,123,…" were 1,391 phonemes in one Piper call (1.7–2.2 GB); the voice now
    cuts a sentence into parts of at most MAX_PIPER_PHONEMES, and leaves ordinary sentences whole."""
    from studio.engines.speech_piper import MAX_PIPER_PHONEMES, PiperVoiceBackend
    from studio.models.catalog import Catalog, bundled_path

    voice = PiperVoiceBackend(bundled_path(Catalog().find("piper-joe-medium")))
    numbers = ",".join(["123"] * 99)[:396]
    assert max(len(p) for p in voice.voice.phonemize(numbers)) > MAX_PIPER_PHONEMES
    parts = voice.parts(numbers)
    assert len(parts) > 1 and all(max(len(p) for p in voice.voice.phonemize(part)) <= MAX_PIPER_PHONEMES
                                  for part in parts)
    ordinary = ("The quick brown fox jumps over the lazy dog and then runs away. " * 6)[:390]
    assert voice.parts(ordinary) == [ordinary]


def test_downloading_a_coqui_model_offline_says_it_cannot(tmp_path, capsys, monkeypatch):
    """It exited 0 saying "is a local model (): nothing to download"."""
    monkeypatch.setenv("TTS_HOME", str(tmp_path / "tts"))
    assert main(["models", "download", "coqui-en-ljspeech-vits"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "is not downloaded and Studio is offline" in lines[0], lines
    assert "nothing to download" not in lines[0]
    assert not (tmp_path / "tts").exists()


def test_music_through_a_fifo_from_a_clip_whose_name_is_not_utf8(tiny_musicgen, one_torch_thread, tmp_path, capsys):
    """Class 7 and 11 at work: a FIFO as --out is written through (no file name on stdout, no regular file
    beside it), and a clip to continue whose name is not UTF-8 is read, tagged and kept in the library."""
    import threading

    import numpy as np
    import soundfile

    from studio import paths
    from studio.library.store import Library
    from studio.testing.tiny_music import SAMPLE_RATE

    clip = os.fsencode(tmp_path) + b"/caf\xe9.wav"
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    soundfile.write(clip, (0.4 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SAMPLE_RATE)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code = main(["generate", "music", "--prompt", "piano", "--model", tiny_musicgen, "--duration", "1",
                 "--window-keep", "1", "--seed", "1", "--continue", os.fsdecode(clip), "--out", str(fifo),
                 "--device", "cpu", "-q"])
    reader.join(30)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.strip() == "" and got and got[0][:4] == b"RIFF"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([os.fsdecode(b"caf\xe9.wav"), "pipe", "studio-home"])
    items = Library(paths.library_dir()).items()
    assert len(items) == 1 and items[0].params["continue_from"] == os.fsdecode(clip)


def test_speech_is_written_through_a_device_without_an_audio_suffix(tmp_path, capsys, monkeypatch):
    """/dev/null (no .wav) was refused although the README says devices are written through."""
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "speech", "--text", "Hello.", "--out", "/dev/null", "-q", "--no-library"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_llama_cpp_crash_is_not_reported_with_a_backtrace_line(tmp_path, monkeypatch):
    """An abort in the checking process ended with "Last message: … libc-start.c: No such file or
    directory" (gdb's backtrace noise); the message names the file and llama.cpp's own error, if any.
    The checking child here prints such lines and aborts, as llama.cpp does."""
    from studio.engines import text_llama
    from studio.errors import ModelNotFound

    model = tmp_path / "crash.gguf"
    model.write_bytes(b"GGUF")
    backtrace = ("#5 0x7f in __libc_start_call_main () at ../sysdeps/nptl/libc_start_call_main.h:58\n"
                 "libc-start.c: No such file or directory\n")
    for stderr, said in ((backtrace, None),
                         ("llama_model_load: error loading model: missing tensor 'x'\n" + backtrace, "missing tensor 'x'")):
        script = f"import os, signal, sys\nsys.stderr.write({stderr!r})\nsys.stderr.flush()\nos.abort()\n"
        monkeypatch.setattr(text_llama, "_PROBE", script)
        with pytest.raises(ModelNotFound) as info:
            text_llama.probe(model, set())
        message = str(info.value)
        assert "makes llama.cpp crash (signal 6)" in message and "No such file" not in message, message
        assert (said in message) if said else "said" not in message


def test_the_tail_of_a_clip_that_cannot_seek_is_still_read_in_bounded_blocks(tmp_path, monkeypatch):
    import numpy as np
    import soundfile

    from studio.library import inputs

    clip = _long_wav(tmp_path / "c.wav", 120, 8000, 100, 120)  # loud only in its last 20 s
    real_seek = soundfile.SoundFile.seek
    refused: list[int] = []

    def no_seek(self, frames, whence=0):  # the jump to the tail fails (soundfile's own bookkeeping seeks pass)
        if frames and not refused:
            refused.append(frames)
            raise RuntimeError("this stream cannot seek")
        return real_seek(self, frames, whence)

    monkeypatch.setattr(soundfile.SoundFile, "seek", no_seek)
    data, rate, info = inputs.read_clip(clip, "clip to continue", seconds=30, tail=True)
    assert refused == [90 * 8000] and data.shape == (30 * 8000, 1) and info.seconds == 120
    expected = soundfile.read(clip, dtype="float32", always_2d=True)[0][-30 * 8000:]
    assert np.array_equal(data, expected)
