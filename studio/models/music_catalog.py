"""The music models of the catalog: MusicGen checkpoints from the hub (transformers format,
safetensors, CC-BY-NC weights)."""

from __future__ import annotations

from .entry import GB, ModelEntry


def _musicgen(name: str, size_gb: float, memory_gb: float, description: str) -> ModelEntry:
    """A facebook/musicgen-* checkpoint (transformers format, safetensors, CC-BY-NC weights)."""
    return ModelEntry(
        id=f"musicgen-{name}",
        name="MusicGen " + name.replace("-", " "),
        modality="music",
        source="hub",
        repo_id=f"facebook/musicgen-{name}",
        format="transformers",
        size_bytes=int(size_gb * GB),
        memory_bytes=int(memory_gb * GB),
        licence="CC-BY-NC-4.0 (weights: non-commercial use only)",
        description=description,
        allow_patterns=("*.json", "*.safetensors", "*.txt", "*.model"),
    )


#: MusicGen sizes as on the hub (fp32 weights); memory is for fp16 on a GPU (about twice on the CPU)
MUSIC_ENTRIES = (
    _musicgen("small", 2.4, 3, "300M parameters, mono 32 kHz: the quick one, works on a CPU."),
    _musicgen("medium", 8.0, 9, "1.5B parameters, mono: better music, needs a GPU to be pleasant."),
    _musicgen("large", 13.5, 16, "3.3B parameters, mono: the best text-to-music, a large GPU."),
    _musicgen("melody", 6.5, 8, "1.5B parameters, follows the melody of an audio clip (chroma)."),
    _musicgen("stereo-small", 2.4, 3, "Stereo version of small."),
    _musicgen("stereo-medium", 8.0, 9, "Stereo version of medium."),
    _musicgen("stereo-large", 13.5, 16, "Stereo version of large."),
    _musicgen("stereo-melody", 6.5, 8, "Stereo version of melody."),
)
