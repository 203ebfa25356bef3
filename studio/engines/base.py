"""What every engine shares: the runtime (model cache, device, catalog); the cancel token is re-exported
from :mod:`studio.cancel`.

An engine is an object with ``run(request, runtime, cancel)``: a generator that yields events
from :mod:`studio.events` and returns its :class:`~studio.events.Stats`. It calls ``cancel.check()`` every
step/token/chunk, which raises :class:`~studio.errors.Cancelled` once cancel was asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..cancel import CancelToken
from ..errors import Cancelled, ModelNotFound, StudioError, describe
from ..events import Event, Stats
from ..models import device as device_mod
from ..models.cache import ModelCache
from ..models.catalog import Catalog
from ..models.resolve import ResolvedModel, resolve
from .compute import ComputeThread

__all__ = ["CancelToken", "Engine", "Runtime", "drive"]

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything an engine needs besides its request; one per worker thread.

    ``device``/``dtype`` are preferences ('auto', 'cuda', 'cpu' …) resolved per load by
    :func:`studio.models.device.choose`.
    """

    cache: ModelCache = field(default_factory=ModelCache)
    catalog: Catalog = field(default_factory=Catalog)
    device: str = "auto"
    dtype: str = "auto"
    offline: bool = True  # may resolve() connect? the configuration's switch (never read from the environment)
    download: Callable[[str, list[str] | None], str] | None = None
    compute: ComputeThread = field(default_factory=ComputeThread)  # where torch's heavy calls run
    #: GGUF files from outside the catalog that llama.cpp already read in a child process this session
    #: (:func:`studio.engines.text_llama.probe`); the verdicts also persist as markers in the cache folder
    checked_files: set[str] = field(default_factory=set)
    # the API key for a server URL (remote engines), e.g. a KeyStore's ``get`` (the GUI's, which also holds
    # session-only keys) or an environment variable (the CLI); None: the OS keyring alone
    api_key: Callable[[str], str | None] | None = None

    def key_for(self, url: str) -> str | None:
        """The API key to send to the server at ``url`` (None: no key)."""
        if self.api_key is not None:
            return self.api_key(url)
        from .remote.keys import KeyStore

        return KeyStore().get(url)

    def resolve(self, spec: str, modality: str, *, allow_pickle: bool = False) -> ResolvedModel:
        """:func:`studio.models.resolve.resolve` with this runtime's catalog, offline switch and download."""
        return resolve(
            spec, modality, catalog=self.catalog, offline=self.offline, download=self.download, allow_pickle=allow_pickle
        )

    def choice(self) -> device_mod.DeviceChoice:
        return device_mod.choose(self.device, self.dtype)

    @staticmethod
    def _key(model: ResolvedModel, choice: device_mod.DeviceChoice, variant: str) -> tuple:
        return (model.id, choice.device, choice.dtype, variant)

    def is_loaded(self, model: ResolvedModel, *, choice: device_mod.DeviceChoice, variant: str = "") -> bool:
        """Whether :meth:`load` with these arguments would reuse a resident model."""
        return self._key(model, choice, variant) in self.cache

    def load(
        self,
        model: ResolvedModel,
        loader: Callable[[device_mod.DeviceChoice], Any],
        *,
        variant: str = "",
        choice: device_mod.DeviceChoice | None = None,
    ) -> tuple[Any, device_mod.DeviceChoice, str]:
        """Load (or reuse) ``model`` on the chosen device; returns (value, choice, notice).

        A failed load on a GPU is retried on the CPU; ``notice`` then says why, for the UI.
        """
        choice = choice or self.choice()
        notice = choice.reason
        estimate = model.entry.memory_bytes if model.entry else 0
        key = self._key(model, choice, variant)
        try:
            value = self.cache.get(key, lambda: self.compute.call(loader, choice), estimate=estimate)
            return value, choice, notice
        except (StudioError, Cancelled):
            raise
        except Exception as exc:
            if not choice.is_gpu:
                raise unloadable(model, exc) from exc
            why = f"Loading on {choice.device} failed ({type(exc).__name__}: {str(exc)[:200]}); using the CPU instead."
            log.warning(why)
            self.cache.unload(key)
            cpu = device_mod.cpu_fallback(why)
            key = self._key(model, cpu, variant)
            try:
                value = self.cache.get(key, lambda: self.compute.call(loader, cpu), estimate=estimate)
            except (StudioError, Cancelled):
                raise
            except Exception as cpu_exc:
                raise unloadable(model, cpu_exc) from cpu_exc
            return value, cpu, why


def unloadable(model: ResolvedModel, exc: Exception) -> Exception:
    """What a library's failure to load ``model`` becomes: one line naming the model (out-of-memory
    errors stay as they are, for the engines' own advice)."""
    detail = describe(exc)
    if "out of memory" in detail.lower():
        return exc
    return ModelNotFound(
        f"'{model.label}' could not be loaded: its files are damaged, incomplete or not a {model.format} model "
        f"Studio can read ({detail[:300]})."
    )


class Engine(Protocol):
    kind: str

    def run(self, request: Any, runtime: Runtime, cancel: CancelToken) -> Generator[Event, None, Stats]: ...


def drive(events: Generator[Event, None, Stats], handle: Callable[[Event], None]) -> Stats | None:
    """Run an engine generator to its end, calling ``handle`` on each event; returns its stats."""
    while True:
        try:
            ev = next(events)
        except StopIteration as stop:
            return stop.value
        handle(ev)
