"""UI layer (Qt widgets only). Never imports torch, diffusers, transformers or TTS."""

from ..jobs.emit_guard import hold_true

hold_true()  # PySide6 6.12.0 drops references to True (emits) and None (void calls): see emit_guard
