"""Asking a server which models it has (the Models window's "Add server…", off the UI thread)."""

from __future__ import annotations


def fetch_models(kind: str, url: str, key: str | None) -> list[str]:
    """The model names of an OpenAI-compatible server (``GET /v1/models``) or the checkpoints of a ComfyUI
    server (``/object_info``); a :class:`~studio.errors.ServerError` that says what to do otherwise."""
    if kind == "openai":
        from .openai_text import list_models

        return [m.id for m in list_models(url, key)]
    from .comfyui import ComfyClient

    client = ComfyClient(url, key)
    try:
        return client.checkpoints()
    finally:
        client.close()
