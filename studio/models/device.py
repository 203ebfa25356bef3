"""Device and dtype choice: CUDA (bf16/fp16) → MPS (fp16) → CPU (fp32), overridable.

torch is imported inside the functions, never at import time.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")
DTYPE_CHOICES = ("auto", "float16", "bfloat16", "float32")


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # 'cuda', 'cuda:1', 'mps' or 'cpu'
    dtype: str  # 'float16', 'bfloat16' or 'float32'
    reason: str = ""  # why this choice differs from what was asked, if it does

    @property
    def is_gpu(self) -> bool:
        return self.device != "cpu"

    def torch_dtype(self):
        import torch

        return getattr(torch, self.dtype)

    def label(self) -> str:
        return f"{self.device} · {self.dtype}"


def mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def choose(device: str = "auto", dtype: str = "auto") -> DeviceChoice:
    """Resolve a device/dtype preference to what this machine can do.

    ``device='auto'`` takes CUDA, then MPS, then the CPU. ``dtype='auto'`` takes bfloat16 on CUDA
    cards that support it (fp16 otherwise), float16 on MPS and float32 on the CPU (half precision
    on the CPU is slow and often unsupported). Asking for a device that is not there falls back to
    the CPU with a ``reason`` the UI shows.
    """
    import torch

    if device not in DEVICE_CHOICES and not device.startswith("cuda:"):
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)} (got {device!r})")
    if dtype not in DTYPE_CHOICES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_CHOICES)} (got {dtype!r})")

    reason = ""
    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif mps_available():
            device = "mps"
        else:
            device = "cpu"
    elif device.startswith("cuda") and not torch.cuda.is_available():
        reason = "CUDA was selected but no NVIDIA GPU is usable here; running on the CPU."
        device = "cpu"
    elif device == "mps" and not mps_available():
        reason = "MPS was selected but is not available here; running on the CPU."
        device = "cpu"

    if dtype == "auto":
        if device.startswith("cuda"):
            dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        elif device == "mps":
            dtype = "float16"
        else:
            dtype = "float32"
    elif device == "cpu" and dtype == "float16":
        reason = (reason + " " if reason else "") + "float16 is not supported well on the CPU; using float32."
        dtype = "float32"
    return DeviceChoice(device, dtype, reason)


def cpu_fallback(reason: str) -> DeviceChoice:
    return DeviceChoice("cpu", "float32", reason)


def free_memory(device: str) -> int | None:
    """Free bytes on a CUDA device, or None when unknown."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    return None


def release_device_memory() -> None:
    """Give cached allocator blocks back to the driver after models were dropped."""
    import gc
    import sys

    torch = sys.modules.get("torch")
    if torch is None:  # torch never loaded, so no model holds device memory (and importing it takes seconds)
        return
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    if not (cuda or mps_available()):
        # CPU memory comes back through reference counting. A forced collection here would run on the
        # worker thread and could finalize Qt objects that are garbage in a cycle off the GUI thread.
        return
    gc.collect()  # tensors held only by reference cycles, so the allocator can hand their blocks back
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.ipc_collect()
    if mps_available():
        torch.mps.empty_cache()


def auto_budget(device: str) -> int:
    """A default memory budget for the model cache: 85 % of the GPU's memory, or half the RAM."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        _free, total = torch.cuda.mem_get_info(torch.device(device))
        return int(total * 0.85)
    try:
        import psutil

        return int(psutil.virtual_memory().total * 0.5)
    except ImportError:  # pragma: no cover - psutil ships with our dependencies
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 0.5)


def available_ram_bytes() -> int | None:
    """RAM available to a new model now (free + reclaimable caches), or None when unknown."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil ships with our dependencies (accelerate)
        try:
            with open("/proc/meminfo", encoding="ascii") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        return None


def physical_cores() -> int:
    """Physical cores this process may use (hyper-threads share a core's arithmetic units)."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or allowed
    except ImportError:  # pragma: no cover - psutil comes with accelerate
        physical = allowed
    return max(1, min(physical, allowed))


def _cpu_seconds() -> tuple[float, float, float]:
    """(CPU seconds all programs have used, of which this process's, monotonic clock)."""
    import psutil

    t = psutil.cpu_times()
    busy = sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
    return busy, sum(psutil.Process().cpu_times()[:2]), time.monotonic()


def busy_cores_elsewhere(window_s: float = 0.1) -> float:
    """Cores kept busy by other programs right now (all CPU time but this process's, over ``window_s``)."""
    try:
        start = _cpu_seconds()
    except ImportError:  # pragma: no cover
        return 0.0
    time.sleep(window_s)
    return _cores_between(start, _cpu_seconds())


def _cores_between(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    elapsed = b[2] - a[2]
    return max(0.0, ((b[0] - a[0]) - (b[1] - a[1])) / elapsed) if elapsed > 0 else 0.0


class LoadWatch:
    """Cores kept busy by other programs since the last look, without waiting (for choices made at
    every step of a job, where :func:`busy_cores_elsewhere`'s pause would cost time each step)."""

    def __init__(self) -> None:
        self._last: tuple[float, float, float] | None = None

    def busy_elsewhere(self) -> float | None:
        """Cores other programs kept busy since the previous call; None on the first call (or
        without psutil)."""
        try:
            now = _cpu_seconds()
        except (ImportError, OSError):  # pragma: no cover - psutil is a dependency
            return None
        last, self._last = self._last, now
        return None if last is None else _cores_between(last, now)
