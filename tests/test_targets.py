"""Where outputs go (studio/library/atomic.py, targets.py) and how: symlinks followed, FIFOs and
character devices written through (never replaced), folders and impossible paths refused before any
work, the usual permissions, the format the extension names. Plus the same rules end to end through
``studio generate text --out`` on the tiny LLM and the Image tab's save-as."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from PIL import Image

from studio.errors import StudioError
from studio.library.atomic import UnwritableTarget, atomic_write_bytes, atomic_write_text
from studio.library.metadata import image_file_bytes
from studio.library.targets import IMAGE_FORMATS, TEXT_FORMATS, check_output, numbered_paths, numbered_targets
from studio.library.png_info import read_png_json


def test_symlink_is_followed_and_stays_a_link(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    link = tmp_path / "l.txt"
    link.symlink_to(target)
    assert atomic_write_text(link, "new") == target
    assert link.is_symlink() and target.read_text() == "new"
    dangling = tmp_path / "d.txt"
    dangling.symlink_to(tmp_path / "sub" / "made.txt")  # a link to a file not yet there: created
    atomic_write_text(dangling, "x")
    assert dangling.is_symlink() and (tmp_path / "sub" / "made.txt").read_text() == "x"


def test_fifo_and_device_are_written_through_never_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    atomic_write_bytes(fifo, b"through the pipe")
    reader.join(10)
    assert got == [b"through the pipe"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    before = os.stat("/dev/null")
    atomic_write_text("/dev/null", "gone")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert check_output("/dev/null", IMAGE_FORMATS).stream  # any name: a device takes the default format


def test_new_files_get_the_usual_permissions_and_replaced_files_keep_theirs(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "new.txt", "x")
        assert stat.S_IMODE(os.stat(tmp_path / "new.txt").st_mode) == 0o644
        os.umask(0o077)
        atomic_write_text(tmp_path / "private.txt", "x")
        assert stat.S_IMODE(os.stat(tmp_path / "private.txt").st_mode) == 0o600
        os.chmod(tmp_path / "new.txt", 0o640)
        atomic_write_text(tmp_path / "new.txt", "y")
        assert stat.S_IMODE(os.stat(tmp_path / "new.txt").st_mode) == 0o640
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.txt", "private.txt"]  # no temp file left


def test_a_name_at_the_length_limit_still_writes(tmp_path):
    name = "n" * 250 + ".txt"  # 254 bytes: the temp file's name must not grow past the limit
    atomic_write_text(tmp_path / name, "x")
    assert (tmp_path / name).read_text() == "x"


def _file(path: Path) -> Path:
    path.write_text("x")
    return path


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda p: "", "empty"),
        (lambda p: p, "is a folder"),
        (lambda p: _file(p / "f.txt") / "out.png", "not a folder"),
        (lambda p: "/proc/studio-out.png", "Cannot write files in '/proc'"),
        (lambda p: p / "out.bmp", "use .png, .jpg, .jpeg, .webp"),
        (lambda p: p / ("x" * 300 + ".png"), "File name too long"),
    ],
)
def test_impossible_outputs_are_refused_before_any_work(tmp_path, make, fragment):
    with pytest.raises(UnwritableTarget, match=None) as info:
        check_output(make(tmp_path), IMAGE_FORMATS)
    assert fragment in str(info.value) and isinstance(info.value, StudioError)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "f.txt") == []  # the probe left nothing


def test_formats_follow_the_extension(tmp_path):
    assert check_output(tmp_path / "a.JPG", IMAGE_FORMATS).format == "JPEG"
    assert check_output(tmp_path / "new" / "dir" / "a.webp", IMAGE_FORMATS).format == "WEBP"  # folders made later
    assert check_output(tmp_path / "reply", TEXT_FORMATS).format == "text"
    assert check_output(tmp_path / "reply.json", TEXT_FORMATS).format == "json"
    assert not (tmp_path / "new").exists()
    params = {"prompt": "a red square", "seed": 5, "num_inference_steps": 3, "kind": "image"}
    for fmt in ("JPEG", "WEBP"):
        data = image_file_bytes(Image.new("RGBA", (16, 16), (200, 0, 0, 128)), params, fmt)
        path = tmp_path / f"x.{fmt.lower()}"
        path.write_bytes(data)
        with Image.open(path) as im:
            assert im.format == fmt
            comment = im.getexif().get_ifd(0x8769)[0x9286]
        assert comment.startswith(b"UNICODE\0") and "Seed: 5" in comment[8:].decode("utf-16-be")


def test_batches_are_bounded_and_numbered(tmp_path):
    target = check_output(tmp_path / "cat.png", IMAGE_FORMATS)
    assert [t.path.name for t in numbered_targets(target, 3)] == ["cat-0.png", "cat-1.png", "cat-2.png"]
    with pytest.raises(UnwritableTarget, match="more than Studio writes"):
        numbered_paths(tmp_path / "cat.png", 10**9)  # refused before a list of a billion names is built
    with pytest.raises(UnwritableTarget, match="takes one output"):
        numbered_targets(check_output("/dev/null", IMAGE_FORMATS), 2)


def test_text_out_follows_links_writes_devices_and_json(tiny_llm, tmp_path, capsys):
    from studio.cli import main

    base = ["generate", "text", "--prompt", "hello", "--model", tiny_llm, "--max-new-tokens", "4", "--seed", "1",
            "--device", "cpu", "-q", "--no-library"]
    (tmp_path / "t.txt").write_text("old")
    (tmp_path / "l.txt").symlink_to(tmp_path / "t.txt")
    assert main([*base, "--out", str(tmp_path / "l.txt")]) == 0
    reply = capsys.readouterr().out.strip()
    assert (tmp_path / "l.txt").is_symlink() and (tmp_path / "t.txt").read_text().strip() == reply
    assert main([*base, "--out", "/dev/null"]) == 0 and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert main([*base, "--out", str(tmp_path / "r.json")]) == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["reply"].strip() == reply and data["params"]["seed"] == 1 and data["stats"]["tokens"] >= 1
    err = capsys.readouterr().err
    assert err == ""  # -q: no loading bars, notes or warnings from the libraries either


def test_save_as_keeps_png_bytes_converts_and_refuses_like_the_cli(tmp_path):
    pytest.importorskip("PySide6")
    from studio.library.metadata import png_bytes
    from studio.ui.image.gallery import save_image_as

    source = tmp_path / "src.png"
    source.write_bytes(png_bytes(Image.new("RGB", (16, 16)), {"prompt": "p", "seed": 9, "kind": "image"}))
    assert save_image_as(source, tmp_path / "copy").read_bytes() == source.read_bytes()  # no extension: .png
    jpg = save_image_as(source, tmp_path / "copy.jpg")
    with Image.open(jpg) as im:
        assert im.format == "JPEG"
    assert read_png_json(tmp_path / "copy.png")["seed"] == 9
    with pytest.raises(StudioError, match="is a folder"):
        save_image_as(source, tmp_path)
    with pytest.raises(StudioError, match="cannot write '.tiff'"):
        save_image_as(source, tmp_path / "x.tiff")
