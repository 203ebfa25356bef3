"""Layering promises.

* Import direction, statically, over every module and every import (lazy ones too): the import-linter
  contracts in pyproject.toml (ui → jobs → engines → models; leaves; the CLI never imports the GUI;
  nothing below the UI imports Qt).
* What each entry point loads at run time, in ONE fresh interpreter (the only such subprocess in the
  suite): the CLI and every module below the UI load no Qt and no torch; every UI module, the main
  window and the Models window show without torch/diffusers/transformers/TTS; then the worker warms
  up in the background.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "diffusers", "transformers", "TTS", "torchaudio", "llama_cpp")


def modules(layer: str) -> list[str]:
    base = ROOT / "studio"
    found = sorted(
        "studio." + ".".join(p.relative_to(base).with_suffix("").parts) for p in (base / layer).rglob("*.py")
    )
    return [m.removesuffix(".__init__") for m in found]


def test_import_direction_follows_the_layers(capsys):
    from importlinter.cli import lint_imports

    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert code == 0, report
    assert "Contracts: 7 kept, 0 broken." in report


def test_each_entry_point_loads_only_what_it_needs(tmp_path):
    lower = [m for layer in ("engines", "models", "library", "cli", "story") for m in modules(layer)]
    ui = modules("ui") + ["studio.app", "studio.jobs"]
    code = textwrap.dedent(
        f"""
        import importlib, os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"

        def loaded(*names):
            return sorted({{m.split(".")[0] for m in sys.modules}} & set(names))

        # 1. the headless CLI and everything below the UI
        for name in {lower!r}:
            importlib.import_module(name)
        from studio.cli import main
        assert main(["models", "list"]) == 0
        print("CHECK cli", loaded("PySide6", "shiboken6", "torch", "diffusers", "transformers"))

        # 2. the GUI shows before any heavy import
        for name in {ui!r}:
            importlib.import_module(name)
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from studio.jobs.downloads import DownloadManager
        from studio.library.store import Library
        from studio.models.catalog import Catalog
        from studio.ui.main_window import MainWindow
        from studio.ui.model_picker import ModelPicker
        from studio.ui.models_window import ModelsWindow
        from studio.ui.settings import Settings
        settings = Settings(QSettings(r"{tmp_path}/s.ini", QSettings.Format.IniFormat))
        w = MainWindow(settings, Library(r"{tmp_path}/lib"))
        w.show(); app.processEvents()
        catalog = Catalog()
        models = ModelsWindow(catalog, DownloadManager())
        picker = ModelPicker("image", catalog)
        print("CHECK ui", loaded(*{HEAVY!r}, "huggingface_hub"))

        # 3. … then the worker imports them in the background for the first job
        import time
        end = time.time() + 60
        while "transformers" not in sys.modules and time.time() < end:
            app.processEvents(); time.sleep(0.05)
        w.jobs.shutdown(30000)
        print("CHECK warm", "transformers" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    checks = dict(line.split(" ", 2)[1:] for line in out.stdout.splitlines() if line.startswith("CHECK "))
    assert checks == {"cli": "[]", "ui": "[]", "warm": "True"}, out.stdout
