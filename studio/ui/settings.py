"""Settings persisted with QSettings: they store the one configuration (:class:`~studio.config.Config`:
device, dtype, output folder, memory budget, offline mode, llama.cpp threads and GPU layers for GGUF
text models) and nothing else; :meth:`Settings.config` reads it back, ``changed(key)`` says a
preference changed.

A plain object with typed properties, not tied to widgets. With ``STUDIO_HOME`` set the settings
live in ``$STUDIO_HOME/settings.ini`` (portable installs), otherwise where the platform keeps them.
Tests pass their own QSettings (an .ini file in a tmp folder) so they never read or write the
person's settings.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal

from .. import paths
from ..config import Config
from ..requests import TextRequest, field_spec

DEFAULTS = {
    "device": "auto",
    "dtype": "auto",
    "output_folder": "",  # "" = the default library folder
    "memory_budget_gb": 0.0,  # 0 = automatic (keep one model per modality resident)
    "offline": False,
    # what the Text tab sends with each request (TextRequest.threads / .gpu_layers: 0 = automatic, -1 = all)
    "text_threads": field_spec(TextRequest, "threads").default,
    "text_gpu_layers": field_spec(TextRequest, "gpu_layers").default,
    "welcome_shown": False,  # the first-run welcome dialog was shown
}


def default_store() -> QSettings:
    """``$STUDIO_HOME/settings.ini`` when STUDIO_HOME is set, else the platform's native settings."""
    path = paths.settings_file()
    if path is not None:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(paths.APP_NAME, paths.APP_NAME)


class Settings(QObject):
    changed = Signal(str)  # the key that changed

    def __init__(self, store: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store if store is not None else default_store()

    def _get(self, key: str):
        default = DEFAULTS[key]
        value = self._store.value(key, default)
        try:
            if isinstance(default, bool):
                return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
            return type(default)(value)
        except (TypeError, ValueError):
            return default

    def _set(self, key: str, value) -> None:
        if self._get(key) == value:
            return
        self._store.setValue(key, value)
        self._store.sync()
        self.changed.emit(key)

    @property
    def device(self) -> str:
        return self._get("device")

    @device.setter
    def device(self, value: str) -> None:
        self._set("device", value)

    @property
    def dtype(self) -> str:
        return self._get("dtype")

    @dtype.setter
    def dtype(self, value: str) -> None:
        self._set("dtype", value)

    @property
    def output_folder(self) -> Path:
        folder = self._get("output_folder")
        return Path(folder) if folder else paths.library_dir()

    @output_folder.setter
    def output_folder(self, value: str | Path) -> None:
        self._set("output_folder", str(value))

    @property
    def memory_budget_gb(self) -> float:
        return self._get("memory_budget_gb")

    @memory_budget_gb.setter
    def memory_budget_gb(self, value: float) -> None:
        self._set("memory_budget_gb", float(value))

    @property
    def offline(self) -> bool:
        return self._get("offline")

    @offline.setter
    def offline(self, value: bool) -> None:
        self._set("offline", bool(value))

    @property
    def text_threads(self) -> int:
        return self._get("text_threads")

    @text_threads.setter
    def text_threads(self, value: int) -> None:
        self._set("text_threads", int(value))

    @property
    def text_gpu_layers(self) -> int:
        return self._get("text_gpu_layers")

    @text_gpu_layers.setter
    def text_gpu_layers(self, value: int) -> None:
        self._set("text_gpu_layers", int(value))

    @property
    def welcome_shown(self) -> bool:
        return self._get("welcome_shown")

    @welcome_shown.setter
    def welcome_shown(self, value: bool) -> None:
        self._set("welcome_shown", bool(value))

    def config(self) -> Config:
        """The stored preferences as the one configuration (the environment is not read here)."""
        folder = self._get("output_folder")
        return Config(
            device=self.device,
            dtype=self.dtype,
            memory_budget_gb=self.memory_budget_gb,
            offline=self.offline,
            output_folder=Path(folder) if folder else None,
            text_threads=self.text_threads,
            text_gpu_layers=self.text_gpu_layers,
        )

    def store(self, config: Config) -> None:
        """Keep ``config`` (each preference that changed emits ``changed``)."""
        self.device, self.dtype = config.device, config.dtype
        self.memory_budget_gb, self.offline = config.memory_budget_gb, config.offline
        self.output_folder = str(config.output_folder or "")
        self.text_threads, self.text_gpu_layers = config.text_threads, config.text_gpu_layers

    def reset(self) -> None:
        self._store.clear()
        self._store.sync()
        for key in DEFAULTS:
            self.changed.emit(key)
