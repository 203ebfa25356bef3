"""GGUF files → a cached transformers folder (safetensors), converted once.

transformers loads GGUF by dequantizing every tensor (about 30 s for SmolLM2-135M on 2 CPU cores).
We do that once per file, save the result with ``save_pretrained`` under the cache folder and
load that afterwards (well under a second). The cache key covers the file's path, size and mtime,
so a replaced file is converted again. Conversion writes to a temp folder that is renamed into
place, so an interrupted conversion never leaves a half folder behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from .. import paths
from ..errors import ModelNotFound

FORMAT_VERSION = "1"


def cache_key(gguf: Path) -> str:
    st = gguf.stat()
    raw = f"{FORMAT_VERSION}|{gguf.resolve()}|{st.st_size}|{int(st.st_mtime)}"
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def converted_dir(gguf: Path) -> Path:
    return paths.cache_dir() / "gguf" / f"{gguf.stem}-{cache_key(gguf)}"


def is_converted(gguf: Path) -> bool:
    target = converted_dir(Path(gguf))
    return (target / "config.json").exists() and any(target.glob("*.safetensors"))


def converted_folder(gguf: Path) -> Path:
    """The folder with the dequantized model, converting ``gguf`` first when needed."""
    gguf = Path(gguf)
    target = converted_dir(gguf)
    if is_converted(gguf):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        try:
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        except (OSError, ValueError, KeyError, RuntimeError, NotImplementedError) as exc:
            raise ModelNotFound(
                f"'{gguf.name}' is not a GGUF language model transformers can read "
                f"({type(exc).__name__}: {str(exc).strip().splitlines()[0][:160] if str(exc).strip() else 'unreadable'})."
            ) from None
        # The weights are plain tensors now; drop the GGUF quantizer so save_pretrained accepts them.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        del model
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
