"""coqui-tts model names (``tts_models/<lang>/<dataset>/<model>``): where coqui keeps them, and fetching one.

No torch and no TTS import unless a download is asked for. coqui's ModelManager stores a model in
``<data dir>/tts/tts_models--<lang>--<dataset>--<model>`` (:func:`studio.paths.coqui_dir`: ``TTS_HOME``,
else ``XDG_DATA_HOME``, else the platform's, as ``trainer.io.get_user_data_dir``), except models it
fetches from the Hugging Face hub (XTTS-v2), which live in the hub cache: Studio's catalog entry
``xtts-v2`` covers that one.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..paths import coqui_dir

_ZOO_NAME = re.compile(r"^tts_models/[\w\-]+/[\w\-.]+/[\w\-.]+$")
#: coqui names that are catalog entries downloaded from the hub
HUB_ALIASES = {"tts_models/multilingual/multi-dataset/xtts_v2": "xtts-v2"}


def is_zoo_name(spec: str) -> bool:
    return bool(_ZOO_NAME.match(spec.strip()))


def zoo_folder(name: str) -> Path:
    return coqui_dir() / name.strip().replace("/", "--")


def downloaded(name: str) -> Path | None:
    folder = zoo_folder(name)
    return folder if (folder / "config.json").is_file() else None


def download(name: str) -> Path:
    """Fetch ``name`` with coqui's own ModelManager (network); returns its folder."""
    from TTS.utils.manage import ModelManager

    model_path, config_path, _ = ModelManager(progress_bar=True).download_model(name)
    return Path(config_path).parent if config_path else Path(model_path)
