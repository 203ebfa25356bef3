"""Layering promises: the UI imports no heavy ML library; engines, models, library and CLI import no Qt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "diffusers", "transformers", "TTS", "torchaudio", "llama_cpp")


def imported_after(modules: list[str]) -> set[str]:
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={**os.environ}, check=True
    )
    return set(out.stdout.split())


def ui_modules() -> list[str]:
    ui = ROOT / "studio" / "ui"
    return sorted(
        "studio.ui." + ".".join(p.relative_to(ui).with_suffix("").parts)
        for p in ui.rglob("*.py")
        if p.stem != "__init__"
    )


def test_ui_modules_do_not_import_heavy_ml_libraries():
    loaded = imported_after(ui_modules() + ["studio.app", "studio.jobs"])
    assert not [m for m in HEAVY if m in loaded], "UI must show before torch/diffusers/transformers load"


def test_main_window_shows_before_heavy_imports_then_warms_up(tmp_path):
    code = (
        "import sys, os\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from PySide6.QtCore import QSettings\n"
        "app = QApplication([])\n"
        "from studio.ui.main_window import MainWindow\n"
        "from studio.ui.settings import Settings\n"
        "from studio.library.store import Library\n"
        f"w = MainWindow(Settings(QSettings(r'{tmp_path}/s.ini', QSettings.Format.IniFormat)), Library(r'{tmp_path}/lib'))\n"
        "w.show(); app.processEvents()\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
        "import time; end = time.time() + 60\n"
        "while 'studio.engines.text' not in sys.modules and time.time() < end: app.processEvents(); time.sleep(0.05)\n"
        "w.jobs.shutdown(30000)\n"
        "print('transformers' in sys.modules, 'studio.engines.text' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    before_show, after_warm_up = out.stdout.strip().splitlines()[-2:]
    assert before_show == "[]"
    # … and once the window is up, the worker imports them in the background for the first job
    assert after_warm_up == "True True"


@pytest.mark.parametrize("layer", ["engines", "models", "library", "cli"])
def test_lower_layers_do_not_import_qt(layer):
    modules = sorted(
        "studio." + ".".join(p.relative_to(ROOT / "studio").with_suffix("").parts)
        for p in (ROOT / "studio" / layer).rglob("*.py")
    )
    modules = [m.removesuffix(".__init__") for m in modules]
    loaded = imported_after(modules)
    assert not [m for m in loaded if m.startswith(("PySide6", "PyQt", "shiboken"))]
