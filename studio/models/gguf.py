"""GGUF files: what one holds (architecture, context, chat template, quantization) and whether it is whole.

llama.cpp reads GGUF files itself (:mod:`studio.engines.text_llama`). Before it does, :func:`read_info`
walks the file's header and tensor table here, in Python: a file that is not GGUF, a newer GGUF
version, a truncated download or a tensor table pointing past the end of the file gets one clear
message instead of an error deep inside llama.cpp (or, for some malformed files, a C-level abort
that would take the whole application down). The same facts size the KV cache for the memory
check and fill the catalog's "size" and "memory" columns.

Why not ``gguf.GGUFReader``: it builds a numpy view for every vocabulary string and merge rule,
which took 20 s for SmolLM2's 49 k tokens on this 2-core machine. Here the header is walked with
``struct`` on a memory map (milliseconds); the ``gguf`` package supplies the type tables.
"""

from __future__ import annotations

import math
import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelNotFound

# GGUF value types (gguf.GGUFValueType) → struct formats; 8 = string, 9 = array.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_KEEP_ARRAY = 4096  # numeric arrays up to this length are kept (per-layer head counts …); longer: length only
_MAX_COUNT = 1 << 32  # more tensors/keys/array items than this is a damaged header, not a model
DEFAULT_ALIGNMENT = 32
KV_BYTES_PER_VALUE = 2  # llama.cpp's KV cache is float16 by default


class _Truncated(Exception):
    pass


class _Malformed(Exception):
    pass


@dataclass(frozen=True)
class GGUFInfo:
    """The facts Studio needs from a GGUF file's header (nothing is loaded)."""

    path: Path
    size_bytes: int
    version: int
    architecture: str
    name: str = ""
    context_length: int = 0  # trained context, tokens
    block_count: int = 0
    embedding_length: int = 0
    head_count: int = 0
    head_count_kv: int = 0  # the largest per-layer value when the file lists one per layer
    key_length: int = 0
    value_length: int = 0
    file_type: str = ""  # 'Q4_K_M', 'Q4_1', 'F16' …
    chat_template: str | None = None
    vocab_size: int = 0
    tensor_count: int = 0
    tensor_bytes: int = 0
    metadata: dict = field(default_factory=dict, repr=False, compare=False)

    def kv_cache_bytes(self, n_ctx: int) -> int:
        """Bytes of llama.cpp's float16 KV cache for ``n_ctx`` tokens."""
        heads = self.head_count or 1
        k = self.key_length or self.embedding_length // heads
        v = self.value_length or self.embedding_length // heads
        return self.block_count * n_ctx * (self.head_count_kv or heads) * (k + v) * KV_BYTES_PER_VALUE

    def memory_bytes(self, n_ctx: int) -> int:
        """What running the model needs: weights, KV cache and llama.cpp's compute buffers."""
        compute = 64 * 1024**2 + self.vocab_size * 4 * 512 // 8 + self.tensor_bytes // 20
        return self.tensor_bytes + self.kv_cache_bytes(n_ctx) + compute


def quant_label(file_type: int) -> str:
    from gguf.constants import LlamaFileType

    try:
        name = LlamaFileType(file_type).name
    except ValueError:
        return f"type {file_type}"
    return name.removeprefix("MOSTLY_").removeprefix("ALL_")


class _Cursor:
    def __init__(self, buf, size: int) -> None:
        self.buf, self.size, self.pos = buf, size, 0

    def take(self, fmt: str):
        n = struct.calcsize(fmt)
        if self.pos + n > self.size:
            raise _Truncated()
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += n
        return value

    def count(self) -> int:
        n = self.take("<Q")
        if n > _MAX_COUNT:
            raise _Malformed(f"a count of {n:,} at byte {self.pos - 8:,}")
        return n

    def string(self, keep: bool = True) -> str:
        n = self.take("<Q")
        if self.pos + n > self.size:
            raise _Truncated()
        start = self.pos
        self.pos += n
        if not keep:
            return ""
        return bytes(self.buf[start : self.pos]).decode("utf-8", errors="replace")

    def value(self, vtype: int):
        if vtype in _SCALARS:
            return self.take(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            etype = self.take("<I")
            n = self.count()
            if etype == _STRING:
                for _ in range(n):
                    self.string(keep=False)
                return _ArrayInfo(etype, n)
            if etype not in _SCALARS:
                raise _Malformed(f"an array of unknown type {etype}")
            fmt = _SCALARS[etype]
            width = struct.calcsize(fmt)
            if self.pos + width * n > self.size:
                raise _Truncated()
            if n <= _KEEP_ARRAY:
                items = list(struct.unpack_from(f"<{n}{fmt[1]}", self.buf, self.pos))
                self.pos += width * n
                return items
            self.pos += width * n
            return _ArrayInfo(etype, n)
        raise _Malformed(f"a value of unknown type {vtype}")


@dataclass(frozen=True)
class _ArrayInfo:
    element_type: int
    length: int


def read_info(path: str | Path) -> GGUFInfo:
    """Header, metadata and tensor table of a GGUF file, checked against the file's size.

    Raises :class:`~studio.errors.ModelNotFound` with one sentence saying what is wrong (not GGUF,
    truncated, damaged, not a language model) and what to do.
    """
    path = Path(path)
    label = path.name
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            if size < 24:
                raise _Truncated()
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(path, buf, size)
    except _Truncated:
        raise ModelNotFound(
            f"'{label}' is truncated ({size:,} bytes; the header or the weights end early): an interrupted "
            "download or copy? Download or copy it again."
        ) from None
    except _Malformed as exc:
        raise ModelNotFound(f"'{label}' is not a valid GGUF file ({exc}). Download or copy it again.") from None
    except OSError as exc:
        raise ModelNotFound(f"Could not read '{label}': {exc.strerror or exc}.") from None


def _parse(path: Path, buf, size: int) -> GGUFInfo:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    label = path.name
    cur = _Cursor(buf, size)
    if bytes(buf[:4]) != b"GGUF":
        raise ModelNotFound(f"'{label}' is not a GGUF model file (it does not start with 'GGUF').")
    cur.pos = 4
    version = cur.take("<I")
    if not 1 <= version < 100:
        raise _Malformed(f"its version field reads {version}")
    if version not in (2, 3):
        raise ModelNotFound(
            f"'{label}' is GGUF version {version}; Studio's llama.cpp reads versions 2 and 3. "
            + ("Convert it again with a current llama.cpp." if version < 2 else "Update Studio.")
        )
    tensor_count, kv_count = cur.count(), cur.count()
    meta: dict = {}
    for _ in range(kv_count):
        key = cur.string()
        meta[key] = cur.value(cur.take("<I"))

    tensors = []
    for _ in range(tensor_count):
        name = cur.string()
        n_dims = cur.take("<I")
        if not 1 <= n_dims <= 4:
            raise _Malformed(f"tensor {name!r} has {n_dims} dimensions")
        dims = [cur.take("<Q") for _ in range(n_dims)]
        ggml_type, offset = cur.take("<I"), cur.take("<Q")
        tensors.append((name, dims, ggml_type, offset))

    alignment = meta.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise _Malformed(f"alignment {alignment!r}")
    data_start = (cur.pos + alignment - 1) // alignment * alignment
    total = 0
    for name, dims, ggml_type, offset in tensors:
        try:
            block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
        except (ValueError, KeyError):
            raise _Malformed(f"tensor {name!r} has unknown type {ggml_type}; a newer llama.cpp may read it") from None
        elements = math.prod(dims)
        if dims[0] % block:
            raise _Malformed(f"tensor {name!r}: {dims[0]} is not a multiple of its block size {block}")
        nbytes = elements // block * type_size
        if offset % alignment:
            raise _Malformed(f"tensor {name!r} is not aligned")
        if data_start + offset + nbytes > size:
            raise _Truncated()
        total += nbytes

    arch = meta.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise ModelNotFound(f"'{label}' has no architecture in its metadata: not a model llama.cpp can run.")
    tokens = meta.get("tokenizer.ggml.tokens")
    vocab = tokens.length if isinstance(tokens, _ArrayInfo) else len(tokens) if isinstance(tokens, list) else 0
    if not vocab or not tensor_count:
        raise ModelNotFound(
            f"'{label}' is a GGUF file without a vocabulary or weights ({arch}): not a language model Studio can chat with."
        )

    def num(key: str) -> int:
        value = meta.get(f"{arch}.{key}", 0)
        if isinstance(value, list):  # one value per layer
            value = max(value, default=0)
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0

    file_type = meta.get("general.file_type")
    template = meta.get("tokenizer.chat_template")
    return GGUFInfo(
        path=path,
        size_bytes=size,
        version=version,
        architecture=arch,
        name=str(meta.get("general.name", "")),
        context_length=num("context_length"),
        block_count=num("block_count"),
        embedding_length=num("embedding_length"),
        head_count=num("attention.head_count"),
        head_count_kv=num("attention.head_count_kv"),
        key_length=num("attention.key_length"),
        value_length=num("attention.value_length"),
        file_type=quant_label(file_type) if isinstance(file_type, int) else "",
        chat_template=template if isinstance(template, str) and template.strip() else None,
        vocab_size=vocab,
        tensor_count=tensor_count,
        tensor_bytes=total,
        metadata={k: v for k, v in meta.items() if not isinstance(v, (_ArrayInfo, list))},
    )


# Preferred quantizations when a folder holds several GGUF files (best quality per byte first).
_PREFERRED = ("Q4_K_M", "Q5_K_M", "Q4_K_S", "Q6_K", "Q8_0", "Q4_0", "Q4_1")


def gguf_file(path: Path) -> Path:
    """The GGUF file to load for ``path``: the file itself, or the best one in a folder."""
    if path.is_file():
        return path
    files = sorted(p for p in path.glob("*.gguf") if p.is_file() and "mmproj" not in p.name.lower())
    if not files:
        raise ModelNotFound(f"No .gguf file in {path}.")
    for quant in _PREFERRED:
        for f in files:
            if quant.lower() in f.name.lower():
                return f
    return min(files, key=lambda f: f.stat().st_size)
