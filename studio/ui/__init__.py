"""UI layer (Qt widgets only). Never imports torch, diffusers, transformers or TTS."""
