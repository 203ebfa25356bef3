"""The one configuration: what the person chose for this run of Studio, built once and passed in.

:class:`Config` is a plain frozen dataclass (no Qt): device, precision, memory budget, offline, output
folder and the llama.cpp threads / GPU layers the Text tab sends. The GUI's Settings (QSettings) only
store it (``Settings.config()``); ``studio.app`` builds it once at start and composes the services from
it; a changed preference makes a new Config that is handed to the services again. Nobody writes
environment variables: ``offline`` reaches model resolution and downloads as an explicit argument.
The person's own ``HF_HUB_OFFLINE=1`` at launch still means offline (:func:`env_offline`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import paths

def env_offline(env: Mapping[str, str] | None = None) -> bool:
    """Whether the environment Studio was started in says offline (``HF_HUB_OFFLINE=1``)."""
    env = os.environ if env is None else env
    return env.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Config:
    device: str = "auto"  # studio.models.device.DEVICE_CHOICES (or 'cuda:N')
    dtype: str = "auto"  # studio.models.device.DTYPE_CHOICES
    memory_budget_gb: float = 0.0  # 0 = automatic (keep one model per modality resident)
    offline: bool = False  # never connect: models must be on disk
    output_folder: Path | None = None  # None = the default library folder
    text_threads: int = 0  # llama.cpp threads (TextRequest.threads: 0 = automatic)
    text_gpu_layers: int = -1  # llama.cpp GPU layers (TextRequest.gpu_layers: -1 = all)

    @property
    def library_folder(self) -> Path:
        """Where results are saved."""
        return self.output_folder or paths.library_dir()

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)

    def with_environment(self, env: Mapping[str, str] | None = None) -> Config:
        """This configuration, offline when the environment says so (read once, when Studio starts)."""
        return self.replace(offline=True) if env_offline(env) and not self.offline else self
