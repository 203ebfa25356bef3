"""Engines (no Qt): one per modality, each a generator of events that returns its stats.

``engine_for(kind)`` imports the engine module lazily, so importing this package stays cheap;
``preflight.preflight(request)`` runs the cheap checks of a request (no model, no torch) that the job queue and
the CLI run before any model loads (:mod:`studio.engines.preflight`).
"""

from __future__ import annotations

import importlib
import logging

_ENGINES = {
    "text": ("studio.engines.text", "TextEngine"),
    "image": ("studio.engines.image", "ImageEngine"),
    "inpaint": ("studio.engines.inpaint", "InpaintEngine"),
    "speech": ("studio.engines.speech", "SpeechEngine"),
    "music": ("studio.engines.music", "MusicEngine"),
}


class _DropNotices(logging.Filter):
    """Drops library log lines that are noise for Studio's users (they cannot act on them)."""

    NOISE = ("requires torchvision (not installed)",)  # we leave torchvision out on purpose (README)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(n in message for n in self.NOISE)


def _quiet_library_notices() -> None:
    logger = logging.getLogger("transformers.utils.import_utils")
    if not any(isinstance(f, _DropNotices) for f in logger.filters):
        logger.addFilter(_DropNotices())


def engine_for(kind: str):
    """A new engine instance for a request kind ('text', 'image', …)."""
    _quiet_library_notices()
    try:
        module_name, class_name = _ENGINES[kind]
    except KeyError:
        raise ValueError(f"no engine for requests of kind {kind!r}") from None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            from ..errors import StudioError

            raise StudioError(f"The {kind} engine is not available in this version of Studio yet.") from None
        raise
    return getattr(module, class_name)()

