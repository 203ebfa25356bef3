"""The servers the person added (Models → Add server…): OpenAI-compatible text servers and ComfyUI image
servers, with the model names each listed when it was last asked.

Kept as JSON beside the local models (``servers.json`` in the data folder); no keys here (those live in
the OS keyring: :mod:`studio.engines.remote.keys`), no network (the lists are fetched by the Models
window off the UI thread, :func:`studio.engines.remote.servers.fetch_models`). The pickers read it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .. import paths

log = logging.getLogger(__name__)

KINDS = {"openai": "text", "comfyui": "image"}  # server kind → the modality its models serve
KIND_LABELS = {"openai": "OpenAI-compatible (vLLM, llama.cpp, Ollama, LM Studio …)", "comfyui": "ComfyUI"}


@dataclass(frozen=True)
class Server:
    url: str
    kind: str  # 'openai' | 'comfyui'
    name: str = ""
    models: tuple[str, ...] = field(default_factory=tuple)

    @property
    def modality(self) -> str:
        return KINDS.get(self.kind, "")

    @property
    def label(self) -> str:
        return self.name or urlsplit(self.url).netloc or self.url


class ServerList:
    """Load, change and save ``servers.json`` (one entry per URL)."""

    def __init__(self, file: Path | None = None) -> None:
        self.file = file or paths.data_dir() / "servers.json"

    def all(self, modality: str | None = None) -> list[Server]:
        try:
            raw = json.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("servers file unreadable (%s): ignoring it", exc)
            return []
        out = []
        for item in raw if isinstance(raw, list) else []:
            try:
                server = Server(str(item["url"]), str(item["kind"]), str(item.get("name", "")),
                                tuple(str(m) for m in item.get("models", [])))
            except (KeyError, TypeError):
                continue
            if server.kind in KINDS and (modality is None or server.modality == modality):
                out.append(server)
        return out

    def get(self, url: str) -> Server | None:
        return next((s for s in self.all() if s.url == url), None)

    def put(self, server: Server) -> None:
        """Add ``server``, or replace the entry with its URL."""
        servers = [s for s in self.all() if s.url != server.url] + [server]
        self._save(servers)

    def remove(self, url: str) -> None:
        self._save([s for s in self.all() if s.url != url])

    def _save(self, servers: list[Server]) -> None:
        from ..library.atomic import atomic_write_text

        self.file.parent.mkdir(parents=True, exist_ok=True)
        data = [{**asdict(s), "models": list(s.models)} for s in servers]
        atomic_write_text(self.file, json.dumps(data, indent=2) + "\n")
