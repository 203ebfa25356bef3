"""Where Studio keeps things on disk. No Qt, no side effects at import time.

``STUDIO_HOME`` overrides everything (portable installs, tests): data, cache and the settings file. Otherwise the platform's
user data / cache folders are used (platformdirs): e.g. ``~/.local/share/Studio`` on Linux.
Hugging Face downloads stay in the standard Hugging Face cache (``HF_HOME``), so models are
shared with other tools on the machine.
"""

from __future__ import annotations

import os
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


def library_dir() -> Path:
    """The default output library (overridable in Settings)."""
    return data_dir() / "library"


def embeddings_dir() -> Path:
    """Textual-inversion embeddings (.safetensors): a prompt that names one (its file's stem) uses it."""
    return data_dir() / "embeddings"


def user_models_file() -> Path:
    """Local models the user added by hand (a JSON list)."""
    return data_dir() / "user_models.json"


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
