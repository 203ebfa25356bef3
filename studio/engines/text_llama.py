"""llama.cpp runtime for GGUF text models, through ``llama-cpp-python``.

The file is read in place (memory-mapped, no conversion): the bundled SmolLM2 answers within a
fraction of a second of its first use, and a 7B Q4_K_M model needs about 5 GB instead of the
28 GB that dequantizing it to float32 for transformers would take.

- Before llama.cpp sees a file, :func:`studio.models.gguf.read_info` checks its header and tensor
  table (a truncated or damaged file gets one clear message). A file from outside the catalog is
  also loaded once in a child process (:func:`probe`): a file that makes llama.cpp abort takes down
  that child, not the application. The verdict is remembered per file (path, size, mtime).
- Memory check: weights + KV cache + compute buffers against the RAM available now; the context is
  shortened (down to :data:`MIN_CONTEXT`) before a model is refused with a message that says so.
- GPU: with a llama.cpp build that can offload (CUDA, Metal …), ``gpu_layers`` layers (−1 = all) go to
  the GPU; a CPU-only build says so once per load (a Notice). A failed GPU load falls back to the CPU.
- Threads: ``TextRequest.threads`` (0 = :func:`auto_threads`), applied per request.
- Everything that calls into llama.cpp runs on the runtime's compute thread; ctypes releases the
  GIL during each call, so the UI thread keeps running while tokens are computed.
"""

from __future__ import annotations

import codecs
import ctypes
import hashlib
import json
import logging
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from pathlib import Path

from .. import paths
from ..cancel import CancelToken
from ..errors import Cancelled, ModelNotFound, OutOfMemory, StudioError
from ..events import Event, Notice, Status
from ..models import device as device_mod
from ..models.device import DeviceChoice, available_ram_bytes
from ..models.gguf import GGUFInfo, gguf_file, read_info
from ..models.resolve import ResolvedModel
from ..requests import TextRequest
from .base import Runtime
from .chat_template import ChatTemplate
from .text_common import FALLBACK_TEMPLATE

log = logging.getLogger(__name__)

DEFAULT_CONTEXT = 8192  # tokens; longer trained contexts are capped (a 128 k KV cache needs gigabytes)
#: llama.cpp keeps 4 bytes per token of the *trained* context (the header's) whatever context it allocates:
#: a header claiming 2 billion tokens cost 7.7 GB at the first token. Past this the header is overridden
#: with the context actually allocated (no real model claims more).
MAX_TRAINED_CONTEXT = 1 << 24
MIN_CONTEXT = 2048  # the memory check shortens the context down to this before refusing a model
GiB = 1024**3

_log_state: dict = {}  # the ctypes log callback (kept alive) and llama.cpp's last error lines


def import_llama():
    """The ``llama_cpp`` module, or a StudioError that says how to install it."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise StudioError(
            f"llama.cpp is not installed ({exc}); GGUF models need it. Run `bash packaging/setup.sh` "
            "(it builds llama-cpp-python once, a few minutes)."
        ) from None
    _route_llama_logs(llama_cpp)
    return llama_cpp


def _route_llama_logs(llama_cpp) -> None:
    """llama.cpp's log lines go to Python logging (not the terminal); errors are kept for messages."""
    if "callback" in _log_state:
        return
    errors: list[str] = []
    llama_log = logging.getLogger("llama_cpp")

    @llama_cpp.llama_log_callback
    def callback(level, text, _data):  # level: 2 warn, 3 error
        line = text.decode("utf-8", errors="replace").rstrip()
        if level == 3 and line:
            errors.append(line)
            del errors[:-5]
        llama_log.debug("%s", line)

    _log_state.update(callback=callback, errors=errors)
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def _last_llama_error() -> str:
    errors = _log_state.get("errors") or []
    return errors[-1].split(": ", 1)[-1] if errors else ""


def gpu_offload_supported() -> bool:
    """Whether the installed llama.cpp was built with a GPU backend (CUDA, Metal, Vulkan …)."""
    return bool(import_llama().llama_supports_gpu_offload())


def auto_threads(sample: bool = True) -> int:
    """llama.cpp threads when the request leaves it to Studio (``threads=0``): the physical cores
    other programs leave free, minus one for the rest of the desktop (Studio's UI thread), at least 1.

    Why not all cores: llama.cpp's threads meet at a barrier after every operation, so one thread
    that has to share its core stalls all of them. Measured on this 2-core machine (README,
    "Threads"): SmolLM2 Q4_1 on 2 threads fell from ~110 to ~37 tokens/s once one core was busy
    with another program while 1 thread held ~78; with more programs competing (load average 12)
    1 thread still made 2.4-3 tokens/s and 2 threads did not finish 32 tokens in 150 s. ``sample``
    measures the other programs' load for 0.1 s (only worth it with more than 2 cores).
    """
    cores = device_mod.physical_cores()
    if cores <= 2:
        return 1
    others = device_mod.busy_cores_elsewhere() if sample else 0.0
    return max(1, cores - max(1, math.ceil(others - 0.3)))


# ---------------------------------------------------------------------------------------------
# the loaded model
# ---------------------------------------------------------------------------------------------
class LlamaChat:
    """A ``llama_cpp.Llama`` behind the :class:`~studio.engines.text_common.ChatModel` contract."""

    def __init__(self, llm, info: GGUFInfo, n_ctx: int, gpu_layers: int, memory_bytes: int) -> None:
        llama_cpp = import_llama()
        self.llm, self.info = llm, info
        self.context_max = n_ctx
        self.gpu_layers = gpu_layers
        self.memory_bytes = memory_bytes  # read by the model cache's memory budget
        self.device = self._label(0)
        self._vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self._pieces: dict[int, bytes] = {}
        bos, eos = llama_cpp.llama_vocab_bos(self._vocab), llama_cpp.llama_vocab_eos(self._vocab)
        self._bos = bos
        self._add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self._vocab)) and bos >= 0
        self.has_template = info.chat_template is not None
        # the file's template, sandboxed with a time and size limit (a syntax error is named here, at load)
        self._template = ChatTemplate(
            info.chat_template or FALLBACK_TEMPLATE,
            eos_token=self._text(eos),
            bos_token=self._text(bos),
            name=f"'{info.path.name}'",
        )

    def _text(self, token: int) -> str:
        if token < 0:
            return ""
        return import_llama().llama_vocab_get_text(self._vocab, token).decode("utf-8", errors="replace")

    def _label(self, threads: int) -> str:
        where = "GPU" if self.gpu_layers else "CPU"
        if self.gpu_layers > 0:
            where += f" ({self.gpu_layers} layers)"
        if threads:
            where += f", {threads} thread{'s' if threads > 1 else ''}"
        return f"llama.cpp · {where} · {self.info.file_type or 'GGUF'}"

    # --- the ChatModel contract ---
    def encode(self, messages: list[dict], cancel: CancelToken | None = None) -> list[int]:
        # sandboxed, with a time and size limit, stopped by cancel (TemplateProblem: one line naming the file)
        prompt = self._template.render(messages, should_stop=None if cancel is None else lambda: cancel.cancelled)
        return self.encode_text(prompt)

    def encode_text(self, text: str) -> list[int]:
        # as llama_cpp's create_completion tokenizes a prompt: special tokens parsed, BOS if the vocab adds one
        ids = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if self._add_bos and (not ids or ids[0] != self._bos):
            ids.insert(0, self._bos)
        return ids

    def decoder(self) -> _PieceDecoder:
        return _PieceDecoder(self._piece)

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            llama_cpp = import_llama()
            buf = ctypes.create_string_buffer(64)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, 64, 0, False)
            if n < 0:  # a longer piece: ask again with room for it
                buf = ctypes.create_string_buffer(-n)
                n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, -n, 0, False)
            piece = self._pieces[token] = buf.raw[: max(n, 0)]
        return piece

    def generate(self, prompt, request: TextRequest, seed: int, max_new: int, emit, cancel: CancelToken) -> None:
        llama_cpp = import_llama()
        llm = self.llm
        threads = request.threads or auto_threads()
        llama_cpp.llama_set_n_threads(llm.ctx, threads, threads)
        self.device = self._label(threads)
        # llama.cpp reads seed 0xFFFFFFFF as "pick a random seed": keep every seed reproducible
        llm.set_seed(seed % 0xFFFFFFFF)
        vocab, is_eog = self._vocab, llama_cpp.llama_vocab_is_eog
        # Stop during a long prompt: llama.cpp asks this between graph nodes while it reads the prompt
        # (only then: it is a Python call per node, too costly for every generated token)
        abort = llama_cpp.ggml_abort_callback(lambda _data: cancel.cancelled)
        llama_cpp.llama_set_abort_callback(llm.ctx, abort, None)
        tokens = llm.generate(
            prompt,
            temp=request.temperature,
            top_k=request.top_k,
            top_p=request.top_p,
            min_p=0.0,  # off, as on transformers: the same settings mean the same on both runtimes
            typical_p=1.0,
            repeat_penalty=request.repetition_penalty,
        )
        count = 0
        try:
            for token in tokens:
                if count == 0:
                    llama_cpp.llama_set_abort_callback(llm.ctx, llama_cpp.ggml_abort_callback(), None)
                if is_eog(vocab, token):
                    break
                emit([token])
                count += 1
                if count >= max_new or cancel.cancelled:
                    break
        except RuntimeError:
            if not cancel.cancelled:  # llama_decode was aborted by Stop: not an error
                raise
            llm.reset()
        finally:
            tokens.close()
            llama_cpp.llama_set_abort_callback(llm.ctx, llama_cpp.ggml_abort_callback(), None)


class _PieceDecoder:
    """Token ids → text through the model's own pieces; incomplete UTF-8 waits for the next token."""

    def __init__(self, piece: Callable[[int], bytes]) -> None:
        self.piece = piece
        self.utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.count = 0

    def push(self, ids: list[int]) -> str:
        self.count += len(ids)
        return self.utf8.decode(b"".join(self.piece(i) for i in ids))

    def flush(self) -> str:
        return self.utf8.decode(b"", final=True)


# ---------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------
def load_llama(
    model: ResolvedModel, request: TextRequest, runtime: Runtime, cancel: CancelToken | None = None
) -> Generator[Event, None, LlamaChat]:
    """Check, size and load a GGUF model on llama.cpp (cached across jobs); ``cancel`` stops the first-time check."""
    path = gguf_file(model.path)
    info = read_info(path)
    if info.chat_template is not None:
        ChatTemplate(info.chat_template, name=f"'{path.name}'")  # a syntax error is named before loading
    import_llama()
    wants_gpu = runtime.device != "cpu" and request.gpu_layers != 0
    gpu = wants_gpu and gpu_offload_supported()
    layers = request.gpu_layers if gpu else 0
    choice = DeviceChoice("cuda" if gpu else "cpu", info.file_type or "gguf")
    variant = f"llama.cpp:{layers}"
    n_ctx = min(info.context_length or DEFAULT_CONTEXT, DEFAULT_CONTEXT)
    if not runtime.is_loaded(model, choice=choice, variant=variant):
        yield Status(f"Loading {model.label}…")
        if wants_gpu and not gpu:
            yield Notice("llama.cpp here is a CPU-only build: GGUF models run on the CPU (README: GPU for GGUF models).")
        if info.chat_template is None:
            yield Notice(f"'{model.label}' has no chat template in its file; using a plain 'User:/Assistant:' layout.")
        if not gpu:
            fitted = _fit_memory(info, n_ctx, runtime)
            if fitted < n_ctx:
                yield Notice(f"Context shortened to {fitted:,} tokens to fit the free memory.")
            n_ctx = fitted
        if info.context_length > MAX_TRAINED_CONTEXT:
            yield Notice(
                f"'{path.name}' claims a {info.context_length:,}-token context in its header; using {n_ctx:,} tokens."
            )
        if _needs_probe(model, path, runtime.checked_files):
            yield Status(f"Checking {path.name} with llama.cpp (first time only)…")
            probe(path, runtime.checked_files, context_overrides(info, DEFAULT_CONTEXT), cancel=cancel)

    def loader(c: DeviceChoice) -> LlamaChat:
        n_layers = layers if c.device != "cpu" else 0
        if gpu and not n_layers:  # the GPU load failed: the CPU takes it, if it fits
            _check_memory(info, n_ctx)
        return _load(path, info, n_ctx, n_layers)

    chat, _choice, notice = runtime.load(model, loader, variant=variant, choice=choice)
    if notice:
        yield Notice(notice)
    return chat


def context_overrides(info: GGUFInfo, n_ctx: int) -> dict[str, int]:
    """llama.cpp metadata overrides that make an absurd trained context (see :data:`MAX_TRAINED_CONTEXT`)
    the context actually allocated; {} for every real model."""
    if info.context_length > MAX_TRAINED_CONTEXT:
        return {f"{info.architecture}.context_length": int(n_ctx)}
    return {}


class _UnusedFormatter:
    """Stands in for llama-cpp-python's Jinja2ChatFormatter while a model loads: its ``Llama()`` compiles
    every chat template in the file with an unguarded jinja2 sandbox, whose constant folding runs
    ``{{ 'x' * 3000000000 }}`` at compile time (5.9 GB). Studio renders templates itself
    (:mod:`studio.engines.chat_template`) and never calls llama-cpp-python's chat completion."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def to_chat_handler(self):
        return None


def new_llama(llama_cpp, **kwargs):
    """``llama_cpp.Llama(**kwargs)`` without llama-cpp-python's own chat-template compilation."""
    formats = llama_cpp.llama_chat_format
    real = formats.Jinja2ChatFormatter
    formats.Jinja2ChatFormatter = _UnusedFormatter
    try:
        return llama_cpp.Llama(**kwargs)
    finally:
        formats.Jinja2ChatFormatter = real


def _load(path: Path, info: GGUFInfo, n_ctx: int, gpu_layers: int) -> LlamaChat:
    """Runs on the compute thread."""
    llama_cpp = import_llama()
    threads = auto_threads(sample=False)  # each request sets its own (TextRequest.threads)
    try:
        llm = new_llama(
            llama_cpp,
            model_path=str(path),
            n_ctx=n_ctx,
            n_batch=512,
            n_threads=threads,
            n_threads_batch=threads,
            n_gpu_layers=gpu_layers,
            use_mmap=True,
            verbose=False,
            kv_overrides=context_overrides(info, n_ctx) or None,
        )
    except ValueError as exc:
        reason = _last_llama_error() or str(exc)
        if gpu_layers:  # not a StudioError: Runtime.load retries on the CPU and says why
            raise RuntimeError(f"llama.cpp could not load it with GPU layers: {reason}") from None
        raise ModelNotFound(f"llama.cpp cannot load '{path.name}': {reason}") from None
    memory = info.memory_bytes(n_ctx) if not gpu_layers else info.kv_cache_bytes(n_ctx)
    return LlamaChat(llm, info, n_ctx, gpu_layers, memory)


def _fit_memory(info: GGUFInfo, n_ctx: int, runtime: Runtime) -> int:
    """The longest context (≤ n_ctx, ≥ MIN_CONTEXT) whose model fits the available RAM; frees the
    model cache first when that makes the difference; OutOfMemory when nothing fits."""
    available = available_ram_bytes()
    if available is not None and info.memory_bytes(n_ctx) > available and len(runtime.cache):
        runtime.cache.unload()  # models kept for later would push this one into swap
        available = available_ram_bytes()
    if available is None:
        return n_ctx
    while n_ctx > MIN_CONTEXT and info.memory_bytes(n_ctx) > available:
        n_ctx = max(MIN_CONTEXT, n_ctx // 2)
    _check_memory(info, n_ctx, available)
    return n_ctx


def _check_memory(info: GGUFInfo, n_ctx: int, available: int | None = None) -> None:
    available = available_ram_bytes() if available is None else available
    need = info.memory_bytes(n_ctx)
    if available is not None and need > available:
        raise OutOfMemory(
            f"'{info.path.name}' needs about {need / GiB:.1f} GB of memory (weights {info.tensor_bytes / GiB:.1f} GB "
            f"+ {n_ctx:,}-token context) and {available / GiB:.1f} GB is free. Close other programs or pick a "
            "smaller model or quantization (e.g. Q4_K_M)."
        )


# ---------------------------------------------------------------------------------------------
# the one-time check of files from outside the catalog, in a child process
# ---------------------------------------------------------------------------------------------
_PROBE = r"""
import json, os, sys
try:  # Linux: end with the app, even when it is killed outright (PR_SET_PDEATHSIG = 1, SIGKILL = 9)
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, 9, 0, 0, 0)
except Exception:
    pass
if os.getppid() != int(sys.argv[2]):  # the app ended before the line above took effect
    sys.exit(3)
import llama_cpp
class Unused:  # as text_llama.new_llama: no chat-template compilation by llama-cpp-python
    def __init__(self, *args, **kwargs): pass
    def to_chat_handler(self): return None
llama_cpp.llama_chat_format.Jinja2ChatFormatter = Unused
overrides = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=64, n_batch=8, n_threads=1, n_gpu_layers=0, verbose=True,
                      kv_overrides=overrides or None)
ids = llm.tokenize(b"Hello", add_bos=True, special=False) or [0]
llm.eval(ids[:4])
print("ok")
"""


def _probe_key(path: Path) -> str:
    st = path.stat()
    return hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:20]


def _probe_marker(path: Path) -> Path:
    return paths.cache_dir() / "gguf-checked" / _probe_key(path)


def _needs_probe(model: ResolvedModel, path: Path, checked: set[str]) -> bool:
    """Whether ``path`` still needs :func:`probe`; ``checked``: the files this runtime's probes passed
    (the marker folder may move), owned by :class:`~studio.engines.base.Runtime`."""
    if model.entry is not None and model.entry.source in ("bundled", "hub"):
        return False  # files from the catalog: known models, verified downloads
    return _probe_key(path) not in checked and not _probe_marker(path).exists()


def probe(
    path: Path, checked: set[str], overrides: dict | None = None, timeout: float = 300,
    cancel: CancelToken | None = None,
) -> None:
    """Load ``path`` in a child process and read one token; ModelNotFound if llama.cpp fails or dies.
    A file that passes is added to ``checked`` and gets a marker in the cache folder (when it can).

    The child ends with the app: it is killed when ``cancel`` is set (Ctrl+C, SIGTERM, the window
    closing), when this call is interrupted, and on Linux when the app itself dies.
    """
    child = subprocess.Popen(
        [sys.executable, "-c", _PROBE, str(path), str(os.getpid()), json.dumps(overrides or {})],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONFAULTHANDLER": ""},
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                stdout, stderr = child.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled() from None
                if time.monotonic() > deadline:
                    raise ModelNotFound(
                        f"llama.cpp did not finish reading '{path.name}' within {timeout:.0f} s."
                    ) from None
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    result = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
    if result.returncode == 0 and result.stdout.strip().endswith("ok"):
        checked.add(_probe_key(path))
        try:  # only a cache: a read-only or full STUDIO_HOME means checking again next time
            marker = _probe_marker(path)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError as exc:
            log.info("could not write the GGUF check marker: %s", exc)
        return
    lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
    # llama.cpp's own log lines say why ("… error loading model: unknown model architecture: 'x'");
    # a crash's backtrace lines ("libc-start.c: No such file or directory") say nothing about the file
    errors = [ln for ln in lines if "error" in ln.lower() and ln.startswith(("llama", "gguf", "ggml"))]
    reason = errors[-1].split("error loading model: ", 1)[-1][:300] if errors else ""
    if result.returncode < 0:
        said = f" llama.cpp said: {reason}" if reason else ""
        raise ModelNotFound(
            f"'{path.name}' makes llama.cpp crash (signal {-result.returncode}): the file is damaged or needs a "
            f"newer llama.cpp.{said}"
        )
    raise ModelNotFound(f"llama.cpp cannot load '{path.name}': {reason or 'it gave no reason'}")
