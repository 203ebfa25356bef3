"""The one configuration: a Qt-free Config, stored by Settings, read from the environment only when asked."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

import studio
from studio import paths
from studio.config import Config, env_offline
from studio.jobs.runtime import RuntimeFactory
from studio.models.catalog import Catalog
from studio.models.device import DEVICE_CHOICES, DTYPE_CHOICES
from studio.ui.settings import Settings
from studio.ui.settings_dialog import DEVICES, DTYPES


def test_settings_store_the_config_and_give_it_back(tmp_path):
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert settings.config() == Config()  # the defaults agree
    assert Config().library_folder == paths.library_dir()
    wanted = Config(device="cpu", dtype="float32", memory_budget_gb=3.5, offline=True,
                    output_folder=tmp_path / "out", text_threads=2, text_gpu_layers=0)
    settings.store(wanted)
    again = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert again.config() == wanted and again.config().library_folder == tmp_path / "out"


def test_the_environment_is_read_only_when_asked(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert env_offline() and env_offline({"HF_HUB_OFFLINE": "true"}) and not env_offline({})
    assert Config().with_environment().offline is True
    assert Config().with_environment({}).offline is False
    assert Config().offline is False  # a Config never looks at the environment by itself


def test_the_runtime_follows_the_config_with_offline_explicit():
    factory = RuntimeFactory(Catalog(Path("/nonexistent/user_models.json")), Config(device="cpu", memory_budget_gb=1))
    runtime = factory()
    assert (runtime.device, runtime.offline, runtime.cache.budget_bytes) == ("cpu", False, 1024**3)
    factory.config = factory.config.replace(offline=True)
    factory.apply(runtime)
    assert runtime.offline is True


def test_device_and_precision_choices_are_spelled_once():
    assert tuple(choice for _, choice in DEVICES) == DEVICE_CHOICES
    assert tuple(choice for _, choice in DTYPES) == DTYPE_CHOICES
    from studio.cli import build_parser

    parser = build_parser()
    image = parser._subparsers._group_actions[0].choices["generate"]._subparsers._group_actions[0].choices["image"]
    device = next(a for a in image._actions if a.dest == "device")
    dtype = next(a for a in image._actions if a.dest == "dtype")
    assert tuple(device.choices) == DEVICE_CHOICES and tuple(dtype.choices) == DTYPE_CHOICES


def _environment_writes(tree: ast.AST) -> list[int]:
    """Lines that write os.environ: ``os.environ[k] = v`` / ``del``, its mutating methods, putenv / unsetenv."""
    def is_environ(node) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ" or (
            isinstance(node, ast.Name) and node.id == "environ")

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)) and is_environ(node.value):
            lines.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            mutating = node.func.attr in ("update", "setdefault", "pop", "popitem", "clear")
            if mutating and is_environ(node.func.value) or node.func.attr in ("putenv", "unsetenv"):
                lines.append(node.lineno)
    return lines


def test_no_module_under_studio_writes_the_environment():
    assert _environment_writes(ast.parse("import os\nos.environ['A'] = '1'\nos.environ.update(B='2')")) == [2, 3]
    root = Path(studio.__file__).parent
    writes = {str(p.relative_to(root)): lines for p in sorted(root.rglob("*.py"))
              if (lines := _environment_writes(ast.parse(p.read_text(encoding="utf-8"))))}
    assert writes == {}


def test_the_cli_and_the_gui_leave_the_environment_as_they_found_it(qtbot, tiny_gguf, tmp_path, library):
    """``studio generate text -q`` (quiet: the libraries' own switches) and the GUI's compose() and
    window: os.environ is the same before and after."""
    import huggingface_hub.utils
    import transformers

    pytest.importorskip("llama_cpp")
    pytest.importorskip("diffusers")  # third-party imports may touch the environment: done before the snapshot
    from studio import cli
    from studio.app import compose
    from studio.ui.main_window import MainWindow

    before = dict(os.environ)
    try:
        code = cli.main(["generate", "text", "--prompt", "hi", "--model", tiny_gguf, "--max-new-tokens", "2",
                         "--device", "cpu", "--no-library", "-q"])
        assert code == 0
        assert huggingface_hub.utils.are_progress_bars_disabled()  # -q reached the libraries
        assert transformers.logging.get_verbosity() == transformers.logging.ERROR
    finally:
        huggingface_hub.utils.enable_progress_bars()
        transformers.logging.set_verbosity_warning()
        transformers.logging.enable_progress_bar()
    assert dict(os.environ) == before
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    services = compose(settings.config().with_environment(), library, Catalog(tmp_path / "user_models.json"))
    window = MainWindow(settings, library, services=services)
    qtbot.addWidget(window)
    settings.offline = True
    settings.offline = False  # a preference flipped: a new Config reaches the services, not the environment
    assert services.config.offline is False
    window.close()
    assert dict(os.environ) == before
