"""The top-level assets/ folder: one function finds it, a built (non-editable) package carries it,
the CLIP vocabulary ships once, and every icon renders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from studio import paths
from studio.ui.icons import TAB_ICONS, app_icon, tab_icon

ROOT = Path(__file__).resolve().parents[1]


def test_asset_finds_the_top_level_folder():
    assert paths.assets_dir() == ROOT / "assets"
    assert paths.asset("icons", "app.svg").is_file()
    assert (paths.asset("configs", "sdxl") / "model_index.json").is_file()
    assert not (ROOT / "studio" / "assets").exists()  # one place, as the design names it


def test_the_clip_vocabulary_ships_once():
    merges = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("merges.txt") if ".venv" not in p.parts)
    vocabs = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("vocab.json") if ".venv" not in p.parts)
    assert merges == ["assets/configs/clip-tokenizer/merges.txt"]
    assert vocabs == ["assets/configs/clip-tokenizer/vocab.json"]


def test_icons_render(qapp):
    for icon in [app_icon(), *(tab_icon(kind) for kind in TAB_ICONS)]:
        assert not icon.isNull()
        image = icon.pixmap(32, 32).toImage()
        assert image.width() == 32
        assert any(image.pixelColor(x, y).alpha() > 0 for x in range(32) for y in range(32))
    assert tab_icon("nonsense").isNull()


def test_a_built_package_carries_the_assets_and_finds_them(tmp_path):
    """What a wheel holds is what setuptools' build_py puts in its build folder: build it from a copy of
    the sources (nothing is written into the checkout), then use it as an installed Studio would."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("studio", "assets"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    built = tmp_path / "built"
    done = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(built)],
        cwd=source, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    files = {p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file()}
    expected = {
        f"studio/assets/{p.relative_to(ROOT / 'assets').as_posix()}" for p in (ROOT / "assets").rglob("*") if p.is_file()
    }
    assert expected <= files and "studio/assets/icons/app.svg" in files
    assert {"studio/__init__.py", "studio/ui/text/tab.py", "studio/models/formats.py"} <= files
    found = subprocess.run(
        [sys.executable, "-c", "from studio import paths; print(paths.asset('configs', 'clip-tokenizer'))"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(built)},
    )
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()) == built / "studio" / "assets" / "configs" / "clip-tokenizer"

