"""The one configuration: a Qt-free Config, stored by Settings, read from the environment only when asked."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

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
