"""UI layer (Qt widgets only). Never imports torch, diffusers, transformers or TTS."""

from .pyside_fix import guard as _guard_none

_guard_none()  # PySide6 6.12.0 leaks references to None and True (void calls, emits): see pyside_fix
