"""Building the model worker's :class:`~studio.engines.base.Runtime` from the person's settings.

The UI takes a snapshot of its settings on the main thread (:class:`RuntimeFactory`); the worker
thread calls it to create the runtime, and :meth:`RuntimeFactory.apply` to change a live one.
"""

from __future__ import annotations

from ..engines.base import Runtime
from ..models.cache import ModelCache
from ..models.catalog import Catalog


class RuntimeFactory:
    """Builds the worker's Runtime from a snapshot of the settings (taken on the main thread)."""

    def __init__(
        self, catalog: Catalog, device: str = "auto", dtype: str = "auto", budget_gb: float = 0.0, offline: bool = False
    ) -> None:
        self.catalog = catalog
        self.device, self.dtype, self.budget_gb, self.offline = device, dtype, budget_gb, offline

    def __call__(self) -> Runtime:  # runs on the worker thread
        runtime = Runtime(cache=ModelCache(), catalog=self.catalog)
        self.apply(runtime)
        return runtime

    def apply(self, runtime: Runtime) -> None:  # runs on the worker thread
        from ..models.device import auto_budget, choose

        if (runtime.device, runtime.dtype) != (self.device, self.dtype):
            runtime.cache.unload()  # models on the old device would only hold memory
        runtime.device, runtime.dtype = self.device, self.dtype
        runtime.offline = self.offline or None
        if self.budget_gb > 0:
            runtime.cache.budget_bytes = int(self.budget_gb * 1024**3)
        else:
            runtime.cache.budget_bytes = auto_budget(choose(self.device, self.dtype).device)


def warm_up_libraries(runtime: Runtime) -> None:
    """Runs on the worker thread: import the heavy libraries before the first job needs them."""
    import importlib

    for name in ("torch", "transformers", "studio.engines.text"):
        importlib.import_module(name)
    importlib.import_module("studio.engines.text_llama").import_llama()  # GGUF models (the bundled one)
