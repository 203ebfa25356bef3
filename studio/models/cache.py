"""The cache of loaded models, owned by one worker thread.

Keyed by ``(model id, device, dtype, variant)``. It keeps the least-recently-used order and a memory
budget: before a load, models are evicted until the new one's estimate fits; after it, until
the real size fits. Evicting drops every reference and returns CUDA memory to the driver.
Not thread-safe on purpose: only the worker thread that owns it touches it.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import device as device_mod

log = logging.getLogger(__name__)

CacheKey = tuple


@dataclass
class _Entry:
    value: Any
    size: int


def module_bytes(obj: Any) -> int:
    """Bytes held by the parameters and buffers of a torch module, a pipeline, or a tuple of them."""
    import torch

    seen: set[int] = set()
    total = 0

    def visit(o: Any) -> None:
        nonlocal total
        if isinstance(o, torch.nn.Module):
            for t in list(o.parameters()) + list(o.buffers()):
                if t.data_ptr() in seen:
                    continue
                seen.add(t.data_ptr())
                total += t.numel() * t.element_size()
        elif isinstance(o, (tuple, list)):
            for x in o:
                visit(x)
        elif hasattr(o, "components"):  # diffusers pipeline
            for x in o.components.values():
                visit(x)
        elif hasattr(o, "model"):
            visit(o.model)

    visit(obj)
    return total


class ModelCache:
    """Loaded models with LRU eviction under ``budget_bytes`` (None or 0 = keep one model only)."""

    def __init__(self, budget_bytes: int | None = None, *, sizer: Callable[[Any], int] = module_bytes):
        self.budget_bytes = budget_bytes or 0
        self._sizer = sizer
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()

    def __contains__(self, key: CacheKey) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[CacheKey]:
        """Keys from least to most recently used."""
        return list(self._entries)

    def total_bytes(self) -> int:
        return sum(e.size for e in self._entries.values())

    def get(self, key: CacheKey, loader: Callable[[], Any], *, estimate: int = 0) -> Any:
        """The model for ``key``, loading it with ``loader()`` when it is not resident."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry.value
        self._make_room(estimate, keep=None)
        value = loader()
        size = self._sizer(value)
        self._entries[key] = _Entry(value, size)
        self._make_room(0, keep=key)
        return value

    def _make_room(self, incoming: int, keep: CacheKey | None) -> None:
        def over() -> bool:
            if not self.budget_bytes:  # no budget: one model at a time
                return len(self._entries) > (1 if keep is not None else 0)
            return self.total_bytes() + incoming > self.budget_bytes

        evicted = False
        while over():
            victim = next((k for k in self._entries if k != keep), None)
            if victim is None:
                break
            log.info("evicting %s from the model cache", victim)
            del self._entries[victim]
            evicted = True
        if evicted:
            device_mod.release_device_memory()

    def unload(self, key: CacheKey | None = None) -> None:
        """Drop one model (or all with ``key=None``) and free its memory."""
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)
        device_mod.release_device_memory()
