"""Where Studio keeps things on disk. No Qt, no side effects at import time.

``STUDIO_HOME`` overrides everything (portable installs, tests): data, cache and the settings file. Otherwise the platform's
user data / cache folders are used (platformdirs): e.g. ``~/.local/share/Studio`` on Linux.
Hugging Face downloads stay in the standard Hugging Face cache (``HF_HOME``, :func:`hf_cache_dir`) and
coqui's models in coqui's own folder (:func:`coqui_dir`), so models are shared with other tools on the
machine. Every folder Studio reads or writes is named here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "Studio"


def data_dir() -> Path:
    home = os.environ.get("STUDIO_HOME")
    if home:
        return Path(home)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Caches (converted .ckpt checkpoints, GGUF files llama.cpp already checked …): safe to delete, rebuilt on demand."""
    home = os.environ.get("STUDIO_HOME")
    if home:
        return Path(home) / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache folder, read from the environment at call time.

    Same rules as ``huggingface_hub.constants.HF_HUB_CACHE`` (``HF_HUB_CACHE`` → legacy
    ``HUGGINGFACE_HUB_CACHE`` → ``$HF_HOME/hub`` → ``$XDG_CACHE_HOME/huggingface/hub``), but not
    frozen at import time, so a settings change (or a test) that moves it is honoured.
    """
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(os.path.expandvars(os.path.expanduser(explicit)))
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface"
    )
    return Path(os.path.expandvars(os.path.expanduser(home))) / "hub"


def coqui_dir() -> Path:
    """coqui TTS's model folder (``…/tts``), read from the environment at call time (coqui's own rules)."""
    if os.environ.get("TTS_HOME"):
        root = Path(os.environ["TTS_HOME"]).expanduser()
    elif os.environ.get("XDG_DATA_HOME"):
        root = Path(os.environ["XDG_DATA_HOME"]).expanduser()
    elif sys.platform == "darwin":
        root = Path("~/Library/Application Support/").expanduser()
    elif sys.platform == "win32":
        root = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        root = Path.home() / ".local" / "share"
    return root / "tts"


def library_dir() -> Path:
    """The default output library (overridable in Settings)."""
    return data_dir() / "library"


def user_models_file() -> Path:
    """Local models the user added by hand (a JSON list)."""
    return data_dir() / "user_models.json"


def model_folders_file() -> Path:
    """The model folders used in place (ComfyUI, A1111, LM Studio, Ollama …) and what their last scan found."""
    return data_dir() / "model_folders.json"


def queue_file() -> Path:
    """The job queue written down (studio.jobs.persist): what was queued or running comes back after a restart."""
    return data_dir() / "queue.json"


def settings_file() -> Path | None:
    """The settings file under ``STUDIO_HOME`` when it is set; None = the platform's usual place
    (QSettings' native location: ~/.config/Studio/Studio.conf, the registry on Windows, …)."""
    home = os.environ.get("STUDIO_HOME")
    return Path(home) / "settings.ini" if home else None


def assets_dir() -> Path:
    """The application's assets (icons, the shipped model configs and tokenizer files).

    ``assets/`` at the top of the repository; an installed Studio carries the same folder as
    ``studio/assets`` (pyproject maps it into the package), which is looked at first.
    """
    package = Path(__file__).resolve().parent
    for candidate in (package / "assets", package.parent / "assets"):
        if (candidate / "icons" / "app.svg").is_file():
            return candidate
    raise FileNotFoundError(f"Studio's assets are missing (looked in {package / 'assets'} and {package.parent / 'assets'}).")


def asset(*parts: str) -> Path:
    """One file or folder of the assets, e.g. ``asset("icons", "app.svg")``, ``asset("configs", "sd15")``."""
    return assets_dir().joinpath(*parts)
