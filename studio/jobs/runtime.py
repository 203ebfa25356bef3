"""Building the model worker's :class:`~studio.engines.base.Runtime` from the one configuration.

:class:`RuntimeFactory` holds a :class:`~studio.config.Config` (immutable, so the worker thread may
read it); the worker calls it to create the runtime, and :meth:`RuntimeFactory.apply` to change a
live one after the person changed a preference.
"""

from __future__ import annotations

from ..config import Config
from ..engines.base import Runtime
from ..models.cache import ModelCache
from ..models.catalog import Catalog


class RuntimeFactory:
    """Builds the worker's Runtime from a :class:`~studio.config.Config`."""

    def __init__(self, catalog: Catalog, config: Config | None = None, *, api_key=None) -> None:
        self.catalog = catalog
        self.config = config or Config()
        self.api_key = api_key  # url → the server's API key (the GUI's KeyStore.get: keyring or session)

    def __call__(self) -> Runtime:  # runs on the worker thread
        runtime = Runtime(cache=ModelCache(), catalog=self.catalog, api_key=self.api_key)
        self.apply(runtime)
        return runtime

    def apply(self, runtime: Runtime) -> None:  # runs on the worker thread
        from ..models.device import auto_budget, choose

        config = self.config
        if (runtime.device, runtime.dtype) != (config.device, config.dtype):
            runtime.cache.unload()  # models on the old device would only hold memory
        runtime.device, runtime.dtype = config.device, config.dtype
        runtime.offline = config.offline  # explicit: never read back from the environment
        if config.memory_budget_gb > 0:
            runtime.cache.budget_bytes = int(config.memory_budget_gb * 1024**3)
        else:
            runtime.cache.budget_bytes = auto_budget(choose(config.device, config.dtype).device)


def warm_up_libraries(runtime: Runtime) -> None:
    """Runs on the worker thread: import the heavy libraries before the first job needs them."""
    import importlib

    for name in ("torch", "transformers", "studio.engines.text"):
        importlib.import_module(name)
    importlib.import_module("studio.engines.text_llama").import_llama()  # GGUF models (the bundled one)
